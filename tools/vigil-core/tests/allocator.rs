// SPDX-License-Identifier: GPL-2.0

//! Host tests of `rust/shared/allocator.rs`: growth, shrinking, hysteresis, pinning and the
//! pool's limits, against the rules its documentation states.

use vigil_core::allocator::{Allocator, Change, Pool, Reason, Settings, StageLoad};
use vigil_core::config::MAX_STAGES;
use vigil_core::parse::ParseError;

const INTERVAL: u64 = Settings::DEFAULT.interval_ns;
const HYSTERESIS: u32 = Settings::DEFAULT.hysteresis;
const COOLDOWN: u32 = Settings::DEFAULT.cooldown;
const HIGH: u32 = Settings::DEFAULT.high_water_permille;
const LOW: u32 = Settings::DEFAULT.low_water_permille;

/// A stage on `cpus` CPUs, each `permille` busy over the default interval.
fn load(permille: u32, cpus: u32) -> StageLoad {
    StageLoad {
        busy_ns: INTERVAL * u64::from(permille) * u64::from(cpus) / 1000,
        cpus,
        pinned: false,
    }
}

fn pinned(permille: u32, cpus: u32) -> StageLoad {
    StageLoad {
        pinned: true,
        ..load(permille, cpus)
    }
}

fn allocator() -> Allocator {
    Allocator::new(Settings::DEFAULT).expect("the defaults are valid")
}

fn pool(size: u32, free: u32) -> Pool {
    Pool { size, free }
}

fn decide(a: &mut Allocator, loads: &[StageLoad], pool: Pool) -> Vec<Change> {
    a.decide(loads, INTERVAL, pool).as_slice().to_vec()
}

fn change(stage: usize, reason: Reason) -> Change {
    Change { stage, reason }
}

#[test]
fn defaults_are_valid_and_bad_settings_are_refused() {
    assert_eq!(Settings::default(), Settings::DEFAULT);
    assert_eq!(Settings::DEFAULT.check(), Ok(()));
    let bad = [
        Settings {
            interval_ns: 0,
            ..Settings::DEFAULT
        },
        Settings {
            hysteresis: 0,
            ..Settings::DEFAULT
        },
        Settings {
            low_water_permille: HIGH,
            ..Settings::DEFAULT
        },
        Settings {
            high_water_permille: 1000,
            ..Settings::DEFAULT
        },
    ];
    for s in bad {
        assert_eq!(s.check(), Err(ParseError::OutOfRange), "{s:?}");
        assert_eq!(Allocator::new(s), Err(ParseError::OutOfRange));
    }
}

#[test]
fn reasons_are_listed_in_index_order_with_their_deltas() {
    for (i, r) in Reason::ALL.iter().enumerate() {
        assert_eq!(r.index(), i);
    }
    let names: Vec<&str> = Reason::ALL.iter().map(|r| r.name()).collect();
    assert_eq!(names, ["above_high_water", "below_low_water", "pool_empty"]);
    let deltas: Vec<i32> = Reason::ALL.iter().map(|r| r.delta()).collect();
    assert_eq!(deltas, [1, -1, 0]);
}

#[test]
fn busy_permille_is_per_cpu_and_safe_on_empty_intervals() {
    assert_eq!(load(900, 3).busy_permille(INTERVAL), 900);
    assert_eq!(load(900, 3).busy_permille(0), 0);
    let zero_cpus = StageLoad {
        busy_ns: INTERVAL / 2,
        cpus: 0,
        pinned: false,
    };
    assert_eq!(zero_cpus.busy_permille(INTERVAL), 500);
    let huge = StageLoad {
        busy_ns: u64::MAX,
        cpus: 1,
        pinned: false,
    };
    assert_eq!(huge.busy_permille(1), u32::MAX);
}

#[test]
fn grows_after_hysteresis_intervals_above_high_water() {
    let mut a = allocator();
    let loads = [load(HIGH + 1, 1), load(100, 1)];
    for _ in 1..HYSTERESIS {
        assert_eq!(decide(&mut a, &loads, pool(8, 6)), []);
    }
    assert_eq!(
        decide(&mut a, &loads, pool(8, 6)),
        [change(0, Reason::AboveHighWater)]
    );
}

#[test]
fn at_the_high_water_mark_is_not_above_it() {
    let mut a = allocator();
    for _ in 0..10 * HYSTERESIS {
        assert_eq!(decide(&mut a, &[load(HIGH, 2)], pool(8, 6)), []);
    }
}

#[test]
fn shrinks_after_hysteresis_intervals_below_low_water() {
    let mut a = allocator();
    let loads = [load(LOW - 1, 3)];
    for _ in 1..HYSTERESIS {
        assert_eq!(decide(&mut a, &loads, pool(8, 5)), []);
    }
    assert_eq!(
        decide(&mut a, &loads, pool(8, 5)),
        [change(0, Reason::BelowLowWater)]
    );
}

