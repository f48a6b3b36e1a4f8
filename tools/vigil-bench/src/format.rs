// SPDX-License-Identifier: GPL-2.0

//! Numbers as people read them in the Markdown report and the plot.

/// What an unknown value shows as in a table cell.
pub const UNKNOWN: &str = "–";

/// Nanoseconds as microseconds with one decimal, e.g. `12.3`.
pub fn micros(ns: Option<f64>) -> String {
    ns.map_or_else(|| UNKNOWN.to_string(), |ns| format!("{:.1}", ns / 1000.0))
}

/// Nanoseconds as microseconds for a sentence: whole microseconds from 10 µs up, one
/// decimal below, e.g. `212 µs`, `4.5 µs`.
pub fn micros_brief(ns: f64) -> String {
    let us = ns / 1000.0;
    if us.abs() >= 10.0 {
        format!("{us:.0} µs")
    } else {
        format!("{us:.1} µs")
    }
}

/// A fraction as a percentage with one decimal, e.g. `12.3%`.
pub fn percent(fraction: Option<f64>) -> String {
    fraction.map_or_else(|| UNKNOWN.to_string(), |f| format!("{:.1}%", f * 100.0))
}

/// A value with `decimals` decimals.
pub fn fixed(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| UNKNOWN.to_string(), |v| format!("{v:.decimals$}"))
}

/// A ratio with two decimals, e.g. `0.50`.
pub fn ratio(value: f64) -> String {
    format!("{value:.2}")
}

/// A ratio with two decimals, or `n/a (why)`.
pub fn ratio_or_reason(value: &Result<f64, String>) -> String {
    match value {
        Ok(v) => ratio(*v),
        Err(why) => format!("n/a ({why})"),
    }
}

/// A relative difference as a whole percentage, e.g. `23%`; `<1%` for a small non-zero one.
pub fn relative(fraction: f64) -> String {
    let pct = fraction * 100.0;
    if pct > 0.0 && pct < 0.5 {
        "<1%".to_string()
    } else {
        format!("{pct:.0}%")
    }
}

/// `v` rounded to six decimals, so derived values do not print float noise.
pub fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_units() {
        assert_eq!(micros(Some(123_456.0)), "123.5");
        assert_eq!(micros(None), "–");
        assert_eq!(micros_brief(212_345.0), "212 µs");
        assert_eq!(micros_brief(4_460.0), "4.5 µs");
        assert_eq!(percent(Some(0.1234)), "12.3%");
        assert_eq!(fixed(Some(2.0 / 3.0), 1), "0.7");
        assert_eq!(ratio(0.5), "0.50");
        assert_eq!(
            ratio_or_reason(&Err("no poll run".into())),
            "n/a (no poll run)"
        );
        assert_eq!(relative(0.23000000000000004), "23%");
        assert_eq!(relative(0.001), "<1%");
        assert_eq!(relative(0.0), "0%");
        assert_eq!(round6(1.0 / 3.0), 0.333333);
    }
}
