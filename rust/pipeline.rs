// SPDX-License-Identifier: GPL-2.0

//! The staged pipeline: lanes of NAPI stages bound to CPUs, what each stage does to a packet,
//! and the decision it makes once its queue is drained.
//!
//! A flow hash picks a lane; stage `k` of lane `i` runs on the `i`th CPU of stage `k`'s list
//! (wrapping around). Queues are FIFO and a flow always takes the same lane, so packets of a
//! flow leave in the order they entered.

use crate::{
    clock::now_ns,
    config::{HookPoint, Match, Ops, Rules, MAX_STAGES},
    headers::{self, L4},
    histogram,
    napi::{Kick, Napi, NapiDevice, NapiHandler},
    netfilter::{self, Hook, HookOptions, HookPacket, HookSlot, Registration, Stolen, Verdict},
    policy::{self, Decision, Params, View},
    skb::SkBuffRef,
    stats::{inc, DropReason, Stats, MAX_LANES},
    sys,
};
use kernel::{
    new_spinlock,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc, SpinLock,
    },
    time::{delay::fsleep, Delta},
};

/// What a stage instance keeps beside each stolen packet.
#[derive(Debug, Clone, Copy)]
struct Meta {
    /// The lane's sequence number, from 1.
    seq: u64,
    /// When it entered the pipeline.
    entered_ns: u64,
}

type Packet = Stolen<Meta>;

/// One stage's settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StageConfig {
    pub(crate) cpus: crate::config::CpuList,
    pub(crate) ops: Ops,
    pub(crate) work_ns: u64,
}

/// What a pipeline is built from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PipelineConfig {
    pub(crate) stages: usize,
    pub(crate) stage: [StageConfig; MAX_STAGES],
    pub(crate) params: Params,
    pub(crate) queue_len: u32,
    pub(crate) hook: HookPoint,
    pub(crate) matcher: Match,
    pub(crate) rules: Rules,
}

impl PipelineConfig {
    /// Lanes: the widest stage's CPU count.
    pub(crate) fn lanes(&self) -> usize {
        self.stage[..self.stages]
            .iter()
            .map(|s| s.cpus.len())
            .max()
            .unwrap_or(1)
            .clamp(1, MAX_LANES)
    }
}

/// A lane's ledger since the pipeline was built: what the look-ahead reads.
struct Ledger {
    /// The head sequence: the last sequence number handed out.
    entered: Atomic<u64>,
    /// When the head last advanced (0: never).
    head_entry_ns: Atomic<u64>,
    /// Packets that left the pipeline, delivered or dropped.
    finished: Atomic<u64>,
    /// Per stage: packets it has handled.
    handled: [Atomic<u64>; MAX_STAGES],
    /// Per stage: packets dropped before they could reach it.
    retired_before: [Atomic<u64>; MAX_STAGES],
    /// Per stage: packets waiting in its queue.
    queued: [Atomic<u64>; MAX_STAGES],
}

impl Ledger {
    fn new() -> Self {
        Self {
            entered: Atomic::new(0),
            head_entry_ns: Atomic::new(0),
            finished: Atomic::new(0),
            handled: core::array::from_fn(|_| Atomic::new(0)),
            retired_before: core::array::from_fn(|_| Atomic::new(0)),
            queued: core::array::from_fn(|_| Atomic::new(0)),
        }
    }

    fn in_flight(&self) -> u64 {
        let finished = self.finished.load(Relaxed);
        self.entered.load(Relaxed).saturating_sub(finished)
    }
}

/// What every stage instance of a pipeline shares.
struct Shared {
    stats: Arc<Stats>,
    stages: usize,
    params: Params,
    rules: Rules,
    ledgers: KVec<Ledger>,
}

impl Shared {
    /// Drops `p`, which stage `from` (or the queue of stage `from`) could not pass on.
    fn drop_packet(&self, lane: usize, from: usize, p: Packet, reason: DropReason) {
        let ledger = &self.ledgers[lane];
        for k in from..self.stages {
            inc(&ledger.retired_before[k]);
        }
        self.stats.lane(lane).count_dropped(reason);
        inc(&ledger.finished);
        drop(p);
    }
}

/// A FIFO ring of packets, of fixed capacity.
struct Ring {
    slots: KVec<Option<Packet>>,
    head: usize,
    len: usize,
}

impl Ring {
    fn new(capacity: usize) -> Result<Self> {
        let mut slots = KVec::with_capacity(capacity, GFP_KERNEL)?;
        for _ in 0..capacity {
            slots.push(None, GFP_KERNEL)?;
        }
        Ok(Self {
            slots,
            head: 0,
            len: 0,
        })
    }

