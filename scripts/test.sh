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
# The binding crates (and through them the cores they call), each its own wasm module.
cargo clippy --target wasm32-unknown-unknown -p simil-web-search -p simil-web-model \
  -p simil-web-train -- -D warnings
step "licences of everything shipped (scripts/licenses.mjs --check)"
# Every crate compiled into the wasm modules, the package's npm dependencies and its weights:
# none may conflict with MIT OR Apache-2.0 (THIRD_PARTY_LICENSES.md lists them).
node scripts/licenses.mjs --check
step "cargo test (native)"
# The workspace: simil, its vector index (crates/simil-index) and the index's kernels.
cargo test --workspace
build_web
# The shipped modules' size budgets: search (every page) 400 KB gzipped, model and trainer 3 MB.
node bench/size.mjs --check
step "browser tests (headless Chromium)"
node --test --test-concurrency=1 tests/browser/
step "consumer test: npm pack pkg/, npm install + vite build in a temp project, headless Chromium"
# The package as a user gets it (tests/consumer/run.mjs): the tarball's files and size, Vite's
# build and a no-bundler page each running the README quick start; writes tests/out/consumer.json.
node --test tests/consumer/run.mjs
