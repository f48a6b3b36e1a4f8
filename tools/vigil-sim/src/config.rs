// SPDX-License-Identifier: GPL-2.0

//! What is simulated: the topology, the costs and the policy's knobs.

use vigil_core::allocator::Settings;
use vigil_core::policy::{Params, Policy};

/// The most CPUs a run may use.
pub const MAX_CPUS: usize = 64;
/// The most stages a pipeline has (as in the module: `stage0/` to `stage7/`).
pub const MAX_STAGES: usize = 8;
/// The most lanes: at most one per CPU.
pub const MAX_LANES: usize = MAX_CPUS;

/// Time costs of the machine, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Costs {
    /// From sending an IPI to the context being on the target CPU's poll list.
    pub ipi_ns: u64,
    /// Leaving a deep C-state: a CPU that slept longer than `residency_ns` (or never ran).
    pub deep_exit_ns: u64,
    /// Leaving a shallow C-state.
    pub shallow_exit_ns: u64,
    /// Sleeps longer than this end in a deep C-state.
    pub residency_ns: u64,
    /// One poll that finds its queue empty: the interval at which a polling context looks.
    pub poll_ns: u64,
    /// Packets one poll processes at most before going to the back of the poll list.
    pub budget: u32,
}

impl Default for Costs {
    fn default() -> Self {
        Self {
            ipi_ns: 2_000,
            deep_exit_ns: 20_000,
            shallow_exit_ns: 1_000,
            residency_ns: 50_000,
            poll_ns: 500,
            budget: 64,
        }
    }
}

/// A pipeline to simulate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Lanes.
    pub lanes: usize,
    /// Stages per lane.
    pub stages: usize,
    /// CPUs of the machine.
    pub cpus: usize,
    /// Service time per packet of each stage (one entry per stage).
    pub service_ns: Vec<u64>,
    /// The CPU of each context, stage-major (stage 0's lanes first); `None` for the default
    /// `(k * lanes + i) % cpus`.
    pub cpu_map: Option<Vec<usize>>,
    /// `poll_window_ns`.
    pub window_ns: u64,
    /// `backlog_threshold`.
    pub backlog_threshold: u32,
    /// `burst_gap_ns`.
    pub burst_gap_ns: u64,
    /// The machine's costs.
    pub costs: Costs,
    /// Record a stage's last work as `rust/pipeline.rs` does today, only at the end of a poll
    /// that drains its queue, so that a poll that spends its whole budget leaves it stale;
    /// `false` records it after every packet, as `View::last_work_ns` is documented.
    pub stale_last_work: bool,
    /// Run the CPU allocator over the machine's CPUs (the pool), instead of `cpu_map`.
    pub allocation: Option<Allocation>,
}

/// The CPU allocator's run: the machine's CPUs are the pool, and each stage's CPUs follow
/// [`vigil_core::allocator::Allocator::decide`] every interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    /// The allocator's knobs.
    pub settings: Settings,
    /// Stages whose CPUs are set by hand (`stageN/cpus`), with those CPUs: the allocator
    /// leaves them alone.
    pub pinned: Vec<(usize, Vec<usize>)>,
}

impl Config {
    /// `lanes` lanes of `stages` stages on `cpus` CPUs, with the module's default knobs
    /// (window 200 us, threshold 1, burst gap 20 us) and the default costs.
    pub fn new(lanes: usize, stages: usize, cpus: usize) -> Self {
        Self {
            lanes,
            stages,
            cpus,
            service_ns: vec![1_000; stages],
            cpu_map: None,
            window_ns: 200_000,
            backlog_threshold: 1,
            burst_gap_ns: 20_000,
            costs: Costs::default(),
            stale_last_work: false,
            allocation: None,
        }
    }

