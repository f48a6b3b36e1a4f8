// SPDX-License-Identifier: GPL-2.0

//! The generic netlink family `vigil` (`Documentation/netlink/specs/vigil.yaml`): what each
//! operation reports. The statistics tables are dumps, one message per row, so that no table
//! is bounded by a page as a sysfs file is.

use crate::{
    config::{Config, MAX_STAGES},
    control::Control,
    genetlink::{Dump, DumpOp, Family, Msg, Request},
    histogram::BUCKETS,
    pipelines::{Name, MAX_NAME_LEN},
    policy::Reason,
    stats::{Stats, MAX_LANES},
    sys,
};
use core::num::NonZeroUsize;
use kernel::{
    prelude::*,
    sync::{atomic::Relaxed, Arc},
};

/// Each pipeline's name, configuration and counters, in order: what one dump call reports.
type Pipelines = KVec<(Name, Config, Arc<Stats>)>;

impl Family for Control {
    fn dump(&self, op: DumpOp, dump: &mut Dump<'_>) -> Result {
        let pipelines = self.snapshot()?;
        match op {
            DumpOp::StageStats => stage_stats(&pipelines, dump),
            DumpOp::Latency => latency(&pipelines, dump),
            DumpOp::Lanes => lanes(&pipelines, dump),
            DumpOp::Config => dump.rows(pipelines.len(), |dump, row| {
                let (name, cfg, _) = &pipelines[row];
                let mut m = dump.message(sys::VIGIL_CMD_CONFIG_GET)?;
                config(name, cfg, &mut m)?;
                m.finish();
                Ok(())
            }),
        }
    }

    fn config(&self, req: &Request<'_>, reply: &mut Msg<'_>) -> Result {
        let mut buf = [0u8; MAX_NAME_LEN + 1];
        let name = match req.str(sys::VIGIL_A_CONFIG_PIPELINE, &mut buf)? {
            Some(text) => Name::parse(text).map_err(|_| EINVAL)?,
            None => Name::default_pipeline(),
        };
        let cfg = self.config(&name).map_err(|_| ENOENT)?;
        config(&name, &cfg, reply)
    }
}

/// [`MAX_STAGES`], which is not zero, as a divisor.
const STAGES: NonZeroUsize = match NonZeroUsize::new(MAX_STAGES) {
    Some(n) => n,
    None => NonZeroUsize::MIN,
};

/// `stage-stats-get`: a message per pipeline, stage and CPU that ran, in that order.
fn stage_stats(pipelines: &Pipelines, dump: &mut Dump<'_>) -> Result {
    let Some((_, _, first)) = pipelines.first() else {
        return Ok(());
    };
    // Non-zero divisors: no division-by-zero path in the module.
    let Some(nr_cpus) = NonZeroUsize::new(first.nr_cpus()) else {
        return Ok(());
    };
    let per = nr_cpus.saturating_mul(STAGES);
    let rows = pipelines.len().checked_mul(per.get()).ok_or(EOVERFLOW)?;
    dump.rows(rows, |dump, row| {
        let (name, _, stats) = pipelines.get(row / per).ok_or(EINVAL)?;
        let (stage, cpu) = ((row % per) / nr_cpus, (row % nr_cpus) as u32);
        let s = stats.stage(stage, cpu);
        if s.is_idle() {
            return Ok(());
        }
        let mut m = dump.message(sys::VIGIL_CMD_STAGE_STATS_GET)?;
        m.put_u32(sys::VIGIL_A_STAGE_STATS_STAGE, stage as u32)?;
        m.put_u32(sys::VIGIL_A_STAGE_STATS_CPU, cpu)?;
        let counters = [
            (sys::VIGIL_A_STAGE_STATS_PACKETS, &s.packets),
            (sys::VIGIL_A_STAGE_STATS_POLLS, &s.polls),
            (sys::VIGIL_A_STAGE_STATS_EMPTY_POLLS, &s.empty_polls),
            (sys::VIGIL_A_STAGE_STATS_EMPTY_POLL_NS, &s.empty_poll_ns),
        ];
        for (attr, v) in counters {
            m.put_uint(attr, v.load(Relaxed))?;
        }
        for reason in Reason::ALL {
            let attr = match reason {
                Reason::HeadAhead => sys::VIGIL_A_STAGE_STATS_RESCHED_HEAD_AHEAD,
                Reason::UpstreamBacklog => sys::VIGIL_A_STAGE_STATS_RESCHED_UPSTREAM_BACKLOG,
                Reason::Window => sys::VIGIL_A_STAGE_STATS_RESCHED_WINDOW,
                Reason::HeadActive => sys::VIGIL_A_STAGE_STATS_RESCHED_HEAD_ACTIVE,
            };
            m.put_uint(attr, s.reschedules[reason.index()].load(Relaxed))?;
        }
        let counters = [
            (sys::VIGIL_A_STAGE_STATS_COMPLETIONS, &s.completions),
            (sys::VIGIL_A_STAGE_STATS_WAKEUPS_SENT, &s.wakeups_sent),
            (
                sys::VIGIL_A_STAGE_STATS_WAKEUPS_RECEIVED,
                &s.wakeups_received,
            ),
        ];
        for (attr, v) in counters {
            m.put_uint(attr, v.load(Relaxed))?;
        }
        m.put_fmt(sys::VIGIL_A_STAGE_STATS_PIPELINE, format_args!("{name}"))?;
        m.finish();
        Ok(())
    })
}

