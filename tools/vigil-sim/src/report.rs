// SPDX-License-Identifier: GPL-2.0

//! Printing results: an aligned table, or JSON ([`JsonRow`]s, which `vigil-bench` reads).

use std::fmt::Write;

use serde::{Deserialize, Serialize};
use vigil_core::policy::{Policy, Reason};

use crate::config::Config;
use crate::layout;
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

/// One element of `vigil-sim --json`: a [`Row`] under the names `vigil-bench` reads back
/// (it deserializes this type), with the histogram's percentiles as the `vigil` CLI reports
/// the module's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonRow {
    /// Lanes.
    pub lanes: usize,
    /// Stages.
    pub stages: usize,
    /// CPUs.
    pub cpus: usize,
    /// The policy, by its name.
    #[serde(with = "policy_name")]
    pub policy: Policy,
    /// Exact latency percentiles, ns.
    pub p50_ns: u64,
    /// See `p50_ns`.
    pub p99_ns: u64,
    /// See `p50_ns`.
    pub p999_ns: u64,
    /// The same from the module's histogram: upper bounds of buckets.
    pub hist_p50_ns: u64,
    /// See `hist_p50_ns`.
    pub hist_p99_ns: u64,
    /// See `hist_p50_ns`.
    pub hist_p999_ns: u64,
    /// [`Summary::cpu_busy`], to 6 decimals.
    pub cpu_busy: f64,
    /// [`Summary::wakeups_per_1k`], to 3 decimals.
    pub wakeups_per_1k: f64,
    /// Wake-ups.
    pub wakeups: u64,
    /// Reschedules, all reasons.
    pub reschedules: u64,
    /// Reschedules by reason, an object keyed by [`Reason::name`].
    #[serde(with = "by_reason")]
    pub reschedules_by_reason: [u64; Reason::ALL.len()],
    /// Completions.
    pub completions: u64,
    /// Packets delivered.
    pub delivered: u64,
    /// First arrival to last delivery, ns.
    pub duration_ns: u64,
}

/// `x` to `decimals` places, so that the file carries no float noise.
fn round(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (x * scale).round() / scale
}

impl JsonRow {
    /// The JSON of `row`.
    pub fn new(row: &Row) -> JsonRow {
        let s = &row.summary;
        JsonRow {
            lanes: row.lanes,
            stages: row.stages,
            cpus: row.cpus,
            policy: s.policy,
            p50_ns: s.p50,
            p99_ns: s.p99,
            p999_ns: s.p999,
            hist_p50_ns: s.histogram_quantile(500),
            hist_p99_ns: s.histogram_quantile(990),
            hist_p999_ns: s.histogram_quantile(999),
            cpu_busy: round(s.cpu_busy, 6),
            wakeups_per_1k: round(s.wakeups_per_1k, 3),
            wakeups: s.wakeups,
            reschedules: s.reschedules,
            reschedules_by_reason: s.reschedules_by_reason,
            completions: s.completions,
            delivered: s.delivered,
            duration_ns: s.duration_ns,
        }
    }
}

/// The rows as a JSON array of objects, one per line.
pub fn json(rows: &[Row]) -> serde_json::Result<String> {
    let rows: Vec<JsonRow> = rows.iter().map(JsonRow::new).collect();
    layout::to_string(&rows)
}

/// A [`Policy`] as its name.
mod policy_name {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};
    use vigil_core::policy::Policy;

    pub fn serialize<S: Serializer>(policy: &Policy, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(policy.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Policy, D::Error> {
        let name = String::deserialize(d)?;
        Policy::from_name(name.as_bytes())
            .ok_or_else(|| D::Error::custom(format!("unknown policy `{name}`")))
    }
}

/// Counts by [`Reason`] as an object keyed by the reasons' names, every reason once.
mod by_reason {
    use serde::{de::Error, ser::SerializeMap, Deserialize, Deserializer, Serializer};
    use std::collections::BTreeMap;
    use vigil_core::policy::Reason;

    type Counts = [u64; Reason::ALL.len()];

    pub fn serialize<S: Serializer>(counts: &Counts, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(counts.len()))?;
        for r in Reason::ALL {
            map.serialize_entry(r.name(), &counts[r.index()])?;
        }
        map.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Counts, D::Error> {
        let mut named = BTreeMap::<String, u64>::deserialize(d)?;
        let mut counts = [0; Reason::ALL.len()];
        for r in Reason::ALL {
            counts[r.index()] = named
                .remove(r.name())
                .ok_or_else(|| D::Error::custom(format!("no reason `{}`", r.name())))?;
        }
        match named.into_keys().next() {
            Some(other) => Err(D::Error::custom(format!("unknown reason `{other}`"))),
            None => Ok(counts),
        }
    }
}
