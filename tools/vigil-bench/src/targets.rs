// SPDX-License-Identifier: GPL-2.0

//! The design targets, checked against the figures measured in the same run.
//!
//! The physics first: when the gap between bursts is longer than any window worth polling, the
//! first packet of a burst pays one idle exit whatever the policy, and the best a policy can do
//! is one exit for the whole pipeline rather than one per stage. Poll's latency and idle's CPU
//! cost are the floors. So each latency profile is put in a class from its data, not its name:
//!
//! - **short gap**: the median `gap_ns` of the profile's runs is below `poll_window_ns`
//!   (`meta.txt`, its leading integer): adaptive histogram p99 ≤ 1.10× poll's, and adaptive
//!   stage CPU ≤ 0.25× poll's (the guest's busy fraction and the host's ns per packet);
//! - **long gap**: otherwise: adaptive histogram p99 ≤ poll's + 1.2× one idle exit, CPU ≤ 0.05×
//!   poll's (both figures), and idle exits (wake-ups per 1000 packets) ≤ 0.2× idle's.
//!
//! A profile without `gap_ns`, or a report without `poll_window_ns`, gets one `unknown` target
//! naming what is missing rather than a guess. Latency targets judge the module's own
//! hook-to-delivery histogram (`hist_p99_ns`), measured inside the kernel; the application's
//! p99 stays in the tables.
//!
//! **The idle exit** is measured on the steady profile with the longest gap at least the
//! window ([`exit_profile`]; without one, on the profile judged): idle's histogram p50 minus
//! poll's ([`Exit`]). There under idle each packet finds the stage CPU idle and waits for its
//! wake-up; under poll none does, so the difference of the medians is one exit. The long-gap p99 target
//! is a ratio, adaptive p99 / (poll p99 + 1.2 × exit) ≤ 1.00, whose worst case takes the largest
//! adaptive p99 over the smallest poll p99 plus 1.2× the smallest exit.
//!
//! **Throughput** is judged at the knee ([`knee`]): the throughput profile where the plain stack
//! delivered at least 95% of what it was sent (median over its runs) at the highest delivered
//! rate; there, every policy's delivered rate ≥ 0.7× plain's.
//!
//! Every target is met only when the whole range of its ratio over the runs clears it, and a
//! not-measurable cell voids every target it is part of.

use crate::cells::{self, Cell, Spread};
use crate::format;
use crate::meta::Meta;
use crate::ratios::{self, Metric, Ratio};
use crate::record::{self, Kind, Run, Value, Variant};

/// How many idle exits the long-gap p99 target allows adaptive over poll.
pub const EXIT_FACTOR: f64 = 1.2;

/// The share of its packets the plain stack must deliver at a rate for that rate to be at or
/// below the knee.
pub const KNEE_DELIVERED: f64 = 0.95;

/// The throughput limit: every policy keeps this share of the plain stack's packet rate.
const THROUGHPUT_LIMIT: f64 = 0.7;

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

/// The class a target belongs to, and the figures that put it there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Class {
    /// A latency profile whose gaps are shorter than the poll window.
    Short {
        /// The median `gap_ns` of the profile's runs.
        gap_ns: f64,
        /// `poll_window_ns` from `meta.txt`.
        window_ns: f64,
    },
    /// A latency profile whose gaps are at least the poll window.
    Long {
        /// The median `gap_ns` of the profile's runs.
        gap_ns: f64,
        /// `poll_window_ns` from `meta.txt`.
        window_ns: f64,
    },
    /// The throughput profile at the knee ([`knee`]).
    Knee {
        /// The plain stack's median delivered rate there, packets per second.
        plain_pps: f64,
    },
}

impl Class {
    /// The name in `results.json`: `short`, `long` or `knee`.
    pub fn name(self) -> &'static str {
        match self {
            Class::Short { .. } => "short",
            Class::Long { .. } => "long",
            Class::Knee { .. } => "knee",
        }
    }

    /// The class in words, e.g. `long gap (1900 µs ≥ 200 µs window)`.
    pub fn describe(self) -> String {
        match self {
            Class::Short { gap_ns, window_ns } => format!(
                "short gap ({} < {} window)",
                format::micros_brief(gap_ns),
                format::micros_brief(window_ns)
            ),
            Class::Long { gap_ns, window_ns } => format!(
                "long gap ({} ≥ {} window)",
                format::micros_brief(gap_ns),
                format::micros_brief(window_ns)
            ),
            Class::Knee { plain_pps } => format!("knee (plain {plain_pps:.0} packets/s)"),
        }
    }
}

