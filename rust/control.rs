// SPDX-License-Identifier: GPL-2.0

//! The configuration, the running pipeline, and the sysfs files that show and change them.
//!
//! Every write is parsed and checked before anything changes; a change while the pipeline
//! runs stops it (which drains it), applies the new configuration and starts it again.

use crate::{
    abi::{Counter, Scope, COUNTERS, SETTINGS},
    config::{Config, MAX_STAGES},
    histogram::BUCKETS,
    netfilter::Registration,
    parse::{self, ParseError},
    pipeline::{Pipeline, DRAIN_TIMEOUT_MS},
    policy::Reason,
    seen::SeenCounter,
    stats::{DropReason, Skip, Stats},
    sysfs::{Attr, ShowBuf},
    sysfs_emit,
};
use core::fmt::Write;
use kernel::{
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

fn errno(e: ParseError) -> Error {
    match e {
        ParseError::Invalid => EINVAL,
        ParseError::OutOfRange => ERANGE,
    }
}

struct State {
    cfg: Config,
    running: Option<Pipeline>,
    /// The counting hook, registered while the pipeline runs.
    seen: Option<Pin<KBox<Registration<SeenCounter>>>>,
}

/// The module's control: configuration, the running pipeline, the counters.
#[pin_data]
pub(crate) struct Control {
    #[pin]
    state: Mutex<State>,
    stats: Arc<Stats>,
    nr_cpus: u32,
}

impl Control {
    /// Every setting at its default (`abi::SETTINGS`).
    pub(crate) fn new(stats: Arc<Stats>, nr_cpus: u32) -> Result<impl PinInit<Self>> {
        let nr = nr_cpus.clamp(1, crate::config::MAX_CPUS);
        let cfg = Config::defaults(nr).map_err(errno)?;
        Ok(pin_init!(Self {
            state <- new_mutex!(
                State {
                    cfg,
                    running: None,
                    seen: None,
                },
                "vigil_control"
            ),
            stats,
            nr_cpus: nr,
        }))
    }

    fn config(&self) -> Config {
        self.state.lock().cfg
    }

    /// Applies `change` to a copy of the configuration; if it and the result are valid, makes
    /// it current. Nothing changes on error, and nothing restarts if the result is the same.
    ///
    /// A running pipeline is replaced without reordering a flow: the new one starts held (its
    /// hook, registered later at the same priority, runs first and queues what it takes),
    /// the old one drains, then the new one is released.
    fn update(&self, change: impl FnOnce(&mut Config) -> Result) -> Result {
        let mut state = self.state.lock();
        let mut cfg = state.cfg;
        change(&mut cfg)?;
        if cfg == state.cfg {
            return Ok(());
        }
        // Stages in use need CPUs (always true after parsing, checked for safety).
        if cfg.pipeline.stage[..cfg.pipeline.stages]
            .iter()
            .any(|s| s.cpus.is_empty())
        {
            return Err(EINVAL);
        }
        if cfg.enabled && state.seen.is_none() {
            state.seen = Some(crate::seen::register(self.stats.clone())?);
        }
        let next = if cfg.enabled {
            let held = state.running.is_some();
            // On error the old pipeline, if any, runs on unchanged.
            Some(Pipeline::start(&cfg.pipeline, self.stats.clone(), held)?)
        } else {
            None
        };
        let old = state.running.take();
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
        state.running = next;
        if !cfg.enabled {
            state.seen = None;
        }
        state.cfg = cfg;
        Ok(())
    }
}

fn show_version(_: &Control, _: usize, buf: &mut ShowBuf<'_>) -> Result {
    sysfs_emit!(buf, "{}\n", crate::VERSION)
}

/// Shows setting `SETTINGS[i]` of stage `stage` (0 for the top-level ones).
fn show_setting(c: &Control, i: usize, stage: usize, buf: &mut ShowBuf<'_>) -> Result {
    let s = SETTINGS.get(i).ok_or(EINVAL)?;
    c.config().show(s.key, stage, buf).map_err(|_| EFBIG)
}

/// Parses a write to setting `SETTINGS[i]` of stage `stage` and applies it.
fn store_setting(c: &Control, i: usize, stage: usize, input: &[u8]) -> Result {
    let s = SETTINGS.get(i).ok_or(EINVAL)?;
    let v = s.kind.parse(input, c.nr_cpus).map_err(errno)?;
    c.update(|cfg| cfg.apply(s.key, stage, v).map_err(errno))
}

fn show_root_setting(c: &Control, i: usize, buf: &mut ShowBuf<'_>) -> Result {
    show_setting(c, i, 0, buf)
}

fn store_root_setting(c: &Control, i: usize, input: &[u8]) -> Result {
    store_setting(c, i, 0, input)
}

/// The files of `scope` in `SETTINGS`, each with the table index its callbacks use.
fn setting_attrs<T>(
    scope: Scope,
    show: crate::sysfs::ShowFn<T>,
    store: crate::sysfs::StoreFn<T>,
    out: &mut KVec<Attr<T>>,
) -> Result {
    for (i, s) in SETTINGS.iter().enumerate() {
        if s.scope == scope {
            out.push(Attr::rw(s.name, i, show, store), GFP_KERNEL)?;
        }
    }
    Ok(())
}

/// The files of `/sys/kernel/vigil/`: `version`, then every top-level setting.
pub(crate) fn root_attrs() -> Result<KVec<Attr<Control>>> {
    let mut attrs = KVec::with_capacity(SETTINGS.len() + 1, GFP_KERNEL)?;
    attrs.push(Attr::ro(c"version", 0, show_version), GFP_KERNEL)?;
    setting_attrs(
        Scope::Root,
        show_root_setting,
        store_root_setting,
        &mut attrs,
    )?;
    Ok(attrs)
}

/// Shows counter `COUNTERS[i]`.
fn show_counter(c: &Control, i: usize, buf: &mut ShowBuf<'_>) -> Result {
    let v = match COUNTERS.get(i).ok_or(EINVAL)?.counter {
        Counter::Seen => c.stats.seen(),
        Counter::Entered => c.stats.totals().entered,
        Counter::Delivered => c.stats.totals().delivered,
        Counter::Dropped => c.stats.totals().dropped_total(),
        Counter::InFlight => c.stats.totals().in_flight(),
        Counter::HeldPackets => c.stats.held.packets(),
        Counter::HeldBytes => c.stats.held.bytes(),
        Counter::SkippedBridged => c.stats.skipped(Skip::Bridged),
        Counter::SkippedL3mdev => c.stats.skipped(Skip::L3mdev),
    };
    sysfs_emit!(buf, "{v}\n")
}

fn show_drops(c: &Control, _: usize, buf: &mut ShowBuf<'_>) -> Result {
    let t = c.stats.totals();
    for (reason, n) in DropReason::ALL.iter().zip(t.dropped) {
        sysfs_emit!(buf, "{} {n}\n", reason.name())?;
    }
    Ok(())
}

/// One line per lane that saw packets: `lane entered delivered dropped in_flight`.
fn show_lanes(c: &Control, _: usize, buf: &mut ShowBuf<'_>) -> Result {
    sysfs_emit!(buf, "lane entered delivered dropped in_flight\n")?;
    for (lane, s) in c.stats.lane_snapshots() {
        if s.entered == 0 {
            continue;
        }
        sysfs_emit!(
            buf,
            "{lane} {} {} {} {}\n",
            s.entered,
            s.delivered,
            s.dropped_total(),
            s.in_flight()
        )?;
    }
    Ok(())
}

/// The per-stage per-CPU table's header.
const STAGE_HEADER: &str = "stage cpu packets polls empty_polls empty_poll_ns \
    resched_head_ahead resched_upstream_backlog resched_window resched_head_active \
    completions wakeups_sent wakeups_received\n";

fn emit_stage_rows(c: &Control, buf: &mut ShowBuf<'_>, stages: core::ops::Range<usize>) -> Result {
    use kernel::sync::atomic::Relaxed;
    for stage in stages {
        for cpu in 0..c.stats.nr_cpus() as u32 {
            let s = c.stats.stage(stage, cpu);
            if s.is_idle() {
                continue;
            }
            let r = |reason: Reason| s.reschedules[reason.index()].load(Relaxed);
            sysfs_emit!(
                buf,
                "{stage} {cpu} {} {} {} {} {} {} {} {} {} {} {}\n",
                s.packets.load(Relaxed),
                s.polls.load(Relaxed),
                s.empty_polls.load(Relaxed),
                s.empty_poll_ns.load(Relaxed),
                r(Reason::HeadAhead),
                r(Reason::UpstreamBacklog),
                r(Reason::Window),
                r(Reason::HeadActive),
                s.completions.load(Relaxed),
                s.wakeups_sent.load(Relaxed),
                s.wakeups_received.load(Relaxed),
            )?;
        }
    }
    Ok(())
}

fn show_stage_table(c: &Control, _: usize, buf: &mut ShowBuf<'_>) -> Result {
    buf.write_str(STAGE_HEADER).map_err(|_| EFBIG)?;
    emit_stage_rows(c, buf, 0..MAX_STAGES)
}

/// One line per stage that ran: `stage` then the count of each log2 latency bucket.
fn show_latency(c: &Control, _: usize, buf: &mut ShowBuf<'_>) -> Result {
    use kernel::sync::atomic::Relaxed;
    for stage in 0..MAX_STAGES {
        let mut counts = [0u64; BUCKETS];
        for cpu in 0..c.stats.nr_cpus() as u32 {
            for (sum, b) in counts.iter_mut().zip(&c.stats.stage(stage, cpu).latency) {
                *sum += b.load(Relaxed);
            }
        }
        if counts.iter().all(|&n| n == 0) {
            continue;
        }
        sysfs_emit!(buf, "{stage}")?;
        for n in counts {
            sysfs_emit!(buf, " {n}")?;
        }
        sysfs_emit!(buf, "\n")?;
    }
    Ok(())
}

fn store_reset(c: &Control, _: usize, input: &[u8]) -> Result {
    match parse::parse_bool(input) {
        Ok(true) => {
            c.stats.reset();
            Ok(())
        }
        Ok(false) => Err(EINVAL),
        Err(e) => Err(errno(e)),
    }
}

/// The files of `/sys/kernel/vigil/stats/`: every counter of `COUNTERS`, then the tables
/// and `reset`.
pub(crate) fn stats_attrs() -> Result<KVec<Attr<Control>>> {
    let tables = [
        Attr::ro(c"drops", 0, show_drops),
        Attr::ro(c"lanes", 0, show_lanes),
        Attr::ro(c"stages", 0, show_stage_table),
        Attr::ro(c"latency", 0, show_latency),
        Attr::wo(c"reset", store_reset),
    ];
    let mut attrs = KVec::with_capacity(COUNTERS.len() + tables.len(), GFP_KERNEL)?;
    for (i, counter) in COUNTERS.iter().enumerate() {
        attrs.push(Attr::ro(counter.name, i, show_counter), GFP_KERNEL)?;
    }
    for attr in tables {
        attrs.push(attr, GFP_KERNEL)?;
    }
    Ok(attrs)
}

/// What a `stageN/` directory's files act on.
pub(crate) struct StageDir {
    control: Arc<Control>,
    index: usize,
}

impl StageDir {
    /// The directory of stage `index`.
    pub(crate) fn new(control: Arc<Control>, index: usize) -> Self {
        Self { control, index }
    }
}

fn show_stage_setting(s: &StageDir, i: usize, buf: &mut ShowBuf<'_>) -> Result {
    show_setting(&s.control, i, s.index, buf)
}

fn store_stage_setting(s: &StageDir, i: usize, input: &[u8]) -> Result {
    store_setting(&s.control, i, s.index, input)
}

fn show_stage_stats(s: &StageDir, _: usize, buf: &mut ShowBuf<'_>) -> Result {
    buf.write_str(STAGE_HEADER).map_err(|_| EFBIG)?;
    emit_stage_rows(&s.control, buf, s.index..s.index + 1)
}

/// The files of `/sys/kernel/vigil/stageN/`: every stage setting, then `stats`.
pub(crate) fn stage_attrs() -> Result<KVec<Attr<StageDir>>> {
    let mut attrs = KVec::with_capacity(SETTINGS.len() + 1, GFP_KERNEL)?;
    setting_attrs(
        Scope::Stage,
        show_stage_setting,
        store_stage_setting,
        &mut attrs,
    )?;
    attrs.push(Attr::ro(c"stats", 0, show_stage_stats), GFP_KERNEL)?;
    Ok(attrs)
}

/// The names of the stage directories.
pub(crate) static STAGE_NAMES: [&kernel::str::CStr; MAX_STAGES] = [
    c"stage0", c"stage1", c"stage2", c"stage3", c"stage4", c"stage5", c"stage6", c"stage7",
];

#[kunit_tests(vigil_config)]
mod tests {
    use super::*;
    use crate::{
        abi::Malformed,
        seen,
        skb::{free_okfn, SkBuff},
        stats::Stats,
        sys,
        sysfs::{show_for_test, store_for_test},
    };
    use kernel::sync::Arc;

    fn control() -> Result<Arc<Control>> {
        let stats = Arc::new(Stats::new(2)?, GFP_KERNEL)?;
        Arc::pin_init(Control::new(stats, 2)?, GFP_KERNEL)
    }

    fn find<T>(attrs: &[Attr<T>], name: &CStr) -> Result<Attr<T>> {
        attrs.iter().find(|a| a.name == name).copied().ok_or(EINVAL)
    }

    fn show<T>(attr: &Attr<T>, ctx: &T) -> Result<KVec<u8>> {
        let mut page = [0u8; 512];
        let len = show_for_test(attr, ctx, &mut page)?;
        let mut out = KVec::new();
        out.extend_from_slice(&page[..len], GFP_KERNEL)?;
        Ok(out)
    }

    /// Formats a malformed case into `buf`, with the newline `echo` adds.
    fn case<'a>(m: Malformed, buf: &'a mut [u8; 64]) -> Result<&'a [u8]> {
        let mut out = ShowBuf::for_test(buf);
        writeln!(out, "{m}").map_err(|_| EFBIG)?;
        Ok(out.written())
    }

    /// Whether `attr` refuses `input` and shows what it showed before.
    fn refuses<T>(attr: &Attr<T>, ctx: &T, input: &[u8]) -> Result<bool> {
        let before = show(attr, ctx)?;
        Ok(store_for_test(attr, ctx, input).is_err() && show(attr, ctx)? == before)
    }

    #[test]
    fn malformed_writes_change_nothing() -> Result {
        let c = control()?;
        let stage = Arc::new(StageDir::new(c.clone(), 1), GFP_KERNEL)?;
        let (root, stages) = (root_attrs()?, stage_attrs()?);
        let (mut tried, mut took) = (0, 0);
        for s in &SETTINGS {
            s.kind.malformed(|m| {
                let mut buf = [0u8; 64];
                let refused = case(m, &mut buf).and_then(|input| match s.scope {
                    Scope::Root => refuses(&find(&root, s.name)?, &*c, input),
                    Scope::Stage => refuses(&find(&stages, s.name)?, &*stage, input),
                });
                tried += 1;
                if refused != Ok(true) {
                    pr_err!("{} took {:?} or changed\n", s.name(), m);
                    took += 1;
                }
            });
        }
        assert_eq!(took, 0);
        assert!(tried >= 4 * SETTINGS.len());
        Ok(())
    }

    #[test]
    fn valid_writes_show_back() -> Result {
        let c = control()?;
        let root = root_attrs()?;
        let store = |name: &CStr, input: &[u8]| store_for_test(&find(&root, name)?, &*c, input);
        let show = |name: &CStr| show(&find(&root, name)?, &*c);
        store(c"policy", b"timeout\n")?;
        assert_eq!(&show(c"policy")?[..], b"idle poll [timeout] adaptive\n");
        store(c"match", b"udp dport 9000-9100\n")?;
        assert_eq!(&show(c"match")?[..], b"udp dport 9000-9100\n");
        store(c"rules", b"udp dport 9 drop; all mark 7\n")?;
        assert_eq!(&show(c"rules")?[..], b"udp dport 9 drop\nall mark 7\n");
        store(c"stages", b"5")?;
        assert_eq!(&show(c"stages")?[..], b"5\n");
        assert_eq!(&show(c"burst_gap_ns")?[..], b"20000\n");
        store(c"burst_gap_ns", b"0\n")?;
        assert_eq!(&show(c"burst_gap_ns")?[..], b"0\n");
        let stage = Arc::new(StageDir::new(c.clone(), 2), GFP_KERNEL)?;
        let stages = stage_attrs()?;
        let ops = find(&stages, c"ops")?;
        assert_eq!(&super::tests::show(&ops, &*stage)?[..], b"none\n");
        store_for_test(&ops, &*stage, b"parse,work\n")?;
        assert_eq!(&super::tests::show(&ops, &*stage)?[..], b"parse,work\n");
        assert_eq!(c.config().pipeline.stage[2].ops, crate::ops::Ops(5));
        Ok(())
    }

    #[test]
    fn stats_files_show_and_reset() -> Result {
        let stats = Arc::new(Stats::new(2)?, GFP_KERNEL)?;
        let control = Arc::pin_init(Control::new(stats.clone(), 2)?, GFP_KERNEL)?;
        let hook = seen::register(stats.clone())?;
        for _ in 0..3 {
            let skb = SkBuff::alloc(0, sys::GFP_KERNEL)?;
            hook.call_for_test(&skb.as_ref(), sys::NFPROTO_IPV4 as u8, free_okfn);
        }
        drop(hook);
        let attrs = stats_attrs()?;
        let seen = find(&attrs, c"seen")?;
        let reset = find(&attrs, c"reset")?;
        assert_eq!(&show(&seen, &*control)?[..], b"3\n");
        assert_eq!(store_for_test(&reset, &*control, b"0\n"), Err(EINVAL));
        assert_eq!(stats.seen(), 3);
        store_for_test(&reset, &*control, b"1\n")?;
        assert_eq!(stats.seen(), 0);
        Ok(())
    }
}
