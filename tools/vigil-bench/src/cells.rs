// SPDX-License-Identifier: GPL-2.0

//! Cells: the repeated runs of one profile, kind and variant, summarised as the median and
//! the min–max of each figure, and whether the cell's figures can be trusted at all.
//!
//! [`annotate`] joins each run with the host's view of it ([`crate::host`]) first: a run is
//! "not measurable" when the VM had more vCPUs than the host has cores (oversubscribed), when
//! one of its vCPU threads waited on the host's run queue for more than
//! [`crate::host::CONTENDED_WAIT_FRACTION`] of the run (contended), or when the host did not
//! sample it (nothing says it was not contended). A cell is not measurable when any of its
//! runs is not.

use crate::host::HostCell;
use crate::meta::Meta;
use crate::ratios::Metric;
use crate::record::{self, Kind, Run, Value, Variant};

/// The median and range of a figure over a cell's runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// The median (the mean of the middle two for an even count).
    pub median: f64,
    /// The smallest value.
    pub min: f64,
    /// The largest value.
    pub max: f64,
    /// How many runs had the figure.
    pub n: usize,
}

impl Spread {
    /// The spread of `values`, `None` when there are none.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Spread> {
        let mut v: Vec<f64> = values.into_iter().collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(|a, b| a.total_cmp(b));
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Spread {
            median,
            min: v[0],
            max: v[n - 1],
            n,
        })
    }
}

/// The runs of one profile, kind and variant.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// The runs, in file order.
    pub runs: Vec<Run>,
    /// A run whose every numeric key holds the median over the runs that know it (the
    /// tables and ratios read it like one run).
    pub median: Run,
    /// Why the cell's figures cannot be trusted, if they cannot.
    pub not_measurable: Option<String>,
}

impl Cell {
    /// The traffic profile.
    pub fn profile(&self) -> &str {
        &self.median.profile
    }

    /// What the cell measures.
    pub fn kind(&self) -> Kind {
        self.median.kind
    }

    /// How the traffic was carried.
    pub fn variant(&self) -> Variant {
        self.median.variant
    }

    /// The spread of `metric` over the runs.
    pub fn spread(&self, metric: Metric) -> Option<Spread> {
        Spread::of(self.runs.iter().filter_map(|r| metric.of(r)))
    }

    /// The spread of the number `key` over the runs.
    pub fn spread_of(&self, key: &str) -> Option<Spread> {
        Spread::of(self.runs.iter().filter_map(|r| r.number(key)))
    }
}

/// The key of the reason a run is not measurable (text with `_` for spaces in `runs.txt`
/// style; the report sets it).
pub const NOT_MEASURABLE: &str = "not_measurable";

