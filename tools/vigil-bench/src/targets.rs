// SPDX-License-Identifier: GPL-2.0

//! The design targets, checked against the ratios measured in the same run.

use crate::cells::{self, Cell};
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
    /// A side's runs were oversubscribed, contended or unchecked: the figure says nothing.
    NotMeasurable(String),
}

impl Outcome {
    /// The name in `results.json`.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Met { .. } => "met",
            Outcome::Missed { .. } => "missed",
            Outcome::Unknown(_) => "unknown",
            Outcome::NotMeasurable(_) => "not measurable",
        }
    }

    /// The outcome in words, e.g. `missed by 23%`.
    pub fn describe(&self) -> String {
        match self {
            Outcome::Met { margin } if *margin == 0.0 => "met, at the limit".to_string(),
            Outcome::Met { margin } => format!("met by {}", format::relative(*margin)),
            Outcome::Missed { by } => format!("missed by {}", format::relative(*by)),
            Outcome::Unknown(why) => format!("n/a ({why})"),
            Outcome::NotMeasurable(why) => format!("not measurable ({why})"),
        }
    }
}

impl Target {
    /// The target in words, e.g. `adaptive p99 ≤ 1.10× poll`.
    pub fn describe(&self) -> String {
        let figure = match self.ratio.metric {
            // The targets say "CPU", the tables "CPU busy"; both mean the busy fraction.
            Metric::CpuBusy => "CPU",
            Metric::HostCpuPerPacket => "host stage CPU/packet",
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
        if let Some(why) = &self.ratio.not_measurable {
            return Outcome::NotMeasurable(why.clone());
        }
        let median = match &self.ratio.value {
            Ok(r) => *r,
            Err(why) => return Outcome::Unknown(why.clone()),
        };
        // Met only when the whole range clears the limit: judge the range's worst end.
        let ratio = match (self.ratio.range, self.bound) {
            (Some((_, hi)), Bound::AtMost) => hi,
            (Some((lo, _)), Bound::AtLeast) => lo,
            (None, _) => median,
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

const HOST_CPU: Spec = Spec {
    numerator: Variant::Adaptive,
    denominator: Variant::Poll,
    metric: Metric::HostCpuPerPacket,
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

fn target(cells: &[Cell], profile: &str, kind: Kind, spec: &Spec) -> Target {
    Target {
        ratio: ratios::between(
            cells,
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
pub fn targets(runs: &[Run], cells: &[Cell]) -> Vec<Target> {
    let mut out = Vec::new();
    for profile in record::profiles(runs, Kind::Latency) {
        if profile.starts_with("burst") {
            out.push(target(cells, profile, Kind::Latency, &P99));
            out.push(target(cells, profile, Kind::Latency, &CPU));
            out.push(target(cells, profile, Kind::Latency, &HOST_CPU));
        }
        out.push(target(cells, profile, Kind::Latency, &WAKEUPS));
    }
    for profile in record::profiles(runs, Kind::Throughput) {
        for variant in Variant::POLICIES {
            if cells::find(cells, profile, Kind::Throughput, variant).is_none() {
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
            out.push(target(cells, profile, Kind::Throughput, &spec));
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
        let got: Vec<(String, String, String)> = targets(&runs, &cells::cells(&runs))
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
            (
                "burst-1",
                "adaptive host stage CPU/packet ≤ 0.25× poll",
                "n/a (adaptive stage CPU/packet unknown)",
            ),
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
        let t = &targets(&runs, &cells::cells(&runs))[1];
        assert_eq!(t.ratio.value, Ok(0.25));
        assert_eq!(t.outcome(), Outcome::Met { margin: 0.0 });
        assert_eq!(t.outcome().describe(), "met, at the limit");
    }

    #[test]
    fn the_whole_range_must_clear_and_contention_voids() {
        let text = "profile=burst kind=latency variant=poll rep=0 cpu_busy=0.8 cell=a\n\
                    profile=burst kind=latency variant=poll rep=1 cpu_busy=0.9 cell=b\n\
                    profile=burst kind=latency variant=adaptive rep=0 cpu_busy=0.1 cell=c\n\
                    profile=burst kind=latency variant=adaptive rep=1 cpu_busy=0.3 cell=d\n";
        let mut runs = record::parse(text).unwrap();
        // Medians 0.2/0.85 clear 0.25, but the worst pair (0.3/0.8) does not.
        let t = &targets(&runs, &cells::cells(&runs))[1];
        assert!(t.ratio.value.as_ref().unwrap() < &0.25);
        assert_eq!(
            t.ratio.range.map(|r| crate::format::round6(r.1)),
            Some(0.375)
        );
        assert_eq!(t.outcome().name(), "missed");
        let hosts = crate::host::parse(
            "cell=a wall_ns=100 vcpu0=1:1:0:0\ncell=b wall_ns=100 vcpu0=1:1:0:0\n\
             cell=c wall_ns=100 vcpu0=1:1:0:0\ncell=d wall_ns=100 vcpu0=1:1:9:0\n",
        )
        .unwrap();
        cells::annotate(&mut runs, &hosts, &crate::meta::parse("").unwrap());
        let t = &targets(&runs, &cells::cells(&runs))[1];
        assert_eq!(t.outcome().name(), "not measurable");
        assert!(t.outcome().describe().contains("adaptive: contended"));
    }
}
