#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# One-command, idempotent setup for vigil on Debian 12: installs the
# toolchain, fetches the Linux source and builds the test kernel.
#
#   setup.sh [--variant debug|bench]... [--no-kernel] [--selftests]
#
# --selftests also installs what the kernel's network selftests run
# (`make selftests`, tools/testing/selftests.sh).
#
# Environment:
#   VIGIL_CACHE       cache folder (default ~/.cache/vigil); builds are keyed
#                     there by source version, config and toolchain.
#   VIGIL_LINUX_SRC   a Linux tarball or unpacked tree to use instead of
#                     Debian's linux-source-7.3 or ../shared/linux.
#   VIGIL_JOBS        make -j (default: number of CPUs + 1).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

variants=()
build_kernel=1
selftests=0
while [ $# -gt 0 ]; do
	case $1 in
	--variant) variants+=("$2"); shift 2 ;;
	--no-kernel) build_kernel=0; shift ;;
	--selftests) selftests=1; shift ;;
	*) vigil_die "setup.sh: unknown argument $1" ;;
	esac
done
[ ${#variants[@]} -gt 0 ] || variants=(debug)

SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
mkdir -p "$VIGIL_CACHE" "$VIGIL_TOOLS"

# python3-yaml: the kernel's YNL CLI reads vigil's netlink spec in the VM tests.
APT_PACKAGES=(rustc-web rust-web-src rust-web-clippy clang-19 lld-19 llvm-19 libclang-19-dev
	flex bison bc libelf-dev libssl-dev cpio make xz-utils
	busybox-static kmod iproute2 python3
	nftables iputils-ping python3-yaml)
# The programs tools/testing/selftests/net/{netfilter,}/*.sh call, and what
# their C helpers build with. Debian 12's iptables is iptables-nft, with the
# legacy tools beside it (rpath.sh uses both); ipvsadm and packetdrill are
# left out: the test kernel has no IP_VS and Debian has no packetdrill.
SELFTEST_PACKAGES=(gcc libc6-dev pkg-config libmnl-dev
	nftables iptables ebtables conntrack socat iperf3 iputils-ping iputils-arping ndisc6
	netsniff-ng ethtool tcpdump jq sendip procps)
[ $selftests = 0 ] || APT_PACKAGES+=("${SELFTEST_PACKAGES[@]}")

add_apt_suite() {
	local suite=$1 list=/etc/apt/sources.list.d/vigil-$1.sources
	[ -e "$list" ] && return 0
	printf '%s\n' 'Types: deb' 'URIs: http://deb.debian.org/debian' "Suites: $suite" \
		'Components: main' 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' |
		$SUDO tee "$list" >/dev/null
	$SUDO apt-get update -qq
}

# qemu-system-x86 must match an installed qemu-utils: some images carry
# qemu-utils from bookworm-backports, which breaks bookworm's qemu 7.2.
install_qemu() {
	local v
	command -v qemu-system-x86_64 >/dev/null && return 0
	v=$(dpkg-query -W -f='${Version}' qemu-utils 2>/dev/null || true)
	if [ -n "$v" ] && [[ $v == *bpo12* ]]; then
		add_apt_suite bookworm-backports
		DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
			-t bookworm-backports "qemu-system-x86=$v" >/dev/null
	else
		DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
			qemu-system-x86 >/dev/null
	fi
}

install_packages() {
	local missing=()
	for p in "${APT_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -gt 0 ] || return 0
	vigil_log "installing ${missing[*]}"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null
}

install_bindgen() {
	local bg=$VIGIL_TOOLS/bin/bindgen
	if [ -x "$bg" ] && "$bg" --version 2>/dev/null | grep -q "$VIGIL_BINDGEN_VERSION"; then
		return 0
	fi
	command -v cargo >/dev/null || vigil_die "cargo is needed to install bindgen-cli"
	vigil_log "installing bindgen-cli $VIGIL_BINDGEN_VERSION"
	LIBCLANG_PATH=/usr/lib/llvm-19/lib cargo install --quiet --locked \
		--root "$VIGIL_TOOLS" bindgen-cli --version "$VIGIL_BINDGEN_VERSION"
}

# Prints the path of an unpacked Linux tree. Order: a source the user names,
# Debian's linux-source-7.3 (from trixie-backports), the checked copy in
# ../shared/linux.
find_tarball() {
	local deb=/usr/src/linux-source-7.3.tar.xz shared
	if [ -n "${VIGIL_LINUX_SRC:-}" ]; then
		echo "$VIGIL_LINUX_SRC"
		return
	fi
	if [ ! -r "$deb" ]; then
		if add_apt_suite trixie-backports >/dev/null 2>&1 &&
			DEBIAN_FRONTEND=noninteractive timeout 600 $SUDO apt-get install -y -qq \
				--no-install-recommends -t trixie-backports linux-source-7.3 >/dev/null 2>&1; then
			:
		else
			vigil_log "linux-source-7.3 not available from Debian; using ../shared/linux"
		fi
	fi
	if [ -r "$deb" ]; then
		echo "$deb"
		return
	fi
	shared=$VIGIL_ROOT/../shared/linux
	[ -r "$shared/linux-source-7.3.4.tar.xz" ] ||
		vigil_die "no Linux source: install linux-source-7.3, put ../shared beside the repo, or set VIGIL_LINUX_SRC"
	(cd "$shared" && sha256sum --quiet -c SHA256SUMS) ||
		vigil_die "$shared/linux-source-7.3.4.tar.xz fails its SHA256SUMS check"
	echo "$shared/linux-source-7.3.4.tar.xz"
}

# Unpacks (once) and prints the source tree.
unpack_source() {
	local src=$1 stamp dest
	if [ -d "$src" ]; then
		echo "$src"
		return
	fi
	stamp=$(stat -c '%s-%Y' "$src")
	dest=$VIGIL_CACHE/src/$(basename "$src" .tar.xz)-$stamp
	if [ ! -e "$dest/.vigil-unpacked" ]; then
		vigil_log "unpacking $src"
		rm -rf "$dest"
		mkdir -p "$dest"
		tar -xf "$src" -C "$dest" --strip-components=1
		touch "$dest/.vigil-unpacked"
	fi
	echo "$dest"
}

fragments_for() {
	local dir=$VIGIL_ROOT/tools/testing/config
	case $1 in
	debug) echo "$dir/base.config $dir/stack.config $dir/debug.config" ;;
	bench) echo "$dir/base.config $dir/stack.config $dir/bench.config" ;;
	*) vigil_die "unknown kernel variant $1" ;;
	esac
}

