// SPDX-License-Identifier: GPL-2.0

//! The CPU allocator's decision: once per interval, which stages take a CPU from the pool and
//! which give one back, from how busy each stage's CPUs were.
//!
//! A stage whose CPUs ran above the high-water mark for `hysteresis` intervals in a row takes
//! one more CPU (a lane) if the pool has one free; one that ran below the low-water mark for as
//! long gives one back, never going below one CPU. After a change the stage sits out
//! `cooldown` intervals, whose measures still mix the old and the new allocation. A stage whose
//! `stageN/cpus` was written by hand is pinned: the allocator leaves it alone.
//!
//! Pure logic with no kernel dependency and no floating point: compiled into the module and
//! into the host crate `tools/vigil-core`, where cargo tests it and the simulator runs it.

use crate::config::{CpuList, MAX_CPUS, MAX_STAGES};
use crate::parse::ParseError;

/// Why the allocator changed, or wanted to change, a stage's CPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Its CPUs ran above the high-water mark: it took one more.
    AboveHighWater,
    /// Its CPUs ran below the low-water mark: it gave one back.
    BelowLowWater,
    /// It ran above the high-water mark but the pool had no CPU free: nothing changed.
    PoolEmpty,
}

impl Reason {
    /// Every reason, in the order statistics list them.
    pub const ALL: [Reason; 3] = [
        Reason::AboveHighWater,
        Reason::BelowLowWater,
        Reason::PoolEmpty,
    ];

    /// The reason's name in statistics.
    pub fn name(self) -> &'static str {
        match self {
            Reason::AboveHighWater => "above_high_water",
            Reason::BelowLowWater => "below_low_water",
            Reason::PoolEmpty => "pool_empty",
        }
    }

    /// The reason's index in `ALL`, for counters.
    pub fn index(self) -> usize {
        match self {
            Reason::AboveHighWater => 0,
            Reason::BelowLowWater => 1,
            Reason::PoolEmpty => 2,
        }
    }

    /// What the change does to the stage's CPU count: +1, -1, or 0 when it was refused.
    pub fn delta(self) -> i32 {
        match self {
            Reason::AboveHighWater => 1,
            Reason::BelowLowWater => -1,
            Reason::PoolEmpty => 0,
        }
    }
}

/// The allocator's knobs, with their defaults in [`Settings::DEFAULT`].
///
/// # Invariants
///
/// Once [`Settings::check`] accepts them: `interval_ns > 0`, `hysteresis >= 1` and
/// `low_water_permille < high_water_permille < 1000`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// How often the allocator measures and decides.
    pub interval_ns: u64,
    /// A stage whose CPUs were busy more than this, per mille of the interval on average,
    /// wants one more CPU. Below 1000: a CPU cannot be more than fully busy.
    pub high_water_permille: u32,
    /// A stage with more than one CPU whose CPUs were busy less than this, per mille, gives one
    /// back. 0 never takes a CPU back.
    pub low_water_permille: u32,
    /// Intervals in a row above (or below) a mark before the allocator acts: a load that
    /// crosses a mark and comes back within fewer intervals changes nothing.
    pub hysteresis: u32,
    /// Intervals after a change to a stage that are not counted toward its next one.
    pub cooldown: u32,
}

impl Settings {
    /// The defaults: decide every 100 ms; grow above 80 % busy, shrink below 30 %, after 3
    /// intervals in a row; sit out 2 intervals after a change.
    pub const DEFAULT: Settings = Settings {
        interval_ns: 100_000_000,
        high_water_permille: 800,
        low_water_permille: 300,
        hysteresis: 3,
        cooldown: 2,
    };

    /// Checks the invariants (`OutOfRange` if one does not hold).
    pub fn check(&self) -> Result<(), ParseError> {
        let marks_ok =
            self.low_water_permille < self.high_water_permille && self.high_water_permille < 1000;
        if self.interval_ns == 0 || self.hysteresis == 0 || !marks_ok {
            return Err(ParseError::OutOfRange);
        }
        Ok(())
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings::DEFAULT
    }
}

