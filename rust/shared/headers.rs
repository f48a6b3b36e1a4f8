// SPDX-License-Identifier: GPL-2.0

//! IP and transport header checks, on bytes copied from a packet.
//!
//! Pure logic with no kernel dependency: compiled into the module and into the host crate
//! `tools/vigil-core`, where cargo tests it.

/// The bytes to copy from the start of a packet to check its headers: the largest IPv4 header
/// (60) or the fixed IPv6 header (40), plus a TCP header without options (20).
pub const PEEK_LEN: usize = 80;

/// What the checks found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L4 {
    /// The transport protocol (IPv6: the first next header).
    pub proto: u8,
    /// The destination port, for UDP and TCP.
    pub dport: Option<u16>,
}

/// Why a packet failed the checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderError {
    /// Fewer bytes than the headers need.
    Truncated,
    /// The version field does not match the family.
    Version,
    /// A length field disagrees with the packet.
    Length,
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// The destination port of a UDP or TCP header at `at`, checking that the header is there.
fn ports(peek: &[u8], at: usize, proto: u8, l4_len: usize) -> Result<Option<u16>, HeaderError> {
    let need = match proto {
        17 => 8,
        6 => 20,
        _ => return Ok(None),
    };
    if l4_len < need {
        return Err(HeaderError::Length);
    }
    be16(peek, at + 2).map(Some).ok_or(HeaderError::Truncated)
}

/// Checks an IPv4 packet of `len` bytes whose first bytes are `peek`. A GSO packet (`gso`) may
/// be larger than a length field holds: BIG TCP sends it with a total length of 0, which then
/// means `len`, as the kernel's `iph_totlen()` reads it.
pub fn check_ipv4(peek: &[u8], len: usize, gso: bool) -> Result<L4, HeaderError> {
    let first = *peek.first().ok_or(HeaderError::Truncated)?;
    if first >> 4 != 4 {
        return Err(HeaderError::Version);
    }
    let ihl = usize::from(first & 0xf) * 4;
    let total = match usize::from(be16(peek, 2).ok_or(HeaderError::Truncated)?) {
        0 if gso => len,
        total => total,
    };
    if ihl < 20 || total < ihl || total > len {
        return Err(HeaderError::Length);
    }
    let proto = *peek.get(9).ok_or(HeaderError::Truncated)?;
    // Only the first fragment carries the transport header.
    let frag_offset = be16(peek, 6).ok_or(HeaderError::Truncated)? & 0x1fff;
    let dport = if frag_offset == 0 {
        ports(peek, ihl, proto, total - ihl)?
    } else {
        None
    };
    Ok(L4 { proto, dport })
}

/// Checks an IPv6 packet of `len` bytes whose first bytes are `peek`. Extension headers are not
/// followed: the protocol is the first next header. A GSO packet (`gso`) with a payload
/// length of 0 is a BIG TCP one: its payload is the rest of the packet, as the kernel's
/// `ipv6_payload_len()` reads it.
pub fn check_ipv6(peek: &[u8], len: usize, gso: bool) -> Result<L4, HeaderError> {
    let first = *peek.first().ok_or(HeaderError::Truncated)?;
    if first >> 4 != 6 {
        return Err(HeaderError::Version);
    }
    let payload = match usize::from(be16(peek, 4).ok_or(HeaderError::Truncated)?) {
        0 if gso => len.saturating_sub(40),
        payload => payload,
    };
    if 40 + payload > len {
        return Err(HeaderError::Length);
    }
    let proto = *peek.get(6).ok_or(HeaderError::Truncated)?;
    let dport = ports(peek, 40, proto, payload)?;
    Ok(L4 { proto, dport })
}
