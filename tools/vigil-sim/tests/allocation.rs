// SPDX-License-Identifier: GPL-2.0

//! The CPU allocator in the simulator: the stages' CPUs follow the shared decision on a ramp,
//! the busy time it is fed is processing only, pinned stages stay put, the pool bounds the
//! stages, and order holds while contexts move.

use vigil_core::allocator::{Reason, Settings};
use vigil_sim::{run, Allocation, Config, Outcome, Policy, Profile};

const HIGH: u32 = Settings::DEFAULT.high_water_permille;
const HYSTERESIS: usize = Settings::DEFAULT.hysteresis as usize;

/// 12 lanes of 3 stages on a pool of `cpus`; stage 1 is the heavy one.
fn config(cpus: usize, pinned: Vec<(usize, Vec<usize>)>) -> Config {
    let mut c = Config::new(12, 3, cpus);
    c.service_ns = vec![2_000, 25_000, 12_000];
    c.allocation = Some(Allocation {
        settings: Settings::DEFAULT,
        pinned,
    });
    c
}

fn ramp() -> Vec<u64> {
    let ramp = Profile::parse("ramp:1000:100000:1000").unwrap();
    ramp.arrivals(usize::MAX, 0).unwrap()
}

/// Every packet delivered once, in order within its lane.
fn check_order(config: &Config, arrivals: &[u64], out: &Outcome) {
    assert_eq!(out.deliveries.len(), arrivals.len());
    let mut next_seq = vec![1u64; config.lanes];
    for d in &out.deliveries {
        assert_eq!(d.seq, next_seq[d.lane], "lane {} out of order", d.lane);
        next_seq[d.lane] += 1;
    }
}

/// Each interval's CPUs are the previous interval's plus its changes, and within the pool.
fn check_trace(out: &Outcome, pool: usize) {
    for pair in out.intervals.windows(2) {
        for (k, load) in pair[1].loads.iter().enumerate() {
            let delta: i32 = pair[0]
                .changes
                .iter()
                .filter(|c| c.stage == k)
                .map(|c| c.reason.delta())
                .sum();
            assert_eq!(
                i64::from(load.cpus),
                i64::from(pair[0].loads[k].cpus) + i64::from(delta)
            );
        }
        assert_eq!(pair[0].end_ns, pair[1].start_ns);
    }
    for i in &out.intervals {
        assert!(i.loads.iter().all(|l| l.cpus >= 1));
        assert!(i.loads.iter().map(|l| l.cpus as usize).sum::<usize>() <= pool);
    }
}

#[test]
fn cpus_follow_a_ramp_up_and_back_down() {
    let config = config(8, Vec::new());
    let arrivals = ramp();
    let out = run(&config, Policy::Adaptive, &arrivals).unwrap();
    check_order(&config, &arrivals, &out);
    check_trace(&out, 8);
    let cpus = |i: usize| -> Vec<u32> { out.intervals[i].loads.iter().map(|l| l.cpus).collect() };
    // 100 ms intervals that ended before the last delivery, just after 5 s.
    assert_eq!(out.intervals.len(), 50 - 1);
    assert_eq!(cpus(0), [1, 1, 1]);
    // At 100 kpps stage 1 needs 2.5 CPUs and stage 2 1.2, stage 0 0.2.
    let peak = cpus(29);
    assert_eq!(peak[0], 1);
    assert!((3..=4).contains(&peak[1]), "{peak:?}");
    assert_eq!(peak[2], 2, "{peak:?}");
    assert_eq!(cpus(out.intervals.len() - 1), [1, 1, 1]);
    // A grow follows `HYSTERESIS` intervals in a row above the high-water mark.
    for (n, interval) in out.intervals.iter().enumerate() {
        for c in &interval.changes {
            assert_ne!(c.reason, Reason::PoolEmpty);
            if c.reason == Reason::AboveHighWater {
                for i in &out.intervals[n + 1 - HYSTERESIS..=n] {
                    assert!(i.busy_permille(c.stage) > HIGH, "{n}: {c:?}");
                }
            }
        }
    }
}

#[test]
fn busy_time_is_processing_not_spinning() {
    // 20 kpps at 25 us a packet on stage 1: half a CPU, even though `poll` spins all the rest.
    let config = config(8, Vec::new());
    let arrivals = Profile::Steady(20_000).arrivals(20_000, 0).unwrap();
    let out = run(&config, Policy::Poll, &arrivals).unwrap();
    assert!(out.spin_ns > out.work_ns);
    for i in &out.intervals[1..out.intervals.len() - 1] {
        assert!(i.busy_permille(1).abs_diff(500) <= 5, "{i:?}");
        assert!(i.busy_permille(2).abs_diff(240) <= 5, "{i:?}");
        assert!(i.changes.is_empty());
    }
}

#[test]
fn a_pinned_stage_keeps_its_cpus() {
    let config = config(8, vec![(1, vec![6, 7])]);
    let arrivals = ramp();
    let out = run(&config, Policy::Adaptive, &arrivals).unwrap();
    check_order(&config, &arrivals, &out);
    check_trace(&out, 8);
    for i in &out.intervals {
        assert!(i.loads[1].pinned);
        assert_eq!(i.loads[1].cpus, 2);
        assert!(i.changes.iter().all(|c| c.stage != 1));
    }
    // The others still follow the load.
    assert!(out.intervals.iter().any(|i| i.loads[2].cpus == 2));
}

#[test]
fn a_small_pool_is_shared_and_refuses_the_rest() {
    let config = config(4, Vec::new());
    let arrivals = ramp();
    let out = run(&config, Policy::Adaptive, &arrivals).unwrap();
    check_order(&config, &arrivals, &out);
    check_trace(&out, 4);
    let refused = out
        .intervals
        .iter()
        .flat_map(|i| &i.changes)
        .filter(|c| c.reason == Reason::PoolEmpty)
        .count();
    assert!(refused > 0);
    let peak: u32 = out.intervals[29].loads.iter().map(|l| l.cpus).sum();
    assert_eq!(peak, 4);
}

#[test]
fn without_the_allocator_there_is_no_trace() {
    let mut config = config(8, Vec::new());
    config.allocation = None;
    let out = run(&config, Policy::Adaptive, &[0, 1_000, 2_000]).unwrap();
    assert!(out.intervals.is_empty());
}

#[test]
fn bad_allocations_are_refused() {
    let bad_pins = [
        vec![(3, vec![0])],
        vec![(0, vec![8])],
        vec![(0, vec![1]), (0, vec![2])],
        vec![(0, vec![1]), (1, vec![1])],
        vec![(0, Vec::new())],
        vec![(0, vec![0, 1, 2, 3, 4, 5, 6])],
    ];
    for pinned in bad_pins {
        let c = config(8, pinned.clone());
        assert!(run(&c, Policy::Idle, &[0]).is_err(), "{pinned:?}");
    }
    let mut c = config(8, Vec::new());
    c.cpu_map = Some(vec![0; 36]);
    assert!(run(&c, Policy::Idle, &[0]).is_err());
    let mut c = config(8, Vec::new());
    if let Some(a) = &mut c.allocation {
        a.settings.hysteresis = 0;
    }
    assert!(run(&c, Policy::Idle, &[0]).is_err());
    assert!(run(&config(3, Vec::new()), Policy::Idle, &[0]).is_ok());
    assert!(run(&config(2, Vec::new()), Policy::Idle, &[0]).is_err());
}
