// SPDX-License-Identifier: GPL-2.0

//! The pipelines: their order, each one's configuration and counters, and while enabled the
//! pipeline running.
//!
//! Every write is parsed and checked before anything changes; a change to a running pipeline
//! replaces it without reordering a flow, and touches no other pipeline.

use crate::{
    allocator::{
        add_cpu, remove_cpu, Allocator, Pool, Reason as AllocReason, Settings as AllocSettings,
        StageLoad,
    },
    clock::now_ns,
    config::{Config, CpuList, TextBuf, MAX_CPUS, MAX_STAGES},
    files::PipelineDirs,
    netfilter::Registration,
    ops::Match,
    parse::ParseError,
    pipeline::{self, Pipeline, DRAIN_TIMEOUT_MS},
    pipelines::{Change, Name, Order, PipelinesError, MAX_PIPELINES},
    seen::SeenCounter,
    stats::{Held, Stats},
    sysfs::Parent,
    workqueue::Periodic,
};
use core::fmt::Write;
use kernel::{
    new_mutex,
    prelude::*,
    sync::{atomic::Relaxed, Arc, Mutex},
};

/// The errno of a refused value.
pub(crate) fn errno(e: ParseError) -> Error {
    match e {
        ParseError::Invalid => EINVAL,
        ParseError::OutOfRange => ERANGE,
    }
}

/// What the allocator remembers of a pipeline between rounds.
struct Allocation {
    allocator: Allocator,
    /// Each stage's busy time (summed over CPUs) at the last round.
    last_busy: [u64; MAX_STAGES],
    last_ns: u64,
}

impl Allocation {
    fn new(busy: [u64; MAX_STAGES], now: u64) -> core::result::Result<Self, ParseError> {
        Ok(Self {
            allocator: Allocator::new(AllocSettings::DEFAULT)?,
            last_busy: busy,
            last_ns: now,
        })
    }
}

/// Counts a stage holding `cpus` into (`by` 1) or out of (`by` -1) `holders`.
fn hold(holders: &mut [u32; MAX_CPUS as usize], cpus: CpuList, by: i32) {
    for (cpu, n) in holders.iter_mut().enumerate() {
        if cpus.0 & (1 << cpu) != 0 {
            *n = n.saturating_add_signed(by);
        }
    }
}

/// Each stage's busy time so far, summed over CPUs (0 past `stages`).
fn busy_by_stage(stats: &Stats, stages: usize) -> [u64; MAX_STAGES] {
    let mut busy = [0; MAX_STAGES];
    for (k, b) in busy.iter_mut().enumerate().take(stages) {
        *b = stats
            .stage_on_every_cpu(k)
            .map(|s| s.busy_ns.load(Relaxed))
            .sum();
    }
    busy
}

/// How often the allocator runs.
pub(crate) fn allocation_period_ms() -> u32 {
    (AllocSettings::DEFAULT.interval_ns / 1_000_000) as u32
}

impl Periodic for Control {
    fn tick(&self) {
        self.allocate();
    }
}

/// The errno of a refused write to `pipelines`.
fn pipelines_errno(e: PipelinesError) -> Error {
    match e {
        PipelinesError::Invalid => EINVAL,
        PipelinesError::Exists => EEXIST,
        PipelinesError::Missing => ENOENT,
        PipelinesError::Full => ENOSPC,
        PipelinesError::Default => EBUSY,
    }
}

/// One pipeline: its settings, its counters, and while enabled the pipeline running.
struct Slot {
    name: Name,
    cfg: Config,
    stats: Arc<Stats>,
    running: Option<Pipeline>,
    /// Stages whose CPUs were written by hand (bit `k`: stage `k`): the allocator leaves them
    /// alone. Turning `allocate` on clears them.
    pinned: u8,
    /// While the allocator sizes this pipeline: what it remembers.
    allocation: Option<Allocation>,
    /// Its directory under `pipeline/`; none for the default pipeline, whose files are the
    /// top-level ones.
    dirs: Option<PipelineDirs>,
}

struct State {
    /// The pipelines, in the order packets try them; `slots` holds the same names.
    order: Order,
    slots: KVec<Slot>,
    /// The counting hook, registered while a pipeline runs.
    seen: Option<Pin<KBox<Registration<SeenCounter>>>>,
    /// Where pipelines' directories go (`/sys/kernel/vigil/pipeline/`), once it exists and
    /// until the module goes.
    pipeline_dir: Option<Parent>,
}