    fn push(&mut self, p: Packet) -> Result<(), Packet> {
        let cap = self.slots.len();
        if self.len == cap {
            return Err(p);
        }
        let tail = (self.head + self.len) % cap;
        self.slots[tail] = Some(p);
        self.len += 1;
        Ok(())
    }

    fn pop(&mut self) -> Option<Packet> {
        if self.len == 0 {
            return None;
        }
        let p = self.slots[self.head].take();
        self.head = (self.head + 1) % self.slots.len();
        self.len -= 1;
        p
    }
}

/// One stage of one lane: a queue and what to do with its packets.
#[pin_data]
struct Stage {
    #[pin]
    queue: SpinLock<Ring>,
    shared: Arc<Shared>,
    lane: usize,
    index: usize,
    cpu: u32,
    ops: Ops,
    work_ns: u64,
    /// The stage after this one in the lane; `None` for the last, which delivers.
    next: Option<Arc<Napi<Stage>>>,
    /// When this stage last processed a packet.
    last_work_ns: Atomic<u64>,
}

impl Stage {
    fn ledger(&self) -> &Ledger {
        &self.shared.ledgers[self.lane]
    }

    fn stats(&self) -> &crate::stats::StageStats {
        self.shared.stats.stage(self.index, self.cpu)
    }

    /// Queues `p`; gives it back if the queue is full.
    fn push(&self, p: Packet) -> Result<(), Packet> {
        let mut q = self.queue.lock();
        q.push(p)?;
        // Published under the lock, so that readers never see it go below zero.
        self.ledger().queued[self.index].store(q.len as u64, Relaxed);
        Ok(())
    }

    /// Queues a packet entering the pipeline: its sequence number is handed out under the
    /// queue lock, so that sequence order is queue order. Returns whether the packet starts a
    /// burst that should wake the lane's other stages ahead of it ([`policy::wakes_ahead`]).
    fn push_new(&self, mut p: Packet) -> Result<bool, Packet> {
        let ledger = self.ledger();
        let now = p.meta().entered_ns;
        let mut q = self.queue.lock();
        // Counted as entered before it can be seen leaving.
        self.shared.stats.lane(self.lane).count_entered();
        let seq = ledger.entered.fetch_add(1, Relaxed) + 1;
        p.meta_mut().seq = seq;
        q.push(p)?;
        ledger.queued[self.index].store(q.len as u64, Relaxed);
        let previous = ledger.head_entry_ns.xchg(now, Relaxed);
        Ok(policy::wakes_ahead(&self.shared.params, now, previous))
    }

    fn pop(&self) -> Option<Packet> {
        let mut q = self.queue.lock();
        let p = q.pop()?;
        self.ledger().queued[self.index].store(q.len as u64, Relaxed);
        Some(p)
    }

    /// The built-in operations, then delivery or the next stage.
    fn process(&self, p: Packet) {
        let ledger = self.ledger();
        inc(&ledger.handled[self.index]);
        if self.ops.contains(Ops::PARSE) || self.ops.contains(Ops::RULES) {
            let l4 = check_l4(&p.skb(), p.family());
            if self.ops.contains(Ops::PARSE) && l4.is_err() {
                return self
                    .shared
                    .drop_packet(self.lane, self.index + 1, p, DropReason::Parse);
            }
            if self.ops.contains(Ops::RULES) {
                let (proto, dport) = l4.map_or((0, None), |l| (l.proto, l.dport));
                let verdict = self.shared.rules.apply(proto, dport);
                if let Some(mark) = verdict.mark {
                    p.skb().set_mark(mark);
                }
                if verdict.drop {
                    return self
                        .shared
                        .drop_packet(self.lane, self.index + 1, p, DropReason::Rule);
                }
            }
        }
        if self.ops.contains(Ops::WORK) {
            spin_for(self.work_ns);
        }
        let stats = self.stats();
        let latency = now_ns().saturating_sub(p.meta().entered_ns);
        inc(&stats.latency[histogram::bucket(latency)]);
        match &self.next {
            None => {
                self.shared.stats.lane(self.lane).count_delivered();
                inc(&ledger.finished);
                p.reinject();
            }
            Some(next) => {
                let stage = next.handler();
                match stage.push(p) {
                    Ok(()) => stage.kicked(next.schedule()),
                    Err(p) => {
                        self.shared
                            .drop_packet(self.lane, self.index + 1, p, DropReason::QueueFull)
                    }
                }
            }
        }
    }

    /// Counts the wake-up a producer caused.
    fn kicked(&self, kick: Kick) {
        if kick == Kick::Ipi {
            inc(&self.stats().wakeups_sent);
        }
    }

