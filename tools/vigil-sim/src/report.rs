// SPDX-License-Identifier: GPL-2.0

//! Printing results: an aligned table, or JSON.

use std::fmt::Write;

use vigil_core::policy::Reason;

use crate::config::Config;
use crate::summary::Summary;

/// One line of a report: a run's figures and the pipeline it ran on.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Lanes.
    pub lanes: usize,
    /// Stages.
    pub stages: usize,
    /// CPUs.
    pub cpus: usize,
    /// The figures.
    pub summary: Summary,
}

impl Row {
    /// The row of `summary`, a run on `config`.
    pub fn new(config: &Config, summary: Summary) -> Row {
        Row {
            lanes: config.lanes,
            stages: config.stages,
            cpus: config.cpus,
            summary,
        }
    }
}

/// The rows as a table, one line per run; `topology` adds the lanes, stages and CPUs columns.
pub fn table(rows: &[Row], topology: bool) -> String {
    let mut out = String::new();
    if topology {
        out.push_str("lanes stages cpus ");
    }
    out.push_str(
        "policy         p50_ns     p99_ns    p999_ns cpu_busy wakeups_per_1k reschedules \
         completions delivered\n",
    );
    for row in rows {
        let s = &row.summary;
        if topology {
            let _ = write!(out, "{:>5} {:>6} {:>4} ", row.lanes, row.stages, row.cpus);
        }
        let _ = writeln!(
            out,
            "{:<8} {:>10} {:>10} {:>10} {:>8.3} {:>14.1} {:>11} {:>11} {:>9}",
            s.policy.name(),
            s.p50,
            s.p99,
            s.p999,
            s.cpu_busy,
            s.wakeups_per_1k,
            s.reschedules,
            s.completions,
            s.delivered,
        );
    }
    out
}

/// The rows as a JSON array of objects.
pub fn json(rows: &[Row]) -> String {
    let objects: Vec<String> = rows.iter().map(object).collect();
    format!("[\n{}\n]\n", objects.join(",\n"))
}

fn object(row: &Row) -> String {
    let s = &row.summary;
    let by_reason: Vec<String> = Reason::ALL
        .iter()
        .map(|r| format!("\"{}\": {}", r.name(), s.reschedules_by_reason[r.index()]))
        .collect();
    format!(
        "  {{\"lanes\": {}, \"stages\": {}, \"cpus\": {}, \"policy\": \"{}\", \
         \"p50_ns\": {}, \"p99_ns\": {}, \"p999_ns\": {}, \
         \"hist_p50_ns\": {}, \"hist_p99_ns\": {}, \"hist_p999_ns\": {}, \
         \"cpu_busy\": {:.6}, \"wakeups_per_1k\": {:.3}, \"wakeups\": {}, \
         \"reschedules\": {}, \"reschedules_by_reason\": {{{}}}, \"completions\": {}, \
         \"delivered\": {}, \"duration_ns\": {}}}",
        row.lanes,
        row.stages,
        row.cpus,
        s.policy.name(),
        s.p50,
        s.p99,
        s.p999,
        s.histogram_quantile(500),
        s.histogram_quantile(990),
        s.histogram_quantile(999),
        s.cpu_busy,
        s.wakeups_per_1k,
        s.wakeups,
        s.reschedules,
        by_reason.join(", "),
        s.completions,
        s.delivered,
        s.duration_ns,
    )
}
