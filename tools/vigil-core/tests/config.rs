// SPDX-License-Identifier: GPL-2.0

//! Host tests of `rust/shared/config.rs` and `rust/shared/ops.rs`: the values sysfs accepts
//! for filters, CPU lists, stage operations, the hook point and the rule table, how they are
//! shown, and how rules apply.

use vigil_core::config::{CpuList, HookPoint, NetnsScope, MAX_CPUS, MAX_RULES};
use vigil_core::ops::{Action, Match, Ops, Rule, Rules, Verdict, IPPROTO_TCP, IPPROTO_UDP};
use vigil_core::parse::ParseError;

/// A small deterministic PRNG (xorshift64), so that generated cases are the same on every run.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A value in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn udp(lo: u16, hi: u16) -> Match {
    Match::Port {
        proto: IPPROTO_UDP,
        lo,
        hi,
    }
}

fn tcp(lo: u16, hi: u16) -> Match {
    Match::Port {
        proto: IPPROTO_TCP,
        lo,
        hi,
    }
}

/// `text` with the newline `echo` adds.
fn with_newline(text: &str) -> Vec<u8> {
    let mut v = text.as_bytes().to_vec();
    v.push(b'\n');
    v
}

/// A random port match: either protocol, a single port or a range, biased toward the edges.
fn random_match(rng: &mut Rng) -> Match {
    if rng.below(8) == 0 {
        return Match::All;
    }
    let proto = if rng.below(2) == 0 {
        IPPROTO_UDP
    } else {
        IPPROTO_TCP
    };
    let port = |rng: &mut Rng| -> u16 {
        match rng.below(6) {
            0 => 0,
            1 => 65535,
            2 => rng.below(10) as u16,
            _ => rng.below(65536) as u16,
        }
    };
    let a = port(rng);
    let b = if rng.below(3) == 0 { a } else { port(rng) };
    Match::Port {
        proto,
        lo: a.min(b),
        hi: a.max(b),
    }
}

// ---------------------------------------------------------------------------------------------
// Match
// ---------------------------------------------------------------------------------------------

#[test]
fn match_parses_the_documented_forms_with_and_without_a_newline() {
    let cases = [
        ("all", Match::All),
        ("udp dport 9000", udp(9000, 9000)),
        ("tcp dport 80-81", tcp(80, 81)),
        ("udp dport 0", udp(0, 0)),
        ("udp dport 65535", udp(65535, 65535)),
        ("tcp dport 0-65535", tcp(0, 65535)),
        ("tcp dport 80-80", tcp(80, 80)),
        ("udp dport 007", udp(7, 7)),
    ];
    for (text, expected) in cases {
        assert_eq!(Match::parse(text.as_bytes()), Ok(expected), "{text:?}");
        assert_eq!(
            Match::parse(&with_newline(text)),
            Ok(expected),
            "{text:?} + newline"
        );
    }
}

#[test]
fn match_collapses_repeated_spaces_between_words() {
    assert_eq!(Match::parse(b"udp  dport   9000"), Ok(udp(9000, 9000)));
    assert_eq!(Match::parse(b" all "), Ok(Match::All));
}

