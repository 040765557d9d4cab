//! Which programs a command may run, decided on canonical paths.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::SandboxError;

/// The search path used when none is given.
pub const DEFAULT_SEARCH_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// The programs commands may run.
///
/// Programs are allowed by name (looked up on the search path) or by absolute
/// path, and stored as canonical paths (symlinks resolved). A command's
/// program is resolved the same way and must land on an allowed canonical
/// path, so a symlink named like an allowed program cannot run another one.
///
/// ```
/// use rustchain_tools_sandbox::process::ProgramAllowlist;
///
/// let list = ProgramAllowlist::new().allow("sh")?;
/// assert!(list.resolve("sh").is_ok());
/// assert!(list.resolve("definitely-not-allowed").is_err());
/// # Ok::<(), rustchain_tools_sandbox::SandboxError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ProgramAllowlist {
    search_path: Vec<PathBuf>,
    allowed: BTreeSet<PathBuf>,
}

impl Default for ProgramAllowlist {
    fn default() -> Self {
        Self::new()
    }
}

impl ProgramAllowlist {
    /// An empty list using [`DEFAULT_SEARCH_PATH`].
    pub fn new() -> Self {
        Self::with_search_path(DEFAULT_SEARCH_PATH)
    }

    /// An empty list resolving names against `search_path` (`:`-separated;
    /// relative or empty entries are ignored, since they would depend on the
    /// current directory).
    pub fn with_search_path(search_path: &str) -> Self {
        let search_path = search_path
            .split(':')
            .map(PathBuf::from)
            .filter(|dir| dir.is_absolute())
            .collect();
        Self {
            search_path,
            allowed: BTreeSet::new(),
        }
    }

    /// Allows `program` (a name on the search path or an absolute path); it
    /// must exist now and is stored by its canonical path.
    pub fn allow(mut self, program: &str) -> Result<Self, SandboxError> {
        let canonical = self.locate(program)?;
        self.allowed.insert(canonical);
        Ok(self)
    }

    /// The canonical paths allowed, sorted.
    pub fn allowed(&self) -> impl Iterator<Item = &Path> {
        self.allowed.iter().map(PathBuf::as_path)
    }

    /// Resolves a command's program to the canonical path that will be
    /// executed, refusing anything that is not allowed.
    pub fn resolve(&self, program: &str) -> Result<PathBuf, SandboxError> {
        let canonical = self.locate(program)?;
        if self.allowed.contains(&canonical) {
            Ok(canonical)
        } else {
            Err(self.refuse(
                program,
                format!(
                    "it resolves to {} which is not allowed",
                    canonical.display()
                ),
            ))
        }
    }

    /// Finds the canonical executable file for a name or an absolute path.
    fn locate(&self, program: &str) -> Result<PathBuf, SandboxError> {
        if program.is_empty() || program.contains('\0') {
            return Err(self.refuse(program, "empty or contains a NUL byte".into()));
        }
        let candidate = if program.starts_with('/') {
            PathBuf::from(program)
        } else if program.contains('/') {
            return Err(self.refuse(
                program,
                "relative paths are not allowed; give a name or an absolute path".into(),
            ));
        } else if program == "." || program == ".." {
            return Err(self.refuse(program, "not a program name".into()));
        } else {
            match self
                .search_path
                .iter()
                .map(|dir| dir.join(program))
                .find(|path| is_executable_file(path))
            {
                Some(found) => found,
                None => {
                    let dirs: Vec<String> = self
                        .search_path
                        .iter()
                        .map(|d| d.display().to_string())
                        .collect();
                    return Err(self.refuse(
                        program,
                        format!("no executable of that name in {}", dirs.join(":")),
                    ));
                }
            }
        };
        let canonical = candidate
            .canonicalize()
            .map_err(|e| self.refuse(program, format!("cannot resolve it: {e}")))?;
        if !is_executable_file(&canonical) {
            return Err(self.refuse(
                program,
                format!("{} is not an executable file", canonical.display()),
            ));
        }
        Ok(canonical)
    }

