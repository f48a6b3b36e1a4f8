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

/// `stage-stats-get`: a message per pipeline, stage and CPU that ran, in that order.
fn stage_stats(pipelines: &Pipelines, dump: &mut Dump<'_>) -> Result {
    let Some((_, _, first)) = pipelines.first() else {
        return Ok(());
    };
    let nr_cpus = first.nr_cpus();
    let per = MAX_STAGES * nr_cpus;
    dump.rows(pipelines.len() * per, |dump, row| {
        let (name, _, stats) = &pipelines[row / per];
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

/// `latency-get`: a message per pipeline and stage that handled packets, its buckets summed
/// over CPUs.
fn latency(pipelines: &Pipelines, dump: &mut Dump<'_>) -> Result {
    dump.rows(pipelines.len() * MAX_STAGES, |dump, row| {
        let (name, _, stats) = &pipelines[row / MAX_STAGES];
        let stage = row % MAX_STAGES;
        let mut counts = [0u64; BUCKETS];
        for s in stats.stage_on_every_cpu(stage) {
            for (sum, b) in counts.iter_mut().zip(&s.latency) {
                *sum += b.load(Relaxed);
            }
        }
        if counts.iter().all(|&n| n == 0) {
            return Ok(());
        }
        let mut m = dump.message(sys::VIGIL_CMD_LATENCY_GET)?;
        m.put_u32(sys::VIGIL_A_LATENCY_STAGE, stage as u32)?;
        for n in counts {
            m.put_uint(sys::VIGIL_A_LATENCY_BUCKET, n)?;
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
        stats.stage(1, 1).latency[7].store(5, Relaxed);
        let mut rows = 0;
        dump_for_test(&*control, DumpOp::Lanes, 4096, |buf| {
            messages(buf, |_, lane, entered| {
                assert_eq!((lane, entered), (3, 2));
                rows += 1;
                Ok(())
            })
        })?;
        // The latency message: stage, then the first bucket.
        dump_for_test(&*control, DumpOp::Latency, 4096, |buf| {
            messages(buf, |_, stage, bucket0| {
                assert_eq!((stage, bucket0), (1, 0));
                rows += 1;
                Ok(())
            })
        })?;
        assert_eq!(rows, 2);
        Ok(())
    }
}
