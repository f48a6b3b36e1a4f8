// SPDX-License-Identifier: GPL-2.0

//! Traffic profiles, text traces and pcap timestamps.

use vigil_sim::trace::{parse_pcap, parse_text};
use vigil_sim::Profile;

#[test]
fn profiles_parse_and_bad_ones_are_refused() {
    assert_eq!(Profile::parse("steady:1000"), Ok(Profile::Steady(1000)));
    assert_eq!(Profile::parse("poisson:5"), Ok(Profile::Poisson(5)));
    assert_eq!(
        Profile::parse("bursts:32:200000"),
        Ok(Profile::Bursts {
            burst: 32,
            gap_ns: 200_000,
            spacing_ns: 0
        })
    );
    assert_eq!(
        Profile::parse("bursts:4:1000:10"),
        Ok(Profile::Bursts {
            burst: 4,
            gap_ns: 1000,
            spacing_ns: 10
        })
    );
    assert_eq!(
        Profile::parse("trace:/tmp/a:b"),
        Ok(Profile::Trace("/tmp/a:b".into()))
    );
    assert_eq!(
        Profile::parse("pcap:x.pcap"),
        Ok(Profile::Pcap("x.pcap".into()))
    );
    assert_eq!(
        Profile::parse("ramp:1000:100000:2000"),
        Ok(Profile::Ramp {
            low: 1000,
            high: 100_000,
            phase_ns: 2_000_000_000
        })
    );
    for bad in [
        "",
        "steady",
        "steady:",
        "steady:0",
        "steady:-1",
        "poisson:1.5",
        "bursts:32",
        "bursts:0:100",
        "bursts:4:100:1:1",
        "bursts:4:100:40",
        "trace:",
        "flood:1",
        "ramp:1000:100000",
        "ramp:0:100:10",
        "ramp:10:100:0",
        "ramp:10:100:10:10",
        "ramp:10:100:18446744073709551615",
    ] {
        assert!(Profile::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn generated_profiles_arrive_when_they_should() {
    let steady = Profile::Steady(3).arrivals(4, 0).unwrap();
    assert_eq!(steady, vec![0, 333_333_333, 666_666_666, 1_000_000_000]);
    let bursts = Profile::parse("bursts:3:1000:10").unwrap();
    assert_eq!(
        bursts.arrivals(7, 0).unwrap(),
        vec![0, 10, 20, 1000, 1010, 1020, 2000]
    );
    let poisson = Profile::Poisson(1_000_000).arrivals(100_000, 9).unwrap();
    assert!(poisson.windows(2).all(|w| w[0] <= w[1]));
    // Mean gap 1000 ns: 100000 packets take about 100 ms.
    let span = *poisson.last().unwrap() as f64;
    assert!((span / 1e8 - 1.0).abs() < 0.02, "{span}");
}

#[test]
fn a_ramp_goes_from_low_to_high_and_back_in_five_phases() {
    let phase_ns = 1_000_000_000;
    let ramp = Profile::Ramp {
        low: 1_000,
        high: 9_000,
        phase_ns,
    };
    let times = ramp.arrivals(usize::MAX, 0).unwrap();
    assert!(times.windows(2).all(|w| w[0] < w[1]));
    assert!(*times.last().unwrap() < 5 * phase_ns);
    let in_phase = |p: u64| times.iter().filter(|&&t| t / phase_ns == p).count() as f64;
    // Low, rising (mean 5000), high, falling, low: packets per second within 1 %.
    for (phase, rate) in [
        (0, 1_000.0),
        (1, 5_000.0),
        (2, 9_000.0),
        (3, 5_000.0),
        (4, 1_000.0),
    ] {
        let n = in_phase(phase);
        assert!((n / rate - 1.0).abs() < 0.01, "phase {phase}: {n}");
    }
    // The rise is linear: its first half, 1000 to 5000 pps in 0.5 s, carries 1500 packets.
    let first_half = times
        .iter()
        .filter(|&&t| (phase_ns..phase_ns + phase_ns / 2).contains(&t))
        .count() as f64;
    assert!((first_half / 1_500.0 - 1.0).abs() < 0.01, "{first_half}");
    assert_eq!(ramp.arrivals(10, 0).unwrap().len(), 10);
}

#[test]
fn text_traces_skip_comments_and_name_bad_lines() {
    let text = "# a trace\n1000\n\n  1500  # trailing comment\n1500\n#1600\n9000\n";
    assert_eq!(parse_text(text), Ok(vec![0, 500, 500, 8000]));
    let err = parse_text("100\n200\n2x0\n").unwrap_err();
    assert!(err.contains("line 3") && err.contains("2x0"), "{err}");
    let err = parse_text("100\n-5\n").unwrap_err();
    assert!(err.contains("line 2"), "{err}");
    let err = parse_text("100\n50\n").unwrap_err();
    assert!(err.contains("line 2") && err.contains("backwards"), "{err}");
    assert!(parse_text("# nothing\n\n").is_err());
}

#[test]
fn a_trace_file_is_a_profile() {
    let path = std::env::temp_dir().join(format!("vigil-sim-trace-{}", std::process::id()));
    std::fs::write(&path, "# ns\n100\n150\n400\n").unwrap();
    let profile = Profile::parse(&format!("trace:{}", path.display())).unwrap();
    let all = profile.arrivals(usize::MAX, 0);
    let two = profile.arrivals(2, 0);
    std::fs::write(&path, "100\nbad\n").unwrap();
    let bad = profile.arrivals(10, 0);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(all, Ok(vec![0, 50, 300]));
    assert_eq!(two, Ok(vec![0, 50]));
    assert!(bad.unwrap_err().contains("line 2"));
    assert!(Profile::Trace("/nonexistent/vigil-sim".into())
        .arrivals(1, 0)
        .is_err());
}

/// A classic pcap file with packets at `times` (seconds, fraction), `len` bytes each.
fn pcap(magic: u32, big_endian: bool, times: &[(u32, u32)], len: u32) -> Vec<u8> {
    let word = |v: u32| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut out = Vec::new();
    out.extend(word(magic));
    out.extend(if big_endian {
        [0, 2, 0, 4]
    } else {
        [2, 0, 4, 0]
    });
    for v in [0, 0, 65535, 1] {
        out.extend(word(v));
    }
    for &(sec, frac) in times {
        for v in [sec, frac, len, len] {
            out.extend(word(v));
        }
        out.extend(std::iter::repeat_n(0xab, len as usize));
    }
    out
}

#[test]
fn pcap_timestamps_in_both_orders_and_resolutions() {
    let times = [(10, 5), (10, 7), (11, 0)];
    let usec = Ok(vec![0, 2_000, 999_995_000]);
    let nsec = Ok(vec![0, 2, 999_999_995]);
    assert_eq!(parse_pcap(&pcap(0xa1b2_c3d4, false, &times, 60)), usec);
    assert_eq!(parse_pcap(&pcap(0xa1b2_c3d4, true, &times, 3)), usec);
    assert_eq!(parse_pcap(&pcap(0xa1b2_3c4d, false, &times, 0)), nsec);
    assert_eq!(parse_pcap(&pcap(0xa1b2_3c4d, true, &times, 1514)), nsec);

    let good = pcap(0xa1b2_c3d4, false, &times, 60);
    assert!(
        parse_pcap(&good[..good.len() - 1]).is_err(),
        "truncated data"
    );
    assert!(parse_pcap(&good[..24 + 8]).is_err(), "truncated header");
    assert!(parse_pcap(&good[..24]).is_err(), "no packets");
    assert!(parse_pcap(&good[..10]).is_err(), "no file header");
    assert!(
        parse_pcap(&pcap(0x0a0d_0d0a, false, &times, 60)).is_err(),
        "pcapng"
    );
    let backwards = pcap(0xa1b2_c3d4, false, &[(10, 5), (9, 0)], 60);
    assert!(parse_pcap(&backwards).is_err());
}
