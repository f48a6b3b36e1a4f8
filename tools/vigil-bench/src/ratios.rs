// SPDX-License-Identifier: GPL-2.0

//! Ratios between two variants of the same profile, from the same benchmark run.

use crate::cells::{self, Cell};
use crate::record::{self, Kind, Run, Variant};

/// A figure a ratio compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// The application's p99 one-way latency.
    P99,
    /// The p99 of vigil's own hook-to-delivery histogram (a bucket's upper bound, within
    /// 3.2%): the latency measured inside the kernel, which the latency targets judge.
    HistP99,
    /// The mean busy fraction of the stage CPUs.
    CpuBusy,
    /// Host CPU time of the stage vCPU threads per received packet (what polling burns).
    HostCpuPerPacket,
    /// Wake-ups (the stage CPUs' idle exits) per 1000 received packets.
    WakeupsPer1k,
    /// Received packets per second.
    Throughput,
}

impl Metric {
    /// The key of the figure in the runs (and in `results.json`).
    pub fn key(self) -> &'static str {
        match self {
            Metric::P99 => "app_p99_ns",
            Metric::HistP99 => "hist_p99_ns",
            Metric::CpuBusy => "cpu_busy",
            Metric::HostCpuPerPacket => "stage_cpu_ns_per_pkt",
            Metric::WakeupsPer1k => record::WAKEUPS_PER_1K,
            Metric::Throughput => "throughput_pps",
        }
    }

    /// The figure's name in tables, e.g. `CPU busy`.
    pub fn label(self) -> &'static str {
        match self {
            Metric::P99 => "p99",
            Metric::HistP99 => "histogram p99",
            Metric::CpuBusy => "CPU busy",
            Metric::HostCpuPerPacket => "stage CPU/packet",
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
    /// The ratio of the medians, or why there is none.
    pub value: Result<f64, String>,
    /// The range the ratio can take over the runs: the smallest numerator over the largest
    /// denominator, and the largest numerator over the smallest denominator (`None` when a
    /// denominator run is 0 or the value is unknown).
    pub range: Option<(f64, f64)>,
    /// Why either side is not measurable (oversubscribed, contended, unchecked), if so.
    pub not_measurable: Option<String>,
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
pub const SAME_RUN: [(Variant, Variant, Metric); 7] = [
    (Variant::Adaptive, Variant::Poll, Metric::P99),
    (Variant::Adaptive, Variant::Poll, Metric::HistP99),
    (Variant::Adaptive, Variant::Poll, Metric::CpuBusy),
    (Variant::Adaptive, Variant::Poll, Metric::HostCpuPerPacket),
    (Variant::Adaptive, Variant::Idle, Metric::WakeupsPer1k),
    (Variant::Timeout, Variant::Poll, Metric::P99),
    (Variant::Timeout, Variant::Poll, Metric::CpuBusy),
];

/// The ratios the simulator is compared on.
pub const SIMULATED: [(Variant, Variant, Metric); 3] = [
    (Variant::Adaptive, Variant::Poll, Metric::HistP99),
    (Variant::Adaptive, Variant::Poll, Metric::CpuBusy),
    (Variant::Adaptive, Variant::Idle, Metric::WakeupsPer1k),
];

/// `numerator`'s `metric` over `denominator`'s in the `kind` runs of `profile`.
pub fn between(
    cells: &[Cell],
    profile: &str,
    kind: Kind,
    numerator: Variant,
    denominator: Variant,
    metric: Metric,
) -> Ratio {
    let side = |variant: Variant| -> Result<&Cell, String> {
        cells::find(cells, profile, kind, variant)
            .ok_or_else(|| format!("no {} run", variant.name()))
    };
    let (top, bottom) = (side(numerator), side(denominator));
    let value = top.clone().and_then(|t| {
        bottom.clone().and_then(|b| {
            quotient(
                numerator,
                t.spread(metric).map(|s| s.median),
                denominator,
                b.spread(metric).map(|s| s.median),
                metric,
            )
        })
    });
    let range = match (&value, &top, &bottom) {
        (Ok(_), Ok(t), Ok(b)) => t
            .spread(metric)
            .zip(b.spread(metric))
            .and_then(|(t, b)| (b.min > 0.0).then(|| (t.min / b.max, t.max / b.min))),
        _ => None,
    };
    let not_measurable = [(numerator, &top), (denominator, &bottom)]
        .iter()
        .find_map(|(v, c)| {
            c.as_ref()
                .ok()
                .and_then(|c| c.not_measurable.as_ref())
                .map(|why| format!("{}: {why}", v.name()))
        });
    Ratio {
        profile: profile.to_string(),
        kind,
        numerator,
        denominator,
        metric,
        value,
        range,
        not_measurable,
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
pub fn same_run(runs: &[Run], cells: &[Cell]) -> Vec<Ratio> {
    let mut out = Vec::new();
    for profile in record::profiles(runs, Kind::Latency) {
        for (top, bottom, metric) in SAME_RUN {
            out.push(between(cells, profile, Kind::Latency, top, bottom, metric));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs() -> Vec<Run> {
        record::parse(
            "profile=p kind=latency variant=poll app_p99_ns=40000 hist_p99_ns=65536 cpu_busy=0.8 \
             wakeups=0 received=1000\n\
             profile=p kind=latency variant=adaptive app_p99_ns=20000 hist_p99_ns=16384 \
             cpu_busy=0.2 wakeups=30 received=1000\n\
             profile=p kind=latency variant=idle app_p99_ns=90000 cpu_busy=0.1 wakeups=0 \
             received=1000\n\
             profile=p kind=latency variant=timeout app_p99_ns=- cpu_busy=0.4\n",
        )
        .unwrap()
    }

    #[test]
    fn computes_known_ratios_and_explains_missing_ones() {
        let runs = runs();
        let ratios = same_run(&runs, &cells::cells(&runs));
        let got: Vec<(String, Result<f64, String>)> =
            ratios.iter().map(|r| (r.name(), r.value.clone())).collect();
        assert_eq!(
            got,
            vec![
                ("adaptive/poll p99".to_string(), Ok(0.5)),
                ("adaptive/poll histogram p99".to_string(), Ok(0.25)),
                ("adaptive/poll CPU busy".to_string(), Ok(0.25)),
                (
                    "adaptive/poll stage CPU/packet".to_string(),
                    Err("adaptive stage CPU/packet unknown".to_string())
                ),
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
    fn ranges_span_the_runs() {
        let mut runs = record::parse(
            "profile=p kind=latency variant=poll rep=0 app_p99_ns=40\n\
             profile=p kind=latency variant=poll rep=1 app_p99_ns=50\n\
             profile=p kind=latency variant=adaptive rep=0 app_p99_ns=20\n\
             profile=p kind=latency variant=adaptive rep=1 app_p99_ns=30\n",
        )
        .unwrap();
        cells::annotate(&mut runs, &[], &crate::meta::parse("").unwrap());
        let cells = cells::cells(&runs);
        let r = between(
            &cells,
            "p",
            Kind::Latency,
            Variant::Adaptive,
            Variant::Poll,
            Metric::P99,
        );
        assert_eq!(r.value, Ok(25.0 / 45.0));
        assert_eq!(r.range, Some((0.4, 0.75)));
        assert!(r
            .not_measurable
            .unwrap()
            .starts_with("adaptive: no host sample"));
    }

    #[test]
    fn a_missing_run_is_named() {
        let cells = cells::cells(&runs());
        let r = between(
            &cells,
            "p",
            Kind::Latency,
            Variant::Adaptive,
            Variant::Plain,
            Metric::P99,
        );
        assert_eq!(r.value, Err("no plain run".to_string()));
        let r = between(
            &cells,
            "p",
            Kind::Throughput,
            Variant::Idle,
            Variant::Plain,
            Metric::Throughput,
        );
        assert_eq!(r.value, Err("no idle run".to_string()));
    }
}
