// SPDX-License-Identifier: GPL-2.0

//! `vigil-bench-host`: the host side of `make bench`.
//!
//! ```text
//! vigil-bench-host --qmp SOCKET --sync DIR --out FILE [--cores LIST] [--wait-secs N]
//! ```
//!
//! Connects to the VM's QMP socket, reads the vCPU thread ids with `query-cpus-fast`, pins
//! vCPU *i* to host core *i* of `--cores` (default 0, 1, ...: one core each) with
//! `taskset -p -c`, then serves the guest's cell marks: the guest writes `DIR/req` holding
//! `SEQ begin CELL`, `SEQ end CELL` or `SEQ done` and a newline; this tool samples every vCPU thread's
//! `schedstat` (host CPU time and run-queue wait), the same summed over QEMU's other threads
//! (its main loop and I/O workers), and the host's monotonic clock, writes `SEQ` (for an
//! `end`, `SEQ ok` or `SEQ contended`: whether the run was contended)
//! to `DIR/ack`, and on `end` appends the cell's deltas to `FILE` (one
//! `vigil_bench::host::HostCell` line). It exits on `done` or when the VM is gone.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use clap::Parser;
use vigil_bench::host::{self, EmulationCell, HostCell, ThreadTimes, VcpuCell};

/// The host side of `make bench`: pins the VM's vCPU threads and samples them around each
/// run the guest marks.
#[derive(Debug, Parser)]
#[command(name = "vigil-bench-host", version)]
struct Options {
    /// The VM's QMP socket.
    #[arg(long, value_name = "SOCKET")]
    qmp: PathBuf,
    /// The directory the guest writes `req` in and this tool `ack`.
    #[arg(long, value_name = "DIR")]
    sync: PathBuf,
    /// host.txt: the cells' samples are appended to it.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// The host core of vCPU i is the i-th of LIST, cycling (default: 0, 1, 2, ...).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    cores: Option<Vec<u32>>,
    /// The guest CPUs whose vCPU shares its host core with QEMU's emulation threads (see
    /// `HostCell::contended_wait_fraction`).
    #[arg(long = "emulation-vcpus", value_name = "LIST", value_delimiter = ',')]
    emulation_vcpus: Vec<u32>,
    /// How long to wait for QEMU's socket, seconds.
    #[arg(long = "wait-secs", value_name = "N", default_value = "600",
          value_parser = |s: &str| s.parse().map(Duration::from_secs))]
    wait: Duration,
}

