// SPDX-License-Identifier: GPL-2.0

//! KUnit suites, run when the module loads into a kernel built with `CONFIG_KUNIT=y`.

use kernel::prelude::*;

#[kunit_tests(vigil_parse)]
mod parse_tests {
    use crate::parse::{parse_bool, parse_u64, ParseError};

    #[test]
    fn u64_accepts_decimal_with_one_newline() {
        assert_eq!(parse_u64(b"42\n", 0, 100), Ok(42));
        assert_eq!(parse_u64(b"0", 0, 100), Ok(0));
        assert_eq!(
            parse_u64(b"18446744073709551615", 0, u64::MAX),
            Ok(u64::MAX)
        );
    }

    #[test]
    fn u64_rejects_malformed_and_out_of_range() {
        assert_eq!(parse_u64(b"", 0, 9), Err(ParseError::Invalid));
        assert_eq!(parse_u64(b"\n", 0, 9), Err(ParseError::Invalid));
        assert_eq!(parse_u64(b"4\n\n", 0, 9), Err(ParseError::Invalid));
        assert_eq!(parse_u64(b" 4", 0, 9), Err(ParseError::Invalid));
        assert_eq!(parse_u64(b"-1", 0, 9), Err(ParseError::Invalid));
        assert_eq!(parse_u64(b"10", 0, 9), Err(ParseError::OutOfRange));
        assert_eq!(parse_u64(b"1", 2, 9), Err(ParseError::OutOfRange));
        assert_eq!(
            parse_u64(b"18446744073709551616", 0, u64::MAX),
            Err(ParseError::OutOfRange)
        );
    }

    #[test]
    fn bool_is_zero_or_one() {
        assert_eq!(parse_bool(b"1\n"), Ok(true));
        assert_eq!(parse_bool(b"0"), Ok(false));
        assert_eq!(parse_bool(b"2"), Err(ParseError::Invalid));
        assert_eq!(parse_bool(b"true"), Err(ParseError::Invalid));
    }
}

#[kunit_tests(vigil_policy)]
mod policy_tests {
    use crate::policy::{
        decide, in_flight_toward, wakes_ahead, Decision, Params, Policy, Reason, View,
    };

    fn view(idle_ns: u64, in_flight: u64, upstream_backlog: u32) -> View {
        View {
            now_ns: 1_000_000 + idle_ns,
            last_work_ns: 1_000_000,
            head_entry_ns: 0,
            in_flight,
            upstream_backlog,
        }
    }

    #[test]
    fn each_policy_decides_as_documented() {
        let p = |policy| Params {
            policy,
            window_ns: 1000,
            backlog_threshold: 2,
            burst_gap_ns: 100,
        };
        assert_eq!(decide(&p(Policy::Idle), &view(0, 5, 5)), Decision::Complete);
        assert_eq!(
            decide(&p(Policy::Poll), &view(u64::MAX / 4, 0, 0)),
            Decision::Reschedule(Reason::Window)
        );
        assert_eq!(
            decide(&p(Policy::Timeout), &view(999, 0, 0)),
            Decision::Reschedule(Reason::Window)
        );
        assert_eq!(
            decide(&p(Policy::Timeout), &view(1000, 9, 9)),
            Decision::Complete
        );
        assert_eq!(
            decide(&p(Policy::Adaptive), &view(10, 1, 0)),
            Decision::Reschedule(Reason::HeadAhead)
        );
        assert_eq!(
            decide(&p(Policy::Adaptive), &view(10, 0, 2)),
            Decision::Reschedule(Reason::UpstreamBacklog)
        );
        assert_eq!(
            decide(&p(Policy::Adaptive), &view(10, 0, 1)),
            Decision::Complete
        );
        assert_eq!(
            decide(&p(Policy::Adaptive), &view(1000, 7, 7)),
            Decision::Complete
        );
        // The head entered 50 ns ago, within the burst gap: more of the burst is coming.
        let head_active = View {
            head_entry_ns: 1_000_000 + 950,
            ..view(1000, 0, 0)
        };
        assert_eq!(
            decide(&p(Policy::Adaptive), &head_active),
            Decision::Reschedule(Reason::HeadActive)
        );
        assert_eq!(
            decide(&p(Policy::Timeout), &head_active),
            Decision::Complete
        );
        // A stage woken ahead of a burst has not worked for long, but its lane just did.
        let woken_ahead = View {
            head_entry_ns: 1_999_500,
            ..view(1_000_000, 1, 0)
        };
        assert_eq!(
            decide(&p(Policy::Adaptive), &woken_ahead),
            Decision::Reschedule(Reason::HeadAhead)
        );
    }

