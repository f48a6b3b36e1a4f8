# SPDX-License-Identifier: GPL-2.0
#
# vigil: out-of-tree Rust kernel module, its host tools and its tests.
#
#   make                 build vigil.ko (sets up the toolchain and test kernel first,
#                        unless KDIR names a Rust-enabled kernel build tree)
#   make KDIR=/path      build vigil.ko against your own kernel build tree
#   make demo            boot the test VM, load vigil, send traffic, show the counters
#   make check           run every test (host, KUnit, VM integration); ends with
#                        "N passed, N failed"
#   make selftests       the kernel's netfilter, bridge and VRF selftests in the VM, with
#                        vigil off and on; table in Documentation/selftests.rst
#   make bench           benchmark every policy side by side in the VM (bench kernel)
#                        and the simulator; results in Documentation/bench/
#   make sim-ramp        the CPU allocator in the simulator on a 1k -> 100k -> 1k pps
#                        ramp; trace and plot in Documentation/allocator/
#   make clippy          build the module with the kernel's CLIPPY=1
#   make fmt / fmtcheck  rustfmt the module and host crates / check they are formatted
#   make tools           build the host crates (the vigil CLI, static)
#   make man             the vigil CLI's man pages, into out/man/ (man -l out/man/vigil.1)
#   make ynl-gen         regenerate the generic netlink C (rust/kernel/vigil-nl-gen.[ch],
#                        rust/kernel/uapi/linux/vigil.h) from
#                        Documentation/netlink/specs/vigil.yaml with the kernel's generator
#   make clean

SHELL := /bin/bash
VIGIL_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/vigil
VARIANT ?= debug

# A build tree given by the user wins; otherwise the one setup.sh built.
ifeq ($(origin KDIR),undefined)
# Evaluated once, on first use, so that `make fmt` needs no kernel.
KDIR = $(eval KDIR := $(shell tools/testing/setup.sh --variant $(VARIANT) >&2 && cat $(VIGIL_CACHE)/kdir-$(VARIANT)))$(KDIR)
endif

LLVM_BIN := /usr/lib/llvm-19/bin
KMAKE = PATH=$(LLVM_BIN):$(VIGIL_CACHE)/tools/bin:$$PATH $(MAKE) -C $(KDIR) M=$(CURDIR) \
	LLVM=1 RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc \
	CLIPPY_DRIVER=/usr/bin/clippy-driver BINDGEN=$(VIGIL_CACHE)/tools/bin/bindgen

.PHONY: all module clippy demo check selftests bench sim-ramp fmt fmtcheck tools man clean setup ynl-gen

all: module

module:
	+$(KMAKE) modules

clippy:
	+$(KMAKE) CLIPPY=1 modules

setup:
	tools/testing/setup.sh --variant $(VARIANT)

tools:
	tools/testing/build-tools.sh

# Generated from the CLI's own definition (tools/vigil/src/cli.rs), like its --help.
man:
	vigil=$$(tools/testing/build-tools.sh) && "$$vigil" man out/man

demo:
	tools/testing/demo.sh

check:
	tools/testing/run-tests.sh

selftests:
	tools/testing/selftests.sh

bench:
	tools/testing/bench.sh

sim-ramp:
	tools/testing/sim-ramp.sh
# The kernel's YNL generator, run on vigil's spec. It finds the spec's schema
# (../genetlink.yaml) and the root it names in comments (the folder holding
# MAINTAINERS) from the spec's path, so it reads the spec through a scratch
# tree laid out as the kernel's.
YNL_SPEC := Documentation/netlink/specs/vigil.yaml
ynl-gen:
	@src=$$(readlink -f $(KDIR)/source 2>/dev/null || echo $(KDIR)); \
	gen=$$src/tools/net/ynl/pyynl/ynl_gen_c.py; \
	t=$$(mktemp -d) && trap 'rm -rf "$$t"' EXIT && \
	mkdir -p $$t/Documentation/netlink/specs && touch $$t/MAINTAINERS && \
	ln -s $$src/Documentation/netlink/genetlink.yaml $$t/Documentation/netlink/ && \
	ln -s $(CURDIR)/$(YNL_SPEC) $$t/$(YNL_SPEC) && \
	python3 $$gen --mode kernel --source --spec $$t/$(YNL_SPEC) -o rust/kernel/vigil-nl-gen.c && \
	python3 $$gen --mode kernel --header --spec $$t/$(YNL_SPEC) -o rust/kernel/vigil-nl-gen.h && \
	python3 $$gen --mode uapi --header --spec $$t/$(YNL_SPEC) -o rust/kernel/uapi/linux/vigil.h

# rustfmt follows `mod` from the crate root.
RUST_SOURCES = rust/vigil.rs

fmt:
	rustfmt --edition 2021 --config-path $(CURDIR)/.rustfmt.toml $(RUST_SOURCES)
	cd tools && cargo fmt --all

fmtcheck:
	rustfmt --check --edition 2021 --config-path $(CURDIR)/.rustfmt.toml $(RUST_SOURCES)
	cd tools && cargo fmt --all --check

clean:
	-[ -n "$(KDIR)" ] && $(KMAKE) clean
	rm -f rust/kernel/vigil_bindings_generated.rs
	cd tools && cargo clean