impl State {
    fn slot(&self, name: &Name) -> Result<&Slot> {
        self.slots.iter().find(|s| s.name == *name).ok_or(ENODEV)
    }

    fn index(&self, name: &Name) -> Result<usize> {
        self.slots
            .iter()
            .position(|s| s.name == *name)
            .ok_or(ENODEV)
    }

    /// Tells every hook where its pipeline is in the order, and what the pipelines before it
    /// take (see `pipeline::PRECEDENCE`).
    fn publish(&self) {
        let mut filters: [Option<Match>; MAX_PIPELINES] = [None; MAX_PIPELINES];
        for (position, name) in self.order.iter().enumerate() {
            let Ok(slot) = self.slot(name) else { continue };
            if let Some(running) = &slot.running {
                running.set_position(position);
                filters[position] = Some(slot.cfg.pipeline.matcher);
            }
        }
        pipeline::publish_precedence(&filters);
    }
}

/// The module's control: the pipelines, their configuration and counters.
#[pin_data]
pub(crate) struct Control {
    #[pin]
    state: Mutex<State>,
    /// What all pipelines hold together, against the global limits.
    held: Arc<Held>,
    nr_cpus: u32,
}

impl Control {
    /// The default pipeline alone, every setting at its default (`abi::SETTINGS`).
    pub(crate) fn new(nr_cpus: u32) -> Result<impl PinInit<Self>> {
        let nr = nr_cpus.clamp(1, crate::config::MAX_CPUS);
        let held = Arc::new(Held::new(), GFP_KERNEL)?;
        let mut slots = KVec::with_capacity(MAX_PIPELINES, GFP_KERNEL)?;
        slots.push(
            Slot {
                name: Name::default_pipeline(),
                cfg: Config::defaults(nr).map_err(errno)?,
                stats: Arc::new(Stats::with_held(nr as usize, held.clone())?, GFP_KERNEL)?,
                running: None,
                pinned: 0,
                allocation: None,
                dirs: None,
            },
            GFP_KERNEL,
        )?;
        Ok(pin_init!(Self {
            state <- new_mutex!(
                State {
                    order: Order::default(),
                    slots,
                    seen: None,
                    pipeline_dir: None,
                },
                "vigil_control"
            ),
            held,
            nr_cpus: nr,
        }))
    }

    /// The number of CPUs CPU lists may name.
    pub(crate) fn nr_cpus(&self) -> u32 {
        self.nr_cpus
    }

    /// What all pipelines hold together.
    pub(crate) fn held(&self) -> &Held {
        &self.held
    }

    /// The configuration of pipeline `name`.
    pub(crate) fn config(&self, name: &Name) -> Result<Config> {
        Ok(self.state.lock().slot(name)?.cfg)
    }

    /// The counters of pipeline `name`.
    pub(crate) fn stats(&self, name: &Name) -> Result<Arc<Stats>> {
        Ok(self.state.lock().slot(name)?.stats.clone())
    }

    /// Each pipeline's name, configuration and counters, in order.
    pub(crate) fn snapshot(&self) -> Result<KVec<(Name, Config, Arc<Stats>)>> {
        let mut out = KVec::with_capacity(MAX_PIPELINES, GFP_KERNEL)?;
        let state = self.state.lock();
        for name in state.order.iter() {
            let slot = state.slot(name)?;
            // Within capacity (at most `MAX_PIPELINES` pipelines): no allocation.
            out.push((slot.name, slot.cfg, slot.stats.clone()), GFP_KERNEL)?;
        }
        Ok(out)
    }

    /// The pipelines, in order.
    pub(crate) fn order(&self) -> Order {
        self.state.lock().order
    }

    /// Applies `change` to a copy of pipeline `name`'s configuration; if it and the result
    /// are valid, makes it current. Nothing changes on error, nothing restarts if the result
    /// is the same, and no other pipeline is touched.
    pub(crate) fn update(&self, name: &Name, change: impl FnOnce(&mut Config) -> Result) -> Result {
        let mut state = self.state.lock();
        let index = state.index(name)?;
        let mut cfg = state.slots[index].cfg;
        change(&mut cfg)?;
        Self::replace(&mut state, index, cfg)?;
        state.publish();
        Ok(())
    }

