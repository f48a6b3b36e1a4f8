// SPDX-License-Identifier: GPL-2.0

//! `results.md`: the report people read, with tables per profile, the targets, the
//! simulator's predictions next to the VM's measurements, and a link to the plot.

use crate::format::{self, fixed, micros, percent, UNKNOWN};
use crate::ratios::{self, Metric};
use crate::record::{self, Kind, Run, Variant};
use crate::report::{Report, SVG};
use crate::sim::Sim;

/// The Markdown text of `report`.
pub fn render(report: &Report) -> String {
    let mut out = String::from("# vigil benchmark results\n\n");
    for (key, value) in &report.meta.entries {
        out.push_str(&format!("- **{}**: {}\n", escape(key), escape(value)));
    }
    if !report.meta.entries.is_empty() {
        out.push('\n');
    }
    latency(report, &mut out);
    targets(report, &mut out);
    throughput(report, &mut out);
    simulator(report, &mut out);
    out.push_str(&format!(
        "## Plot\n\n![p99 latency against CPU busy]({SVG})\n"
    ));
    out
}

/// `s` with Markdown's special characters escaped, so free text shows as written.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A table; `align` has an `l` (words) or `r` (figures, so digits line up) per column, its
/// last letter repeated for the remaining columns.
fn table(out: &mut String, align: &str, header: &[&str], rows: &[Vec<String>]) {
    out.push_str(&format!("| {} |\n", header.join(" | ")));
    let last = align.chars().last().unwrap_or('l');
    let rule: Vec<&str> = (0..header.len())
        .map(|i| match align.chars().nth(i).unwrap_or(last) {
            'r' => "--:",
            _ => ":--",
        })
        .collect();
    out.push_str(&format!("| {} |\n", rule.join(" | ")));
    for row in rows {
        out.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    out.push('\n');
}

fn heading(report: &Report, out: &mut String, level: &str, profile: &str) {
    out.push_str(&format!("{level} {}\n\n", escape(profile)));
    if let Some(desc) = record::description(&report.runs, profile) {
        out.push_str(&format!("{}\n\n", escape(desc)));
    }
}

fn count(run: &Run, key: &str) -> String {
    fixed(run.number(key), 0)
}

fn latency(report: &Report, out: &mut String) {
    out.push_str("## Latency\n\n");
    let profiles = record::profiles(&report.runs, Kind::Latency);
    if profiles.is_empty() {
        out.push_str("No latency runs.\n\n");
    }
    for profile in profiles {
        heading(report, out, "###", profile);
        let rows: Vec<Vec<String>> = Variant::ALL
            .iter()
            .filter_map(|&v| record::find(&report.runs, profile, Kind::Latency, v))
            .map(|run| {
                vec![
                    run.variant.name().to_string(),
                    micros(run.number("app_p50_ns")),
                    micros(run.number("app_p99_ns")),
                    micros(run.number("app_p999_ns")),
                    micros(run.number("hist_p99_ns")),
                    percent(run.number("cpu_busy")),
                    fixed(run.wakeups_per_1k(), 1),
                    count(run, "reschedules"),
                    count(run, "completions"),
                    format!("{}/{}", count(run, "received"), count(run, "sent")),
                    count(run, "out_of_order"),
                ]
            })
            .collect();
        table(
            out,
            "lr",
            &[
                "variant",
                "p50 µs",
                "p99 µs",
                "p99.9 µs",
                "histogram p99 µs",
                "CPU busy",
                "wake-ups/1k packets",
                "reschedules",
                "completions",
                "received/sent",
                "out of order",
            ],
            &rows,
        );
        out.push_str("#### Ratios (same run)\n\n");
        let rows: Vec<Vec<String>> = report
            .ratios
            .iter()
            .filter(|r| r.profile == profile)
            .map(|r| vec![r.name(), format::ratio_or_reason(&r.value)])
            .collect();
        table(out, "lr", &["ratio", "value"], &rows);
    }
}

fn targets(report: &Report, out: &mut String) {
    out.push_str("## Targets\n\n");
    if report.targets.is_empty() {
        out.push_str("No targets apply to these runs.\n\n");
        return;
    }
    let rows: Vec<Vec<String>> = report
        .targets
        .iter()
        .map(|t| {
            let measured = t
                .ratio
                .value
                .as_ref()
                .map_or_else(|_| UNKNOWN.to_string(), |r| format::ratio(*r));
            vec![
                escape(&t.ratio.profile),
                t.describe(),
                measured,
                t.outcome().describe(),
            ]
        })
        .collect();
    table(
        out,
        "llrl",
        &["profile", "target", "measured", "result"],
        &rows,
    );
}

fn throughput(report: &Report, out: &mut String) {
    out.push_str("## Throughput\n\n");
    let profiles = record::profiles(&report.runs, Kind::Throughput);
    if profiles.is_empty() {
        out.push_str("No throughput runs.\n\n");
    }
    for profile in profiles {
        heading(report, out, "###", profile);
        let rows: Vec<Vec<String>> = Variant::ALL
            .iter()
            .filter_map(|&v| record::find(&report.runs, profile, Kind::Throughput, v))
            .map(|run| {
                let r = ratios::between(
                    &report.runs,
                    profile,
                    Kind::Throughput,
                    run.variant,
                    Variant::Plain,
                    Metric::Throughput,
                );
                vec![
                    run.variant.name().to_string(),
                    count(run, "throughput_pps"),
                    format::ratio_or_reason(&r.value),
                ]
            })
            .collect();
        table(
            out,
            "lr",
            &["variant", "packets/s", "ratio to plain"],
            &rows,
        );
    }
}

fn simulator(report: &Report, out: &mut String) {
    out.push_str("## Simulator vs VM\n\n");
    if report.sims.is_empty() {
        out.push_str("No simulator results (no `sim-<profile>.json` in the raw directory).\n\n");
    }
    for sim in &report.sims {
        sim_profile(report, sim, out);
    }
}

fn sim_profile(report: &Report, sim: &Sim, out: &mut String) {
    let kind = report.sim_kind(&sim.profile);
    out.push_str(&format!(
        "### {} (`{}`)\n\n",
        escape(&sim.profile),
        sim.file
    ));
    let rows: Vec<Vec<String>> = Variant::POLICIES
        .iter()
        .filter_map(|&v| {
            let vm = record::find(&report.runs, &sim.profile, kind, v);
            let simulated = sim.row(v);
            if vm.is_none() && simulated.is_none() {
                return None;
            }
            let vm_figure = |m: Metric| vm.and_then(|r| m.of(r));
            let sim_figure = |m: Metric| simulated.and_then(|r| r.metric(m));
            Some(vec![
                v.name().to_string(),
                micros(vm_figure(Metric::P99)),
                micros(sim_figure(Metric::P99)),
                percent(vm_figure(Metric::CpuBusy)),
                percent(sim_figure(Metric::CpuBusy)),
                fixed(vm_figure(Metric::WakeupsPer1k), 1),
                fixed(sim_figure(Metric::WakeupsPer1k), 1),
            ])
        })
        .collect();
    table(
        out,
        "lr",
        &[
            "policy",
            "p99 VM µs",
            "p99 sim µs",
            "CPU VM",
            "CPU sim",
            "wake-ups/1k VM",
            "wake-ups/1k sim",
        ],
        &rows,
    );
    let rows: Vec<Vec<String>> = ratios::SIMULATED
        .iter()
        .map(|&(top, bottom, metric)| {
            let vm = ratios::between(&report.runs, &sim.profile, kind, top, bottom, metric);
            vec![
                vm.name(),
                format::ratio_or_reason(&vm.value),
                format::ratio_or_reason(&sim.ratio(top, bottom, metric)),
            ]
        })
        .collect();
    table(out, "lr", &["ratio", "VM", "sim"], &rows);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markdown_syntax() {
        assert_eq!(escape("a_b|c*d"), "a\\_b\\|c\\*d");
        assert_eq!(escape("7.3.4 bench"), "7.3.4 bench");
    }
}
