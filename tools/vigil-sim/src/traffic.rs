// SPDX-License-Identifier: GPL-2.0

//! Traffic profiles: when packets arrive at the pipeline.

use crate::trace;

/// When packets arrive.
#[derive(Debug, Clone, PartialEq)]
pub enum Profile {
    /// A steady rate, packets per second.
    Steady(u64),
    /// `burst` packets `spacing_ns` apart, one burst every `gap_ns` (start to start).
    Bursts {
        /// Packets per burst.
        burst: u64,
        /// From one burst's start to the next's.
        gap_ns: u64,
        /// Between packets of a burst (0: all at once).
        spacing_ns: u64,
    },
    /// Poisson arrivals at a mean rate, packets per second.
    Poisson(u64),
    /// Timestamps from a text file, one in ns per line.
    Trace(String),
    /// Timestamps from a classic pcap file.
    Pcap(String),
    /// A steady rate that ramps up and back down, in five phases of `phase_ns` each: `low`
    /// packets per second, a linear rise to `high`, `high`, a linear fall to `low`, `low`.
    Ramp {
        /// The rate at the start and at the end, packets per second.
        low: u64,
        /// The rate in the middle.
        high: u64,
        /// How long each phase lasts.
        phase_ns: u64,
    },
}

impl Profile {
    /// Parses `steady:PPS`, `bursts:B:GAP_NS[:SPACING_NS]`, `poisson:PPS`, `trace:PATH`,
    /// `pcap:PATH` or `ramp:LOW_PPS:HIGH_PPS:PHASE_MS`.
    pub fn parse(text: &str) -> Result<Profile, String> {
        let (kind, rest) = text.split_once(':').unwrap_or((text, ""));
        let number = |s: &str, what: &str| -> Result<u64, String> {
            s.parse::<u64>()
                .map_err(|_| format!("bad {what} '{s}' in profile '{text}'"))
        };
        let positive = |s: &str, what: &str| match number(s, what)? {
            0 => Err(format!("{what} must be at least 1 in profile '{text}'")),
            n => Ok(n),
        };
        match kind {
            "steady" => Ok(Profile::Steady(positive(rest, "rate")?)),
            "poisson" => Ok(Profile::Poisson(positive(rest, "rate")?)),
            "bursts" => {
                let fields: Vec<&str> = rest.split(':').collect();
                if !(2..=3).contains(&fields.len()) {
                    return Err(format!(
                        "expected bursts:B:GAP_NS[:SPACING_NS], got '{text}'"
                    ));
                }
                let burst = positive(fields[0], "burst size")?;
                let gap_ns = positive(fields[1], "gap")?;
                let spacing_ns = fields.get(2).map_or(Ok(0), |s| number(s, "spacing"))?;
                if (burst - 1)
                    .checked_mul(spacing_ns)
                    .is_none_or(|len| len >= gap_ns)
                {
                    return Err(format!("a burst must end before the next, in '{text}'"));
                }
                Ok(Profile::Bursts {
                    burst,
                    gap_ns,
                    spacing_ns,
                })
            }
            "ramp" => {
                let fields: Vec<&str> = rest.split(':').collect();
                let [low, high, phase_ms] = fields[..] else {
                    return Err(format!(
                        "expected ramp:LOW_PPS:HIGH_PPS:PHASE_MS, got '{text}'"
                    ));
                };
                Ok(Profile::Ramp {
                    low: positive(low, "rate")?,
                    high: positive(high, "rate")?,
                    phase_ns: positive(phase_ms, "phase")?
                        .checked_mul(1_000_000)
                        .ok_or(format!("phase too long in profile '{text}'"))?,
                })
            }
            "trace" | "pcap" if rest.is_empty() => Err(format!("no path in profile '{text}'")),
            "trace" => Ok(Profile::Trace(rest.to_string())),
            "pcap" => Ok(Profile::Pcap(rest.to_string())),
            _ => Err(format!("unknown profile '{text}'")),
        }
    }

    /// The arrival times of (at most, for files) `packets` packets, from 0, non-decreasing.
    /// `seed` drives the Poisson profile.
    pub fn arrivals(&self, packets: usize, seed: u64) -> Result<Vec<u64>, String> {
        let n = packets as u64;
        Ok(match *self {
            Profile::Steady(pps) => (0..n)
                .map(|i| (u128::from(i) * 1_000_000_000 / u128::from(pps)) as u64)
                .collect(),
            Profile::Bursts {
                burst,
                gap_ns,
                spacing_ns,
            } => (0..n)
                .map(|i| (i / burst) * gap_ns + (i % burst) * spacing_ns)
                .collect(),
            Profile::Poisson(pps) => {
                let mean_ns = 1e9 / pps as f64;
                let mut rng = Rng::new(seed);
                let mut t = 0.0f64;
                let mut out = Vec::with_capacity(packets);
                for i in 0..packets {
                    if i > 0 {
                        t += -rng.unit().ln() * mean_ns;
                    }
                    out.push(t as u64);
                }
                out
            }
            Profile::Trace(ref path) => {
                let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
                let mut times = trace::parse_text(&text).map_err(|e| format!("{path}: {e}"))?;
                times.truncate(packets);
                times
            }
            Profile::Ramp {
                low,
                high,
                phase_ns,
            } => ramp(low, high, phase_ns, packets),
            Profile::Pcap(ref path) => {
                let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
                let mut times = trace::parse_pcap(&bytes).map_err(|e| format!("{path}: {e}"))?;
                times.truncate(packets);
                times
            }
        })
    }
}

/// `Profile::Ramp`'s arrivals: each packet follows the previous by the inverse of the rate
/// at the previous one's time.
fn ramp(low: u64, high: u64, phase_ns: u64, packets: usize) -> Vec<u64> {
    let end = phase_ns.saturating_mul(5);
    // The rate at `t`, moving linearly by `to - from` over a phase `into` it.
    let between = |from: u64, to: u64, into: u64| {
        let step = (u128::from(to.abs_diff(from)) * u128::from(into) / u128::from(phase_ns)) as u64;
        if to >= from {
            from + step
        } else {
            from - step
        }
    };
    let rate = |t: u64| match (t / phase_ns, t % phase_ns) {
        (1, into) => between(low, high, into),
        (2, _) => high,
        (3, into) => between(high, low, into),
        _ => low,
    };
    let mut out = Vec::new();
    let mut t = 0;
    while t < end && out.len() < packets {
        out.push(t);
        t += (1_000_000_000 / rate(t)).max(1);
    }
    out
}

/// A seeded xorshift64* generator: the same seed gives the same traffic.
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed` (0 is replaced, as xorshift would stay at 0).
    pub fn new(seed: u64) -> Self {
        Self(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in (0, 1], so that its logarithm is finite.
    pub fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }
}
