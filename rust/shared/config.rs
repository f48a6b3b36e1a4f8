// SPDX-License-Identifier: GPL-2.0

//! The pipeline's configuration values: what sysfs accepts, parsed and shown.
//!
//! Pure logic with no kernel dependency: compiled into the module and into the host crate
//! `tools/vigil-core`, where cargo tests it and the CLI validates with it.

use crate::abi::{Key, Scope, Value, SETTINGS};
use crate::ops::{Match, Ops, Rules};
use crate::parse::{copy_prefix, parse_digits, trim_line, ParseError};
use crate::policy::{Params, Policy};
use core::fmt;

/// At most this many stages.
pub const MAX_STAGES: usize = 8;
/// CPU lists hold CPUs `0..MAX_CPUS`.
pub const MAX_CPUS: u32 = 64;
/// At most this many rules in the rule table.
pub const MAX_RULES: usize = 16;
/// The largest queue a stage may have.
pub const MAX_QUEUE_LEN: u64 = 65536;
/// The longest poll window: a stage must not poll for longer after its last packet.
pub const MAX_WINDOW_NS: u64 = 1_000_000_000;
/// The most busy work per packet: stages run in softirq context.
pub const MAX_WORK_NS: u64 = 1_000_000;
/// The most packets the pipelines may hold at once, all namespaces together.
pub const MAX_HELD_PACKETS: u64 = 1 << 20;
/// The most bytes of packet data the pipelines may hold at once.
pub const MAX_HELD_BYTES: u64 = 1 << 32;

/// A set of CPUs, `0..MAX_CPUS`, written as a cpulist (`0-2,5`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CpuList(pub u64);

impl CpuList {
    /// Parses a cpulist; every CPU must be below `nr_cpus` (and `MAX_CPUS`). An empty list is
    /// refused (an empty number is not a number).
    pub fn parse(input: &[u8], nr_cpus: u32) -> Result<Self, ParseError> {
        let limit = u64::from(nr_cpus.min(MAX_CPUS));
        let text = trim_line(input);
        let mut mask = 0u64;
        for part in text.split(|&c| c == b',') {
            let (lo, hi) = match part.iter().position(|&c| c == b'-') {
                Some(i) => (&part[..i], &part[i + 1..]),
                None => (part, part),
            };
            let lo = parse_digits(lo, 0, u64::MAX)?;
            let hi = parse_digits(hi, 0, u64::MAX)?;
            if lo > hi || hi >= limit {
                return Err(ParseError::OutOfRange);
            }
            for cpu in lo..=hi {
                mask |= 1 << cpu;
            }
        }
        Ok(CpuList(mask))
    }

    /// How many CPUs.
    pub fn len(&self) -> usize {
        self.0.count_ones() as usize
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// The `n`th CPU (counting from 0, wrapping around), which runs lane `n` of a stage.
    pub fn nth_wrapping(&self, n: usize) -> Option<u32> {
        if self.0 == 0 {
            return None;
        }
        let n = n % self.len();
        (0..MAX_CPUS).filter(|&c| self.0 & (1 << c) != 0).nth(n)
    }
}

impl fmt::Display for CpuList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut cpu = 0;
        while cpu < MAX_CPUS {
            if self.0 & (1 << cpu) == 0 {
                cpu += 1;
                continue;
            }
            let start = cpu;
            while cpu + 1 < MAX_CPUS && self.0 & (1 << (cpu + 1)) != 0 {
                cpu += 1;
            }
            if !first {
                f.write_str(",")?;
            }
            first = false;
            if start == cpu {
                write!(f, "{start}")?;
            } else {
                write!(f, "{start}-{cpu}")?;
            }
            cpu += 1;
        }
        Ok(())
    }
}

/// Where the netfilter hook steals packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookPoint {
    /// `NF_INET_PRE_ROUTING`: every packet received, before routing.
    PreRouting,
    /// `NF_INET_LOCAL_IN`: packets for this host, after routing.
    LocalIn,
}

impl HookPoint {
    /// The name in sysfs.
    pub fn name(self) -> &'static str {
        match self {
            HookPoint::PreRouting => "prerouting",
            HookPoint::LocalIn => "local_in",
        }
    }

    /// Parses `prerouting` or `local_in`.
    pub fn parse(input: &[u8]) -> Result<Self, ParseError> {
        match trim_line(input) {
            b"prerouting" => Ok(HookPoint::PreRouting),
            b"local_in" => Ok(HookPoint::LocalIn),
            _ => Err(ParseError::Invalid),
        }
    }
}

