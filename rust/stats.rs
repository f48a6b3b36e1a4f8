// SPDX-License-Identifier: GPL-2.0

//! Counters: packets seen, per-lane accounting, per-stage per-CPU statistics.

use crate::{
    allocator::Reason as AllocReason,
    config::MAX_STAGES,
    histogram::{self, BUCKETS},
    napi::current_cpu,
    policy::Reason,
    sys,
};
use kernel::{
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc,
    },
};

/// Lanes: at most this many (a lane per CPU of the widest stage).
pub(crate) const MAX_LANES: usize = 64;

/// Why a packet vigil took was dropped.
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
    /// No memory to hold it.
    NoMemory,
    /// Its route went away as it was taken (`skb_dst_force` failed).
    RouteGone,
    /// The pipelines held `max_held_packets` or `max_held_bytes` already.
    OverLimit,
    /// Its namespace held `netns_quota` packets already.
    NetnsQuota,
    /// Its namespace went away while it was held.
    NetnsGone,
    /// A device it refers to went down or away while it was held.
    DeviceGone,
    /// The hook that took it was gone from its namespace when it came out.
    Unhooked,
}

impl DropReason {
    /// Every reason, in the order statistics list them.
    pub(crate) const ALL: [DropReason; 11] = [
        DropReason::QueueFull,
        DropReason::Rule,
        DropReason::Parse,
        DropReason::Drain,
        DropReason::NoMemory,
        DropReason::RouteGone,
        DropReason::OverLimit,
        DropReason::NetnsQuota,
        DropReason::NetnsGone,
        DropReason::DeviceGone,
        DropReason::Unhooked,
    ];

    /// The reason's file under `stats/drops/`.
    pub(crate) fn file_name(self) -> &'static CStr {
        match self {
            DropReason::QueueFull => c"queue_full",
            DropReason::Rule => c"rule",
            DropReason::Parse => c"parse",
            DropReason::Drain => c"drain",
            DropReason::NoMemory => c"no_memory",
            DropReason::RouteGone => c"route_gone",
            DropReason::OverLimit => c"over_limit",
            DropReason::NetnsQuota => c"netns_quota",
            DropReason::NetnsGone => c"netns_gone",
            DropReason::DeviceGone => c"device_gone",
            DropReason::Unhooked => c"unhooked",
        }
    }

    /// The kernel's drop reason, which `skb:kfree_skb` and dropwatch show (a module cannot
    /// add reasons of its own: the closest core one).
    pub(crate) fn skb_reason(self) -> sys::skb_drop_reason {
        match self {
            DropReason::QueueFull | DropReason::NetnsQuota => {
                sys::skb_drop_reason_SKB_DROP_REASON_FULL_RING
            }
            DropReason::Rule => sys::skb_drop_reason_SKB_DROP_REASON_NETFILTER_DROP,
            DropReason::Parse => sys::skb_drop_reason_SKB_DROP_REASON_IP_INHDR,
            DropReason::Drain | DropReason::NetnsGone | DropReason::Unhooked => {
                sys::skb_drop_reason_SKB_DROP_REASON_QUEUE_PURGE
            }
            DropReason::NoMemory | DropReason::OverLimit => {
                sys::skb_drop_reason_SKB_DROP_REASON_NOMEM
            }
            DropReason::RouteGone => sys::skb_drop_reason_SKB_DROP_REASON_IP_INNOROUTES,
            DropReason::DeviceGone => sys::skb_drop_reason_SKB_DROP_REASON_DEV_READY,
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
    /// Time spent in polls that handled packets: what the CPU allocator reads.
    pub(crate) busy_ns: Atomic<u64>,
    pub(crate) reschedules: [Atomic<u64>; Reason::ALL.len()],
    pub(crate) completions: Atomic<u64>,
    pub(crate) wakeups_sent: Atomic<u64>,
    pub(crate) wakeups_received: Atomic<u64>,
}

impl StageStats {
    fn new() -> Self {
        Self {
            packets: Atomic::new(0),
            polls: Atomic::new(0),
            empty_polls: Atomic::new(0),
            empty_poll_ns: Atomic::new(0),
            busy_ns: Atomic::new(0),
            reschedules: zeroes(),
            completions: Atomic::new(0),
            wakeups_sent: Atomic::new(0),
            wakeups_received: Atomic::new(0),
        }
    }

    fn all(&self) -> impl Iterator<Item = &Atomic<u64>> {
        let scalars = [
            &self.packets,
            &self.polls,
            &self.empty_polls,
            &self.empty_poll_ns,
            &self.busy_ns,
            &self.completions,
            &self.wakeups_sent,
            &self.wakeups_received,
        ];
        Iterator::chain(scalars.into_iter(), self.reschedules.iter())
    }

    /// Whether this stage ever ran on this CPU (since the last reset). Its latency buckets
    /// need no look: a latency is recorded inside a poll, which `polls` counts as it ends.
    pub(crate) fn is_idle(&self) -> bool {
        self.all().all(|c| c.load(Relaxed) == 0)
    }
}

/// Adds one to a counter.
pub(crate) fn inc(c: &Atomic<u64>) {
    c.add(1, Relaxed);
}

/// Packets the hook let pass untouched, by why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Skip {
    /// br_netfilter's: their bridge port state is not kept across a steal.
    Bridged,
    /// The l3mdev (VRF) second pass, whose continuation frees the packet.
    L3mdev,
}

