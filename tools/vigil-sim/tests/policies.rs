// SPDX-License-Identifier: GPL-2.0

//! The policies against each other on bursty traffic, through the module's own `decide`.
//!
//! The scenario is one where adaptive has something to work with: a parse stage slower than
//! the two after it, so that the downstream stages catch up and drain in the middle of a
//! burst, and long bursts (256 packets, 50 ns apart, every 2 ms). With equal service times no
//! stage drains in the middle of a burst and adaptive behaves exactly like idle; with short
//! bursts the per-burst wake-ups (20 us each, per stage) dominate every policy but poll.

use vigil_sim::{run, Config, Policy, Profile, Summary};

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
    // It got there by polling on while packets were on their way, and no longer: it never
    // polled past the last packet of a burst into the gap.
    assert!(adaptive.reschedules_by_reason[0] > 0);
    assert!(adaptive.wakeups >= (arrivals.len() as u64 / 256) * config.stages as u64);
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
