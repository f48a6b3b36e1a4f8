#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Builds the host crates (the vigil CLI) in release mode; prints the CLI's path.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
(cd "$VIGIL_ROOT/tools" && cargo build --release --quiet) >&2
echo "$CARGO_TARGET_DIR/release/vigil"