    #[test]
    fn only_adaptive_wakes_ahead_and_only_when_a_burst_starts() {
        let p = |policy| Params {
            policy,
            window_ns: 1000,
            backlog_threshold: 2,
            burst_gap_ns: 100,
        };
        assert!(wakes_ahead(&p(Policy::Adaptive), 5_000, 0));
        assert!(wakes_ahead(&p(Policy::Adaptive), 5_000, 4_900));
        assert!(!wakes_ahead(&p(Policy::Adaptive), 5_000, 4_901));
        for policy in [Policy::Idle, Policy::Poll, Policy::Timeout] {
            assert!(!wakes_ahead(&p(policy), 5_000, 0));
        }
    }

    #[test]
    fn in_flight_excludes_retired_packets() {
        assert_eq!(in_flight_toward(10, 4, 0), 6);
        assert_eq!(in_flight_toward(10, 4, 6), 0);
        assert_eq!(in_flight_toward(10, 11, 0), 0);
    }
}

#[kunit_tests(vigil_stats)]
mod stats_tests {
    use super::*;
    use crate::{
        control::{Control, STATS_ATTRS},
        seen,
        skb::SkBuff,
        stats::Stats,
        sys,
        sysfs::{show_for_test, store_for_test},
    };
    use kernel::{ffi, sync::Arc};

    /// A continuation the counting hook never calls (it accepts).
    ///
    /// # Safety
    ///
    /// `skb` is a valid packet whose ownership passes to this function.
    unsafe extern "C" fn okfn(
        _net: *mut sys::net,
        _sk: *mut sys::sock,
        skb: *mut sys::sk_buff,
    ) -> ffi::c_int {
        // SAFETY: the continuation owns the packet.
        unsafe { sys::vigil_kfree_skb(skb) };
        0
    }

    #[test]
    fn seen_counter_counts_and_accepts_every_packet() -> Result {
        let stats = Arc::new(Stats::new(2)?, GFP_KERNEL)?;
        let hook = seen::register(stats.clone())?;
        let mut verdicts = [0; 5];
        let mut counts = [0; 5];
        for n in 0..5 {
            let skb = SkBuff::alloc(64, sys::GFP_KERNEL)?;
            verdicts[n] = hook.call_for_test(&skb.as_ref(), sys::NFPROTO_IPV4 as u8, okfn);
            counts[n] = stats.seen();
        }
        drop(hook);
        assert_eq!(verdicts, [sys::NF_ACCEPT; 5]);
        assert_eq!(counts, [1, 2, 3, 4, 5]);
        Ok(())
    }

    #[test]
    fn stats_files_show_and_reset() -> Result {
        let stats = Arc::new(Stats::new(2)?, GFP_KERNEL)?;
        let control = Arc::pin_init(Control::new(stats.clone(), 2), GFP_KERNEL)?;
        let hook = seen::register(stats.clone())?;
        for _ in 0..3 {
            let skb = SkBuff::alloc(0, sys::GFP_KERNEL)?;
            hook.call_for_test(&skb.as_ref(), sys::NFPROTO_IPV4 as u8, okfn);
        }
        drop(hook);
        let seen = STATS_ATTRS
            .iter()
            .find(|a| a.name == c"seen")
            .ok_or(EINVAL)?;
        let reset = STATS_ATTRS
            .iter()
            .find(|a| a.name == c"reset")
            .ok_or(EINVAL)?;
        let mut page = [0u8; 32];
        let len = show_for_test(seen, &*control, &mut page)?;
        assert_eq!(&page[..len], b"3\n");
        assert_eq!(store_for_test(reset, &*control, b"0\n"), Err(EINVAL));
        assert_eq!(stats.seen(), 3);
        store_for_test(reset, &*control, b"1\n")?;
        assert_eq!(stats.seen(), 0);
        Ok(())
    }
}

#[kunit_tests(vigil_config)]
mod config_tests {
    use super::*;
    use crate::{
        control::{Control, ROOT_ATTRS},
        stats::Stats,
        sysfs::{show_for_test, store_for_test},
    };
    use kernel::sync::Arc;

    fn control() -> Result<Arc<Control>> {
        let stats = Arc::new(Stats::new(2)?, GFP_KERNEL)?;
        Arc::pin_init(Control::new(stats, 2), GFP_KERNEL)
    }

