// SPDX-License-Identifier: GPL-2.0

//! Ratios between two variants of the same profile, from the same benchmark run.

use crate::record::{self, Kind, Run, Variant};

/// A figure a ratio compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// The application's p99 one-way latency.
    P99,
    /// The mean busy fraction of the stage CPUs.
    CpuBusy,
    /// Wake-ups (IPIs) per 1000 received packets.
    WakeupsPer1k,
    /// Received packets per second.
    Throughput,
}

impl Metric {
    /// The key of the figure in the runs (and in `results.json`).
    pub fn key(self) -> &'static str {
        match self {
            Metric::P99 => "app_p99_ns",
            Metric::CpuBusy => "cpu_busy",
            Metric::WakeupsPer1k => record::WAKEUPS_PER_1K,
            Metric::Throughput => "throughput_pps",
        }
    }

    /// The figure's name in tables, e.g. `CPU busy`.
    pub fn label(self) -> &'static str {
        match self {
            Metric::P99 => "p99",
            Metric::CpuBusy => "CPU busy",
            Metric::WakeupsPer1k => "wake-ups",
            Metric::Throughput => "throughput",
        }
    }

    /// The figure in `run`, if known.
    pub fn of(self, run: &Run) -> Option<f64> {
        match self {
            Metric::WakeupsPer1k => run.wakeups_per_1k(),
            _ => run.number(self.key()),
        }
    }
}

/// `numerator`'s figure over `denominator`'s, for one profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Ratio {
    /// The profile.
    pub profile: String,
    /// The kind of the runs compared.
    pub kind: Kind,
    /// The variant on top.
    pub numerator: Variant,
    /// The variant below.
    pub denominator: Variant,
    /// The figure compared.
    pub metric: Metric,
    /// The ratio, or why there is none.
    pub value: Result<f64, String>,
}

impl Ratio {
    /// The ratio's name, e.g. `adaptive/poll p99`.
    pub fn name(&self) -> String {
        name(self.numerator, self.denominator, self.metric)
    }
}

/// The name of a ratio, e.g. `adaptive/poll p99`.
pub fn name(numerator: Variant, denominator: Variant, metric: Metric) -> String {
    format!(
        "{}/{} {}",
        numerator.name(),
        denominator.name(),
        metric.label()
    )
}

/// The ratios the report gives for every latency profile, in table order.
pub const SAME_RUN: [(Variant, Variant, Metric); 5] = [
    (Variant::Adaptive, Variant::Poll, Metric::P99),
    (Variant::Adaptive, Variant::Poll, Metric::CpuBusy),
    (Variant::Adaptive, Variant::Idle, Metric::WakeupsPer1k),
    (Variant::Timeout, Variant::Poll, Metric::P99),
    (Variant::Timeout, Variant::Poll, Metric::CpuBusy),
];

/// The ratios the simulator is compared on.
pub const SIMULATED: [(Variant, Variant, Metric); 3] = [
    (Variant::Adaptive, Variant::Poll, Metric::P99),
    (Variant::Adaptive, Variant::Poll, Metric::CpuBusy),
    (Variant::Adaptive, Variant::Idle, Metric::WakeupsPer1k),
];

/// `numerator`'s `metric` over `denominator`'s in the `kind` runs of `profile`.
pub fn between(
    runs: &[Run],
    profile: &str,
    kind: Kind,
    numerator: Variant,
    denominator: Variant,
    metric: Metric,
) -> Ratio {
    let side = |variant: Variant| -> Result<Option<f64>, String> {
        record::find(runs, profile, kind, variant)
            .map(|run| metric.of(run))
            .ok_or_else(|| format!("no {} run", variant.name()))
    };
    let value = side(numerator).and_then(|top| {
        side(denominator).and_then(|bottom| quotient(numerator, top, denominator, bottom, metric))
    });
    Ratio {
        profile: profile.to_string(),
        kind,
        numerator,
        denominator,
        metric,
        value,
    }
}

/// `top / bottom`, or why it is not defined: an unknown operand or a denominator that is not
/// positive.
pub fn quotient(
    numerator: Variant,
    top: Option<f64>,
    denominator: Variant,
    bottom: Option<f64>,
    metric: Metric,
) -> Result<f64, String> {
    let unknown = |v: Variant| format!("{} {} unknown", v.name(), metric.label());
    let top = top.ok_or_else(|| unknown(numerator))?;
    let bottom = bottom.ok_or_else(|| unknown(denominator))?;
    if bottom > 0.0 {
        Ok(top / bottom)
    } else {
        Err(format!(
            "{} {} is {bottom}",
            denominator.name(),
            metric.label()
        ))
    }
}

/// The [`SAME_RUN`] ratios of every latency profile, profile by profile.
pub fn same_run(runs: &[Run]) -> Vec<Ratio> {
    let mut out = Vec::new();
    for profile in record::profiles(runs, Kind::Latency) {
        for (top, bottom, metric) in SAME_RUN {
            out.push(between(runs, profile, Kind::Latency, top, bottom, metric));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs() -> Vec<Run> {
        record::parse(
            "profile=p kind=latency variant=poll app_p99_ns=40000 cpu_busy=0.8 wakeups=0 \
             received=1000\n\
             profile=p kind=latency variant=adaptive app_p99_ns=20000 cpu_busy=0.2 wakeups=30 \
             received=1000\n\
             profile=p kind=latency variant=idle app_p99_ns=90000 cpu_busy=0.1 wakeups=0 \
             received=1000\n\
             profile=p kind=latency variant=timeout app_p99_ns=- cpu_busy=0.4\n",
        )
        .unwrap()
    }

    #[test]
    fn computes_known_ratios_and_explains_missing_ones() {
        let ratios = same_run(&runs());
        let got: Vec<(String, Result<f64, String>)> =
            ratios.iter().map(|r| (r.name(), r.value.clone())).collect();
        assert_eq!(
            got,
            vec![
                ("adaptive/poll p99".to_string(), Ok(0.5)),
                ("adaptive/poll CPU busy".to_string(), Ok(0.25)),
                (
                    "adaptive/idle wake-ups".to_string(),
                    Err("idle wake-ups is 0".to_string())
                ),
                (
                    "timeout/poll p99".to_string(),
                    Err("timeout p99 unknown".to_string())
                ),
                ("timeout/poll CPU busy".to_string(), Ok(0.5)),
            ]
        );
    }

    #[test]
    fn a_missing_run_is_named() {
        let r = between(
            &runs(),
            "p",
            Kind::Latency,
            Variant::Adaptive,
            Variant::Plain,
            Metric::P99,
        );
        assert_eq!(r.value, Err("no plain run".to_string()));
        let r = between(
            &runs(),
            "p",
            Kind::Throughput,
            Variant::Idle,
            Variant::Plain,
            Metric::Throughput,
        );
        assert_eq!(r.value, Err("no idle run".to_string()));
    }
}