impl Skip {
    /// Every reason, in the order statistics list them.
    pub(crate) const ALL: [Skip; 2] = [Skip::Bridged, Skip::L3mdev];
}

/// What the pipelines hold right now, all of them together, against the limits.
pub(crate) struct Held {
    packets: Atomic<u64>,
    bytes: Atomic<u64>,
}

impl Held {
    /// Nothing held.
    pub(crate) fn new() -> Self {
        Self {
            packets: Atomic::new(0),
            bytes: Atomic::new(0),
        }
    }

    /// Counts a packet of `bytes` in, unless that would pass `max_packets` or `max_bytes`.
    pub(crate) fn reserve(&self, bytes: u64, max_packets: u64, max_bytes: u64) -> bool {
        let packets = self.packets.fetch_add(1, Relaxed) + 1;
        let total = self.bytes.fetch_add(bytes, Relaxed) + bytes;
        if packets <= max_packets && total <= max_bytes {
            return true;
        }
        self.release(bytes);
        false
    }

    /// Counts a packet of `bytes` out.
    pub(crate) fn release(&self, bytes: u64) {
        let _ = self.packets.fetch_sub(1, Relaxed);
        let _ = self.bytes.fetch_sub(bytes, Relaxed);
    }

    /// Packets held.
    pub(crate) fn packets(&self) -> u64 {
        self.packets.load(Relaxed)
    }

    /// Bytes held.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes.load(Relaxed)
    }
}

/// One CPU's share of a [`PerCpuCounter`], alone on its cache line.
#[repr(align(64))]
struct CpuSlot(Atomic<u64>);

/// A counter with a slot per CPU, so that CPUs counting at once do not share a cache line.
/// Reads sum the slots.
pub(crate) struct PerCpuCounter {
    slots: KVec<CpuSlot>,
}

impl PerCpuCounter {
    fn new(nr_cpus: usize) -> Result<Self> {
        let mut slots = KVec::with_capacity(nr_cpus.max(1), GFP_KERNEL)?;
        for _ in 0..nr_cpus.max(1) {
            slots.push(CpuSlot(Atomic::new(0)), GFP_KERNEL)?;
        }
        Ok(Self { slots })
    }

    /// Adds one on this CPU's slot (CPUs past the table share the last one).
    pub(crate) fn inc(&self) {
        if let Some(slot) = self.slots.get(current_cpu()).or(self.slots.last()) {
            slot.0.add(1, Relaxed);
        }
    }

    /// The sum over CPUs.
    pub(crate) fn sum(&self) -> u64 {
        self.slots.iter().map(|s| s.0.load(Relaxed)).sum()
    }

    fn reset(&self) {
        for s in self.slots.iter() {
            s.0.store(0, Relaxed);
        }
    }
}

/// Every counter vigil keeps. Survives pipeline rebuilds: only `reset` zeroes it.
pub(crate) struct Stats {
    /// Packets the counting hook saw (prerouting, IPv4 and IPv6, every namespace), while the
    /// pipeline ran.
    pub(crate) seen: PerCpuCounter,
    /// What the pipelines hold now, all of them together (a level, not a count: `reset`
    /// leaves it).
    pub(crate) held: Arc<Held>,
    skipped: [Atomic<u64>; Skip::ALL.len()],
    /// The allocator's changes, by reason (`allocator::Reason::index`).
    allocations: [Atomic<u64>; AllocReason::ALL.len()],
    lanes: KVec<LaneTotals>,
    /// `[stage][cpu]`, flattened.
    stages: KVVec<StageStats>,
    /// `[stage][cpu][bucket]`, flattened: per stage and CPU, the histogram
    /// (`shared/histogram.rs`) of the nanoseconds from pipeline entry to the stage's exit. A
    /// CPU's buckets fill whole cache lines of their own ([`BUCKETS`] is a multiple of 8).
    latency: KVVec<Atomic<u64>>,
    nr_cpus: usize,
}

impl Stats {
    /// All counters at zero, for `nr_cpus` possible CPUs, with a [`Held`] of its own.
    pub(crate) fn new(nr_cpus: usize) -> Result<Self> {
        Self::with_held(nr_cpus, Arc::new(Held::new(), GFP_KERNEL)?)
    }

