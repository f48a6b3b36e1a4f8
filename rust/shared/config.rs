// SPDX-License-Identifier: GPL-2.0

//! The pipeline's configuration values: what sysfs accepts, parsed and shown.
//!
//! Pure logic with no kernel dependency: compiled into the module and into the host crate
//! `tools/vigil-core`, where cargo tests it and the CLI validates with it.

use crate::abi::{Key, Scope, Value, SETTINGS};
use crate::parse::{parse_digits, trim_line, ParseError};
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

/// IP protocol numbers the filter knows.
pub const IPPROTO_TCP: u8 = 6;
/// See [`IPPROTO_TCP`].
pub const IPPROTO_UDP: u8 = 17;

/// Which packets a filter or rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// Every packet.
    All,
    /// One transport protocol, destination ports `lo..=hi`.
    Port {
        /// `IPPROTO_UDP` or `IPPROTO_TCP`.
        proto: u8,
        /// Lowest destination port.
        lo: u16,
        /// Highest destination port.
        hi: u16,
    },
}

impl Match {
    /// Whether a packet with this protocol and destination port (if it has one) matches.
    pub fn matches(&self, proto: u8, dport: Option<u16>) -> bool {
        match *self {
            Match::All => true,
            Match::Port { proto: p, lo, hi } => {
                p == proto && dport.is_some_and(|d| (lo..=hi).contains(&d))
            }
        }
    }

    /// Parses `all`, or `udp|tcp dport P` or `udp|tcp dport LO-HI`, from words.
    fn from_words<'a>(words: &mut impl Iterator<Item = &'a [u8]>) -> Result<Self, ParseError> {
        let proto = match words.next().ok_or(ParseError::Invalid)? {
            b"all" => return Ok(Match::All),
            b"udp" => IPPROTO_UDP,
            b"tcp" => IPPROTO_TCP,
            _ => return Err(ParseError::Invalid),
        };
        if words.next() != Some(b"dport") {
            return Err(ParseError::Invalid);
        }
        let range = words.next().ok_or(ParseError::Invalid)?;
        let (lo, hi) = match range.iter().position(|&c| c == b'-') {
            Some(i) => (&range[..i], &range[i + 1..]),
            None => (range, range),
        };
        let lo = parse_digits(lo, 0, 65535)? as u16;
        let hi = parse_digits(hi, 0, 65535)? as u16;
        if lo > hi {
            return Err(ParseError::OutOfRange);
        }
        Ok(Match::Port { proto, lo, hi })
    }

    /// Parses a whole filter: `all`, `udp dport 9000-9100`, `tcp dport 80`.
    pub fn parse(input: &[u8]) -> Result<Self, ParseError> {
        let mut words = words(trim_line(input));
        let m = Match::from_words(&mut words)?;
        match words.next() {
            None => Ok(m),
            Some(_) => Err(ParseError::Invalid),
        }
    }
}

impl fmt::Display for Match {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Match::All => f.write_str("all"),
            Match::Port { proto, lo, hi } => {
                let name = match proto {
                    IPPROTO_TCP => "tcp",
                    IPPROTO_UDP => "udp",
                    _ => return write!(f, "proto {proto} dport {lo}-{hi}"),
                };
                if lo == hi {
                    write!(f, "{name} dport {lo}")
                } else {
                    write!(f, "{name} dport {lo}-{hi}")
                }
            }
        }
    }
}

/// Space-separated words of a line.
fn words(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|&c| c == b' ').filter(|w| !w.is_empty())
}

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

/// The built-in operations a stage runs on each packet, in this order. The last stage also
/// delivers the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ops(pub u8);

impl Ops {
    /// Parse and validate the IP and transport headers.
    pub const PARSE: Ops = Ops(1);
    /// Apply the rule table.
    pub const RULES: Ops = Ops(2);
    /// Spin for the stage's `work_ns`.
    pub const WORK: Ops = Ops(4);
    const NAMES: [(Ops, &'static str); 3] = [
        (Ops::PARSE, "parse"),
        (Ops::RULES, "rules"),
        (Ops::WORK, "work"),
    ];

    /// Whether every operation of `other` is in `self`.
    pub fn contains(self, other: Ops) -> bool {
        self.0 & other.0 == other.0
    }

    /// Parses `none` or a comma-separated list of `parse`, `rules`, `work`.
    pub fn parse(input: &[u8]) -> Result<Self, ParseError> {
        let text = trim_line(input);
        if text == b"none" {
            return Ok(Ops(0));
        }
        let mut ops = 0u8;
        for name in text.split(|&c| c == b',') {
            let op = Ops::NAMES
                .iter()
                .find(|(_, n)| n.as_bytes() == name)
                .ok_or(ParseError::Invalid)?;
            ops |= op.0 .0;
        }
        Ok(Ops(ops))
    }
}

impl fmt::Display for Ops {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("none");
        }
        let mut first = true;
        for (op, name) in Ops::NAMES {
            if self.contains(op) {
                if !first {
                    f.write_str(",")?;
                }
                first = false;
                f.write_str(name)?;
            }
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

/// What a rule does with the packets it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Stop looking at rules; the packet goes on.
    Accept,
    /// Drop the packet (counted, reason `rule`).
    Drop,
    /// Set `skb->mark` and go on with the next rule.
    Mark(u32),
}

/// One rule: the first rule that matches and accepts or drops decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Which packets.
    pub matcher: Match,
    /// What to do.
    pub action: Action,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.action {
            Action::Accept => write!(f, "{} accept", self.matcher),
            Action::Drop => write!(f, "{} drop", self.matcher),
            Action::Mark(m) => write!(f, "{} mark {m}", self.matcher),
        }
    }
}

