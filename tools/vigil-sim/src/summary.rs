// SPDX-License-Identifier: GPL-2.0

//! The figures a run is judged by: latency percentiles, CPU busy fraction, wake-up rate.

use vigil_core::histogram::{bucket, bucket_high, quantile_bucket, BUCKETS};
use vigil_core::policy::{Policy, Reason};

use crate::model::Outcome;

/// A run's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// The policy.
    pub policy: Policy,
    /// Packets delivered.
    pub delivered: u64,
    /// Exact end-to-end latency percentiles (nearest rank), in ns: p50, p99, p99.9.
    pub p50: u64,
    /// See `p50`.
    pub p99: u64,
    /// See `p50`.
    pub p999: u64,
    /// The histogram of end-to-end latency, as the module keeps it.
    pub histogram: [u64; BUCKETS],
    /// Busy time of the CPUs that host contexts over their time available.
    pub cpu_busy: f64,
    /// Wake-ups per 1000 packets delivered.
    pub wakeups_per_1k: f64,
    /// Reschedules, all reasons.
    pub reschedules: u64,
    /// Reschedules by reason, in [`Reason::ALL`] order.
    pub reschedules_by_reason: [u64; Reason::ALL.len()],
    /// Completions.
    pub completions: u64,
    /// Wake-ups.
    pub wakeups: u64,
    /// The run's duration, first arrival to last delivery.
    pub duration_ns: u64,
}

impl Summary {
    /// Summarises `outcome`.
    pub fn of(outcome: &Outcome) -> Summary {
        let mut latencies: Vec<u64> = outcome
            .deliveries
            .iter()
            .map(|d| d.delivered_ns - d.arrival_ns)
            .collect();
        latencies.sort_unstable();
        let mut histogram = [0u64; BUCKETS];
        for &l in &latencies {
            histogram[bucket(l)] += 1;
        }
        let delivered = latencies.len() as u64;
        let available = outcome.cpus_used as f64 * outcome.duration_ns as f64;
        let busy = (outcome.work_ns + outcome.spin_ns) as f64;
        Summary {
            policy: outcome.policy,
            delivered,
            p50: exact_quantile(&latencies, 500),
            p99: exact_quantile(&latencies, 990),
            p999: exact_quantile(&latencies, 999),
            histogram,
            cpu_busy: if available > 0.0 {
                busy / available
            } else {
                0.0
            },
            wakeups_per_1k: if delivered > 0 {
                outcome.wakeups as f64 * 1000.0 / delivered as f64
            } else {
                0.0
            },
            reschedules: outcome.total_reschedules(),
            reschedules_by_reason: outcome.reschedules,
            completions: outcome.completions,
            wakeups: outcome.wakeups,
            duration_ns: outcome.duration_ns,
        }
    }

    /// The upper bound of the histogram bucket holding the `permille` quantile, as the `vigil`
    /// CLI reports the module's percentiles (0 for no packets).
    pub fn histogram_quantile(&self, permille: u32) -> u64 {
        quantile_bucket(&self.histogram, permille).map_or(0, bucket_high)
    }
}

/// The `permille`/1000 quantile of sorted `values` by nearest rank (the rank rule of
/// `quantile_bucket`); 0 for no values.
pub fn exact_quantile(sorted: &[u64], permille: u32) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let n = sorted.len() as u64;
    let rank = (u64::from(permille.min(1000)) * n).div_ceil(1000).max(1);
    sorted[(rank - 1) as usize]
}
