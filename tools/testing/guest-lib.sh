# SPDX-License-Identifier: GPL-2.0
# Shared by the scripts that run inside the test VM. Source it.
VIGIL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/../.." && pwd)
VIGIL_KO=$VIGIL_ROOT/vigil.ko
VIGIL=$VIGIL_ROOT/tools/target/release/vigil
SYSFS=/sys/kernel/vigil

# vigil_read NAME: the value of a sysfs attribute.
vigil_read() { cat "$SYSFS/$1"; }
