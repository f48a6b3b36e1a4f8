// SPDX-License-Identifier: GPL-2.0

//! `vigil-sim`: simulate vigil's pipeline under each policy and print one row per policy.
//!
//! The model is described in the library's documentation (`src/lib.rs`).

use std::process::ExitCode;

use vigil_core::allocator::Settings;
use vigil_core::config::CpuList;
use vigil_sim::config;
use vigil_sim::report::{self, Row};
use vigil_sim::{plot, ramp, run, Allocation, Config, Policy, Profile, Summary};

const USAGE: &str = "usage: vigil-sim [--lanes L] [--stages S] [--cpus C] [--service-ns N[,N...]]
                 [--window-ns W] [--threshold T] [--burst-gap-ns G] [--packets N] [--seed N]
                 [--profile steady:PPS | bursts:B:GAP_NS[:SPACING_NS] | poisson:PPS
                            | ramp:LOW_PPS:HIGH_PPS:PHASE_MS | trace:PATH | pcap:PATH]
                 [--policy idle|poll|timeout|adaptive|all] [--json] [--scale]
                 [--cpu-map CPU,...] [--ipi-ns N] [--deep-exit-ns N] [--shallow-exit-ns N]
                 [--residency-ns N] [--poll-ns N] [--budget N] [--stale-last-work]
                 [--allocate [--pin STAGE=CPULIST]... [--interval-ms N] [--high-water PERMILLE]
                  [--low-water PERMILLE] [--hysteresis N] [--cooldown N] [--csv PATH]
                  [--svg PATH]]
defaults: 2 lanes, 3 stages, lanes*stages CPUs (at most 64), 1000 ns per stage, window 50000,
threshold 1, burst gap 20000, bursts:32:200000, 20000 packets (a trace's packets: all), seed 1,
policy all.
--scale runs the same traffic on 1x2, 2x4, 4x8 and 8x8 lanes x stages, up to 64 CPUs.
--cpu-map lists the CPU of every stage of every lane, stage 0's lanes first.
--stale-last-work records a stage's last work only when a poll drains its queue, as
rust/pipeline.rs does, instead of after every packet.
--allocate runs the CPU allocator, the machine's CPUs being the pool, and prints its trace,
one line per interval (defaults: rust/shared/allocator.rs, Settings::DEFAULT); --pin leaves
a stage on the CPUs given; --csv and --svg write the trace and its plot (one policy only).
A ramp's packets: all.";

/// The pipelines `--scale` runs: (lanes, stages, cpus).
const SCALE: [(usize, usize, usize); 4] = [(1, 2, 2), (2, 4, 8), (4, 8, 32), (8, 8, 64)];

struct Options {
    config: Config,
    cpus_given: bool,
    service_ns: Vec<u64>,
    profile: Profile,
    packets: Option<usize>,
    seed: u64,
    policies: Vec<Policy>,
    json: bool,
    scale: bool,
    allocate: bool,
    allocation: Allocation,
    csv: Option<String>,
    svg: Option<String>,
}

fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{flag}: bad number '{value}'"))
}

