// SPDX-License-Identifier: GPL-2.0

//! The parts of vigil.ko that do not depend on the kernel, built from the module's own source
//! files so that cargo tests exactly the code the module runs.

#[path = "../../../rust/shared/mod.rs"]
mod shared;

// By their own names, as the shared files refer to each other (`crate::parse`).
pub use shared::{abi, allocator, config, headers, histogram, ops, parse, pipelines, policy};
