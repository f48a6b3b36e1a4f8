// SPDX-License-Identifier: GPL-2.0

//! `results.md`: the report people read, with tables per profile, the targets, the
//! simulator's predictions next to the VM's measurements, and a link to the plot.

use crate::cells::{self, Cell, Spread};
use crate::format::{self, fixed, micros, percent, UNKNOWN};
use crate::host::CONTENDED_WAIT_FRACTION;
use crate::ratios::{self, Metric, Ratio};
use crate::record::{self, Kind, Run, Variant};
use crate::report::{Report, SVG};
use crate::sim::Sim;
use crate::targets;

/// The Markdown text of `report`.
pub fn render(report: &Report) -> String {
    let mut out = String::from("# vigil benchmark results\n\n");
    for (key, value) in &report.meta.entries {
        out.push_str(&format!("- **{}**: {}\n", escape(key), escape(value)));
    }
    if !report.meta.entries.is_empty() {
        out.push('\n');
    }
    measurability(report, &mut out);
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

/// How the figures were taken and which cannot be trusted.
fn measurability(report: &Report, out: &mut String) {
    let runs = report.cells.iter().map(|c| c.runs.len());
    let (lo, hi) = (runs.clone().min().unwrap_or(0), runs.max().unwrap_or(0));
    let reps = if lo == hi {
        lo.to_string()
    } else {
        format!("{lo}–{hi}")
    };
    let times = if hi == 1 { "time" } else { "times" };
    out.push_str(&format!(
        "Each cell (profile × variant) ran {reps} {times}, all runs in one shuffled order; figures \
         are the median with the min–max of the runs, and a target is met only when the whole \
         range of its ratio clears it. A run is **not measurable** when the VM had more vCPUs \
         than the host has cores (oversubscribed), when a vCPU thread waited on the host's run \
         queue for more than {:.0}% of the run (contended, from the host's \
         `/proc/<pid>/task/<tid>/schedstat`), or when the host did not sample it; a cell is not \
         measurable when any of its runs is not. A vCPU that shares its host core with QEMU's \
         emulation threads (`emulation_vcpus`, on a host with no spare core) counts only the \
         wait beyond the time those threads ran: under TCG they are the emulated machine's \
         timers and devices, the machine's own work rather than the host's.\n\n",
        CONTENDED_WAIT_FRACTION * 100.0
    ));
    // QEMU's own threads share the host's cores with the vCPUs: how much they used says how
    // much of the contention the emulation itself brings.
    let emulation = Spread::of(
        report
            .runs
            .iter()
            .filter_map(|r| r.number("host_emulation_frac")),
    );
    if let Some(e) = emulation {
        out.push_str(&format!(
            "QEMU's emulation threads (its main loop, which runs the emulated timers and \
             devices, and its I/O workers) used {} of a host core over the runs (median, \
             min–max).\n\n",
            spread(Some(e), percent)
        ));
    }
    // Runs the host disturbed were repeated by the guest (at most twice): say how many.
    let repeated = report
        .runs
        .iter()
        .filter(|r| r.number("attempts").is_some_and(|a| a > 1.0))
        .count();
    if repeated > 0 {
        out.push_str(&format!(
            "{repeated} of {} runs were repeated because the host disturbed their first attempt \
             (a contended run, told by the host at its end; `attempts` in `results.json`); the \
             figures are the last attempt's.\n\n",
            report.runs.len()
        ));
    }
    let bad: Vec<&Cell> = report
        .cells
        .iter()
        .filter(|c| c.not_measurable.is_some())
        .collect();
    if bad.is_empty() {
        out.push_str("Every cell is measurable.\n\n");
        return;
    }
    out.push_str(&format!(
        "**{} of {} cells are not measurable**; their figures and every ratio and target \
         that uses them say nothing about vigil:\n\n",
        bad.len(),
        report.cells.len()
    ));
    for c in bad {
        out.push_str(&format!(
            "- {} {} ({}): {}\n",
            escape(c.profile()),
            c.variant().name(),
            c.kind().name(),
            escape(c.not_measurable.as_deref().unwrap_or(""))
        ));
    }
    out.push('\n');
}

/// `median (min–max)` of a spread, each shown with `show`.
fn spread(s: Option<Spread>, show: impl Fn(Option<f64>) -> String) -> String {
    match s {
        None => UNKNOWN.to_string(),
        Some(s) if s.n == 1 || s.min == s.max => show(Some(s.median)),
        Some(s) => format!(
            "{} ({}–{})",
            show(Some(s.median)),
            show(Some(s.min)),
            show(Some(s.max))
        ),
    }
}

/// A ratio's median with its range, or why there is none; "not measurable" first.
fn ratio_text(r: &Ratio) -> String {
    let value = match (&r.value, r.range) {
        (Ok(v), Some((lo, hi))) if lo != hi => format!(
            "{} ({}–{})",
            format::ratio(*v),
            format::ratio(lo),
            format::ratio(hi)
        ),
        (v, _) => format::ratio_or_reason(v),
    };
    match &r.not_measurable {
        Some(why) => format!("not measurable ({}); {value}", escape(why)),
        None => value,
    }
}

fn measurable_mark(c: &Cell) -> String {
    match &c.not_measurable {
        None => "yes".to_string(),
        Some(why) => format!("**not measurable**: {}", escape(why)),
    }
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
            .filter_map(|&v| cells::find(&report.cells, profile, Kind::Latency, v))
            .map(|c| {
                let run = &c.median;
                let per_1k = |key: &str| {
                    Spread::of(c.runs.iter().filter_map(|r| {
                        let n = r.number(key)?;
                        let received = r.number("received")?;
                        (received > 0.0).then(|| n * 1000.0 / received)
                    }))
                };
                vec![
                    run.variant.name().to_string(),
                    c.runs.len().to_string(),
                    micros(run.number("app_p50_ns")),
                    spread(c.spread(Metric::P99), micros),
                    micros(run.number("app_p999_ns")),
                    spread(c.spread(Metric::HistP99), micros),
                    spread(c.spread(Metric::CpuBusy), percent),
                    spread(c.spread(Metric::HostCpuPerPacket), |v| fixed(v, 0)),
                    spread(c.spread(Metric::WakeupsPer1k), |v| fixed(v, 1)),
                    spread(per_1k("ipis_sent"), |v| fixed(v, 1)),
                    count(run, "reschedules"),
                    format!("{}/{}", count(run, "received"), count(run, "sent")),
                    spread(c.spread_of("host_wait_frac"), percent),
                    measurable_mark(c),
                ]
            })
            .collect();
        table(
            out,
            "lrrrrrrrrrrrrl",
            &[
                "variant",
                "runs",
                "p50 µs",
                "p99 µs",
                "p99.9 µs",
                "histogram p99 µs",
                "stage CPU busy (guest)",
                "stage CPU ns/packet (host)",
                "idle exits/1k packets",
                "IPIs sent/1k packets",
                "reschedules",
                "received/sent",
                "vCPU run-queue wait",
                "measurable",
            ],
            &rows,
        );
        out.push_str("#### Ratios (same run)\n\n");
        let rows: Vec<Vec<String>> = report
            .ratios
            .iter()
            .filter(|r| r.profile == profile)
            .map(|r| vec![r.name(), ratio_text(r)])
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
    out.push_str(&format!(
        "A latency profile is **short-gap** when the median quiet time between its arrivals (or \
         bursts, `gap_ns`) is below the poll window (`poll_window_ns`), **long-gap** otherwise; \
         without either figure its class, and so its targets, are unknown. Latency targets judge \
         the module's own hook-to-delivery histogram p99 (`hist_p99_ns`). Short gaps: adaptive \
         p99 ≤ 1.10× poll's at ≤ 0.25× poll's stage CPU. Long gaps, where the first packet of a \
         burst pays one idle exit whatever the policy: adaptive p99 ≤ poll's p99 plus \
         {factor}× one idle exit, at ≤ 0.05× poll's stage CPU and ≤ 0.2× idle's idle exits. The \
         idle exit is measured on the steady profile with the longest gap at least the window \
         (else on the profile itself) as idle's histogram p50 minus poll's (there under idle \
         each packet waits for its stage CPU's wake-up, under poll none does; inside a burst \
         only the first would), shown as median, min–max; the p99 target's ratio is adaptive p99 / (poll p99 + \
         {factor}× exit), and its worst case the largest adaptive p99 over the smallest poll p99 \
         plus {factor}× the smallest exit. Throughput is judged at the **knee**: the rate where \
         the plain stack delivered at least {knee:.0}% of what it was sent with the highest \
         delivered rate; there each policy must deliver ≥ 0.7× plain's rate.\n\n",
        factor = targets::EXIT_FACTOR,
        knee = targets::KNEE_DELIVERED * 100.0,
    ));
    let rows: Vec<Vec<String>> = report
        .targets
        .iter()
        .map(|t| {
            let measured = match (&t.ratio.value, t.ratio.range) {
                (Ok(v), Some((lo, hi))) if lo != hi => format!(
                    "{} ({}–{})",
                    format::ratio(*v),
                    format::ratio(lo),
                    format::ratio(hi)
                ),
                (Ok(v), _) => format::ratio(*v),
                (Err(_), _) => UNKNOWN.to_string(),
            };
            let profile = if t.ratio.profile.is_empty() {
                UNKNOWN.to_string()
            } else {
                escape(&t.ratio.profile)
            };
            vec![
                profile,
                t.class
                    .as_ref()
                    .map_or_else(|_| "unknown".to_string(), |c| c.describe()),
                t.describe(),
                measured,
                escape(&t.outcome().describe()),
            ]
        })
        .collect();
    table(
        out,
        "lllrl",
        &[
            "profile",
            "class",
            "target",
            "measured: median (range)",
            "result",
        ],
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
            .filter_map(|&v| cells::find(&report.cells, profile, Kind::Throughput, v))
            .map(|c| {
                let r = ratios::between(
                    &report.cells,
                    profile,
                    Kind::Throughput,
                    c.variant(),
                    Variant::Plain,
                    Metric::Throughput,
                );
                vec![
                    c.variant().name().to_string(),
                    c.runs.len().to_string(),
                    spread(c.spread_of("sent"), |v| fixed(v, 0)),
                    spread(c.spread(Metric::Throughput), |v| fixed(v, 0)),
                    spread(c.spread_of("dropped"), |v| fixed(v, 0)),
                    ratio_text(&r),
                    measurable_mark(c),
                ]
            })
            .collect();
        table(
            out,
            "lrrrrrl",
            &[
                "variant",
                "runs",
                "sent",
                "delivered packets/s",
                "dropped",
                "ratio to plain",
                "measurable",
            ],
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
            let vm = cells::find(&report.cells, &sim.profile, kind, v).map(|c| &c.median);
            let simulated = sim.row(v);
            if vm.is_none() && simulated.is_none() {
                return None;
            }
            let vm_figure = |m: Metric| vm.and_then(|r| m.of(r));
            let sim_figure = |m: Metric| simulated.and_then(|r| r.metric(m));
            // The simulator models the pipeline from the hook to delivery: the VM's figure to
            // set beside it is the module's histogram, not the application's latency.
            let (vm_p99, sim_p99) = (vm_figure(Metric::HistP99), sim_figure(Metric::P99));
            let error = vm_p99
                .zip(sim_p99)
                .and_then(|(v, s)| (v > 0.0).then(|| format::ratio(s / v)))
                .unwrap_or_else(|| UNKNOWN.to_string());
            Some(vec![
                v.name().to_string(),
                micros(vm_p99),
                micros(sim_p99),
                error,
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
            "histogram p99 VM µs",
            "p99 sim µs",
            "p99 sim/VM",
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
            let vm = ratios::between(&report.cells, &sim.profile, kind, top, bottom, metric);
            vec![
                vm.name(),
                ratio_text(&vm),
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
