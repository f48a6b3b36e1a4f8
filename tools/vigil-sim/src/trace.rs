// SPDX-License-Identifier: GPL-2.0

//! Arrival times from files: a text trace, or the timestamps of a classic pcap capture.
//!
//! Both give times in ns relative to the first packet, and refuse times that go backwards.

/// Parses a text trace: one timestamp in ns per line; `#` starts a comment, blank lines are
/// skipped. Errors name the line.
pub fn parse_text(text: &str) -> Result<Vec<u64>, String> {
    let mut times = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let value = line.split('#').next().unwrap_or("").trim();
        if value.is_empty() {
            continue;
        }
        let t = value
            .parse::<u64>()
            .map_err(|_| format!("line {}: bad timestamp '{value}'", i + 1))?;
        if times.last().is_some_and(|&last| t < last) {
            return Err(format!("line {}: timestamp {t} goes backwards", i + 1));
        }
        times.push(t);
    }
    relative(times)
}

/// Parses the packet timestamps of a classic pcap file (either byte order, microsecond or
/// nanosecond resolution); packet contents are skipped.
pub fn parse_pcap(bytes: &[u8]) -> Result<Vec<u64>, String> {
    if bytes.len() < 24 {
        return Err("too short for a pcap header".into());
    }
    let (big_endian, frac_ns) = match u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) {
        0xa1b2_c3d4 => (false, 1_000),
        0xa1b2_3c4d => (false, 1),
        0xd4c3_b2a1 => (true, 1_000),
        0x4d3c_b2a1 => (true, 1),
        m => return Err(format!("not a classic pcap file (magic {m:#010x})")),
    };
    let word = |at: usize| -> Option<u64> {
        let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        Some(u64::from(if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }))
    };
    let mut times = Vec::new();
    let mut at = 24;
    while at < bytes.len() {
        let n = times.len() + 1;
        let (Some(sec), Some(frac), Some(incl)) = (word(at), word(at + 4), word(at + 8)) else {
            return Err(format!("packet {n}: truncated record header"));
        };
        let t = sec * 1_000_000_000 + frac * frac_ns;
        if times.last().is_some_and(|&last| t < last) {
            return Err(format!("packet {n}: timestamp goes backwards"));
        }
        times.push(t);
        at += 16 + incl as usize;
        if at > bytes.len() {
            return Err(format!("packet {n}: truncated data"));
        }
    }
    relative(times)
}

fn relative(mut times: Vec<u64>) -> Result<Vec<u64>, String> {
    let Some(&first) = times.first() else {
        return Err("no timestamps".into());
    };
    for t in &mut times {
        *t -= first;
    }
    Ok(times)
}
