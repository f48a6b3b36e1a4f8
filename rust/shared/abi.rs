// SPDX-License-Identifier: GPL-2.0

//! The sysfs ABI, declared once: every setting's file, kind (which picks its parser), range,
//! default and meaning, and every single-value counter's.
//!
//! The module builds its files from these tables, the CLI validates, lists and restores
//! defaults with them, a host test checks `Documentation/ABI/testing/sysfs-kernel-vigil`
//! against them, and the malformed-write tests take their cases from [`Kind::malformed`].
//!
//! Pure logic with no kernel dependency: compiled into the module and into the host crate
//! `tools/vigil-core`.

use crate::config::{
    CpuList, HookPoint, NetnsScope, MAX_HELD_BYTES, MAX_HELD_PACKETS, MAX_QUEUE_LEN, MAX_STAGES,
    MAX_WINDOW_NS, MAX_WORK_NS,
};
use crate::ops::{Match, Ops, Rules};
use crate::parse::{parse_bool, parse_u64, ParseError};
use crate::policy::Policy;
use core::{ffi::CStr, fmt};

/// Where a setting's file is, and what it sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `/sys/kernel/vigil/NAME`: one value, shared by every pipeline.
    Global,
    /// One per pipeline: `/sys/kernel/vigil/pipeline/P/NAME`; the default pipeline's is
    /// `/sys/kernel/vigil/NAME`.
    Pipeline,
    /// One per stage of a pipeline: `stageN/NAME` in the pipeline's directory (the default
    /// pipeline's at the top).
    Stage,
}

impl Scope {
    /// Whether the setting's file is at the top of a pipeline's directory (as opposed to a
    /// stage directory).
    pub fn at_top(self) -> bool {
        self != Scope::Stage
    }
}

/// What a setting holds, which picks its parser and its display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `0` or `1`.
    Flag,
    /// A decimal number in `min..=max`.
    Number {
        /// The smallest value.
        min: u64,
        /// The largest value.
        max: u64,
    },
    /// A policy name; reads list them all, the current one in brackets.
    Policy,
    /// `prerouting` or `local_in`.
    Hook,
    /// `init` or `all`.
    Netns,
    /// A packet filter ([`Match`]).
    Match,
    /// A rule table ([`Rules`]).
    Rules,
    /// A cpulist of possible CPUs ([`CpuList`]).
    Cpus,
    /// A stage's operations ([`Ops`]).
    Ops,
}

/// Which field of the configuration a setting is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// Whether the pipeline runs.
    Enabled,
    /// The polling policy.
    Policy,
    /// The number of stages.
    Stages,
    /// The policies' poll window.
    PollWindowNs,
    /// The adaptive policy's backlog threshold.
    BacklogThreshold,
    /// The adaptive policy's burst gap.
    BurstGapNs,
    /// Each stage queue's capacity.
    QueueLen,
    /// The netfilter hook.
    Hook,
    /// Which packets are taken.
    Match,
    /// The rule table.
    Rules,
    /// Whose packets are taken.
    Netns,
    /// The per-namespace quota.
    NetnsQuota,
    /// The most packets held.
    MaxHeldPackets,
    /// The most bytes held.
    MaxHeldBytes,
    /// The CPUs the allocator hands out.
    CpuPool,
    /// Whether the allocator sizes the pipeline's stages.
    Allocate,
    /// A stage's CPUs.
    Cpus,
    /// A stage's operations.
    Ops,
    /// A stage's busy work per packet.
    WorkNs,
}

/// A setting's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Default {
    /// This text, as written to the file (`""`: empty).
    Is(&'static str),
    /// Stage N runs on CPU N modulo the number of CPUs.
    CpuOfStage,
    /// `parse` on stage 0, `rules` on stage 1, `none` on the others.
    OpsOfStage,
    /// Every CPU.
    AllCpus,
}

impl Default {
    /// The default of stage `stage`'s setting, as written to its file, with `nr_cpus` CPUs.
    pub fn text(self, stage: usize, nr_cpus: u32, out: &mut impl fmt::Write) -> fmt::Result {
        match self {
            Default::Is(text) => out.write_str(text),
            Default::CpuOfStage => write!(out, "{}", stage as u32 % nr_cpus.max(1)),
            Default::AllCpus => match nr_cpus.max(1) {
                1 => out.write_str("0"),
                n => write!(out, "0-{}", n - 1),
            },
            Default::OpsOfStage => out.write_str(match stage {
                0 => "parse",
                1 => "rules",
                _ => "none",
            }),
        }
    }
}