/// The rule table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rules {
    rules: [Option<Rule>; MAX_RULES],
}

/// What the rule table decided for a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the packet is dropped.
    pub drop: bool,
    /// The last mark a rule set, if any.
    pub mark: Option<u32>,
}

impl Rules {
    /// Parses rules separated by `;` or newlines, each `MATCH accept|drop|mark N`; an empty
    /// input is an empty table.
    pub fn parse(input: &[u8]) -> Result<Self, ParseError> {
        let mut table = Rules::default();
        let mut n = 0;
        for line in input.split(|&c| c == b'\n' || c == b';') {
            let mut w = words(line).peekable();
            if w.peek().is_none() {
                continue;
            }
            let matcher = Match::from_words(&mut w)?;
            let action = match w.next().ok_or(ParseError::Invalid)? {
                b"accept" => Action::Accept,
                b"drop" => Action::Drop,
                b"mark" => {
                    let m = w.next().ok_or(ParseError::Invalid)?;
                    Action::Mark(parse_digits(m, 0, u64::from(u32::MAX))? as u32)
                }
                _ => return Err(ParseError::Invalid),
            };
            if w.next().is_some() {
                return Err(ParseError::Invalid);
            }
            let slot = table.rules.get_mut(n).ok_or(ParseError::OutOfRange)?;
            *slot = Some(Rule { matcher, action });
            n += 1;
        }
        Ok(table)
    }

    /// The rules, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().map_while(Option::as_ref)
    }

    /// Applies the table to a packet.
    pub fn apply(&self, proto: u8, dport: Option<u16>) -> Verdict {
        let mut mark = None;
        for rule in self.iter() {
            if !rule.matcher.matches(proto, dport) {
                continue;
            }
            match rule.action {
                Action::Accept => break,
                Action::Drop => return Verdict { drop: true, mark },
                Action::Mark(m) => mark = Some(m),
            }
        }
        Verdict { drop: false, mark }
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
            },
        };
        for s in &SETTINGS {
            let stages = match s.scope {
                Scope::Root => 1,
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
            (Key::Cpus, Value::Cpus(cpus)) => st.cpus = cpus,
            (Key::Ops, Value::Ops(ops)) => st.ops = ops,
            (Key::WorkNs, Value::Number(n)) => st.work_ns = n,
            _ => return Err(ParseError::Invalid),
        }
        Ok(())
    }

    /// Writes `key`'s value (of stage `stage`) as its file shows it, newline included.
    pub fn show(&self, key: Key, stage: usize, out: &mut impl fmt::Write) -> fmt::Result {
        let p = &self.pipeline;
        let st = p.stage.get(stage).ok_or(fmt::Error)?;
        match key {
            Key::Enabled => writeln!(out, "{}", u8::from(self.enabled)),
            Key::Policy => {
                for (i, policy) in Policy::ALL.into_iter().enumerate() {
                    let sep = if i == 0 { "" } else { " " };
                    if policy == p.params.policy {
                        write!(out, "{sep}[{}]", policy.name())?;
                    } else {
                        write!(out, "{sep}{}", policy.name())?;
                    }
                }
                writeln!(out)
            }
            Key::Stages => writeln!(out, "{}", p.stages),
            Key::PollWindowNs => writeln!(out, "{}", p.params.window_ns),
            Key::BacklogThreshold => writeln!(out, "{}", p.params.backlog_threshold),
            Key::BurstGapNs => writeln!(out, "{}", p.params.burst_gap_ns),
            Key::QueueLen => writeln!(out, "{}", p.queue_len),
            Key::Hook => writeln!(out, "{}", p.hook.name()),
            Key::Match => writeln!(out, "{}", p.matcher),
            Key::Rules => p.rules.iter().try_for_each(|r| writeln!(out, "{r}")),
            Key::Netns => writeln!(out, "{}", p.netns.name()),
            Key::NetnsQuota => writeln!(out, "{}", p.netns_quota),
            Key::MaxHeldPackets => writeln!(out, "{}", p.max_held_packets),
            Key::MaxHeldBytes => writeln!(out, "{}", p.max_held_bytes),
            Key::Cpus => writeln!(out, "{}", st.cpus),
            Key::Ops => writeln!(out, "{}", st.ops),
            Key::WorkNs => writeln!(out, "{}", st.work_ns),
        }
    }
}

/// A small stack buffer for a default's text (the longest is a few digits or a word).
#[derive(Default)]
struct TextBuf {
    buf: [u8; 32],
    len: usize,
}

impl TextBuf {
    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl fmt::Write for TextBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        self.buf
            .get_mut(self.len..end)
            .ok_or(fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}
