// SPDX-License-Identifier: GPL-2.0

//! What a stage does to a packet: its operations, the filter that matches packets (the
//! pipeline's `match` and each rule's), and the rule table, parsed, shown and evaluated.
//!
//! Pure logic with no kernel dependency: compiled into the module and into the host crate
//! `tools/vigil-core`, where cargo tests it.

use crate::config::MAX_RULES;
use crate::parse::{parse_digits, trim_line, ParseError};
use core::fmt;

/// IP protocol numbers the filter knows.
pub const IPPROTO_TCP: u8 = 6;
/// See [`IPPROTO_TCP`].
pub const IPPROTO_UDP: u8 = 17;

/// Which packets a filter or rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// Every packet.
    All,
    /// One transport protocol, destination ports `lo..=hi`.
    Port {
        /// `IPPROTO_UDP` or `IPPROTO_TCP`.
        proto: u8,
        /// Lowest destination port.
        lo: u16,
        /// Highest destination port.
        hi: u16,
    },
}

impl Match {
    /// Whether a packet with this protocol and destination port (if it has one) matches.
    pub fn matches(&self, proto: u8, dport: Option<u16>) -> bool {
        match *self {
            Match::All => true,
            Match::Port { proto: p, lo, hi } => {
                p == proto && dport.is_some_and(|d| (lo..=hi).contains(&d))
            }
        }
    }

    /// Parses `all`, or `udp|tcp dport P` or `udp|tcp dport LO-HI`, from words.
    fn from_words<'a>(words: &mut impl Iterator<Item = &'a [u8]>) -> Result<Self, ParseError> {
        let proto = match words.next().ok_or(ParseError::Invalid)? {
            b"all" => return Ok(Match::All),
            b"udp" => IPPROTO_UDP,
            b"tcp" => IPPROTO_TCP,
            _ => return Err(ParseError::Invalid),
        };
        if words.next() != Some(b"dport") {
            return Err(ParseError::Invalid);
        }
        let range = words.next().ok_or(ParseError::Invalid)?;
        let (lo, hi) = match range.iter().position(|&c| c == b'-') {
            Some(i) => (&range[..i], &range[i + 1..]),
            None => (range, range),
        };
        let lo = parse_digits(lo, 0, 65535)? as u16;
        let hi = parse_digits(hi, 0, 65535)? as u16;
        if lo > hi {
            return Err(ParseError::OutOfRange);
        }
        Ok(Match::Port { proto, lo, hi })
    }

    /// The filter as one word, for a table that hooks read without a lock; 0 is no filter.
    pub fn to_bits(self) -> u64 {
        match self {
            Match::All => 1 << 40,
            Match::Port { proto, lo, hi } => {
                2 << 40 | u64::from(proto) << 32 | u64::from(lo) << 16 | u64::from(hi)
            }
        }
    }

    /// The filter of [`Match::to_bits`] (`None` for 0 or a word no filter makes).
    pub fn from_bits(bits: u64) -> Option<Self> {
        match bits >> 40 {
            1 => Some(Match::All),
            2 => Some(Match::Port {
                proto: (bits >> 32) as u8,
                lo: (bits >> 16) as u16,
                hi: bits as u16,
            }),
            _ => None,
        }
    }

    /// Parses a whole filter: `all`, `udp dport 9000-9100`, `tcp dport 80`.
    pub fn parse(input: &[u8]) -> Result<Self, ParseError> {
        let mut words = words(trim_line(input));
        let m = Match::from_words(&mut words)?;
        match words.next() {
            None => Ok(m),
            Some(_) => Err(ParseError::Invalid),
        }
    }
}

impl fmt::Display for Match {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Match::All => f.write_str("all"),
            Match::Port { proto, lo, hi } => {
                let name = match proto {
                    IPPROTO_TCP => "tcp",
                    IPPROTO_UDP => "udp",
                    _ => return write!(f, "proto {proto} dport {lo}-{hi}"),
                };
                if lo == hi {
                    write!(f, "{name} dport {lo}")
                } else {
                    write!(f, "{name} dport {lo}-{hi}")
                }
            }
        }
    }
}

/// Space-separated words of a line.
fn words(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|&c| c == b' ').filter(|w| !w.is_empty())
}

