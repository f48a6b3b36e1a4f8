// SPDX-License-Identifier: GPL-2.0

//! The CPU allocator in the simulation: each stage's CPUs, which follow the module's own
//! decision ([`vigil_core::allocator`]) at the end of every interval.

use vigil_core::allocator::{Allocator, Change, Pool, Reason, StageLoad};

use crate::config::Config;

/// One interval of the allocator: what it measured and what it decided at its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interval {
    /// Its start, from the start of the traffic.
    pub start_ns: u64,
    /// Its end, when the allocator decided.
    pub end_ns: u64,
    /// Packets that arrived in it.
    pub arrived: u64,
    /// Per stage: its busy time and the CPUs it held, as the allocator saw them.
    pub loads: Vec<StageLoad>,
    /// The decision, in the order it was applied.
    pub changes: Vec<Change>,
}

impl Interval {
    /// Its length.
    pub fn elapsed_ns(&self) -> u64 {
        self.end_ns - self.start_ns
    }

    /// The offered load, packets per second.
    pub fn offered_pps(&self) -> u64 {
        (u128::from(self.arrived) * 1_000_000_000)
            .checked_div(u128::from(self.elapsed_ns()))
            .map_or(0, |pps| pps as u64)
    }

    /// How busy stage `stage`'s CPUs were, per mille.
    pub fn busy_permille(&self, stage: usize) -> u32 {
        self.loads[stage].busy_permille(self.elapsed_ns())
    }
}

/// The allocator's state in a run.
///
/// # Invariants
///
/// Every stage holds at least one CPU, no CPU is held twice, and every CPU is below `cpus`.
pub struct Allocating {
    allocator: Allocator,
    /// Per stage, its CPUs: lane `i` runs on the `i % len`-th, as `stageN/cpus` places lanes.
    stage_cpus: Vec<Vec<usize>>,
    pinned: Vec<bool>,
    cpus: usize,
    /// Per stage, time spent on packets in this interval.
    busy_ns: Vec<u64>,
    arrived: u64,
    since_ns: u64,
}

impl Allocating {
    /// The allocator of `config`, if it runs one (`config` must be valid).
    pub fn new(config: &Config) -> Option<Allocating> {
        let allocation = config.allocation.as_ref()?;
        let allocator = Allocator::new(allocation.settings).ok()?;
        Some(Allocating {
            allocator,
            stage_cpus: config.initial_stage_cpus(),
            pinned: (0..config.stages)
                .map(|k| allocation.pinned.iter().any(|(s, _)| *s == k))
                .collect(),
            cpus: config.cpus,
            busy_ns: vec![0; config.stages],
            arrived: 0,
            since_ns: 0,
        })
    }

    /// How long an interval lasts.
    pub fn interval_ns(&self) -> u64 {
        self.allocator.settings().interval_ns
    }

    /// The CPU stage `stage` of lane `lane` is bound to now.
    pub fn home(&self, lane: usize, stage: usize) -> usize {
        let cpus = &self.stage_cpus[stage];
        cpus[lane % cpus.len()]
    }

    /// Counts `ns` spent by stage `stage` on a packet.
    pub fn add_busy(&mut self, stage: usize, ns: u64) {
        self.busy_ns[stage] += ns;
    }

    /// Counts an arrival.
    pub fn add_arrival(&mut self) {
        self.arrived += 1;
    }

    /// Ends the interval at `now_ns` (from the start of the traffic): decides, and applies the
    /// changes to the stages' CPUs. A stage that grows takes the lowest free CPU; one that
    /// shrinks gives back the CPU it took last.
    pub fn end_interval(&mut self, now_ns: u64) -> Interval {
        let loads: Vec<StageLoad> = self
            .stage_cpus
            .iter()
            .zip(&self.busy_ns)
            .zip(&self.pinned)
            .map(|((cpus, &busy_ns), &pinned)| StageLoad {
                busy_ns,
                cpus: cpus.len() as u32,
                pinned,
            })
            .collect();
        let held: usize = self.stage_cpus.iter().map(Vec::len).sum();
        let pool = Pool {
            size: self.cpus as u32,
            free: (self.cpus - held) as u32,
        };
        let elapsed_ns = now_ns - self.since_ns;
        let changes = self.allocator.decide(&loads, elapsed_ns, pool);
        for change in changes.as_slice() {
            match change.reason {
                Reason::AboveHighWater => {
                    let free =
                        (0..self.cpus).find(|c| !self.stage_cpus.iter().flatten().any(|h| h == c));
                    self.stage_cpus[change.stage].extend(free);
                }
                Reason::BelowLowWater => {
                    self.stage_cpus[change.stage].pop();
                }
                Reason::PoolEmpty => {}
            }
        }
        let interval = Interval {
            start_ns: self.since_ns,
            end_ns: now_ns,
            arrived: self.arrived,
            loads,
            changes: changes.as_slice().to_vec(),
        };
        self.since_ns = now_ns;
        self.arrived = 0;
        self.busy_ns.fill(0);
        interval
    }
}
