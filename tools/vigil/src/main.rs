// SPDX-License-Identifier: GPL-2.0

//! `vigil`: read vigil.ko's state, and send test traffic.
//!
//! ```text
//! vigil status                       version and counters
//! vigil load [--dst ADDR:PORT] [--count N] [--size BYTES]
//!                                    send N UDP datagrams to a local receiver, report what came
//! ```
//! `VIGIL_SYSFS` overrides the sysfs directory (default `/sys/kernel/vigil`).

mod load;
mod status;

use std::process::ExitCode;

const USAGE: &str = "usage: vigil status
       vigil load [--dst ADDR:PORT] [--count N] [--size BYTES]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("status") => status::run(&status::sysfs_root()),
        Some("load") => load::Options::parse(&args[1..]).and_then(|o| load::run(&o)),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vigil: {e}");
            ExitCode::FAILURE
        }
    }
}
