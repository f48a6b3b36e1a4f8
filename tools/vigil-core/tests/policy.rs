// SPDX-License-Identifier: GPL-2.0

//! Host tests of `rust/policy.rs`: every policy over a grid of views, against the rules the
//! documentation states.

use vigil_core::policy::{
    decide, in_flight_toward, wakes_ahead, Decision, Params, Policy, Reason, View,
};

const WINDOW: u64 = 50_000;
const GAP: u64 = 20_000;
/// Where the grid's clock stands when the stage last worked: well after boot, as in the kernel.
const LAST_WORK: u64 = 1_000_000_000;

fn params(policy: Policy, backlog_threshold: u32) -> Params {
    with_gap(policy, backlog_threshold, GAP)
}

fn with_gap(policy: Policy, backlog_threshold: u32, burst_gap_ns: u64) -> Params {
    Params {
        policy,
        window_ns: WINDOW,
        backlog_threshold,
        burst_gap_ns,
    }
}

/// When the lane's head last advanced, for a stage deciding at `now`: never, long ago, past,
/// at and within the window, past, at and within the burst gap, just now, and a clock read
/// ahead of `now` (another CPU's).
fn head_entries(now: u64) -> [u64; 12] {
    [
        0,
        1,
        now - 10 * WINDOW,
        now - WINDOW - 1,
        now - WINDOW,
        now - WINDOW + 1,
        now - GAP - 1,
        now - GAP,
        now - GAP + 1,
        now - 1,
        now,
        now + 1,
    ]
}

