// SPDX-License-Identifier: GPL-2.0

//! The policies against each other, through the module's own `decide` and `wakes_ahead`.
//!
//! The main scenario is one where the look-ahead on in-flight packets has something to work
//! with: a parse stage slower than the two after it, so that the downstream stages catch up
//! and drain in the middle of a burst, and long bursts (256 packets, 50 ns apart, every 2 ms).
//! The others exercise the lane's head: bursts whose packets enter a few microseconds apart,
//! so that every stage drains between two packets of one burst (`head_active`), and isolated
//! packets behind a slow first stage, whose downstream stages adaptive wakes ahead.

use vigil_core::policy::Reason;
use vigil_sim::{run, Config, Outcome, Policy, Profile, Summary};

fn bursty() -> (Config, Vec<u64>) {
    let mut config = Config::new(1, 3, 3);
    config.service_ns = vec![2_000, 500, 500];
    let profile = Profile::Bursts {
        burst: 256,
        gap_ns: 2_000_000,
        spacing_ns: 50,
    };
    (config, profile.arrivals(10_000, 1).unwrap())
}

fn summary(config: &Config, policy: Policy, arrivals: &[u64]) -> Summary {
    Summary::of(&run(config, policy, arrivals).unwrap())
}

#[test]
fn adaptive_matches_polls_tail_latency_at_a_fraction_of_its_cpu() {
    let (config, arrivals) = bursty();
    let poll = summary(&config, Policy::Poll, &arrivals);
    let adaptive = summary(&config, Policy::Adaptive, &arrivals);
    assert!(
        adaptive.p99 as f64 <= 1.10 * poll.p99 as f64,
        "p99: adaptive {} poll {}",
        adaptive.p99,
        poll.p99
    );
    assert!(poll.cpu_busy > 0.95, "poll busy {}", poll.cpu_busy);
    assert!(
        adaptive.cpu_busy < 0.5 * poll.cpu_busy,
        "busy: adaptive {} poll {}",
        adaptive.cpu_busy,
        poll.cpu_busy
    );
}

#[test]
fn adaptive_wakes_up_far_less_than_idle_on_bursts() {
    let (config, arrivals) = bursty();
    let idle = summary(&config, Policy::Idle, &arrivals);
    let adaptive = summary(&config, Policy::Adaptive, &arrivals);
    assert!(
        (adaptive.wakeups as f64) < 0.5 * idle.wakeups as f64,
        "wake-ups: adaptive {} idle {}",
        adaptive.wakeups,
        idle.wakeups
    );
    // It got there by polling on while packets were on their way, and no longer: every stage
    // slept through every gap, and was woken once per burst, ahead of its first packet.
    assert!(adaptive.reschedules_by_reason[Reason::HeadAhead.index()] > 0);
    let bursts = (arrivals.len() as u64).div_ceil(256);
    assert_eq!(adaptive.wakeups, bursts * config.stages as u64);
}

#[test]
fn timeout_polls_for_the_window_then_sleeps() {
    let (mut config, arrivals) = bursty();
    // A window longer than the gap keeps every stage awake: no wake-up after the first.
    config.window_ns = 3_000_000;
    let long = run(&config, Policy::Timeout, &arrivals).unwrap();
    assert_eq!(long.wakeups, config.stages as u64);
    assert_eq!(long.completions, 0);
    // A window shorter than the gap sleeps through every gap: one wake-up per stage per burst.
    config.window_ns = 100_000;
    let short = run(&config, Policy::Timeout, &arrivals).unwrap();
    let bursts = (arrivals.len() as u64).div_ceil(256);
    assert_eq!(short.wakeups, bursts * config.stages as u64);
}

#[test]
fn a_stale_last_work_time_cuts_polling_short() {
    // rust/pipeline.rs records a stage's last work only in a poll that drains its queue. The
    // first stage works through each 256-packet burst in full-budget polls (4 x 64), so the
    // empty poll after a burst sees its last work from long ago, and completes at once
    // although the window (3 ms) is longer than the gap.
    let (mut config, arrivals) = bursty();
    config.window_ns = 3_000_000;
    let bursts = (arrivals.len() as u64).div_ceil(256);
    let documented = run(&config, Policy::Timeout, &arrivals).unwrap();
    config.stale_last_work = true;
    let stale = run(&config, Policy::Timeout, &arrivals).unwrap();
    assert_eq!(documented.completions, 0);
    assert_eq!(stale.completions, bursts - 1, "one per gap");
    assert!(stale.wakeups > documented.wakeups);
}

/// Bursts of 32 packets entering 5 us apart, every 2 ms, through three 1 us stages: each stage
/// drains between two packets of a burst, where nothing is in flight toward it.
fn spaced_bursts() -> (Config, Vec<u64>) {
    let config = Config::new(1, 3, 3);
    let profile = Profile::Bursts {
        burst: 32,
        gap_ns: 2_000_000,
        spacing_ns: 5_000,
    };
    (config, profile.arrivals(32 * 200, 1).unwrap())
}

