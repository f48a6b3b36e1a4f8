// SPDX-License-Identifier: GPL-2.0

//! Host tests of `rust/policy.rs`: every policy over a grid of views, against the rules the
//! documentation states.

use vigil_core::policy::{
    burst_gap, decide, in_flight_toward, Decision, LaneEntries, Params, Policy, Reason,
    StageWindow, View,
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
                        mean_entry_gap_ns: 0,
                        woken_ahead_ns: 0,
                        window_ns: WINDOW,
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
        mean_entry_gap_ns: 0,
        woken_ahead_ns: 0,
        window_ns: WINDOW,
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
        mean_entry_gap_ns: 0,
        woken_ahead_ns: 0,
        window_ns: WINDOW,
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
        mean_entry_gap_ns: 0,
        woken_ahead_ns: 0,
        window_ns: WINDOW,
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
        mean_entry_gap_ns: 0,
        woken_ahead_ns: 0,
        window_ns: WINDOW,
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

/// Whether a packet entering at `now`, the previous one having entered at `previous` (0: none),
/// wakes ahead, for a lane whose estimate is `mean`.
fn wakes_ahead(p: &Params, now: u64, previous: u64, mean: u64) -> bool {
    let mut lane = LaneEntries {
        last_ns: previous,
        mean_gap_ns: mean,
    };
    let wakes = lane.enter(p, now);
    assert_eq!(lane.last_ns, now);
    wakes
}

#[test]
fn only_adaptive_wakes_ahead_and_only_at_the_start_of_a_burst() {
    let now = LAST_WORK;
    for policy in Policy::ALL {
        for gap in [0, 1, GAP, WINDOW] {
            let p = with_gap(policy, 1, gap);
            // The lane's first packet always starts a burst.
            assert_eq!(wakes_ahead(&p, now, 0, 0), policy == Policy::Adaptive);
            for since in [0, 1, GAP - 1, GAP, GAP + 1, WINDOW, 10 * WINDOW] {
                // With no estimate yet, the floor alone decides.
                let expected = policy == Policy::Adaptive && since >= gap;
                assert_eq!(
                    wakes_ahead(&p, now, now - since, 0),
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
    assert!(wakes_ahead(&p, now, 0, 0), "first packet");
    assert!(!wakes_ahead(&p, now, now - GAP + 1, 0), "below the floor");
    assert!(wakes_ahead(&p, now, now - GAP, 0), "at the floor");
    // A previous entry stamped after `now` (another CPU's clock) is the same burst.
    assert!(!wakes_ahead(&p, now, now + 10, 0));
    // Gap 0 and no estimate: every packet wakes ahead, even one at the same instant.
    let every = with_gap(Policy::Adaptive, 1, 0);
    assert!(wakes_ahead(&every, now, now, 0));
    assert!(wakes_ahead(&every, now, now - 1, 0));
    // A lane whose packets come every 8 us: a gap of 4 times that (past the floor) is long.
    let mean = 8_000;
    assert_eq!(burst_gap(&p, mean), 32_000);
    assert!(!wakes_ahead(&p, now, now - 32_000 + 1, mean));
    assert!(wakes_ahead(&p, now, now - 32_000, mean));
    // Never below the floor, never above the window (unless the floor is).
    assert_eq!(burst_gap(&p, 1_000), GAP);
    assert_eq!(burst_gap(&p, WINDOW), WINDOW);
    assert_eq!(
        burst_gap(&with_gap(Policy::Adaptive, 1, 2 * WINDOW), WINDOW),
        2 * WINDOW
    );
    assert_eq!(burst_gap(&p, u64::MAX), WINDOW);
}

#[test]
fn the_estimate_follows_the_gaps_and_a_long_silence_counts_as_the_cap() {
    let p = params(Policy::Adaptive, 1);
    let mut lane = LaneEntries::default();
    let mut t = LAST_WORK;
    lane.enter(&p, t);
    assert_eq!(lane.mean_gap_ns, 0, "one packet: no gap yet");
    t += 8_000;
    lane.enter(&p, t);
    assert_eq!(lane.mean_gap_ns, 8_000, "the first gap sets it");
    // A second of silence counts as the window: one eighth of the way from 8 us to 50 us.
    t += 1_000_000_000;
    lane.enter(&p, t);
    assert_eq!(lane.mean_gap_ns, 8_000 - 1_000 + WINDOW / 8);
    for _ in 0..100 {
        t += 8_000;
        lane.enter(&p, t);
    }
    // Integer steps settle within 8 ns above the gap.
    assert!(
        (8_000..=8_007).contains(&lane.mean_gap_ns),
        "{}",
        lane.mean_gap_ns
    );
}

/// A burst of 32 packets 5 us apart every 1 ms, spread round robin over 8 lanes (4 packets
/// per lane per burst, 40 us apart in each), as the simulator's scale run sends: each lane must
/// see one burst per burst, not one per packet.
#[test]
fn bursts_over_eight_interleaved_lanes_wake_ahead_once_per_lane_per_burst() {
    let p = params(Policy::Adaptive, 1);
    let mut lanes = [LaneEntries::default(); 8];
    let mut wakes = [0u32; 8];
    let bursts = 50;
    for b in 0..bursts {
        for i in 0..32u64 {
            let now = LAST_WORK + b * 1_000_000 + i * 5_000;
            let lane = (i % 8) as usize;
            wakes[lane] += u32::from(lanes[lane].enter(&p, now));
        }
    }
    for (lane, &w) in wakes.iter().enumerate() {
        // The first burst's second packet may still count (no estimate yet), not more.
        assert!(
            (bursts as u32..=bursts as u32 + 1).contains(&w),
            "lane {lane}: {w} wake-ups ahead over {bursts} bursts"
        );
    }
    // The floor alone (no estimate) would wake ahead on every packet: 40 us past 20 us.
    assert!(wakes_ahead(&p, LAST_WORK + 40_000, LAST_WORK, 0));
}

#[test]
fn a_stage_woken_ahead_polls_until_its_packet_arrives_counted_from_the_wake_up() {
    // The burst's first packet entered at `entry`; the stage was woken ahead and first polled
    // at `woken` (an IPI and a deep C-state exit later), longer after the entry than the window.
    let entry = LAST_WORK;
    let woken = entry + WINDOW + 20_000;
    let at = |now_ns, woken_ahead_ns| View {
        now_ns,
        last_work_ns: 0,
        head_entry_ns: entry,
        mean_entry_gap_ns: 0,
        woken_ahead_ns,
        window_ns: 0,
        in_flight: 1,
        upstream_backlog: 0,
    };
    let p = params(Policy::Adaptive, 1);
    assert_eq!(
        decide(&p, &at(woken, woken)),
        Decision::Reschedule(Reason::HeadAhead)
    );
    assert_eq!(
        decide(&p, &at(woken + WINDOW - 1, woken)),
        Decision::Reschedule(Reason::HeadAhead)
    );
    // Bounded from the wake-up: a packet lost upstream keeps it no longer than the window.
    assert_eq!(decide(&p, &at(woken + WINDOW, woken)), Decision::Complete);
    // Counted from the entry (no wake-up stamp), it would complete at its first poll.
    assert_eq!(decide(&p, &at(woken, 0)), Decision::Complete);
}

fn sized(p: &Params, window_ns: u64, idle_ns: u64) -> u64 {
    let mut w = StageWindow {
        window_ns,
        ..StageWindow::default()
    };
    let view = View {
        now_ns: LAST_WORK,
        last_work_ns: LAST_WORK,
        head_entry_ns: LAST_WORK - 5,
        mean_entry_gap_ns: 0,
        woken_ahead_ns: 0,
        window_ns,
        in_flight: 0,
        upstream_backlog: 0,
    };
    w.completed(&view);
    assert_eq!(w.idle_since_ns, LAST_WORK);
    w.polled(p, LAST_WORK + idle_ns);
    assert!(!w.completed);
    // Only the first poll after a completion sizes it.
    let once = w.window_ns;
    w.polled(p, LAST_WORK + 10 * idle_ns + 1);
    assert_eq!(w.window_ns, once);
    once
}

#[test]
fn the_window_grows_after_a_packet_just_after_completing_and_shrinks_after_an_empty_one() {
    let p = params(Policy::Adaptive, 1);
    let start = StageWindow::grow_start(&p);
    assert_eq!(start, WINDOW / 4);
    // From 0, a packet 1 us after: the grow start; then it doubles, up to the bound.
    assert_eq!(sized(&p, 0, 1_000), start);
    assert_eq!(sized(&p, start, start + 1), 2 * start);
    assert_eq!(sized(&p, 2 * start, 2 * start + 1), WINDOW);
    assert_eq!(sized(&p, WINDOW, WINDOW), WINDOW, "never above the bound");
    assert_eq!(
        sized(&p, 10 * WINDOW, WINDOW),
        WINDOW,
        "a larger one is cut to it"
    );
    // Caught within the window: nothing to learn.
    assert_eq!(sized(&p, 2 * start, 2 * start), 2 * start);
    // A whole bound spent empty: an eighth less, 0 below half the grow start.
    assert_eq!(sized(&p, WINDOW, WINDOW + 1), WINDOW - WINDOW / 8);
    assert_eq!(sized(&p, start, WINDOW + 1), start - start / 8);
    assert_eq!(sized(&p, start / 2 + 1, 10 * WINDOW), 0);
    // Repeated empty windows take a full window to 0.
    let mut w = WINDOW;
    let mut n = 0;
    while w > 0 {
        w = sized(&p, w, 2 * WINDOW);
        n += 1;
        assert!(n < 20);
    }
    // Never completed: polling sizes nothing.
    let mut never = StageWindow {
        window_ns: start,
        ..StageWindow::default()
    };
    never.polled(&p, LAST_WORK);
    assert_eq!(never.window_ns, start);
}

#[test]
fn head_active_past_the_floor_needs_the_learned_window() {
    // A lane whose packets come every 15 us: its burst gap is 50 us (4 x 15, at most the
    // window), past the 20 us floor.
    let entry = LAST_WORK;
    let at = |now_ns, window_ns| View {
        now_ns,
        last_work_ns: entry + 1_000,
        head_entry_ns: entry,
        mean_entry_gap_ns: 15_000,
        woken_ahead_ns: 0,
        window_ns,
        in_flight: 0,
        upstream_backlog: 0,
    };
    let p = params(Policy::Adaptive, 1);
    // Within the floor: always.
    assert_eq!(
        decide(&p, &at(entry + GAP - 1, 0)),
        Decision::Reschedule(Reason::HeadActive)
    );
    // Past it: only while quiet for less than the stage's window.
    assert_eq!(decide(&p, &at(entry + GAP, 0)), Decision::Complete);
    assert_eq!(
        decide(&p, &at(entry + 40_000, 40_000)),
        Decision::Reschedule(Reason::HeadActive)
    );
    assert_eq!(decide(&p, &at(entry + 41_000, 40_000)), Decision::Complete);
    // And never past the lane's burst gap.
    assert_eq!(
        decide(&p, &at(entry + WINDOW - 1, WINDOW)),
        Decision::Reschedule(Reason::HeadActive)
    );
    assert_eq!(decide(&p, &at(entry + WINDOW, WINDOW)), Decision::Complete);
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
