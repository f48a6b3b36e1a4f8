// SPDX-License-Identifier: GPL-2.0

//! Reading and writing vigil.ko's sysfs files, with the kernel's errno in every error.

use std::path::{Path, PathBuf};

/// Where vigil.ko's sysfs files are.
pub const DEFAULT_ROOT: &str = "/sys/kernel/vigil";
/// The environment variable that names another directory (tests, a fake sysfs).
pub const ROOT_ENV: &str = "VIGIL_SYSFS";
/// The file that lists the pipelines in order and adds, removes and reorders them.
pub const PIPELINES: &str = "pipelines";

/// The sysfs directory of vigil.ko ([`ROOT_ENV`] overrides [`DEFAULT_ROOT`]).
pub struct Sysfs {
    root: PathBuf,
}

/// The name the kernel gives an errno, for messages.
pub fn errno_name(errno: i32) -> &'static str {
    match errno {
        1 => "EPERM",
        2 => "ENOENT",
        5 => "EIO",
        12 => "ENOMEM",
        13 => "EACCES",
        16 => "EBUSY",
        17 => "EEXIST",
        22 => "EINVAL",
        27 => "EFBIG",
        28 => "ENOSPC",
        34 => "ERANGE",
        _ => "errno",
    }
}

fn describe(path: &Path, what: &str, e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => format!("{what} {}: {} ({n}): {e}", path.display(), errno_name(n)),
        None => format!("{what} {}: {e}", path.display()),
    }
}

impl Sysfs {
    /// [`ROOT_ENV`], or [`DEFAULT_ROOT`].
    pub fn from_env() -> Self {
        let root = std::env::var_os(ROOT_ENV)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_ROOT));
        Self { root }
    }

    /// A directory of one's choosing (tests).
    #[cfg(test)]
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Fails unless the module is loaded.
    pub fn check_loaded(&self) -> Result<(), String> {
        if self.root.is_dir() {
            Ok(())
        } else {
            Err(format!(
                "{} not found: is vigil.ko loaded?",
                self.root.display()
            ))
        }
    }

    /// The contents of `name`, without the trailing newline.
    pub fn read(&self, name: &str) -> Result<String, String> {
        let path = self.root.join(name);
        std::fs::read_to_string(&path)
            .map(|s| s.strip_suffix('\n').unwrap_or(&s).to_string())
            .map_err(|e| describe(&path, "read", &e))
    }

    /// `name` as a number.
    pub fn read_u64(&self, name: &str) -> Result<u64, String> {
        let text = self.read(name)?;
        text.trim()
            .parse()
            .map_err(|_| format!("{name}: not a number: {text:?}"))
    }

    /// Writes `value` (plus a newline) to `name`.
    pub fn write(&self, name: &str, value: &str) -> Result<(), String> {
        let path = self.root.join(name);
        std::fs::write(&path, format!("{value}\n")).map_err(|e| describe(&path, "write", &e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pipelines_errnos_have_their_names() {
        // What a refused write to `pipelines` gives, besides EINVAL, ENOENT and EBUSY.
        let io = |n| std::io::Error::from_raw_os_error(n);
        let path = Path::new("/sys/kernel/vigil/pipelines");
        assert!(describe(path, "write", &io(17)).contains(": EEXIST (17): "));
        assert!(describe(path, "write", &io(28)).contains(": ENOSPC (28): "));
        assert!(describe(path, "write", &io(16)).contains(": EBUSY (16): "));
    }
}
