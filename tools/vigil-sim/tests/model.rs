// SPDX-License-Identifier: GPL-2.0

//! The simulator's model: conservation and order, the costs it charges, what each simple
//! policy does to the CPUs, and determinism.

use vigil_sim::{run, Config, Outcome, Policy, Profile};

fn bursts(burst: u64, gap_ns: u64, spacing_ns: u64) -> Profile {
    Profile::Bursts {
        burst,
        gap_ns,
        spacing_ns,
    }
}

/// Pipelines with one context per CPU, with CPUs shared by contexts, and an explicit map.
fn configs() -> Vec<Config> {
    let mut shared = Config::new(2, 3, 2);
    shared.service_ns = vec![700, 1_500, 300];
    let mut mapped = Config::new(3, 2, 4);
    mapped.cpu_map = Some(vec![3, 3, 0, 1, 2, 1]);
    vec![Config::new(2, 3, 6), Config::new(1, 1, 1), shared, mapped]
}

fn profiles() -> Vec<Profile> {
    vec![
        bursts(32, 200_000, 0),
        bursts(100, 150_000, 300),
        Profile::Poisson(400_000),
        Profile::Steady(700_000),
    ]
}

/// Every packet that arrived was delivered exactly once, in sequence order within its lane,
/// with the arrival time it came with and no sooner than the pipeline's service times allow.
fn check_conservation(config: &Config, arrivals: &[u64], out: &Outcome) {
    let what = format!("{config:?} {:?}", out.policy);
    assert_eq!(out.arrived, arrivals.len() as u64, "{what}");
    assert_eq!(out.deliveries.len(), arrivals.len(), "{what}");
    let mut next_seq = vec![1u64; config.lanes];
    let mut seen = vec![false; arrivals.len()];
    let min_latency: u64 = config.service_ns.iter().sum();
    for d in &out.deliveries {
        assert_eq!(
            d.seq, next_seq[d.lane],
            "lane {} out of order: {what}",
            d.lane
        );
        next_seq[d.lane] += 1;
        // Packet n of the traffic is the seq-th of lane n % lanes.
        let n = (d.seq as usize - 1) * config.lanes + d.lane;
        assert!(!seen[n], "packet {n} delivered twice: {what}");
        seen[n] = true;
        assert_eq!(d.arrival_ns, arrivals[n], "{what}");
        assert!(d.delivered_ns - d.arrival_ns >= min_latency, "{what}");
    }
    assert!(seen.iter().all(|&s| s), "{what}");
}

#[test]
fn every_packet_is_delivered_once_in_lane_order() {
    for config in configs() {
        for profile in profiles() {
            let arrivals = profile.arrivals(3_000, 11).unwrap();
            for policy in Policy::ALL {
                let out = run(&config, policy, &arrivals).unwrap();
                check_conservation(&config, &arrivals, &out);
                // Only adaptive wakes ahead, and it does at a lane's first packet at least.
                let ahead = policy == Policy::Adaptive && config.stages > 1;
                assert_eq!(out.wakeups_ahead > 0, ahead, "{config:?} {policy:?}");
                assert!(out.wakeups_ahead <= out.wakeups);
            }
        }
    }
}

#[test]
fn idle_completes_at_every_drain_and_never_spins() {
    for config in configs() {
        for profile in profiles() {
            let arrivals = profile.arrivals(3_000, 5).unwrap();
            let out = run(&config, Policy::Idle, &arrivals).unwrap();
            assert_eq!(out.total_reschedules(), 0);
            assert!(out.drains > 0);
            assert_eq!(out.completions, out.drains);
            assert_eq!(out.empty_polls, 0);
            assert_eq!(out.spin_ns, 0);
            // The CPUs did exactly the packets' work and nothing else.
            let per_packet: u64 = config.service_ns.iter().sum();
            assert_eq!(out.work_ns, per_packet * arrivals.len() as u64);
            if config.cpus_used() == config.lanes * config.stages {
                // Every scheduling comes from another CPU: one IPI per completion.
                assert_eq!(out.wakeups, out.completions, "{config:?}");
            }
        }
    }
}

