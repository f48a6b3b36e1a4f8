// SPDX-License-Identifier: GPL-2.0

//! Host tests of `rust/shared/histogram.rs`.

use vigil_core::histogram::{
    bucket, bucket_high, bucket_low, quantile_bucket, BUCKETS, MAX_BITS, SUB_BITS,
};

/// Values around every power of two and a few more.
fn samples() -> Vec<u64> {
    let mut samples = vec![0, 1, 2, 3, 4, 5, 63, 64, 65, 66, 1023, 1024, 1025, u64::MAX];
    for shift in 0..64 {
        let p = 1u64 << shift;
        samples.extend([p - 1, p, p.saturating_add(1), p + p / 3, p + p / 2 + 7]);
    }
    samples
}

#[test]
fn every_value_lies_within_its_bucket() {
    for ns in samples() {
        let b = bucket(ns);
        assert!(b < BUCKETS);
        assert!(
            bucket_low(b) <= ns && ns <= bucket_high(b),
            "{ns} in bucket {b}: [{}, {}]",
            bucket_low(b),
            bucket_high(b)
        );
    }
    // Every value of the first few thousand, one by one.
    for ns in 0..100_000 {
        let b = bucket(ns);
        assert!(bucket_low(b) <= ns && ns <= bucket_high(b), "{ns}");
    }
}

#[test]
fn buckets_tile_the_line_without_gaps() {
    assert_eq!(bucket_low(0), 0);
    for b in 1..BUCKETS {
        assert!(bucket_low(b) > bucket_low(b - 1), "bucket {b}");
        assert_eq!(bucket_low(b), bucket_high(b - 1) + 1, "bucket {b}");
        // Each bucket is the one of its bounds.
        assert_eq!(bucket(bucket_low(b)), b);
        assert_eq!(bucket(bucket_high(b - 1)), b - 1);
    }
    assert_eq!(bucket_high(BUCKETS - 1), u64::MAX);
}

#[test]
fn the_geometry_is_the_documented_one() {
    assert_eq!(BUCKETS, 960);
    // Exact below 64.
    for ns in 0..64 {
        assert_eq!((bucket(ns), bucket_low(ns as usize)), (ns as usize, ns));
        assert_eq!(bucket_high(ns as usize), ns);
    }
    // 32 buckets per power of two.
    for k in 6..MAX_BITS {
        let first = bucket(1 << k);
        assert_eq!(
            bucket((1 << (k + 1)) - 1),
            first + (1 << SUB_BITS) - 1,
            "2^{k}"
        );
    }
    // The last bucket starts below 2^MAX_BITS and holds everything from there.
    let top = 1u64 << MAX_BITS;
    assert_eq!(bucket(top - 1), BUCKETS - 1);
    assert_eq!(bucket_low(BUCKETS - 1), top - (top >> (SUB_BITS + 1)));
    assert_eq!(bucket(top), BUCKETS - 1);
    assert_eq!(bucket(u64::MAX), BUCKETS - 1);
}

#[test]
fn a_bucket_is_at_most_a_32nd_of_its_lower_bound_wide() {
    // Wider than that, a percentile reported as the bucket's upper bound would be off by more.
    for b in 64..BUCKETS - 1 {
        let (low, high) = (bucket_low(b), bucket_high(b));
        let width = high - low + 1;
        assert!(width * 32 <= low, "bucket {b}: [{low}, {high}]");
    }
}

#[test]
fn quantiles_follow_nearest_rank() {
    let mut counts = [0u64; BUCKETS];
    assert_eq!(quantile_bucket(&counts, 500), None);
    // 90 samples in bucket 3, 9 in bucket 100, 1 in the last bucket.
    counts[3] = 90;
    counts[100] = 9;
    counts[BUCKETS - 1] = 1;
    assert_eq!(quantile_bucket(&counts, 0), Some(3));
    assert_eq!(quantile_bucket(&counts, 500), Some(3));
    assert_eq!(quantile_bucket(&counts, 900), Some(3));
    assert_eq!(quantile_bucket(&counts, 901), Some(100));
    assert_eq!(quantile_bucket(&counts, 990), Some(100));
    assert_eq!(quantile_bucket(&counts, 991), Some(BUCKETS - 1));
    assert_eq!(quantile_bucket(&counts, 999), Some(BUCKETS - 1));
    assert_eq!(quantile_bucket(&counts, 1000), Some(BUCKETS - 1));
}

/// The exact nearest-rank quantile of sorted `values`.
fn exact(values: &[u64], permille: u32) -> u64 {
    let rank = (permille as usize * values.len()).div_ceil(1000).max(1);
    values[rank - 1]
}

#[test]
fn quantiles_match_a_sorted_sample() {
    let mut rng = 88172645463325252u64;
    let mut values = Vec::new();
    let mut counts = [0u64; BUCKETS];
    for _ in 0..5000 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let v = rng % 1_000_000;
        values.push(v);
        counts[bucket(v)] += 1;
    }
    values.sort_unstable();
    for permille in [1, 100, 500, 900, 990, 999, 1000] {
        assert_eq!(
            quantile_bucket(&counts, permille),
            Some(bucket(exact(&values, permille))),
            "{permille}"
        );
    }
}

#[test]
fn reported_percentiles_are_within_three_percent() {
    // 1..=100000 ns, and the same spread over microseconds to a second.
    for scale in [1, 1000, 10_000] {
        let values: Vec<u64> = (1..=100_000).map(|v| v * scale).collect();
        let mut counts = vec![0u64; BUCKETS];
        for &v in &values {
            counts[bucket(v)] += 1;
        }
        for permille in 1..=1000 {
            let exact = exact(&values, permille);
            let reported = bucket_high(quantile_bucket(&counts, permille).unwrap());
            assert!(reported >= exact, "{scale} {permille}");
            // Within 3.2%: reported * 1000 <= exact * 1032.
            assert!(
                reported * 1000 <= exact * 1032,
                "{scale} p{permille}: {reported} for {exact}"
            );
        }
    }
}
