// SPDX-License-Identifier: GPL-2.0

//! The simulator's results for a profile: `sim-<profile>.json`, the output of
//! `vigil-sim --json`.

use vigil_sim::report::JsonRow;

use crate::ratios::{self, Metric};
use crate::record::Variant;
use crate::Error;

/// One row of the simulator's output: one policy.
#[derive(Debug, Clone, PartialEq)]
pub struct SimRow {
    /// The policy simulated.
    pub policy: Variant,
    /// The row as the simulator wrote it, passed through to `results.json`.
    pub raw: JsonRow,
}

impl SimRow {
    /// The figure the VM runs call `metric`.
    pub fn metric(&self, metric: Metric) -> Option<f64> {
        match metric {
            // The simulator's p99 is the pipeline's, hook to delivery: the module histogram's
            // counterpart (and the application's nearest).
            Metric::P99 | Metric::HistP99 => Some(self.raw.p99_ns as f64),
            Metric::CpuBusy => Some(self.raw.cpu_busy),
            Metric::WakeupsPer1k => Some(self.raw.wakeups_per_1k),
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

/// The simulator's results for `profile`, from `text`, the contents of its file: the
/// simulator's own [`JsonRow`]s.
///
/// Errors do not name the file: the caller knows its path.
pub fn parse(profile: &str, text: &str) -> Result<Sim, Error> {
    let raws: Vec<JsonRow> = serde_json::from_str(text).map_err(|e| Error(e.to_string()))?;
    let mut rows: Vec<SimRow> = Vec::new();
    for (i, raw) in raws.into_iter().enumerate() {
        let name = raw.policy.name();
        let policy = Variant::parse(name)
            .ok_or_else(|| Error(format!("row {i}: policy `{name}` is not a variant")))?;
        // Several rows per policy (`vigil-sim --scale`) leave no single figure to compare.
        if rows.iter().any(|r| r.policy == policy) {
            return Err(Error(format!(
                "row {i}: a second row of policy `{name}` (was the simulator run with --scale?)"
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

    /// A row of `policy` as `vigil-sim --json` writes it.
    fn row(policy: &str, p99_ns: u64, cpu_busy: f64) -> String {
        format!(
            "{{\"lanes\": 1, \"stages\": 3, \"cpus\": 3, \"policy\": \"{policy}\", \
             \"p50_ns\": 1, \"p99_ns\": {p99_ns}, \"p999_ns\": 3, \"hist_p50_ns\": 1, \
             \"hist_p99_ns\": 3, \"hist_p999_ns\": 3, \"cpu_busy\": {cpu_busy}, \
             \"wakeups_per_1k\": 4.0, \"wakeups\": 8, \"reschedules\": 5, \
             \"reschedules_by_reason\": {{\"head_ahead\": 0, \"upstream_backlog\": 0, \
             \"window\": 2, \"head_active\": 3}}, \"completions\": 6, \"delivered\": 2000, \
             \"duration_ns\": 9}}"
        )
    }

    #[test]
    fn reads_rows_and_computes_ratios() {
        let text = format!(
            "[\n  {},\n  {}\n]\n",
            row("poll", 2, 0.5),
            row("adaptive", 1, 0.125)
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
            sim.row(Variant::Poll).map(|r| r.raw.reschedules_by_reason),
            Some([0, 0, 2, 3])
        );
    }

    #[test]
    fn rejects_incomplete_or_repeated_rows() {
        let missing = parse("b", "[{\"policy\": \"poll\", \"p50_ns\": 1}]").unwrap_err();
        assert!(missing.0.contains("missing field"), "{missing}");
        let twice = format!("[{}, {}]", row("poll", 1, 0.5), row("poll", 1, 0.5));
        assert!(parse("b", &twice)
            .unwrap_err()
            .0
            .contains("row 1: a second row"));
        assert!(parse("b", "{}")
            .unwrap_err()
            .0
            .contains("expected a sequence"));
        assert!(parse("b", &format!("[{}]", row("plain", 1, 0.5)))
            .unwrap_err()
            .0
            .contains("unknown policy `plain`"));
        assert!(parse("b", "[1,").unwrap_err().0.contains("line 1"));
    }
}