/// Joins each run with its host cell (by its `cell` key) and the run's layout in `meta`:
/// sets the host-derived figures (`host_wall_ns`, `host_wait_frac`, `host_emulation_frac`,
/// `stage_host_cpu_ns`,
/// `stage_cpu_ns_per_pkt`, `vcpu_wakeups`, and `wakeups` when the guest gave none: the
/// guest's cpuidle exits if it has them, else the stage vCPU threads' wake-ups) and
/// `not_measurable` when the run cannot be trusted.
pub fn annotate(runs: &mut [Run], hosts: &[HostCell], meta: &Meta) {
    let number = |k: &str| meta.get(k).and_then(|v| v.trim().parse::<u32>().ok());
    let oversubscribed = match (number("vcpus"), number("host_cores")) {
        (Some(v), Some(c)) if v > c => Some(format!("oversubscribed: {v} vCPUs on {c} host cores")),
        _ => None,
    };
    let cpu_list = |key: &str| -> Vec<u32> {
        meta.get(key)
            .map(|s| {
                s.split_whitespace()
                    .filter_map(|c| c.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    let stage_vcpus = cpu_list("stage_vcpus");
    let emulation_vcpus = cpu_list("emulation_vcpus");
    for run in runs.iter_mut() {
        let host = match run.get("cell") {
            Some(Value::Text(id)) => hosts.iter().find(|h| &h.cell == id),
            Some(Value::Number(n)) => hosts.iter().find(|h| h.cell == n.to_string()),
            _ => None,
        };
        let set = |run: &mut Run, key: &str, v: Option<f64>| {
            run.fields.retain(|(k, _)| k != key);
            run.fields
                .push((key.to_string(), v.map_or(Value::Null, Value::Number)));
        };
        let mut reason = oversubscribed.clone();
        match host {
            None => {
                reason.get_or_insert_with(|| "no host sample: contention not checked".to_string());
            }
            Some(h) => {
                if reason.is_none() {
                    reason = h.contention(&emulation_vcpus);
                }
                set(run, "host_wall_ns", Some(h.wall_ns as f64));
                set(run, "host_wait_frac", h.max_wait_fraction());
                set(run, "host_emulation_frac", h.emulation_fraction());
                let cpu = h
                    .run_ns_of(&stage_vcpus)
                    .filter(|_| !stage_vcpus.is_empty());
                set(run, "stage_host_cpu_ns", cpu.map(|c| c as f64));
                let per_packet = cpu
                    .zip(run.number("received"))
                    .and_then(|(c, r)| (r > 0.0).then(|| c as f64 / r));
                set(run, "stage_cpu_ns_per_pkt", per_packet);
                let wakeups = h
                    .wakeups_of(&stage_vcpus)
                    .filter(|_| !stage_vcpus.is_empty());
                set(run, "vcpu_wakeups", wakeups.map(|w| w as f64));
                if run.get("wakeups").is_none() {
                    let exits = run.number("cpuidle_exits").or(wakeups.map(|w| w as f64));
                    set(run, "wakeups", exits);
                }
            }
        }
        run.fields.retain(|(k, _)| k != NOT_MEASURABLE);
        if let Some(why) = reason {
            run.fields
                .push((NOT_MEASURABLE.to_string(), Value::Text(why)));
        }
    }
}

/// Why `run` is not measurable, if [`annotate`] found it so.
pub fn not_measurable(run: &Run) -> Option<&str> {
    match run.get(NOT_MEASURABLE) {
        Some(Value::Text(t)) => Some(t),
        _ => None,
    }
}

/// The cells of `runs`, in the order their first run appears.
pub fn cells(runs: &[Run]) -> Vec<Cell> {
    let mut groups: Vec<Vec<Run>> = Vec::new();
    for run in runs {
        match groups.iter_mut().find(|g| {
            g[0].profile == run.profile && g[0].kind == run.kind && g[0].variant == run.variant
        }) {
            Some(g) => g.push(run.clone()),
            None => groups.push(vec![run.clone()]),
        }
    }
    groups.into_iter().map(cell).collect()
}

fn cell(runs: Vec<Run>) -> Cell {
    let first = &runs[0];
    let mut fields = Vec::new();
    for key in record::NUMERIC_KEYS {
        let spread = Spread::of(runs.iter().filter_map(|r| r.number(key)));
        fields.push((
            key.to_string(),
            spread.map_or(Value::Null, |s| Value::Number(s.median)),
        ));
    }
    // The worst run speaks for the cell: the most contended one (or the first unchecked).
    let worst = runs
        .iter()
        .filter(|r| not_measurable(r).is_some())
        .max_by(|a, b| {
            let wait = |r: &Run| r.number("host_wait_frac").unwrap_or(f64::INFINITY);
            wait(a).total_cmp(&wait(b))
        });
    let not_measurable = worst.and_then(|r| not_measurable(r)).map(|why| {
        let bad = runs.iter().filter(|r| not_measurable(r).is_some()).count();
        if runs.len() > 1 {
            format!("{why} ({bad} of {} runs)", runs.len())
        } else {
            why.to_string()
        }
    });
    let median = Run {
        line: first.line,
        profile: first.profile.clone(),
        kind: first.kind,
        variant: first.variant,
        profile_desc: first.profile_desc.clone(),
        fields,
    };
    Cell {
        runs,
        median,
        not_measurable,
    }
}

/// The cell of `profile`, `kind` and `variant`, if any.
pub fn find<'a>(
    cells: &'a [Cell],
    profile: &str,
    kind: Kind,
    variant: Variant,
) -> Option<&'a Cell> {
    cells
        .iter()
        .find(|c| c.profile() == profile && c.kind() == kind && c.variant() == variant)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_take_median_and_range() {
        let s = Spread::of([3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.n), (2.0, 1.0, 3.0, 3));
        assert_eq!(Spread::of([4.0, 1.0]).unwrap().median, 2.5);
        assert_eq!(Spread::of(std::iter::empty::<f64>()), None);
    }

    #[test]
    fn joins_host_samples_and_marks_contention() {
        let mut runs = record::parse(
            "profile=p kind=latency variant=poll rep=0 cell=p.poll.0 received=1000 cpuidle_exits=-\n\
             profile=p kind=latency variant=poll rep=1 cell=p.poll.1 received=1000\n\
             profile=p kind=latency variant=poll rep=2 cell=p.poll.2 received=1000\n\
             profile=p kind=latency variant=idle rep=0 cell=p.idle.0 received=1000 cpuidle_exits=7\n",
        )
        .unwrap();
        let hosts = crate::host::parse(
            "cell=p.poll.0 wall_ns=1000000 vcpu0=1:10:0:1 vcpu1=2:500000:1000:3\n\
             cell=p.poll.1 wall_ns=1000000 vcpu0=1:10:50000:1 vcpu1=2:700000:0:5\n\
             cell=p.poll.2 wall_ns=1000000 vcpu0=1:10:30000:1 vcpu1=2:600000:0:5\n\
             cell=p.idle.0 wall_ns=1000000 vcpu0=1:10:0:1 vcpu1=2:100000:0:9\n",
        )
        .unwrap();
        let meta = crate::meta::parse("vcpus=2\nhost_cores=2\nstage_vcpus=1\n").unwrap();
        annotate(&mut runs, &hosts, &meta);
        assert_eq!(runs[0].number("stage_cpu_ns_per_pkt"), Some(500.0));
        assert_eq!(runs[0].number("wakeups"), Some(3.0));
        assert_eq!(runs[3].number("wakeups"), Some(7.0));
        assert_eq!(not_measurable(&runs[0]), None);
        assert!(not_measurable(&runs[1]).unwrap().starts_with("contended"));
        let cells = cells(&runs);
        assert_eq!(cells.len(), 2);
        let poll = find(&cells, "p", Kind::Latency, Variant::Poll).unwrap();
        assert_eq!(poll.median.number("stage_host_cpu_ns"), Some(600000.0));
        let why = poll.not_measurable.as_ref().unwrap();
        assert!(why.contains("waited 5.0%"), "{why}");
        assert!(why.ends_with("(2 of 3 runs)"), "{why}");
        assert_eq!(
            find(&cells, "p", Kind::Latency, Variant::Idle)
                .unwrap()
                .not_measurable,
            None
        );

        // vCPU 0 shares host core 0 with QEMU's threads, which ran 6% of p.poll.1: its 5% wait
        // is the emulation's, but p.poll.2's 3% wait is not explained by their 0.5%.
        let shared = crate::host::parse(
            "cell=p.poll.1 wall_ns=1000000 vcpu0=1:10:50000:1 vcpu1=2:700000:0:5 emulation=60000:0\n\
             cell=p.poll.2 wall_ns=1000000 vcpu0=1:10:30000:1 vcpu1=2:600000:0:5 emulation=5000:0\n",
        )
        .unwrap();
        let meta = crate::meta::parse("vcpus=2\nhost_cores=2\nstage_vcpus=1\nemulation_vcpus=0\n")
            .unwrap();
        annotate(&mut runs[1..3], &shared, &meta);
        assert_eq!(not_measurable(&runs[1]), None);
        assert_eq!(runs[1].number("host_emulation_frac"), Some(0.06));
        let why = not_measurable(&runs[2]).unwrap();
        assert!(
            why.contains("waited 2.5%") && why.contains("beyond QEMU's emulation"),
            "{why}"
        );

        let meta = crate::meta::parse("vcpus=4\nhost_cores=2\nstage_vcpus=1 2 3\n").unwrap();
        annotate(&mut runs, &hosts, &meta);
        assert!(not_measurable(&runs[2])
            .unwrap()
            .starts_with("oversubscribed"));
        let mut lone = record::parse("profile=p kind=latency variant=poll\n").unwrap();
        annotate(&mut lone, &hosts, &crate::meta::parse("").unwrap());
        assert!(not_measurable(&lone[0])
            .unwrap()
            .starts_with("no host sample"));
    }
}