/// What the allocator sees of one stage over the last interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageLoad {
    /// Time the stage's contexts spent on packets over the interval, all its CPUs together.
    /// Polls that found the queue empty do not count: a polling policy would otherwise keep
    /// every stage at 100 % whatever its load.
    pub busy_ns: u64,
    /// CPUs the stage held over the interval (at least 1).
    pub cpus: u32,
    /// Whether `stageN/cpus` was written by hand: the allocator leaves the stage alone.
    pub pinned: bool,
}

impl StageLoad {
    /// How busy the stage's CPUs were on average over `elapsed_ns`, per mille (0 for an empty
    /// interval). Can exceed 1000 if the busy time was counted late.
    pub fn busy_permille(&self, elapsed_ns: u64) -> u32 {
        permille(self.busy_ns, elapsed_ns, self.cpus)
    }
}

/// `busy_ns` over `cpus` CPUs for `elapsed_ns`, per mille, saturating.
fn permille(busy_ns: u64, elapsed_ns: u64, cpus: u32) -> u32 {
    let available = elapsed_ns.saturating_mul(u64::from(cpus.max(1)));
    match busy_ns.saturating_mul(1000).checked_div(available) {
        Some(p) => u32::try_from(p).unwrap_or(u32::MAX),
        None => 0,
    }
}

/// The pool the pipelines share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    /// CPUs in the pool (the cpulist setting): no stage holds more.
    pub size: u32,
    /// Pool CPUs that no stage holds now.
    pub free: u32,
}

/// One stage's change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// The stage.
    pub stage: usize,
    /// Why; [`Reason::delta`] says what it does.
    pub reason: Reason,
}

/// The changes of one interval.
///
/// # Invariants
///
/// `len <= MAX_STAGES`; at most one change per stage; every `BelowLowWater` comes before every
/// `AboveHighWater` or `PoolEmpty`, and those come busiest stage first. The `AboveHighWater`
/// changes are at most the pool's free CPUs plus the `BelowLowWater` changes before them: the
/// caller applies the changes in order, so that a CPU given back is free for the grows after
/// it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Changes {
    len: usize,
    items: [Change; MAX_STAGES],
}

impl Changes {
    const EMPTY: Changes = Changes {
        len: 0,
        items: [Change {
            stage: 0,
            reason: Reason::PoolEmpty,
        }; MAX_STAGES],
    };

    fn push(&mut self, change: Change) {
        if let Some(slot) = self.items.get_mut(self.len) {
            *slot = change;
            self.len += 1;
        }
    }

    /// The changes, in the order to apply them.
    pub fn as_slice(&self) -> &[Change] {
        &self.items[..self.len]
    }
}

/// Per stage, the intervals counted toward its next change.
///
/// # Invariants
///
/// At most one of `above` and `below` is non-zero; both are zero while `cooldown` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Streak {
    /// Intervals in a row above the high-water mark.
    above: u32,
    /// Intervals in a row below the low-water mark, with a CPU to give back.
    below: u32,
    /// Intervals still to sit out after a change.
    cooldown: u32,
}

/// The allocator: its settings and what it remembers between intervals.
///
/// # Invariants
///
/// `settings` passed [`Settings::check`]; `streaks[k]` is stage `k`'s `Streak`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocator {
    settings: Settings,
    streaks: [Streak; MAX_STAGES],
}

impl Allocator {
    /// An allocator that has seen nothing yet.
    pub fn new(settings: Settings) -> Result<Allocator, ParseError> {
        settings.check()?;
        Ok(Allocator {
            settings,
            streaks: [Streak::default(); MAX_STAGES],
        })
    }