    fn show(c: &Control, name: &CStr) -> Result<KVec<u8>> {
        let attr = ROOT_ATTRS.iter().find(|a| a.name == name).ok_or(EINVAL)?;
        let mut page = [0u8; 512];
        let len = show_for_test(attr, c, &mut page)?;
        let mut out = KVec::new();
        out.extend_from_slice(&page[..len], GFP_KERNEL)?;
        Ok(out)
    }

    fn store(c: &Control, name: &CStr, input: &[u8]) -> Result {
        let attr = ROOT_ATTRS.iter().find(|a| a.name == name).ok_or(EINVAL)?;
        store_for_test(attr, c, input)
    }

    #[test]
    fn malformed_writes_change_nothing() -> Result {
        let c = control()?;
        let cases: [(&CStr, &[&[u8]]); 8] = [
            (c"policy", &[b"", b"busy", b"adaptive\n\n", b"Idle"]),
            (c"stages", &[b"0", b"9", b"x", b"-1"]),
            (c"poll_window_ns", &[b"", b"1000000001", b"1e6"]),
            (c"burst_gap_ns", &[b"", b"1000000001", b"20us", b"-1"]),
            (c"queue_len", &[b"0", b"65537", b" 4"]),
            (c"hook", &[b"forward", b""]),
            (
                c"match",
                &[b"udp dport 9100-9000", b"icmp", b"udp dport 70000"],
            ),
            (c"rules", &[b"all frobnicate", b"udp dport 9 drop extra"]),
        ];
        for (name, inputs) in cases {
            let before = show(&c, name)?;
            for input in inputs {
                assert!(store(&c, name, input).is_err());
                assert_eq!(show(&c, name)?, before);
            }
        }
        Ok(())
    }

    #[test]
    fn valid_writes_show_back() -> Result {
        let c = control()?;
        store(&c, c"policy", b"timeout\n")?;
        assert_eq!(&show(&c, c"policy")?[..], b"idle poll [timeout] adaptive\n");
        store(&c, c"match", b"udp dport 9000-9100\n")?;
        assert_eq!(&show(&c, c"match")?[..], b"udp dport 9000-9100\n");
        store(&c, c"rules", b"udp dport 9 drop; all mark 7\n")?;
        assert_eq!(&show(&c, c"rules")?[..], b"udp dport 9 drop\nall mark 7\n");
        store(&c, c"stages", b"5")?;
        assert_eq!(&show(&c, c"stages")?[..], b"5\n");
        assert_eq!(&show(&c, c"burst_gap_ns")?[..], b"20000\n");
        store(&c, c"burst_gap_ns", b"0\n")?;
        assert_eq!(&show(&c, c"burst_gap_ns")?[..], b"0\n");
        Ok(())
    }
}

#[kunit_tests(vigil_pipeline)]
mod pipeline_tests {
    use super::*;
    use crate::{
        config::{CpuList, HookPoint, Match, NetnsScope, Ops, Rules, MAX_STAGES},
        pipeline::{Pipeline, PipelineConfig, StageConfig},
        policy::{Params, Policy, Reason},
        skb::SkBuff,
        stats::{DropReason, Stats},
        sys,
    };
    use kernel::{
        ffi,
        sync::{
            atomic::{Atomic, Relaxed},
            Arc,
        },
        time::{delay::fsleep, Delta},
    };

    /// What the continuation saw: how many packets, how many out of order, the marks.
    static DELIVERED: Atomic<u64> = Atomic::new(0);
    static OUT_OF_ORDER: Atomic<u64> = Atomic::new(0);
    static LAST_SEQ: Atomic<u64> = Atomic::new(0);
    static LAST_MARK: Atomic<u32> = Atomic::new(0);

