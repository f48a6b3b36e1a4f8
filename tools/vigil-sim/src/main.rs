// SPDX-License-Identifier: GPL-2.0

//! `vigil-sim`: simulate vigil's pipeline under each policy and print one row per policy.
//!
//! The model is described in the library's documentation (`src/lib.rs`).

use std::process::ExitCode;

use clap::Parser;
use vigil_core::allocator::Settings;
use vigil_core::config::CpuList;
use vigil_sim::config::MAX_CPUS;
use vigil_sim::report::{self, Row};
use vigil_sim::{plot, ramp, run, Allocation, Config, Costs, Policy, Profile, Summary};

/// The pipelines `--scale` runs: (lanes, stages, cpus).
const SCALE: [(usize, usize, usize); 4] = [(1, 2, 2), (2, 4, 8), (4, 8, 32), (8, 8, 64)];

/// Packets sent unless `--packets` says otherwise (a trace or pcap: all of its packets).
const DEFAULT_PACKETS: usize = 20_000;

/// The pipeline simulated unless told otherwise: its knobs are the module's defaults.
fn defaults() -> Config {
    Config::new(2, 3, 6)
}

/// `--pin STAGE=CPULIST`: a stage the allocator leaves on these CPUs.
fn pin(arg: &str) -> Result<(usize, Vec<usize>), String> {
    let (stage, cpus) = arg
        .split_once('=')
        .ok_or(format!("expected STAGE=CPULIST, got '{arg}'"))?;
    let stage = stage.parse().map_err(|_| format!("bad stage '{stage}'"))?;
    let list = CpuList::parse(cpus.as_bytes(), MAX_CPUS as u32)
        .map_err(|_| format!("bad CPU list '{cpus}'"))?;
    Ok((
        stage,
        (0..MAX_CPUS).filter(|&c| list.0 >> c & 1 == 1).collect(),
    ))
}

/// The policies to run: one, or `all`.
#[derive(Debug, Clone)]
struct Policies(Vec<Policy>);

impl std::str::FromStr for Policies {
    type Err = String;

    fn from_str(name: &str) -> Result<Policies, String> {
        if name == "all" {
            return Ok(Policies(Policy::ALL.to_vec()));
        }
        Policy::from_name(name.as_bytes())
            .map(|p| Policies(vec![p]))
            .ok_or_else(|| format!("unknown policy '{name}'"))
    }
}

