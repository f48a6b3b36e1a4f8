// SPDX-License-Identifier: GPL-2.0

//! The configuration, the running pipeline, and the sysfs files that show and change them.
//!
//! Every write is parsed and checked before anything changes; a change while the pipeline
//! runs stops it (which drains it), applies the new configuration and starts it again.

use crate::{
    config::{
        CpuList, HookPoint, Match, NetnsScope, Ops, Rules, MAX_HELD_BYTES, MAX_HELD_PACKETS,
        MAX_QUEUE_LEN, MAX_STAGES, MAX_WINDOW_NS, MAX_WORK_NS,
    },
    netfilter::Registration,
    parse::{self, ParseError},
    pipeline::{Pipeline, PipelineConfig, StageConfig, DRAIN_TIMEOUT_MS},
    policy::{Params, Policy},
    seen::SeenCounter,
    stats::{DropReason, Skip, Stats},
    sysfs::{Attr, ShowBuf, MODE_WO},
    sysfs_emit,
};
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

/// Everything the administrator sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Config {
    pub(crate) enabled: bool,
    pub(crate) pipeline: PipelineConfig,
}

struct State {
    cfg: Config,
    running: Option<Pipeline>,
    /// The counting hook, registered while the pipeline runs.
    seen: Option<Pin<KBox<Registration<SeenCounter>>>>,
}

/// `burst_gap_ns` by default: packets of a burst from one sender enter well within it.
pub(crate) const DEFAULT_BURST_GAP_NS: u64 = 20_000;

/// The module's control: configuration, the running pipeline, the counters.
#[pin_data]
pub(crate) struct Control {
    #[pin]
    state: Mutex<State>,
    stats: Arc<Stats>,
    nr_cpus: u32,
}

impl Control {
    /// The defaults: disabled, 3 stages spread over the CPUs, adaptive.
    pub(crate) fn new(stats: Arc<Stats>, nr_cpus: u32) -> impl PinInit<Self> {
        let nr = nr_cpus.clamp(1, crate::config::MAX_CPUS);
        let stage = core::array::from_fn(|k| StageConfig {
            cpus: CpuList(1 << (k as u32 % nr)),
            ops: match k {
                0 => Ops::PARSE,
                1 => Ops::RULES,
                _ => Ops(0),
            },
            work_ns: 0,
        });
        let cfg = Config {
            enabled: false,
            pipeline: PipelineConfig {
                stages: 3,
                stage,
                params: Params {
                    policy: Policy::Adaptive,
                    window_ns: 50_000,
                    backlog_threshold: 1,
                    burst_gap_ns: DEFAULT_BURST_GAP_NS,
                },
                queue_len: 1024,
                hook: HookPoint::PreRouting,
                matcher: Match::All,
                rules: Rules::default(),
                netns: NetnsScope::Init,
                netns_quota: 256,
                max_held_packets: 65536,
                max_held_bytes: 64 << 20,
            },
        };
        pin_init!(Self {
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
        })
    }

    /// The configuration now.
    pub(crate) fn config(&self) -> Config {
        self.state.lock().cfg
    }

