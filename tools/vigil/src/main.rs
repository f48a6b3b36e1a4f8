// SPDX-License-Identifier: GPL-2.0

//! `vigil`: configure vigil.ko, read its statistics, and send test traffic.
//!
//! ```text
//! vigil status [--json]                  configuration and headline statistics
//! vigil set KEY=VALUE...                 checked writes (stage settings: stageN.KEY)
//! vigil stats [--json] [--watch SECS [--count N]]
//!                                        accounting, per-stage per-CPU table, latency
//! vigil load [options]                   UDP traffic with loss, order and latency report
//! ```
//! `VIGIL_SYSFS` overrides the sysfs directory (default `/sys/kernel/vigil`).

mod genl;
mod json;
mod load;
mod set;
mod stats;
mod status;
mod sysfs;

use std::process::ExitCode;

const USAGE: &str = "usage: vigil status [--json]
       vigil set KEY=VALUE...
       vigil stats [--json] [--watch SECS [--count N]]
       vigil load [--dst ADDR:PORT] [--count N] [--size BYTES] [--flows F]
                  [--rate PPS | --burst B --gap-us G | --poisson PPS] [--seed S]
                  [--mode both|send|recv] [--timeout SECS] [--json]";

fn run(args: &[String]) -> Result<(), String> {
    let sysfs = sysfs::Sysfs::from_env();
    let rest = args.get(1..).unwrap_or(&[]);
    match args.first().map(String::as_str) {
        Some("status") => match rest {
            [] => status::run(&sysfs, false),
            [j] if j == "--json" => status::run(&sysfs, true),
            _ => Err(format!("status: unexpected arguments {rest:?}")),
        },
        Some("set") => set::run(&sysfs, rest),
        Some("stats") => stats::run(&sysfs, &stats::Options::parse(rest)?),
        Some("load") => load::run(&load::Options::parse(rest)?),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(USAGE.to_string()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vigil: {e}");
            ExitCode::FAILURE
        }
    }
}