/// The vCPU threads, once QEMU has opened its socket.
fn connect(path: &Path, wait: Duration) -> Result<Vec<(u32, u32)>, String> {
    let start = Instant::now();
    loop {
        match host::vcpu_threads(path) {
            Ok(t) if !t.is_empty() => return Ok(t),
            Ok(_) => {}
            Err(e) if start.elapsed() > wait => return Err(e.0),
            Err(_) => {}
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One sample: when, each vCPU thread's times, and QEMU's other threads' times by thread id.
struct Sample {
    at: Instant,
    vcpus: Vec<ThreadTimes>,
    emulation: Vec<(u32, ThreadTimes)>,
}

/// The process (thread group) thread `tid` belongs to.
fn process_of(tid: u32) -> Option<u32> {
    let status = fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Tgid:"))
        .and_then(|v| v.trim().parse().ok())
}

/// The times of every thread of process `pid` that is not one of `vcpus`.
fn emulation_threads(pid: u32, vcpus: &[(u32, u32)]) -> Vec<(u32, ThreadTimes)> {
    let Ok(dir) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|tid| !vcpus.iter().any(|&(_, v)| v == *tid))
        .filter_map(|tid| Some((tid, ThreadTimes::read(tid).ok()?)))
        .collect()
}

fn sample(threads: &[(u32, u32)], qemu: Option<u32>) -> Option<Sample> {
    let at = Instant::now();
    let vcpus = threads
        .iter()
        .map(|&(_, tid)| ThreadTimes::read(tid).ok())
        .collect::<Option<Vec<_>>>()?;
    let emulation = qemu.map_or_else(Vec::new, |pid| emulation_threads(pid, threads));
    Some(Sample {
        at,
        vcpus,
        emulation,
    })
}

/// What QEMU's other threads did between two samples, over the threads in both.
fn emulation_between(a: &Sample, b: &Sample) -> EmulationCell {
    let mut out = EmulationCell::default();
    for (tid, t1) in &b.emulation {
        if let Some((_, t0)) = a.emulation.iter().find(|(t, _)| t == tid) {
            out.run_ns += t1.run_ns.saturating_sub(t0.run_ns);
            out.wait_ns += t1.wait_ns.saturating_sub(t0.wait_ns);
        }
    }
    out
}

fn run(o: Options) -> Result<(), String> {
    let threads = connect(&o.qmp, o.wait)?;
    let qemu = threads.first().and_then(|&(_, tid)| process_of(tid));
    let cores = o.cores.unwrap_or_else(|| {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
        (0..n).collect()
    });
    let mut out = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&o.out)
        .map_err(|e| format!("{}: {e}", o.out.display()))?;
    for (i, &(cpu, tid)) in threads.iter().enumerate() {
        let core = cores[i % cores.len()];
        let ok = Command::new("taskset")
            .args(["-p", "-c", &core.to_string(), &tid.to_string()])
            .output()
            .map(|s| s.status.success())
            .unwrap_or(false);
        let state = if ok { "pinned" } else { "NOT pinned" };
        writeln!(out, "# vcpu{cpu} thread {tid} {state} to host core {core}")
            .map_err(|e| e.to_string())?;
        eprintln!("vigil-bench-host: vcpu{cpu} (thread {tid}) {state} to host core {core}");
    }
    let req = o.sync.join("req");
    let ack = o.sync.join("ack");
    let ack_tmp = o.sync.join("ack.tmp");
    let mut last = 0u64;
    let mut begun: Option<(String, Sample)> = None;
    loop {
        if threads
            .iter()
            .any(|&(_, tid)| !Path::new(&format!("/proc/{tid}")).exists())
        {
            return Ok(());
        }
        let text = fs::read_to_string(&req).unwrap_or_default();
        // A request is whole once its newline is there (the guest writes it in one go).
        let text = if text.ends_with('\n') {
            text
        } else {
            String::new()
        };
        let mut words = text.split_whitespace();
        let seq = words.next().and_then(|s| s.parse::<u64>().ok());
        let Some(seq) = seq.filter(|&s| s > last) else {
            // Inside a measured run this thread shares the vCPUs' cores: each wake-up would
            // be run-queue wait for a vCPU thread, so it looks rarely then (the run's end is
            // sampled up to that much late, while the guest is idle waiting for the ack).
            let idle = if begun.is_some() { 20 } else { 2 };
            std::thread::sleep(Duration::from_millis(idle));
            continue;
        };
        let what = words.next().unwrap_or("");
        let cell = words.next().unwrap_or("").to_string();
        let now = sample(&threads, qemu);
        // The answer to an `end` says whether the host disturbed the run (contended), so that
        // the guest can repeat it.
        let mut verdict = "";
        match (what, now) {
            ("begin", Some(s)) => begun = Some((cell, s)),
            ("end", Some(s1)) => {
                if let Some((name, s0)) = begun.take().filter(|b| b.0 == cell) {
                    let vcpus = threads
                        .iter()
                        .zip(s0.vcpus.iter().zip(&s1.vcpus))
                        .map(|(&(cpu, tid), (a, b))| VcpuCell {
                            cpu,
                            tid,
                            run_ns: b.run_ns.saturating_sub(a.run_ns),
                            wait_ns: b.wait_ns.saturating_sub(a.wait_ns),
                            wakeups: b.sleeps.saturating_sub(a.sleeps),
                        })
                        .collect();
                    let hc = HostCell {
                        cell: name,
                        wall_ns: (s1.at - s0.at).as_nanos() as u64,
                        vcpus,
                        emulation: qemu.map(|_| emulation_between(&s0, &s1)),
                    };
                    writeln!(out, "{}", hc.to_line()).map_err(|e| e.to_string())?;
                    verdict = if hc.contention(&o.emulation_vcpus).is_some() {
                        " contended"
                    } else {
                        " ok"
                    };
                }
            }
            ("done", _) => {
                let _ = fs::write(&ack_tmp, format!("{seq}\n"));
                let _ = fs::rename(&ack_tmp, &ack);
                return Ok(());
            }
            _ => {}
        }
        last = seq;
        fs::write(&ack_tmp, format!("{seq}{verdict}\n")).map_err(|e| e.to_string())?;
        fs::rename(&ack_tmp, &ack).map_err(|e| e.to_string())?;
    }
}

fn main() -> ExitCode {
    match run(Options::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vigil-bench-host: {e}");
            ExitCode::FAILURE
        }
    }
}
