// SPDX-License-Identifier: GPL-2.0

//! The simulator's results for a profile: `sim-<profile>.json`, the output of
//! `vigil-sim --json`.

use crate::json_read;
use crate::json_value::Value;
use crate::ratios::{self, Metric};
use crate::record::Variant;
use crate::Error;

/// The members every row must have, all numbers (besides `policy`).
pub const REQUIRED: [&str; 7] = [
    "p50_ns",
    "p99_ns",
    "p999_ns",
    "cpu_busy",
    "wakeups_per_1k",
    "reschedules",
    "completions",
];

/// One row of the simulator's output: one policy.
#[derive(Debug, Clone, PartialEq)]
pub struct SimRow {
    /// The policy simulated.
    pub policy: Variant,
    /// The row as the simulator wrote it, passed through to `results.json`.
    pub raw: Value,
}

impl SimRow {
    /// The number `key` holds; every [`REQUIRED`] key does.
    pub fn number(&self, key: &str) -> Option<f64> {
        self.raw.get(key).and_then(Value::as_f64)
    }

    /// The figure the VM runs call `metric`.
    pub fn metric(&self, metric: Metric) -> Option<f64> {
        match metric {
            Metric::P99 => self.number("p99_ns"),
            Metric::CpuBusy => self.number("cpu_busy"),
            Metric::WakeupsPer1k => self.number("wakeups_per_1k"),
            Metric::Throughput | Metric::HostCpuPerPacket => None,
        }
    }
}

/// The simulator's results for one profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Sim {
    /// The profile.
    pub profile: String,
    /// The file's name, e.g. `sim-burst-32x2ms.json`.
    pub file: String,
    /// One row per policy, in file order.
    pub rows: Vec<SimRow>,
}

impl Sim {
    /// The row of `policy`, if simulated.
    pub fn row(&self, policy: Variant) -> Option<&SimRow> {
        self.rows.iter().find(|r| r.policy == policy)
    }

    /// `numerator`'s `metric` over `denominator`'s in the simulation.
    pub fn ratio(
        &self,
        numerator: Variant,
        denominator: Variant,
        metric: Metric,
    ) -> Result<f64, String> {
        let side = |v: Variant| {
            self.row(v)
                .map(|r| r.metric(metric))
                .ok_or_else(|| format!("{} not simulated", v.name()))
        };
        let top = side(numerator)?;
        let bottom = side(denominator)?;
        ratios::quotient(numerator, top, denominator, bottom, metric)
    }
}

/// The file name of `profile`'s simulator results.
pub fn file_name(profile: &str) -> String {
    format!("sim-{profile}.json")
}

/// The simulator's results for `profile`, from `text`, the contents of its file.
///
/// Errors do not name the file: the caller knows its path.
pub fn parse(profile: &str, text: &str) -> Result<Sim, Error> {
    let fail = Error;
    let value = json_read::parse(text).map_err(|e| fail(e.0))?;
    let Value::Array(items) = value else {
        return Err(fail("expected an array of rows".to_string()));
    };
    let mut rows: Vec<SimRow> = Vec::new();
    for (i, raw) in items.into_iter().enumerate() {
        let at = |message: String| fail(format!("row {i}: {message}"));
        if !matches!(raw, Value::Object(_)) {
            return Err(at("not an object".to_string()));
        }
        let name = raw
            .get("policy")
            .and_then(Value::as_str)
            .ok_or_else(|| at("no \"policy\" string".to_string()))?;
        let policy = Variant::parse(name)
            .filter(|v| *v != Variant::Plain)
            .ok_or_else(|| at(format!("unknown policy `{name}`")))?;
        for key in REQUIRED {
            if raw.get(key).and_then(Value::as_f64).is_none() {
                return Err(at(format!("no number \"{key}\"")));
            }
        }
        // Several rows per policy (`vigil-sim --scale`) leave no single figure to compare.
        if rows.iter().any(|r| r.policy == policy) {
            return Err(at(format!(
                "a second row of policy `{name}` (was the simulator run with --scale?)"
            )));
        }
        rows.push(SimRow { policy, raw });
    }
    Ok(Sim {
        profile: profile.to_string(),
        file: file_name(profile),
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROW: &str = "\"p50_ns\": 1, \"p99_ns\": 2, \"p999_ns\": 3, \"cpu_busy\": 0.5, \
                       \"wakeups_per_1k\": 4, \"reschedules\": 5, \"completions\": 6";

    #[test]
    fn reads_rows_and_computes_ratios() {
        let text = format!(
            "[{{\"policy\": \"poll\", {ROW}, \"reschedules_by_reason\": {{\"window\": 2}}}},\n\
             {{\"policy\": \"adaptive\", \"p50_ns\": 1, \"p99_ns\": 1, \"p999_ns\": 3, \
             \"cpu_busy\": 0.125, \"wakeups_per_1k\": 0, \"reschedules\": 5, \
             \"completions\": 6}}]"
        );
        let sim = parse("b", &text).unwrap();
        assert_eq!(sim.file, "sim-b.json");
        assert_eq!(sim.rows.len(), 2);
        assert_eq!(
            sim.ratio(Variant::Adaptive, Variant::Poll, Metric::P99),
            Ok(0.5)
        );
        assert_eq!(
            sim.ratio(Variant::Adaptive, Variant::Poll, Metric::CpuBusy),
            Ok(0.25)
        );
        assert_eq!(
            sim.ratio(Variant::Adaptive, Variant::Idle, Metric::WakeupsPer1k),
            Err("idle not simulated".to_string())
        );
        assert_eq!(
            sim.row(Variant::Poll)
                .and_then(|r| r.raw.get("reschedules_by_reason"))
                .and_then(|r| r.get("window")),
            Some(&Value::Number(2.0))
        );
    }

    #[test]
    fn rejects_incomplete_or_repeated_rows() {
        let missing = parse("b", "[{\"policy\": \"poll\", \"p50_ns\": 1}]").unwrap_err();
        assert_eq!(missing.0, "row 0: no number \"p99_ns\"");
        let twice = format!("[{{\"policy\": \"poll\", {ROW}}}, {{\"policy\": \"poll\", {ROW}}}]");
        assert!(parse("b", &twice)
            .unwrap_err()
            .0
            .contains("row 1: a second row"));
        assert!(parse("b", "{}")
            .unwrap_err()
            .0
            .contains("expected an array"));
        assert!(parse("b", "[{\"policy\": \"plain\"}]")
            .unwrap_err()
            .0
            .contains("unknown policy `plain`"));
        assert!(parse("b", "[1,").unwrap_err().0.starts_with("line 1"));
    }
}
