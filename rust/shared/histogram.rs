// SPDX-License-Identifier: GPL-2.0

//! Log2 latency histograms: bucket maths and percentiles.
//!
//! Pure logic with no kernel dependency: compiled into the module and into the host crate
//! `tools/vigil-core` (the CLI computes percentiles from the module's buckets with it).

/// Buckets of a histogram: bucket 0 holds 0 ns, bucket `b >= 1` holds `[2^(b-1), 2^b)` ns, and
/// the last bucket also holds everything larger.
pub const BUCKETS: usize = 40;

/// The bucket of a latency.
pub fn bucket(ns: u64) -> usize {
    let b = (u64::BITS - ns.leading_zeros()) as usize;
    b.min(BUCKETS - 1)
}

/// The smallest latency that falls in bucket `b`.
pub fn bucket_low(b: usize) -> u64 {
    match b {
        0 => 0,
        _ => 1u64 << (b.min(BUCKETS - 1) - 1),
    }
}

/// The largest latency bucket `b` stands for (its upper bound, shown for percentiles).
pub fn bucket_high(b: usize) -> u64 {
    match b {
        0 => 0,
        b if b >= BUCKETS - 1 => u64::MAX,
        b => (1u64 << b) - 1,
    }
}

/// The bucket holding the `permille`/1000 quantile of `counts`, by the nearest-rank method;
/// `None` for an empty histogram.
pub fn quantile_bucket(counts: &[u64], permille: u32) -> Option<usize> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    // Nearest rank: the smallest rank r with r >= p * total / 1000, at least 1. With
    // total = 1000q + r, that is p*q + ceil(p*r / 1000), without overflow or 128-bit division
    // (which the kernel does not link).
    let p = u64::from(permille.min(1000));
    let rank = (p * (total / 1000) + (p * (total % 1000)).div_ceil(1000)).max(1);
    let mut seen: u64 = 0;
    for (b, &c) in counts.iter().enumerate() {
        seen = seen.saturating_add(c);
        if seen >= rank {
            return Some(b);
        }
    }
    None
}
