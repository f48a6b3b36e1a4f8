// SPDX-License-Identifier: GPL-2.0

//! `results.json`: everything, for tools: meta, runs (every key, including passed-through and
//! derived ones, and `measurable`/`not_measurable`), cells (median and min–max of each figure
//! over the repeated runs), ratios (median, range), targets (their class, `short`, `long` or
//! `knee`, with the figures that set it, the long-gap p99 target's idle exit estimate, and
//! `status` "not measurable" when a side's runs were oversubscribed or contended) and the
//! simulator's results.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;
use vigil_sim::report::JsonRow;

use crate::cells::{self, Cell, Spread};
use crate::format;
use crate::host::CONTENDED_WAIT_FRACTION;
use crate::ratios::{self, Ratio};
use crate::record::{self, Run};
use crate::report::Report;
use crate::sim::Sim;
use crate::targets::{Class, Exit, Outcome, Target, EXIT_ESTIMATE, EXIT_FACTOR};
use crate::Error;

/// The JSON text of `report`, a record (run, cell, ratio...) per line.
pub fn render(report: &Report) -> Result<String, Error> {
    let results = Results {
        meta: Ordered(
            report
                .meta
                .entries
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect(),
        ),
        runs: report.runs.iter().map(run).collect(),
        contended_wait_fraction: number(Some(CONTENDED_WAIT_FRACTION)),
        cells: report.cells.iter().map(cell).collect(),
        ratios: report.ratios.iter().map(ratio).collect(),
        targets: report.targets.iter().map(target).collect(),
        simulator: report.sims.iter().map(|s| simulator(report, s)).collect(),
    };
    vigil_sim::layout::to_string(&results).map_err(|e| Error(format!("results.json: {e}")))
}

/// An object whose members are data (meta keys, a run's keys), in order.
#[derive(Debug)]
struct Ordered<K, V>(Vec<(K, V)>);

impl<K: Serialize, V: Serialize> Serialize for Ordered<K, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// `results.json`.
#[derive(Debug, serde::Serialize)]
struct Results<'a> {
    meta: Ordered<&'a str, &'a str>,
    runs: Vec<Ordered<&'a str, Value>>,
    contended_wait_fraction: Value,
    cells: Vec<CellJson<'a>>,
    ratios: Vec<RatioJson<'a>>,
    targets: Vec<TargetJson<'a>>,
    simulator: Vec<SimJson<'a>>,
}

/// `n` as JSON: a whole number without a fraction (`2000`, as `runs.txt` has it), `null` when
/// unknown.
fn number(n: Option<f64>) -> Value {
    match n {
        Some(n) if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 => Value::from(n as i64),
        Some(n) => Value::from(n),
        None => Value::Null,
    }
}

/// Derived values are rounded so they do not carry float noise into a committed file.
fn derived(v: Option<f64>) -> Value {
    number(v.map(format::round6))
}

fn run(run: &Run) -> Ordered<&str, Value> {
    let mut members = Vec::new();
    for key in record::columns() {
        let value = match key {
            "profile" => Value::from(run.profile.as_str()),
            "kind" => Value::from(run.kind.name()),
            "variant" => Value::from(run.variant.name()),
            record::WAKEUPS_PER_1K => derived(run.wakeups_per_1k()),
            key => number(run.number(key)),
        };
        members.push((key, value));
    }
    members.push(("profile_desc", Value::from(run.profile_desc.as_deref())));
    let why = cells::not_measurable(run);
    members.push(("measurable", Value::from(why.is_none())));
    members.push(("not_measurable", Value::from(why)));
    for (key, value) in run
        .passthrough()
        .filter(|(k, _)| k != cells::NOT_MEASURABLE)
    {
        let value = match value {
            record::Value::Null => Value::Null,
            record::Value::Number(n) => number(Some(*n)),
            record::Value::Text(t) => Value::from(t.as_str()),
        };
        members.push((key.as_str(), value));
    }
    Ordered(members)
}