#[test]
fn never_below_one_cpu() {
    let mut a = allocator();
    for _ in 0..10 * HYSTERESIS {
        assert_eq!(decide(&mut a, &[load(0, 1)], pool(8, 7)), []);
    }
}

#[test]
fn does_not_give_back_a_cpu_the_others_could_not_absorb() {
    // 2 CPUs at 440 each would be 880 on one: above high water, so it keeps both even though
    // 440 is below this low-water mark.
    let settings = Settings {
        low_water_permille: 450,
        ..Settings::DEFAULT
    };
    let mut a = Allocator::new(settings).unwrap();
    for _ in 0..10 * HYSTERESIS {
        assert_eq!(decide(&mut a, &[load(440, 2)], pool(8, 6)), []);
    }
    // At 390 each, 780 on one: it gives one back.
    let changes: Vec<Change> = (0..HYSTERESIS)
        .flat_map(|_| decide(&mut a, &[load(390, 2)], pool(8, 6)))
        .collect();
    assert_eq!(changes, [change(0, Reason::BelowLowWater)]);
}

/// Runs `loads(interval)` for `intervals` intervals on a pool of `size` CPUs, applying every
/// change, and returns the changes with their interval; checks that no stage goes below 1 CPU
/// or above the pool, and that the stages never hold more than the pool together.
fn simulate(
    a: &mut Allocator,
    cpus: &mut [u32],
    size: u32,
    intervals: usize,
    busy: impl Fn(usize, usize) -> u32,
) -> Vec<(usize, Change)> {
    let mut out = Vec::new();
    for i in 0..intervals {
        let loads: Vec<StageLoad> = cpus
            .iter()
            .enumerate()
            .map(|(k, &n)| load(busy(i, k), n))
            .collect();
        let held: u32 = cpus.iter().sum();
        for c in decide(a, &loads, pool(size, size - held)).into_iter() {
            let n = &mut cpus[c.stage];
            *n = n.checked_add_signed(c.reason.delta()).unwrap();
            out.push((i, c));
        }
        assert!(cpus.iter().all(|&n| (1..=size).contains(&n)), "{cpus:?}");
        assert!(cpus.iter().sum::<u32>() <= size, "{cpus:?}");
    }
    out
}

#[test]
fn a_load_oscillating_around_a_mark_does_not_flap() {
    let mut a = allocator();
    let mut cpus = [1, 2];
    // Stage 0 crosses the high-water mark every other interval, stage 1 the low-water one.
    let changes = simulate(&mut a, &mut cpus, 8, 100, |i, k| {
        let around = if k == 0 { HIGH } else { LOW };
        if i % 2 == 0 {
            around + 50
        } else {
            around - 50
        }
    });
    assert_eq!(changes, []);
    assert_eq!(cpus, [1, 2]);
    // Above for hysteresis - 1 intervals, then below once: still nothing.
    let changes = simulate(&mut a, &mut cpus, 8, 100, |i, _| {
        if i as u32 % HYSTERESIS == HYSTERESIS - 1 {
            LOW + 1
        } else {
            HIGH + 1
        }
    });
    assert_eq!(changes, []);
}

#[test]
fn cooldown_follows_a_change() {
    let mut a = allocator();
    let mut cpus = [1];
    // Always above: a grow every hysteresis + cooldown intervals, the first after hysteresis.
    let changes = simulate(&mut a, &mut cpus, 8, 35, |_, _| 950);
    let at: Vec<usize> = changes.iter().map(|&(i, _)| i).collect();
    let first = HYSTERESIS as usize - 1;
    let every = (HYSTERESIS + COOLDOWN) as usize;
    let expected: Vec<usize> = (0..7).map(|n| first + n * every).collect();
    assert_eq!(at, expected);
    assert_eq!(cpus, [8]);
    // The pool is full: once out of its cool-down, the stage asks every interval from the
    // hysteresis-th on, and is refused.
    let refused = simulate(&mut a, &mut cpus, 8, 10, |_, _| 950);
    let at: Vec<usize> = refused.iter().map(|&(i, _)| i).collect();
    let expected: Vec<usize> = (first..10).collect();
    assert_eq!(at, expected);
    assert!(refused
        .iter()
        .all(|(_, c)| *c == change(0, Reason::PoolEmpty)));
}