    /// The look-ahead: what this stage sees once its queue is empty.
    fn view(&self, now: u64) -> View {
        let ledger = self.ledger();
        // `entered` last: the estimate can only err high, and the window bounds that.
        let retired = ledger.retired_before[self.index].load(Relaxed);
        let handled = ledger.handled[self.index].load(Relaxed);
        let upstream_backlog = match self.index {
            0 => 0,
            k => ledger.queued[k - 1].load(Relaxed),
        };
        let entered = ledger.entered.load(Relaxed);
        View {
            now_ns: now,
            last_work_ns: self.last_work_ns.load(Relaxed),
            head_entry_ns: ledger.head_entry_ns.load(Relaxed),
            in_flight: policy::in_flight_toward(entered, handled, retired),
            upstream_backlog: u32::try_from(upstream_backlog).unwrap_or(u32::MAX),
        }
    }
}

impl NapiHandler for Stage {
    fn poll(&self, budget: i32) -> (i32, bool) {
        let start = now_ns();
        let mut done = 0;
        while done < budget {
            let Some(p) = self.pop() else { break };
            self.process(p);
            done += 1;
        }
        let stats = self.stats();
        inc(&stats.polls);
        stats.packets.add(done as u64, Relaxed);
        let now = now_ns();
        // Recorded before the budget check: a stage that stays busy for several polls must
        // not meet its first empty poll with a stale time, which would end its window early.
        if done > 0 {
            self.last_work_ns.store(now, Relaxed);
        }
        if done == budget {
            return (done, true);
        }
        if done == 0 {
            inc(&stats.empty_polls);
            stats.empty_poll_ns.add(now.saturating_sub(start), Relaxed);
        }
        match policy::decide(&self.shared.params, &self.view(now)) {
            Decision::Reschedule(reason) => {
                inc(&stats.reschedules[reason.index()]);
                (done, true)
            }
            Decision::Complete => {
                inc(&stats.completions);
                (done, false)
            }
        }
    }

    fn woken(&self) {
        inc(&self.stats().wakeups_received);
    }
}

/// Busy work for the `work` operation.
fn spin_for(ns: u64) {
    let start = now_ns();
    while now_ns().saturating_sub(start) < ns {
        core::hint::spin_loop();
    }
}

/// Checks the IP and transport headers of a packet seen by a hook of `family`.
fn check_l4(skb: &SkBuffRef<'_>, family: u8) -> Result<L4, headers::HeaderError> {
    let mut buf = [0u8; headers::PEEK_LEN];
    let peek = skb.peek(&mut buf);
    if family == sys::NFPROTO_IPV6 as u8 {
        headers::check_ipv6(peek, skb.len())
    } else {
        headers::check_ipv4(peek, skb.len())
    }
}

/// Schedules every stage after `first` in its lane, so that their CPUs leave their C-states
/// in parallel while a burst's first packet is still upstream: each then polls on the
/// look-ahead until the packet reaches it. A stage already scheduled costs nothing.
fn wake_downstream(first: &Stage) {
    let mut next = first.next.as_ref();
    while let Some(napi) = next {
        let stage = napi.handler();
        stage.kicked(napi.schedule());
        next = stage.next.as_ref();
    }
}

/// The stealing hook: matching packets enter stage 0 of their lane.
struct Entry {
    shared: Arc<Shared>,
    matcher: Match,
    /// Stage 0 of each lane.
    heads: KVec<Arc<Napi<Stage>>>,
}

static ENTRY_SLOT: HookSlot = HookSlot::new();

impl Hook for Entry {
    fn slot() -> &'static HookSlot {
        &ENTRY_SLOT
    }

    fn hook(&self, pkt: HookPacket<'_>) -> Verdict {
        if self.matcher != Match::All {
            // The filter needs only the protocol and port, read as far as the headers allow.
            let (proto, dport) =
                check_l4(pkt.skb(), pkt.family()).map_or((0, None), |l| (l.proto, l.dport));
            if !self.matcher.matches(proto, dport) {
                return Verdict::Accept;
            }
        }
        let lane = pkt.skb().flow_hash() as usize % self.heads.len();
        let meta = Meta {
            seq: 0,
            entered_ns: now_ns(),
        };
        let Ok((stolen, token)) = pkt.steal(meta) else {
            return Verdict::Accept;
        };
        let head = &self.heads[lane];
        let stage = head.handler();
        match stage.push_new(stolen) {
            Ok(wake_ahead) => {
                stage.kicked(head.schedule());
                if wake_ahead {
                    wake_downstream(stage);
                }
            }
            Err(p) => self.shared.drop_packet(lane, 0, p, DropReason::QueueFull),
        }
        Verdict::Stolen(token)
    }
}

/// A running pipeline. Dropping it stops the hook, drains every queue (delivering what it
/// can within a bound, counting the rest as dropped) and frees the stages.
pub(crate) struct Pipeline {
    hooks: Option<Pin<KBox<Registration<Entry>>>>,
    shared: Arc<Shared>,
    /// Every stage of every lane, upstream first.
    stages: KVec<Arc<Napi<Stage>>>,
    _dev: NapiDevice,
}