/// The built-in operations a stage runs on each packet, in this order. The last stage also
/// delivers the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ops(pub u8);

impl Ops {
    /// Parse and validate the IP and transport headers.
    pub const PARSE: Ops = Ops(1);
    /// Apply the rule table.
    pub const RULES: Ops = Ops(2);
    /// Spin for the stage's `work_ns`.
    pub const WORK: Ops = Ops(4);
    const NAMES: [(Ops, &'static str); 3] = [
        (Ops::PARSE, "parse"),
        (Ops::RULES, "rules"),
        (Ops::WORK, "work"),
    ];

    /// Whether every operation of `other` is in `self`.
    pub fn contains(self, other: Ops) -> bool {
        self.0 & other.0 == other.0
    }

    /// Parses `none` or a comma-separated list of `parse`, `rules`, `work`.
    pub fn parse(input: &[u8]) -> Result<Self, ParseError> {
        let text = trim_line(input);
        if text == b"none" {
            return Ok(Ops(0));
        }
        let mut ops = 0u8;
        for name in text.split(|&c| c == b',') {
            let op = Ops::NAMES
                .iter()
                .find(|(_, n)| n.as_bytes() == name)
                .ok_or(ParseError::Invalid)?;
            ops |= op.0 .0;
        }
        Ok(Ops(ops))
    }
}

impl fmt::Display for Ops {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("none");
        }
        let mut first = true;
        for (op, name) in Ops::NAMES {
            if self.contains(op) {
                if !first {
                    f.write_str(",")?;
                }
                first = false;
                f.write_str(name)?;
            }
        }
        Ok(())
    }
}

/// What a rule does with the packets it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Stop looking at rules; the packet goes on.
    Accept,
    /// Drop the packet (counted, reason `rule`).
    Drop,
    /// Set `skb->mark` and go on with the next rule.
    Mark(u32),
}

/// One rule: the first rule that matches and accepts or drops decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Which packets.
    pub matcher: Match,
    /// What to do.
    pub action: Action,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.action {
            Action::Accept => write!(f, "{} accept", self.matcher),
            Action::Drop => write!(f, "{} drop", self.matcher),
            Action::Mark(m) => write!(f, "{} mark {m}", self.matcher),
        }
    }
}

/// The rule table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rules {
    rules: [Option<Rule>; MAX_RULES],
}

/// What the rule table decided for a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the packet is dropped.
    pub drop: bool,
    /// The last mark a rule set, if any.
    pub mark: Option<u32>,
}

impl Rules {
    /// Parses rules separated by `;` or newlines, each `MATCH accept|drop|mark N`; an empty
    /// input is an empty table.
    pub fn parse(input: &[u8]) -> Result<Self, ParseError> {
        let mut table = Rules::default();
        let mut n = 0;
        for line in input.split(|&c| c == b'\n' || c == b';') {
            let mut w = words(line).peekable();
            if w.peek().is_none() {
                continue;
            }
            let matcher = Match::from_words(&mut w)?;
            let action = match w.next().ok_or(ParseError::Invalid)? {
                b"accept" => Action::Accept,
                b"drop" => Action::Drop,
                b"mark" => {
                    let m = w.next().ok_or(ParseError::Invalid)?;
                    Action::Mark(parse_digits(m, 0, u64::from(u32::MAX))? as u32)
                }
                _ => return Err(ParseError::Invalid),
            };
            if w.next().is_some() {
                return Err(ParseError::Invalid);
            }
            let slot = table.rules.get_mut(n).ok_or(ParseError::OutOfRange)?;
            *slot = Some(Rule { matcher, action });
            n += 1;
        }
        Ok(table)
    }

    /// The rules, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().map_while(Option::as_ref)
    }

    /// Applies the table to a packet.
    pub fn apply(&self, proto: u8, dport: Option<u16>) -> Verdict {
        let mut mark = None;
        for rule in self.iter() {
            if !rule.matcher.matches(proto, dport) {
                continue;
            }
            match rule.action {
                Action::Accept => break,
                Action::Drop => return Verdict { drop: true, mark },
                Action::Mark(m) => mark = Some(m),
            }
        }
        Verdict { drop: false, mark }
    }
}
