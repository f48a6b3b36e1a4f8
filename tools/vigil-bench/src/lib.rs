// SPDX-License-Identifier: GPL-2.0

//! Turn the raw output of `make bench` into the committed results.
//!
//! The input format (the contract with the guest script) is described in the documentation of
//! the `vigil-bench-report` binary (`src/main.rs`). [`meta`] and [`record`] parse the guest's
//! files; [`sim`] reads the simulator's JSON into its own rows (`vigil_sim::report::JsonRow`,
//! with serde); [`ratios`] and [`targets`] compare the variants of each profile; [`csv`], [`json`],
//! [`markdown`] and [`svg`] render the four output files, with [`format`](mod@format) for the numbers
//! people read; [`report`] ties them together.

pub mod calibrate;
pub mod cells;
pub mod csv;
pub mod format;
pub mod host;
pub mod json;
pub mod markdown;
pub mod meta;
pub mod ratios;
pub mod record;
pub mod report;
pub mod sim;
pub mod svg;
pub mod targets;

use std::fmt;

/// An error with a message meant for the person running the tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl Error {
    /// An error with `message`.
    pub fn new(message: impl Into<String>) -> Error {
        Error(message.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}
