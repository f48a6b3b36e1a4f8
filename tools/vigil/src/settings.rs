// SPDX-License-Identifier: GPL-2.0

//! `vigil settings [--malformed]`: the module's settings as its ABI table declares them, or
//! the writes each one must refuse (what the malformed-write test sends).

use vigil_core::abi::{Scope, Setting, SETTINGS};

/// The file a setting is written to, with stage settings shown for stage 0.
fn file(s: &Setting) -> String {
    match s.scope {
        Scope::Global | Scope::Pipeline => s.name().to_string(),
        Scope::Stage => format!("stage0/{}", s.name()),
    }
}

/// One line per setting: file, accepted values, default, meaning.
pub fn render() -> String {
    let mut out = format!(
        "{:<18} {:<22} {:<26} {}\n",
        "file", "takes", "default", "meaning"
    );
    for s in &SETTINGS {
        let name = match s.scope {
            Scope::Global | Scope::Pipeline => s.name().to_string(),
            Scope::Stage => format!("stageN/{}", s.name()),
        };
        let default = s.default.to_string();
        out += &format!(
            "{name:<18} {:<22} {default:<26} {}\n",
            s.kind.to_string(),
            s.meaning
        );
    }
    out
}

/// One line per malformed write: the file, a tab, the value.
pub fn malformed() -> String {
    let mut out = String::new();
    for s in &SETTINGS {
        s.kind.malformed(|m| out += &format!("{}\t{m}\n", file(s)));
    }
    out
}

/// Prints the table, or the malformed writes.
pub fn print(malformed_writes: bool) {
    if malformed_writes {
        print!("{}", malformed());
    } else {
        print!("{}", render());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_every_setting_once() {
        let text = render();
        assert_eq!(text.lines().count(), SETTINGS.len() + 1);
        assert!(text.contains("stageN/cpus"), "{text}");
        assert!(text
            .lines()
            .any(|l| l.starts_with("queue_len") && l.contains("1 to 65536")));
    }

    #[test]
    fn malformed_cases_name_a_file_and_a_value() {
        let text = malformed();
        assert!(text.contains("stages\t9\n"), "{text}");
        assert!(text.contains("stage0/cpus\t3-1\n"), "{text}");
        assert!(text.contains("rules\tall frobnicate\n"), "{text}");
        assert!(text.lines().all(|l| l.contains('\t')));
    }
}