/// How long a stopping pipeline waits for its queues to drain.
const DRAIN_TIMEOUT_MS: i64 = 5000;

impl Pipeline {
    /// Builds the stages and starts stealing packets.
    pub(crate) fn start(cfg: &PipelineConfig, stats: Arc<Stats>) -> Result<Self> {
        let lanes = cfg.lanes();
        let mut ledgers = KVec::with_capacity(lanes, GFP_KERNEL)?;
        for _ in 0..lanes {
            ledgers.push(Ledger::new(), GFP_KERNEL)?;
        }
        let shared = Arc::new(
            Shared {
                stats,
                stages: cfg.stages,
                params: cfg.params,
                rules: cfg.rules,
                ledgers,
            },
            GFP_KERNEL,
        )?;
        let dev = NapiDevice::new()?;
        let mut stages = KVec::with_capacity(lanes * cfg.stages, GFP_KERNEL)?;
        let mut heads = KVec::with_capacity(lanes, GFP_KERNEL)?;
        for lane in 0..lanes {
            // Built last stage first: each stage holds the next.
            let mut next: Option<Arc<Napi<Stage>>> = None;
            for index in (0..cfg.stages).rev() {
                let sc = &cfg.stage[index];
                let cpu = sc.cpus.nth_wrapping(lane).ok_or(EINVAL)?;
                let ring = Ring::new(cfg.queue_len as usize)?;
                let stage_shared = shared.clone();
                let stage = try_pin_init!(Stage {
                    queue <- new_spinlock!(ring, "vigil_stage_queue"),
                    shared: stage_shared,
                    lane,
                    index,
                    cpu,
                    ops: sc.ops,
                    work_ns: sc.work_ns,
                    next: next.take(),
                    last_work_ns: Atomic::new(0),
                }? Error);
                let napi = Arc::pin_init(Napi::new(&dev, cpu, stage), GFP_KERNEL)?;
                stages.push(napi.clone(), GFP_KERNEL)?;
                next = Some(napi);
            }
            heads.push(next.ok_or(EINVAL)?, GFP_KERNEL)?;
        }
        let entry = Arc::new(
            Entry {
                shared: shared.clone(),
                matcher: cfg.matcher,
                heads,
            },
            GFP_KERNEL,
        )?;
        let opts = HookOptions {
            point: cfg.hook,
            priority: netfilter::PRIORITY_LAST,
        };
        let hooks = KBox::pin_init(Registration::register(entry, opts), GFP_KERNEL)?;
        Ok(Self {
            hooks: Some(hooks),
            shared,
            stages,
            _dev: dev,
        })
    }

    /// Packets of this pipeline not yet delivered or dropped.
    pub(crate) fn in_flight(&self) -> u64 {
        self.shared.ledgers.iter().map(Ledger::in_flight).sum()
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        // No packet enters once the hooks are gone (unregistering waits for running hooks).
        self.hooks = None;
        // The stages keep running and deliver what is queued.
        let mut waited = 0;
        while self.in_flight() > 0 && waited < DRAIN_TIMEOUT_MS {
            fsleep(Delta::from_millis(1));
            waited += 1;
        }
        // What is left (a stage that could not run) is dropped and counted, after the NAPI
        // contexts stopped polling.
        for napi in self.stages.iter() {
            napi.disable();
            let stage = napi.handler();
            // The queue lock is also taken in softirq context.
            let _bh = crate::napi::BhDisabled::new();
            while let Some(p) = stage.pop() {
                self.shared
                    .drop_packet(stage.lane, stage.index, p, DropReason::Drain);
            }
        }
        crate::napi::delete_all(self.stages.iter().map(|n| &**n));
    }
}

#[cfg(CONFIG_KUNIT)]
impl Pipeline {
    /// Feeds `skb` to the stealing hook as netfilter would (in an RCU read-side section, with
    /// bottom halves disabled), with `okfn` as the continuation. Returns whether it was stolen;
    /// if not, the buffer is freed here.
    pub(crate) fn inject_for_test(
        &self,
        skb: crate::skb::SkBuff,
        pf: u8,
        okfn: netfilter::OkFn,
    ) -> bool {
        let Some(hooks) = self.hooks.as_ref() else {
            return false;
        };
        let _rcu = kernel::sync::rcu::read_lock();
        let bh = crate::napi::BhDisabled::new();
        let verdict = netfilter::call_hook_for_test(hooks.context(), &skb.as_ref(), pf, Some(okfn));
        let stolen = verdict == sys::NF_STOLEN;
        if stolen {
            // The pipeline owns it now.
            let _ = skb.into_raw();
        } else {
            drop(skb);
        }
        drop(bh);
        stolen
    }
}
