// SPDX-License-Identifier: GPL-2.0

//! `vigil pipeline add|del|list|order`: the pipelines, in the order a packet tries them
//! (`/sys/kernel/vigil/pipelines`). Each change is checked against the current order with the
//! module's own logic before it is written.

use crate::json;
use crate::sysfs::{self, Sysfs};
use vigil_core::pipelines::{
    Change, Name, Order, PipelinesError, DEFAULT_PIPELINE, MAX_NAME_LEN, MAX_PIPELINES,
};

/// The subcommands of `vigil pipeline`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Add a pipeline: last in the order, disabled, with the default settings.
    Add {
        /// Its name.
        #[arg(value_parser = name)]
        name: Name,
    },
    /// Remove a pipeline; it drains first, as when it is disabled.
    Del {
        /// Its name.
        #[arg(value_parser = name)]
        name: Name,
    },
    /// The pipelines, one a line, in the order a packet tries them.
    List {
        /// Print one JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Put the pipelines in a new order: name every one, once.
    Order {
        /// Every pipeline, first first.
        #[arg(value_parser = name, required = true, value_name = "NAME")]
        names: Vec<Name>,
    },
}

/// Parses a pipeline name (for clap).
pub fn name(text: &str) -> Result<Name, String> {
    Name::parse(text.as_bytes()).map_err(|_| {
        format!("a pipeline name is 1 to {MAX_NAME_LEN} of a-z, 0-9 and _, starting with a letter")
    })
}

/// The pipelines, in order.
pub fn read(sysfs: &Sysfs) -> Result<Order, String> {
    sysfs.check_loaded()?;
    let text = sysfs.read(sysfs::PIPELINES)?;
    match Change::parse(text.as_bytes()) {
        Ok(Change::Order(order)) => Ok(order),
        _ => Err(format!(
            "{}: not a list of pipelines: {text:?}",
            sysfs::PIPELINES
        )),
    }
}

/// Why the module refuses a change to `current`, with the errno it gives.
fn why(e: PipelinesError, current: &Order) -> String {
    match e {
        PipelinesError::Exists => "it exists (EEXIST)".into(),
        PipelinesError::Missing => "no such pipeline (ENOENT)".into(),
        PipelinesError::Full => format!("there are {MAX_PIPELINES} pipelines, the most (ENOSPC)"),
        PipelinesError::Default => {
            format!("the {DEFAULT_PIPELINE} pipeline cannot be removed (EBUSY)")
        }
        PipelinesError::Invalid => format!("name every pipeline once; they are {current} (EINVAL)"),
    }
}

/// Checks the write `text` against the current order, then writes it.
fn change(sysfs: &Sysfs, what: &str, text: &str) -> Result<(), String> {
    let current = read(sysfs)?;
    // Only an order can fail to parse here (a name twice, or too many): the names are valid.
    Change::parse(text.as_bytes())
        .map_err(|_| PipelinesError::Invalid)
        .and_then(|change| {
            let mut next = current;
            next.apply(&change)
        })
        .map_err(|e| format!("pipeline {what}: {}", why(e, &current)))?;
    sysfs
        .write(sysfs::PIPELINES, text)
        .map_err(|e| format!("pipeline {what}: {e}"))
}

/// What `vigil pipeline list` prints: a name a line, or one JSON array.
fn list(order: &Order, json: bool) -> Result<String, String> {
    let names: Vec<&str> = order.iter().map(Name::as_str).collect();
    Ok(match json {
        true => json::line(&names)? + "\n",
        false => names.iter().map(|n| format!("{n}\n")).collect(),
    })
}

