// SPDX-License-Identifier: GPL-2.0

//! What the host sees of the benchmark VM: the vCPU threads (found with QMP
//! `query-cpus-fast`), their pinning, and per measured cell the host CPU time and run-queue
//! wait of each vCPU thread (`/proc/<pid>/task/<tid>/schedstat`).
//!
//! `vigil-bench-host` writes one [`HostCell`] per line of `host.txt` with
//! [`HostCell::to_line`]; the report reads them back with [`parse`]. The threshold that makes
//! a cell contended is [`CONTENDED_WAIT_FRACTION`], stated here and nowhere else.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::Error;

/// A cell is contended when any of its vCPU threads waited on the host's run queue for more
/// than this fraction of the cell's wall time: the guest then did not have its cores.
pub const CONTENDED_WAIT_FRACTION: f64 = 0.02;

/// The CPU time and run-queue wait of one thread, from its `schedstat` (nanoseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ThreadTimes {
    /// Time on a CPU (1st field).
    pub run_ns: u64,
    /// Time runnable but waiting for a CPU (2nd field).
    pub wait_ns: u64,
    /// Times the thread went to sleep and was woken again (`voluntary_ctxt_switches` of its
    /// `status`): under TCG a halted vCPU thread sleeps on the host, so for a vCPU thread this
    /// counts the guest CPU's idle exits (and, rarely, waits for QEMU's big lock).
    pub sleeps: u64,
}

impl ThreadTimes {
    /// The times in a `schedstat` file's text.
    pub fn parse(text: &str) -> Option<ThreadTimes> {
        let mut fields = text.split_whitespace().map(|f| f.parse::<u64>().ok());
        Some(ThreadTimes {
            run_ns: fields.next()??,
            wait_ns: fields.next()??,
            sleeps: 0,
        })
    }

    /// `voluntary_ctxt_switches` in the text of a `/proc/.../status` file.
    pub fn parse_sleeps(status: &str) -> Option<u64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
            .and_then(|v| v.trim().parse().ok())
    }

    /// The times of thread `tid` now.
    pub fn read(tid: u32) -> std::io::Result<ThreadTimes> {
        let text = std::fs::read_to_string(format!("/proc/{tid}/schedstat"))?;
        let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "unreadable schedstat");
        let mut times = ThreadTimes::parse(&text).ok_or_else(bad)?;
        let status = std::fs::read_to_string(format!("/proc/{tid}/status"))?;
        times.sleeps = ThreadTimes::parse_sleeps(&status).ok_or_else(bad)?;
        Ok(times)
    }
}

/// One vCPU thread over one cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VcpuCell {
    /// The guest CPU number (QMP `cpu-index`).
    pub cpu: u32,
    /// The host thread id.
    pub tid: u32,
    /// Host CPU time the thread used over the cell.
    pub run_ns: u64,
    /// Time it waited on a host run queue over the cell.
    pub wait_ns: u64,
    /// Times it slept and was woken over the cell (see [`ThreadTimes::sleeps`]).
    pub wakeups: u64,
}

/// QEMU's threads other than the vCPUs (its main loop, which runs the emulated timers and
/// devices, and its I/O workers) over one cell, summed over the threads that lived through it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EmulationCell {
    /// Host CPU time they used.
    pub run_ns: u64,
    /// Time they waited on a host run queue.
    pub wait_ns: u64,
}

/// The host's view of one measured cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCell {
    /// The cell's id, as the guest names it (`cell=` in `runs.txt`).
    pub cell: String,
    /// Host monotonic time from the cell's start to its end.
    pub wall_ns: u64,
    /// Every vCPU thread, by guest CPU number.
    pub vcpus: Vec<VcpuCell>,
    /// QEMU's other threads, when sampled.
    pub emulation: Option<EmulationCell>,
}

impl HostCell {
    /// The largest run-queue wait of a vCPU thread, as a fraction of the wall time.
    pub fn max_wait_fraction(&self) -> Option<f64> {
        if self.wall_ns == 0 {
            return None;
        }
        let wait = self.vcpus.iter().map(|v| v.wait_ns).max()?;
        Some(wait as f64 / self.wall_ns as f64)
    }

