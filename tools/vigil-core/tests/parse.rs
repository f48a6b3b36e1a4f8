// SPDX-License-Identifier: GPL-2.0

//! Host tests of `rust/parse.rs`, against a reference model built from `std`.

use vigil_core::parse::{parse_bool, parse_u64, trim_line, ParseError};

/// What `parse_u64` must answer, derived independently from `str::parse`.
fn model_u64(input: &[u8], min: u64, max: u64) -> Result<u64, ParseError> {
    let text = std::str::from_utf8(input.strip_suffix(b"\n").unwrap_or(input))
        .map_err(|_| ParseError::Invalid)?;
    if text.is_empty() || !text.bytes().all(|c| c.is_ascii_digit()) {
        return Err(ParseError::Invalid);
    }
    match text.parse::<u64>() {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(ParseError::OutOfRange),
    }
}

/// Every string of up to four bytes over an alphabet of digits, signs, spaces and newlines.
fn short_inputs() -> Vec<Vec<u8>> {
    let alphabet = b"019 +-\nx";
    let mut all = vec![Vec::new()];
    let mut level = vec![Vec::new()];
    for _ in 0..4 {
        let mut next = Vec::new();
        for prefix in &level {
            for &c in alphabet {
                let mut s: Vec<u8> = prefix.clone();
                s.push(c);
                next.push(s);
            }
        }
        all.extend(next.iter().cloned());
        level = next;
    }
    all
}

#[test]
fn u64_matches_the_model_on_every_short_input() {
    let inputs = short_inputs();
    assert_eq!(inputs.len(), 1 + 8 + 64 + 512 + 4096);
    for input in &inputs {
        for (min, max) in [(0, u64::MAX), (0, 9), (10, 99), (5, 5)] {
            assert_eq!(
                parse_u64(input, min, max),
                model_u64(input, min, max),
                "input {:?} range {min}..={max}",
                String::from_utf8_lossy(input)
            );
        }
    }
}

#[test]
fn u64_round_trips_and_detects_overflow() {
    let mut v: u64 = 1;
    while let Some(next) = v.checked_mul(3) {
        for candidate in [v - 1, v, v + 1] {
            let text = format!("{candidate}\n");
            assert_eq!(parse_u64(text.as_bytes(), 0, u64::MAX), Ok(candidate));
        }
        v = next;
    }
    assert_eq!(
        parse_u64(b"18446744073709551615", 0, u64::MAX),
        Ok(u64::MAX)
    );
    for overflow in [
        "18446744073709551616",
        "99999999999999999999",
        "184467440737095516150",
    ] {
        assert_eq!(
            parse_u64(overflow.as_bytes(), 0, u64::MAX),
            Err(ParseError::OutOfRange),
            "{overflow}"
        );
    }
}

#[test]
fn bool_accepts_only_zero_and_one() {
    for input in short_inputs() {
        let expected = match input.as_slice() {
            b"0" | b"0\n" => Ok(false),
            b"1" | b"1\n" => Ok(true),
            _ => Err(ParseError::Invalid),
        };
        assert_eq!(parse_bool(&input), expected, "{:?}", input);
    }
}

#[test]
fn trim_line_removes_exactly_one_newline() {
    assert_eq!(trim_line(b"5\n"), b"5");
    assert_eq!(trim_line(b"5\n\n"), b"5\n");
    assert_eq!(trim_line(b"5"), b"5");
    assert_eq!(trim_line(b""), b"");
}