    /// All counters at zero, for `nr_cpus` possible CPUs, counting what is held into `held`,
    /// which other pipelines' counters share.
    pub(crate) fn with_held(nr_cpus: usize, held: Arc<Held>) -> Result<Self> {
        let mut lanes = KVec::with_capacity(MAX_LANES, GFP_KERNEL)?;
        for _ in 0..MAX_LANES {
            lanes.push(LaneTotals::new(), GFP_KERNEL)?;
        }
        let mut stages = KVVec::with_capacity(MAX_STAGES * nr_cpus, GFP_KERNEL)?;
        for _ in 0..MAX_STAGES * nr_cpus {
            stages.push(StageStats::new(), GFP_KERNEL)?;
        }
        // 60 KiB per CPU, which kvmalloc takes from vmalloc when kmalloc cannot: pushed counter
        // by counter, as a histogram is too big to build on the stack.
        let mut latency = KVVec::with_capacity(MAX_STAGES * nr_cpus * BUCKETS, GFP_KERNEL)?;
        for _ in 0..MAX_STAGES * nr_cpus * BUCKETS {
            latency.push(Atomic::new(0), GFP_KERNEL)?;
        }
        Ok(Self {
            seen: PerCpuCounter::new(nr_cpus)?,
            held,
            skipped: zeroes(),
            allocations: zeroes(),
            lanes,
            stages,
            latency,
            nr_cpus,
        })
    }

    /// Packets seen so far.
    pub(crate) fn seen(&self) -> u64 {
        self.seen.sum()
    }

    /// Counts one of the allocator's changes.
    pub(crate) fn count_allocation(&self, why: AllocReason) {
        inc(&self.allocations[why.index()]);
    }

    /// The allocator's changes for `why`.
    pub(crate) fn allocations(&self, why: AllocReason) -> u64 {
        self.allocations[why.index()].load(Relaxed)
    }

    /// Counts a packet let pass for `why`.
    pub(crate) fn count_skipped(&self, why: Skip) {
        inc(&self.skipped[why as usize]);
    }

    /// Packets let pass for `why`.
    pub(crate) fn skipped(&self, why: Skip) -> u64 {
        self.skipped[why as usize].load(Relaxed)
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

    /// Stage `stage` on CPU `cpu` (out-of-range CPUs share the last slot).
    pub(crate) fn stage(&self, stage: usize, cpu: u32) -> &StageStats {
        let cpu = (cpu as usize).min(self.nr_cpus - 1);
        &self.stages[stage.min(MAX_STAGES - 1) * self.nr_cpus + cpu]
    }

    /// Stage `stage`'s histogram on CPU `cpu` (out-of-range CPUs share the last one).
    pub(crate) fn latency(&self, stage: usize, cpu: u32) -> &[Atomic<u64>] {
        let cpu = (cpu as usize).min(self.nr_cpus - 1);
        let start = (stage.min(MAX_STAGES - 1) * self.nr_cpus + cpu) * BUCKETS;
        &self.latency[start..start + BUCKETS]
    }

    /// Counts a packet that took `ns` from pipeline entry to the exit of stage `stage`, which
    /// runs on CPU `cpu`.
    pub(crate) fn record_latency(&self, stage: usize, cpu: u32, ns: u64) {
        inc(&self.latency(stage, cpu)[histogram::bucket(ns)]);
    }

    /// How many packets of stage `stage`, over every CPU, fell in latency bucket `bucket`.
    pub(crate) fn latency_count(&self, stage: usize, bucket: usize) -> u64 {
        let bucket = bucket.min(BUCKETS - 1);
        (0..self.nr_cpus as u32)
            .map(|cpu| self.latency(stage, cpu)[bucket].load(Relaxed))
            .sum()
    }

    /// Stage `stage` on every CPU the table covers.
    pub(crate) fn stage_on_every_cpu(&self, stage: usize) -> impl Iterator<Item = &StageStats> {
        let start = stage.min(MAX_STAGES - 1) * self.nr_cpus;
        self.stages[start..start + self.nr_cpus].iter()
    }

    /// How many CPUs the stage table covers.
    pub(crate) fn nr_cpus(&self) -> usize {
        self.nr_cpus
    }

    /// Zeroes every counter. Lanes with packets in flight keep their identity only from the
    /// next quiet moment on.
    pub(crate) fn reset(&self) {
        self.seen.reset();
        for c in Iterator::chain(self.skipped.iter(), &self.allocations) {
            c.store(0, Relaxed);
        }
        for lane in &self.lanes {
            lane.reset();
        }
        for s in self.stages.iter() {
            for c in s.all() {
                c.store(0, Relaxed);
            }
        }
        for c in self.latency.iter() {
            c.store(0, Relaxed);
        }
    }
}
