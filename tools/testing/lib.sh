# SPDX-License-Identifier: GPL-2.0
# Shared settings for vigil's build and test scripts. Source it; do not run it.

VIGIL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VIGIL_CACHE=${VIGIL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vigil}
VIGIL_TOOLS=$VIGIL_CACHE/tools
VIGIL_LINUX_VERSION=${VIGIL_LINUX_VERSION:-7.3.4}
VIGIL_BINDGEN_VERSION=0.73.2
# Host crates build outside the repo too, so that a fresh clone reuses them.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$VIGIL_CACHE/cargo-target}
VIGIL_LLVM_BIN=/usr/lib/llvm-19/bin

# The rustup toolchain in ~/.cargo/bin has no rust-src: kernel Rust needs
# Debian's rustc-web (sysroot /usr). Host crates keep using rustup's cargo.
export PATH=$VIGIL_LLVM_BIN:$VIGIL_TOOLS/bin:$PATH
VIGIL_KMAKE_VARS=(LLVM=1 RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
	CLIPPY_DRIVER=/usr/bin/clippy-driver BINDGEN="$VIGIL_TOOLS/bin/bindgen")

vigil_log() { printf 'vigil: %s\n' "$*" >&2; }
vigil_die() { printf 'vigil: error: %s\n' "$*" >&2; exit 1; }

# The build tree of the test kernel for a variant, written by setup.sh.
vigil_kdir() {
	local f=$VIGIL_CACHE/kdir-${1:-debug}
	[ -r "$f" ] || vigil_die "no $1 kernel yet: run tools/testing/setup.sh --variant ${1:-debug}"
	cat "$f"
}