#[test]
fn match_rejects_malformed_filters() {
    use ParseError::{Invalid, OutOfRange};
    let cases: &[(&[u8], ParseError)] = &[
        (b"", Invalid),
        (b"\n", Invalid),
        (b"udp", Invalid),
        (b"udp dport", Invalid),
        (b"udp dport\n", Invalid),
        (b"udp dport 9100-9000", OutOfRange),
        (b"udp dport 70000", OutOfRange),
        (b"udp dport 65536", OutOfRange),
        (b"tcp dport 80-65536", OutOfRange),
        (b"udp dport 99999999999999999999999", OutOfRange),
        (b"icmp dport 1", Invalid),
        (b"UDP dport 1", Invalid),
        (b"udp sport 1", Invalid),
        (b"udp 1", Invalid),
        (b"all x", Invalid),
        (b"all\n\n", Invalid),
        (b"udp dport 80-81 x", Invalid),
        (b"udp dport 80 81", Invalid),
        (b"udp dport -1", Invalid),
        (b"udp dport 1-", Invalid),
        (b"udp dport 1-2-3", Invalid),
        (b"udp dport +1", Invalid),
        (b"udp dport x", Invalid),
        (b"udp\tdport 1", Invalid),
        (b"all;", Invalid),
        (b"dport 1", Invalid),
    ];
    for &(input, err) in cases {
        assert_eq!(
            Match::parse(input),
            Err(err),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn match_displays_canonically() {
    assert_eq!(Match::All.to_string(), "all");
    assert_eq!(udp(9000, 9000).to_string(), "udp dport 9000");
    assert_eq!(tcp(80, 81).to_string(), "tcp dport 80-81");
    assert_eq!(tcp(0, 65535).to_string(), "tcp dport 0-65535");
    assert_eq!(udp(0, 0).to_string(), "udp dport 0");
    // A range written as `LO-LO` shows as the single port.
    assert_eq!(
        Match::parse(b"tcp dport 443-443").unwrap().to_string(),
        "tcp dport 443"
    );
}

#[test]
fn match_display_round_trips_for_generated_matches() {
    let mut rng = Rng::new(0x5eed_0001);
    let mut singles = 0;
    let mut ranges = 0;
    for _ in 0..5000 {
        let m = random_match(&mut rng);
        match m {
            Match::Port { lo, hi, .. } if lo == hi => singles += 1,
            Match::Port { .. } => ranges += 1,
            Match::All => {}
        }
        let shown = m.to_string();
        assert_eq!(Match::parse(shown.as_bytes()), Ok(m), "{shown:?}");
        assert_eq!(Match::parse(&with_newline(&shown)), Ok(m), "{shown:?}");
    }
    assert!(singles > 100 && ranges > 100);
}

#[test]
fn match_all_matches_every_packet() {
    for proto in [0, 1, IPPROTO_TCP, IPPROTO_UDP, 255] {
        for dport in [None, Some(0), Some(53), Some(65535)] {
            assert!(Match::All.matches(proto, dport), "{proto} {dport:?}");
        }
    }
}

#[test]
fn match_port_needs_the_same_protocol_and_a_port_in_the_inclusive_range() {
    let m = udp(9000, 9100);
    assert!(m.matches(IPPROTO_UDP, Some(9000)));
    assert!(m.matches(IPPROTO_UDP, Some(9050)));
    assert!(m.matches(IPPROTO_UDP, Some(9100)));
    assert!(!m.matches(IPPROTO_UDP, Some(8999)));
    assert!(!m.matches(IPPROTO_UDP, Some(9101)));
    assert!(!m.matches(IPPROTO_TCP, Some(9000)));
    assert!(!m.matches(1, Some(9000)));
    assert!(!m.matches(IPPROTO_UDP, None));

    let single = tcp(80, 80);
    assert!(single.matches(IPPROTO_TCP, Some(80)));
    assert!(!single.matches(IPPROTO_TCP, Some(79)));
    assert!(!single.matches(IPPROTO_TCP, Some(81)));
    assert!(!single.matches(IPPROTO_UDP, Some(80)));
    assert!(!single.matches(IPPROTO_TCP, None));

    let full = tcp(0, 65535);
    assert!(full.matches(IPPROTO_TCP, Some(0)));
    assert!(full.matches(IPPROTO_TCP, Some(65535)));
    assert!(!full.matches(IPPROTO_TCP, None));
    assert!(!full.matches(IPPROTO_UDP, Some(0)));
}

#[test]
fn match_port_agrees_with_the_range_at_its_edges_for_generated_matches() {
    let mut rng = Rng::new(0x5eed_0002);
    for _ in 0..2000 {
        let m = random_match(&mut rng);
        let Match::Port { proto, lo, hi } = m else {
            continue;
        };
        let other = if proto == IPPROTO_UDP {
            IPPROTO_TCP
        } else {
            IPPROTO_UDP
        };
        assert!(m.matches(proto, Some(lo)), "{m}");
        assert!(m.matches(proto, Some(hi)), "{m}");
        assert!(!m.matches(other, Some(lo)), "{m}");
        assert!(!m.matches(proto, None), "{m}");
        if let Some(below) = lo.checked_sub(1) {
            assert!(!m.matches(proto, Some(below)), "{m}");
        }
        if let Some(above) = hi.checked_add(1) {
            assert!(!m.matches(proto, Some(above)), "{m}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// CpuList
// ---------------------------------------------------------------------------------------------

#[test]
fn cpulist_parses_cpus_ranges_and_lists() {
    let cases: &[(&[u8], u32, u64)] = &[
        (b"0", 4, 0b1),
        (b"0-3", 4, 0b1111),
        (b"0,2-3", 4, 0b1101),
        (b"1\n", 4, 0b10),
        (b"3", 4, 0b1000),
        (b"2-2", 4, 0b100),
        (b"1,1", 4, 0b10),
        (b"0-2,1-3", 4, 0b1111),
        (b"3,0", 4, 0b1001),
        (b"63", 64, 1 << 63),
        (b"0-63", 64, u64::MAX),
        (b"0-63\n", 64, u64::MAX),
        (b"5,7,9-11", 16, 0b1110_1010_0000),
        // nr_cpus above MAX_CPUS is clamped, not an error.
        (b"63", 1000, 1 << 63),
    ];
    for &(input, nr_cpus, mask) in cases {
        assert_eq!(
            CpuList::parse(input, nr_cpus),
            Ok(CpuList(mask)),
            "{:?} nr_cpus {nr_cpus}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn cpulist_rejects_malformed_and_out_of_range_lists() {
    use ParseError::{Invalid, OutOfRange};
    let cases: &[(&[u8], u32, ParseError)] = &[
        (b"", 4, Invalid),
        (b"\n", 4, Invalid),
        (b"3-1", 4, OutOfRange),
        (b"4", 4, OutOfRange),
        (b"0-4", 4, OutOfRange),
        (b"0,4", 4, OutOfRange),
        (b"0", 0, OutOfRange),
        (b"64", 64, OutOfRange),
        (b"64", 1000, OutOfRange),
        (b"99999999999999999999999", 64, OutOfRange),
        (b",", 4, Invalid),
        (b"0,", 4, Invalid),
        (b",0", 4, Invalid),
        (b"0,,1", 4, Invalid),
        (b"a", 4, Invalid),
        (b"0-", 4, Invalid),
        (b"-1", 4, Invalid),
        (b"0-1-2", 4, Invalid),
        (b" 0", 4, Invalid),
        (b"0 ,1", 4, Invalid),
        (b"0\n\n\n", 4, Invalid),
    ];
    for &(input, nr_cpus, err) in cases {
        assert_eq!(
            CpuList::parse(input, nr_cpus),
            Err(err),
            "{:?} nr_cpus {nr_cpus}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn cpulist_accepts_exactly_the_cpus_below_nr_cpus() {
    for nr_cpus in 0..=MAX_CPUS + 2 {
        for cpu in 0..MAX_CPUS + 2 {
            let got = CpuList::parse(cpu.to_string().as_bytes(), nr_cpus);
            if cpu < nr_cpus.min(MAX_CPUS) {
                assert_eq!(got, Ok(CpuList(1 << cpu)), "cpu {cpu} nr_cpus {nr_cpus}");
            } else {
                assert_eq!(
                    got,
                    Err(ParseError::OutOfRange),
                    "cpu {cpu} nr_cpus {nr_cpus}"
                );
            }
        }
    }
}

#[test]
fn cpulist_len_and_is_empty() {
    assert_eq!(CpuList(0).len(), 0);
    assert!(CpuList(0).is_empty());
    assert_eq!(CpuList(0b1011).len(), 3);
    assert!(!CpuList(0b1011).is_empty());
    assert_eq!(CpuList(1 << 63).len(), 1);
    assert!(!CpuList(1 << 63).is_empty());
    assert_eq!(CpuList(u64::MAX).len(), 64);
    assert_eq!(CpuList::default(), CpuList(0));
}

#[test]
fn cpulist_nth_wrapping_walks_the_cpus_in_order_and_wraps() {
    let list = CpuList(0b1011); // CPUs 0, 1, 3.
    let expected = [0, 1, 3, 0, 1, 3, 0];
    for (n, &cpu) in expected.iter().enumerate() {
        assert_eq!(list.nth_wrapping(n), Some(cpu), "n {n}");
    }
    // usize::MAX is a multiple of 3 on 64- and 32-bit targets.
    assert_eq!(list.nth_wrapping(usize::MAX), Some(0));

    let high = CpuList((1 << 63) | (1 << 5));
    assert_eq!(high.nth_wrapping(0), Some(5));
    assert_eq!(high.nth_wrapping(1), Some(63));
    assert_eq!(high.nth_wrapping(2), Some(5));

    assert_eq!(CpuList(1 << 7).nth_wrapping(0), Some(7));
    assert_eq!(CpuList(1 << 7).nth_wrapping(12345), Some(7));

    assert_eq!(CpuList(0).nth_wrapping(0), None);
    assert_eq!(CpuList(0).nth_wrapping(5), None);
    assert_eq!(CpuList(0).nth_wrapping(usize::MAX), None);
}

/// A random non-empty mask, sometimes sparse, sometimes dense, sometimes a single CPU.
fn random_mask(rng: &mut Rng) -> u64 {
    loop {
        let mask = match rng.below(5) {
            0 => 1 << rng.below(64),
            1 => rng.next() & rng.next() & rng.next(),
            2 => rng.next() | rng.next(),
            3 => {
                let lo = rng.below(64);
                let hi = lo + rng.below(64 - lo);
                (u64::MAX >> (63 - hi)) & (u64::MAX << lo)
            }
            _ => rng.next(),
        };
        if mask != 0 {
            return mask;
        }
    }
}

#[test]
fn cpulist_nth_wrapping_agrees_with_the_set_bits_for_random_masks() {
    let mut rng = Rng::new(0x5eed_0003);
    for _ in 0..1000 {
        let list = CpuList(random_mask(&mut rng));
        let cpus: Vec<u32> = (0..64).filter(|&c| list.0 >> c & 1 == 1).collect();
        assert_eq!(list.len(), cpus.len());
        for n in 0..cpus.len() * 2 + 1 {
            assert_eq!(
                list.nth_wrapping(n),
                Some(cpus[n % cpus.len()]),
                "mask {:#x} n {n}",
                list.0
            );
        }
    }
}

#[test]
fn cpulist_displays_compactly() {
    let cases = [
        (0b1011, "0-1,3"),
        (0b1, "0"),
        (0b1111, "0-3"),
        (0b10101, "0,2,4"),
        (0b1101, "0,2-3"),
        (0b110, "1-2"),
        (1 << 63, "63"),
        ((1 << 63) | (1 << 62) | 1, "0,62-63"),
        (u64::MAX, "0-63"),
        (u64::MAX - 1, "1-63"),
        (u64::MAX >> 1, "0-62"),
        (0, ""),
    ];
    for (mask, text) in cases {
        assert_eq!(CpuList(mask).to_string(), text, "mask {mask:#b}");
    }
}

/// Checks that `text` is a compact cpulist: ascending, ranges only for two or more CPUs, and
/// no two pieces that could have been merged.
fn assert_compact(text: &str) {
    let mut prev_end: Option<u64> = None;
    for piece in text.split(',') {
        let (lo, hi) = match piece.split_once('-') {
            Some((lo, hi)) => {
                let (lo, hi) = (lo.parse::<u64>().unwrap(), hi.parse::<u64>().unwrap());
                assert!(lo < hi, "{text:?}: range {piece:?} should be a single CPU");
                (lo, hi)
            }
            None => {
                let cpu = piece.parse::<u64>().unwrap();
                (cpu, cpu)
            }
        };
        assert_eq!(lo.to_string().len(), piece.split('-').next().unwrap().len());
        if let Some(end) = prev_end {
            assert!(
                lo > end + 1,
                "{text:?}: {piece:?} is not separated by a gap"
            );
        }
        prev_end = Some(hi);
    }
}

#[test]
fn cpulist_display_round_trips_and_is_compact_for_random_masks() {
    let mut rng = Rng::new(0x5eed_0004);
    for _ in 0..5000 {
        let mask = random_mask(&mut rng);
        let shown = CpuList(mask).to_string();
        assert_compact(&shown);
        assert_eq!(
            CpuList::parse(shown.as_bytes(), MAX_CPUS),
            Ok(CpuList(mask)),
            "{shown:?}"
        );
        assert_eq!(
            CpuList::parse(&with_newline(&shown), MAX_CPUS),
            Ok(CpuList(mask)),
            "{shown:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Ops
// ---------------------------------------------------------------------------------------------

#[test]
fn ops_parses_none_and_lists_of_operations() {
    let cases: &[(&[u8], u8)] = &[
        (b"none", 0),
        (b"none\n", 0),
        (b"parse", 1),
        (b"rules", 2),
        (b"work\n", 4),
        (b"parse,rules,work", 7),
        (b"parse,rules,work\n", 7),
        (b"work,parse", 5),
        (b"rules,parse", 3),
        (b"work,rules,parse", 7),
    ];
    for &(input, bits) in cases {
        assert_eq!(
            Ops::parse(input),
            Ok(Ops(bits)),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
    assert_eq!(Ops::PARSE, Ops(1));
    assert_eq!(Ops::RULES, Ops(2));
    assert_eq!(Ops::WORK, Ops(4));
}

#[test]
fn ops_parse_is_order_insensitive() {
    let names = ["parse", "rules", "work"];
    let perms = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    for p in perms {
        let text = p.map(|i| names[i]).join(",");
        assert_eq!(Ops::parse(text.as_bytes()), Ok(Ops(7)), "{text:?}");
        let two = format!("{},{}", names[p[0]], names[p[1]]);
        let bits = (1 << p[0]) | (1 << p[1]);
        assert_eq!(Ops::parse(two.as_bytes()), Ok(Ops(bits)), "{two:?}");
    }
}

#[test]
fn ops_rejects_malformed_lists() {
    let cases: &[&[u8]] = &[
        b"",
        b"\n",
        b"parse,",
        b",parse",
        b"parse,,rules",
        b"bogus",
        b"parse rules",
        b"parse, rules",
        b" parse",
        b"Parse",
        b"none,parse",
        b"parse,none",
        b"nothing",
        b"parse\n\n",
        b"parse;rules",
    ];
    for &input in cases {
        assert_eq!(
            Ops::parse(input),
            Err(ParseError::Invalid),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn ops_displays_in_canonical_order() {
    assert_eq!(Ops(0).to_string(), "none");
    assert_eq!(Ops(1).to_string(), "parse");
    assert_eq!(Ops(2).to_string(), "rules");
    assert_eq!(Ops(4).to_string(), "work");
    assert_eq!(Ops(3).to_string(), "parse,rules");
    assert_eq!(Ops(5).to_string(), "parse,work");
    assert_eq!(Ops(6).to_string(), "rules,work");
    assert_eq!(Ops(7).to_string(), "parse,rules,work");
    assert_eq!(
        Ops::parse(b"work,rules,parse").unwrap().to_string(),
        "parse,rules,work"
    );
    assert_eq!(Ops::parse(b"work,parse").unwrap().to_string(), "parse,work");
}

#[test]
fn ops_round_trips_for_all_combinations() {
    for bits in 0..8u8 {
        let ops = Ops(bits);
        let shown = ops.to_string();
        assert_eq!(Ops::parse(shown.as_bytes()), Ok(ops), "{shown:?}");
        assert_eq!(Ops::parse(&with_newline(&shown)), Ok(ops), "{shown:?}");
    }
}

#[test]
fn ops_contains_checks_every_bit_of_the_argument() {
    for a in 0..8u8 {
        for b in 0..8u8 {
            assert_eq!(Ops(a).contains(Ops(b)), a & b == b, "{a:#b} {b:#b}");
        }
    }
    assert!(Ops(7).contains(Ops::RULES));
    assert!(!Ops(5).contains(Ops::RULES));
    assert!(Ops(0).contains(Ops(0)));
}

// ---------------------------------------------------------------------------------------------
// HookPoint
// ---------------------------------------------------------------------------------------------

#[test]
fn hook_point_parses_its_names_and_round_trips() {
    assert_eq!(HookPoint::parse(b"prerouting"), Ok(HookPoint::PreRouting));
    assert_eq!(HookPoint::parse(b"local_in"), Ok(HookPoint::LocalIn));
    assert_eq!(HookPoint::parse(b"prerouting\n"), Ok(HookPoint::PreRouting));
    assert_eq!(HookPoint::parse(b"local_in\n"), Ok(HookPoint::LocalIn));
    assert_eq!(HookPoint::PreRouting.name(), "prerouting");
    assert_eq!(HookPoint::LocalIn.name(), "local_in");
    for hook in [HookPoint::PreRouting, HookPoint::LocalIn] {
        assert_eq!(HookPoint::parse(hook.name().as_bytes()), Ok(hook));
        assert_eq!(HookPoint::parse(&with_newline(hook.name())), Ok(hook));
    }
}

#[test]
fn hook_point_rejects_other_names() {
    let cases: &[&[u8]] = &[
        b"",
        b"\n",
        b"PREROUTING",
        b"pre_routing",
        b"local-in",
        b"localin",
        b"local_out",
        b"forward",
        b" prerouting",
        b"prerouting ",
        b"prerouting\n\n",
        b"local_in,prerouting",
    ];
    for &input in cases {
        assert_eq!(
            HookPoint::parse(input),
            Err(ParseError::Invalid),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------------------------

const PASS: Verdict = Verdict {
    drop: false,
    mark: None,
};

const DROP: Verdict = Verdict {
    drop: true,
    mark: None,
};

fn rules(text: &str) -> Rules {
    Rules::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{text:?}: {e:?}"))
}

#[test]
fn rules_empty_input_is_an_empty_table_that_passes_everything() {
    for text in ["", "\n", ";", ";;\n;", "  ; \n  "] {
        let table = rules(text);
        assert_eq!(table.iter().count(), 0, "{text:?}");
        assert_eq!(table, Rules::default(), "{text:?}");
        for proto in [IPPROTO_UDP, IPPROTO_TCP, 1] {
            for dport in [None, Some(0), Some(9000)] {
                assert_eq!(table.apply(proto, dport), PASS, "{text:?}");
            }
        }
    }
}

#[test]
fn rules_drop_only_the_matching_packets() {
    for text in ["udp dport 9000 drop", "udp dport 9000 drop\n"] {
        let table = rules(text);
        assert_eq!(
            table.iter().copied().collect::<Vec<_>>(),
            [Rule {
                matcher: udp(9000, 9000),
                action: Action::Drop
            }]
        );
        assert_eq!(table.apply(IPPROTO_UDP, Some(9000)), DROP);
        assert_eq!(table.apply(IPPROTO_UDP, Some(8999)), PASS);
        assert_eq!(table.apply(IPPROTO_UDP, Some(9001)), PASS);
        assert_eq!(table.apply(IPPROTO_TCP, Some(9000)), PASS);
        assert_eq!(table.apply(IPPROTO_UDP, None), PASS);
        assert_eq!(table.apply(1, None), PASS);
    }
}

#[test]
fn rules_first_accept_stops_evaluation() {
    let table = rules("udp dport 9000 accept; all drop");
    assert_eq!(table.apply(IPPROTO_UDP, Some(9000)), PASS);
    assert_eq!(table.apply(IPPROTO_UDP, Some(9001)), DROP);
    assert_eq!(table.apply(IPPROTO_TCP, Some(9000)), DROP);
    assert_eq!(table.apply(1, None), DROP);

    // The same rules the other way round: the drop comes first and wins.
    let table = rules("all drop; udp dport 9000 accept");
    assert_eq!(table.apply(IPPROTO_UDP, Some(9000)), DROP);

    // An accept also stops later marks.
    let table = rules("all mark 1; all accept; all mark 2; all drop");
    assert_eq!(
        table.apply(IPPROTO_TCP, Some(80)),
        Verdict {
            drop: false,
            mark: Some(1)
        }
    );
}

#[test]
fn rules_mark_then_drop_keeps_the_mark() {
    let table = rules("all mark 7; udp dport 53 drop");
    assert_eq!(
        table.apply(IPPROTO_UDP, Some(53)),
        Verdict {
            drop: true,
            mark: Some(7)
        }
    );
    assert_eq!(
        table.apply(IPPROTO_TCP, Some(53)),
        Verdict {
            drop: false,
            mark: Some(7)
        }
    );
}

#[test]
fn rules_marks_apply_in_order_and_only_when_matching() {
    let table = rules("all mark 1\nall mark 2");
    assert_eq!(
        table.apply(IPPROTO_UDP, Some(1)),
        Verdict {
            drop: false,
            mark: Some(2)
        }
    );

    let table = rules("tcp dport 80 mark 10; udp dport 80 mark 20");
    assert_eq!(
        table.apply(IPPROTO_TCP, Some(80)),
        Verdict {
            drop: false,
            mark: Some(10)
        }
    );
    assert_eq!(
        table.apply(IPPROTO_UDP, Some(80)),
        Verdict {
            drop: false,
            mark: Some(20)
        }
    );
    assert_eq!(table.apply(IPPROTO_UDP, Some(81)), PASS);

    // A drop ends evaluation: a later mark is not applied.
    let table = rules("all drop; all mark 3");
    assert_eq!(table.apply(IPPROTO_UDP, Some(1)), DROP);

    // Mark 0 is a mark, not the absence of one.
    let table = rules("all mark 0");
    assert_eq!(
        table.apply(IPPROTO_UDP, Some(1)),
        Verdict {
            drop: false,
            mark: Some(0)
        }
    );
}

#[test]
fn rules_are_separated_by_semicolons_and_newlines() {
    let table =
        rules("udp dport 1 drop;tcp dport 2-3 mark 5\nall accept ;\n\n all  mark 4294967295\n");
    assert_eq!(
        table.iter().copied().collect::<Vec<_>>(),
        [
            Rule {
                matcher: udp(1, 1),
                action: Action::Drop
            },
            Rule {
                matcher: tcp(2, 3),
                action: Action::Mark(5)
            },
            Rule {
                matcher: Match::All,
                action: Action::Accept
            },
            Rule {
                matcher: Match::All,
                action: Action::Mark(u32::MAX)
            },
        ]
    );
    assert_eq!(table.apply(IPPROTO_UDP, Some(1)), DROP);
    assert_eq!(
        table.apply(IPPROTO_TCP, Some(3)),
        Verdict {
            drop: false,
            mark: Some(5)
        }
    );
    assert_eq!(table.apply(IPPROTO_TCP, Some(4)), PASS);
}

#[test]
fn rules_hold_at_most_max_rules() {
    let full: Vec<String> = (0..MAX_RULES)
        .map(|i| format!("udp dport {i} mark {i}"))
        .collect();
    let table = rules(&full.join(";"));
    assert_eq!(table.iter().count(), MAX_RULES);
    // The last rule is in the table and applies.
    let last = (MAX_RULES - 1) as u16;
    assert_eq!(
        table.apply(IPPROTO_UDP, Some(last)),
        Verdict {
            drop: false,
            mark: Some(u32::from(last))
        }
    );
    // Empty lines do not count.
    let table = rules(&format!("\n;{};\n\n", full.join(";\n;")));
    assert_eq!(table.iter().count(), MAX_RULES);

    let mut over = full.clone();
    over.push("all drop".to_string());
    assert_eq!(
        Rules::parse(over.join("\n").as_bytes()),
        Err(ParseError::OutOfRange)
    );
    let many: Vec<&str> = vec!["all accept"; 3 * MAX_RULES];
    assert_eq!(
        Rules::parse(many.join(";").as_bytes()),
        Err(ParseError::OutOfRange)
    );
}

#[test]
fn rules_reject_malformed_rules() {
    use ParseError::{Invalid, OutOfRange};
    let cases: &[(&[u8], ParseError)] = &[
        (b"udp dport 9000", Invalid),
        (b"all", Invalid),
        (b"all frobnicate", Invalid),
        (b"all mark", Invalid),
        (b"all mark x", Invalid),
        (b"all mark -1", Invalid),
        (b"all mark 4294967296", OutOfRange),
        (b"all drop extra", Invalid),
        (b"all mark 1 2", Invalid),
        (b"all accept drop", Invalid),
        (b"drop", Invalid),
        (b"udp drop", Invalid),
        (b"udp dport drop", Invalid),
        (b"udp dport 9100-9000 drop", OutOfRange),
        (b"udp dport 70000 drop", OutOfRange),
        (b"icmp dport 1 drop", Invalid),
        (b"all\tdrop", Invalid),
        (b"all DROP", Invalid),
        (b"all drop,all accept", Invalid),
        // One bad rule rejects the whole table.
        (b"all accept; udp drop", Invalid),
        (b"all accept\nall mark x\nall drop", Invalid),
    ];
    for &(input, err) in cases {
        assert_eq!(
            Rules::parse(input),
            Err(err),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn rule_displays_its_match_and_action() {
    let cases = [
        (
            Rule {
                matcher: udp(9000, 9000),
                action: Action::Drop,
            },
            "udp dport 9000 drop",
        ),
        (
            Rule {
                matcher: tcp(80, 81),
                action: Action::Accept,
            },
            "tcp dport 80-81 accept",
        ),
        (
            Rule {
                matcher: Match::All,
                action: Action::Mark(42),
            },
            "all mark 42",
        ),
        (
            Rule {
                matcher: Match::All,
                action: Action::Mark(u32::MAX),
            },
            "all mark 4294967295",
        ),
    ];
    for (rule, text) in cases {
        assert_eq!(rule.to_string(), text);
        let table = rules(text);
        assert_eq!(table.iter().copied().collect::<Vec<_>>(), [rule]);
    }
}

fn random_rule(rng: &mut Rng) -> Rule {
    let matcher = random_match(rng);
    let action = match rng.below(3) {
        0 => Action::Accept,
        1 => Action::Drop,
        _ => Action::Mark(match rng.below(4) {
            0 => 0,
            1 => u32::MAX,
            _ => rng.next() as u32,
        }),
    };
    Rule { matcher, action }
}

/// The verdict the documentation describes: rules in order, skipping those that do not match;
/// `mark` records a mark and goes on, `accept` stops, `drop` stops and drops.
fn model_apply(table: &[Rule], proto: u8, dport: Option<u16>) -> Verdict {
    let mut mark = None;
    for rule in table {
        let hit = match rule.matcher {
            Match::All => true,
            Match::Port { proto: p, lo, hi } => {
                p == proto && matches!(dport, Some(d) if lo <= d && d <= hi)
            }
        };
        if hit {
            match rule.action {
                Action::Accept => return Verdict { drop: false, mark },
                Action::Drop => return Verdict { drop: true, mark },
                Action::Mark(m) => mark = Some(m),
            }
        }
    }
    Verdict { drop: false, mark }
}

#[test]
fn rules_round_trip_and_apply_like_the_model_for_random_tables() {
    let mut rng = Rng::new(0x5eed_0005);
    for _ in 0..1000 {
        let n = rng.below(MAX_RULES as u64 + 1) as usize;
        let table: Vec<Rule> = (0..n).map(|_| random_rule(&mut rng)).collect();
        let mut text = String::new();
        for rule in &table {
            text.push_str(&rule.to_string());
            text.push_str(match rng.below(3) {
                0 => ";",
                1 => "\n",
                _ => " ; ",
            });
        }
        let parsed = rules(&text);
        assert_eq!(
            parsed.iter().copied().collect::<Vec<_>>(),
            table,
            "{text:?}"
        );

        // Probe packets at the edges of every rule's range, and a few others.
        let mut probes = vec![(1, None), (IPPROTO_UDP, None), (IPPROTO_TCP, Some(0))];
        for rule in &table {
            if let Match::Port { proto, lo, hi } = rule.matcher {
                for port in [lo.wrapping_sub(1), lo, hi, hi.wrapping_add(1)] {
                    probes.push((proto, Some(port)));
                }
            }
        }
        for (proto, dport) in probes {
            assert_eq!(
                parsed.apply(proto, dport),
                model_apply(&table, proto, dport),
                "{text:?} proto {proto} dport {dport:?}"
            );
        }
    }
}

/// One value per write: a second newline, or a newline inside a number, is refused.
#[test]
fn embedded_newlines_are_refused() {
    use vigil_core::config::CpuList;
    use vigil_core::ops::Match;
    assert!(Match::parse(b"udp dport 9000\n\n").is_err());
    assert!(Match::parse(b"udp dport 80\n-81").is_err());
    assert!(CpuList::parse(b"1\n\n", 4).is_err());
    assert!(CpuList::parse(b"0\n,2\n-3", 4).is_err());
    assert_eq!(CpuList::parse(b"1\n", 4), Ok(CpuList(2)));
}

// ---------------------------------------------------------------------------------------------
// NetnsScope
// ---------------------------------------------------------------------------------------------

#[test]
fn netns_scope_parses_its_names_and_rejects_others() {
    for scope in [NetnsScope::Init, NetnsScope::All] {
        assert_eq!(NetnsScope::parse(scope.name().as_bytes()), Ok(scope));
        assert_eq!(NetnsScope::parse(&with_newline(scope.name())), Ok(scope));
    }
    assert_eq!(NetnsScope::Init.name(), "init");
    assert_eq!(NetnsScope::All.name(), "all");
    let cases: &[&[u8]] = &[
        b"",
        b"\n",
        b"INIT",
        b"host",
        b"all\n\n",
        b" all",
        b"init all",
    ];
    for case in cases {
        assert_eq!(
            NetnsScope::parse(case),
            Err(ParseError::Invalid),
            "{case:?}"
        );
    }
}
