// SPDX-License-Identifier: GPL-2.0

//! The `vigil` binary's exit status and messages: 2 for a usage error, 1 for a failure, 0 for
//! `--help`.

use std::process::{Command, Output};

fn vigil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(args)
        .env("VIGIL_SYSFS", "/nonexistent/vigil")
        .output()
        .expect("run vigil")
}

#[test]
fn usage_errors_exit_2_failures_1_help_0() {
    let unknown = vigil(&["stats", "--frob"]);
    assert_eq!(unknown.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(stderr.contains("unexpected argument '--frob'"), "{stderr}");
    assert!(stderr.contains("Usage: vigil stats"), "{stderr}");

    let absent = vigil(&["status", "--json"]);
    assert_eq!(absent.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&absent.stderr),
        "vigil: /nonexistent/vigil not found: is vigil.ko loaded?\n"
    );
    // `set` checks its values before it looks for the module.
    let bad = vigil(&["set", "stages=9"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("ERANGE"));
    // So does `set --pipeline`, and a global setting is refused there.
    let global = vigil(&["set", "-p", "web", "netns=all"]);
    assert_eq!(global.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&global.stderr),
        "vigil: set: netns is global, one value for every pipeline: set it without --pipeline\n"
    );
    let name = vigil(&["pipeline", "add", "Web"]);
    assert_eq!(name.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&name.stderr).contains("a pipeline name is"));

    let help = vigil(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&help.stdout);
    assert!(stdout.contains("Usage: vigil <COMMAND>"), "{stdout}");
    assert!(stdout.contains("VIGIL_SYSFS overrides"), "{stdout}");
}

#[test]
fn completions_and_the_man_page_come_out_of_the_binary() {
    let bash = vigil(&["completions", "bash"]);
    assert_eq!(bash.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&bash.stdout).contains("complete -F _vigil"));
    let man = vigil(&["man"]);
    assert_eq!(man.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&man.stdout).contains(".TH vigil 1"));
}
