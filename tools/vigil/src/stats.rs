// SPDX-License-Identifier: GPL-2.0

//! `vigil stats [--json | --totals] [--watch SECS [--count N]]`: the accounting, the per-stage per-CPU
//! table, and latency percentiles computed from the module's log-linear histograms. The accounting
//! comes from sysfs, the table and the histograms from the generic netlink family.

use serde::Serialize;
use serde_json::Value;

use crate::genl::Genl;
use crate::json;
use crate::sysfs::Sysfs;
use std::time::Duration;
use vigil_core::abi::Scope;
use vigil_core::histogram::{bucket_high, quantile_bucket};
use vigil_core::pipelines::Name;

/// The columns of the stage table: the attributes of the family's `stage-stats-get`, in order.
pub const STAGE_COLUMNS: [&str; 13] = [
    "stage",
    "cpu",
    "packets",
    "polls",
    "empty_polls",
    "empty_poll_ns",
    "resched_head_ahead",
    "resched_upstream_backlog",
    "resched_window",
    "resched_head_active",
    "completions",
    "wakeups_sent",
    "wakeups_received",
];

/// One row of the stage table.
pub type StageRow = [u64; STAGE_COLUMNS.len()];

/// Where `polls` is in a [`StageRow`].
pub const POLLS: usize = 3;
/// Where `wakeups_received` is in a [`StageRow`].
pub const WAKEUPS_RECEIVED: usize = 12;

/// The text table's short header and width for each of [`STAGE_COLUMNS`], in order, so that a
/// new column cannot shift the others.
const STAGE_TEXT: [(&str, usize); STAGE_COLUMNS.len()] = [
    ("stage", 5),
    ("cpu", 3),
    ("packets", 10),
    ("polls", 10),
    ("empty", 10),
    ("empty_ns", 12),
    ("head", 10),
    ("backlog", 10),
    ("window", 10),
    ("active", 10),
    ("completions", 11),
    ("wake_tx", 9),
    ("wake_rx", 9),
];

/// Everything `stats` shows, read at one time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// entered, delivered, dropped, in_flight.
    pub totals: [u64; 4],
    /// `(reason, count)`.
    pub drops: Vec<(String, u64)>,
    /// Rows of the stage table.
    pub stages: Vec<StageRow>,
    /// Per stage: the histogram counts.
    pub latency: Vec<(u64, Vec<u64>)>,
}

const TOTALS: [&str; 4] = ["entered", "delivered", "dropped", "in_flight"];

/// Reads a snapshot.
pub fn read(sysfs: &Sysfs, pipeline: &Name) -> Result<Snapshot, String> {
    sysfs.check_loaded()?;
    let stats =
        |name: &str| crate::sysfs::file(pipeline, Scope::Pipeline, &format!("stats/{name}"));
    let mut totals = [0u64; 4];
    for (t, name) in totals.iter_mut().zip(TOTALS) {
        *t = sysfs.read_u64(&stats(name))?;
    }
    let drops = sysfs.read_u64_dir(&stats("drops"))?;
    let mut genl = Genl::connect()?;
    Ok(Snapshot {
        totals,
        drops,
        stages: genl.stage_rows(pipeline.as_str())?,
        latency: genl.latency(pipeline.as_str())?,
    })
}

/// The upper bound of the bucket holding each quantile (permille), in nanoseconds: above the
/// exact one by less than 1/32 of it (`vigil_core::histogram`).
pub fn percentiles(counts: &[u64], permilles: &[u32]) -> Vec<Option<u64>> {
    permilles
        .iter()
        .map(|&p| quantile_bucket(counts, p).map(bucket_high))
        .collect()
}

const PERMILLES: [u32; 3] = [500, 990, 999];

fn fmt_ns(v: Option<u64>) -> String {
    match v {
        None => "-".into(),
        Some(u64::MAX) => "inf".into(),
        // Four digits at least, as the buckets are about 3% wide.
        Some(ns) if ns >= 10_000_000 => format!("{:.1}ms", ns as f64 / 1e6),
        Some(ns) if ns >= 10_000 => format!("{:.1}us", ns as f64 / 1e3),
        Some(ns) => format!("{ns}ns"),
    }
}