    fn refuse(&self, program: &str, reason: String) -> SandboxError {
        let allowed = if self.allowed.is_empty() {
            "none".to_string()
        } else {
            self.allowed
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        SandboxError::ProgramNotAllowed {
            program: program.to_string(),
            reason,
            allowed,
        }
    }
}

fn is_executable_file(path: &Path) -> bool {
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn script(dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn names_resolve_on_the_search_path_to_canonical_paths() {
        let dir = tempfile::tempdir().unwrap();
        let real = script(dir.path(), "tool");
        let list = ProgramAllowlist::with_search_path(dir.path().to_str().unwrap())
            .allow("tool")
            .unwrap();
        assert_eq!(list.resolve("tool").unwrap(), real.canonicalize().unwrap());
        assert_eq!(
            list.resolve(real.to_str().unwrap()).unwrap(),
            real.canonicalize().unwrap()
        );
    }

    #[test]
    fn first_match_on_the_search_path_wins() {
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        let a = script(first.path(), "tool");
        script(second.path(), "tool");
        let path = format!("{}:{}", first.path().display(), second.path().display());
        let list = ProgramAllowlist::with_search_path(&path)
            .allow("tool")
            .unwrap();
        assert_eq!(list.resolve("tool").unwrap(), a.canonicalize().unwrap());
    }

    #[test]
    fn a_symlink_named_like_an_allowed_program_is_refused() {
        let allowed_dir = tempfile::tempdir().unwrap();
        let other_dir = tempfile::tempdir().unwrap();
        let good = script(allowed_dir.path(), "good");
        let evil = script(other_dir.path(), "evil");
        let link_dir = tempfile::tempdir().unwrap();
        symlink(&evil, link_dir.path().join("good")).unwrap();
        let list = ProgramAllowlist::with_search_path(link_dir.path().to_str().unwrap())
            .allow(good.to_str().unwrap())
            .unwrap();
        let err = list.resolve("good").unwrap_err().to_string();
        assert!(err.contains("evil"), "{err}");
        assert!(
            err.contains(&good.canonicalize().unwrap().display().to_string()),
            "{err}"
        );
        let by_path = link_dir.path().join("good");
        assert!(list.resolve(by_path.to_str().unwrap()).is_err());
    }

    #[test]
    fn a_symlink_to_an_allowed_program_is_the_same_program() {
        let dir = tempfile::tempdir().unwrap();
        let real = script(dir.path(), "real");
        symlink(&real, dir.path().join("alias")).unwrap();
        let list = ProgramAllowlist::with_search_path(dir.path().to_str().unwrap())
            .allow("real")
            .unwrap();
        assert_eq!(list.resolve("alias").unwrap(), real.canonicalize().unwrap());
    }

    #[test]
    fn relative_paths_dots_empty_and_missing_are_refused() {
        let list = ProgramAllowlist::new().allow("sh").unwrap();
        for bad in [
            "./sh",
            "bin/sh",
            "..",
            ".",
            "",
            "sh\0",
            "no-such-program-xyz",
        ] {
            assert!(
                matches!(
                    list.resolve(bad),
                    Err(SandboxError::ProgramNotAllowed { .. })
                ),
                "{bad:?}"
            );
        }
        assert!(
            ProgramAllowlist::new()
                .allow("no-such-program-xyz")
                .is_err()
        );
    }

    #[test]
    fn non_executable_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        std::fs::write(&path, "x").unwrap();
        let list = ProgramAllowlist::with_search_path(dir.path().to_str().unwrap());
        assert!(list.clone().allow("data").is_err());
        assert!(list.allow(path.to_str().unwrap()).is_err());
    }

    #[test]
    fn refusal_names_the_program_and_what_is_allowed() {
        let list = ProgramAllowlist::new().allow("sh").unwrap();
        let sh = list.resolve("sh").unwrap();
        let err = list.resolve("/usr/bin/env").unwrap_err().to_string();
        assert!(err.contains("/usr/bin/env"), "{err}");
        assert!(err.contains(&sh.display().to_string()), "{err}");
    }

    #[test]
    fn relative_search_path_entries_are_ignored() {
        let list = ProgramAllowlist::with_search_path(".:bin::/usr/bin");
        assert_eq!(list.search_path, vec![PathBuf::from("/usr/bin")]);
    }

    proptest::proptest! {
        #[test]
        fn resolve_never_panics_and_only_returns_allowed(program in ".{0,40}") {
            let list = ProgramAllowlist::new().allow("sh").unwrap();
            if let Ok(path) = list.resolve(&program) {
                proptest::prop_assert!(list.allowed.contains(&path));
            }
        }
    }
}