/// How the ABI document states a default: `Default: TEXT.`
impl fmt::Display for Default {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Default::Is("") => f.write_str("empty"),
            Default::Is(text) => f.write_str(text),
            Default::CpuOfStage => f.write_str("CPU N mod the CPU count"),
            Default::OpsOfStage => f.write_str("parse, rules, then none"),
            Default::AllCpus => f.write_str("all CPUs"),
        }
    }
}

/// One writable file of the ABI.
#[derive(Debug)]
pub struct Setting {
    /// The field it sets.
    pub key: Key,
    /// The file name.
    pub name: &'static CStr,
    /// Where the file is.
    pub scope: Scope,
    /// What it holds.
    pub kind: Kind,
    /// Its value when the module loads.
    pub default: Default,
    /// What it does, in one line.
    pub meaning: &'static str,
}

/// A parsed value, ready for [`crate::config::Config::apply`].
// A value lives for one write, on the stack; the rule table is its largest kind, and boxing it
// would need an allocation that this shared code cannot make.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// A [`Kind::Flag`].
    Flag(bool),
    /// A [`Kind::Number`].
    Number(u64),
    /// A [`Kind::Policy`].
    Policy(Policy),
    /// A [`Kind::Hook`].
    Hook(HookPoint),
    /// A [`Kind::Netns`].
    Netns(NetnsScope),
    /// A [`Kind::Match`].
    Match(Match),
    /// A [`Kind::Rules`].
    Rules(Rules),
    /// A [`Kind::Cpus`].
    Cpus(CpuList),
    /// A [`Kind::Ops`].
    Ops(Ops),
}

impl Value {
    /// Writes the value as its file shows it, newline included: a policy lists them all, the
    /// current one in brackets; a rule table shows a rule per line (nothing when empty).
    pub fn show(&self, out: &mut impl fmt::Write) -> fmt::Result {
        match self {
            Value::Flag(on) => writeln!(out, "{}", u8::from(*on)),
            Value::Number(n) => writeln!(out, "{n}"),
            Value::Policy(current) => {
                for (i, policy) in Policy::ALL.into_iter().enumerate() {
                    let sep = if i == 0 { "" } else { " " };
                    if policy == *current {
                        write!(out, "{sep}[{}]", policy.name())?;
                    } else {
                        write!(out, "{sep}{}", policy.name())?;
                    }
                }
                writeln!(out)
            }
            Value::Hook(hook) => writeln!(out, "{}", hook.name()),
            Value::Netns(netns) => writeln!(out, "{}", netns.name()),
            Value::Match(m) => writeln!(out, "{m}"),
            Value::Rules(rules) => rules.iter().try_for_each(|r| writeln!(out, "{r}")),
            Value::Cpus(cpus) => writeln!(out, "{cpus}"),
            Value::Ops(ops) => writeln!(out, "{ops}"),
        }
    }
}

impl Kind {
    /// Parses a write to a file of this kind; `nr_cpus` bounds CPU lists.
    pub fn parse(self, input: &[u8], nr_cpus: u32) -> Result<Value, ParseError> {
        Ok(match self {
            Kind::Flag => Value::Flag(parse_bool(input)?),
            Kind::Number { min, max } => Value::Number(parse_u64(input, min, max)?),
            Kind::Policy => Value::Policy(Policy::from_name(input).ok_or(ParseError::Invalid)?),
            Kind::Hook => Value::Hook(HookPoint::parse(input)?),
            Kind::Netns => Value::Netns(NetnsScope::parse(input)?),
            Kind::Match => Value::Match(Match::parse(input)?),
            Kind::Rules => Value::Rules(Rules::parse(input)?),
            Kind::Cpus => Value::Cpus(CpuList::parse(input, nr_cpus)?),
            Kind::Ops => Value::Ops(Ops::parse(input)?),
        })
    }