/// A cell: its runs' figures, each as its median and range.
#[derive(Debug, serde::Serialize)]
struct CellJson<'a> {
    profile: &'a str,
    kind: &'a str,
    variant: &'a str,
    runs: usize,
    measurable: bool,
    not_measurable: Option<&'a str>,
    figures: Ordered<&'static str, SpreadJson>,
}

#[derive(Debug, serde::Serialize)]
struct SpreadJson {
    median: Value,
    min: Value,
    max: Value,
    n: usize,
}

impl From<Spread> for SpreadJson {
    fn from(s: Spread) -> SpreadJson {
        SpreadJson {
            median: derived(Some(s.median)),
            min: derived(Some(s.min)),
            max: derived(Some(s.max)),
            n: s.n,
        }
    }
}

fn cell(c: &Cell) -> CellJson<'_> {
    let mut figures = Vec::new();
    for key in record::NUMERIC_KEYS.iter().copied().filter(|k| *k != "rep") {
        let spread = if key == "wakeups" {
            c.spread(ratios::Metric::WakeupsPer1k)
                .map(|s| (record::WAKEUPS_PER_1K, s))
        } else {
            None
        };
        for (k, s) in c.spread_of(key).map(|s| (key, s)).into_iter().chain(spread) {
            figures.push((k, SpreadJson::from(s)));
        }
    }
    CellJson {
        profile: c.profile(),
        kind: c.kind().name(),
        variant: c.variant().name(),
        runs: c.runs.len(),
        measurable: c.not_measurable.is_none(),
        not_measurable: c.not_measurable.as_deref(),
        figures: Ordered(figures),
    }
}

fn range(r: Option<(f64, f64)>) -> Option<[Value; 2]> {
    r.map(|(lo, hi)| [derived(Some(lo)), derived(Some(hi))])
}

fn reason(value: &Result<f64, String>) -> Option<&str> {
    value.as_ref().err().map(String::as_str)
}

#[derive(Debug, serde::Serialize)]
struct RatioJson<'a> {
    profile: &'a str,
    kind: &'a str,
    name: String,
    numerator: &'a str,
    denominator: &'a str,
    metric: &'a str,
    value: Value,
    range: Option<[Value; 2]>,
    reason: Option<&'a str>,
    measurable: bool,
    not_measurable: Option<&'a str>,
}

fn ratio(r: &Ratio) -> RatioJson<'_> {
    RatioJson {
        profile: &r.profile,
        kind: r.kind.name(),
        name: r.name(),
        numerator: r.numerator.name(),
        denominator: r.denominator.name(),
        metric: r.metric.key(),
        value: derived(r.value.clone().ok()),
        range: range(r.range),
        reason: reason(&r.value),
        measurable: r.not_measurable.is_none(),
        not_measurable: r.not_measurable.as_deref(),
    }
}

#[derive(Debug, serde::Serialize)]
struct TargetJson<'a> {
    /// `null` for a throughput target without a knee.
    profile: Option<&'a str>,
    kind: &'a str,
    /// `short`, `long` or `knee`; `null` when unknown (`reason` says why).
    class: Option<&'static str>,
    /// The median `gap_ns` and `poll_window_ns` that set a latency class.
    gap_ns: Value,
    window_ns: Value,
    /// The plain stack's delivered rate at the knee.
    knee_plain_pps: Value,
    target: String,
    numerator: &'a str,
    denominator: &'a str,
    metric: &'a str,
    bound: Option<&'a str>,
    limit: Value,
    ratio: Value,
    range: Option<[Value; 2]>,
    /// The limit in the figure's own units at the medians.
    threshold: Value,
    status: &'a str,
    /// Positive inside the limit, negative outside, as a fraction of the limit.
    margin: Value,
    reason: Option<String>,
    /// The long-gap p99 target's idle exit.
    exit: Option<ExitJson<'a>>,
}

