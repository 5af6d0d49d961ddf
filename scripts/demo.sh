#!/usr/bin/env bash
# Builds everything and serves the demo on http://127.0.0.1:${PORT:-8080}/www/ (Ctrl-C stops).
source "$(dirname "$0")/setup.sh"
setup_rust
setup_npm
build_weights
build_text_weights
build_web
exec node scripts/serve.mjs "${PORT:-8080}"
