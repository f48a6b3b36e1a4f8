#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# vigil's main job (`make demo`): boots the test VM, where the three-stage sample
# pipeline carries bursty traffic under each policy (guest-demo.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$VIGIL_ROOT"
tools/testing/setup.sh --variant debug
make -s KDIR="$(vigil_kdir debug)" module
tools/testing/build-tools.sh >/dev/null
exec tools/testing/vm.sh --cpus 2 -- "$VIGIL_ROOT/tools/testing/guest-demo.sh"