#[derive(Debug, serde::Serialize)]
struct ExitJson<'a> {
    estimate: &'static str,
    factor: Value,
    median_ns: Value,
    min_ns: Value,
    max_ns: Value,
    reason: Option<&'a str>,
}

fn exit(e: &Result<Exit, String>) -> ExitJson<'_> {
    let ok = e.as_ref().ok();
    ExitJson {
        estimate: EXIT_ESTIMATE,
        factor: number(Some(EXIT_FACTOR)),
        median_ns: derived(ok.map(|e| e.median)),
        min_ns: derived(ok.map(|e| e.min)),
        max_ns: derived(ok.map(|e| e.max)),
        reason: e.as_ref().err().map(String::as_str),
    }
}

fn target(t: &Target) -> TargetJson<'_> {
    let outcome = t.outcome();
    let margin = match outcome {
        Outcome::Met { margin } => Some(margin),
        Outcome::Missed { by } => Some(-by),
        Outcome::Unknown(_) | Outcome::NotMeasurable(_) => None,
    };
    let class = t.class.as_ref().ok();
    let (gap_ns, window_ns, plain_pps) = match class {
        Some(Class::Short { gap_ns, window_ns } | Class::Long { gap_ns, window_ns }) => {
            (Some(*gap_ns), Some(*window_ns), None)
        }
        Some(Class::Knee { plain_pps }) => (None, None, Some(*plain_pps)),
        None => (None, None, None),
    };
    TargetJson {
        profile: (!t.ratio.profile.is_empty()).then_some(t.ratio.profile.as_str()),
        kind: t.ratio.kind.name(),
        class: class.map(|c| c.name()),
        gap_ns: number(gap_ns),
        window_ns: number(window_ns),
        knee_plain_pps: derived(plain_pps),
        target: t.describe(),
        numerator: t.ratio.numerator.name(),
        denominator: t.ratio.denominator.name(),
        metric: t.ratio.metric.key(),
        bound: class.map(|_| t.bound.name()),
        limit: number(class.map(|_| t.limit)),
        ratio: derived(t.ratio.value.clone().ok()),
        range: range(t.ratio.range),
        threshold: derived(t.threshold),
        status: outcome.name(),
        margin: derived(margin),
        reason: match &outcome {
            Outcome::NotMeasurable(why) => Some(format!("not measurable: {why}")),
            Outcome::Unknown(why) => Some(why.clone()),
            _ => reason(&t.ratio.value).map(String::from),
        },
        exit: t.exit.as_ref().map(exit),
    }
}

/// A profile's simulator rows, as `vigil-sim` wrote them, and its ratios next to the VM's.
#[derive(Debug, serde::Serialize)]
struct SimJson<'a> {
    profile: &'a str,
    file: &'a str,
    rows: Vec<&'a JsonRow>,
    ratios: Vec<SimRatioJson>,
}

#[derive(Debug, serde::Serialize)]
struct SimRatioJson {
    name: String,
    vm: Value,
    sim: Value,
    vm_reason: Option<String>,
    vm_not_measurable: Option<String>,
    sim_reason: Option<String>,
}

fn simulator<'a>(report: &Report, sim: &'a Sim) -> SimJson<'a> {
    let kind = report.sim_kind(&sim.profile);
    let ratios = ratios::SIMULATED
        .iter()
        .map(|&(top, bottom, metric)| {
            let vm = ratios::between(&report.cells, &sim.profile, kind, top, bottom, metric);
            let simulated = sim.ratio(top, bottom, metric);
            SimRatioJson {
                name: ratios::name(top, bottom, metric),
                vm: derived(vm.value.clone().ok()),
                sim: derived(simulated.clone().ok()),
                vm_reason: vm.value.err(),
                vm_not_measurable: vm.not_measurable,
                sim_reason: simulated.err(),
            }
        })
        .collect();
    SimJson {
        profile: &sim.profile,
        file: &sim.file,
        rows: sim.rows.iter().map(|r| &r.raw).collect(),
        ratios,
    }
}
