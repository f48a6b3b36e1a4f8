// SPDX-License-Identifier: GPL-2.0

//! `vigil`: configure vigil.ko, read its statistics, and send test traffic.
//!
//! ```text
//! vigil status [--json] [-p NAME]       configuration and headline statistics
//! vigil set [-p NAME] KEY=VALUE... | --defaults
//!                                        checked writes (stage settings: stageN.KEY)
//! vigil pipeline add|del NAME | list [--json] | order NAME...
//!                                        the pipelines and their order
//! vigil settings [--malformed]           every setting: values, default, meaning
//! vigil stats [--json] [--watch SECS [--count N]]
//!                                        accounting, per-stage per-CPU table, latency
//! vigil load [options]                   UDP traffic with loss, order and latency report
//! vigil completions bash|zsh|fish|...    a shell completion script
//! ```
//! The command line is defined once, in [`cli`]; `vigil --help` and `vigil COMMAND --help`
//! print it. A usage error exits with 2, a failure with 1.

mod cli;
mod genl;
mod json;
mod load;
mod pipeline;
mod set;
mod settings;
mod stats;
mod status;
mod sysfs;

use std::process::ExitCode;

use clap::Parser;
use cli::{Cli, Command};

fn run(command: Command) -> Result<(), String> {
    let sysfs = sysfs::Sysfs::from_env();
    match command {
        Command::Status { json, target } => status::run(&sysfs, &target.name(), json),
        Command::Set {
            defaults: true,
            target,
            ..
        } => set::run_defaults(&sysfs, &target.name()),
        Command::Set {
            settings, target, ..
        } => set::run(&sysfs, &target.name(), &settings),
        Command::Pipeline { command } => pipeline::run(&sysfs, &command),
        Command::Settings { malformed } => {
            settings::print(malformed);
            Ok(())
        }
        Command::Stats(options) => stats::run(&sysfs, &options),
        Command::Load(args) => load::run(&args.options()),
        Command::Completions { shell } => {
            cli::completions(shell, &mut std::io::stdout());
            Ok(())
        }
        Command::Man { dir: Some(dir) } => cli::man_pages(&dir),
        Command::Man { dir: None } => {
            cli::man_page(&mut std::io::stdout()).map_err(|e| format!("man: {e}"))
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vigil: {e}");
            ExitCode::FAILURE
        }
    }
}
