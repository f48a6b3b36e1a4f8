#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Sample: load vigil, send UDP datagrams over loopback, and watch the hooks
# count them. Run it as root on a kernel with vigil.ko built, or in the test VM:
#   tools/testing/vm.sh -- samples/count-packets.sh [COUNT]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
count=${1:-500}
insmod "$root/vigil.ko"
trap 'rmmod vigil' EXIT
ip link set lo up
"${CARGO_TARGET_DIR:-$root/tools/target}/release/vigil" load --dst 127.0.0.1:9000 --count "$count"
"${CARGO_TARGET_DIR:-$root/tools/target}/release/vigil" status