/// One idle exit's latency, estimated on the steady profile with gaps longer than the window
/// ([`exit_profile`]; without one, on the profile judged) as idle's histogram p50 minus poll's: there under idle every packet
/// finds the stage CPU idle and waits for its wake-up, under poll none does. (Inside a burst
/// only the first packet waits, so a burst profile's p50s hardly differ.) Nanoseconds, never
/// below 0 (an exit takes no negative time; a difference below 0 is the histogram's buckets
/// or noise).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exit {
    /// Idle's median p50 minus poll's median p50.
    pub median: f64,
    /// Idle's smallest p50 minus poll's largest.
    pub min: f64,
    /// Idle's largest p50 minus poll's smallest.
    pub max: f64,
}

/// How the estimate is made, as `results.json` states it.
pub const EXIT_ESTIMATE: &str = "idle hist_p50_ns minus poll hist_p50_ns on the steady profile \
     with the longest gap at least the window, else on the profile itself";

/// A target: a ratio and the limit it must respect.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The measured ratio (for the long-gap p99 target, adaptive p99 over poll p99 plus
    /// [`EXIT_FACTOR`] idle exits).
    pub ratio: Ratio,
    /// Which side of the limit it must be on.
    pub bound: Bound,
    /// The limit.
    pub limit: f64,
    /// The limit as the target is written, e.g. `1.10`.
    pub limit_text: &'static str,
    /// The class the target belongs to, or why the profile's class is unknown (then the
    /// target stands for the whole class's targets, and its outcome is unknown).
    pub class: Result<Class, String>,
    /// For the long-gap p99 target only: the idle exit, or why it is unknown.
    pub exit: Option<Result<Exit, String>>,
    /// The limit in the figure's own units at the medians (e.g. 1.10× poll's median p99 in
    /// ns), for the plot; `None` when unknown.
    pub threshold: Option<f64>,
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
    /// The target in words, e.g. `adaptive hist p99 ≤ 1.10× poll` or `adaptive hist p99 ≤
    /// poll hist p99 + 1.2× idle exit (exit 212 µs, 150–260 µs)`.
    pub fn describe(&self) -> String {
        let figure = match self.ratio.metric {
            // The targets say "CPU", the tables "CPU busy"; both mean the busy fraction.
            Metric::CpuBusy => "CPU",
            Metric::HostCpuPerPacket => "host stage CPU/packet",
            Metric::HistP99 => "hist p99",
            m => m.label(),
        };
        let top = self.ratio.numerator.name();
        let bottom = self.ratio.denominator.name();
        if self.class.is_err() && self.ratio.kind == Kind::Latency {
            return format!("{top} targets (short- or long-gap class unknown)");
        }
        let at_knee = match self.ratio.kind {
            Kind::Throughput => " at the knee",
            Kind::Latency => "",
        };
        let symbol = self.bound.symbol();
        match &self.exit {
            None => format!(
                "{top} {figure}{at_knee} {symbol} {}× {bottom}",
                self.limit_text
            ),
            Some(exit) => {
                let exit = match exit {
                    Ok(e) if e.min == e.max => format::micros_brief(e.median),
                    Ok(e) => format!(
                        "{}, {}–{}",
                        format::micros_brief(e.median),
                        format::micros_brief(e.min).trim_end_matches(" µs"),
                        format::micros_brief(e.max)
                    ),
                    Err(_) => "unknown".to_string(),
                };
                format!(
                    "{top} {figure} {symbol} {bottom} {figure} + {EXIT_FACTOR}× idle exit \
                     (exit {exit})"
                )
            }
        }
    }

    /// Whether the measured ratio respects the limit.
    pub fn outcome(&self) -> Outcome {
        if let Err(why) = &self.class {
            return Outcome::Unknown(why.clone());
        }
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

const fn adaptive_vs(denominator: Variant, metric: Metric, limit: f64, text: &'static str) -> Spec {
    Spec {
        numerator: Variant::Adaptive,
        denominator,
        metric,
        bound: Bound::AtMost,
        limit,
        limit_text: text,
    }
}

/// Short gaps: adaptive keeps poll's latency at a quarter of its CPU.
const SHORT: [Spec; 3] = [
    adaptive_vs(Variant::Poll, Metric::HistP99, 1.10, "1.10"),
    adaptive_vs(Variant::Poll, Metric::CpuBusy, 0.25, "0.25"),
    adaptive_vs(Variant::Poll, Metric::HostCpuPerPacket, 0.25, "0.25"),
];

/// Long gaps, after the p99 target ([`exit_target`]): CPU near idle's, one exit per burst
/// rather than one per stage.
const LONG: [Spec; 3] = [
    adaptive_vs(Variant::Poll, Metric::CpuBusy, 0.05, "0.05"),
    adaptive_vs(Variant::Poll, Metric::HostCpuPerPacket, 0.05, "0.05"),
    adaptive_vs(Variant::Idle, Metric::WakeupsPer1k, 0.2, "0.2"),
];

fn target(cells: &[Cell], profile: &str, kind: Kind, spec: &Spec, class: Class) -> Target {
    let threshold = cells::find(cells, profile, kind, spec.denominator)
        .and_then(|c| c.spread(spec.metric))
        .map(|s| s.median * spec.limit);
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
        class: Ok(class),
        exit: None,
        threshold,
    }
}