/// Buckets a `latency-get` message covers: at 24 bytes a bucket, even a message with all of
/// them fits in a page, the least a dump buffer holds.
const BUCKETS_PER_MESSAGE: usize = 64;

/// `latency-get`: a message per pipeline, stage and range of [`BUCKETS_PER_MESSAGE`] buckets
/// with a count, holding those buckets that are not empty, summed over CPUs.
fn latency(pipelines: &Pipelines, dump: &mut Dump<'_>) -> Result {
    const _: () = assert!(BUCKETS % BUCKETS_PER_MESSAGE == 0);
    let ranges = BUCKETS / BUCKETS_PER_MESSAGE;
    let per = MAX_STAGES * ranges;
    dump.rows(pipelines.len() * per, |dump, row| {
        let (name, _, stats) = &pipelines[row / per];
        let (stage, first) = ((row % per) / ranges, (row % ranges) * BUCKETS_PER_MESSAGE);
        let mut counts = [0u64; BUCKETS_PER_MESSAGE];
        for (i, n) in counts.iter_mut().enumerate() {
            *n = stats.latency_count(stage, first + i);
        }
        if counts.iter().all(|&n| n == 0) {
            return Ok(());
        }
        let mut m = dump.message(sys::VIGIL_CMD_LATENCY_GET)?;
        m.put_u32(sys::VIGIL_A_LATENCY_STAGE, stage as u32)?;
        for (i, &n) in counts.iter().enumerate().filter(|(_, &n)| n != 0) {
            m.nest(sys::VIGIL_A_LATENCY_BUCKET, |m| {
                m.put_u32(sys::VIGIL_A_BUCKET_INDEX, (first + i) as u32)?;
                m.put_uint(sys::VIGIL_A_BUCKET_COUNT, n)
            })?;
        }
        m.put_fmt(sys::VIGIL_A_LATENCY_PIPELINE, format_args!("{name}"))?;
        m.finish();
        Ok(())
    })
}