/// The human-readable report.
pub fn render(s: &Snapshot) -> String {
    let mut out = String::new();
    out += &format!(
        "pipeline  entered {}  delivered {}  dropped {}  in_flight {}\n",
        s.totals[0], s.totals[1], s.totals[2], s.totals[3]
    );
    out += "drops    ";
    for (k, v) in &s.drops {
        out += &format!(" {k} {v}");
    }
    out += "\n\n";
    let header: Vec<String> = STAGE_TEXT
        .iter()
        .map(|(name, w)| format!("{name:>w$}"))
        .collect();
    out += &header.join(" ");
    out += "\n";
    for r in &s.stages {
        let cells: Vec<String> = STAGE_TEXT
            .iter()
            .zip(r)
            .map(|((_, w), v)| format!("{v:>w$}"))
            .collect();
        out += &cells.join(" ");
        out += "\n";
    }
    out += "\nlatency from pipeline entry to stage exit (bucket upper bounds, within 3.2%)\n";
    out += &format!(
        "{:>5} {:>10} {:>8} {:>8} {:>8}\n",
        "stage", "packets", "p50", "p99", "p999"
    );
    for (stage, counts) in &s.latency {
        let p = percentiles(counts, &PERMILLES);
        out += &format!(
            "{:>5} {:>10} {:>8} {:>8} {:>8}\n",
            stage,
            counts.iter().sum::<u64>(),
            fmt_ns(p[0]),
            fmt_ns(p[1]),
            fmt_ns(p[2])
        );
    }
    out
}

/// One stage's latency in the `--json` report.
#[derive(Debug, Serialize)]
struct LatencyJson<'a> {
    stage: u64,
    packets: u64,
    p50_ns: Option<u64>,
    p99_ns: Option<u64>,
    p999_ns: Option<u64>,
    buckets: &'a [u64],
}

/// The `--json` report of a [`Snapshot`].
#[derive(Debug, Serialize)]
pub struct SnapshotJson<'a> {
    totals: Value,
    drops: Value,
    stages: Vec<Value>,
    latency: Vec<LatencyJson<'a>>,
}

/// The `--json` report.
pub fn to_json(s: &Snapshot) -> SnapshotJson<'_> {
    SnapshotJson {
        totals: json::object(TOTALS.into_iter().zip(s.totals)),
        drops: json::object(s.drops.iter().map(|(k, v)| (k, *v))),
        stages: s
            .stages
            .iter()
            .map(|r| json::object(STAGE_COLUMNS.into_iter().zip(*r)))
            .collect(),
        latency: s
            .latency
            .iter()
            .map(|(stage, counts)| {
                let p = percentiles(counts, &PERMILLES);
                LatencyJson {
                    stage: *stage,
                    packets: counts.iter().sum(),
                    p50_ns: p[0],
                    p99_ns: p[1],
                    p999_ns: p[2],
                    buckets: counts,
                }
            })
            .collect(),
    }
}

/// The `--totals` line: `KEY=VALUE` pairs separated by spaces, for scripts that read it with
/// shell builtins (the benchmark's guest loop): the accounting, every stage-table column
/// summed over stages and CPUs (`stage` and `cpu` left out), `reschedules` (the four reasons
/// summed), and the last stage's latency percentiles as `hist_p50_ns`, `hist_p99_ns` and
/// `hist_p999_ns` (`-` without packets).
pub fn totals_line(s: &Snapshot) -> String {
    let mut pairs: Vec<(String, String)> = TOTALS
        .into_iter()
        .zip(s.totals)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let sum = |col: usize| s.stages.iter().map(|r| r[col]).sum::<u64>();
    for (col, name) in STAGE_COLUMNS.iter().enumerate().skip(2) {
        pairs.push((name.to_string(), sum(col).to_string()));
    }
    let reschedules: u64 = STAGE_COLUMNS
        .iter()
        .enumerate()
        .filter(|(_, n)| n.starts_with("resched_"))
        .map(|(col, _)| sum(col))
        .sum();
    pairs.push(("reschedules".to_string(), reschedules.to_string()));
    let last = s.latency.iter().max_by_key(|(stage, _)| *stage);
    let p = last.map_or_else(
        || vec![None; PERMILLES.len()],
        |(_, c)| percentiles(c, &PERMILLES),
    );
    for (name, v) in ["hist_p50_ns", "hist_p99_ns", "hist_p999_ns"]
        .into_iter()
        .zip(p)
    {
        pairs.push((
            name.to_string(),
            v.map_or("-".to_string(), |v| v.to_string()),
        ));
    }
    let line: Vec<String> = pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    line.join(" ")
}

