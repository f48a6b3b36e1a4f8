// SPDX-License-Identifier: GPL-2.0

//! `vigil-bench-report`: turn the raw output of `make bench` into the committed results.
//!
//! ```text
//! vigil-bench-report --raw DIR --out DIR
//! ```
//!
//! `make bench` boots a VM and, for several traffic profiles, sends the same UDP traffic
//! through the 3-stage pipeline under each policy (`idle`, `poll`, `timeout`, `adaptive`) and
//! once with the pipeline disabled (`plain`, the plain network stack). The guest script writes
//! the files below; the host runs `vigil-sim --json` for some profiles. This tool reads them
//! and writes the report. It exits with status 1 and a message naming the file and line when
//! an input does not follow this format, and with 2 on a usage error.
//!
//! # Input (`--raw DIR`): the contract with the guest script
//!
//! ## `DIR/meta.txt` (required)
//!
//! One `key=value` per line: the key is everything before the first `=`, the value the rest of
//! the line (free text, may hold spaces and `=`; surrounding whitespace is removed). Blank
//! lines and lines starting with `#` are skipped; a key may appear once. Every entry is shown,
//! in file order, in the Markdown header and the JSON `meta` object. Usual keys:
//!
//! ```text
//! date=2026-11-23
//! vcpus=4
//! accel=tcg
//! host_cores=2
//! kernel=7.3.4 bench
//! command=make bench
//! packets=2000
//! poll_window_ns=200000 (the module's default)
//! ```
//!
//! `poll_window_ns` (its leading integer; free text may follow) is the window the targets
//! compare each profile's `gap_ns` with; without it no latency profile has a target class.
//!
//! ## `DIR/runs.txt` (required, at least one run)
//!
//! One run per line, as whitespace-separated `key=value` pairs in any order (split at the first
//! `=`; values hold no whitespace). Blank lines and lines starting with `#` are skipped. A key
//! may appear once per line, and an empty value is an error: write `-` for unknown (JSON
//! `null`, an empty CSV cell, `–` in Markdown).
//!
//! Required keys:
//!
//! - `profile`: the traffic profile, e.g. `steady-2000pps`, `burst-32x2ms`, `burst-8x40us`,
//!   `poisson-2000pps`, `rate-20kpps`; letters, digits, `-`, `_` and `.` only (it names
//!   `sim-<profile>.json`). Which targets a profile gets comes from its runs, not its name:
//!   `gap_ns` against `poll_window_ns` for latency profiles, the knee for throughput ones
//!   (`vigil_bench::targets`).
//! - `kind`: `latency` or `throughput`.
//! - `variant`: `plain`, `idle`, `poll`, `timeout` or `adaptive`.
//!
//! A profile, kind and variant may run several times (a *cell* of repeated runs), each with
//! its own `rep` number; two runs of one cell with the same `rep` (or both without) are an
//! error. The tables give each figure's median and min–max over the cell's runs.
//!
//! - `rep`: the run's number within its cell.
//! - `cell`: the run's id (text), the key into `host.txt` below.
//!
//! Optional keys, each a number (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, as in
//! JSON) or `-`:
//!
//! - `gap_ns`: the profile's quiet time between arrivals (between bursts for bursts), which
//!   the targets compare with `poll_window_ns` (`meta.txt`): the median over the profile's
//!   latency runs below the window makes it short-gap, otherwise long-gap.
//! - `sent`, `received`, `out_of_order`: packet counts.
//! - `app_p50_ns`, `app_p99_ns`, `app_p999_ns`: one-way latency percentiles from the
//!   application's timestamps.
//! - `hist_p50_ns`, `hist_p99_ns`, `hist_p999_ns`: the same from vigil's histogram (the
//!   upper bounds of buckets, within 3.2%); `-` for `plain`. The latency targets judge
//!   `hist_p99_ns`; the long-gap one estimates an idle exit as idle's `hist_p50_ns` minus
//!   poll's on the steady profile (`arrivals=steady`) with the longest gap at least the
//!   window, or on the profile itself without one.
//! - `arrivals` (text): `steady`, `poisson` or `bursts`, how the profile's packets come.
//! - `cpu_busy`: mean busy fraction (0 to 1) of the stage CPUs over the run.
//! - `wakeups`: idle exits of the stage CPUs. Usually not written: the report derives it
//!   from `cpuidle_exits` (the guest's cpuidle `usage` counters, summed over the stage CPUs'
//!   states, `-` when the guest has no cpuidle driver, as under TCG) or else from the host's
//!   count of the stage vCPU threads' wake-ups (`vcpu_wakeups`).
//! - `stage_irqs`: interrupts the stage CPUs received (guest `/proc/interrupts`), an upper
//!   bound on their idle exits.
//! - `ipis_sent`: IPIs vigil sent to wake a stage.
//! - `reschedules`, `resched_head_ahead`, `resched_upstream_backlog`, `resched_window`,
//!   `resched_head_active`: policy decisions to keep polling, in total and by reason.
//! - `completions`, `polls`, `empty_polls`: NAPI completions, polls, and polls that found
//!   nothing.
//! - `dropped`: packets the pipeline dropped (every reason); `-` for `plain`.
//! - `duration_ns`: the run's length.
//! - `throughput_pps`: delivered packets per second (for `kind=throughput`: in `make bench`,
//!   pktgen's packets delivered to UDP over its sending time plus the pipeline's drain time,
//!   at the offered rate the profile names). The throughput targets are judged at the knee:
//!   the throughput profile where `plain` delivered (`received / sent`, median over its runs)
//!   at least 95% of what it was sent, with the highest `plain` `throughput_pps`.
//!
//! Optional free text: `profile_desc`, the profile's description with `_` for spaces
//! (`32_packets_every_2_ms`), shown under the profile's heading.
//!
//! Any other key is passed through to `results.json` (as a number if it reads as one, else as a
//! string; `-` as `null`) but not to the CSV or Markdown. `wakeups_per_1k` may not be given:
//! it is derived, as `wakeups * 1000 / received` (unknown when either is unknown or `received`
//! is 0).
//!
//! ```text
//! profile=burst-32x2ms kind=latency variant=adaptive profile_desc=32_packets_every_2_ms sent=2000 received=2000 out_of_order=0 app_p50_ns=21000 app_p99_ns=50000 app_p999_ns=70000 hist_p50_ns=32768 hist_p99_ns=65536 hist_p999_ns=131072 cpu_busy=0.2 wakeups=600 reschedules=900 resched_head_ahead=100 resched_upstream_backlog=200 resched_window=500 resched_head_active=100 completions=700 polls=9000 empty_polls=4000 duration_ns=2000000000 throughput_pps=-
//! ```
//!
//! ## `DIR/host.txt` (optional, written by `vigil-bench-host`)
//!
//! One line per run, `cell=ID wall_ns=N vcpu0=TID:RUN_NS:WAIT_NS:WAKEUPS ...` (see
//! `vigil_bench::host::HostCell`): the host's wall time over the run and, per vCPU thread,
//! its host CPU time, run-queue wait and wake-ups. With `meta.txt`'s `vcpus`, `host_cores`
//! and `stage_vcpus` (the guest CPUs that run stages, space-separated) the report derives
//! `host_wall_ns`, `host_wait_frac` (the largest vCPU wait over the wall time),
//! `stage_host_cpu_ns`, `stage_cpu_ns_per_pkt` and `vcpu_wakeups`, and marks a run **not
//! measurable** when `vcpus > host_cores` (oversubscribed), when a vCPU's wait exceeds
//! `vigil_bench::host::CONTENDED_WAIT_FRACTION` of the wall time (contended; for the vCPUs
//! `meta.txt`'s `emulation_vcpus` lists, which share their host core with QEMU's emulation
//! threads, only the wait beyond those threads' run time counts: see
//! `HostCell::contended_wait_fraction`), or when it has no line here. `emulation=RUN:WAIT` on
//! a line is QEMU's other threads over the run (`host_emulation_frac`).
//! A not-measurable cell voids every ratio and target it is part of, in every output.
//!
//! ## `DIR/sim-<profile>.json` (optional)
//!
//! The output of `vigil-sim --json` for that profile's traffic: an array of
//! `vigil_sim::report::JsonRow`s, read with that type (the simulator's own), one per policy
//! (`idle`, `poll`, `timeout` or `adaptive`, at most once each, so not `--scale` output). The
//! rows go to `results.json` whole. A file whose profile has no runs is still reported.
//!
//! # Output (`--out DIR`, created if missing)
//!
//! - `results.csv`: a header and one row per run, in file order: `profile`, `kind`,
//!   `variant`, the numeric keys above in that order with `wakeups_per_1k` after `wakeups`;
//!   empty cells for unknown values.
//! - `results.json`: `{"meta", "runs", "ratios", "targets", "simulator"}`; every run with
//!   every key (passed-through and derived ones too), the ratios and targets with their
//!   values or the reason they are unknown (each target with its class, `short`, `long` or
//!   `knee`, the gap and window or the plain rate that set it, its threshold at the medians,
//!   and for the long-gap p99 target the idle exit estimate), and the simulator's rows with
//!   its ratios next to the VM's.
//! - `results.md`: per latency profile a table of the variants and the same-run ratios
//!   (adaptive/poll p99, histogram p99 and CPU busy, adaptive/idle wake-ups, timeout/poll
//!   p99 and CPU busy), the targets with their class and how the classes and the idle exit
//!   are found (met or missed, by how much, relative to the limit), the throughput tables,
//!   the simulator against the VM, and a link to the plot.
//! - `p99-vs-cpu.svg`: the histogram p99 (log axis) against CPU busy, one point per policy
//!   per latency profile, colour by variant, marker by profile; and per profile the adaptive
//!   targets' corner (p99 and CPU limits at the medians), dashed.
//!
//! A ratio is computed only when both operands are known and the denominator is positive.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use vigil_bench::calibrate::Calibration;
use vigil_bench::report::Report;