// `about` is the package's description, from Cargo.toml; the model is described in the
// library's documentation (`src/lib.rs`).
#[derive(Debug, Parser)]
#[command(
    name = "vigil-sim",
    version,
    about,
    after_help = format!(
        "--scale runs the same traffic on {} lanes x stages (CPUs: {}).",
        SCALE.map(|(l, s, _)| format!("{l}x{s}")).join(", "),
        SCALE.map(|(.., c)| c.to_string()).join(", ")
    )
)]
struct Options {
    /// Lanes.
    #[arg(long, value_name = "L", default_value_t = defaults().lanes)]
    lanes: usize,
    /// Stages per lane.
    #[arg(long, value_name = "S", default_value_t = defaults().stages)]
    stages: usize,
    #[arg(long, value_name = "C",
          help = format!("CPUs of the machine (default: lanes x stages, at most {MAX_CPUS})"))]
    cpus: Option<usize>,
    /// Service time per packet, ns: one for every stage, or one per stage.
    #[arg(long, value_name = "N[,N...]", value_delimiter = ',',
          default_values_t = [defaults().service_ns[0]])]
    service_ns: Vec<u64>,
    /// poll_window_ns.
    #[arg(long, value_name = "W", default_value_t = defaults().window_ns)]
    window_ns: u64,
    /// backlog_threshold.
    #[arg(long, value_name = "T", default_value_t = defaults().backlog_threshold)]
    threshold: u32,
    /// burst_gap_ns.
    #[arg(long, value_name = "G", default_value_t = defaults().burst_gap_ns)]
    burst_gap_ns: u64,
    #[arg(long, value_name = "N",
          help = format!("Packets to send (default: {DEFAULT_PACKETS}; a trace's or pcap's: all)"))]
    packets: Option<usize>,
    /// Seed of the Poisson profile.
    #[arg(long, value_name = "N", default_value_t = 1)]
    seed: u64,
    /// The traffic: steady:PPS, bursts:B:GAP_NS[:SPACING_NS], poisson:PPS,
    /// ramp:LOW_PPS:HIGH_PPS:PHASE_MS (low to high to low in five phases), trace:PATH (one
    /// timestamp in ns per line) or pcap:PATH.
    #[arg(long, value_name = "PROFILE", default_value = "bursts:32:200000",
          value_parser = Profile::parse)]
    profile: Profile,
    /// idle, poll, timeout, adaptive or all.
    #[arg(long, value_name = "POLICY", default_value = "all")]
    policy: Policies,
    /// Print a JSON array, one object per run.
    #[arg(long)]
    json: bool,
    /// Run on several pipeline sizes (below), with lanes, stages and CPUs columns.
    #[arg(long)]
    scale: bool,
    /// The CPU of every stage of every lane, stage 0's lanes first.
    #[arg(long, value_name = "CPU,...", value_delimiter = ',')]
    cpu_map: Option<Vec<usize>>,
    /// From sending an IPI to the context being on the target CPU's poll list, ns.
    #[arg(long, value_name = "N", default_value_t = Costs::default().ipi_ns)]
    ipi_ns: u64,
    /// Leaving a deep C-state, ns.
    #[arg(long, value_name = "N", default_value_t = Costs::default().deep_exit_ns)]
    deep_exit_ns: u64,
    /// Leaving a shallow C-state, ns.
    #[arg(long, value_name = "N", default_value_t = Costs::default().shallow_exit_ns)]
    shallow_exit_ns: u64,
    /// Sleeps longer than this end in a deep C-state, ns.
    #[arg(long, value_name = "N", default_value_t = Costs::default().residency_ns)]
    residency_ns: u64,
    /// One poll that finds its queue empty, ns.
    #[arg(long, value_name = "N", default_value_t = Costs::default().poll_ns)]
    poll_ns: u64,
    /// Packets one poll processes at most.
    #[arg(long, value_name = "N", default_value_t = Costs::default().budget)]
    budget: u32,
    /// Record a stage's last work only when a poll drains its queue, as rust/pipeline.rs
    /// does, instead of after every packet.
    #[arg(long)]
    stale_last_work: bool,
    /// Run the CPU allocator (rust/shared/allocator.rs), the machine's CPUs being the pool,
    /// and print its trace, one line per interval.
    #[arg(long)]
    allocate: bool,
    /// With --allocate: leave stage STAGE on these CPUs (repeatable).
    #[arg(long, value_name = "STAGE=CPULIST", value_parser = pin, requires = "allocate")]
    pin: Vec<(usize, Vec<usize>)>,
    /// With --allocate: the allocator's interval, ms.
    #[arg(long, value_name = "N", requires = "allocate",
          default_value_t = Settings::DEFAULT.interval_ns / 1_000_000)]
    interval_ms: u64,
    /// With --allocate: busy per-mille above which a stage gains a CPU.
    #[arg(long, value_name = "PERMILLE", requires = "allocate",
          default_value_t = Settings::DEFAULT.high_water_permille)]
    high_water: u32,
    /// With --allocate: busy per-mille below which a stage gives one back.
    #[arg(long, value_name = "PERMILLE", requires = "allocate",
          default_value_t = Settings::DEFAULT.low_water_permille)]
    low_water: u32,
    /// With --allocate: intervals in a row past a mark before a change.
    #[arg(long, value_name = "N", requires = "allocate",
          default_value_t = Settings::DEFAULT.hysteresis)]
    hysteresis: u32,
    /// With --allocate: intervals without a change after one.
    #[arg(long, value_name = "N", requires = "allocate",
          default_value_t = Settings::DEFAULT.cooldown)]
    cooldown: u32,
    /// With --allocate and one --policy: write the trace as CSV.
    #[arg(long, value_name = "PATH", requires = "allocate")]
    csv: Option<String>,
    /// With --allocate and one --policy: write the trace's plot as SVG.
    #[arg(long, value_name = "PATH", requires = "allocate")]
    svg: Option<String>,
}

impl Options {
    /// The pipeline the options describe (before `--scale` and the service times).
    fn config(&self) -> Config {
        Config {
            lanes: self.lanes,
            stages: self.stages,
            cpus: self
                .cpus
                .unwrap_or((self.lanes * self.stages).min(MAX_CPUS)),
            cpu_map: self.cpu_map.clone(),
            window_ns: self.window_ns,
            backlog_threshold: self.threshold,
            burst_gap_ns: self.burst_gap_ns,
            costs: Costs {
                ipi_ns: self.ipi_ns,
                deep_exit_ns: self.deep_exit_ns,
                shallow_exit_ns: self.shallow_exit_ns,
                residency_ns: self.residency_ns,
                poll_ns: self.poll_ns,
                budget: self.budget,
            },
            stale_last_work: self.stale_last_work,
            allocation: self.allocate.then(|| Allocation {
                settings: self.settings(),
                pinned: self.pin.clone(),
            }),
            ..defaults()
        }
    }

    /// The allocator's knobs.
    fn settings(&self) -> Settings {
        Settings {
            interval_ns: self.interval_ms.saturating_mul(1_000_000),
            high_water_permille: self.high_water,
            low_water_permille: self.low_water,
            hysteresis: self.hysteresis,
            cooldown: self.cooldown,
        }
    }

    /// `config` with `stages` service times: one value applies to every stage.
    fn with_service(&self, mut config: Config) -> Result<Config, String> {
        config.service_ns = match self.service_ns.as_slice() {
            [one] => vec![*one; config.stages],
            many if many.len() == config.stages => many.to_vec(),
            many => {
                return Err(format!(
                    "--service-ns: {} values for {} stages",
                    many.len(),
                    config.stages
                ))
            }
        };
        Ok(config)
    }