    /// Writes every file of this kind must refuse, leaving its value as it was: the
    /// grammar's near misses, and for numbers the values just outside the range. The CPU
    /// lists' cases assume fewer than 64 CPUs.
    pub fn malformed(self, mut each: impl FnMut(Malformed)) {
        let words: &[&str] = match self {
            Kind::Flag => &["2", "-1", "yes", "1 1", "01x", " 1", ""],
            Kind::Number { .. } => &[
                "-1",
                "x",
                "1k",
                "1e6",
                "0x10",
                "4 4",
                "",
                "18446744073709551616",
            ],
            Kind::Policy => &[
                "busy",
                "Idle",
                "adaptive adaptive",
                "poll,idle",
                "timeout2",
                "",
            ],
            Kind::Hook => &[
                "forward",
                "PREROUTING",
                "local_out",
                "prerouting local_in",
                "",
            ],
            Kind::Netns => &["INIT", "host", "all all", ""],
            Kind::Match => &[
                "udp",
                "udp dport",
                "udp dport 9100-9000",
                "udp dport 70000",
                "icmp dport 1",
                "udp sport 5",
                "all x",
                "tcp dport -1",
                "",
            ],
            Kind::Rules => &[
                "udp dport 9000",
                "all frobnicate",
                "all mark",
                "all mark x",
                "all drop extra",
                "udp dport 70000 drop",
                "all mark 4294967296",
            ],
            Kind::Cpus => &["", "64", "0-64", "3-1", "a", "0,,1", "-1"],
            Kind::Ops => &["parse,", "bogus", "parse rules", "none,parse", "PARSE", ""],
        };
        for w in words {
            each(Malformed::Text(w));
        }
        if let Kind::Number { min, max } = self {
            if let Some(below) = min.checked_sub(1) {
                each(Malformed::Number(below));
            }
            if let Some(above) = max.checked_add(1) {
                each(Malformed::Number(above));
            }
        }
    }
}

/// A write that must be refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// This text.
    Text(&'static str),
    /// This number, out of the setting's range.
    Number(u64),
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::Text(t) => f.write_str(t),
            Malformed::Number(n) => write!(f, "{n}"),
        }
    }
}

/// What a file takes; for numbers, as the ABI document states a range (`Range: MIN to MAX.`).
impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kind::Number { min, max } => write!(f, "{min} to {max}"),
            Kind::Flag => f.write_str("0 or 1"),
            Kind::Policy => {
                for (i, p) in Policy::ALL.into_iter().enumerate() {
                    f.write_str(if i == 0 { "" } else { "|" })?;
                    f.write_str(p.name())?;
                }
                Ok(())
            }
            Kind::Hook => write!(
                f,
                "{}|{}",
                HookPoint::PreRouting.name(),
                HookPoint::LocalIn.name()
            ),
            Kind::Netns => write!(f, "{}|{}", NetnsScope::Init.name(), NetnsScope::All.name()),
            Kind::Match => f.write_str("a match"),
            Kind::Rules => f.write_str("a rule table"),
            Kind::Cpus => f.write_str("a cpulist"),
            Kind::Ops => f.write_str("a list of operations"),
        }
    }
}

impl Setting {
    /// The file name as text.
    pub fn name(&self) -> &'static str {
        self.name.to_str().unwrap_or("")
    }

    /// The setting whose file is `name` at the top of a pipeline's directory (`top`) or in a
    /// stage directory.
    pub fn find(top: bool, name: &str) -> Option<&'static Setting> {
        SETTINGS
            .iter()
            .find(|s| s.scope.at_top() == top && s.name() == name)
    }
}

const fn number(min: u64, max: u64) -> Kind {
    Kind::Number { min, max }
}

