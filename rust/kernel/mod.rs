// SPDX-License-Identifier: GPL-2.0

//! The C-facing layer: thin wrappers over the kernel's C APIs, one file per C subsystem, and
//! every `unsafe` block of the module. The pipeline logic above them is safe Rust.

pub(crate) mod clock;
pub(crate) mod genetlink;
pub(crate) mod napi;
pub(crate) mod netdevice;
pub(crate) mod netfilter;
pub(crate) mod skb;
pub(crate) mod sys;
pub(crate) mod sysfs;
pub(crate) mod workqueue;
