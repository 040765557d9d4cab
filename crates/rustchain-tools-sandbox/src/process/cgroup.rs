//! A `pids` cgroup per command: the process-count limit that also binds
//! root, for whom `RLIMIT_NPROC` is not enforced.
//!
//! The runner creates one cgroup per run next to (below) its own `pids`
//! cgroup, sets `pids.max`, and the child joins it before exec by writing
//! `0` (meaning "the writer") to a `cgroup.procs` descriptor opened before
//! the fork. The kernel then refuses forks past the limit and counts the
//! refusals in `pids.events`, which is the evidence for [`LimitHit::Processes`].
//! Membership is inherited and cannot be left without write access to the
//! cgroup tree, so killing every member also gets processes that left the
//! process group (setsid).
//!
//! [`LimitHit::Processes`]: super::LimitHit::Processes

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// Per-run cgroups are named `PREFIX<runner pid>-<n>`.
const PREFIX: &str = "rustchain-sandbox-";

/// Where per-run cgroups are created.
#[derive(Debug, Clone)]
pub(crate) struct PidsCgroupBase {
    dir: PathBuf,
}

impl PidsCgroupBase {
    /// Finds this process's `pids` cgroup (v1, or v2 with the controller
    /// delegated) and checks that a child cgroup with `pids.max` can be made
    /// there. The error says why not.
    pub(crate) fn discover() -> Result<Self, String> {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?;
        let own = std::fs::read_to_string("/proc/self/cgroup")
            .map_err(|e| format!("cannot read /proc/self/cgroup: {e}"))?;
        let dir = v1_dir(&mountinfo, &own)
            .or_else(|| v2_dir(&mountinfo, &own))
            .ok_or_else(|| "no pids cgroup controller is mounted".to_string())?;
        let base = Self { dir };
        let probe = base
            .create(1)
            .map_err(|e| format!("cannot create a cgroup in {}: {e}", base.dir.display()))?;
        drop(probe);
        base.sweep_stale();
        Ok(base)
    }

    /// Kills what runners that died (crashed, killed) left in their
    /// cgroups and removes those cgroups. `PR_SET_PDEATHSIG` kills only a
    /// command's direct child, so its descendants outlive a dead runner
    /// until the next runner starts here.
    fn sweep_stale(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(owner) = name
                .to_str()
                .and_then(|n| n.strip_prefix(PREFIX))
                .and_then(|rest| rest.split('-').next())
                .and_then(|pid| pid.parse::<u32>().ok())
            else {
                continue;
            };
            if Path::new("/proc").join(owner.to_string()).exists() {
                continue;
            }
            let stale = RunCgroup {
                dir: entry.path(),
                procs: None,
            };
            tracing::warn!(cgroup = %stale.dir.display(), "removing a cgroup left by a runner that died, with its processes");
            // Dropping kills the members and removes the directory; a fork
            // between the two leaves it for the next sweep.
            drop(stale);
        }
    }

    /// The directory per-run cgroups are created in.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Creates a fresh cgroup allowing at most `max` tasks.
    pub(crate) fn create(&self, max: u64) -> io::Result<RunCgroup> {
        let name = format!(
            "{PREFIX}{}-{}",
            std::process::id(),
            NEXT_ID.fetch_add(1, Ordering::Relaxed)
        );
        let dir = self.dir.join(name);
        std::fs::create_dir(&dir)?;
        // From here on Drop removes the directory if anything below fails.
        let mut group = RunCgroup { dir, procs: None };
        let mut pids_max = OpenOptions::new()
            .write(true)
            .open(group.dir.join("pids.max"))?;
        pids_max.write_all(max.to_string().as_bytes())?;
        group.procs = Some(
            OpenOptions::new()
                .write(true)
                .open(group.dir.join("cgroup.procs"))?,
        );
        Ok(group)
    }
}

fn v1_dir(mountinfo: &str, own: &str) -> Option<PathBuf> {
    let (mount_root, mount_point) = mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let mut right = right.split(' ');
        let fstype = right.next()?;
        let options = right.nth(1)?;
        if fstype != "cgroup" || !options.split(',').any(|o| o == "pids") {
            return None;
        }
        let mut left = left.split(' ');
        let root = left.nth(3)?;
        let point = left.next()?;
        Some((root.to_string(), point.to_string()))
    })?;
    let path = own.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let _id = parts.next()?;
        let controllers = parts.next()?;
        let path = parts.next()?;
        controllers
            .split(',')
            .any(|c| c == "pids")
            .then(|| path.to_string())
    })?;
    Some(join_inside(&mount_point, &mount_root, &path))
}