    /// The largest run-queue wait of a vCPU thread that QEMU's own threads do not explain, as
    /// a fraction of the wall time. The vCPUs of guest CPUs `shared` share their host core with
    /// QEMU's emulation threads (a host with no spare core): under TCG those threads are the
    /// emulated machine's timers and devices, so a shared vCPU's wait up to the time they ran
    /// is the machine's own work, and only the wait beyond it is the host's contention.
    pub fn contended_wait_fraction(&self, shared: &[u32]) -> Option<f64> {
        if self.wall_ns == 0 {
            return None;
        }
        let emulation = self.emulation.map_or(0, |e| e.run_ns);
        let wait = self
            .vcpus
            .iter()
            .map(|v| {
                let own = if shared.contains(&v.cpu) {
                    emulation
                } else {
                    0
                };
                v.wait_ns.saturating_sub(own)
            })
            .max()?;
        Some(wait as f64 / self.wall_ns as f64)
    }

    /// Why the cell is contended, if it is (see [`CONTENDED_WAIT_FRACTION`] and
    /// [`HostCell::contended_wait_fraction`]).
    pub fn contention(&self, shared: &[u32]) -> Option<String> {
        let Some(fraction) = self.contended_wait_fraction(shared) else {
            return Some("no host wall time for the cell".to_string());
        };
        (fraction > CONTENDED_WAIT_FRACTION).then(|| {
            let beyond = if shared.is_empty() {
                ""
            } else {
                " beyond QEMU's emulation on its core"
            };
            format!(
                "contended: a vCPU thread waited {:.1}% of the run for a host CPU{beyond} \
                 (threshold {:.0}%)",
                fraction * 100.0,
                CONTENDED_WAIT_FRACTION * 100.0
            )
        })
    }

    /// The host CPU time of the vCPU threads of guest CPUs `cpus`, summed.
    pub fn run_ns_of(&self, cpus: &[u32]) -> Option<u64> {
        let mut sum = 0;
        for cpu in cpus {
            sum += self.vcpus.iter().find(|v| v.cpu == *cpu)?.run_ns;
        }
        Some(sum)
    }

    /// The wake-ups of the vCPU threads of guest CPUs `cpus`, summed.
    pub fn wakeups_of(&self, cpus: &[u32]) -> Option<u64> {
        let mut sum = 0;
        for cpu in cpus {
            sum += self.vcpus.iter().find(|v| v.cpu == *cpu)?.wakeups;
        }
        Some(sum)
    }

    /// The host CPU QEMU's emulation threads used over the cell, as a fraction of the wall time.
    pub fn emulation_fraction(&self) -> Option<f64> {
        let e = self.emulation?;
        (self.wall_ns > 0).then(|| e.run_ns as f64 / self.wall_ns as f64)
    }

    /// The line `host.txt` holds for the cell:
    /// `cell=ID wall_ns=N vcpu0=TID:RUN_NS:WAIT_NS:WAKEUPS vcpu1=... [emulation=RUN_NS:WAIT_NS]`.
    pub fn to_line(&self) -> String {
        let mut out = format!("cell={} wall_ns={}", self.cell, self.wall_ns);
        for v in &self.vcpus {
            out.push_str(&format!(
                " vcpu{}={}:{}:{}:{}",
                v.cpu, v.tid, v.run_ns, v.wait_ns, v.wakeups
            ));
        }
        if let Some(e) = self.emulation {
            out.push_str(&format!(" emulation={}:{}", e.run_ns, e.wait_ns));
        }
        out
    }