/// `lane-get`: a message per pipeline and lane that carried packets.
fn lanes(pipelines: &Pipelines, dump: &mut Dump<'_>) -> Result {
    dump.rows(pipelines.len() * MAX_LANES, |dump, row| {
        let (name, _, stats) = &pipelines[row / MAX_LANES];
        let lane = row % MAX_LANES;
        let s = stats.lane(lane).snapshot();
        if s.entered == 0 {
            return Ok(());
        }
        let mut m = dump.message(sys::VIGIL_CMD_LANE_GET)?;
        m.put_u32(sys::VIGIL_A_LANE_LANE, lane as u32)?;
        m.put_uint(sys::VIGIL_A_LANE_ENTERED, s.entered)?;
        m.put_uint(sys::VIGIL_A_LANE_DELIVERED, s.delivered)?;
        m.put_uint(sys::VIGIL_A_LANE_DROPPED, s.dropped_total())?;
        m.put_uint(sys::VIGIL_A_LANE_IN_FLIGHT, s.in_flight())?;
        m.put_fmt(sys::VIGIL_A_LANE_PIPELINE, format_args!("{name}"))?;
        m.finish();
        Ok(())
    })
}

/// `config-get`: pipeline `name`'s settings (the global ones included), as the sysfs files
/// show them.
fn config(name: &Name, cfg: &Config, m: &mut Msg<'_>) -> Result {
    let p = &cfg.pipeline;
    m.put_u8(sys::VIGIL_A_CONFIG_ENABLED, u8::from(cfg.enabled))?;
    m.put_fmt(
        sys::VIGIL_A_CONFIG_POLICY,
        format_args!("{}", p.params.policy.name()),
    )?;
    m.put_u32(sys::VIGIL_A_CONFIG_STAGES, p.stages as u32)?;
    m.put_uint(sys::VIGIL_A_CONFIG_POLL_WINDOW_NS, p.params.window_ns)?;
    m.put_u32(
        sys::VIGIL_A_CONFIG_BACKLOG_THRESHOLD,
        p.params.backlog_threshold,
    )?;
    m.put_uint(sys::VIGIL_A_CONFIG_BURST_GAP_NS, p.params.burst_gap_ns)?;
    m.put_u32(sys::VIGIL_A_CONFIG_QUEUE_LEN, p.queue_len)?;
    m.put_fmt(sys::VIGIL_A_CONFIG_HOOK, format_args!("{}", p.hook.name()))?;
    m.put_fmt(sys::VIGIL_A_CONFIG_MATCH, format_args!("{}", p.matcher))?;
    for rule in p.rules.iter() {
        m.put_fmt(sys::VIGIL_A_CONFIG_RULE, format_args!("{rule}"))?;
    }
    m.put_fmt(
        sys::VIGIL_A_CONFIG_NETNS,
        format_args!("{}", p.netns.name()),
    )?;
    m.put_uint(sys::VIGIL_A_CONFIG_NETNS_QUOTA, p.netns_quota)?;
    m.put_uint(sys::VIGIL_A_CONFIG_MAX_HELD_PACKETS, p.max_held_packets)?;
    m.put_uint(sys::VIGIL_A_CONFIG_MAX_HELD_BYTES, p.max_held_bytes)?;
    for (index, stage) in p.stage.iter().enumerate() {
        m.nest(sys::VIGIL_A_CONFIG_STAGE, |m| {
            m.put_u32(sys::VIGIL_A_STAGE_CONFIG_INDEX, index as u32)?;
            m.put_fmt(
                sys::VIGIL_A_STAGE_CONFIG_CPUS,
                format_args!("{}", stage.cpus),
            )?;
            m.put_fmt(sys::VIGIL_A_STAGE_CONFIG_OPS, format_args!("{}", stage.ops))?;
            m.put_uint(sys::VIGIL_A_STAGE_CONFIG_WORK_NS, stage.work_ns)
        })?;
    }
    m.put_fmt(sys::VIGIL_A_CONFIG_PIPELINE, format_args!("{name}"))
}

#[kunit_tests(vigil_netlink)]
mod tests {
    use super::*;
    use crate::genetlink::dump_for_test;
    use kernel::sync::Arc;

    /// Netlink message header, generic netlink header, then attributes.
    const HDRS: usize = 16 + 4;

