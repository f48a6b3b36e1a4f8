// SPDX-License-Identifier: GPL-2.0

//! Counters: packets seen, per-lane accounting, per-stage per-CPU statistics.

use crate::{
    config::MAX_STAGES,
    histogram::BUCKETS,
    netfilter::{Hook, HookPacket, HookSlot, Verdict},
    policy::Reason,
};
use kernel::{
    prelude::*,
    sync::atomic::{Atomic, Relaxed},
};

/// Lanes: at most this many (a lane per CPU of the widest stage).
pub(crate) const MAX_LANES: usize = 64;

/// Why a stolen packet was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DropReason {
    /// The next stage's queue was full.
    QueueFull,
    /// A rule dropped it.
    Rule,
    /// Its headers failed the `parse` operation.
    Parse,
    /// It was still queued when the pipeline stopped and could not be delivered in time.
    Drain,
}

impl DropReason {
    /// Every reason, in the order statistics list them.
    pub(crate) const ALL: [DropReason; 4] = [
        DropReason::QueueFull,
        DropReason::Rule,
        DropReason::Parse,
        DropReason::Drain,
    ];

    /// The reason's name in statistics.
    pub(crate) fn name(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::Rule => "rule",
            DropReason::Parse => "parse",
            DropReason::Drain => "drain",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

fn zeroes<const N: usize>() -> [Atomic<u64>; N] {
    core::array::from_fn(|_| Atomic::new(0))
}

/// A lane's accounting since load (or the last reset): `entered = delivered + dropped + in
/// flight` at every instant a reader could see, since `entered` is counted before a packet
/// is queued and the others after it left.
pub(crate) struct LaneTotals {
    entered: Atomic<u64>,
    delivered: Atomic<u64>,
    dropped: [Atomic<u64>; DropReason::ALL.len()],
}

/// A snapshot of lane counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LaneSnapshot {
    pub(crate) entered: u64,
    pub(crate) delivered: u64,
    pub(crate) dropped: [u64; DropReason::ALL.len()],
}

impl LaneSnapshot {
    /// All drops.
    pub(crate) fn dropped_total(&self) -> u64 {
        self.dropped.iter().sum()
    }

    /// Entered and neither delivered nor dropped.
    pub(crate) fn in_flight(&self) -> u64 {
        self.entered
            .saturating_sub(self.delivered)
            .saturating_sub(self.dropped_total())
    }

    fn add(&mut self, o: &LaneSnapshot) {
        self.entered += o.entered;
        self.delivered += o.delivered;
        for (a, b) in self.dropped.iter_mut().zip(o.dropped) {
            *a += b;
        }
    }
}

impl LaneTotals {
    fn new() -> Self {
        Self {
            entered: Atomic::new(0),
            delivered: Atomic::new(0),
            dropped: zeroes(),
        }
    }

    pub(crate) fn count_entered(&self) {
        self.entered.add(1, Relaxed);
    }

    pub(crate) fn count_delivered(&self) {
        self.delivered.add(1, Relaxed);
    }

    pub(crate) fn count_dropped(&self, reason: DropReason) {
        self.dropped[reason.index()].add(1, Relaxed);
    }

    /// Reads the counters; `entered` last, so that a packet is never seen leaving before it
    /// entered.
    pub(crate) fn snapshot(&self) -> LaneSnapshot {
        let delivered = self.delivered.load(Relaxed);
        let dropped = core::array::from_fn(|i| self.dropped[i].load(Relaxed));
        LaneSnapshot {
            entered: self.entered.load(Relaxed),
            delivered,
            dropped,
        }
    }

    fn reset(&self) {
        self.entered.store(0, Relaxed);
        self.delivered.store(0, Relaxed);
        for d in &self.dropped {
            d.store(0, Relaxed);
        }
    }
}

/// What one stage did on one CPU.
pub(crate) struct StageStats {
    pub(crate) packets: Atomic<u64>,
    pub(crate) polls: Atomic<u64>,
    pub(crate) empty_polls: Atomic<u64>,
    pub(crate) empty_poll_ns: Atomic<u64>,
    pub(crate) reschedules: [Atomic<u64>; Reason::ALL.len()],
    pub(crate) completions: Atomic<u64>,
    pub(crate) wakeups_sent: Atomic<u64>,
    pub(crate) wakeups_received: Atomic<u64>,
    /// Log2 buckets of nanoseconds from pipeline entry to this stage's exit.
    pub(crate) latency: [Atomic<u64>; BUCKETS],
}

impl StageStats {
    fn new() -> Self {
        Self {
            packets: Atomic::new(0),
            polls: Atomic::new(0),
            empty_polls: Atomic::new(0),
            empty_poll_ns: Atomic::new(0),
            reschedules: zeroes(),
            completions: Atomic::new(0),
            wakeups_sent: Atomic::new(0),
            wakeups_received: Atomic::new(0),
            latency: zeroes(),
        }
    }