/// Every setting, in the order `vigil status` lists them and the files are created.
pub static SETTINGS: [Setting; 19] = [
    Setting {
        key: Key::Enabled,
        name: c"enabled",
        scope: Scope::Pipeline,
        kind: Kind::Flag,
        default: Default::Is("0"),
        meaning: "1 while the pipeline runs",
    },
    Setting {
        key: Key::Policy,
        name: c"policy",
        scope: Scope::Pipeline,
        kind: Kind::Policy,
        default: Default::Is("adaptive"),
        meaning: "what a stage does once its queue is empty",
    },
    Setting {
        key: Key::Stages,
        name: c"stages",
        scope: Scope::Pipeline,
        kind: number(1, MAX_STAGES as u64),
        default: Default::Is("3"),
        meaning: "how many stages the pipeline has",
    },
    Setting {
        key: Key::PollWindowNs,
        name: c"poll_window_ns",
        scope: Scope::Pipeline,
        kind: number(0, MAX_WINDOW_NS),
        default: Default::Is("200000"),
        meaning: "timeout's window; the bound of adaptive's self-sized windows and look-ahead",
    },
    Setting {
        key: Key::BacklogThreshold,
        name: c"backlog_threshold",
        scope: Scope::Pipeline,
        kind: number(0, MAX_QUEUE_LEN),
        default: Default::Is("1"),
        meaning: "upstream backlog that keeps an adaptive stage polling (0: off)",
    },
    Setting {
        key: Key::BurstGapNs,
        name: c"burst_gap_ns",
        scope: Scope::Pipeline,
        kind: number(0, MAX_WINDOW_NS),
        default: Default::Is("20000"),
        meaning: "floor of a lane's burst gap (4x its mean entry gap, at most poll_window_ns)",
    },
    Setting {
        key: Key::QueueLen,
        name: c"queue_len",
        scope: Scope::Pipeline,
        kind: number(1, MAX_QUEUE_LEN),
        default: Default::Is("1024"),
        meaning: "capacity of each stage's queue",
    },
    Setting {
        key: Key::Hook,
        name: c"hook",
        scope: Scope::Pipeline,
        kind: Kind::Hook,
        default: Default::Is("prerouting"),
        meaning: "where the hook takes packets",
    },
    Setting {
        key: Key::Match,
        name: c"match",
        scope: Scope::Pipeline,
        kind: Kind::Match,
        default: Default::Is("all"),
        meaning: "which packets the pipeline takes",
    },
    Setting {
        key: Key::Rules,
        name: c"rules",
        scope: Scope::Pipeline,
        kind: Kind::Rules,
        default: Default::Is(""),
        meaning: "the rule table the rules operation applies",
    },
    Setting {
        key: Key::Netns,
        name: c"netns",
        scope: Scope::Global,
        kind: Kind::Netns,
        default: Default::Is("init"),
        meaning: "whose packets are taken: the initial namespace's or all",
    },
    Setting {
        key: Key::NetnsQuota,
        name: c"netns_quota",
        scope: Scope::Global,
        kind: number(1, MAX_HELD_PACKETS),
        default: Default::Is("256"),
        meaning: "with netns all: the most packets one namespace may have held",
    },
    Setting {
        key: Key::MaxHeldPackets,
        name: c"max_held_packets",
        scope: Scope::Global,
        kind: number(1, MAX_HELD_PACKETS),
        default: Default::Is("65536"),
        meaning: "the most packets held at once, all namespaces together",
    },
    Setting {
        key: Key::MaxHeldBytes,
        name: c"max_held_bytes",
        scope: Scope::Global,
        kind: number(1, MAX_HELD_BYTES),
        default: Default::Is("67108864"),
        meaning: "the most bytes of packet data held at once",
    },
    Setting {
        key: Key::CpuPool,
        name: c"cpu_pool",
        scope: Scope::Global,
        kind: Kind::Cpus,
        default: Default::AllCpus,
        meaning: "the CPUs the allocator hands to stages",
    },
    Setting {
        key: Key::Allocate,
        name: c"allocate",
        scope: Scope::Pipeline,
        kind: Kind::Flag,
        default: Default::Is("0"),
        meaning: "1: the allocator sizes the stages not pinned by hand",
    },
    Setting {
        key: Key::Cpus,
        name: c"cpus",
        scope: Scope::Stage,
        kind: Kind::Cpus,
        default: Default::CpuOfStage,
        meaning: "the stage's CPUs, one lane each",
    },
    Setting {
        key: Key::Ops,
        name: c"ops",
        scope: Scope::Stage,
        kind: Kind::Ops,
        default: Default::OpsOfStage,
        meaning: "what the stage does to each packet",
    },
    Setting {
        key: Key::WorkNs,
        name: c"work_ns",
        scope: Scope::Stage,
        kind: number(0, MAX_WORK_NS),
        default: Default::Is("0"),
        meaning: "busy work per packet for the work operation, in nanoseconds",
    },
];

/// A single-value counter under `stats/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// Packets the counting hook saw.
    Seen,
    /// Packets taken into the pipeline.
    Entered,
    /// Packets that came out and went on.
    Delivered,
    /// Packets dropped, every reason together.
    Dropped,
    /// Packets in the pipeline now.
    InFlight,
    /// Packets held now, all pipelines and namespaces.
    HeldPackets,
    /// Bytes held now.
    HeldBytes,
    /// Bridged packets let pass.
    SkippedBridged,
    /// VRF second passes let pass.
    SkippedL3mdev,
    /// CPUs the allocator gave to stages.
    CpusAdded,
    /// CPUs the allocator took back.
    CpusRemoved,
    /// Times a stage wanted a CPU and the pool had none free.
    PoolEmpty,
}

/// One counter file.
#[derive(Debug)]
pub struct CounterFile {
    /// Which counter.
    pub counter: Counter,
    /// The file name under `stats/`.
    pub name: &'static CStr,
    /// [`Scope::Global`]: one count for every pipeline, only in the top-level `stats/`;
    /// [`Scope::Pipeline`]: each pipeline's own.
    pub scope: Scope,
    /// What it counts, in one line.
    pub meaning: &'static str,
}

impl CounterFile {
    /// The file name as text.
    pub fn name(&self) -> &'static str {
        self.name.to_str().unwrap_or("")
    }
}

