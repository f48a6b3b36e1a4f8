// SPDX-License-Identifier: GPL-2.0

//! The allocator's trace: one row per interval (offered load, each stage's busy fraction and
//! CPUs, the latency of what was delivered, the changes and their reasons), as a table or CSV.

use std::fmt::Write;

use vigil_core::allocator::Change;

use crate::allocation::Interval;
use crate::model::Outcome;
use crate::summary::exact_quantile;

/// One row of the trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row<'a> {
    /// The interval.
    pub interval: &'a Interval,
    /// Packets delivered in it.
    pub delivered: u64,
    /// Their end-to-end latency's p99 (nearest rank), in ns; 0 if none.
    pub p99_ns: u64,
}

/// The rows of `outcome`'s intervals.
pub fn rows(outcome: &Outcome) -> Vec<Row<'_>> {
    // Deliveries are in delivery order: each interval's are a run of them.
    let mut deliveries = outcome.deliveries.iter().peekable();
    outcome
        .intervals
        .iter()
        .map(|interval| {
            let mut latencies = Vec::new();
            while let Some(d) = deliveries.next_if(|d| d.delivered_ns < interval.end_ns) {
                latencies.push(d.delivered_ns - d.arrival_ns);
            }
            latencies.sort_unstable();
            Row {
                interval,
                delivered: latencies.len() as u64,
                p99_ns: exact_quantile(&latencies, 990),
            }
        })
        .collect()
}

/// A change as the trace shows it: `stage1+1:above_high_water`, `stage2-1:below_low_water`,
/// `stage1=0:pool_empty`.
pub fn change_text(change: &Change) -> String {
    let delta = change.reason.delta();
    let sign = match delta {
        1.. => "+",
        0 => "=",
        _ => "",
    };
    format!(
        "stage{}{sign}{delta}:{}",
        change.stage,
        change.reason.name()
    )
}

fn changes_text(changes: &[Change]) -> String {
    let texts: Vec<String> = changes.iter().map(change_text).collect();
    texts.join(" ")
}

/// The names of the columns of `stages` stages, all but the last, `changes`.
fn header(stages: usize) -> Vec<String> {
    let mut columns = vec!["t_ms".to_string(), "offered_pps".to_string()];
    for k in 0..stages {
        columns.push(format!("stage{k}_busy_permille"));
        columns.push(format!("stage{k}_cpus"));
    }
    columns.extend(["delivered", "p99_ns"].map(String::from));
    columns
}

/// The values of `row`, in `header`'s order.
fn values(row: &Row) -> Vec<String> {
    let i = row.interval;
    let mut values = vec![
        (i.end_ns / 1_000_000).to_string(),
        i.offered_pps().to_string(),
    ];
    for (k, load) in i.loads.iter().enumerate() {
        values.push(i.busy_permille(k).to_string());
        values.push(load.cpus.to_string());
    }
    values.push(row.delivered.to_string());
    values.push(row.p99_ns.to_string());
    values
}

/// The trace as CSV, with a header line. `t_ms` is the interval's end, when the allocator
/// decided; the CPUs are those the stage held during the interval, before the changes.
pub fn csv(rows: &[Row], stages: usize) -> String {
    let mut out = header(stages).join(",");
    out.push_str(",changes\n");
    for row in rows {
        let _ = writeln!(
            out,
            "{},{}",
            values(row).join(","),
            changes_text(&row.interval.changes)
        );
    }
    out
}

/// The trace as an aligned table, for the terminal.
pub fn table(rows: &[Row], stages: usize) -> String {
    let names: Vec<String> = header(stages)
        .iter()
        .map(|n| n.replace("_permille", "").replace("stage", "s"))
        .collect();
    let widths: Vec<usize> = names.iter().map(|n| n.len().max(6)).collect();
    let mut out = String::new();
    let line = |out: &mut String, cells: &[String], last: &str| {
        for (cell, w) in cells.iter().zip(&widths) {
            let _ = write!(out, "{cell:>w$} ");
        }
        let _ = writeln!(out, "{last}");
    };
    line(&mut out, &names, "changes");
    for row in rows {
        line(&mut out, &values(row), &changes_text(&row.interval.changes));
    }
    out
}