    fn all(&self) -> impl Iterator<Item = &Atomic<u64>> {
        let scalars = [
            &self.packets,
            &self.polls,
            &self.empty_polls,
            &self.empty_poll_ns,
            &self.completions,
            &self.wakeups_sent,
            &self.wakeups_received,
        ];
        let arrays = Iterator::chain(self.reschedules.iter(), self.latency.iter());
        Iterator::chain(scalars.into_iter(), arrays)
    }

    /// Whether this stage ever ran on this CPU (since the last reset).
    pub(crate) fn is_idle(&self) -> bool {
        self.all().all(|c| c.load(Relaxed) == 0)
    }
}

/// Adds one to a counter.
pub(crate) fn inc(c: &Atomic<u64>) {
    c.add(1, Relaxed);
}

/// Every counter vigil keeps. Survives pipeline rebuilds: only `reset` zeroes it.
pub(crate) struct Stats {
    /// Packets the counting hook saw (prerouting, IPv4 and IPv6, every namespace).
    seen: Atomic<u64>,
    lanes: KVec<LaneTotals>,
    /// `[stage][cpu]`, flattened.
    stages: KVVec<StageStats>,
    nr_cpus: usize,
}

impl Stats {
    /// All counters at zero, for `nr_cpus` possible CPUs.
    pub(crate) fn new(nr_cpus: usize) -> Result<Self> {
        let mut lanes = KVec::with_capacity(MAX_LANES, GFP_KERNEL)?;
        for _ in 0..MAX_LANES {
            lanes.push(LaneTotals::new(), GFP_KERNEL)?;
        }
        let mut stages = KVVec::with_capacity(MAX_STAGES * nr_cpus, GFP_KERNEL)?;
        for _ in 0..MAX_STAGES * nr_cpus {
            stages.push(StageStats::new(), GFP_KERNEL)?;
        }
        Ok(Self {
            seen: Atomic::new(0),
            lanes,
            stages,
            nr_cpus,
        })
    }

    /// Packets seen so far.
    pub(crate) fn seen(&self) -> u64 {
        self.seen.load(Relaxed)
    }

    /// Lane `lane`'s totals (lanes past `MAX_LANES` share the last one).
    pub(crate) fn lane(&self, lane: usize) -> &LaneTotals {
        &self.lanes[lane.min(MAX_LANES - 1)]
    }

    /// The sum over lanes.
    pub(crate) fn totals(&self) -> LaneSnapshot {
        let mut sum = LaneSnapshot::default();
        for lane in &self.lanes {
            sum.add(&lane.snapshot());
        }
        sum
    }

    /// Per-lane snapshots.
    pub(crate) fn lane_snapshots(&self) -> impl Iterator<Item = (usize, LaneSnapshot)> + '_ {
        self.lanes.iter().map(LaneTotals::snapshot).enumerate()
    }

    /// Stage `stage` on CPU `cpu` (out-of-range CPUs share the last slot).
    pub(crate) fn stage(&self, stage: usize, cpu: u32) -> &StageStats {
        let cpu = (cpu as usize).min(self.nr_cpus - 1);
        &self.stages[stage.min(MAX_STAGES - 1) * self.nr_cpus + cpu]
    }

    /// How many CPUs the stage table covers.
    pub(crate) fn nr_cpus(&self) -> usize {
        self.nr_cpus
    }

    /// Zeroes every counter. Lanes with packets in flight keep their identity only from the
    /// next quiet moment on.
    pub(crate) fn reset(&self) {
        self.seen.store(0, Relaxed);
        for lane in &self.lanes {
            lane.reset();
        }
        for s in self.stages.iter() {
            for c in s.all() {
                c.store(0, Relaxed);
            }
        }
    }
}

/// The counting hook: sees every IPv4 and IPv6 packet at prerouting, in every namespace.
pub(crate) struct SeenCounter(pub(crate) kernel::sync::Arc<Stats>);

static SEEN_SLOT: HookSlot = HookSlot::new();

impl Hook for SeenCounter {
    fn slot() -> &'static HookSlot {
        &SEEN_SLOT
    }

    fn hook(&self, _pkt: HookPacket<'_>) -> Verdict {
        self.0.seen.add(1, Relaxed);
        Verdict::Accept
    }
}
