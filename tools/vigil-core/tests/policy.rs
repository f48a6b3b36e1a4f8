// SPDX-License-Identifier: GPL-2.0

//! Host tests of `rust/policy.rs`: every policy over a grid of views, against the rules the
//! documentation states.

use vigil_core::policy::{decide, in_flight_toward, Decision, Params, Policy, Reason, View};

const WINDOW: u64 = 50_000;

fn params(policy: Policy, backlog_threshold: u32) -> Params {
    Params {
        policy,
        window_ns: WINDOW,
        backlog_threshold,
    }
}

/// Views around the interesting edges: idle time below, at and past the window; nothing, one or
/// many packets in flight; upstream backlog below, at and above thresholds.
fn views() -> Vec<View> {
    let mut v = Vec::new();
    for idle in [0, 1, WINDOW - 1, WINDOW, WINDOW + 1, u64::MAX / 2] {
        for in_flight in [0, 1, 1000] {
            for upstream_backlog in [0, 1, 3, 4, 5, u32::MAX] {
                v.push(View {
                    now_ns: 1_000_000_000 + idle,
                    last_work_ns: 1_000_000_000,
                    in_flight,
                    upstream_backlog,
                });
            }
        }
    }
    v
}

#[test]
fn idle_always_completes_and_poll_always_reschedules() {
    for view in views() {
        assert_eq!(decide(&params(Policy::Idle, 4), &view), Decision::Complete);
        assert_eq!(
            decide(&params(Policy::Poll, 4), &view),
            Decision::Reschedule(Reason::Window)
        );
    }
}

#[test]
fn timeout_polls_exactly_within_the_window() {
    for view in views() {
        let idle = view.now_ns - view.last_work_ns;
        let expected = if idle < WINDOW {
            Decision::Reschedule(Reason::Window)
        } else {
            Decision::Complete
        };
        assert_eq!(
            decide(&params(Policy::Timeout, 4), &view),
            expected,
            "{view:?}"
        );
    }
}

#[test]
fn adaptive_follows_head_then_backlog_within_the_window() {
    for threshold in [0, 1, 4] {
        for view in views() {
            let idle = view.now_ns - view.last_work_ns;
            let got = decide(&params(Policy::Adaptive, threshold), &view);
            let expected = if idle >= WINDOW {
                Decision::Complete
            } else if view.in_flight > 0 {
                Decision::Reschedule(Reason::HeadAhead)
            } else if threshold > 0 && view.upstream_backlog >= threshold {
                Decision::Reschedule(Reason::UpstreamBacklog)
            } else {
                Decision::Complete
            };
            assert_eq!(got, expected, "threshold {threshold} {view:?}");
        }
    }
}

#[test]
fn adaptive_completes_at_once_when_nothing_is_coming() {
    let view = View {
        now_ns: 10,
        last_work_ns: 10,
        in_flight: 0,
        upstream_backlog: 0,
    };
    assert_eq!(
        decide(&params(Policy::Adaptive, 1), &view),
        Decision::Complete
    );
}

#[test]
fn a_stale_clock_never_panics_or_polls_for_ever() {
    // A `last_work_ns` ahead of `now_ns` (another CPU's clock read) counts as no idle time.
    let view = View {
        now_ns: 5,
        last_work_ns: 100,
        in_flight: 0,
        upstream_backlog: 0,
    };
    assert_eq!(
        decide(&params(Policy::Timeout, 0), &view),
        Decision::Reschedule(Reason::Window)
    );
    assert_eq!(
        decide(&params(Policy::Adaptive, 0), &view),
        Decision::Complete
    );
}

#[test]
fn names_round_trip_and_unknown_names_are_refused() {
    for p in Policy::ALL {
        assert_eq!(Policy::from_name(p.name().as_bytes()), Some(p));
        let line = format!("{}\n", p.name());
        assert_eq!(Policy::from_name(line.as_bytes()), Some(p));
    }
    for bad in ["", "Idle", "adaptive ", "busy", "poll\n\n"] {
        assert_eq!(Policy::from_name(bad.as_bytes()), None, "{bad:?}");
    }
    for (i, r) in Reason::ALL.into_iter().enumerate() {
        assert_eq!(r.index(), i);
    }
}

/// A lane model: packets enter, some are dropped at stage 0, the rest pass stages 0 and 1.
/// `in_flight_toward` must match the packets really between the head and each stage.
#[test]
fn in_flight_matches_a_lane_model() {
    let mut entered = 0u64;
    let mut handled = [0u64; 2];
    let mut dropped_at0 = 0u64;
    // Packets queued before stage 0, and between stage 0 and stage 1.
    let mut q0: Vec<u64> = Vec::new();
    let mut q1: Vec<u64> = Vec::new();
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..20_000 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        match rng % 4 {
            0 | 1 => {
                entered += 1;
                q0.push(entered);
            }
            2 if !q0.is_empty() => {
                let seq = q0.remove(0);
                handled[0] += 1;
                if seq % 7 == 0 {
                    dropped_at0 += 1;
                } else {
                    q1.push(seq);
                }
            }
            3 if !q1.is_empty() => {
                q1.remove(0);
                handled[1] += 1;
            }
            _ => {}
        }
        assert_eq!(in_flight_toward(entered, handled[0], 0), q0.len() as u64);
        assert_eq!(
            in_flight_toward(entered, handled[1], dropped_at0),
            (q0.len() + q1.len()) as u64
        );
    }
    // Counters read out of order (handled ahead of entered) give 0, never a wrapped number.
    assert_eq!(in_flight_toward(5, 6, 0), 0);
    assert_eq!(in_flight_toward(5, 3, 4), 0);
}
