// SPDX-License-Identifier: GPL-2.0

//! The command line of `vigil`: one clap definition gives the parser, `--help`, the man pages
//! and the shell completions.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, CommandFactory, Parser, Subcommand};
use vigil_core::pipelines::{Name, DEFAULT_PIPELINE};

use crate::{load, pipeline, stats, sysfs};

// `about` is the package's description, from Cargo.toml.
#[derive(Debug, Parser)]
#[command(
    name = "vigil",
    version,
    about,
    after_help = format!(
        "{} overrides the sysfs directory (default {}).",
        sysfs::ROOT_ENV,
        sysfs::DEFAULT_ROOT
    )
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Which pipeline a command configures or shows.
#[derive(Debug, PartialEq, Args)]
pub struct Target {
    /// The pipeline (vigil pipeline list); without it, the default one, whose files are at the
    /// top of the sysfs directory.
    #[arg(short, long, value_name = "NAME", value_parser = pipeline::name)]
    pipeline: Option<Name>,
}

impl Target {
    /// The pipeline named, or the default one.
    pub fn name(&self) -> Name {
        self.pipeline.unwrap_or_else(Name::default_pipeline)
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The configuration, the rule table and the headline counters.
    ///
    /// With --pipeline: that pipeline's settings and counters, with the global ones (shared by
    /// every pipeline) and the version.
    Status {
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Check every value with the module's own parsers, then write them in order.
    ///
    /// Nothing is written unless every value is valid. Stage settings are stageN.KEY (or
    /// stageN/KEY). A write the kernel refuses names the file and the kernel's errno. The
    /// global settings (one value for every pipeline) are set without --pipeline.
    Set {
        /// Write every setting's default instead (the module's ABI table), enabled first;
        /// with --pipeline, that pipeline's settings only.
        #[arg(long, conflicts_with = "settings")]
        defaults: bool,
        #[command(flatten)]
        target: Target,
        /// A setting and its value, e.g. policy=adaptive or stage1.cpus=0-1.
        #[arg(required_unless_present = "defaults", value_name = "KEY=VALUE")]
        settings: Vec<String>,
    },
    /// Every setting as the module's ABI table declares it: what it takes, its default, what
    /// it does.
    Settings {
        /// List instead the writes each file must refuse, one FILE<TAB>VALUE per line (what
        /// the malformed-write tests send).
        #[arg(long)]
        malformed: bool,
    },
    /// Add, remove, list and reorder the pipelines.
    #[command(long_about = format!(
        "Add, remove, list and reorder the pipelines.\n\nA packet goes to the first pipeline, \
         in this order, whose match fits. The pipeline \"{DEFAULT_PIPELINE}\" always exists; its \
         files are at the top of the sysfs directory, and --pipeline {DEFAULT_PIPELINE} means \
         them."
    ))]
    Pipeline {
        /// What to do.
        #[command(subcommand)]
        command: pipeline::Command,
    },
    /// The accounting, the per-stage per-CPU table and latency percentiles.
    Stats(stats::Options),
    /// UDP datagrams from several flows, with a loss, order and latency report.
    ///
    /// Each datagram carries its flow, sequence number and send time. --mode send and
    /// --mode recv run the two ends apart, for example in two network namespaces.
    Load(load::Args),
    /// Print a shell completion script for vigil.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Write the man pages (vigil.1 and one per subcommand) into DIR, or vigil.1 to stdout.
    #[command(hide = true)]
    Man {
        /// The directory (created if missing).
        dir: Option<PathBuf>,
    },
}

/// The completion script for `shell`.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) {
    clap_complete::generate(shell, &mut Cli::command(), "vigil", out);
}

/// `vigil.1`.
pub fn man_page(out: &mut dyn Write) -> std::io::Result<()> {
    clap_mangen::Man::new(Cli::command()).render(out)
}