/// A line of `--watch --json`: [`rates`] by name.
#[derive(Debug, Serialize)]
struct RatesJson {
    delivered_per_s: f64,
    dropped_per_s: f64,
    wakeups_per_s: f64,
    polls_per_s: f64,
}

/// Rates between two snapshots `secs` apart: delivered, dropped, wake-ups received and
/// polls per second.
pub fn rates(a: &Snapshot, b: &Snapshot, secs: f64) -> [f64; 4] {
    let sum = |s: &Snapshot, col: usize| s.stages.iter().map(|r| r[col]).sum::<u64>();
    let d = |x: u64, y: u64| y.saturating_sub(x) as f64 / secs;
    [
        d(a.totals[1], b.totals[1]),
        d(a.totals[2], b.totals[2]),
        d(sum(a, WAKEUPS_RECEIVED), sum(b, WAKEUPS_RECEIVED)),
        d(sum(a, POLLS), sum(b, POLLS)),
    ]
}

/// Options of `stats`.
#[derive(Debug, PartialEq, clap::Args)]
pub struct Options {
    /// Print JSON: one object, or one line of rates per interval with --watch.
    #[arg(long)]
    json: bool,
    /// Print one line of KEY=VALUE pairs: the accounting, the stage table's columns summed
    /// over stages and CPUs, and the last stage's latency percentiles.
    #[arg(long, conflicts_with_all = ["json", "watch"])]
    totals: bool,
    /// Print rates (delivered, dropped, wake-ups and polls per second) every SECS seconds
    /// (0.1 to 3600).
    #[arg(long, value_name = "SECS", value_parser = watch_interval)]
    watch: Option<Duration>,
    /// Stop after N intervals (default: never).
    #[arg(long, value_name = "N", requires = "watch")]
    count: Option<u64>,
    #[command(flatten)]
    target: crate::cli::Target,
}

