// SPDX-License-Identifier: GPL-2.0

//! `results.json`: everything, for tools: meta, runs (every key, including passed-through and
//! derived ones, and `measurable`/`not_measurable`), cells (median and min–max of each figure
//! over the repeated runs), ratios (median, range), targets (`status` "not measurable" when a
//! side's runs were oversubscribed or contended) and the simulator's results.

use crate::cells::{self, Cell};
use crate::format;
use crate::host::CONTENDED_WAIT_FRACTION;
use crate::json_value::Value;
use crate::ratios::{self, Ratio};
use crate::record::{self, Run};
use crate::report::Report;
use crate::sim::Sim;
use crate::targets::{Outcome, Target};

/// The JSON text of `report`.
pub fn render(report: &Report) -> String {
    let meta = report
        .meta
        .entries
        .iter()
        .map(|(k, v)| (k.clone(), Value::string(v.as_str())))
        .collect();
    let root = Value::Object(vec![
        ("meta".to_string(), Value::Object(meta)),
        (
            "runs".to_string(),
            Value::Array(report.runs.iter().map(run).collect()),
        ),
        (
            "contended_wait_fraction".to_string(),
            Value::Number(CONTENDED_WAIT_FRACTION),
        ),
        (
            "cells".to_string(),
            Value::Array(report.cells.iter().map(cell).collect()),
        ),
        (
            "ratios".to_string(),
            Value::Array(report.ratios.iter().map(ratio).collect()),
        ),
        (
            "targets".to_string(),
            Value::Array(report.targets.iter().map(target).collect()),
        ),
        (
            "simulator".to_string(),
            Value::Array(report.sims.iter().map(|s| simulator(report, s)).collect()),
        ),
    ]);
    let mut text = root.to_pretty();
    text.push('\n');
    text
}

fn member(key: &str, value: Value) -> (String, Value) {
    (key.to_string(), value)
}

/// Derived values are rounded so they do not carry float noise into a committed file.
fn derived(v: Option<f64>) -> Value {
    Value::number_or_null(v.map(format::round6))
}

fn run(run: &Run) -> Value {
    let mut members = Vec::new();
    for key in record::columns() {
        let value = match key {
            "profile" => Value::string(run.profile.as_str()),
            "kind" => Value::string(run.kind.name()),
            "variant" => Value::string(run.variant.name()),
            record::WAKEUPS_PER_1K => derived(run.wakeups_per_1k()),
            key => Value::number_or_null(run.number(key)),
        };
        members.push(member(key, value));
    }
    members.push(member(
        "profile_desc",
        run.profile_desc
            .as_deref()
            .map_or(Value::Null, Value::string),
    ));
    members.extend(measurability(cells::not_measurable(run)));
    for (key, value) in run
        .passthrough()
        .filter(|(k, _)| k != cells::NOT_MEASURABLE)
    {
        let value = match value {
            record::Value::Null => Value::Null,
            record::Value::Number(n) => Value::Number(*n),
            record::Value::Text(t) => Value::string(t.as_str()),
        };
        members.push(member(key, value));
    }
    Value::Object(members)
}

fn measurability(why: Option<&str>) -> [(String, Value); 2] {
    [
        member("measurable", Value::Bool(why.is_none())),
        member("not_measurable", why.map_or(Value::Null, Value::string)),
    ]
}

fn cell(c: &Cell) -> Value {
    let mut members = vec![
        member("profile", Value::string(c.profile())),
        member("kind", Value::string(c.kind().name())),
        member("variant", Value::string(c.variant().name())),
        member("runs", Value::Number(c.runs.len() as f64)),
    ];
    members.extend(measurability(c.not_measurable.as_deref()));
    let mut figures = Vec::new();
    for key in record::NUMERIC_KEYS.iter().copied().filter(|k| *k != "rep") {
        let spread = if key == "wakeups" {
            c.spread(ratios::Metric::WakeupsPer1k)
                .map(|s| (record::WAKEUPS_PER_1K, s))
        } else {
            None
        };
        for (k, s) in c.spread_of(key).map(|s| (key, s)).into_iter().chain(spread) {
            figures.push(member(
                k,
                Value::Object(vec![
                    member("median", derived(Some(s.median))),
                    member("min", derived(Some(s.min))),
                    member("max", derived(Some(s.max))),
                    member("n", Value::Number(s.n as f64)),
                ]),
            ));
        }
    }
    members.push(member("figures", Value::Object(figures)));
    Value::Object(members)
}