    /// Applies `change` (of a setting every pipeline shares) to every pipeline. Nothing
    /// changes if it is refused; a pipeline that fails to restart is put back as it was.
    pub(crate) fn update_global(&self, change: impl Fn(&mut Config) -> Result) -> Result {
        let mut state = self.state.lock();
        let mut old = KVec::with_capacity(state.slots.len(), GFP_KERNEL)?;
        let mut next = KVec::with_capacity(state.slots.len(), GFP_KERNEL)?;
        for slot in state.slots.iter() {
            let mut cfg = slot.cfg;
            change(&mut cfg)?;
            old.push(slot.cfg, GFP_KERNEL)?;
            next.push(cfg, GFP_KERNEL)?;
        }
        let mut result = Ok(());
        for (index, cfg) in next.into_iter().enumerate() {
            if let Err(e) = Self::replace(&mut state, index, cfg) {
                result = Err(e);
                // Those changed already go back (a restart of what ran before).
                for (undo, cfg) in old.iter().enumerate().take(index) {
                    let _ = Self::replace(&mut state, undo, *cfg);
                }
                break;
            }
        }
        state.publish();
        result
    }

    /// Makes `cfg` pipeline `index`'s configuration, replacing its running pipeline if any.
    ///
    /// A running pipeline is replaced without reordering a flow: the new one starts held (its
    /// hook, registered later at the same priority, runs first and queues what it takes),
    /// the old one drains, then the new one is released.
    fn replace(state: &mut State, index: usize, cfg: Config) -> Result {
        let slot = &state.slots[index];
        if cfg == slot.cfg {
            return Ok(());
        }
        // Stages in use need CPUs (always true after parsing, checked for safety).
        if cfg.pipeline.stage[..cfg.pipeline.stages]
            .iter()
            .any(|s| s.cpus.is_empty())
        {
            return Err(EINVAL);
        }
        let position = state.order.position(&slot.name).unwrap_or(0);
        if cfg.enabled && state.seen.is_none() {
            let counting = state.slots.first().ok_or(EINVAL)?.stats.clone();
            state.seen = Some(crate::seen::register(counting)?);
        }
        let slot = &mut state.slots[index];
        let next = if cfg.enabled {
            let held = slot.running.is_some();
            // On error the old pipeline, if any, runs on unchanged.
            Some(Pipeline::start(
                &cfg.pipeline,
                slot.stats.clone(),
                held,
                position,
            )?)
        } else {
            None
        };
        let old = slot.running.take();
        if let Some(old) = &old {
            old.drain(DRAIN_TIMEOUT_MS);
        }
        // The old lanes are empty (or timed out): the new pipeline may run while the old one's
        // hooks and stages are taken down.
        if let Some(p) = &next {
            p.release();
        }
        if let Some(old) = old {
            old.stop(0);
        }
        slot.running = next;
        if cfg.pipeline.allocate && !slot.cfg.pipeline.allocate {
            // The allocator starts afresh, every stage its to size.
            slot.pinned = 0;
        }
        if !(cfg.enabled && cfg.pipeline.allocate) {
            slot.allocation = None;
        }
        slot.cfg = cfg;
        if state.slots.iter().all(|s| s.running.is_none()) {
            state.seen = None;
        }
        Ok(())
    }

    /// Marks stage `stage` of pipeline `name` as pinned: its CPUs were written by hand.
    pub(crate) fn pin(&self, name: &Name, stage: usize) -> Result {
        let mut state = self.state.lock();
        let index = state.index(name)?;
        state.slots[index].pinned |= 1 << stage;
        Ok(())
    }