    /// Each message of `buf`: its command and its first two `u32` attributes.
    fn messages(buf: &[u8], mut each: impl FnMut(u8, u32, u32) -> Result) -> Result {
        let u32_at = |b: &[u8], at: usize| -> Result<u32> {
            let bytes = b.get(at..at + 4).ok_or(EINVAL)?;
            Ok(u32::from_ne_bytes(bytes.try_into().map_err(|_| EINVAL)?))
        };
        let mut at = 0;
        while at < buf.len() {
            let len = u32_at(buf, at)? as usize;
            let msg = buf.get(at..at + len).ok_or(EINVAL)?;
            // Attributes: 4 bytes of header each, then a u32 value.
            each(msg[16], u32_at(msg, HDRS + 4)?, u32_at(msg, HDRS + 12)?)?;
            at += len.next_multiple_of(4);
        }
        Ok(())
    }

    /// Each attribute of `attrs`: its type (flags masked off) and payload.
    fn attributes(mut attrs: &[u8], mut each: impl FnMut(u16, &[u8]) -> Result) -> Result {
        while attrs.len() >= 4 {
            let len = usize::from(u16::from_ne_bytes([attrs[0], attrs[1]]));
            let ty = u16::from_ne_bytes([attrs[2], attrs[3]]) & 0x3fff;
            each(ty, attrs.get(4..len).ok_or(EINVAL)?)?;
            attrs = attrs.get(len.next_multiple_of(4)..).unwrap_or_default();
        }
        Ok(())
    }

    /// A `u32` or `uint` payload.
    fn uint(payload: &[u8]) -> Result<u64> {
        match payload.len() {
            4 => Ok(u32::from_ne_bytes(payload.try_into().map_err(|_| EINVAL)?).into()),
            8 => Ok(u64::from_ne_bytes(payload.try_into().map_err(|_| EINVAL)?)),
            _ => Err(EINVAL),
        }
    }

    /// Each bucket of each `latency-get` message of `buf`: stage, index and count.
    fn latency_buckets(buf: &[u8], mut each: impl FnMut(u32, u32, u64) -> Result) -> Result {
        let mut at = 0;
        while at < buf.len() {
            let len = uint(buf.get(at..at + 4).ok_or(EINVAL)?)? as usize;
            let msg = buf.get(at..at + len).ok_or(EINVAL)?;
            assert_eq!(u32::from(msg[16]), sys::VIGIL_CMD_LATENCY_GET);
            let mut stage = None;
            attributes(&msg[HDRS..], |ty, payload| {
                match u32::from(ty) {
                    sys::VIGIL_A_LATENCY_STAGE => stage = Some(uint(payload)? as u32),
                    sys::VIGIL_A_LATENCY_BUCKET => {
                        let (mut index, mut count) = (None, None);
                        attributes(payload, |ty, payload| {
                            match u32::from(ty) {
                                sys::VIGIL_A_BUCKET_INDEX => index = Some(uint(payload)? as u32),
                                sys::VIGIL_A_BUCKET_COUNT => count = Some(uint(payload)?),
                                _ => return Err(EINVAL),
                            }
                            Ok(())
                        })?;
                        let (Some(stage), Some(index), Some(count)) = (stage, index, count) else {
                            return Err(EINVAL);
                        };
                        each(stage, index, count)?;
                    }
                    _ => {}
                }
                Ok(())
            })?;
            at += len.next_multiple_of(4);
        }
        Ok(())
    }