    /// The cell a `host.txt` line describes.
    pub fn parse_line(line: &str) -> Result<HostCell, String> {
        let mut cell = None;
        let mut wall_ns = None;
        let mut vcpus = Vec::new();
        let mut emulation = None;
        for pair in line.split_whitespace() {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("`{pair}` is not key=value"))?;
            let bad = || format!("`{pair}`: bad value");
            if key == "cell" {
                cell = Some(value.to_string());
            } else if key == "wall_ns" {
                wall_ns = Some(value.parse().map_err(|_| bad())?);
            } else if key == "emulation" {
                let (run, wait) = value.split_once(':').ok_or_else(bad)?;
                emulation = Some(EmulationCell {
                    run_ns: run.parse().map_err(|_| bad())?,
                    wait_ns: wait.parse().map_err(|_| bad())?,
                });
            } else if let Some(cpu) = key.strip_prefix("vcpu") {
                let cpu = cpu.parse().map_err(|_| bad())?;
                let parts: Vec<u64> = value
                    .split(':')
                    .map(|p| p.parse().map_err(|_| bad()))
                    .collect::<Result<_, _>>()?;
                let [tid, run_ns, wait_ns, wakeups] = parts[..] else {
                    return Err(bad());
                };
                vcpus.push(VcpuCell {
                    cpu,
                    tid: tid as u32,
                    run_ns,
                    wait_ns,
                    wakeups,
                });
            } else {
                return Err(format!("unknown key `{key}`"));
            }
        }
        Ok(HostCell {
            cell: cell.ok_or("no `cell`")?,
            wall_ns: wall_ns.ok_or("no `wall_ns`")?,
            vcpus,
            emulation,
        })
    }
}

/// The cells of `text`, the contents of `host.txt` (`#` lines are comments).
pub fn parse(text: &str) -> Result<Vec<HostCell>, Error> {
    let mut out: Vec<HostCell> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let cell = HostCell::parse_line(line).map_err(|e| Error(format!("line {}: {e}", i + 1)))?;
        out.retain(|c| c.cell != cell.cell);
        out.push(cell);
    }
    Ok(out)
}

/// The vCPU threads of the VM behind the QMP socket `path`: `(cpu-index, thread-id)`, by
/// cpu-index.
pub fn vcpu_threads(path: &Path) -> Result<Vec<(u32, u32)>, Error> {
    let err = |e: std::io::Error| Error(format!("QMP {}: {e}", path.display()));
    let stream = UnixStream::connect(path).map_err(err)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(err)?;
    let mut writer = stream.try_clone().map_err(err)?;
    let mut reader = BufReader::new(stream);
    // The greeting, then one command at a time; events may come in between.
    let read_reply = |reader: &mut BufReader<UnixStream>| -> Result<Value, Error> {
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).map_err(err)? == 0 {
                return Err(Error(format!("QMP {}: connection closed", path.display())));
            }
            let value: Value = serde_json::from_str(&line)
                .map_err(|e| Error(format!("QMP {}: {e}", path.display())))?;
            if value.get("QMP").is_some() || value.get("event").is_some() {
                continue;
            }
            if let Some(e) = value.get("error") {
                return Err(Error(format!("QMP error: {e}")));
            }
            if let Some(r) = value.get("return") {
                return Ok(r.clone());
            }
        }
    };
    let mut execute = |command: &str| -> Result<Value, Error> {
        let mut line = serde_json::to_vec(&QmpCommand { execute: command })
            .map_err(|e| Error(format!("QMP: {e}")))?;
        line.push(b'\n');
        writer.write_all(&line).map_err(err)?;
        read_reply(&mut reader)
    };
    execute("qmp_capabilities")?;
    threads_of(&execute("query-cpus-fast")?)
}

/// A QMP command without arguments.
#[derive(serde::Serialize)]
struct QmpCommand<'a> {
    execute: &'a str,
}

/// What `query-cpus-fast` says of one CPU (other members are ignored).
#[derive(Deserialize)]
struct QmpCpu {
    #[serde(rename = "cpu-index")]
    cpu_index: u32,
    #[serde(rename = "thread-id")]
    thread_id: u32,
}

