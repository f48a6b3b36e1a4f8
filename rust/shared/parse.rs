// SPDX-License-Identifier: GPL-2.0

//! Parsers for values written to vigil's sysfs attributes.
//!
//! Pure logic with no kernel dependency: compiled into the module and into the host crate
//! `tools/vigil-core`, where cargo tests it.

/// Why a sysfs write was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// The text is not a value of the expected form (`-EINVAL`).
    Invalid,
    /// A number of the right form, outside the accepted range (`-ERANGE`).
    OutOfRange,
}

/// Copies the start of `src` into the start of `dst`, as much as fits, and returns how many
/// bytes it copied. Unlike `copy_from_slice` it has no length-mismatch panic path, which the
/// compiler keeps even where the lengths agree (and objtool does not know as noreturn).
pub fn copy_prefix(dst: &mut [u8], src: &[u8]) -> usize {
    let mut n = 0;
    for (to, from) in dst.iter_mut().zip(src) {
        *to = *from;
        n += 1;
    }
    n
}

/// Strips what `echo` adds: one trailing newline. Other white space is an error, so that a
/// write either means exactly one value or is refused.
pub fn trim_line(input: &[u8]) -> &[u8] {
    match input {
        [rest @ .., b'\n'] => rest,
        _ => input,
    }
}

/// Parses a decimal `u64` within `min..=max`, allowing one trailing newline.
pub fn parse_u64(input: &[u8], min: u64, max: u64) -> Result<u64, ParseError> {
    parse_digits(trim_line(input), min, max)
}

/// Parses decimal digits, and nothing else, as a `u64` within `min..=max`.
pub fn parse_digits(digits: &[u8], min: u64, max: u64) -> Result<u64, ParseError> {
    if digits.is_empty() {
        return Err(ParseError::Invalid);
    }
    let mut value: u64 = 0;
    let mut overflow = false;
    for &c in digits {
        if !c.is_ascii_digit() {
            return Err(ParseError::Invalid);
        }
        match value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(c - b'0')))
        {
            Some(v) => value = v,
            None => overflow = true,
        }
    }
    if overflow || value < min || value > max {
        return Err(ParseError::OutOfRange);
    }
    Ok(value)
}

/// Parses a boolean written as `0` or `1`.
pub fn parse_bool(input: &[u8]) -> Result<bool, ParseError> {
    match trim_line(input) {
        b"0" => Ok(false),
        b"1" => Ok(true),
        _ => Err(ParseError::Invalid),
    }
}