#[test]
fn adaptive_rides_a_spaced_burst_on_the_head_with_one_wake_up_per_stage() {
    let (config, arrivals) = spaced_bursts();
    let c = config.costs;
    let bursts = arrivals.len() as u64 / 32;
    let idle = summary(&config, Policy::Idle, &arrivals);
    let poll = summary(&config, Policy::Poll, &arrivals);
    let adaptive = summary(&config, Policy::Adaptive, &arrivals);
    assert!(
        adaptive.wakeups as f64 <= 0.2 * idle.wakeups as f64,
        "wake-ups: adaptive {} idle {}",
        adaptive.wakeups,
        idle.wakeups
    );
    // Each stage is woken once per burst and polls through it on the head's activity.
    assert_eq!(adaptive.wakeups, bursts * config.stages as u64);
    assert!(adaptive.reschedules_by_reason[Reason::HeadActive.index()] > 0);
    // Within a burst it is as fast as poll. Sleeping through the gap costs the packets that
    // enter while the lane wakes up one wake-up, paid by the stages in parallel: poll's tail
    // plus one IPI and deep exit, where idle pays one per stage.
    assert!(
        adaptive.p50 <= poll.p50 + c.poll_ns,
        "p50: adaptive {} poll {}",
        adaptive.p50,
        poll.p50
    );
    assert!(
        adaptive.p99 <= poll.p99 + c.ipi_ns + c.deep_exit_ns + c.poll_ns,
        "p99: adaptive {} poll {}",
        adaptive.p99,
        poll.p99
    );
    assert!(
        idle.p99 >= poll.p99 + config.stages as u64 * c.deep_exit_ns,
        "p99: idle {} poll {}",
        idle.p99,
        poll.p99
    );
    assert!(adaptive.cpu_busy < 0.2 * poll.cpu_busy);

    // Without the floor the lane's estimate (5 us gaps) and the windows the stages learn keep
    // them polling through a burst all the same, after a few wake-ups while the windows grow.
    let mut no_gap = config.clone();
    no_gap.burst_gap_ns = 0;
    let gapless = summary(&no_gap, Policy::Adaptive, &arrivals);
    assert!(gapless.reschedules_by_reason[Reason::HeadActive.index()] > 0);
    assert!(
        gapless.wakeups < adaptive.wakeups + adaptive.wakeups / 4,
        "wake-ups: gap 0 {} gap {} {}",
        gapless.wakeups,
        config.burst_gap_ns,
        adaptive.wakeups
    );
}

fn latencies(out: &Outcome) -> Vec<u64> {
    out.deliveries
        .iter()
        .map(|d| d.delivered_ns - d.arrival_ns)
        .collect()
}

#[test]
fn waking_ahead_hides_the_downstream_wake_ups_behind_a_slow_stage() {
    // A 20 us first stage and two 1 us stages; packets 1 ms apart, so every CPU is in a deep
    // C-state when one arrives. The window (50 us) outlasts the wait of a stage woken ahead
    // (IPI, exit and stage 0's service: 42 us), so it polls until the packet reaches it.
    let mut config = Config::new(1, 3, 3);
    config.service_ns = vec![20_000, 1_000, 1_000];
    let c = config.costs;
    let downstream = config.stages as u64 - 1;
    let arrivals = Profile::Steady(1_000).arrivals(200, 1).unwrap();
    let idle = run(&config, Policy::Idle, &arrivals).unwrap();
    let adaptive = run(&config, Policy::Adaptive, &arrivals).unwrap();
    let service: u64 = config.service_ns.iter().sum();
    for (i, (slow, fast)) in latencies(&idle)
        .into_iter()
        .zip(latencies(&adaptive))
        .enumerate()
    {
        // Idle wakes the stages one after another as the packet reaches each.
        assert_eq!(
            slow,
            config.stages as u64 * (c.ipi_ns + c.deep_exit_ns) + service,
            "packet {i}"
        );
        // Adaptive pays stage 0's wake-up only: the others woke while it worked, and pick the
        // packet up at their next look.
        let one_wake = c.ipi_ns + c.deep_exit_ns + service;
        assert!(
            (one_wake..=one_wake + downstream * c.poll_ns).contains(&fast),
            "packet {i}: {fast}"
        );
        let saved = slow - fast;
        assert!(
            (downstream * c.deep_exit_ns..=downstream * (c.ipi_ns + c.deep_exit_ns))
                .contains(&saved),
            "packet {i}: saved {saved}"
        );
    }
    // Every downstream wake-up came from the hook, ahead of the packet; none from stage 0.
    let packets = arrivals.len() as u64;
    assert_eq!(adaptive.wakeups_ahead, packets * downstream);
    assert_eq!(adaptive.wakeups, packets * config.stages as u64);
    assert!(adaptive.reschedules_for(Reason::HeadAhead) > 0);
    assert_eq!(idle.wakeups_ahead, 0);
}

#[test]
fn without_a_burst_gap_adaptive_still_sleeps_between_isolated_packets() {
    // Gap 0: every packet wakes the whole lane ahead, and the head never keeps a stage
    // polling, so each stage completes once the packet has passed it.
    let mut config = Config::new(1, 3, 3);
    config.burst_gap_ns = 0;
    let arrivals = Profile::Steady(1_000).arrivals(500, 1).unwrap();
    let packets = arrivals.len() as u64;
    let stages = config.stages as u64;
    let adaptive = run(&config, Policy::Adaptive, &arrivals).unwrap();
    let poll = Summary::of(&run(&config, Policy::Poll, &arrivals).unwrap());
    assert_eq!(adaptive.reschedules_for(Reason::HeadActive), 0);
    assert_eq!(adaptive.completions, packets * stages);
    assert_eq!(adaptive.wakeups, packets * stages);
    assert_eq!(adaptive.wakeups_ahead, packets * (stages - 1));
    let busy = Summary::of(&adaptive).cpu_busy;
    assert!(busy < 0.01, "busy {busy}");
    assert!(poll.cpu_busy > 0.95, "poll busy {}", poll.cpu_busy);
}