/// `--watch`'s seconds.
fn watch_interval(text: &str) -> Result<Duration, String> {
    let secs: f64 = text.parse().map_err(|e| format!("{e}"))?;
    if !(0.1..=3600.0).contains(&secs) {
        return Err("not in 0.1..=3600".into());
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Prints one report, or rates every `--watch` seconds (`--count` times, or for ever).
pub fn run(sysfs: &Sysfs, o: &Options) -> Result<(), String> {
    let Some(every) = o.watch else {
        let s = read(sysfs, &o.target.name())?;
        if o.totals {
            println!("{}", totals_line(&s));
        } else if o.json {
            println!("{}", json::line(&to_json(&s))?);
        } else {
            print!("{}", render(&s));
        }
        return Ok(());
    };
    let mut prev = read(sysfs, &o.target.name())?;
    let mut n = 0;
    if !o.json {
        println!(
            "{:>12} {:>12} {:>12} {:>12}",
            "delivered/s", "dropped/s", "wakeups/s", "polls/s"
        );
    }
    while o.count.is_none_or(|c| n < c) {
        std::thread::sleep(every);
        let cur = read(sysfs, &o.target.name())?;
        let r = rates(&prev, &cur, every.as_secs_f64());
        if o.json {
            let [delivered_per_s, dropped_per_s, wakeups_per_s, polls_per_s] = r;
            let line = RatesJson {
                delivered_per_s,
                dropped_per_s,
                wakeups_per_s,
                polls_per_s,
            };
            println!("{}", json::line(&line)?);
        } else {
            println!(
                "{:>12.0} {:>12.0} {:>12.0} {:>12.0}",
                r[0], r[1], r[2], r[3]
            );
        }
        prev = cur;
        n += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use vigil_core::histogram::{bucket, BUCKETS};

    /// Two rows of the stage table.
    const ROWS: [StageRow; 2] = [
        [0, 0, 100, 10, 2, 500, 3, 0, 0, 41, 7, 4, 4],
        [2, 1, 100, 12, 1, 90, 0, 0, 5, 0, 6, 0, 0],
    ];

    #[test]
    fn column_indices_name_their_columns() {
        assert_eq!(STAGE_COLUMNS[POLLS], "polls");
        assert_eq!(STAGE_COLUMNS[WAKEUPS_RECEIVED], "wakeups_received");
    }

    #[test]
    fn percentiles_come_from_bucket_bounds() {
        let mut counts = vec![0u64; BUCKETS];
        counts[bucket(1000)] = 98; // [992, 1007]
        counts[bucket(20_000)] = 2; // [19968, 20479]
        assert_eq!(
            percentiles(&counts, &[500, 980, 990]),
            [Some(1007), Some(1007), Some(20479)]
        );
        assert_eq!(percentiles(&vec![0; BUCKETS], &[500]), [None]);
    }

    #[test]
    fn rates_are_deltas_per_second() {
        let a = Snapshot {
            totals: [10, 10, 0, 0],
            stages: ROWS.to_vec(),
            ..Default::default()
        };
        let mut b = a.clone();
        b.totals = [30, 30, 4, 0];
        b.stages[0][WAKEUPS_RECEIVED] += 8;
        b.stages[1][POLLS] += 6;
        // Other counters move too, and must not count as wake-ups or polls.
        let col = |name| STAGE_COLUMNS.iter().position(|&c| c == name).unwrap();
        b.stages[0][col("wakeups_sent")] += 1000;
        b.stages[1][col("resched_head_active")] += 1000;
        b.stages[1][col("completions")] += 1000;
        assert_eq!(rates(&a, &b, 2.0), [10.0, 2.0, 4.0, 3.0]);
    }

    #[test]
    fn renders_and_serialises_a_snapshot() {
        let s = Snapshot {
            totals: [5, 4, 1, 0],
            drops: vec![("rule".into(), 1)],
            stages: ROWS.to_vec(),
            latency: vec![(0, {
                let mut c = vec![0; BUCKETS];
                c[3] = 5;
                c[bucket(150_000)] = 5;
                c
            })],
        };
        let text = render(&s);
        assert!(
            text.contains("entered 5  delivered 4  dropped 1  in_flight 0"),
            "{text}"
        );
        assert!(text.contains(" rule 1"));
        assert!(
            text.contains(
                "stage cpu    packets      polls      empty     empty_ns       head    backlog     \
                 window     active completions   wake_tx   wake_rx\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(concat!(
                "    0   0        100         10          2          500          3",
                "          0          0         41           7         4         4\n"
            )),
            "{text}"
        );
        let json = json::line(&to_json(&s)).unwrap();
        assert!(
            json.starts_with(r#"{"totals":{"entered":5,"delivered":4,"dropped":1,"in_flight":0}"#)
        );
        // Values below 64 ns have a bucket each.
        assert!(json.contains(r#""p50_ns":3,"p99_ns":151551"#), "{json}");
        assert!(
            text.contains("    0         10      3ns  151.6us  151.6us\n"),
            "{text}"
        );
        assert!(
            json.contains(r#""resched_window":0,"resched_head_active":41,"completions":7"#),
            "{json}"
        );
        let totals = totals_line(&s);
        let sum = |name| {
            let col = STAGE_COLUMNS.iter().position(|&c| c == name).unwrap();
            ROWS.iter().map(|r| r[col]).sum::<u64>()
        };
        for name in ["packets", "polls", "completions", "wakeups_sent"] {
            assert!(
                totals.contains(&format!(" {name}={} ", sum(name))),
                "{totals}"
            );
        }
        let reschedules = sum("resched_head_ahead")
            + sum("resched_upstream_backlog")
            + sum("resched_window")
            + sum("resched_head_active");
        assert!(
            totals.starts_with("entered=5 delivered=4 dropped=1 in_flight=0 "),
            "{totals}"
        );
        assert!(
            totals.contains(&format!(" reschedules={reschedules} ")),
            "{totals}"
        );
        assert!(
            !totals.contains("stage=") && !totals.contains(" cpu="),
            "{totals}"
        );
        assert!(
            totals.ends_with(" hist_p50_ns=3 hist_p99_ns=151551 hist_p999_ns=151551"),
            "{totals}"
        );
        let empty = totals_line(&Snapshot::default());
        assert!(
            empty.ends_with(" hist_p50_ns=- hist_p99_ns=- hist_p999_ns=-"),
            "{empty}"
        );
    }
}
