// SPDX-License-Identifier: GPL-2.0

//! The simulator's costs, measured in the VM: `vigil-bench-report --sim-costs` prints them as
//! `vigil-sim` options, and `make bench` runs the simulator with them.
//!
//! Both come from the steady profile with gaps longer than the window
//! ([`targets::exit_profile`]), where every packet crosses the pipeline alone:
//! - **service**: poll's histogram p50 there is the pipeline's time for one packet when no
//!   CPU has to wake up (the stages' work and the hand-offs between them), split over the
//!   stages by [`SERVICE_WEIGHTS`];
//! - **idle exit**: idle's p50 minus poll's ([`targets::exit`]), from the IPI to the stage
//!   polling. Under TCG a halted vCPU has one idle state, so the simulator's shallow and deep
//!   exits are both that, less [`IPI_NS`] for the IPI itself.

use crate::cells;
use crate::record::{Kind, Variant};
use crate::report::Report;
use crate::targets::{self, Exit};

/// How the pipeline's time splits over its three stages (`parse`, `rules`, `work` of 2 µs):
/// the proportions the simulator used before it was calibrated.
pub const SERVICE_WEIGHTS: [f64; 3] = [3.0, 3.0, 5.0];

/// The part of an exit the simulator counts as the IPI's own delivery.
pub const IPI_NS: f64 = 1000.0;

/// What the VM measured for the simulator.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    /// The profile it was measured on.
    pub profile: String,
    /// Poll's median histogram p50 there: the pipeline's time for one packet, ns.
    pub service_ns: f64,
    /// Idle's p50 minus poll's there.
    pub exit: Exit,
}

impl Calibration {
    /// Measures the costs in `report`'s runs, or says why it cannot.
    pub fn of(report: &Report) -> Result<Calibration, String> {
        let window = targets::poll_window_ns(&report.meta);
        let profile = targets::exit_profile(&report.runs, &window)?;
        let exit = targets::exit(&report.cells, profile)?;
        let poll = cells::find(&report.cells, profile, Kind::Latency, Variant::Poll)
            .and_then(|c| c.spread_of("hist_p50_ns"))
            .ok_or_else(|| format!("no poll hist p50 on {profile}"))?;
        if exit.median <= IPI_NS || poll.median <= 0.0 {
            return Err(format!(
                "on {profile}: an exit of {} ns and a service of {} ns are not costs",
                exit.median, poll.median
            ));
        }
        Ok(Calibration {
            profile: profile.to_string(),
            service_ns: poll.median,
            exit,
        })
    }

    /// The `vigil-sim` options: per-stage service times and the exit costs, in ns.
    pub fn sim_args(&self) -> String {
        let total: f64 = SERVICE_WEIGHTS.iter().sum();
        let service: Vec<String> = SERVICE_WEIGHTS
            .iter()
            .map(|w| format!("{:.0}", self.service_ns * w / total))
            .collect();
        let exit = self.exit.median - IPI_NS;
        format!(
            "--service-ns {} --ipi-ns {IPI_NS:.0} --deep-exit-ns {exit:.0} --shallow-exit-ns \
             {exit:.0}",
            service.join(",")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta;
    use crate::record;

    #[test]
    fn costs_come_from_the_steady_long_gap_profile() {
        let runs = record::parse(
            "profile=s kind=latency variant=idle arrivals=steady gap_ns=1000000 hist_p50_ns=91000\n\
             profile=s kind=latency variant=poll arrivals=steady gap_ns=1000000 hist_p50_ns=22000\n\
             profile=b kind=latency variant=idle arrivals=bursts gap_ns=9000000 hist_p50_ns=5\n",
        )
        .unwrap();
        let meta = meta::parse("poll_window_ns=200000 (default)\n").unwrap();
        let report = Report::new(meta, runs, Vec::new());
        let c = Calibration::of(&report).unwrap();
        assert_eq!(c.profile, "s");
        // 22 µs split 3:3:5 over the stages; the exit 91 - 22 = 69 µs, less 1 µs of IPI.
        assert_eq!(
            c.sim_args(),
            "--service-ns 6000,6000,10000 --ipi-ns 1000 --deep-exit-ns 68000 --shallow-exit-ns \
             68000"
        );
        let none = Report::new(
            meta::parse("poll_window_ns=200000\n").unwrap(),
            record::parse("profile=b kind=latency variant=idle arrivals=bursts gap_ns=1\n")
                .unwrap(),
            Vec::new(),
        );
        assert!(Calibration::of(&none)
            .unwrap_err()
            .contains("no steady profile"));
    }
}
