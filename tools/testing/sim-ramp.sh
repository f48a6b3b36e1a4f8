#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make sim-ramp`: the CPU allocator (rust/shared/allocator.rs, issue 11) in the
# simulator, on a load that ramps from 1 kpps to 100 kpps and back (five phases
# of 2 s: low, rise, high, fall, low). 12 lanes of 3 stages costing 2, 25 and
# 12 us a packet share a pool of 8 CPUs: at 100 kpps stage 1 needs 2.5 CPUs,
# stage 2 1.2, stage 0 0.2. Writes the per-interval trace and its plot to OUT
# (default Documentation/allocator): ramp.csv and ramp.svg.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$VIGIL_ROOT"
out=${1:-Documentation/allocator}
mkdir -p "$out"
(cd tools && cargo build --release --quiet -p vigil-sim) >&2
"$CARGO_TARGET_DIR/release/vigil-sim" --allocate --policy adaptive \
	--lanes 12 --stages 3 --cpus 8 --service-ns 2000,25000,12000 \
	--profile ramp:1000:100000:2000 --csv "$out/ramp.csv" --svg "$out/ramp.svg"
