//! What more than one test binary needs.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The Python of a virtual environment with `requirements` installed: the
/// one `env_var` names when it is set (`.ci/run` makes it), else one made
/// once, under a lock, as `name` in the target directory.
pub fn venv_python(env_var: &str, name: &str, requirements: &Path) -> PathBuf {
    if let Some(python) = std::env::var_os(env_var) {
        return PathBuf::from(python);
    }
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = tmp.join(name);
    let python = dir.join("bin/python");
    std::fs::create_dir_all(tmp).unwrap();
    let lock = std::fs::File::create(tmp.join(format!("{name}.lock"))).unwrap();
    lock.lock().unwrap();
    let ready = dir.join(".installed");
    if !ready.exists() {
        let status = Command::new("python3")
            .args(["-m", "venv", "--clear"])
            .arg(&dir)
            .status()
            .expect("python3 runs");
        assert!(status.success(), "python3 -m venv failed");
        let status = Command::new(dir.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(requirements)
            .status()
            .expect("pip runs");
        assert!(
            status.success(),
            "pip install -r {} failed (PyPI reachable?)",
            requirements.display()
        );
        std::fs::write(&ready, "").unwrap();
    }
    python
}