    #[test]
    fn stage_dump_resumes_across_buffers() -> Result {
        let nr_cpus = 4;
        let control = Arc::pin_init(Control::new(nr_cpus as u32)?, GFP_KERNEL)?;
        let stats = control.stats(&Name::default_pipeline())?;
        // Every stage ran on every CPU but CPU 2 of stage 5: 31 rows.
        for stage in 0..MAX_STAGES {
            for cpu in 0..nr_cpus as u32 {
                if (stage, cpu) != (5, 2) {
                    let s = stats.stage(stage, cpu);
                    s.packets
                        .store((stage * 100) as u64 + u64::from(cpu), Relaxed);
                    s.wakeups_received.store(u64::MAX, Relaxed);
                }
            }
        }
        let mut seen = KVec::new();
        // Room for a few rows a buffer: the dump must resume where each stopped.
        let calls = dump_for_test(&*control, DumpOp::StageStats, 600, |buf| {
            messages(buf, |cmd, stage, cpu| {
                assert_eq!(u32::from(cmd), sys::VIGIL_CMD_STAGE_STATS_GET);
                seen.push((stage, cpu), GFP_KERNEL)?;
                Ok(())
            })
        })?;
        assert!(calls > 5);
        assert_eq!(seen.len(), MAX_STAGES * nr_cpus - 1);
        let mut expected = (0..MAX_STAGES as u32)
            .flat_map(|s| (0..nr_cpus as u32).map(move |c| (s, c)))
            .filter(|&r| r != (5, 2));
        for row in seen.iter() {
            assert_eq!(Some(*row), expected.next());
        }
        Ok(())
    }

    #[test]
    fn idle_tables_dump_nothing() -> Result {
        let control = Arc::pin_init(Control::new(2)?, GFP_KERNEL)?;
        for op in [DumpOp::StageStats, DumpOp::Latency, DumpOp::Lanes] {
            let calls = dump_for_test(&*control, op, 600, |buf| {
                assert!(buf.is_empty());
                Ok(())
            })?;
            assert_eq!(calls, 1);
        }
        Ok(())
    }

    #[test]
    fn lanes_and_latency_list_what_ran() -> Result {
        let control = Arc::pin_init(Control::new(2)?, GFP_KERNEL)?;
        let stats = control.stats(&Name::default_pipeline())?;
        stats.lane(3).count_entered();
        stats.lane(3).count_entered();
        stats.lane(3).count_delivered();
        stats.latency(1, 1)[7].store(5, Relaxed);
        let mut rows = 0;
        dump_for_test(&*control, DumpOp::Lanes, 4096, |buf| {
            messages(buf, |_, lane, entered| {
                assert_eq!((lane, entered), (3, 2));
                rows += 1;
                Ok(())
            })
        })?;
        // The latency message: stage 1, its one bucket that is not empty.
        dump_for_test(&*control, DumpOp::Latency, 4096, |buf| {
            latency_buckets(buf, |stage, index, count| {
                assert_eq!((stage, index, count), (1, 7, 5));
                rows += 1;
                Ok(())
            })
        })?;
        assert_eq!(rows, 2);
        Ok(())
    }

    #[test]
    fn latency_dump_sums_cpus_and_resumes_across_buffers() -> Result {
        let control = Arc::pin_init(Control::new(2)?, GFP_KERNEL)?;
        let stats = control.stats(&Name::default_pipeline())?;
        // Stage 2: every bucket, over two CPUs; stage 5: a few, one past 32 bits.
        for b in 0..BUCKETS {
            stats.latency(2, 0)[b].store(b as u64 + 1, Relaxed);
            stats.latency(2, 1)[b].store(1000, Relaxed);
        }
        stats.latency(5, 1)[3].store(1, Relaxed);
        stats.latency(5, 0)[BUCKETS - 1].store(1 << 40, Relaxed);
        stats.record_latency(5, 0, 1 << 40);
        let mut seen = KVec::new();
        // Room for one or two full messages a buffer, of the 17 there are.
        let calls = dump_for_test(&*control, DumpOp::Latency, 2000, |buf| {
            latency_buckets(buf, |stage, index, count| {
                seen.push((stage, index, count), GFP_KERNEL)?;
                Ok(())
            })
        })?;
        assert!(calls > 5);
        let every = (0..BUCKETS as u32).map(|b| (2, b, u64::from(b) + 1001));
        let few = [(5, 3, 1), (5, BUCKETS as u32 - 1, (1 << 40) + 1)];
        let mut expected = Iterator::chain(every, few);
        assert_eq!(seen.len(), BUCKETS + 2);
        for row in seen.iter() {
            assert_eq!(Some(*row), expected.next());
        }
        Ok(())
    }
}
