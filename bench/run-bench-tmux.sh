#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds and runs the tmux capture benchmark exactly as docs/benchmarks.md
# reports it. Usage: bench/run-bench-tmux.sh [BUILD_DIR] (default: build).
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}

if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$src"
fi
meson compile -C "$build" bench-tmux-capture
# --no-rebuild: only this benchmark has to build, not the whole tree.
exec meson test -C "$build" --no-rebuild --verbose bench-tmux-capture
