// SPDX-License-Identifier: GPL-2.0

//! Percentiles: exact ones from the sorted latencies, and the module's histogram.

use vigil_core::histogram::{bucket_high, bucket_low, quantile_bucket};
use vigil_sim::report::{self, Row};
use vigil_sim::summary::exact_quantile;
use vigil_sim::{run, Config, Policy, Profile, Summary};

#[test]
fn exact_quantiles_use_the_nearest_rank() {
    let v: Vec<u64> = (1..=1000).collect();
    assert_eq!(exact_quantile(&v, 500), 500);
    assert_eq!(exact_quantile(&v, 990), 990);
    assert_eq!(exact_quantile(&v, 999), 999);
    assert_eq!(exact_quantile(&v, 1000), 1000);
    assert_eq!(exact_quantile(&v, 0), 1);
    assert_eq!(exact_quantile(&[7, 9], 500), 7);
    assert_eq!(exact_quantile(&[7, 9], 501), 9);
    assert_eq!(exact_quantile(&[], 500), 0);
}

#[test]
fn the_histogram_agrees_with_the_exact_percentiles() {
    let config = Config::new(2, 3, 6);
    let arrivals = Profile::Poisson(500_000).arrivals(5_000, 3).unwrap();
    for policy in Policy::ALL {
        let s = Summary::of(&run(&config, policy, &arrivals).unwrap());
        assert_eq!(s.histogram.iter().sum::<u64>(), s.delivered);
        assert_eq!(s.delivered, 5_000);
        assert!(s.p50 <= s.p99 && s.p99 <= s.p999);
        for (permille, exact) in [(500, s.p50), (990, s.p99), (999, s.p999)] {
            let b = quantile_bucket(&s.histogram, permille).unwrap();
            assert!(
                bucket_low(b) <= exact && exact <= bucket_high(b),
                "{policy:?} {permille}: {exact} not in bucket {b}"
            );
            assert_eq!(s.histogram_quantile(permille), bucket_high(b));
        }
        assert!(
            s.cpu_busy > 0.0 && s.cpu_busy <= 1.0,
            "{policy:?} {}",
            s.cpu_busy
        );
        assert_eq!(
            s.wakeups_per_1k,
            s.wakeups as f64 * 1000.0 / s.delivered as f64
        );
    }
}

#[test]
fn the_json_report_counts_reschedules_by_every_reason() {
    let config = Config::new(1, 3, 3);
    let profile = Profile::Bursts {
        burst: 32,
        gap_ns: 2_000_000,
        spacing_ns: 5_000,
    };
    let arrivals = profile.arrivals(320, 1).unwrap();
    let s = Summary::of(&run(&config, Policy::Adaptive, &arrivals).unwrap());
    let [ahead, backlog, window, active] = s.reschedules_by_reason;
    // Packets 5 us apart keep the stages polling on the head between them.
    assert!(active > 0 && ahead > 0, "{s:?}");
    assert_eq!(ahead + backlog + window + active, s.reschedules);
    let json = report::json(&[Row::new(&config, s)]).unwrap();
    let expected = format!(
        "\"reschedules_by_reason\": {{\"head_ahead\": {ahead}, \"upstream_backlog\": {backlog}, \
         \"window\": {window}, \"head_active\": {active}}}"
    );
    assert!(json.contains(&expected), "{json}");
}