#[test]
fn poll_never_idles_after_the_first_wake() {
    for config in configs() {
        for profile in profiles() {
            let arrivals = profile.arrivals(3_000, 5).unwrap();
            let out = run(&config, Policy::Poll, &arrivals).unwrap();
            let contexts = (config.lanes * config.stages) as u64;
            assert_eq!(out.completions, 0);
            assert!(out.wakeups <= contexts, "{config:?} {out:?}");
            assert!(out.deep_wakeups <= out.wakeups);
            assert_eq!(out.total_reschedules(), out.drains);
        }
    }
}

#[test]
fn wake_ups_cost_the_ipi_and_the_c_state_exit() {
    let config = Config::new(1, 2, 2);
    let c = config.costs;
    // The second packet comes after a short sleep, the third after a long one.
    let arrivals = [0, 60_000, 60_000 + 200_000];
    let out = run(&config, Policy::Idle, &arrivals).unwrap();
    let latency: Vec<u64> = out
        .deliveries
        .iter()
        .map(|d| d.delivered_ns - d.arrival_ns)
        .collect();
    let deep = c.ipi_ns + c.deep_exit_ns + 1_000;
    let shallow = c.ipi_ns + c.shallow_exit_ns + 1_000;
    assert_eq!(latency, vec![2 * deep, 2 * shallow, 2 * deep]);
    assert_eq!(out.wakeups, 6);
    assert_eq!(out.deep_wakeups, 4);

    // A polling stage picks a packet up at its next look, at most one poll interval late.
    let out = run(&config, Policy::Poll, &arrivals).unwrap();
    for d in &out.deliveries[1..] {
        let latency = d.delivered_ns - d.arrival_ns;
        assert!(
            (2_000..=2_000 + 2 * c.poll_ns).contains(&latency),
            "{latency}"
        );
    }
}

#[test]
fn the_same_seed_gives_the_same_results() {
    let config = Config::new(2, 3, 4);
    let a = Profile::Poisson(300_000).arrivals(5_000, 42).unwrap();
    let b = Profile::Poisson(300_000).arrivals(5_000, 42).unwrap();
    let other = Profile::Poisson(300_000).arrivals(5_000, 43).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, other, "the seed must matter");
    for policy in Policy::ALL {
        let first = run(&config, policy, &a).unwrap();
        let second = run(&config, policy, &b).unwrap();
        assert_eq!(first, second, "{policy:?}");
    }
}

#[test]
fn bad_configurations_are_refused() {
    let ok = Config::new(2, 3, 6);
    let mut bad = Vec::new();
    for (lanes, stages, cpus) in [(0, 3, 6), (2, 9, 6), (2, 3, 65), (65, 1, 64)] {
        bad.push(Config::new(lanes, stages, cpus));
    }
    let mut c = ok.clone();
    c.service_ns.pop();
    bad.push(c);
    let mut c = ok.clone();
    c.cpu_map = Some(vec![0, 1, 2, 3, 4, 6]);
    bad.push(c);
    let mut c = ok.clone();
    c.costs.budget = 0;
    bad.push(c);
    for config in bad {
        assert!(run(&config, Policy::Idle, &[0, 1]).is_err(), "{config:?}");
    }
    assert!(run(&ok, Policy::Idle, &[5, 4]).is_err());
    assert!(run(&ok, Policy::Idle, &[4, 5]).is_ok());
}

#[test]
fn wake_ahead_follows_each_lanes_own_head() {
    // Two packets 1 us apart, one per lane: each is the first of its lane, so each wakes its
    // own lane's downstream stages, although the two lanes together saw no gap at all.
    let config = Config::new(2, 3, 6);
    let out = run(&config, Policy::Adaptive, &[0, 1_000]).unwrap();
    assert_eq!(out.wakeups_ahead, 2 * 2);
    // A second packet in the same lane within the burst gap wakes nothing ahead: stages 1 and 2
    // are woken once, for the first.
    let one_lane = Config::new(1, 3, 3);
    let out = run(&one_lane, Policy::Adaptive, &[0, 1_000]).unwrap();
    assert_eq!(out.wakeups_ahead, 2);
    // Past the gap (after the lane went back to sleep) it wakes them again.
    let gap = one_lane.burst_gap_ns;
    let out = run(&one_lane, Policy::Adaptive, &[0, 1_000_000 + gap]).unwrap();
    assert_eq!(out.wakeups_ahead, 4);
}
