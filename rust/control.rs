// SPDX-License-Identifier: GPL-2.0

//! The pipelines: their order, each one's configuration and counters, and while enabled the
//! pipeline running.
//!
//! Every write is parsed and checked before anything changes; a change to a running pipeline
//! replaces it without reordering a flow, and touches no other pipeline.

use crate::{
    config::Config,
    files::PipelineDirs,
    netfilter::Registration,
    ops::Match,
    parse::ParseError,
    pipeline::{self, Pipeline, DRAIN_TIMEOUT_MS},
    pipelines::{Change, Name, Order, PipelinesError, MAX_PIPELINES},
    seen::SeenCounter,
    stats::{Held, Stats},
    sysfs::Parent,
};
use kernel::{
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

/// The errno of a refused value.
pub(crate) fn errno(e: ParseError) -> Error {
    match e {
        ParseError::Invalid => EINVAL,
        ParseError::OutOfRange => ERANGE,
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
        slot.cfg = cfg;
        if state.slots.iter().all(|s| s.running.is_none()) {
            state.seen = None;
        }
        Ok(())
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
