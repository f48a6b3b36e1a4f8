// SPDX-License-Identifier: GPL-2.0

//! Pure logic with no kernel dependency: compiled into the module and, from this same folder,
//! into the host crate `tools/vigil-core`, where cargo tests it and the CLI and the simulator
//! use it.

pub mod abi;
pub mod allocator;
pub mod config;
pub mod headers;
pub mod histogram;
pub mod ops;
pub mod parse;
pub mod pipelines;
pub mod policy;
