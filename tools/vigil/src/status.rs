// SPDX-License-Identifier: GPL-2.0

//! `vigil status`: the module's version and counters.

use std::path::{Path, PathBuf};

/// The sysfs directory of vigil.ko, or `VIGIL_SYSFS`.
pub fn sysfs_root() -> PathBuf {
    std::env::var_os("VIGIL_SYSFS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/sys/kernel/vigil"))
}

fn read_attr(root: &Path, name: &str) -> Result<String, String> {
    let path = root.join(name);
    std::fs::read_to_string(&path)
        .map(|s| s.trim_end().to_string())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The status table, as lines of `name value`.
pub fn render(root: &Path) -> Result<String, String> {
    if !root.is_dir() {
        return Err(format!("{} not found: is vigil.ko loaded?", root.display()));
    }
    let version = read_attr(root, "version")?;
    let seen = read_attr(root, "stats/seen")?;
    let seen: u64 = seen
        .parse()
        .map_err(|_| format!("stats/seen: not a number: {seen:?}"))?;
    Ok(format!("version  {version}\nseen     {seen}\n"))
}

/// Prints the status table.
pub fn run(root: &Path) -> Result<(), String> {
    print!("{}", render(root)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_sysfs(seen: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "vigil-status-{}-{}",
            std::process::id(),
            seen.len()
        ));
        std::fs::create_dir_all(dir.join("stats")).unwrap();
        std::fs::write(dir.join("version"), "0.1.0\n").unwrap();
        std::fs::write(dir.join("stats/seen"), seen).unwrap();
        dir
    }

    #[test]
    fn renders_version_and_count() {
        let dir = fake_sysfs("1234\n");
        assert_eq!(render(&dir).unwrap(), "version  0.1.0\nseen     1234\n");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn reports_garbage_and_absence() {
        let dir = fake_sysfs("x\n");
        assert!(render(&dir).unwrap_err().contains("not a number"));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(render(&dir).unwrap_err().contains("is vigil.ko loaded?"));
    }
}