/// `vigil.1` and `vigil-SUBCOMMAND.1` for each subcommand, in `dir`.
pub fn man_pages(dir: &Path) -> Result<(), String> {
    let fail = |e: std::io::Error| format!("man pages in {}: {e}", dir.display());
    std::fs::create_dir_all(dir).map_err(fail)?;
    clap_mangen::generate_to(Cli::command(), dir).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The subcommands a user sees (not `man`, not clap's `help`).
    fn visible_subcommands() -> Vec<String> {
        Cli::command()
            .get_subcommands()
            .filter(|c| !c.is_hide_set())
            .map(|c| c.get_name().to_string())
            .collect()
    }

    /// The visible subcommands of the visible subcommands, as `SUB-SUBSUB`.
    fn nested_subcommands() -> Vec<String> {
        Cli::command()
            .get_subcommands()
            .filter(|c| !c.is_hide_set())
            .flat_map(|c| {
                c.get_subcommands()
                    .filter(|s| !s.is_hide_set() && s.get_name() != "help")
                    .map(|s| format!("{}-{}", c.get_name(), s.get_name()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn parse(argv: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("vigil").chain(argv.iter().copied()))
    }

    #[test]
    fn usage_errors_are_clear_and_help_is_there() {
        use clap::error::ErrorKind;
        for (argv, kind, says) in [
            (&["--frob"][..], ErrorKind::UnknownArgument, "'--frob'"),
            (
                &["status", "--frob"],
                ErrorKind::UnknownArgument,
                "'--frob'",
            ),
            (
                &["stats", "--watch", "0"],
                ErrorKind::ValueValidation,
                "0.1..=3600",
            ),
            (
                &["stats", "--count", "2"],
                ErrorKind::MissingRequiredArgument,
                "--watch",
            ),
            (&["set"], ErrorKind::MissingRequiredArgument, "KEY=VALUE"),
            (&["frob"], ErrorKind::InvalidSubcommand, "'frob'"),
            (
                &[],
                ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand,
                "Usage",
            ),
            (&["completions", "tcsh"], ErrorKind::InvalidValue, "'tcsh'"),
            (
                &["pipeline", "add", "Web"],
                ErrorKind::ValueValidation,
                "a pipeline name is 1 to 15 of a-z, 0-9 and _, starting with a letter",
            ),
            (
                &["status", "-p", "web-2"],
                ErrorKind::ValueValidation,
                "a pipeline name is",
            ),
            (
                &["pipeline", "order"],
                ErrorKind::MissingRequiredArgument,
                "<NAME>...",
            ),
            (&["load", "-p", "web"], ErrorKind::UnknownArgument, "'-p'"),
        ] {
            let e = parse(argv).unwrap_err();
            assert_eq!(e.kind(), kind, "{argv:?}");
            assert_eq!(e.exit_code(), 2, "{argv:?}");
            assert!(e.to_string().contains(says), "{argv:?}: {e}");
        }
        for argv in [
            &["--help"][..],
            &["help", "load"],
            &["set", "-h"],
            &["--version"],
        ] {
            assert_eq!(parse(argv).unwrap_err().exit_code(), 0, "{argv:?}");
        }
        // The positional syntax of `set` keeps values with spaces, `=` and `/` as they are.
        let Command::Set { settings, .. } = parse(&["set", "match=udp dport 9", "stage0/ops=a=b"])
            .unwrap()
            .command
        else {
            panic!("not set")
        };
        assert_eq!(settings, ["match=udp dport 9", "stage0/ops=a=b"]);
        // --defaults stands alone.
        assert!(matches!(
            parse(&["set", "--defaults"]).unwrap().command,
            Command::Set { defaults: true, .. }
        ));
        assert_eq!(
            parse(&["set", "--defaults", "policy=idle"])
                .unwrap_err()
                .exit_code(),
            2
        );
        assert_eq!(parse(&["set"]).unwrap_err().exit_code(), 2);
        // --pipeline NAME or -p NAME, anywhere among set's arguments; without it, the default.
        for argv in [
            &["set", "-p", "web", "policy=poll"][..],
            &["set", "policy=poll", "--pipeline", "web"],
            &["set", "--pipeline=web", "policy=poll"],
        ] {
            let Command::Set {
                settings, target, ..
            } = parse(argv).unwrap().command
            else {
                panic!("not set")
            };
            assert_eq!(
                (target.name().as_str(), &settings[..]),
                ("web", &["policy=poll".to_string()][..])
            );
        }
        let Command::Status { target, .. } = parse(&["status", "--json"]).unwrap().command else {
            panic!("not status")
        };
        assert!(target.name().is_default());
        assert!(matches!(
            parse(&["set", "-p", "web", "--defaults"]).unwrap().command,
            Command::Set { defaults: true, .. }
        ));
    }

    #[test]
    fn the_definition_is_consistent() {
        Cli::command().debug_assert();
        assert_eq!(
            visible_subcommands(),
            [
                "status",
                "set",
                "settings",
                "pipeline",
                "stats",
                "load",
                "completions"
            ]
        );
    }

    #[test]
    fn man_page_and_completions_name_every_subcommand() {
        let mut page = Vec::new();
        man_page(&mut page).unwrap();
        let page = String::from_utf8(page).unwrap();
        assert!(page.starts_with(".ie \\n(.g .ds Aq \\(aq"), "{page}");
        assert!(page.contains(".TH vigil 1"), "{page}");
        for shell in [
            clap_complete::Shell::Bash,
            clap_complete::Shell::Zsh,
            clap_complete::Shell::Fish,
        ] {
            let mut script = Vec::new();
            completions(shell, &mut script);
            let script = String::from_utf8(script).unwrap();
            for sub in visible_subcommands() {
                assert!(page.contains(&sub), "the man page lacks {sub}");
                assert!(script.contains(&sub), "{shell} completions lack {sub}");
            }
            // Options of subcommands are completed too.
            assert!(script.contains("gap-us"), "{shell}: {script}");
        }
    }

    #[test]
    fn man_pages_cover_each_subcommand_and_its_options() {
        let dir = std::env::temp_dir().join(format!("vigil-man-{}", std::process::id()));
        man_pages(&dir).unwrap();
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        files.sort();
        assert_eq!(
            nested_subcommands(),
            [
                "pipeline-add",
                "pipeline-del",
                "pipeline-list",
                "pipeline-order"
            ]
        );
        let mut want: Vec<String> = visible_subcommands()
            .iter()
            .chain(&nested_subcommands())
            .map(|s| format!("vigil-{s}.1"))
            .collect();
        want.push("vigil.1".to_string());
        want.sort();
        assert_eq!(files, want);
        let load = std::fs::read_to_string(dir.join("vigil-load.1")).unwrap();
        assert!(load.contains("\\-\\-gap\\-us"), "{load}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