fn list<T: std::str::FromStr>(flag: &str, value: &str) -> Result<Vec<T>, String> {
    value.split(',').map(|v| number(flag, v)).collect()
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        let mut o = Options {
            config: Config::new(2, 3, 6),
            cpus_given: false,
            service_ns: vec![1_000],
            profile: Profile::Bursts {
                burst: 32,
                gap_ns: 200_000,
                spacing_ns: 0,
            },
            packets: None,
            seed: 1,
            policies: Policy::ALL.to_vec(),
            json: false,
            scale: false,
            allocate: false,
            allocation: Allocation {
                settings: Settings::DEFAULT,
                pinned: Vec::new(),
            },
            csv: None,
            svg: None,
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            match flag.as_str() {
                "--json" => o.json = true,
                "--scale" => o.scale = true,
                "--stale-last-work" => o.config.stale_last_work = true,
                "--allocate" => o.allocate = true,
                "-h" | "--help" => return Err(String::new()),
                _ => {
                    let value = it.next().ok_or(format!("{flag} needs a value"))?;
                    o.set(flag, value)?;
                }
            }
        }
        if !o.cpus_given {
            o.config.cpus = (o.config.lanes * o.config.stages).min(64);
        }
        if o.allocate {
            if o.scale {
                return Err("--allocate and --scale do not go together".into());
            }
            o.config.allocation = Some(o.allocation.clone());
        } else if o.csv.is_some() || o.svg.is_some() || !o.allocation.pinned.is_empty() {
            return Err("--pin, --csv and --svg need --allocate".into());
        }
        if (o.csv.is_some() || o.svg.is_some()) && o.policies.len() > 1 {
            return Err("--csv and --svg need one --policy".into());
        }
        Ok(o)
    }

    fn set(&mut self, flag: &str, value: &str) -> Result<(), String> {
        let c = &mut self.config;
        match flag {
            "--lanes" => c.lanes = number(flag, value)?,
            "--stages" => c.stages = number(flag, value)?,
            "--cpus" => {
                c.cpus = number(flag, value)?;
                self.cpus_given = true;
            }
            "--service-ns" => self.service_ns = list(flag, value)?,
            "--window-ns" => c.window_ns = number(flag, value)?,
            "--threshold" => c.backlog_threshold = number(flag, value)?,
            "--burst-gap-ns" => c.burst_gap_ns = number(flag, value)?,
            "--packets" => self.packets = Some(number(flag, value)?),
            "--seed" => self.seed = number(flag, value)?,
            "--profile" => self.profile = Profile::parse(value)?,
            "--policy" if value == "all" => self.policies = Policy::ALL.to_vec(),
            "--policy" => {
                let p = Policy::from_name(value.as_bytes())
                    .ok_or(format!("--policy: unknown policy '{value}'"))?;
                self.policies = vec![p];
            }
            "--cpu-map" => c.cpu_map = Some(list(flag, value)?),
            "--ipi-ns" => c.costs.ipi_ns = number(flag, value)?,
            "--deep-exit-ns" => c.costs.deep_exit_ns = number(flag, value)?,
            "--shallow-exit-ns" => c.costs.shallow_exit_ns = number(flag, value)?,
            "--residency-ns" => c.costs.residency_ns = number(flag, value)?,
            "--poll-ns" => c.costs.poll_ns = number(flag, value)?,
            "--budget" => c.costs.budget = number(flag, value)?,
            "--pin" => {
                let (stage, cpus) = value
                    .split_once('=')
                    .ok_or(format!("--pin: expected STAGE=CPULIST, got '{value}'"))?;
                let list = CpuList::parse(cpus.as_bytes(), config::MAX_CPUS as u32)
                    .map_err(|_| format!("--pin: bad CPU list '{cpus}'"))?;
                let cpus = (0..config::MAX_CPUS).filter(|&c| list.0 >> c & 1 == 1);
                self.allocation
                    .pinned
                    .push((number(flag, stage)?, cpus.collect()));
            }
            "--interval-ms" => {
                let ms: u64 = number(flag, value)?;
                self.allocation.settings.interval_ns = ms.saturating_mul(1_000_000);
            }
            "--high-water" => self.allocation.settings.high_water_permille = number(flag, value)?,
            "--low-water" => self.allocation.settings.low_water_permille = number(flag, value)?,
            "--hysteresis" => self.allocation.settings.hysteresis = number(flag, value)?,
            "--cooldown" => self.allocation.settings.cooldown = number(flag, value)?,
            "--csv" => self.csv = Some(value.to_string()),
            "--svg" => self.svg = Some(value.to_string()),
            _ => return Err(format!("unknown option {flag}")),
        }
        Ok(())
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
            return Ok(vec![self.with_service(self.config.clone())?]);
        }
        SCALE
            .iter()
            .map(|&(lanes, stages, cpus)| {
                self.with_service(Config {
                    lanes,
                    stages,
                    cpus,
                    cpu_map: None,
                    ..self.config.clone()
                })
            })
            .collect()
    }
}

fn simulate(o: &Options) -> Result<(), String> {
    let packets = match (&o.profile, o.packets) {
        (_, Some(n)) => n,
        (Profile::Trace(_) | Profile::Pcap(_) | Profile::Ramp { .. }, None) => usize::MAX,
        (_, None) => 20_000,
    };
    let arrivals = o.profile.arrivals(packets, o.seed)?;
    let mut rows = Vec::new();
    for config in o.configs()? {
        for &policy in &o.policies {
            let outcome = run(&config, policy, &arrivals)?;
            if o.allocate {
                allocator_trace(o, &config, &outcome)?;
            }
            rows.push(Row::new(&config, Summary::of(&outcome)));
        }
    }
    if o.json {
        print!("{}", report::json(&rows));
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
        let settings = &o.allocation.settings;
        write(
            path,
            plot::render(&outcome.intervals, settings, config.cpus, &title),
        )?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match Options::parse(&args) {
        Ok(o) => o,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("vigil-sim: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match simulate(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vigil-sim: {e}");
            ExitCode::FAILURE
        }
    }
}