#[test]
fn pinned_stages_are_left_alone() {
    let mut a = allocator();
    let loads = [pinned(1000, 1), pinned(0, 4), load(0, 1)];
    for _ in 0..10 * HYSTERESIS {
        assert_eq!(decide(&mut a, &loads, pool(8, 3)), []);
    }
    // Unpinned, a stage starts counting from nothing: what it saw pinned does not count.
    let mut once = [pinned(1000, 1)];
    for _ in 1..HYSTERESIS {
        decide(&mut a, &once, pool(8, 7));
    }
    once[0].pinned = false;
    for _ in 1..HYSTERESIS {
        assert_eq!(decide(&mut a, &once, pool(8, 7)), []);
    }
    assert_eq!(
        decide(&mut a, &once, pool(8, 7)),
        [change(0, Reason::AboveHighWater)]
    );
}

#[test]
fn the_busiest_stage_gets_the_last_free_cpu() {
    let mut a = allocator();
    let loads = [load(850, 1), load(990, 1), load(900, 2), load(850, 1)];
    let mut last = Vec::new();
    for _ in 0..HYSTERESIS {
        last = decide(&mut a, &loads, pool(8, 1));
    }
    assert_eq!(
        last,
        [
            change(1, Reason::AboveHighWater),
            change(2, Reason::PoolEmpty),
            change(0, Reason::PoolEmpty),
            change(3, Reason::PoolEmpty),
        ]
    );
    // The refused ones ask again at once, and get CPUs as they come free.
    assert_eq!(
        decide(&mut a, &loads, pool(8, 2)),
        [
            change(2, Reason::AboveHighWater),
            change(0, Reason::AboveHighWater),
            change(3, Reason::PoolEmpty),
        ]
    );
}

#[test]
fn a_cpu_given_back_is_free_for_a_grow_in_the_same_interval() {
    let mut a = allocator();
    let loads = [load(950, 1), load(10, 3)];
    let mut last = Vec::new();
    for _ in 0..HYSTERESIS {
        last = decide(&mut a, &loads, pool(4, 0));
    }
    assert_eq!(
        last,
        [
            change(1, Reason::BelowLowWater),
            change(0, Reason::AboveHighWater),
        ]
    );
}

#[test]
fn never_more_than_the_pool() {
    let mut a = allocator();
    // Even if the caller counts CPUs outside the pool as free.
    for _ in 0..10 * HYSTERESIS {
        let changes = decide(&mut a, &[load(1000, 4)], pool(4, 3));
        assert!(changes.iter().all(|c| c.reason == Reason::PoolEmpty));
    }
    // Under a varied load, stages stay within 1..=pool and together within the pool (checked
    // by `simulate` at every interval).
    let mut cpus = [1u32; MAX_STAGES];
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let busy: Vec<Vec<u32>> = (0..2000)
        .map(|_| {
            (0..MAX_STAGES)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x % 1001) as u32
                })
                .collect()
        })
        .collect();
    let changes = simulate(&mut a, &mut cpus, 12, 2000, |i, k| busy[i / 8][k]);
    assert!(changes
        .iter()
        .any(|(_, c)| c.reason == Reason::AboveHighWater));
    assert!(changes
        .iter()
        .any(|(_, c)| c.reason == Reason::BelowLowWater));
    assert!(changes.iter().any(|(_, c)| c.reason == Reason::PoolEmpty));
}

#[test]
fn stages_past_the_limit_are_ignored() {
    let mut a = allocator();
    let loads = vec![load(1000, 1); MAX_STAGES + 2];
    let mut last = Vec::new();
    for _ in 0..HYSTERESIS {
        last = decide(&mut a, &loads, pool(64, 40));
    }
    assert_eq!(last.len(), MAX_STAGES);
    assert!(last.iter().all(|c| c.stage < MAX_STAGES));
}

#[test]
fn a_growing_stage_takes_the_least_held_pool_cpu_and_gives_back_its_highest() {
    use vigil_core::allocator::{add_cpu, remove_cpu};
    use vigil_core::config::{CpuList, MAX_CPUS};
    let pool = CpuList::parse(b"0-3", 64).unwrap();
    let mut holders = [0u32; MAX_CPUS as usize];
    holders[0] = 2;
    holders[1] = 1;
    holders[2] = 1;
    // Stage on CPU 0: CPU 3 is held by nobody.
    let grown = add_cpu(CpuList(1), pool, &holders).unwrap();
    assert_eq!(grown.to_string(), "0,3");
    holders[3] = 1;
    // Then a tie at one holder each: the lowest.
    assert_eq!(add_cpu(grown, pool, &holders).unwrap().to_string(), "0-1,3");
    // Never outside the pool, never a CPU it holds.
    assert_eq!(add_cpu(pool, pool, &holders), None);
    assert_eq!(remove_cpu(grown).unwrap().to_string(), "0");
    assert_eq!(remove_cpu(CpuList(1)), None);
}
