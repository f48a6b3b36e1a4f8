// SPDX-License-Identifier: GPL-2.0

//! The pipelines and their order: what `/sys/kernel/vigil/pipelines` shows and takes.
//!
//! A packet goes to the first pipeline, in this order, whose `match` fits. Writes are `+NAME`
//! (add at the end), `-NAME` (remove), or every name in a new order.
//!
//! Pure logic with no kernel dependency: compiled into the module and into the host crate
//! `tools/vigil-core`, where cargo tests it and the CLI validates with it.

use crate::parse::{copy_prefix, trim_line};
use core::fmt;

/// At most this many pipelines, the default one included.
pub const MAX_PIPELINES: usize = 8;
/// The longest pipeline name.
pub const MAX_NAME_LEN: usize = 15;
/// The pipeline that the top-level files of `/sys/kernel/vigil/` configure; it always exists.
pub const DEFAULT_PIPELINE: &str = "default";

/// Why a write to `pipelines` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PipelinesError {
    /// Not a valid write (`EINVAL`).
    Invalid,
    /// `+NAME` of a pipeline that exists (`EEXIST`).
    Exists,
    /// `-NAME` of a pipeline that does not exist (`ENOENT`).
    Missing,
    /// `+NAME` with [`MAX_PIPELINES`] pipelines already (`ENOSPC`).
    Full,
    /// `-default`: the default pipeline cannot go (`EBUSY`).
    Default,
}

/// A pipeline name: 1 to [`MAX_NAME_LEN`] of `a-z`, `0-9` and `_`, starting with a letter.
///
/// # Invariants
///
/// `bytes[..len]` is a valid name and the rest is zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Name {
    bytes: [u8; MAX_NAME_LEN],
    len: u8,
}

impl Name {
    /// Parses a name.
    pub fn parse(word: &[u8]) -> Result<Self, PipelinesError> {
        let valid = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_';
        if word.is_empty()
            || word.len() > MAX_NAME_LEN
            || !word[0].is_ascii_lowercase()
            || !word.iter().all(valid)
        {
            return Err(PipelinesError::Invalid);
        }
        let mut bytes = [0; MAX_NAME_LEN];
        copy_prefix(&mut bytes, word);
        // INVARIANT: checked above; the rest of `bytes` is zero.
        Ok(Name {
            bytes,
            len: word.len() as u8,
        })
    }

    /// The default pipeline's name.
    pub fn default_pipeline() -> Self {
        let mut bytes = [0; MAX_NAME_LEN];
        copy_prefix(&mut bytes, DEFAULT_PIPELINE.as_bytes());
        // INVARIANT: "default" is a valid name.
        Name {
            bytes,
            len: DEFAULT_PIPELINE.len() as u8,
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        // The bytes are ASCII (type invariant).
        core::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }

    /// Whether this is the default pipeline.
    pub fn is_default(&self) -> bool {
        self.as_str() == DEFAULT_PIPELINE
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A write to `pipelines`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// `+NAME`: a new pipeline, last in the order, disabled, with the default settings.
    Add(Name),
    /// `-NAME`: the pipeline stops (draining, as `enabled` 0 does) and goes.
    Remove(Name),
    /// `NAME...`: every pipeline, in a new order.
    Order(Order),
}

impl Change {
    /// Parses a write.
    pub fn parse(input: &[u8]) -> Result<Self, PipelinesError> {
        let text = trim_line(input);
        let mut words = text.split(|&c| c == b' ').filter(|w| !w.is_empty());
        let first = words.next().ok_or(PipelinesError::Invalid)?;
        match first[0] {
            b'+' | b'-' => {
                if words.next().is_some() {
                    return Err(PipelinesError::Invalid);
                }
                let name = Name::parse(&first[1..])?;
                Ok(if first[0] == b'+' {
                    Change::Add(name)
                } else {
                    Change::Remove(name)
                })
            }
            _ => {
                let mut order = Order::empty();
                for word in core::iter::once(first).chain(words) {
                    let name = Name::parse(word)?;
                    if order.position(&name).is_some() {
                        return Err(PipelinesError::Invalid);
                    }
                    order.push(name)?;
                }
                Ok(Change::Order(order))
            }
        }
    }
}

/// The pipelines, in the order packets try them.
///
/// # Invariants
///
/// `names[..len]` are distinct and include the default pipeline's; the rest are `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Order {
    names: [Option<Name>; MAX_PIPELINES],
    len: usize,
}

impl Default for Order {
    /// The default pipeline alone.
    fn default() -> Self {
        let mut names = [None; MAX_PIPELINES];
        names[0] = Some(Name::default_pipeline());
        Order { names, len: 1 }
    }
}

impl Order {
    /// No pipeline: only for building a [`Change::Order`].
    fn empty() -> Self {
        Order {
            names: [None; MAX_PIPELINES],
            len: 0,
        }
    }

    fn push(&mut self, name: Name) -> Result<(), PipelinesError> {
        let slot = self.names.get_mut(self.len).ok_or(PipelinesError::Full)?;
        *slot = Some(name);
        self.len += 1;
        Ok(())
    }

    /// The names, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Name> {
        self.names[..self.len].iter().flatten()
    }

    /// How many pipelines.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Never: the default pipeline is always there (for clippy's `len_without_is_empty`).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Where `name` is in the order.
    pub fn position(&self, name: &Name) -> Option<usize> {
        self.iter().position(|n| n == name)
    }

    /// Applies a change; on error nothing changes.
    pub fn apply(&mut self, change: &Change) -> Result<(), PipelinesError> {
        match change {
            Change::Add(name) => {
                if self.position(name).is_some() {
                    return Err(PipelinesError::Exists);
                }
                self.push(*name)
            }
            Change::Remove(name) => {
                if name.is_default() {
                    return Err(PipelinesError::Default);
                }
                let at = self.position(name).ok_or(PipelinesError::Missing)?;
                self.names.copy_within(at + 1..self.len, at);
                self.len -= 1;
                self.names[self.len] = None;
                Ok(())
            }
            Change::Order(order) => {
                // A permutation of the same names (each is distinct in both).
                if order.len != self.len || self.iter().any(|n| order.position(n).is_none()) {
                    return Err(PipelinesError::Invalid);
                }
                *self = *order;
                Ok(())
            }
        }
    }
}

/// How `pipelines` reads: the names in order, space-separated.
impl fmt::Display for Order {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, name) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(name.as_str())?;
        }
        Ok(())
    }
}