/// `poll_window_ns` from `meta`: the leading integer of its value (free text may follow).
pub fn poll_window_ns(meta: &Meta) -> Result<f64, String> {
    let value = meta
        .get("poll_window_ns")
        .ok_or("no poll_window_ns in meta.txt")?;
    let digits: String = value.chars().take_while(char::is_ascii_digit).collect();
    digits
        .parse::<f64>()
        .map_err(|_| format!("meta.txt's poll_window_ns `{value}` does not start with a number"))
}

/// The class of the latency profile `profile`: short when the median `gap_ns` of its runs is
/// below the poll window, long otherwise; why not, when either is unknown.
pub fn gap_class(
    runs: &[Run],
    profile: &str,
    window: &Result<f64, String>,
) -> Result<Class, String> {
    let gap = Spread::of(
        runs.iter()
            .filter(|r| r.profile == profile && r.kind == Kind::Latency)
            .filter_map(|r| r.number("gap_ns")),
    );
    match (gap, window) {
        (None, Err(why)) => Err(format!("no gap_ns in the runs and {why}")),
        (None, Ok(_)) => Err("no gap_ns in the runs".to_string()),
        (Some(_), Err(why)) => Err(why.clone()),
        (Some(g), Ok(w)) if g.median < *w => Ok(Class::Short {
            gap_ns: g.median,
            window_ns: *w,
        }),
        (Some(g), Ok(w)) => Ok(Class::Long {
            gap_ns: g.median,
            window_ns: *w,
        }),
    }
}

/// The profile an idle exit is measured on: among the latency profiles whose runs say
/// `arrivals=steady` (one packet at a time) and whose gap is at least the window, the one
/// with the longest gap.
pub fn exit_profile<'a>(runs: &'a [Run], window: &Result<f64, String>) -> Result<&'a str, String> {
    let window = window.as_ref().map_err(|why| why.clone())?;
    let mut best: Option<(&str, f64)> = None;
    for profile in record::profiles(runs, Kind::Latency) {
        let of = || runs.iter().filter(|r| r.profile == profile);
        let steady =
            of().all(|r| matches!(r.get("arrivals"), Some(Value::Text(t)) if t == "steady"));
        let gap = Spread::of(of().filter_map(|r| r.number("gap_ns")));
        if let (true, Some(g)) = (steady, gap) {
            if g.median >= *window && best.is_none_or(|(_, b)| g.median > b) {
                best = Some((profile, g.median));
            }
        }
    }
    best.map(|(p, _)| p).ok_or_else(|| {
        "no steady profile (arrivals=steady) with gaps at least the window to measure an idle \
         exit on"
            .to_string()
    })
}

/// The idle exit measured on `profile` ([`Exit`]), or why it cannot be estimated.
pub fn exit(cells: &[Cell], profile: &str) -> Result<Exit, String> {
    let p50 = |variant: Variant| -> Result<Spread, String> {
        cells::find(cells, profile, Kind::Latency, variant)
            .ok_or_else(|| format!("no {} run for the idle exit", variant.name()))?
            .spread_of("hist_p50_ns")
            .ok_or_else(|| format!("{} hist p50 unknown", variant.name()))
    };
    let (idle, poll) = (p50(Variant::Idle)?, p50(Variant::Poll)?);
    Ok(Exit {
        median: (idle.median - poll.median).max(0.0),
        min: (idle.min - poll.max).max(0.0),
        max: (idle.max - poll.min).max(0.0),
    })
}