    /// Checks the limits and that the lists have the right lengths.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=MAX_LANES).contains(&self.lanes) {
            return Err(format!("lanes must be 1 to {MAX_LANES}"));
        }
        if !(1..=MAX_STAGES).contains(&self.stages) {
            return Err(format!("stages must be 1 to {MAX_STAGES}"));
        }
        if !(1..=MAX_CPUS).contains(&self.cpus) {
            return Err(format!("cpus must be 1 to {MAX_CPUS}"));
        }
        if self.service_ns.len() != self.stages {
            return Err(format!(
                "{} service times for {} stages",
                self.service_ns.len(),
                self.stages
            ));
        }
        if self.costs.budget == 0 {
            return Err("budget must be at least 1".into());
        }
        if self.costs.poll_ns == 0 {
            return Err("the poll interval must be at least 1 ns".into());
        }
        if let Some(allocation) = &self.allocation {
            self.validate_allocation(allocation)?;
        }
        if let Some(map) = &self.cpu_map {
            if map.len() != self.lanes * self.stages {
                return Err(format!(
                    "the CPU map has {} entries for {} contexts",
                    map.len(),
                    self.lanes * self.stages
                ));
            }
            if let Some(cpu) = map.iter().find(|&&c| c >= self.cpus) {
                return Err(format!("CPU {cpu} in the map, but only {} CPUs", self.cpus));
            }
        }
        Ok(())
    }

    fn validate_allocation(&self, allocation: &Allocation) -> Result<(), String> {
        if self.cpu_map.is_some() {
            return Err("the allocator places the stages: no CPU map with it".into());
        }
        allocation
            .settings
            .check()
            .map_err(|_| "the allocator's settings are out of range".to_string())?;
        let mut taken = [false; MAX_CPUS];
        for (i, (stage, cpus)) in allocation.pinned.iter().enumerate() {
            if *stage >= self.stages {
                return Err(format!(
                    "stage {stage} pinned, but only {} stages",
                    self.stages
                ));
            }
            if allocation.pinned[..i].iter().any(|(s, _)| s == stage) {
                return Err(format!("stage {stage} pinned twice"));
            }
            if cpus.is_empty() {
                return Err(format!("stage {stage} pinned to no CPU"));
            }
            for &cpu in cpus {
                if cpu >= self.cpus {
                    return Err(format!("CPU {cpu} pinned, but only {} CPUs", self.cpus));
                }
                if std::mem::replace(&mut taken[cpu], true) {
                    return Err(format!("CPU {cpu} pinned twice"));
                }
            }
        }
        let free = taken[..self.cpus].iter().filter(|&&t| !t).count();
        let unpinned = self.stages - allocation.pinned.len();
        if unpinned > free {
            return Err(format!(
                "{unpinned} stages to place on {free} CPUs left after pinning"
            ));
        }
        Ok(())
    }

    /// Under the allocator, each stage's CPUs at the start: the pinned ones as given, and one
    /// each for the others, the lowest CPU nobody holds, in stage order.
    pub fn initial_stage_cpus(&self) -> Vec<Vec<usize>> {
        let pinned: &[(usize, Vec<usize>)] = match &self.allocation {
            Some(a) => &a.pinned,
            None => &[],
        };
        let mut held: Vec<Vec<usize>> = (0..self.stages)
            .map(|k| {
                pinned
                    .iter()
                    .find(|(s, _)| *s == k)
                    .map_or(Vec::new(), |(_, cpus)| cpus.clone())
            })
            .collect();
        for k in 0..self.stages {
            if held[k].is_empty() {
                let cpu = (0..self.cpus).find(|c| !held.iter().flatten().any(|h| h == c));
                held[k].extend(cpu);
            }
        }
        held
    }

    /// The CPU that runs stage `stage` of lane `lane`.
    pub fn cpu(&self, lane: usize, stage: usize) -> usize {
        match &self.cpu_map {
            Some(map) => map[stage * self.lanes + lane],
            None => (stage * self.lanes + lane) % self.cpus,
        }
    }

    /// The CPUs that host at least one context; under the allocator, the whole pool.
    pub fn cpus_used(&self) -> usize {
        if self.allocation.is_some() {
            return self.cpus;
        }
        let mut used = [false; MAX_CPUS];
        for lane in 0..self.lanes {
            for stage in 0..self.stages {
                used[self.cpu(lane, stage)] = true;
            }
        }
        used.iter().filter(|&&u| u).count()
    }

    /// The decision's knobs under `policy`.
    pub fn params(&self, policy: Policy) -> Params {
        Params {
            policy,
            window_ns: self.window_ns,
            backlog_threshold: self.backlog_threshold,
            burst_gap_ns: self.burst_gap_ns,
        }
    }
}
