// SPDX-License-Identifier: GPL-2.0

//! The whole report: reading the raw directory, computing, and writing the four files.

use std::fs;
use std::path::Path;

use crate::cells::{self, Cell};
use crate::host;
use crate::meta::{self, Meta};
use crate::ratios::{self, Ratio};
use crate::record::{self, Kind, Run};
use crate::sim::{self, Sim};
use crate::targets::{self, Target};
use crate::{csv, json, markdown, svg, Error};

/// The name of the CSV output.
pub const CSV: &str = "results.csv";
/// The name of the JSON output.
pub const JSON: &str = "results.json";
/// The name of the Markdown output.
pub const MARKDOWN: &str = "results.md";
/// The name of the plot, which the Markdown report links to.
pub const SVG: &str = "p99-vs-cpu.svg";

/// Everything the outputs show.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// `meta.txt`.
    pub meta: Meta,
    /// `runs.txt`, in file order.
    pub runs: Vec<Run>,
    /// The runs grouped by profile, kind and variant: medians, ranges, measurability.
    pub cells: Vec<Cell>,
    /// The same-run ratios of every latency profile.
    pub ratios: Vec<Ratio>,
    /// The targets and their measured ratios.
    pub targets: Vec<Target>,
    /// The simulator's results, for the profiles that have them.
    pub sims: Vec<Sim>,
}

impl Report {
    /// The report on `runs`, computing the ratios and targets.
    pub fn new(meta: Meta, runs: Vec<Run>, sims: Vec<Sim>) -> Report {
        let cells = cells::cells(&runs);
        Report {
            ratios: ratios::same_run(&runs, &cells),
            targets: targets::targets(&runs, &cells, &meta),
            cells,
            meta,
            runs,
            sims,
        }
    }

    /// The report on the raw directory `raw`: `meta.txt`, `runs.txt` and any
    /// `sim-<profile>.json`.
    pub fn load(raw: &Path) -> Result<Report, Error> {
        let meta_path = raw.join("meta.txt");
        let meta = meta::parse(&read(&meta_path)?)
            .map_err(|e| Error(format!("{}: {e}", meta_path.display())))?;
        let runs_path = raw.join("runs.txt");
        let mut runs = record::parse(&read(&runs_path)?)
            .map_err(|e| Error(format!("{}: {e}", runs_path.display())))?;
        // The host's samples of the vCPU threads, when the run had them.
        let host_path = raw.join("host.txt");
        let hosts = if host_path.exists() {
            host::parse(&read(&host_path)?)
                .map_err(|e| Error(format!("{}: {e}", host_path.display())))?
        } else {
            Vec::new()
        };
        cells::annotate(&mut runs, &hosts, &meta);
        let mut profiles: Vec<String> = Vec::new();
        for run in &runs {
            if !profiles.contains(&run.profile) {
                profiles.push(run.profile.clone());
            }
        }
        // A simulator file without runs still goes into the report rather than vanishing.
        let mut strays = sim_files(raw)?;
        strays.retain(|p| !profiles.contains(p));
        strays.sort();
        let mut sims = Vec::new();
        for profile in profiles.iter().chain(&strays) {
            let path = raw.join(sim::file_name(profile));
            if !path.exists() {
                continue;
            }
            let text = read(&path)?;
            let sim = sim::parse(profile, &text)
                .map_err(|e| Error(format!("{}: {e}", path.display())))?;
            sims.push(sim);
        }
        Ok(Report::new(meta, runs, sims))
    }

    /// The kind of run the simulator's results of `profile` are compared with: latency when
    /// the profile has latency runs.
    pub fn sim_kind(&self, profile: &str) -> Kind {
        if record::profiles(&self.runs, Kind::Latency).contains(&profile) {
            Kind::Latency
        } else {
            Kind::Throughput
        }
    }

    /// The output files: `(name, contents)`.
    pub fn render(&self) -> Result<Vec<(&'static str, String)>, Error> {
        Ok(vec![
            (CSV, csv::render(&self.runs)),
            (JSON, json::render(self)?),
            (MARKDOWN, markdown::render(self)),
            (SVG, svg::render(&self.cells, &self.targets, &self.sims)),
        ])
    }

    /// Writes the output files into `out`, creating it if needed.
    pub fn write(&self, out: &Path) -> Result<(), Error> {
        fs::create_dir_all(out)
            .map_err(|e| Error(format!("cannot create {}: {e}", out.display())))?;
        for (name, text) in self.render()? {
            let path = out.join(name);
            fs::write(&path, text)
                .map_err(|e| Error(format!("cannot write {}: {e}", path.display())))?;
        }
        Ok(())
    }
}

fn read(path: &Path) -> Result<String, Error> {
    fs::read_to_string(path).map_err(|e| Error(format!("cannot read {}: {e}", path.display())))
}

/// The profiles of the `sim-<profile>.json` files in `raw`.
fn sim_files(raw: &Path) -> Result<Vec<String>, Error> {
    let entries =
        fs::read_dir(raw).map_err(|e| Error(format!("cannot list {}: {e}", raw.display())))?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error(format!("cannot list {}: {e}", raw.display())))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(profile) = name
            .strip_prefix("sim-")
            .and_then(|n| n.strip_suffix(".json"))
        {
            if !profile.is_empty() {
                out.push(profile.to_string());
            }
        }
    }
    Ok(out)
}
