// SPDX-License-Identifier: GPL-2.0

//! The parts of vigil.ko that do not depend on the kernel, built from the module's own source
//! files so that cargo tests exactly the code the module runs.

#[path = "../../../rust/config.rs"]
pub mod config;
#[path = "../../../rust/headers.rs"]
pub mod headers;
#[path = "../../../rust/histogram.rs"]
pub mod histogram;
#[path = "../../../rust/parse.rs"]
pub mod parse;
#[path = "../../../rust/policy.rs"]
pub mod policy;