/// Which network namespaces' packets the hook steals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetnsScope {
    /// Only the initial namespace's: a container's traffic passes untouched.
    Init,
    /// Every namespace's, each held to its own quota of packets in the pipeline.
    All,
}

impl NetnsScope {
    /// The name in sysfs.
    pub fn name(self) -> &'static str {
        match self {
            NetnsScope::Init => "init",
            NetnsScope::All => "all",
        }
    }

    /// Parses `init` or `all`.
    pub fn parse(input: &[u8]) -> Result<Self, ParseError> {
        match trim_line(input) {
            b"init" => Ok(NetnsScope::Init),
            b"all" => Ok(NetnsScope::All),
            _ => Err(ParseError::Invalid),
        }
    }
}

/// One stage's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageConfig {
    /// Its CPUs, one lane each.
    pub cpus: CpuList,
    /// What it does to each packet.
    pub ops: Ops,
    /// Busy work per packet for [`Ops::WORK`].
    pub work_ns: u64,
}

/// What a pipeline is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipelineConfig {
    /// How many of `stage` are used.
    pub stages: usize,
    /// Every stage's settings, used or not.
    pub stage: [StageConfig; MAX_STAGES],
    /// The policy and its knobs.
    pub params: Params,
    /// Each stage queue's capacity.
    pub queue_len: u32,
    /// Where packets are taken.
    pub hook: HookPoint,
    /// Which packets are taken.
    pub matcher: Match,
    /// The rule table.
    pub rules: Rules,
    /// Whose packets are taken.
    pub netns: NetnsScope,
    /// With `netns` all: the most packets one namespace may have in the pipeline.
    pub netns_quota: u64,
    /// The most packets all pipelines together may hold.
    pub max_held_packets: u64,
    /// The most bytes all pipelines together may hold.
    pub max_held_bytes: u64,
    /// The CPUs the allocator hands out (global).
    pub cpu_pool: CpuList,
    /// Whether the allocator sizes the stages not pinned by hand.
    pub allocate: bool,
}

/// Everything the administrator sets: one field per [`crate::abi::SETTINGS`] entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Whether the pipeline runs.
    pub enabled: bool,
    /// What it is built from.
    pub pipeline: PipelineConfig,
}

impl Config {
    /// Every setting at its default ([`crate::abi::SETTINGS`]), with `nr_cpus` CPUs. Fails
    /// only if the table's own defaults do not parse, which a host test rules out.
    pub fn defaults(nr_cpus: u32) -> Result<Self, ParseError> {
        let stage = StageConfig {
            cpus: CpuList(1),
            ops: Ops(0),
            work_ns: 0,
        };
        let mut cfg = Config {
            enabled: false,
            pipeline: PipelineConfig {
                stages: 1,
                stage: [stage; MAX_STAGES],
                params: Params {
                    policy: Policy::Idle,
                    window_ns: 0,
                    backlog_threshold: 0,
                    burst_gap_ns: 0,
                },
                queue_len: 1,
                hook: HookPoint::PreRouting,
                matcher: Match::All,
                rules: Rules::default(),
                netns: NetnsScope::Init,
                netns_quota: 1,
                max_held_packets: 1,
                max_held_bytes: 1,
                cpu_pool: CpuList(1),
                allocate: false,
            },
        };
        for s in &SETTINGS {
            let stages = match s.scope {
                Scope::Global | Scope::Pipeline => 1,
                Scope::Stage => MAX_STAGES,
            };
            for k in 0..stages {
                let mut text = TextBuf::default();
                s.default
                    .text(k, nr_cpus, &mut text)
                    .map_err(|_| ParseError::Invalid)?;
                let v = s.kind.parse(text.as_bytes(), nr_cpus)?;
                cfg.apply(s.key, k, v)?;
            }
        }
        Ok(cfg)
    }