/// `(cpu-index, thread-id)` of each CPU in a `query-cpus-fast` reply, by cpu-index.
pub fn threads_of(reply: &Value) -> Result<Vec<(u32, u32)>, Error> {
    let cpus =
        Vec::<QmpCpu>::deserialize(reply).map_err(|e| Error(format!("query-cpus-fast: {e}")))?;
    let mut out: Vec<(u32, u32)> = cpus.iter().map(|c| (c.cpu_index, c.thread_id)).collect();
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_and_flag_contention() {
        let cell = HostCell {
            cell: "burst.idle.0".to_string(),
            wall_ns: 1_000_000_000,
            vcpus: vec![
                VcpuCell {
                    cpu: 0,
                    tid: 11,
                    run_ns: 900_000_000,
                    wait_ns: 5_000_000,
                    wakeups: 7,
                },
                VcpuCell {
                    cpu: 1,
                    tid: 12,
                    run_ns: 100_000_000,
                    wait_ns: 30_000_000,
                    wakeups: 40,
                },
            ],
            emulation: Some(EmulationCell {
                run_ns: 90_000_000,
                wait_ns: 1_000,
            }),
        };
        let line = cell.to_line();
        assert_eq!(
            line,
            "cell=burst.idle.0 wall_ns=1000000000 vcpu0=11:900000000:5000000:7 \
             vcpu1=12:100000000:30000000:40 emulation=90000000:1000"
        );
        assert_eq!(cell.emulation_fraction(), Some(0.09));
        assert_eq!(HostCell::parse_line(&line), Ok(cell.clone()));
        assert_eq!(cell.max_wait_fraction(), Some(0.03));
        assert!(cell.contention(&[]).unwrap().contains("3.0%"));
        // vCPU 1 shares its core with QEMU's threads, which ran 9% of the run: its 3% wait is
        // theirs. vCPU 0's own 0.5% stays.
        assert_eq!(cell.contended_wait_fraction(&[1]), Some(0.005));
        assert_eq!(cell.contention(&[1]), None);
        // On vCPU 0's core instead, vCPU 1's wait is contention.
        assert!(cell
            .contention(&[0])
            .unwrap()
            .contains("beyond QEMU's emulation"));
        assert_eq!(cell.run_ns_of(&[1]), Some(100_000_000));
        assert_eq!(cell.run_ns_of(&[1, 2]), None);
        assert_eq!(cell.wakeups_of(&[0, 1]), Some(47));
        let calm = HostCell {
            vcpus: vec![VcpuCell {
                wait_ns: 20_000_000,
                ..cell.vcpus[1]
            }],
            ..cell
        };
        assert_eq!(calm.contention(&[]), None);
    }

    #[test]
    fn reads_schedstat_and_qmp_replies() {
        assert_eq!(
            ThreadTimes::parse("108602 2855154 2\n"),
            Some(ThreadTimes {
                run_ns: 108602,
                wait_ns: 2855154,
                sleeps: 0
            })
        );
        assert_eq!(
            ThreadTimes::parse_sleeps(
                "Name:\tx\nvoluntary_ctxt_switches:\t42\nnonvoluntary_ctxt_switches:\t3\n"
            ),
            Some(42)
        );
        assert_eq!(ThreadTimes::parse("12"), None);
        let reply: Value = serde_json::from_str(
            r#"[{"cpu-index":1,"thread-id":702,"qom-path":"/x","target":"x86_64"},
                {"cpu-index":0,"thread-id":701}]"#,
        )
        .unwrap();
        assert_eq!(threads_of(&reply).unwrap(), vec![(0, 701), (1, 702)]);
        let partial: Value = serde_json::from_str(r#"[{"cpu-index":0}]"#).unwrap();
        assert!(threads_of(&partial)
            .unwrap_err()
            .0
            .contains("missing field `thread-id`"));
        let text = "# pinned\ncell=a wall_ns=5 vcpu0=1:2:3:4\ncell=a wall_ns=6\n";
        let cells = parse(text).unwrap();
        assert_eq!(cells.len(), 1);
        assert_eq!(cells[0].wall_ns, 6);
        assert!(parse("cell=a").unwrap_err().0.contains("line 1"));
        assert_eq!(cells[0].emulation, None);
        assert!(HostCell::parse_line("cell=a wall_ns=1 emulation=5").is_err());
    }
}