/// The long-gap p99 target: adaptive's histogram p99 over poll's plus [`EXIT_FACTOR`] idle
/// exits, at most 1. Its range runs from the smallest adaptive p99 over the largest poll p99
/// plus the largest exit, to the largest adaptive p99 over the smallest poll p99 plus the
/// smallest exit.
fn exit_target(cells: &[Cell], profile: &str, class: Class, steady: Option<&str>) -> Target {
    let mut ratio = ratios::between(
        cells,
        profile,
        Kind::Latency,
        Variant::Adaptive,
        Variant::Poll,
        Metric::HistP99,
    );
    // Without a steady profile to measure it on, the profile's own runs give the exit (a
    // burst's p50s differ less: an underestimate, which makes the target stricter).
    let on = steady.unwrap_or(profile);
    let exit = exit(cells, on);
    let spread = |v: Variant| {
        cells::find(cells, profile, Kind::Latency, v).and_then(|c| c.spread(Metric::HistP99))
    };
    let (adaptive, poll) = (spread(Variant::Adaptive), spread(Variant::Poll));
    let threshold = poll
        .zip(exit.as_ref().ok())
        .map(|(p, e)| p.median + EXIT_FACTOR * e.median);
    ratio.range = None;
    ratio.value = match (ratio.value.clone(), &exit, adaptive, threshold) {
        (Err(why), _, _, _) => Err(why),
        (_, Err(why), _, _) => Err(why.clone()),
        (_, _, _, Some(t)) if t <= 0.0 => Err(format!("poll hist p99 + exits is {t}")),
        (Ok(_), Ok(e), Some(a), Some(t)) => {
            let p = poll.expect("a threshold has a poll p99");
            let lowest = p.min + EXIT_FACTOR * e.min;
            if lowest > 0.0 {
                ratio.range = Some((a.min / (p.max + EXIT_FACTOR * e.max), a.max / lowest));
            }
            Ok(a.median / t)
        }
        _ => Err("adaptive hist p99 unknown".to_string()),
    };
    // The exit's runs (idle's and poll's on its profile): their contention voids the target
    // too.
    if ratio.not_measurable.is_none() {
        ratio.not_measurable = [Variant::Idle, Variant::Poll].into_iter().find_map(|v| {
            cells::find(cells, on, Kind::Latency, v)
                .and_then(|c| c.not_measurable.as_ref())
                .map(|why| format!("{} on {on}: {why}", v.name()))
        });
    }
    Target {
        ratio,
        bound: Bound::AtMost,
        limit: 1.0,
        limit_text: "1.00",
        class: Ok(class),
        exit: Some(exit),
        threshold,
    }
}

/// The knee of the throughput sweep: among the throughput profiles where the plain stack
/// delivered at least [`KNEE_DELIVERED`] of what it was sent (the median over its runs of
/// `received / sent`), the one with the highest plain delivered rate (median
/// `throughput_pps`), with that rate; why there is none otherwise. Below the knee the plain
/// stack keeps up with the offered rate, so the highest such rate is the highest it carries.
pub fn knee<'a>(runs: &'a [Run], cells: &[Cell]) -> Result<(&'a str, f64), String> {
    let mut best: Option<(&str, f64)> = None;
    for profile in record::profiles(runs, Kind::Throughput) {
        let Some(plain) = cells::find(cells, profile, Kind::Throughput, Variant::Plain) else {
            continue;
        };
        let delivered = Spread::of(plain.runs.iter().filter_map(|r| {
            let sent = r.number("sent")?;
            let received = r.number("received")?;
            (sent > 0.0).then(|| received / sent)
        }));
        let rate = plain.spread(Metric::Throughput);
        if let (Some(d), Some(r)) = (delivered, rate) {
            if d.median >= KNEE_DELIVERED && best.is_none_or(|(_, b)| r.median > b) {
                best = Some((profile, r.median));
            }
        }
    }
    best.ok_or_else(|| {
        format!(
            "no throughput profile where plain delivered ≥ {:.0}% of what it was sent, with a \
             known rate",
            KNEE_DELIVERED * 100.0
        )
    })
}