/// Views around the interesting edges: idle time below, at and past the window; the head's
/// last entry anywhere from never to just now; nothing, one or many packets in flight;
/// upstream backlog below, at and above thresholds.
fn views() -> Vec<View> {
    let mut v = Vec::new();
    for idle in [0, 1, GAP, WINDOW - 1, WINDOW, WINDOW + 1, u64::MAX / 2] {
        let now_ns = LAST_WORK + idle;
        for head_entry_ns in head_entries(now_ns) {
            for in_flight in [0, 1, 1000] {
                for upstream_backlog in [0, 1, 3, 4, 5, u32::MAX] {
                    v.push(View {
                        now_ns,
                        last_work_ns: LAST_WORK,
                        head_entry_ns,
                        in_flight,
                        upstream_backlog,
                    });
                }
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
fn timeout_polls_exactly_within_the_window_whatever_the_head_does() {
    for gap in [0, GAP] {
        for view in views() {
            let idle = view.now_ns - view.last_work_ns;
            let expected = if idle < WINDOW {
                Decision::Reschedule(Reason::Window)
            } else {
                Decision::Complete
            };
            assert_eq!(
                decide(&with_gap(Policy::Timeout, 4, gap), &view),
                expected,
                "gap {gap} {view:?}"
            );
        }
    }
}

#[test]
fn adaptive_follows_head_then_backlog_then_burst_within_the_window() {
    let mut seen = [false; 5];
    for gap in [0, 1, GAP, WINDOW] {
        for threshold in [0, 1, 4] {
            for view in views() {
                // Quiet is the shorter of the two idle times: since this stage worked, and
                // since its lane's head advanced (a head ahead of the clock: not idle at all).
                let since_work = view.now_ns - view.last_work_ns;
                let since_head = view.now_ns.saturating_sub(view.head_entry_ns);
                let quiet = since_work.min(since_head);
                let got = decide(&with_gap(Policy::Adaptive, threshold, gap), &view);
                let expected = if quiet >= WINDOW {
                    Decision::Complete
                } else if view.in_flight > 0 {
                    Decision::Reschedule(Reason::HeadAhead)
                } else if threshold > 0 && view.upstream_backlog >= threshold {
                    Decision::Reschedule(Reason::UpstreamBacklog)
                } else if since_head < gap {
                    Decision::Reschedule(Reason::HeadActive)
                } else {
                    Decision::Complete
                };
                assert_eq!(got, expected, "gap {gap} threshold {threshold} {view:?}");
                let k = match got {
                    Decision::Complete => 4,
                    Decision::Reschedule(r) => r.index(),
                };
                seen[k] = true;
            }
        }
    }
    // The grid reaches every outcome but `window`, which adaptive never gives.
    assert_eq!(seen, [true, true, false, true, true]);
}

#[test]
fn adaptive_completes_at_once_when_nothing_is_coming() {
    // The lane's last packet entered long before this stage finished it.
    let view = View {
        now_ns: LAST_WORK,
        last_work_ns: LAST_WORK,
        head_entry_ns: LAST_WORK - 10 * GAP,
        in_flight: 0,
        upstream_backlog: 0,
    };
    assert_eq!(
        decide(&params(Policy::Adaptive, 1), &view),
        Decision::Complete
    );
    // No packet ever entered the lane: the head never keeps a stage polling.
    let never = View {
        head_entry_ns: 0,
        ..view
    };
    assert_eq!(
        decide(&params(Policy::Adaptive, 1), &never),
        Decision::Complete
    );
}

#[test]
fn a_burst_keeps_the_stage_polling_until_the_head_is_quiet_for_the_gap() {
    // The stage finished everything sent to it; the burst's last packet entered at `entry`.
    let entry = LAST_WORK - 1_000;
    let at = |now_ns| View {
        now_ns,
        last_work_ns: LAST_WORK,
        head_entry_ns: entry,
        in_flight: 0,
        upstream_backlog: 0,
    };
    let p = params(Policy::Adaptive, 1);
    assert_eq!(
        decide(&p, &at(entry + GAP - 1)),
        Decision::Reschedule(Reason::HeadActive)
    );
    assert_eq!(decide(&p, &at(entry + GAP)), Decision::Complete);
    // Gap 0 turns the signal off.
    assert_eq!(
        decide(&with_gap(Policy::Adaptive, 1, 0), &at(entry + 1)),
        Decision::Complete
    );
}

#[test]
fn a_stage_woken_ahead_polls_on_the_look_ahead_for_the_window_from_the_entry() {
    // It never worked (last work 0, at boot), and the burst's first packet entered at `entry`
    // and is still upstream.
    let entry = LAST_WORK;
    let at = |now_ns, in_flight| View {
        now_ns,
        last_work_ns: 0,
        head_entry_ns: entry,
        in_flight,
        upstream_backlog: 0,
    };
    let p = params(Policy::Adaptive, 1);
    assert_eq!(
        decide(&p, &at(entry + WINDOW - 1, 1)),
        Decision::Reschedule(Reason::HeadAhead)
    );
    // A packet held or lost upstream keeps it no longer than the window after the entry.
    assert_eq!(decide(&p, &at(entry + WINDOW, 1)), Decision::Complete);
    // Dropped upstream (nothing in flight any more): it polls for the gap, not the window.
    assert_eq!(
        decide(&p, &at(entry + GAP - 1, 0)),
        Decision::Reschedule(Reason::HeadActive)
    );
    assert_eq!(decide(&p, &at(entry + GAP, 0)), Decision::Complete);
}

#[test]
fn a_stale_clock_never_panics_or_polls_for_ever() {
    // A `last_work_ns` or `head_entry_ns` ahead of `now_ns` (another CPU's clock read) counts
    // as no idle time.
    let view = View {
        now_ns: LAST_WORK + 5,
        last_work_ns: LAST_WORK + 100,
        head_entry_ns: 0,
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
    let head_ahead_of_clock = View {
        now_ns: LAST_WORK,
        last_work_ns: 0,
        head_entry_ns: LAST_WORK + 100,
        ..view
    };
    assert_eq!(
        decide(&params(Policy::Adaptive, 0), &head_ahead_of_clock),
        Decision::Reschedule(Reason::HeadActive)
    );
    assert_eq!(
        decide(&with_gap(Policy::Adaptive, 0, 0), &head_ahead_of_clock),
        Decision::Complete
    );
}

#[test]
fn only_adaptive_wakes_ahead_and_only_at_the_start_of_a_burst() {
    let now = LAST_WORK;
    for policy in Policy::ALL {
        for gap in [0, 1, GAP, WINDOW] {
            let p = with_gap(policy, 1, gap);
            // The lane's first packet always starts a burst.
            assert_eq!(wakes_ahead(&p, now, 0), policy == Policy::Adaptive);
            for since in [0, 1, GAP - 1, GAP, GAP + 1, WINDOW, 10 * WINDOW] {
                let expected = policy == Policy::Adaptive && since >= gap;
                assert_eq!(
                    wakes_ahead(&p, now, now - since),
                    expected,
                    "{policy:?} gap {gap} since {since}"
                );
            }
        }
    }
}

#[test]
fn wake_ahead_edges() {
    let p = params(Policy::Adaptive, 1);
    let now = LAST_WORK;
    assert!(wakes_ahead(&p, now, 0), "first packet");
    assert!(!wakes_ahead(&p, now, now - GAP + 1), "below the gap");
    assert!(wakes_ahead(&p, now, now - GAP), "at the gap");
    assert!(wakes_ahead(&p, now, now - GAP - 1), "above the gap");
    // A previous entry stamped after `now` (another CPU's clock) is the same burst.
    assert!(!wakes_ahead(&p, now, now + 10));
    // Gap 0: every packet wakes ahead, even one entering at the same instant as the last.
    let every = with_gap(Policy::Adaptive, 1, 0);
    assert!(wakes_ahead(&every, now, now));
    assert!(wakes_ahead(&every, now, now + 10));
    assert!(wakes_ahead(&every, now, now - 1));
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
    let names: Vec<&str> = Reason::ALL.iter().map(|r| r.name()).collect();
    assert_eq!(
        names,
        ["head_ahead", "upstream_backlog", "window", "head_active"]
    );
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
                if seq.is_multiple_of(7) {
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