/// Runs `vigil pipeline ...`.
pub fn run(sysfs: &Sysfs, command: &Command) -> Result<(), String> {
    match command {
        Command::List { json } => {
            print!("{}", list(&read(sysfs)?, *json)?);
            Ok(())
        }
        Command::Add { name } => change(sysfs, &format!("add {name}"), &format!("+{name}")),
        Command::Del { name } => change(sysfs, &format!("del {name}"), &format!("-{name}")),
        Command::Order { names } => {
            let text = names.iter().map(Name::as_str).collect::<Vec<_>>().join(" ");
            change(sysfs, &format!("order {text}"), &text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A fake sysfs directory whose `pipelines` reads `order`.
    fn fake_sysfs(tag: &str, order: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("vigil-pipeline-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(sysfs::PIPELINES), format!("{order}\n")).unwrap();
        dir
    }

    fn written(dir: &std::path::Path) -> String {
        std::fs::read_to_string(dir.join(sysfs::PIPELINES)).unwrap()
    }

    fn names(v: &[&str]) -> Vec<Name> {
        v.iter().map(|n| name(n).unwrap()).collect()
    }

    #[test]
    fn names_are_checked_with_the_module_rules() {
        for good in ["web", "w", "web_2", "abcdefghijklmno"] {
            assert_eq!(name(good).unwrap().as_str(), good);
        }
        for bad in [
            "",
            "Web",
            "2web",
            "_web",
            "web-2",
            "we b",
            "abcdefghijklmnop",
            "+web",
        ] {
            let err = name(bad).unwrap_err();
            assert!(err.contains("1 to 15 of a-z, 0-9 and _"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn add_del_and_order_write_the_pipelines_file() {
        let dir = fake_sysfs("write", "default");
        let sysfs = Sysfs::at(&dir);
        let web = name("web").unwrap();
        run(&sysfs, &Command::Add { name: web }).unwrap();
        assert_eq!(written(&dir), "+web\n");
        // The fake file keeps what was written; the module would list the new order.
        std::fs::write(dir.join(sysfs::PIPELINES), "default web\n").unwrap();
        let order = Command::Order {
            names: names(&["web", "default"]),
        };
        run(&sysfs, &order).unwrap();
        assert_eq!(written(&dir), "web default\n");
        std::fs::write(dir.join(sysfs::PIPELINES), "web default\n").unwrap();
        run(&sysfs, &Command::Del { name: web }).unwrap();
        assert_eq!(written(&dir), "-web\n");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn refuses_what_the_module_would_before_writing() {
        let dir = fake_sysfs("refuse", "default web");
        let sysfs = Sysfs::at(&dir);
        for (command, says) in [
            (
                Command::Add {
                    name: name("web").unwrap(),
                },
                "pipeline add web: it exists (EEXIST)",
            ),
            (
                Command::Del {
                    name: name("dns").unwrap(),
                },
                "pipeline del dns: no such pipeline (ENOENT)",
            ),
            (
                Command::Del {
                    name: Name::default_pipeline(),
                },
                "pipeline del default: the default pipeline cannot be removed (EBUSY)",
            ),
            (
                Command::Order {
                    names: names(&["web"]),
                },
                "pipeline order web: name every pipeline once; they are default web (EINVAL)",
            ),
            (
                Command::Order {
                    names: names(&["web", "default", "web"]),
                },
                "name every pipeline once",
            ),
            (
                Command::Order {
                    names: names(&["web", "dns"]),
                },
                "name every pipeline once",
            ),
        ] {
            let err = run(&sysfs, &command).unwrap_err();
            assert!(err.contains(says), "{command:?}: {err}");
            assert_eq!(written(&dir), "default web\n", "{command:?}");
        }
        std::fs::write(dir.join(sysfs::PIPELINES), "default a b c d e f g\n").unwrap();
        let err = run(
            &sysfs,
            &Command::Add {
                name: name("h").unwrap(),
            },
        )
        .unwrap_err();
        assert_eq!(
            err,
            format!("pipeline add h: there are {MAX_PIPELINES} pipelines, the most (ENOSPC)")
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn lists_in_order_and_reports_the_kernel_errno() {
        let dir = fake_sysfs("list", "default web dns");
        let order = read(&Sysfs::at(&dir)).unwrap();
        assert_eq!(list(&order, false).unwrap(), "default\nweb\ndns\n");
        assert_eq!(
            list(&order, true).unwrap(),
            "[\"default\",\"web\",\"dns\"]\n"
        );
        // A module without the file, or with a listing that is no order, is reported.
        std::fs::remove_file(dir.join(sysfs::PIPELINES)).unwrap();
        let err = read(&Sysfs::at(&dir)).unwrap_err();
        assert!(err.contains("ENOENT"), "{err}");
        std::fs::write(dir.join(sysfs::PIPELINES), "garbage +\n").unwrap();
        let err = read(&Sysfs::at(&dir)).unwrap_err();
        assert!(err.contains("not a list of pipelines"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