/// Turn the raw output of `make bench` into the committed CSV, JSON, Markdown and SVG report.
///
/// Reads DIR/meta.txt, DIR/runs.txt, DIR/host.txt and any DIR/sim-<profile>.json from --raw,
/// and writes results.csv, results.json, results.md and p99-vs-cpu.svg into --out. The input
/// format is documented in tools/vigil-bench/src/main.rs. Exits with 1 when an input does not
/// follow it, with 2 on a usage error.
#[derive(Debug, Parser)]
#[command(name = "vigil-bench-report", version)]
struct Options {
    /// The raw directory `make bench` wrote.
    #[arg(long, value_name = "DIR")]
    raw: PathBuf,
    /// Where the report goes (created if missing).
    #[arg(long, value_name = "DIR", required_unless_present = "sim_costs")]
    out: Option<PathBuf>,
    /// Instead of a report, print the simulator's costs measured in the runs, as vigil-sim
    /// options (see vigil_bench::calibrate); exit 1 if the runs cannot give them.
    #[arg(long, conflicts_with = "out")]
    sim_costs: bool,
}

fn main() -> ExitCode {
    let options = Options::parse();
    let done = Report::load(&options.raw).and_then(|r| match &options.out {
        Some(out) => r.write(out),
        None => Calibration::of(&r)
            .map(|c| println!("{}", c.sim_args()))
            .map_err(vigil_bench::Error),
    });
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vigil-bench-report: {e}");
            ExitCode::FAILURE
        }
    }
}