    /// The pipelines to run.
    fn configs(&self) -> Result<Vec<Config>, String> {
        if !self.scale {
            return Ok(vec![self.with_service(self.config())?]);
        }
        SCALE
            .iter()
            .map(|&(lanes, stages, cpus)| {
                self.with_service(Config {
                    lanes,
                    stages,
                    cpus,
                    cpu_map: None,
                    ..self.config()
                })
            })
            .collect()
    }
}

fn simulate(o: &Options) -> Result<(), String> {
    if o.allocate && o.scale {
        return Err("--allocate and --scale do not go together".into());
    }
    if (o.csv.is_some() || o.svg.is_some()) && o.policy.0.len() > 1 {
        return Err("--csv and --svg need one --policy".into());
    }
    let packets = match (&o.profile, o.packets) {
        (_, Some(n)) => n,
        (Profile::Trace(_) | Profile::Pcap(_) | Profile::Ramp { .. }, None) => usize::MAX,
        (_, None) => DEFAULT_PACKETS,
    };
    let arrivals = o.profile.arrivals(packets, o.seed)?;
    let mut rows = Vec::new();
    for config in o.configs()? {
        for &policy in &o.policy.0 {
            let outcome = run(&config, policy, &arrivals)?;
            if o.allocate {
                allocator_trace(o, &config, &outcome)?;
            }
            rows.push(Row::new(&config, Summary::of(&outcome)));
        }
    }
    if o.json {
        print!("{}", report::json(&rows).map_err(|e| e.to_string())?);
    } else {
        print!("{}", report::table(&rows, o.scale));
    }
    Ok(())
}

/// Prints the allocator's trace of `outcome`, and writes it as CSV and SVG if asked.
fn allocator_trace(
    o: &Options,
    config: &Config,
    outcome: &vigil_sim::Outcome,
) -> Result<(), String> {
    let rows = ramp::rows(outcome);
    if !o.json {
        println!("policy {}:", outcome.policy.name());
        print!("{}", ramp::table(&rows, config.stages));
    }
    let write =
        |path: &str, text: String| std::fs::write(path, text).map_err(|e| format!("{path}: {e}"));
    if let Some(path) = &o.csv {
        write(path, ramp::csv(&rows, config.stages))?;
    }
    if let Some(path) = &o.svg {
        let title = format!(
            "CPU allocation under load: {} stages, a pool of {} CPUs, {} lanes, policy {}",
            config.stages,
            config.cpus,
            config.lanes,
            outcome.policy.name()
        );
        write(
            path,
            plot::render(&outcome.intervals, &o.settings(), config.cpus, &title),
        )?;
    }
    Ok(())
}

fn main() -> ExitCode {
    match simulate(&Options::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vigil-sim: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(argv: &str) -> Result<Options, clap::Error> {
        Options::try_parse_from(std::iter::once("vigil-sim").chain(argv.split_whitespace()))
    }

    #[test]
    fn parses_what_bench_sh_passes() {
        Options::command().debug_assert();
        let o = parse(
            "--lanes 1 --stages 3 --cpus 4 --cpu-map 1,2,3 --service-ns 3000,3000,5000 \
             --window-ns 500000 --burst-gap-ns 200000 --ipi-ns 20000 --deep-exit-ns 50000 \
             --shallow-exit-ns 10000 --residency-ns 500000 --poll-ns 5000 \
             --profile bursts:4:400000:33172 --packets 2000 --json",
        )
        .unwrap();
        let configs = o.configs().unwrap();
        let c = &configs[0];
        assert_eq!((c.lanes, c.stages, c.cpus), (1, 3, 4));
        assert_eq!(c.cpu_map, Some(vec![1, 2, 3]));
        assert_eq!(c.service_ns, [3000, 3000, 5000]);
        assert_eq!((c.window_ns, c.burst_gap_ns), (500_000, 200_000));
        assert_eq!(c.costs.ipi_ns, 20_000);
        assert_eq!(c.costs.budget, Costs::default().budget);
        assert_eq!(o.policy.0, Policy::ALL);
        assert_eq!(o.packets, Some(2000));
        assert!(o.json && !o.scale);
        // The defaults: the module's knobs, one service time for every stage.
        let d = parse("--policy poll").unwrap();
        assert_eq!(d.configs().unwrap(), [defaults()]);
        assert_eq!(d.policy.0, [Policy::Poll]);
        assert_eq!(
            parse("--scale").unwrap().configs().unwrap().len(),
            SCALE.len()
        );
    }

    #[test]
    fn refuses_bad_arguments_with_a_usage_error() {
        for bad in [
            "--frob",
            "--lanes x",
            "--lanes",
            "--policy busy",
            "--profile bursts:0:1",
            "--cpu-map 1,x",
            "extra",
        ] {
            assert_eq!(parse(bad).unwrap_err().exit_code(), 2, "{bad}");
        }
        assert_eq!(parse("--help").unwrap_err().exit_code(), 0);
        // Checked once the pipeline is known: a failure, not a usage error.
        assert!(parse("--service-ns 1,2").unwrap().configs().is_err());
    }
}