fn v2_dir(mountinfo: &str, own: &str) -> Option<PathBuf> {
    let (mount_root, mount_point) = mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        if right.split(' ').next()? != "cgroup2" {
            return None;
        }
        let mut left = left.split(' ');
        let root = left.nth(3)?;
        let point = left.next()?;
        Some((root.to_string(), point.to_string()))
    })?;
    let path = own
        .lines()
        .find_map(|line| line.strip_prefix("0::").map(str::to_string))?;
    let dir = join_inside(&mount_point, &mount_root, &path);
    let controllers = std::fs::read_to_string(dir.join("cgroup.subtree_control")).ok()?;
    controllers
        .split_whitespace()
        .any(|c| c == "pids")
        .then_some(dir)
}

/// The directory of cgroup `path` (relative to the hierarchy root) under a
/// mount of the hierarchy's `mount_root` at `mount_point`.
fn join_inside(mount_point: &str, mount_root: &str, path: &str) -> PathBuf {
    let relative = path
        .strip_prefix(mount_root)
        .unwrap_or(path)
        .trim_start_matches('/');
    Path::new(mount_point).join(relative)
}

/// One command's cgroup; removed when dropped (after its members are killed).
#[derive(Debug)]
pub(crate) struct RunCgroup {
    dir: PathBuf,
    procs: Option<File>,
}

impl RunCgroup {
    /// The `cgroup.procs` descriptor the child writes `0` to before exec.
    pub(crate) fn procs_fd(&self) -> Option<RawFd> {
        self.procs.as_ref().map(AsRawFd::as_raw_fd)
    }

    /// Whether the kernel has refused a fork because of `pids.max`.
    pub(crate) fn limit_hit(&self) -> bool {
        std::fs::read_to_string(self.dir.join("pids.events"))
            .ok()
            .and_then(|events| {
                events.lines().find_map(|line| {
                    line.strip_prefix("max ")
                        .and_then(|n| n.trim().parse::<u64>().ok())
                })
            })
            .is_some_and(|n| n > 0)
    }

    fn members(&self) -> Vec<libc::pid_t> {
        std::fs::read_to_string(self.dir.join("cgroup.procs"))
            .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default()
    }

    /// SIGKILLs every member until none is left (members cannot fork past
    /// `pids.max`, so this converges), giving up after `budget`. Returns
    /// whether the cgroup ended empty.
    pub(crate) async fn kill_all(&self, budget: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + budget;
        loop {
            let members = self.members();
            if members.is_empty() {
                return true;
            }
            for pid in members {
                // SAFETY: kill has no memory-safety preconditions.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Removes the cgroup directory, retrying while the kernel still lists
    /// exiting members.
    pub(crate) async fn remove(mut self, budget: Duration) {
        self.procs = None;
        let deadline = tokio::time::Instant::now() + budget;
        while std::fs::remove_dir(&self.dir).is_err() && self.dir.exists() {
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!(cgroup = %self.dir.display(), "could not remove a command's cgroup; it still has members");
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

impl Drop for RunCgroup {
    fn drop(&mut self) {
        // Best effort when a run is abandoned (its future dropped); `kill_all`
        // and `remove` are the normal path.
        for pid in self.members() {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n\
        39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n\
        41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

    #[test]
    fn finds_the_v1_pids_directory_of_this_process() {
        let own = "9:name=systemd:/\n8:pids:/jobs/a\n0::/\n";
        assert_eq!(
            v1_dir(MOUNTINFO, own),
            Some(PathBuf::from("/sys/fs/cgroup/pids/jobs/a"))
        );
    }

    #[test]
    fn a_mount_of_a_subtree_is_joined_relative_to_its_root() {
        assert_eq!(
            join_inside("/mnt/pids", "/jobs", "/jobs/a"),
            PathBuf::from("/mnt/pids/a")
        );
        assert_eq!(
            join_inside("/mnt/pids", "/", "/"),
            PathBuf::from("/mnt/pids")
        );
    }

    #[test]
    fn no_pids_mount_means_no_v1_directory() {
        let mountinfo = "32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n";
        assert_eq!(v1_dir(mountinfo, "8:pids:/\n"), None);
        assert_eq!(v1_dir("garbage", "garbage"), None);
    }
}
