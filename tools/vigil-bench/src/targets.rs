// SPDX-License-Identifier: GPL-2.0

//! The design targets, checked against the ratios measured in the same run.

use crate::format;
use crate::ratios::{self, Metric, Ratio};
use crate::record::{self, Kind, Run, Variant};

/// Which side of the limit a ratio must stay on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// `ratio <= limit`.
    AtMost,
    /// `ratio >= limit`.
    AtLeast,
}

impl Bound {
    /// The name in `results.json`.
    pub fn name(self) -> &'static str {
        match self {
            Bound::AtMost => "at_most",
            Bound::AtLeast => "at_least",
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Bound::AtMost => "≤",
            Bound::AtLeast => "≥",
        }
    }
}

/// A target: a ratio and the limit it must respect.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The measured ratio.
    pub ratio: Ratio,
    /// Which side of the limit it must be on.
    pub bound: Bound,
    /// The limit.
    pub limit: f64,
    /// The limit as the target is written, e.g. `1.10`.
    pub limit_text: &'static str,
}

/// Whether a target was met, and by how much, relative to the limit.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Met; `margin` is how far inside the limit, as a fraction of it.
    Met {
        /// How far inside the limit.
        margin: f64,
    },
    /// Missed; `by` is how far outside the limit, as a fraction of it.
    Missed {
        /// How far outside the limit.
        by: f64,
    },
    /// Not measurable; why.
    Unknown(String),
}

impl Outcome {
    /// The name in `results.json`.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Met { .. } => "met",
            Outcome::Missed { .. } => "missed",
            Outcome::Unknown(_) => "unknown",
        }
    }

    /// The outcome in words, e.g. `missed by 23%`.
    pub fn describe(&self) -> String {
        match self {
            Outcome::Met { margin } if *margin == 0.0 => "met, at the limit".to_string(),
            Outcome::Met { margin } => format!("met by {}", format::relative(*margin)),
            Outcome::Missed { by } => format!("missed by {}", format::relative(*by)),
            Outcome::Unknown(why) => format!("n/a ({why})"),
        }
    }
}

impl Target {
    /// The target in words, e.g. `adaptive p99 ≤ 1.10× poll`.
    pub fn describe(&self) -> String {
        let figure = match self.ratio.metric {
            // The targets say "CPU", the tables "CPU busy"; both mean the busy fraction.
            Metric::CpuBusy => "CPU",
            m => m.label(),
        };
        format!(
            "{} {figure} {} {}× {}",
            self.ratio.numerator.name(),
            self.bound.symbol(),
            self.limit_text,
            self.ratio.denominator.name()
        )
    }

    /// Whether the measured ratio respects the limit.
    pub fn outcome(&self) -> Outcome {
        let ratio = match &self.ratio.value {
            Ok(r) => *r,
            Err(why) => return Outcome::Unknown(why.clone()),
        };
        let relative = ratio / self.limit;
        let met = match self.bound {
            Bound::AtMost => ratio <= self.limit,
            Bound::AtLeast => ratio >= self.limit,
        };
        if met {
            Outcome::Met {
                margin: (1.0 - relative).abs(),
            }
        } else {
            Outcome::Missed {
                by: (relative - 1.0).abs(),
            }
        }
    }
}

struct Spec {
    numerator: Variant,
    denominator: Variant,
    metric: Metric,
    bound: Bound,
    limit: f64,
    limit_text: &'static str,
}

const P99: Spec = Spec {
    numerator: Variant::Adaptive,
    denominator: Variant::Poll,
    metric: Metric::P99,
    bound: Bound::AtMost,
    limit: 1.10,
    limit_text: "1.10",
};

const CPU: Spec = Spec {
    numerator: Variant::Adaptive,
    denominator: Variant::Poll,
    metric: Metric::CpuBusy,
    bound: Bound::AtMost,
    limit: 0.25,
    limit_text: "0.25",
};