    /// One round of the CPU allocator, for every pipeline it sizes: measures each stage's
    /// busy time since the last round, decides, and replaces the pipelines whose stages gain
    /// or lose a CPU (held, without reordering a flow, as any change). Each change is counted
    /// and logged.
    fn allocate(&self) {
        let mut state = self.state.lock();
        let sized = |s: &Slot| s.running.is_some() && s.cfg.pipeline.allocate;
        if !state.slots.iter().any(sized) {
            return;
        }
        let now = now_ns();
        // How many running stages hold each CPU.
        let mut holders = [0u32; MAX_CPUS as usize];
        for slot in state.slots.iter().filter(|s| s.running.is_some()) {
            let p = &slot.cfg.pipeline;
            for stage in &p.stage[..p.stages] {
                hold(&mut holders, stage.cpus, 1);
            }
        }
        // A resized pipeline keeps its filter and position (it starts with them), so what the
        // hooks read of the order stays as published.
        for index in 0..state.slots.len() {
            let slot = &mut state.slots[index];
            let cfg = slot.cfg;
            if !sized(slot) {
                continue;
            }
            let busy = busy_by_stage(&slot.stats, cfg.pipeline.stages);
            let Some(alloc) = &mut slot.allocation else {
                // The first round only takes the measure.
                slot.allocation = Allocation::new(busy, now).ok();
                continue;
            };
            let elapsed = now.saturating_sub(alloc.last_ns);
            let mut loads = [StageLoad {
                busy_ns: 0,
                cpus: 1,
                pinned: true,
            }; MAX_STAGES];
            for (k, load) in loads.iter_mut().enumerate().take(cfg.pipeline.stages) {
                *load = StageLoad {
                    busy_ns: busy[k].saturating_sub(alloc.last_busy[k]),
                    cpus: cfg.pipeline.stage[k].cpus.len() as u32,
                    pinned: slot.pinned & (1 << k) != 0,
                };
            }
            alloc.last_busy = busy;
            alloc.last_ns = now;
            let pool = cfg.pipeline.cpu_pool;
            let free = (0..MAX_CPUS)
                .filter(|&c| pool.0 & (1 << c) != 0 && holders[c as usize] == 0)
                .count() as u32;
            let changes = alloc.allocator.decide(
                &loads[..cfg.pipeline.stages],
                elapsed,
                Pool {
                    size: pool.len() as u32,
                    free,
                },
            );
            let mut next = cfg;
            for change in changes.as_slice() {
                let stage = &mut next.pipeline.stage[change.stage];
                let cpus = match change.reason {
                    AllocReason::AboveHighWater => add_cpu(stage.cpus, pool, &holders),
                    AllocReason::BelowLowWater => remove_cpu(stage.cpus),
                    AllocReason::PoolEmpty => None,
                };
                slot.stats.count_allocation(change.reason);
                let before = stage.cpus;
                if let Some(cpus) = cpus {
                    hold(&mut holders, before, -1);
                    hold(&mut holders, cpus, 1);
                    stage.cpus = cpus;
                }
                let (mut was, mut now_cpus) = (TextBuf::default(), TextBuf::default());
                let _ = write!(was, "{before}");
                let _ = write!(now_cpus, "{}", stage.cpus);
                pr_info!(
                    "vigil: pipeline {} stage {}: {} ({} per mille busy): cpus {} -> {}\n",
                    slot.name.as_str(),
                    change.stage,
                    change.reason.name(),
                    loads[change.stage].busy_permille(elapsed),
                    was.as_str(),
                    now_cpus.as_str()
                );
            }
            if next != cfg {
                if let Err(e) = Self::replace(&mut state, index, next) {
                    pr_warn!("vigil: the allocator could not resize a pipeline: {e:?}\n");
                }
            }
        }
    }

    /// Applies a write to `pipelines`: adds, removes or reorders pipelines. A removed
    /// pipeline drains first, as when it is disabled.
    pub(crate) fn change_pipelines(this: &Arc<Self>, change: &Change) -> Result {
        let gone = {
            let mut state = this.state.lock();
            let mut order = state.order;
            order.apply(change).map_err(pipelines_errno)?;
            let gone = match change {
                Change::Add(name) => {
                    this.add(&mut state, *name)?;
                    None
                }
                Change::Remove(name) => {
                    let index = state.index(name)?;
                    let mut cfg = state.slots[index].cfg;
                    cfg.enabled = false;
                    Self::replace(&mut state, index, cfg)?;
                    Some(state.slots.remove(index)?)
                }
                Change::Order(_) => None,
            };
            state.order = order;
            state.publish();
            gone
        };
        // Its files go with the lock released: removing one waits for its readers and
        // writers, which take the lock.
        drop(gone);
        Ok(())
    }