# Every option the fragments ask for must survive olddefconfig: a silently
# dropped option (an unmet dependency) would test something else.
check_config() {
	local out=$1 frag line sym want got bad=0
	shift
	for frag in "$@"; do
		while IFS= read -r line; do
			case $line in
			CONFIG_*=*) sym=${line%%=*}; want=$line ;;
			"# CONFIG_"*" is not set") sym=${line#\# }; sym=${sym%% *}; want="# $sym is not set" ;;
			*) continue ;;
			esac
			got=$(grep -E "^($sym=|# $sym is not set)" "$out/.config" || echo "# $sym is not set")
			if [ "$got" != "$want" ]; then
				vigil_log "config: asked '$want', got '$got'"
				bad=1
			fi
		done <"$frag"
	done
	[ $bad = 0 ] || vigil_die "the kernel config fragments do not apply cleanly"
}

build_kernel_variant() {
	local variant=$1 srctree=$2 frags key out version
	read -r -a frags <<<"$(fragments_for "$variant")"
	version=$(make -s -C "$srctree" kernelversion)
	key=$( {
		echo "$version"
		cat "${frags[@]}"
		/usr/bin/rustc --version
		clang --version | head -1
		bindgen --version
	} | sha256sum | cut -c1-16)
	out=$VIGIL_CACHE/kbuild/$variant-$version-$key
	if [ ! -e "$out/.vigil-built" ]; then
		vigil_log "building the $variant kernel $version in $out (cold: about 20 minutes on 2 cores)"
		rm -rf "$out"
		mkdir -p "$out"
		make -s -C "$srctree" O="$out" "${VIGIL_KMAKE_VARS[@]}" tinyconfig >/dev/null
		KCONFIG_CONFIG=$out/.config "$srctree/scripts/kconfig/merge_config.sh" -m -O "$out" \
			"$out/.config" "${frags[@]}" >/dev/null
		make -s -C "$srctree" O="$out" "${VIGIL_KMAKE_VARS[@]}" olddefconfig >/dev/null
		check_config "$out" "${frags[@]}"
		make -s -C "$srctree" O="$out" "${VIGIL_KMAKE_VARS[@]}" \
			-j"${VIGIL_JOBS:-$(($(nproc) + 1))}" bzImage modules
		touch "$out/.vigil-built"
	fi
	echo "$out" >"$VIGIL_CACHE/kdir-$variant"
	vigil_log "$variant kernel: $out"
}

install_packages
install_qemu
install_bindgen
if [ $build_kernel = 1 ]; then
	srctree=$(unpack_source "$(find_tarball)")
	make -s -C "$srctree" "${VIGIL_KMAKE_VARS[@]}" rustavailable >/dev/null ||
		vigil_die "Rust is not available for this kernel tree (make rustavailable)"
	for v in "${variants[@]}"; do
		build_kernel_variant "$v" "$srctree"
	done
fi