    /// The counters.
    pub(crate) fn stats(&self) -> &Stats {
        &self.stats
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

fn show_version(_: &Control, buf: &mut ShowBuf<'_>) -> Result {
    sysfs_emit!(buf, "{}\n", crate::VERSION)
}

fn show_enabled(c: &Control, buf: &mut ShowBuf<'_>) -> Result {
    sysfs_emit!(buf, "{}\n", u8::from(c.config().enabled))
}

fn store_enabled(c: &Control, input: &[u8]) -> Result {
    let on = parse::parse_bool(input).map_err(errno)?;
    c.update(|cfg| {
        cfg.enabled = on;
        Ok(())
    })
}

fn show_policy(c: &Control, buf: &mut ShowBuf<'_>) -> Result {
    let current = c.config().pipeline.params.policy;
    for (i, p) in Policy::ALL.into_iter().enumerate() {
        let sep = if i == 0 { "" } else { " " };
        if p == current {
            sysfs_emit!(buf, "{sep}[{}]", p.name())?;
        } else {
            sysfs_emit!(buf, "{sep}{}", p.name())?;
        }
    }
    sysfs_emit!(buf, "\n")
}

fn store_policy(c: &Control, input: &[u8]) -> Result {
    let policy = Policy::from_name(input).ok_or(EINVAL)?;
    c.update(|cfg| {
        cfg.pipeline.params.policy = policy;
        Ok(())
    })
}

fn show_stages(c: &Control, buf: &mut ShowBuf<'_>) -> Result {
    sysfs_emit!(buf, "{}\n", c.config().pipeline.stages)
}

fn store_stages(c: &Control, input: &[u8]) -> Result {
    let n = parse::parse_u64(input, 1, MAX_STAGES as u64).map_err(errno)? as usize;
    c.update(|cfg| {
        cfg.pipeline.stages = n;
        Ok(())
    })
}

fn show_window(c: &Control, buf: &mut ShowBuf<'_>) -> Result {
    sysfs_emit!(buf, "{}\n", c.config().pipeline.params.window_ns)
}

fn store_window(c: &Control, input: &[u8]) -> Result {
    let ns = parse::parse_u64(input, 0, MAX_WINDOW_NS).map_err(errno)?;
    c.update(|cfg| {
        cfg.pipeline.params.window_ns = ns;
        Ok(())
    })
}

fn show_threshold(c: &Control, buf: &mut ShowBuf<'_>) -> Result {
    sysfs_emit!(buf, "{}\n", c.config().pipeline.params.backlog_threshold)
}

fn store_threshold(c: &Control, input: &[u8]) -> Result {
    let n = parse::parse_u64(input, 0, MAX_QUEUE_LEN).map_err(errno)? as u32;
    c.update(|cfg| {
        cfg.pipeline.params.backlog_threshold = n;
        Ok(())
    })
}

fn show_burst_gap(c: &Control, buf: &mut ShowBuf<'_>) -> Result {
    sysfs_emit!(buf, "{}\n", c.config().pipeline.params.burst_gap_ns)
}

fn store_burst_gap(c: &Control, input: &[u8]) -> Result {
    let ns = parse::parse_u64(input, 0, MAX_WINDOW_NS).map_err(errno)?;
    c.update(|cfg| {
        cfg.pipeline.params.burst_gap_ns = ns;
        Ok(())
    })
}

fn show_queue_len(c: &Control, buf: &mut ShowBuf<'_>) -> Result {
    sysfs_emit!(buf, "{}\n", c.config().pipeline.queue_len)
}

fn store_queue_len(c: &Control, input: &[u8]) -> Result {
    let n = parse::parse_u64(input, 1, MAX_QUEUE_LEN).map_err(errno)? as u32;
    c.update(|cfg| {
        cfg.pipeline.queue_len = n;
        Ok(())
    })
}

fn show_hook(c: &Control, buf: &mut ShowBuf<'_>) -> Result {
    sysfs_emit!(buf, "{}\n", c.config().pipeline.hook.name())
}

fn store_hook(c: &Control, input: &[u8]) -> Result {
    let hook = HookPoint::parse(input).map_err(errno)?;
    c.update(|cfg| {
        cfg.pipeline.hook = hook;
        Ok(())
    })
}

fn show_match(c: &Control, buf: &mut ShowBuf<'_>) -> Result {
    sysfs_emit!(buf, "{}\n", c.config().pipeline.matcher)
}

fn store_match(c: &Control, input: &[u8]) -> Result {
    let m = Match::parse(input).map_err(errno)?;
    c.update(|cfg| {
        cfg.pipeline.matcher = m;
        Ok(())
    })
}

fn show_rules(c: &Control, buf: &mut ShowBuf<'_>) -> Result {
    for rule in c.config().pipeline.rules.iter() {
        sysfs_emit!(buf, "{rule}\n")?;
    }
    Ok(())
}

fn store_rules(c: &Control, input: &[u8]) -> Result {
    let rules = Rules::parse(input).map_err(errno)?;
    c.update(|cfg| {
        cfg.pipeline.rules = rules;
        Ok(())
    })
}

fn show_netns(c: &Control, buf: &mut ShowBuf<'_>) -> Result {
    sysfs_emit!(buf, "{}\n", c.config().pipeline.netns.name())
}

fn store_netns(c: &Control, input: &[u8]) -> Result {
    let netns = NetnsScope::parse(input).map_err(errno)?;
    c.update(|cfg| {
        cfg.pipeline.netns = netns;
        Ok(())
    })
}

fn show_netns_quota(c: &Control, buf: &mut ShowBuf<'_>) -> Result {
    sysfs_emit!(buf, "{}\n", c.config().pipeline.netns_quota)
}

fn store_netns_quota(c: &Control, input: &[u8]) -> Result {
    let n = parse::parse_u64(input, 1, MAX_HELD_PACKETS).map_err(errno)?;
    c.update(|cfg| {
        cfg.pipeline.netns_quota = n;
        Ok(())
    })
}

fn show_max_held_packets(c: &Control, buf: &mut ShowBuf<'_>) -> Result {
    sysfs_emit!(buf, "{}\n", c.config().pipeline.max_held_packets)
}

fn store_max_held_packets(c: &Control, input: &[u8]) -> Result {
    let n = parse::parse_u64(input, 1, MAX_HELD_PACKETS).map_err(errno)?;
    c.update(|cfg| {
        cfg.pipeline.max_held_packets = n;
        Ok(())
    })
}

fn show_max_held_bytes(c: &Control, buf: &mut ShowBuf<'_>) -> Result {
    sysfs_emit!(buf, "{}\n", c.config().pipeline.max_held_bytes)
}

fn store_max_held_bytes(c: &Control, input: &[u8]) -> Result {
    let n = parse::parse_u64(input, 1, MAX_HELD_BYTES).map_err(errno)?;
    c.update(|cfg| {
        cfg.pipeline.max_held_bytes = n;
        Ok(())
    })
}

/// The files of `/sys/kernel/vigil/`.
pub(crate) static ROOT_ATTRS: [Attr<Control>; 15] = [
    Attr::ro(c"version", show_version),
    Attr::rw(c"enabled", show_enabled, store_enabled),
    Attr::rw(c"policy", show_policy, store_policy),
    Attr::rw(c"stages", show_stages, store_stages),
    Attr::rw(c"poll_window_ns", show_window, store_window),
    Attr::rw(c"backlog_threshold", show_threshold, store_threshold),
    Attr::rw(c"burst_gap_ns", show_burst_gap, store_burst_gap),
    Attr::rw(c"queue_len", show_queue_len, store_queue_len),
    Attr::rw(c"hook", show_hook, store_hook),
    Attr::rw(c"match", show_match, store_match),
    Attr::rw(c"rules", show_rules, store_rules),
    Attr::rw(c"netns", show_netns, store_netns),
    Attr::rw(c"netns_quota", show_netns_quota, store_netns_quota),
    Attr::rw(
        c"max_held_packets",
        show_max_held_packets,
        store_max_held_packets,
    ),
    Attr::rw(c"max_held_bytes", show_max_held_bytes, store_max_held_bytes),
];

fn show_counter(buf: &mut ShowBuf<'_>, v: u64) -> Result {
    sysfs_emit!(buf, "{v}\n")
}

fn show_seen(c: &Control, buf: &mut ShowBuf<'_>) -> Result {
    show_counter(buf, c.stats.seen())
}

fn show_entered(c: &Control, buf: &mut ShowBuf<'_>) -> Result {
    show_counter(buf, c.stats.totals().entered)
}

fn show_delivered(c: &Control, buf: &mut ShowBuf<'_>) -> Result {
    show_counter(buf, c.stats.totals().delivered)
}

fn show_dropped(c: &Control, buf: &mut ShowBuf<'_>) -> Result {
    show_counter(buf, c.stats.totals().dropped_total())
}

fn show_in_flight(c: &Control, buf: &mut ShowBuf<'_>) -> Result {
    show_counter(buf, c.stats.totals().in_flight())
}

fn show_held_packets(c: &Control, buf: &mut ShowBuf<'_>) -> Result {
    show_counter(buf, c.stats.held.packets())
}

fn show_held_bytes(c: &Control, buf: &mut ShowBuf<'_>) -> Result {
    show_counter(buf, c.stats.held.bytes())
}

fn show_skipped_bridged(c: &Control, buf: &mut ShowBuf<'_>) -> Result {
    show_counter(buf, c.stats.skipped(Skip::Bridged))
}

fn show_skipped_l3mdev(c: &Control, buf: &mut ShowBuf<'_>) -> Result {
    show_counter(buf, c.stats.skipped(Skip::L3mdev))
}

fn show_drops(c: &Control, buf: &mut ShowBuf<'_>) -> Result {
    let t = c.stats.totals();
    for (reason, n) in DropReason::ALL.iter().zip(t.dropped) {
        sysfs_emit!(buf, "{} {n}\n", reason.name())?;
    }
    Ok(())
}

fn store_reset(c: &Control, input: &[u8]) -> Result {
    match parse::parse_bool(input) {
        Ok(true) => {
            c.stats.reset();
            Ok(())
        }
        Ok(false) => Err(EINVAL),
        Err(e) => Err(errno(e)),
    }
}

/// The files of `/sys/kernel/vigil/stats/`.
pub(crate) static STATS_ATTRS: [Attr<Control>; 11] = [
    Attr::ro(c"seen", show_seen),
    Attr::ro(c"entered", show_entered),
    Attr::ro(c"delivered", show_delivered),
    Attr::ro(c"dropped", show_dropped),
    Attr::ro(c"in_flight", show_in_flight),
    Attr::ro(c"held_packets", show_held_packets),
    Attr::ro(c"held_bytes", show_held_bytes),
    Attr::ro(c"skipped_bridged", show_skipped_bridged),
    Attr::ro(c"skipped_l3mdev", show_skipped_l3mdev),
    Attr::ro(c"drops", show_drops),
    Attr {
        name: c"reset",
        mode: MODE_WO,
        show: None,
        store: Some(store_reset),
    },
];

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

    fn stage(&self) -> StageConfig {
        self.control.config().pipeline.stage[self.index]
    }

    fn update(&self, change: impl FnOnce(&mut StageConfig)) -> Result {
        self.control.update(|cfg| {
            change(&mut cfg.pipeline.stage[self.index]);
            Ok(())
        })
    }
}

fn show_cpus(s: &StageDir, buf: &mut ShowBuf<'_>) -> Result {
    sysfs_emit!(buf, "{}\n", s.stage().cpus)
}

fn store_cpus(s: &StageDir, input: &[u8]) -> Result {
    let cpus = CpuList::parse(input, s.control.nr_cpus).map_err(errno)?;
    s.update(|st| st.cpus = cpus)
}

fn show_ops(s: &StageDir, buf: &mut ShowBuf<'_>) -> Result {
    sysfs_emit!(buf, "{}\n", s.stage().ops)
}

fn store_ops(s: &StageDir, input: &[u8]) -> Result {
    let ops = Ops::parse(input).map_err(errno)?;
    s.update(|st| st.ops = ops)
}

fn show_work(s: &StageDir, buf: &mut ShowBuf<'_>) -> Result {
    sysfs_emit!(buf, "{}\n", s.stage().work_ns)
}

fn store_work(s: &StageDir, input: &[u8]) -> Result {
    let ns = parse::parse_u64(input, 0, MAX_WORK_NS).map_err(errno)?;
    s.update(|st| st.work_ns = ns)
}

/// The files of `/sys/kernel/vigil/stageN/`.
pub(crate) static STAGE_ATTRS: [Attr<StageDir>; 3] = [
    Attr::rw(c"cpus", show_cpus, store_cpus),
    Attr::rw(c"ops", show_ops, store_ops),
    Attr::rw(c"work_ns", show_work, store_work),
];

/// The names of the stage directories.
pub(crate) static STAGE_NAMES: [&kernel::str::CStr; MAX_STAGES] = [
    c"stage0", c"stage1", c"stage2", c"stage3", c"stage4", c"stage5", c"stage6", c"stage7",
];

#[kunit_tests(vigil_config)]
mod tests {
    use super::*;
    use crate::{
        seen,
        skb::{free_okfn, SkBuff},
        stats::Stats,
        sys,
        sysfs::{show_for_test, store_for_test},
    };
    use kernel::sync::Arc;

