// SPDX-License-Identifier: GPL-2.0

//! Host tests of `rust/headers.rs`: the checks the `parse` operation and the filter make.

use vigil_core::headers::{check_ipv4, check_ipv6, HeaderError, L4, PEEK_LEN};

fn ipv4(proto: u8, ihl_words: u8, total: u16, frag: u16, l4: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; usize::from(ihl_words) * 4];
    p[0] = 0x40 | ihl_words;
    p[2..4].copy_from_slice(&total.to_be_bytes());
    p[6..8].copy_from_slice(&frag.to_be_bytes());
    p[9] = proto;
    p.extend_from_slice(l4);
    p
}

fn udp(dport: u16) -> Vec<u8> {
    let mut h = vec![0u8; 8];
    h[2..4].copy_from_slice(&dport.to_be_bytes());
    h
}

#[test]
fn ipv4_udp_and_tcp_give_their_port() {
    let p = ipv4(17, 5, 28, 0, &udp(9000));
    assert_eq!(
        check_ipv4(&p, 28, false),
        Ok(L4 {
            proto: 17,
            dport: Some(9000)
        })
    );
    let mut tcp = vec![0u8; 20];
    tcp[2..4].copy_from_slice(&80u16.to_be_bytes());
    let p = ipv4(6, 5, 40, 0, &tcp);
    assert_eq!(
        check_ipv4(&p, 40, false),
        Ok(L4 {
            proto: 6,
            dport: Some(80)
        })
    );
    // With IP options (ihl 6) the transport header moves.
    let p = ipv4(17, 6, 32, 0, &udp(53));
    assert_eq!(
        check_ipv4(&p, 32, false),
        Ok(L4 {
            proto: 17,
            dport: Some(53)
        })
    );
    // ICMP has no port; later fragments carry no transport header.
    assert_eq!(
        check_ipv4(&ipv4(1, 5, 28, 0, &[0; 8]), 28, false),
        Ok(L4 {
            proto: 1,
            dport: None
        })
    );
    assert_eq!(
        check_ipv4(&ipv4(17, 5, 28, 0x0010, &[0; 8]), 28, false),
        Ok(L4 {
            proto: 17,
            dport: None
        })
    );
}

#[test]
fn ipv4_rejects_what_does_not_add_up() {
    assert_eq!(check_ipv4(&[], 0, false), Err(HeaderError::Truncated));
    let mut v6 = ipv4(17, 5, 28, 0, &udp(1));
    v6[0] = 0x65;
    assert_eq!(check_ipv4(&v6, 28, false), Err(HeaderError::Version));
    // ihl below 5, total below ihl, total beyond the packet.
    assert_eq!(
        check_ipv4(&ipv4(17, 4, 28, 0, &udp(1)), 28, false),
        Err(HeaderError::Length)
    );
    assert_eq!(
        check_ipv4(&ipv4(17, 5, 12, 0, &udp(1)), 28, false),
        Err(HeaderError::Length)
    );
    assert_eq!(
        check_ipv4(&ipv4(17, 5, 200, 0, &udp(1)), 28, false),
        Err(HeaderError::Length)
    );
    // UDP needs 8 bytes, TCP 20.
    assert_eq!(
        check_ipv4(&ipv4(17, 5, 24, 0, &udp(1)), 28, false),
        Err(HeaderError::Length)
    );
    assert_eq!(
        check_ipv4(&ipv4(6, 5, 30, 0, &[0; 10]), 30, false),
        Err(HeaderError::Length)
    );
    // Cut short by the peek.
    let p = ipv4(17, 5, 28, 0, &udp(1));
    assert_eq!(check_ipv4(&p[..21], 28, false), Err(HeaderError::Truncated));
}

fn ipv6(next: u8, payload: u16, l4: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 40];
    p[0] = 0x60;
    p[4..6].copy_from_slice(&payload.to_be_bytes());
    p[6] = next;
    p.extend_from_slice(l4);
    p
}

#[test]
fn ipv6_checks_payload_length_and_port() {
    assert_eq!(
        check_ipv6(&ipv6(17, 8, &udp(9001)), 48, false),
        Ok(L4 {
            proto: 17,
            dport: Some(9001)
        })
    );
    assert_eq!(
        check_ipv6(&ipv6(58, 8, &[0; 8]), 48, false),
        Ok(L4 {
            proto: 58,
            dport: None
        })
    );
    assert_eq!(
        check_ipv6(&ipv6(17, 100, &udp(1)), 48, false),
        Err(HeaderError::Length)
    );
    assert_eq!(
        check_ipv6(&ipv6(17, 4, &udp(1)), 48, false),
        Err(HeaderError::Length)
    );
    let mut v4 = ipv6(17, 8, &udp(1));
    v4[0] = 0x45;
    assert_eq!(check_ipv6(&v4, 48, false), Err(HeaderError::Version));
    assert_eq!(
        check_ipv6(&[0x60; 5], 48, false),
        Err(HeaderError::Truncated)
    );
}

#[test]
fn peek_covers_the_largest_headers_checked() {
    // A 60-byte IPv4 header plus a 20-byte TCP header fit in the peek.
    let mut tcp = vec![0u8; 20];
    tcp[2..4].copy_from_slice(&443u16.to_be_bytes());
    let p = ipv4(6, 15, 80, 0, &tcp);
    assert_eq!(p.len(), PEEK_LEN);
    assert_eq!(
        check_ipv4(&p, 80, false),
        Ok(L4 {
            proto: 6,
            dport: Some(443)
        })
    );
}

/// No input, however malformed, panics.
#[test]
fn arbitrary_bytes_never_panic() {
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..20_000 {
        let mut buf = [0u8; PEEK_LEN];
        for b in buf.iter_mut() {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            *b = rng as u8;
        }
        let n = (rng % (PEEK_LEN as u64 + 1)) as usize;
        let len = (rng >> 8) as usize % 2000;
        let gso = rng & 1 == 1;
        let _ = check_ipv4(&buf[..n], len, gso);
        let _ = check_ipv6(&buf[..n], len, gso);
    }
}

/// BIG TCP: a GSO packet past 64 KiB carries a zero length field, which then means the whole
/// packet (the kernel's `iph_totlen()` and `ipv6_payload_len()`). Without GSO, zero is wrong.
#[test]
fn big_tcp_gso_packets_with_zero_length_pass() {
    let mut tcp = vec![0u8; 20];
    tcp[2..4].copy_from_slice(&5201u16.to_be_bytes());
    let v4 = ipv4(6, 5, 0, 0, &tcp);
    let big = 150_000;
    let want = Ok(L4 {
        proto: 6,
        dport: Some(5201),
    });
    assert_eq!(check_ipv4(&v4, big, true), want);
    assert_eq!(check_ipv4(&v4, big, false), Err(HeaderError::Length));
    let v6 = ipv6(6, 0, &tcp);
    assert_eq!(check_ipv6(&v6, big, true), want);
    assert_eq!(check_ipv6(&v6, big, false), Err(HeaderError::Length));
    // A GSO packet with a real length is read by it, as before.
    assert_eq!(
        check_ipv4(&ipv4(6, 5, 200, 0, &tcp), 100, true),
        Err(HeaderError::Length)
    );
}