    fn add(self: &Arc<Self>, state: &mut State, name: Name) -> Result {
        let mut cfg = Config::defaults(self.nr_cpus).map_err(errno)?;
        // The global settings are every pipeline's: the new one takes them as they are.
        if let Some(first) = state.slots.first() {
            cfg.share_globals(&first.cfg);
        }
        let stats = Arc::new(
            Stats::with_held(self.nr_cpus as usize, self.held.clone())?,
            GFP_KERNEL,
        )?;
        let dirs = match &state.pipeline_dir {
            Some(parent) => Some(PipelineDirs::new(parent, self, name)?),
            None => None,
        };
        state.slots.push(
            Slot {
                name,
                cfg,
                stats,
                running: None,
                pinned: 0,
                allocation: None,
                dirs,
            },
            GFP_KERNEL,
        )?;
        Ok(())
    }

    /// Where pipelines' directories go, from now until [`Control::teardown`].
    pub(crate) fn set_pipeline_dir(&self, parent: Parent) {
        self.state.lock().pipeline_dir = Some(parent);
    }

    /// Removes the pipelines' directories (which hold the control), before the module goes.
    ///
    /// The directories go with the lock released: removing one waits for its readers and
    /// writers, which take the lock.
    pub(crate) fn teardown(&self) -> Result {
        let mut dirs = KVec::with_capacity(MAX_PIPELINES, GFP_KERNEL)?;
        let parent = {
            let mut state = self.state.lock();
            for slot in state.slots.iter_mut() {
                if let Some(d) = slot.dirs.take() {
                    // Within capacity (at most `MAX_PIPELINES` slots): no allocation.
                    dirs.push(d, GFP_KERNEL)?;
                }
            }
            state.pipeline_dir.take()
        };
        drop(dirs);
        drop(parent);
        Ok(())
    }
}

#[kunit_tests(vigil_control)]
mod tests {
    use super::*;
    use crate::abi::{Key, Value};

    /// Adds `ns` of busy time to stage `stage` (on CPU 0).
    fn work(c: &Control, stage: usize, ns: u64) -> Result {
        let stats = c.stats(&Name::default_pipeline())?;
        stats.stage(stage, 0).busy_ns.add(ns, Relaxed);
        Ok(())
    }

    fn cpus(c: &Control, stage: usize) -> Result<CpuList> {
        Ok(c.config(&Name::default_pipeline())?.pipeline.stage[stage].cpus)
    }

    #[test]
    fn the_allocator_grows_a_busy_stage_and_shrinks_it_when_idle() -> Result {
        let c = Arc::pin_init(Control::new(2)?, GFP_KERNEL)?;
        let name = Name::default_pipeline();
        let set = |key, stage, v| c.update(&name, |cfg| cfg.apply(key, stage, v).map_err(errno));
        // Two stages, both on CPU 0: CPU 1 is free in the pool (0-1).
        set(Key::Stages, 0, Value::Number(2))?;
        set(Key::Cpus, 1, Value::Cpus(CpuList(1)))?;
        set(Key::Ops, 0, Value::Ops(crate::ops::Ops(0)))?;
        set(Key::Allocate, 0, Value::Flag(true))?;
        set(Key::Enabled, 0, Value::Flag(true))?;
        let s = AllocSettings::DEFAULT;
        // The first round takes the measure; then stage 1 is busy beyond its CPU each round
        // (its busy time counted as ten seconds a round): it gains CPU 1 after `hysteresis`.
        c.allocate();
        for _ in 0..s.hysteresis {
            work(&c, 1, 10_000_000_000)?;
            c.allocate();
        }
        let grown = cpus(&c, 1)?;
        let stats = c.stats(&name)?;
        let added = stats.allocations(AllocReason::AboveHighWater);
        // Idle: it gives the CPU back after the cool-down and `hysteresis` rounds below.
        for _ in 0..s.cooldown + s.hysteresis + 1 {
            c.allocate();
        }
        let shrunk = cpus(&c, 1)?;
        let removed = stats.allocations(AllocReason::BelowLowWater);
        // A stage written by hand is pinned: the busy one here is left alone.
        set(Key::Cpus, 0, Value::Cpus(CpuList(1)))?;
        c.pin(&name, 0)?;
        for _ in 0..s.hysteresis + 1 {
            work(&c, 0, 10_000_000_000)?;
            c.allocate();
        }
        let pinned = cpus(&c, 0)?;
        set(Key::Enabled, 0, Value::Flag(false))?;
        assert_eq!((grown, added), (CpuList(0b11), 1));
        assert_eq!((shrunk, removed), (CpuList(1), 1));
        assert_eq!(pinned, CpuList(1));
        Ok(())
    }
}