    /// Sets `key` (of stage `stage`, for stage settings) to `v`. A value of another kind than
    /// the key's, or a stage out of range, is `Invalid`.
    pub fn apply(&mut self, key: Key, stage: usize, v: Value) -> Result<(), ParseError> {
        let p = &mut self.pipeline;
        let st = p.stage.get_mut(stage).ok_or(ParseError::Invalid)?;
        let narrow = |n: u64| u32::try_from(n).map_err(|_| ParseError::OutOfRange);
        match (key, v) {
            (Key::Enabled, Value::Flag(on)) => self.enabled = on,
            (Key::Policy, Value::Policy(policy)) => p.params.policy = policy,
            (Key::Stages, Value::Number(n)) => {
                p.stages = usize::try_from(n).map_err(|_| ParseError::OutOfRange)?
            }
            (Key::PollWindowNs, Value::Number(n)) => p.params.window_ns = n,
            (Key::BacklogThreshold, Value::Number(n)) => p.params.backlog_threshold = narrow(n)?,
            (Key::BurstGapNs, Value::Number(n)) => p.params.burst_gap_ns = n,
            (Key::QueueLen, Value::Number(n)) => p.queue_len = narrow(n)?,
            (Key::Hook, Value::Hook(hook)) => p.hook = hook,
            (Key::Match, Value::Match(m)) => p.matcher = m,
            (Key::Rules, Value::Rules(rules)) => p.rules = rules,
            (Key::Netns, Value::Netns(netns)) => p.netns = netns,
            (Key::NetnsQuota, Value::Number(n)) => p.netns_quota = n,
            (Key::MaxHeldPackets, Value::Number(n)) => p.max_held_packets = n,
            (Key::MaxHeldBytes, Value::Number(n)) => p.max_held_bytes = n,
            (Key::CpuPool, Value::Cpus(cpus)) => p.cpu_pool = cpus,
            (Key::Allocate, Value::Flag(on)) => p.allocate = on,
            (Key::Cpus, Value::Cpus(cpus)) => st.cpus = cpus,
            (Key::Ops, Value::Ops(ops)) => st.ops = ops,
            (Key::WorkNs, Value::Number(n)) => st.work_ns = n,
            _ => return Err(ParseError::Invalid),
        }
        Ok(())
    }

    /// The value of `key` (of stage `stage`, for stage settings; stage 0 past the last).
    pub fn get(&self, key: Key, stage: usize) -> Value {
        let p = &self.pipeline;
        let st = p.stage.get(stage).unwrap_or(&p.stage[0]);
        match key {
            Key::Enabled => Value::Flag(self.enabled),
            Key::Policy => Value::Policy(p.params.policy),
            Key::Stages => Value::Number(p.stages as u64),
            Key::PollWindowNs => Value::Number(p.params.window_ns),
            Key::BacklogThreshold => Value::Number(u64::from(p.params.backlog_threshold)),
            Key::BurstGapNs => Value::Number(p.params.burst_gap_ns),
            Key::QueueLen => Value::Number(u64::from(p.queue_len)),
            Key::Hook => Value::Hook(p.hook),
            Key::Match => Value::Match(p.matcher),
            Key::Rules => Value::Rules(p.rules),
            Key::Netns => Value::Netns(p.netns),
            Key::NetnsQuota => Value::Number(p.netns_quota),
            Key::MaxHeldPackets => Value::Number(p.max_held_packets),
            Key::MaxHeldBytes => Value::Number(p.max_held_bytes),
            Key::CpuPool => Value::Cpus(p.cpu_pool),
            Key::Allocate => Value::Flag(p.allocate),
            Key::Cpus => Value::Cpus(st.cpus),
            Key::Ops => Value::Ops(st.ops),
            Key::WorkNs => Value::Number(st.work_ns),
        }
    }

    /// Takes the global settings ([`Scope::Global`]) from `other`, which every pipeline
    /// shares.
    pub fn share_globals(&mut self, other: &Config) {
        for s in SETTINGS.iter().filter(|s| s.scope == Scope::Global) {
            // A value of the key's own kind: `apply` cannot refuse it.
            let _ = self.apply(s.key, 0, other.get(s.key, 0));
        }
    }

    /// Writes `key`'s value (of stage `stage`) as its file shows it, newline included.
    pub fn show(&self, key: Key, stage: usize, out: &mut impl fmt::Write) -> fmt::Result {
        if stage >= MAX_STAGES {
            return Err(fmt::Error);
        }
        self.get(key, stage).show(out)
    }
}

/// A small stack buffer that `write!` fills (a default's text, a CPU list for a log line);
/// what does not fit is refused.
#[derive(Default)]
pub struct TextBuf {
    buf: [u8; 32],
    len: usize,
}

impl TextBuf {
    /// What was written.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// What was written, as text (it is, as only `write_str` fills it).
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.as_bytes()).unwrap_or("")
    }
}

impl fmt::Write for TextBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        copy_prefix(
            self.buf.get_mut(self.len..end).ok_or(fmt::Error)?,
            s.as_bytes(),
        );
        self.len = end;
        Ok(())
    }
}
