// SPDX-License-Identifier: GPL-2.0

//! Log-linear (HDR-style) latency histograms: bucket maths and percentiles.
//!
//! Values below 2^([`SUB_BITS`] + 1) = 64 ns have a bucket each. Above, every power of two is
//! cut into 2^[`SUB_BITS`] = 32 buckets of equal width, so that a bucket is at most 1/32 as
//! wide as its lower bound. Percentiles are reported as the upper bound of the bucket that
//! holds them ([`bucket_high`]): never below the exact value, and above it by less than 1/32
//! of it (3.125%), exact below 64 ns. Buckets go up to 2^[`MAX_BITS`] ns (about 17 s); the
//! last one also holds everything larger.
//!
//! Pure logic with no kernel dependency, in integers only: compiled into the module and into
//! the host crate `tools/vigil-core` (the CLI computes percentiles from the module's buckets
//! with it).

/// Linear buckets per power of two: 2^`SUB_BITS`.
pub const SUB_BITS: u32 = 5;

/// Buckets cover `[0, 2^MAX_BITS)` ns, the last one everything larger too.
pub const MAX_BITS: u32 = 34;

/// Buckets of a histogram: 64 exact ones, then 32 for each power of two from 2^6 to 2^33.
pub const BUCKETS: usize = ((MAX_BITS - SUB_BITS + 1) as usize) << SUB_BITS;

/// The bucket of a latency.
pub fn bucket(ns: u64) -> usize {
    // The value's top `SUB_BITS + 1` bits pick the bucket: `shift` is how many bits it has
    // below them (0 below 64, where each value is a bucket). With shift > 0, `ns >> shift` is
    // in [32, 64), so 2^k (k >= 6) starts at bucket 32 * (k - 5) + 32, past the 64 exact ones.
    let top_bit = u64::BITS - 1 - (ns | 1).leading_zeros();
    let shift = top_bit.saturating_sub(SUB_BITS);
    let b = ((shift as usize) << SUB_BITS) + (ns >> shift) as usize;
    b.min(BUCKETS - 1)
}

/// The smallest latency that falls in bucket `b` (the inverse of [`bucket`]).
pub fn bucket_low(b: usize) -> u64 {
    let b = b.min(BUCKETS - 1);
    let shift = (b >> SUB_BITS).saturating_sub(1);
    ((b - (shift << SUB_BITS)) as u64) << shift
}

/// The largest latency bucket `b` stands for (its upper bound, shown for percentiles).
pub fn bucket_high(b: usize) -> u64 {
    if b >= BUCKETS - 1 {
        return u64::MAX;
    }
    bucket_low(b + 1) - 1
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
