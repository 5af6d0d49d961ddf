#!/usr/bin/env bash
# Runs every check and test: formatting, clippy (native and wasm32), native tests, then the
# browser tests in headless Chromium (WebGPU through SwiftShader, and the CPU backend).
source "$(dirname "$0")/setup.sh"
setup_rust
setup_chromium
setup_npm
build_weights
build_text_weights

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy (native)"
cargo clippy --workspace --all-targets -- -D warnings
step "cargo clippy (wasm32)"
cargo clippy --target wasm32-unknown-unknown --workspace --lib -- -D warnings
cargo clippy --target wasm32-unknown-unknown --lib --features trainer -- -D warnings
step "cargo test (native)"
# The workspace: simil, its vector index (crates/simil-index) and the index's kernels.
cargo test --workspace
build_web
# The shipped wasm's size budget (issue 7): 3 MB gzipped, weights not counted. The engine is
# what every page loads; the trainer loads on the first trainHead and has the same budget.
for wasm in pkg/wasm/simil_bg.wasm pkg/wasm/simil_train_bg.wasm; do
  wasm_gz=$(gzip -9 -c "$wasm" | wc -c)
  if [ "$wasm_gz" -gt 3000000 ]; then
    echo "$wasm is $wasm_gz bytes gzipped: over the 3,000,000-byte budget" >&2
    exit 1
  fi
done
step "browser tests (headless Chromium)"
node --test --test-concurrency=1 tests/browser/