/// Every target that applies to `runs`: per latency profile, the short- or long-gap targets
/// (or one unknown target when its class is unknown), then every policy's throughput at the
/// knee.
pub fn targets(runs: &[Run], cells: &[Cell], meta: &Meta) -> Vec<Target> {
    let window = poll_window_ns(meta);
    let exit_on = exit_profile(runs, &window).ok();
    let mut out = Vec::new();
    for profile in record::profiles(runs, Kind::Latency) {
        match gap_class(runs, profile, &window) {
            Ok(class @ Class::Short { .. }) => {
                out.extend(
                    SHORT
                        .iter()
                        .map(|s| target(cells, profile, Kind::Latency, s, class)),
                );
            }
            Ok(class) => {
                out.push(exit_target(cells, profile, class, exit_on));
                out.extend(
                    LONG.iter()
                        .map(|s| target(cells, profile, Kind::Latency, s, class)),
                );
            }
            Err(why) => {
                let mut t = target(
                    cells,
                    profile,
                    Kind::Latency,
                    &SHORT[0],
                    Class::Short {
                        gap_ns: 0.0,
                        window_ns: 0.0,
                    },
                );
                t.ratio.value = Err(why.clone());
                t.ratio.range = None;
                t.threshold = None;
                t.class = Err(why);
                out.push(t);
            }
        }
    }
    if record::profiles(runs, Kind::Throughput).is_empty() {
        return out;
    }
    let knee = knee(runs, cells);
    for variant in Variant::POLICIES {
        let spec = Spec {
            numerator: variant,
            denominator: Variant::Plain,
            metric: Metric::Throughput,
            bound: Bound::AtLeast,
            limit: THROUGHPUT_LIMIT,
            limit_text: "0.7",
        };
        match &knee {
            Ok((profile, plain_pps)) => {
                if cells::find(cells, profile, Kind::Throughput, variant).is_some() {
                    let class = Class::Knee {
                        plain_pps: *plain_pps,
                    };
                    out.push(target(cells, profile, Kind::Throughput, &spec, class));
                }
            }
            Err(why) => {
                // No knee, no profile: the target is stated, its outcome unknown.
                let mut t = target(
                    cells,
                    "",
                    Kind::Throughput,
                    &spec,
                    Class::Knee { plain_pps: 0.0 },
                );
                t.ratio.value = Err(why.clone());
                t.class = Err(why.clone());
                out.push(t);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window() -> Meta {
        crate::meta::parse("poll_window_ns=200000 (the module's default)\n").unwrap()
    }

    fn described(runs: &[Run], meta: &Meta) -> Vec<(String, String, String, String)> {
        targets(runs, &cells::cells(runs), meta)
            .iter()
            .map(|t| {
                (
                    t.ratio.profile.clone(),
                    t.class
                        .as_ref()
                        .map_or_else(|_| "unknown".to_string(), |c| c.describe()),
                    t.describe(),
                    t.outcome().describe(),
                )
            })
            .collect()
    }

    fn strings(want: &[(&str, &str, &str, &str)]) -> Vec<(String, String, String, String)> {
        want.iter()
            .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()))
            .collect()
    }

    #[test]
    fn checks_each_class_against_its_limits() {
        let runs = record::parse(
            // Short: 100 µs gaps under a 200 µs window. Adaptive's application p99 is 10× poll's,
            // but the targets judge the histogram: 46000 / 40000 = 1.15, 5% over 1.10; CPU
            // 0.2 / 0.9 = 0.222, 11% inside 0.25.
            "profile=s kind=latency variant=poll gap_ns=100000 app_p99_ns=40000 \
             hist_p99_ns=40000 cpu_busy=0.9\n\
             profile=s kind=latency variant=adaptive gap_ns=100000 app_p99_ns=400000 \
             hist_p99_ns=46000 cpu_busy=0.2\n\
             profile=s kind=latency variant=idle gap_ns=100000 hist_p99_ns=90000 wakeups=900 \
             received=1000\n\
             # Long: 2 ms gaps. Exit = idle p50 - poll p50 = 100 - 20 = 80 µs; limit = 60 + \
             1.2 * 80 = 156 µs; 150 / 156 = 0.962, 4% inside. CPU 0.04 / 1.0, 20% inside 0.05. \
             Wake-ups 50 / 300 = 0.167, 17% inside 0.2.\n\
             profile=l kind=latency variant=idle arrivals=steady gap_ns=2000000 hist_p50_ns=100000 \
             hist_p99_ns=400000 cpu_busy=0.05 wakeups=300 received=1000\n\
             profile=l kind=latency variant=poll arrivals=steady gap_ns=2000000 hist_p50_ns=20000 \
             hist_p99_ns=60000 cpu_busy=1.0 wakeups=0 received=1000\n\
             profile=l kind=latency variant=adaptive arrivals=steady gap_ns=2000000 hist_p99_ns=150000 \
             cpu_busy=0.04 wakeups=50 received=1000\n\
             profile=g kind=latency variant=adaptive hist_p99_ns=1 cpu_busy=0.01\n\
             profile=g kind=latency variant=poll hist_p99_ns=1 cpu_busy=0.9\n\
             # The knee: rate-b, where plain delivered 97% (rate-c's 75% is past it). Poll \
             15000 / 19400 = 0.773, 10% over 0.7; adaptive 12000 / 19400 = 0.619, 12% under.\n\
             profile=rate-a kind=throughput variant=plain sent=1000 received=1000 \
             throughput_pps=10000\n\
             profile=rate-b kind=throughput variant=plain sent=2000 received=1940 \
             throughput_pps=19400\n\
             profile=rate-c kind=throughput variant=plain sent=4000 received=3000 \
             throughput_pps=30000\n\
             profile=rate-a kind=throughput variant=adaptive throughput_pps=10000\n\
             profile=rate-b kind=throughput variant=poll throughput_pps=15000\n\
             profile=rate-b kind=throughput variant=adaptive throughput_pps=12000\n\
             profile=rate-c kind=throughput variant=adaptive throughput_pps=29000\n",
        )
        .unwrap();
        let short = "short gap (100 µs < 200 µs window)";
        let long = "long gap (2000 µs ≥ 200 µs window)";
        let knee = "knee (plain 19400 packets/s)";
        let want = [
            ("s", short, "adaptive hist p99 ≤ 1.10× poll", "missed by 5%"),
            ("s", short, "adaptive CPU ≤ 0.25× poll", "met by 11%"),
            (
                "s",
                short,
                "adaptive host stage CPU/packet ≤ 0.25× poll",
                "n/a (adaptive stage CPU/packet unknown)",
            ),
            (
                "l",
                long,
                "adaptive hist p99 ≤ poll hist p99 + 1.2× idle exit (exit 80 µs)",
                "met by 4%",
            ),
            ("l", long, "adaptive CPU ≤ 0.05× poll", "met by 20%"),
            (
                "l",
                long,
                "adaptive host stage CPU/packet ≤ 0.05× poll",
                "n/a (adaptive stage CPU/packet unknown)",
            ),
            ("l", long, "adaptive wake-ups ≤ 0.2× idle", "met by 17%"),
            (
                "g",
                "unknown",
                "adaptive targets (short- or long-gap class unknown)",
                "n/a (no gap_ns in the runs)",
            ),
            (
                "rate-b",
                knee,
                "poll throughput at the knee ≥ 0.7× plain",
                "met by 10%",
            ),
            (
                "rate-b",
                knee,
                "adaptive throughput at the knee ≥ 0.7× plain",
                "missed by 12%",
            ),
        ];
        assert_eq!(described(&runs, &window()), strings(&want));
        let all = targets(&runs, &cells::cells(&runs), &window());
        assert_eq!(all[3].ratio.value, Ok(150000.0 / 156000.0));
        assert_eq!(all[3].threshold, Some(156000.0));
        assert_eq!(
            all[3].exit,
            Some(Ok(Exit {
                median: 80000.0,
                min: 80000.0,
                max: 80000.0
            }))
        );
        assert_eq!(all[0].threshold, Some(44000.0));

        // Without the window, no profile has a class.
        let got = described(&runs, &Meta::default());
        assert_eq!(got[0].3, "n/a (no poll_window_ns in meta.txt)");
        assert_eq!(
            got[2].3,
            "n/a (no gap_ns in the runs and no poll_window_ns in meta.txt)"
        );
        let meta = crate::meta::parse("poll_window_ns=? (not calibrated)\n").unwrap();
        assert_eq!(
            described(&runs, &meta)[0].3,
            "n/a (meta.txt's poll_window_ns `? (not calibrated)` does not start with a number)"
        );
    }

    #[test]
    fn a_gap_equal_to_the_window_is_long_and_the_limit_itself_is_met() {
        let runs = record::parse(
            "profile=b kind=latency variant=poll gap_ns=200000 cpu_busy=1\n\
             profile=b kind=latency variant=adaptive gap_ns=200000 cpu_busy=0.05\n\
             profile=c kind=latency variant=poll gap_ns=199999 cpu_busy=0.8\n\
             profile=c kind=latency variant=adaptive gap_ns=199999 cpu_busy=0.2\n",
        )
        .unwrap();
        let all = targets(&runs, &cells::cells(&runs), &window());
        assert_eq!(all[0].class.as_ref().unwrap().name(), "long");
        let t = &all[1];
        assert_eq!(t.ratio.value, Ok(0.05));
        assert_eq!(t.outcome(), Outcome::Met { margin: 0.0 });
        assert_eq!(t.outcome().describe(), "met, at the limit");
        let t = &all[5];
        assert_eq!(t.class.as_ref().unwrap().name(), "short");
        assert_eq!(t.ratio.value, Ok(0.25));
        assert_eq!(t.outcome().describe(), "met, at the limit");
    }

    #[test]
    fn the_exit_is_measured_on_the_steady_profile_not_inside_bursts() {
        // Inside bursts idle's p50 is poll's (exit 0); the steady profile's differ by 80 µs.
        let runs = record::parse(
            "profile=b kind=latency variant=idle arrivals=bursts gap_ns=9000000 hist_p50_ns=20000\n\
             profile=b kind=latency variant=poll arrivals=bursts gap_ns=9000000 hist_p50_ns=20000 \
             hist_p99_ns=60000\n\
             profile=b kind=latency variant=adaptive arrivals=bursts gap_ns=9000000 \
             hist_p99_ns=150000\n\
             profile=s kind=latency variant=idle arrivals=steady gap_ns=1000000 hist_p50_ns=100000\n\
             profile=s kind=latency variant=poll arrivals=steady gap_ns=1000000 hist_p50_ns=20000\n\
             profile=t kind=latency variant=idle arrivals=steady gap_ns=100000 hist_p50_ns=900000\n",
        )
        .unwrap();
        // t's gap is below the 200 µs window: not a place to measure an exit.
        assert_eq!(exit_profile(&runs, &Ok(200000.0)), Ok("s"));
        let t = targets(&runs, &cells::cells(&runs), &window()).remove(0);
        assert_eq!(t.ratio.profile, "b");
        // 150 / (60 + 1.2 * 80) = 150 / 156.
        assert_eq!(t.ratio.value, Ok(150000.0 / 156000.0));
        assert!(exit_profile(&runs[..3], &Ok(200000.0)).is_err());
    }

    #[test]
    fn the_exit_target_judges_the_worst_case_and_idle_contention_voids_it() {
        let text = "profile=l kind=latency variant=idle rep=0 arrivals=steady gap_ns=9000000 hist_p50_ns=100000 cell=a\n\
                    profile=l kind=latency variant=idle rep=1 arrivals=steady gap_ns=9000000 hist_p50_ns=120000 cell=b\n\
                    profile=l kind=latency variant=poll rep=0 arrivals=steady gap_ns=9000000 hist_p50_ns=20000 hist_p99_ns=60000 cell=c\n\
                    profile=l kind=latency variant=poll rep=1 arrivals=steady gap_ns=9000000 hist_p50_ns=30000 hist_p99_ns=70000 cell=d\n\
                    profile=l kind=latency variant=adaptive rep=0 arrivals=steady gap_ns=9000000 hist_p99_ns=100000 cell=e\n\
                    profile=l kind=latency variant=adaptive rep=1 arrivals=steady gap_ns=9000000 hist_p99_ns=160000 cell=f\n";
        let mut runs = record::parse(text).unwrap();
        // Exit: median 110 - 25 = 85 µs, smallest 100 - 30 = 70, largest 120 - 20 = 100.
        // Median ratio 130 / (65 + 1.2 * 85) = 130 / 167 clears 1.00; the worst case
        // 160 / (60 + 1.2 * 70) = 160 / 144 = 1.111 does not; the best is 100 / (70 + 120).
        let t = targets(&runs, &cells::cells(&runs), &window()).remove(0);
        assert_eq!(
            t.describe(),
            "adaptive hist p99 ≤ poll hist p99 + 1.2× idle exit (exit 85 µs, 70–100 µs)"
        );
        assert_eq!(t.ratio.value, Ok(130000.0 / 167000.0));
        assert_eq!(
            t.ratio.range,
            Some((100000.0 / 190000.0, 160000.0 / 144000.0))
        );
        let Outcome::Missed { by } = t.outcome() else {
            panic!("{:?}", t.outcome())
        };
        assert!((by - (160.0 / 144.0 - 1.0)).abs() < 1e-9, "{by}");

        let hosts = crate::host::parse(
            "cell=a wall_ns=100 vcpu0=1:1:9:0\ncell=b wall_ns=100 vcpu0=1:1:0:0\n\
             cell=c wall_ns=100 vcpu0=1:1:0:0\ncell=d wall_ns=100 vcpu0=1:1:0:0\n\
             cell=e wall_ns=100 vcpu0=1:1:0:0\ncell=f wall_ns=100 vcpu0=1:1:0:0\n",
        )
        .unwrap();
        cells::annotate(&mut runs, &hosts, &crate::meta::parse("").unwrap());
        let all = targets(&runs, &cells::cells(&runs), &window());
        assert!(all[0]
            .outcome()
            .describe()
            .starts_with("not measurable (idle on l: contended"));
        // Idle does not take part in the CPU target.
        assert_eq!(all[1].outcome().name(), "unknown");
    }

    #[test]
    fn an_exit_is_never_negative_and_needs_idle_and_poll() {
        let runs = record::parse(
            "profile=l kind=latency variant=idle hist_p50_ns=30000\n\
             profile=l kind=latency variant=poll hist_p50_ns=32768\n\
             profile=m kind=latency variant=poll hist_p50_ns=32768\n\
             profile=n kind=latency variant=idle hist_p50_ns=-\n\
             profile=n kind=latency variant=poll hist_p50_ns=32768\n",
        )
        .unwrap();
        let cells = cells::cells(&runs);
        let zero = Exit {
            median: 0.0,
            min: 0.0,
            max: 0.0,
        };
        assert_eq!(exit(&cells, "l"), Ok(zero));
        assert_eq!(
            exit(&cells, "m"),
            Err("no idle run for the idle exit".to_string())
        );
        assert_eq!(exit(&cells, "n"), Err("idle hist p50 unknown".to_string()));
    }

    #[test]
    fn without_a_knee_the_throughput_targets_are_unknown() {
        let runs = record::parse(
            "profile=r kind=throughput variant=plain sent=1000 received=900 throughput_pps=9000\n\
             profile=r kind=throughput variant=poll throughput_pps=9000\n",
        )
        .unwrap();
        let got = described(&runs, &window());
        assert_eq!(got.len(), 4);
        assert_eq!(got[1].2, "poll throughput at the knee ≥ 0.7× plain");
        assert_eq!(
            got[1].3,
            "n/a (no throughput profile where plain delivered ≥ 95% of what it was sent, with \
             a known rate)"
        );
    }

    #[test]
    fn the_whole_range_must_clear_and_contention_voids() {
        let text = "profile=burst kind=latency variant=poll rep=0 gap_ns=1 cpu_busy=0.8 cell=a\n\
                    profile=burst kind=latency variant=poll rep=1 gap_ns=1 cpu_busy=0.9 cell=b\n\
                    profile=burst kind=latency variant=adaptive rep=0 gap_ns=1 cpu_busy=0.1 cell=c\n\
                    profile=burst kind=latency variant=adaptive rep=1 gap_ns=1 cpu_busy=0.3 cell=d\n";
        let mut runs = record::parse(text).unwrap();
        // Medians 0.2/0.85 clear 0.25, but the worst pair (0.3/0.8) does not.
        let t = &targets(&runs, &cells::cells(&runs), &window())[1];
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
        let t = &targets(&runs, &cells::cells(&runs), &window())[1];
        assert_eq!(t.outcome().name(), "not measurable");
        assert!(t.outcome().describe().contains("adaptive: contended"));
    }
}