    fn control() -> Result<Arc<Control>> {
        let stats = Arc::new(Stats::new(2)?, GFP_KERNEL)?;
        Arc::pin_init(Control::new(stats, 2), GFP_KERNEL)
    }

    fn show(c: &Control, name: &CStr) -> Result<KVec<u8>> {
        let attr = ROOT_ATTRS.iter().find(|a| a.name == name).ok_or(EINVAL)?;
        let mut page = [0u8; 512];
        let len = show_for_test(attr, c, &mut page)?;
        let mut out = KVec::new();
        out.extend_from_slice(&page[..len], GFP_KERNEL)?;
        Ok(out)
    }

    fn store(c: &Control, name: &CStr, input: &[u8]) -> Result {
        let attr = ROOT_ATTRS.iter().find(|a| a.name == name).ok_or(EINVAL)?;
        store_for_test(attr, c, input)
    }

    #[test]
    fn malformed_writes_change_nothing() -> Result {
        let c = control()?;
        let cases: [(&CStr, &[&[u8]]); 8] = [
            (c"policy", &[b"", b"busy", b"adaptive\n\n", b"Idle"]),
            (c"stages", &[b"0", b"9", b"x", b"-1"]),
            (c"poll_window_ns", &[b"", b"1000000001", b"1e6"]),
            (c"burst_gap_ns", &[b"", b"1000000001", b"20us", b"-1"]),
            (c"queue_len", &[b"0", b"65537", b" 4"]),
            (c"hook", &[b"forward", b""]),
            (
                c"match",
                &[b"udp dport 9100-9000", b"icmp", b"udp dport 70000"],
            ),
            (c"rules", &[b"all frobnicate", b"udp dport 9 drop extra"]),
        ];
        for (name, inputs) in cases {
            let before = show(&c, name)?;
            for input in inputs {
                assert!(store(&c, name, input).is_err());
                assert_eq!(show(&c, name)?, before);
            }
        }
        Ok(())
    }