const WAKEUPS: Spec = Spec {
    numerator: Variant::Adaptive,
    denominator: Variant::Idle,
    metric: Metric::WakeupsPer1k,
    bound: Bound::AtMost,
    limit: 0.2,
    limit_text: "0.2",
};

/// The throughput limit: every policy keeps this share of the plain stack's packet rate.
const THROUGHPUT_LIMIT: f64 = 0.7;

fn target(runs: &[Run], profile: &str, kind: Kind, spec: &Spec) -> Target {
    Target {
        ratio: ratios::between(
            runs,
            profile,
            kind,
            spec.numerator,
            spec.denominator,
            spec.metric,
        ),
        bound: spec.bound,
        limit: spec.limit,
        limit_text: spec.limit_text,
    }
}

/// Every target that applies to `runs`: latency and CPU for `burst*` profiles (bursts are
/// what adaptive is designed for), wake-ups for every latency profile, and throughput for
/// every policy run of every throughput profile.
pub fn targets(runs: &[Run]) -> Vec<Target> {
    let mut out = Vec::new();
    for profile in record::profiles(runs, Kind::Latency) {
        if profile.starts_with("burst") {
            out.push(target(runs, profile, Kind::Latency, &P99));
            out.push(target(runs, profile, Kind::Latency, &CPU));
        }
        out.push(target(runs, profile, Kind::Latency, &WAKEUPS));
    }
    for profile in record::profiles(runs, Kind::Throughput) {
        for variant in Variant::POLICIES {
            if record::find(runs, profile, Kind::Throughput, variant).is_none() {
                continue;
            }
            let spec = Spec {
                numerator: variant,
                denominator: Variant::Plain,
                metric: Metric::Throughput,
                bound: Bound::AtLeast,
                limit: THROUGHPUT_LIMIT,
                limit_text: "0.7",
            };
            out.push(target(runs, profile, Kind::Throughput, &spec));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_each_target_against_its_limit() {
        let runs = record::parse(
            "profile=burst-1 kind=latency variant=poll app_p99_ns=40000 cpu_busy=0.9 \
             wakeups=0 received=1000\n\
             profile=burst-1 kind=latency variant=adaptive app_p99_ns=54120 cpu_busy=0.2 \
             wakeups=10 received=1000\n\
             profile=burst-1 kind=latency variant=idle wakeups=100 received=1000\n\
             profile=steady kind=latency variant=adaptive wakeups=10 received=1000\n\
             profile=flood kind=throughput variant=plain throughput_pps=100000\n\
             profile=flood kind=throughput variant=timeout throughput_pps=60000\n\
             profile=flood kind=throughput variant=poll throughput_pps=95000\n",
        )
        .unwrap();
        let got: Vec<(String, String, String)> = targets(&runs)
            .iter()
            .map(|t| {
                (
                    t.ratio.profile.clone(),
                    t.describe(),
                    t.outcome().describe(),
                )
            })
            .collect();
        let want = [
            ("burst-1", "adaptive p99 ≤ 1.10× poll", "missed by 23%"),
            ("burst-1", "adaptive CPU ≤ 0.25× poll", "met by 11%"),
            ("burst-1", "adaptive wake-ups ≤ 0.2× idle", "met by 50%"),
            (
                "steady",
                "adaptive wake-ups ≤ 0.2× idle",
                "n/a (no idle run)",
            ),
            ("flood", "poll throughput ≥ 0.7× plain", "met by 36%"),
            ("flood", "timeout throughput ≥ 0.7× plain", "missed by 14%"),
        ];
        let want: Vec<(String, String, String)> = want
            .iter()
            .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn the_limit_itself_is_met() {
        let runs = record::parse(
            "profile=burst kind=latency variant=poll cpu_busy=0.8\n\
             profile=burst kind=latency variant=adaptive cpu_busy=0.2\n",
        )
        .unwrap();
        let t = &targets(&runs)[1];
        assert_eq!(t.ratio.value, Ok(0.25));
        assert_eq!(t.outcome(), Outcome::Met { margin: 0.0 });
        assert_eq!(t.outcome().describe(), "met, at the limit");
    }
}
