//! A sandbox root beside an outside directory holding a secret, and a
//! snapshot of the outside to prove nothing there changed.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::os::unix::fs::symlink;
use std::path::{Component, Path, PathBuf};

use rustchain_tools_sandbox::fs::{FsLimits, FsRoot};
use tempfile::TempDir;

/// The content of every file outside the root.
pub const SECRET: &str = "TOP-SECRET-OUTSIDE";

/// `base/root` is the sandbox root, `base/outside` the directory it must never touch.
pub struct Fixture {
    pub base: TempDir,
    pub root_path: PathBuf,
    pub outside: PathBuf,
    pub root: FsRoot,
}

impl Fixture {
    /// A root with a little content and no links.
    pub fn plain() -> Self {
        Self::with_limits(FsLimits::default())
    }

    pub fn with_limits(limits: FsLimits) -> Self {
        let base = tempfile::tempdir().unwrap();
        let root_path = base.path().join("root");
        let outside = base.path().join("outside");
        std::fs::create_dir_all(root_path.join("a/b")).unwrap();
        std::fs::write(root_path.join("a/file.txt"), "inside a\nneedle here\n").unwrap();
        std::fs::write(root_path.join("a/b/deep.txt"), "deep needle\n").unwrap();
        std::fs::create_dir_all(outside.join("dir")).unwrap();
        std::fs::write(outside.join("secret.txt"), SECRET).unwrap();
        std::fs::write(outside.join("victim.txt"), SECRET).unwrap();
        std::fs::write(outside.join("dir/inner.txt"), format!("{SECRET} needle")).unwrap();
        let root = FsRoot::open(&root_path, limits).unwrap();
        Self {
            base,
            root_path,
            outside,
            root,
        }
    }

    /// The plain root plus symlinks pointing out (absolute, relative, chained,
    /// to a directory, to a device) and one pointing inside.
    pub fn with_links() -> Self {
        let f = Self::plain();
        let r = &f.root_path;
        symlink(f.outside.join("secret.txt"), r.join("abs_link")).unwrap();
        symlink("../outside/secret.txt", r.join("rel_link")).unwrap();
        symlink("chain_b", r.join("chain_a")).unwrap();
        symlink("../outside", r.join("chain_b")).unwrap();
        symlink("../outside", r.join("dir_link")).unwrap();
        symlink(&f.outside, r.join("abs_dir_link")).unwrap();
        symlink("../../outside/secret.txt", r.join("a/deep_rel_link")).unwrap();
        symlink("/dev/zero", r.join("zero_link")).unwrap();
        symlink("a/file.txt", r.join("inside_link")).unwrap();
        f
    }

    pub fn outside_snapshot(&self) -> BTreeMap<PathBuf, String> {
        snapshot(&self.outside)
    }
}

/// Every entry under `dir`: its kind and content or link target.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let desc = if meta.file_type().is_symlink() {
                format!("link {:?}", std::fs::read_link(&path).unwrap())
            } else if meta.is_dir() {
                stack.push(path.clone());
                "dir".to_owned()
            } else {
                format!("file {:?}", std::fs::read(&path).unwrap())
            };
            out.insert(path, desc);
        }
    }
    out
}

/// A path a result names must be relative, free of `..`, and inside the root.
pub fn assert_names_inside(root: &Path, reported: &str) {
    let p = Path::new(reported);
    assert!(!p.is_absolute(), "{reported:?} is absolute");
    assert!(
        p.components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir)),
        "{reported:?} is not a plain relative path"
    );
    let full = root.join(p);
    let parent = full.parent().unwrap();
    if let Ok(real) = parent.canonicalize() {
        assert!(
            real.starts_with(root.canonicalize().unwrap()),
            "{reported:?} lies in {real:?}, outside the root"
        );
    }
}

/// Temporary files left in the tree under `dir`.
pub fn leftover_temps(dir: &Path) -> Vec<PathBuf> {
    snapshot(dir)
        .into_keys()
        .filter(|p| p.to_string_lossy().contains(".rustchain-tmp-"))
        .collect()
}