/// Every single-value counter under `stats/`, in the order `vigil status` lists them.
pub static COUNTERS: [CounterFile; 12] = [
    CounterFile {
        counter: Counter::Seen,
        name: c"seen",
        scope: Scope::Global,
        meaning: "packets the counting hook saw while enabled",
    },
    CounterFile {
        counter: Counter::Entered,
        name: c"entered",
        scope: Scope::Pipeline,
        meaning: "packets taken into the pipeline",
    },
    CounterFile {
        counter: Counter::Delivered,
        name: c"delivered",
        scope: Scope::Pipeline,
        meaning: "packets that came out and went on through the stack",
    },
    CounterFile {
        counter: Counter::Dropped,
        name: c"dropped",
        scope: Scope::Pipeline,
        meaning: "packets dropped, every reason together (by reason: stats/drops/)",
    },
    CounterFile {
        counter: Counter::InFlight,
        name: c"in_flight",
        scope: Scope::Pipeline,
        meaning: "packets in the pipeline now",
    },
    CounterFile {
        counter: Counter::HeldPackets,
        name: c"held_packets",
        scope: Scope::Global,
        meaning: "packets held now, every namespace together",
    },
    CounterFile {
        counter: Counter::HeldBytes,
        name: c"held_bytes",
        scope: Scope::Global,
        meaning: "bytes of packet data held now",
    },
    CounterFile {
        counter: Counter::SkippedBridged,
        name: c"skipped_bridged",
        scope: Scope::Pipeline,
        meaning: "bridged packets let pass untaken",
    },
    CounterFile {
        counter: Counter::SkippedL3mdev,
        name: c"skipped_l3mdev",
        scope: Scope::Pipeline,
        meaning: "VRF second prerouting passes let pass untaken",
    },
    CounterFile {
        counter: Counter::CpusAdded,
        name: c"cpus_added",
        scope: Scope::Pipeline,
        meaning: "CPUs the allocator gave to the pipeline's stages (above_high_water)",
    },
    CounterFile {
        counter: Counter::CpusRemoved,
        name: c"cpus_removed",
        scope: Scope::Pipeline,
        meaning: "CPUs the allocator took back (below_low_water)",
    },
    CounterFile {
        counter: Counter::PoolEmpty,
        name: c"pool_empty",
        scope: Scope::Pipeline,
        meaning: "times a stage wanted a CPU and the pool had none free",
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn every_default_parses_and_applies() {
        for nr_cpus in [1, 2, 3, 64] {
            let cfg = Config::defaults(nr_cpus).unwrap();
            for s in &SETTINGS {
                let stages = if s.scope == Scope::Stage {
                    MAX_STAGES
                } else {
                    1
                };
                for stage in 0..stages {
                    let mut text = String::new();
                    s.default.text(stage, nr_cpus, &mut text).unwrap();
                    let v = s.kind.parse(text.as_bytes(), nr_cpus).unwrap();
                    let mut shown = String::new();
                    cfg.show(s.key, stage, &mut shown).unwrap();
                    let mut again = cfg;
                    again.apply(s.key, stage, v).unwrap();
                    assert_eq!(again, cfg, "{}", s.name());
                    assert_eq!(cfg.get(s.key, stage), v, "{}", s.name());
                    // What a file shows parses back to the same value.
                    let back = s.kind.parse(shown.as_bytes(), nr_cpus);
                    if s.kind != Kind::Policy && s.kind != Kind::Rules {
                        assert_eq!(back, Ok(v), "{}: {shown:?}", s.name());
                    }
                }
            }
        }
    }

    #[test]
    fn malformed_cases_are_refused_by_their_kind() {
        for s in &SETTINGS {
            let mut n = 0;
            s.kind.malformed(|m| {
                let text = format!("{m}\n");
                assert!(
                    s.kind.parse(text.as_bytes(), 4).is_err(),
                    "{} took {text:?}",
                    s.name()
                );
                n += 1;
            });
            assert!(n >= 4, "{}", s.name());
        }
    }

    #[test]
    fn names_are_unique_per_scope() {
        for (i, a) in SETTINGS.iter().enumerate() {
            for b in &SETTINGS[i + 1..] {
                let same_dir = a.scope.at_top() == b.scope.at_top();
                assert!(!same_dir || a.name != b.name, "{}", a.name());
            }
        }
        assert_eq!(Setting::find(false, "cpus").map(|s| s.key), Some(Key::Cpus));
        assert!(Setting::find(true, "cpus").is_none());
        assert_eq!(
            Setting::find(true, "netns").map(|s| s.scope),
            Some(Scope::Global)
        );
    }
}
