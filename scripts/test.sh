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
cargo clippy --all-targets -- -D warnings
step "cargo clippy (wasm32)"
cargo clippy --target wasm32-unknown-unknown --lib -- -D warnings
step "cargo test (native)"
cargo test
build_web
step "browser tests (headless Chromium)"
node --test --test-concurrency=1 tests/browser/