    /// The test's `okfn`: reads the sequence number the test wrote in the UDP payload.
    ///
    /// # Safety
    ///
    /// `skb` is a valid packet whose ownership passes to this function.
    unsafe extern "C" fn okfn(
        _net: *mut sys::net,
        _sk: *mut sys::sock,
        skb: *mut sys::sk_buff,
    ) -> ffi::c_int {
        let mut buf = [0u8; 36];
        // SAFETY: the pipeline hands over a valid packet it no longer uses.
        let skb_ref =
            unsafe { crate::skb::SkBuffRef::from_raw(core::ptr::NonNull::new_unchecked(skb)) };
        let data = skb_ref.peek(&mut buf);
        let seq = data
            .get(28..36)
            .map(|b| u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
            .unwrap_or(0);
        if seq <= LAST_SEQ.load(Relaxed) {
            OUT_OF_ORDER.add(1, Relaxed);
        }
        LAST_SEQ.store(seq, Relaxed);
        LAST_MARK.store(skb_ref.mark(), Relaxed);
        DELIVERED.add(1, Relaxed);
        // SAFETY: the continuation owns the packet.
        unsafe { sys::vigil_kfree_skb(skb) };
        0
    }

    /// A UDP/IPv4 packet to `dport` whose payload starts with `seq`; `valid: false` breaks its
    /// IP total length.
    fn udp_packet(dport: u16, seq: u64, valid: bool) -> Result<SkBuff> {
        let mut p = [0u8; 36];
        p[0] = 0x45;
        let total: u16 = if valid { 36 } else { 200 };
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p[8] = 64;
        p[9] = 17;
        p[12..16].copy_from_slice(&[10, 0, 0, 1]);
        p[16..20].copy_from_slice(&[10, 0, 0, 2]);
        p[20..22].copy_from_slice(&4000u16.to_be_bytes());
        p[22..24].copy_from_slice(&dport.to_be_bytes());
        p[24..26].copy_from_slice(&16u16.to_be_bytes());
        p[28..36].copy_from_slice(&seq.to_be_bytes());
        let mut skb = SkBuff::alloc(64, sys::GFP_KERNEL)?;
        skb.put(&p)?;
        Ok(skb)
    }

    fn config(stages: usize, policy: Policy, ops: [Ops; 3], work_ns: u64) -> PipelineConfig {
        let nr = kernel::cpu::nr_cpu_ids().min(2);
        let all = CpuList((1u64 << nr) - 1);
        let stage = core::array::from_fn(|k| StageConfig {
            // Stage k on CPU k % nr: packets cross CPUs between stages.
            cpus: if k < 3 {
                CpuList(1 << (k as u32 % nr))
            } else {
                all
            },
            ops: ops.get(k).copied().unwrap_or(Ops(0)),
            work_ns,
        });
        PipelineConfig {
            stages: stages.min(MAX_STAGES),
            stage,
            params: Params {
                policy,
                window_ns: 20_000,
                backlog_threshold: 1,
                burst_gap_ns: 10_000,
            },
            queue_len: 4096,
            hook: HookPoint::PreRouting,
            matcher: Match::All,
            rules: Rules::parse(b"udp dport 7 drop; udp dport 8 mark 42").unwrap_or_default(),
            netns: NetnsScope::Init,
            netns_quota: 1 << 20,
            max_held_packets: 1 << 20,
            max_held_bytes: 1 << 30,
        }
    }

    fn reset_observer() {
        DELIVERED.store(0, Relaxed);
        OUT_OF_ORDER.store(0, Relaxed);
        LAST_SEQ.store(0, Relaxed);
        LAST_MARK.store(0, Relaxed);
    }

    fn wait_delivered(n: u64) {
        for _ in 0..5000 {
            if DELIVERED.load(Relaxed) >= n {
                return;
            }
            fsleep(Delta::from_millis(1));
        }
    }

    #[test]
    fn every_policy_delivers_in_order_and_accounts() -> Result {
        for policy in Policy::ALL {
            reset_observer();
            let stats = Arc::new(Stats::new(kernel::cpu::nr_cpu_ids() as usize)?, GFP_KERNEL)?;
            let cfg = config(3, policy, [Ops::PARSE, Ops::RULES, Ops::WORK], 1000);
            let pipe = Pipeline::start(&cfg, stats.clone(), false)?;
            const N: u64 = 300;
            for seq in 1..=N {
                assert!(pipe.inject_for_test(
                    udp_packet(9000, seq, true)?,
                    sys::NFPROTO_IPV4 as u8,
                    okfn
                ));
            }
            wait_delivered(N);
            // A packet leaves the ledger once its continuation returned.
            for _ in 0..1000 {
                if pipe.in_flight() == 0 {
                    break;
                }
                fsleep(Delta::from_millis(1));
            }
            let in_flight = pipe.in_flight();
            // Dropped before asserting: a failed assertion ends the test without unwinding.
            drop(pipe);
            assert_eq!(DELIVERED.load(Relaxed), N);
            assert_eq!(OUT_OF_ORDER.load(Relaxed), 0);
            assert_eq!(in_flight, 0);
            let t = stats.totals();
            assert_eq!((t.entered, t.delivered, t.dropped_total()), (N, N, 0));
        }
        Ok(())
    }

    #[test]
    fn parse_and_rules_drop_and_mark_with_reasons() -> Result {
        reset_observer();
        let stats = Arc::new(Stats::new(kernel::cpu::nr_cpu_ids() as usize)?, GFP_KERNEL)?;
        let cfg = config(2, Policy::Adaptive, [Ops::PARSE, Ops::RULES, Ops(0)], 0);
        let pipe = Pipeline::start(&cfg, stats.clone(), false)?;
        assert!(pipe.inject_for_test(udp_packet(9000, 1, false)?, sys::NFPROTO_IPV4 as u8, okfn));
        assert!(pipe.inject_for_test(udp_packet(7, 2, true)?, sys::NFPROTO_IPV4 as u8, okfn));
        assert!(pipe.inject_for_test(udp_packet(8, 3, true)?, sys::NFPROTO_IPV4 as u8, okfn));
        wait_delivered(1);
        drop(pipe);
        let t = stats.totals();
        assert_eq!(t.entered, 3);
        assert_eq!(t.delivered, 1);
        assert_eq!(t.dropped[DropReason::Parse as usize], 1);
        assert_eq!(t.dropped[DropReason::Rule as usize], 1);
        assert_eq!(LAST_MARK.load(Relaxed), 42);
        Ok(())
    }

    /// A stage's empty polls and head_ahead reschedules, over every CPU.
    fn stage_counts(stats: &Stats, stage: usize) -> (u64, u64) {
        let mut sum = (0, 0);
        for cpu in 0..stats.nr_cpus() as u32 {
            let s = stats.stage(stage, cpu);
            sum.0 += s.empty_polls.load(Relaxed);
            sum.1 += s.reschedules[Reason::HeadAhead.index()].load(Relaxed);
        }
        sum
    }

    #[test]
    fn adaptive_wakes_the_lane_ahead_of_a_burst() -> Result {
        // Stage 0 (CPU 0) works 5 ms on the packet: stage 1 (CPU 1), woken ahead, polls on the
        // look-ahead (an empty poll, a head_ahead reschedule) long before the packet reaches
        // it. Under idle, stage 1 only runs once its packet is queued: it never polls empty.
        for policy in [Policy::Adaptive, Policy::Idle] {
            reset_observer();
            let stats = Arc::new(Stats::new(kernel::cpu::nr_cpu_ids() as usize)?, GFP_KERNEL)?;
            let mut cfg = config(2, policy, [Ops::WORK, Ops(0), Ops(0)], 5_000_000);
            cfg.params.window_ns = 100_000_000;
            let pipe = Pipeline::start(&cfg, stats.clone(), false)?;
            assert!(pipe.inject_for_test(
                udp_packet(9000, 1, true)?,
                sys::NFPROTO_IPV4 as u8,
                okfn
            ));
            wait_delivered(1);
            drop(pipe);
            assert_eq!(DELIVERED.load(Relaxed), 1);
            let (empty, head_ahead) = stage_counts(&stats, 1);
            if policy == Policy::Adaptive {
                assert!(empty >= 1);
                assert!(head_ahead >= 1);
            } else {
                assert_eq!((empty, head_ahead), (0, 0));
            }
        }
        Ok(())
    }

    #[test]
    fn stopping_under_load_loses_nothing() -> Result {
        reset_observer();
        let stats = Arc::new(Stats::new(kernel::cpu::nr_cpu_ids() as usize)?, GFP_KERNEL)?;
        // Slow stages, so that packets are still queued when the pipeline stops: 1 ms a
        // packet keeps them busy far longer than injecting 200 takes, even on a fast machine
        // (at 50 us a packet the queues sometimes drained first, and the failed assertion
        // left the pipeline running: KUnit ends a failed test without dropping its locals).
        let cfg = config(
            3,
            Policy::Idle,
            [Ops::PARSE, Ops::WORK, Ops::WORK],
            1_000_000,
        );
        let pipe = Pipeline::start(&cfg, stats.clone(), false)?;
        const N: u64 = 200;
        for seq in 1..=N {
            assert!(pipe.inject_for_test(
                udp_packet(9000, seq, true)?,
                sys::NFPROTO_IPV4 as u8,
                okfn
            ));
        }
        assert!(pipe.in_flight() > 0);
        drop(pipe);
        let t = stats.totals();
        assert_eq!(t.entered, N);
        assert_eq!(t.delivered + t.dropped_total(), N);
        assert_eq!(t.delivered, DELIVERED.load(Relaxed));
        assert_eq!(t.in_flight(), 0);
        Ok(())
    }

    /// A packet whose route goes away as it is taken cannot go on: `skb_dst_force` cleared
    /// its route, and the stack would use it without one. It is dropped as `route_gone`, not
    /// accepted, as `__nf_queue` drops it.
    #[test]
    fn a_packet_whose_route_goes_away_is_dropped() -> Result {
        reset_observer();
        let stats = Arc::new(Stats::new(kernel::cpu::nr_cpu_ids() as usize)?, GFP_KERNEL)?;
        let cfg = config(1, Policy::Idle, [Ops(0); 3], 0);
        let pipe = Pipeline::start(&cfg, stats.clone(), false)?;
        let skb = udp_packet(9000, 1, true)?;
        let taken = {
            let _rcu = kernel::sync::rcu::read_lock();
            // SAFETY: `skb` is ours and valid; we are in an RCU read-side section.
            unsafe { sys::vigil_test_skb_set_dying_dst(skb.as_ref().as_ptr()) };
            pipe.inject_for_test(skb, sys::NFPROTO_IPV4 as u8, okfn)
        };
        fsleep(Delta::from_millis(10));
        drop(pipe);
        assert!(taken);
        assert_eq!(DELIVERED.load(Relaxed), 0);
        let t = stats.totals();
        assert_eq!(t.entered, 1);
        assert_eq!(t.dropped[DropReason::RouteGone as usize], 1);
        assert_eq!(stats.held.packets(), 0);
        Ok(())
    }

    /// Stopping past the drain timeout while stage 0 still works: every stage stops before any
    /// queue is emptied, so nothing stage 0 passes on lands in a queue already emptied and is
    /// lost uncounted.
    #[test]
    fn stopping_past_the_timeout_counts_every_packet() -> Result {
        reset_observer();
        let stats = Arc::new(Stats::new(kernel::cpu::nr_cpu_ids() as usize)?, GFP_KERNEL)?;
        // 1 ms a packet at every stage, and held until the stop releases it: the stages still
        // have most of the 3 s of work when the 5 ms timeout ends, however slow injecting is,
        // and however long removing the hooks waits for an RCU grace period.
        let cfg = config(
            3,
            Policy::Idle,
            [Ops::WORK, Ops::WORK, Ops::WORK],
            1_000_000,
        );
        let pipe = Pipeline::start(&cfg, stats.clone(), true)?;
        const N: u64 = 1000;
        let mut taken = 0;
        for seq in 1..=N {
            let skb = udp_packet(9000, seq, true)?;
            taken += u64::from(pipe.inject_for_test(skb, sys::NFPROTO_IPV4 as u8, okfn));
        }
        let held = pipe.in_flight();
        pipe.stop(5);
        let t = stats.totals();
        assert_eq!(taken, N);
        assert!(held > 0);
        assert_eq!(t.entered, N);
        assert!(t.dropped[DropReason::Drain as usize] > 0);
        assert_eq!(t.delivered + t.dropped_total(), N);
        assert_eq!(t.delivered, DELIVERED.load(Relaxed));
        assert_eq!(stats.held.packets(), 0);
        Ok(())
    }

    /// A held pipeline queues what it takes and processes nothing until released; then it
    /// delivers all of it, in order.
    #[test]
    fn a_held_pipeline_waits_for_its_release() -> Result {
        reset_observer();
        let stats = Arc::new(Stats::new(kernel::cpu::nr_cpu_ids() as usize)?, GFP_KERNEL)?;
        let cfg = config(2, Policy::Adaptive, [Ops::PARSE, Ops(0), Ops(0)], 0);
        let pipe = Pipeline::start(&cfg, stats.clone(), true)?;
        const N: u64 = 20;
        let mut taken = 0;
        for seq in 1..=N {
            let skb = udp_packet(9000, seq, true)?;
            taken += u64::from(pipe.inject_for_test(skb, sys::NFPROTO_IPV4 as u8, okfn));
        }
        fsleep(Delta::from_millis(20));
        let before = DELIVERED.load(Relaxed);
        pipe.release();
        wait_delivered(N);
        drop(pipe);
        assert_eq!(taken, N);
        assert_eq!(before, 0);
        assert_eq!(DELIVERED.load(Relaxed), N);
        assert_eq!(OUT_OF_ORDER.load(Relaxed), 0);
        Ok(())
    }
}
