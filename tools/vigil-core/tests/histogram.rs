// SPDX-License-Identifier: GPL-2.0

//! Host tests of `rust/histogram.rs`.

use vigil_core::histogram::{bucket, bucket_high, bucket_low, quantile_bucket, BUCKETS};

#[test]
fn every_value_lies_within_its_bucket() {
    let mut samples = vec![0, 1, 2, 3, 4, 5, 1023, 1024, 1025, u64::MAX];
    for shift in 0..64 {
        let p = 1u64 << shift;
        samples.extend([p - 1, p, p.saturating_add(1)]);
    }
    for ns in samples {
        let b = bucket(ns);
        assert!(b < BUCKETS);
        assert!(
            bucket_low(b) <= ns && ns <= bucket_high(b),
            "{ns} in bucket {b}"
        );
    }
}

#[test]
fn buckets_tile_the_line_without_gaps() {
    for b in 1..BUCKETS {
        assert_eq!(bucket_low(b), bucket_high(b - 1) + 1, "bucket {b}");
    }
    assert_eq!(bucket_high(BUCKETS - 1), u64::MAX);
}

#[test]
fn quantiles_follow_nearest_rank() {
    let mut counts = [0u64; BUCKETS];
    assert_eq!(quantile_bucket(&counts, 500), None);
    // 90 samples in bucket 3, 9 in bucket 10, 1 in bucket 20.
    counts[3] = 90;
    counts[10] = 9;
    counts[20] = 1;
    assert_eq!(quantile_bucket(&counts, 0), Some(3));
    assert_eq!(quantile_bucket(&counts, 500), Some(3));
    assert_eq!(quantile_bucket(&counts, 900), Some(3));
    assert_eq!(quantile_bucket(&counts, 901), Some(10));
    assert_eq!(quantile_bucket(&counts, 990), Some(10));
    assert_eq!(quantile_bucket(&counts, 991), Some(20));
    assert_eq!(quantile_bucket(&counts, 999), Some(20));
    assert_eq!(quantile_bucket(&counts, 1000), Some(20));
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
        let rank = (permille as usize * values.len()).div_ceil(1000).max(1);
        let exact = values[rank - 1];
        assert_eq!(
            quantile_bucket(&counts, permille),
            Some(bucket(exact)),
            "{permille}"
        );
    }
}
