// SPDX-License-Identifier: GPL-2.0

//! Reading and writing vigil.ko's sysfs files, with the kernel's errno in every error.

use std::path::{Path, PathBuf};

use vigil_core::abi::Scope;
use vigil_core::pipelines::Name;

/// Where vigil.ko's sysfs files are.
pub const DEFAULT_ROOT: &str = "/sys/kernel/vigil";
/// The environment variable that names another directory (tests, a fake sysfs).
pub const ROOT_ENV: &str = "VIGIL_SYSFS";
/// The file that lists the pipelines in order and adds, removes and reorders them.
pub const PIPELINES: &str = "pipelines";

/// Where `pipeline`'s file `name` (as in a pipeline's directory: `policy`, `stage1/cpus`,
/// `stats/entered`) of `scope` is, relative to the root: global files and the default
/// pipeline's are at the top, another pipeline's under `pipeline/NAME/`.
pub fn file(pipeline: &Name, scope: Scope, name: &str) -> String {
    if scope == Scope::Global || pipeline.is_default() {
        name.to_string()
    } else {
        format!("pipeline/{pipeline}/{name}")
    }
}

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

    /// Fails unless the module is loaded and has `pipeline`.
    pub fn check_pipeline(&self, pipeline: &Name) -> Result<(), String> {
        self.check_loaded()?;
        let dir = file(pipeline, Scope::Pipeline, "");
        if self.root.join(&dir).is_dir() {
            Ok(())
        } else {
            Err(format!("no pipeline {pipeline} (vigil pipeline list)"))
        }
    }

    /// The contents of `name`, without the trailing newline.
    pub fn read(&self, name: &str) -> Result<String, String> {
        let path = self.root.join(name);
        std::fs::read_to_string(&path)
            .map(|s| s.strip_suffix('\n').unwrap_or(&s).to_string())
            .map_err(|e| describe(&path, "read", &e))
    }

    /// Every file of directory `dir` as a number, by name, sorted by name.
    pub fn read_u64_dir(&self, dir: &str) -> Result<Vec<(String, u64)>, String> {
        let path = self.root.join(dir);
        let entries = std::fs::read_dir(&path).map_err(|e| describe(&path, "list", &e))?;
        let mut out = Vec::new();
        for entry in entries {
            let name = entry
                .map_err(|e| describe(&path, "list", &e))?
                .file_name()
                .to_string_lossy()
                .into_owned();
            out.push((name.clone(), self.read_u64(&format!("{dir}/{name}"))?));
        }
        out.sort();
        Ok(out)
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
    fn pipelines_files_are_at_the_top_or_under_pipeline_name() {
        let web = Name::parse(b"web").unwrap();
        let default = Name::default_pipeline();
        assert_eq!(file(&web, Scope::Pipeline, "policy"), "pipeline/web/policy");
        assert_eq!(
            file(&web, Scope::Stage, "stage1/cpus"),
            "pipeline/web/stage1/cpus"
        );
        assert_eq!(file(&web, Scope::Global, "stats/seen"), "stats/seen");
        assert_eq!(file(&default, Scope::Pipeline, "policy"), "policy");
        assert_eq!(file(&default, Scope::Stage, "stage1/cpus"), "stage1/cpus");
    }

    #[test]
    fn the_pipelines_errnos_have_their_names() {
        // What a refused write to `pipelines` gives, besides EINVAL, ENOENT and EBUSY.
        let io = |n| std::io::Error::from_raw_os_error(n);
        let path = Path::new("/sys/kernel/vigil/pipelines");
        assert!(describe(path, "write", &io(17)).contains(": EEXIST (17): "));
        assert!(describe(path, "write", &io(28)).contains(": ENOSPC (28): "));
        assert!(describe(path, "write", &io(16)).contains(": EBUSY (16): "));
    }

    #[test]
    fn a_pipeline_must_exist() {
        let dir = std::env::temp_dir().join(format!("vigil-sysfs-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("pipeline/web")).unwrap();
        let sysfs = Sysfs::at(&dir);
        sysfs.check_pipeline(&Name::parse(b"web").unwrap()).unwrap();
        sysfs.check_pipeline(&Name::default_pipeline()).unwrap();
        let err = sysfs
            .check_pipeline(&Name::parse(b"dns").unwrap())
            .unwrap_err();
        assert_eq!(err, "no pipeline dns (vigil pipeline list)");
        std::fs::remove_dir_all(&dir).unwrap();
        let err = sysfs.check_pipeline(&Name::default_pipeline()).unwrap_err();
        assert!(err.contains("is vigil.ko loaded?"), "{err}");
    }
}