    #[test]
    fn valid_writes_show_back() -> Result {
        let c = control()?;
        store(&c, c"policy", b"timeout\n")?;
        assert_eq!(&show(&c, c"policy")?[..], b"idle poll [timeout] adaptive\n");
        store(&c, c"match", b"udp dport 9000-9100\n")?;
        assert_eq!(&show(&c, c"match")?[..], b"udp dport 9000-9100\n");
        store(&c, c"rules", b"udp dport 9 drop; all mark 7\n")?;
        assert_eq!(&show(&c, c"rules")?[..], b"udp dport 9 drop\nall mark 7\n");
        store(&c, c"stages", b"5")?;
        assert_eq!(&show(&c, c"stages")?[..], b"5\n");
        assert_eq!(&show(&c, c"burst_gap_ns")?[..], b"20000\n");
        store(&c, c"burst_gap_ns", b"0\n")?;
        assert_eq!(&show(&c, c"burst_gap_ns")?[..], b"0\n");
        Ok(())
    }

    #[test]
    fn stats_files_show_and_reset() -> Result {
        let stats = Arc::new(Stats::new(2)?, GFP_KERNEL)?;
        let control = Arc::pin_init(Control::new(stats.clone(), 2), GFP_KERNEL)?;
        let hook = seen::register(stats.clone())?;
        for _ in 0..3 {
            let skb = SkBuff::alloc(0, sys::GFP_KERNEL)?;
            hook.call_for_test(&skb.as_ref(), sys::NFPROTO_IPV4 as u8, free_okfn);
        }
        drop(hook);
        let seen = STATS_ATTRS
            .iter()
            .find(|a| a.name == c"seen")
            .ok_or(EINVAL)?;
        let reset = STATS_ATTRS
            .iter()
            .find(|a| a.name == c"reset")
            .ok_or(EINVAL)?;
        let mut page = [0u8; 32];
        let len = show_for_test(seen, &*control, &mut page)?;
        assert_eq!(&page[..len], b"3\n");
        assert_eq!(store_for_test(reset, &*control, b"0\n"), Err(EINVAL));
        assert_eq!(stats.seen(), 3);
        store_for_test(reset, &*control, b"1\n")?;
        assert_eq!(stats.seen(), 0);
        Ok(())
    }
}