fn range(r: Option<(f64, f64)>) -> Value {
    r.map_or(Value::Null, |(lo, hi)| {
        Value::Array(vec![derived(Some(lo)), derived(Some(hi))])
    })
}

fn reason(value: &Result<f64, String>) -> Value {
    value
        .as_ref()
        .err()
        .map_or(Value::Null, |why| Value::string(why.as_str()))
}

fn ratio(r: &Ratio) -> Value {
    Value::Object(vec![
        member("profile", Value::string(r.profile.as_str())),
        member("kind", Value::string(r.kind.name())),
        member("name", Value::string(r.name())),
        member("numerator", Value::string(r.numerator.name())),
        member("denominator", Value::string(r.denominator.name())),
        member("metric", Value::string(r.metric.key())),
        member("value", derived(r.value.clone().ok())),
        member("range", range(r.range)),
        member("reason", reason(&r.value)),
        member("measurable", Value::Bool(r.not_measurable.is_none())),
        member(
            "not_measurable",
            r.not_measurable
                .as_deref()
                .map_or(Value::Null, Value::string),
        ),
    ])
}

fn target(t: &Target) -> Value {
    let outcome = t.outcome();
    // Positive inside the limit, negative outside, as a fraction of the limit.
    let margin = match outcome {
        Outcome::Met { margin } => Some(margin),
        Outcome::Missed { by } => Some(-by),
        Outcome::Unknown(_) | Outcome::NotMeasurable(_) => None,
    };
    Value::Object(vec![
        member("profile", Value::string(t.ratio.profile.as_str())),
        member("kind", Value::string(t.ratio.kind.name())),
        member("target", Value::string(t.describe())),
        member("numerator", Value::string(t.ratio.numerator.name())),
        member("denominator", Value::string(t.ratio.denominator.name())),
        member("metric", Value::string(t.ratio.metric.key())),
        member("bound", Value::string(t.bound.name())),
        member("limit", Value::Number(t.limit)),
        member("ratio", derived(t.ratio.value.clone().ok())),
        member("range", range(t.ratio.range)),
        member("status", Value::string(outcome.name())),
        member("margin", derived(margin)),
        member(
            "reason",
            match &outcome {
                Outcome::NotMeasurable(why) => Value::string(format!("not measurable: {why}")),
                _ => reason(&t.ratio.value),
            },
        ),
    ])
}

fn simulator(report: &Report, sim: &Sim) -> Value {
    let kind = report.sim_kind(&sim.profile);
    let compared = ratios::SIMULATED
        .iter()
        .map(|&(top, bottom, metric)| {
            let vm = ratios::between(&report.cells, &sim.profile, kind, top, bottom, metric);
            let vm_not_measurable = vm.not_measurable.clone();
            let vm = vm.value;
            let simulated = sim.ratio(top, bottom, metric);
            Value::Object(vec![
                member("name", Value::string(ratios::name(top, bottom, metric))),
                member("vm", derived(vm.clone().ok())),
                member("sim", derived(simulated.clone().ok())),
                member("vm_reason", reason(&vm)),
                member(
                    "vm_not_measurable",
                    vm_not_measurable.map_or(Value::Null, Value::string),
                ),
                member("sim_reason", reason(&simulated)),
            ])
        })
        .collect();
    Value::Object(vec![
        member("profile", Value::string(sim.profile.as_str())),
        member("file", Value::string(sim.file.as_str())),
        member(
            "rows",
            Value::Array(sim.rows.iter().map(|r| r.raw.clone()).collect()),
        ),
        member("ratios", Value::Array(compared)),
    ])
}