    /// Its settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Decides after an interval of `elapsed_ns` in which stage `k` had `loads[k]` (stages
    /// past `MAX_STAGES` are ignored). Gives CPUs back first, then hands the free ones out
    /// busiest stage first (the lower stage on a tie); a stage that wanted one and found none
    /// gets a `PoolEmpty` change and asks again next interval.
    pub fn decide(&mut self, loads: &[StageLoad], elapsed_ns: u64, pool: Pool) -> Changes {
        let s = self.settings;
        let mut changes = Changes::EMPTY;
        let mut free = pool.free;
        // Stages that want a CPU, with how busy they were, kept sorted busiest first.
        let mut wanting = [(0usize, 0u32); MAX_STAGES];
        let mut wanting_len = 0;
        for (stage, (load, streak)) in loads.iter().zip(self.streaks.iter_mut()).enumerate() {
            let busy = load.busy_permille(elapsed_ns);
            if load.pinned {
                *streak = Streak::default();
                continue;
            }
            if streak.cooldown > 0 {
                streak.cooldown -= 1;
                continue;
            }
            // Giving a CPU back must not push the others above the high-water mark, or the
            // stage would take it again a few intervals later.
            let can_give = load.cpus > 1
                && permille(load.busy_ns, elapsed_ns, load.cpus - 1) < s.high_water_permille;
            if busy > s.high_water_permille {
                *streak = Streak {
                    above: streak.above.saturating_add(1),
                    ..Streak::default()
                };
            } else if busy < s.low_water_permille && can_give {
                *streak = Streak {
                    below: streak.below.saturating_add(1),
                    ..Streak::default()
                };
            } else {
                *streak = Streak::default();
            }
            if streak.below >= s.hysteresis {
                *streak = Streak {
                    cooldown: s.cooldown,
                    ..Streak::default()
                };
                free = free.saturating_add(1);
                changes.push(Change {
                    stage,
                    reason: Reason::BelowLowWater,
                });
            } else if streak.above >= s.hysteresis {
                // Insertion after the stages at least as busy: ties keep stage order.
                let at = wanting[..wanting_len]
                    .iter()
                    .position(|&(_, b)| b < busy)
                    .unwrap_or(wanting_len);
                wanting.copy_within(at..wanting_len, at + 1);
                wanting[at] = (stage, busy);
                wanting_len += 1;
            }
        }
        for &(stage, _) in &wanting[..wanting_len] {
            let cpus = loads.get(stage).map_or(0, |l| l.cpus);
            let reason = if free > 0 && cpus < pool.size {
                free -= 1;
                self.streaks[stage] = Streak {
                    cooldown: s.cooldown,
                    ..Streak::default()
                };
                Reason::AboveHighWater
            } else {
                // Its streak stays at the mark: it asks again next interval.
                Reason::PoolEmpty
            };
            changes.push(Change { stage, reason });
        }
        changes
    }
}

/// The CPUs of a stage after it gains one: the pool CPU it does not hold that the fewest
/// stages hold (`holders[c]` stages hold CPU `c`), the lowest on a tie; `None` if it holds
/// every pool CPU already.
pub fn add_cpu(
    stage: CpuList,
    pool: CpuList,
    holders: &[u32; MAX_CPUS as usize],
) -> Option<CpuList> {
    let candidates = pool.0 & !stage.0;
    let best = (0..MAX_CPUS)
        .filter(|&c| candidates & (1 << c) != 0)
        .min_by_key(|&c| (holders[c as usize], c))?;
    Some(CpuList(stage.0 | 1 << best))
}

/// The CPUs of a stage after it gives one back: its highest (the last it gained, when it
/// gained them from the bottom); `None` if it holds one or none.
pub fn remove_cpu(stage: CpuList) -> Option<CpuList> {
    if stage.len() <= 1 {
        return None;
    }
    let highest = 63 - stage.0.leading_zeros();
    Some(CpuList(stage.0 & !(1 << highest)))
}
