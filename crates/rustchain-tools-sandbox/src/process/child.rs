//! What the child does between fork and exec.
//!
//! Everything is prepared in the parent; the plan is plain `Copy` data and
//! the code below only makes system calls (async-signal-safe: no
//! allocation, no locks), as `pre_exec` requires.

use std::io;
use std::os::fd::RawFd;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
type Resource = libc::__rlimit_resource_t;
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
type Resource = libc::c_int;

/// One resource limit: soft value, hard value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rlimit {
    pub(crate) resource: Resource,
    pub(crate) soft: u64,
    pub(crate) hard: u64,
}

/// Everything the child applies to itself before exec.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChildPlan {
    /// The parent's pid, to detect that it died before PR_SET_PDEATHSIG was set.
    pub(crate) parent: libc::pid_t,
    /// `cgroup.procs` of the run's pids cgroup, opened for writing.
    pub(crate) cgroup_procs: Option<RawFd>,
    /// The limits, applied in order.
    pub(crate) rlimits: [Option<Rlimit>; 6],
    /// Drop to this uid and gid (and no supplementary groups).
    pub(crate) user: Option<(libc::uid_t, libc::gid_t)>,
    /// A Landlock ruleset to restrict the child with.
    pub(crate) landlock: Option<RawFd>,
}

impl ChildPlan {
    /// Applies the plan in the forked child.
    ///
    /// # Safety
    ///
    /// Only to be called in a freshly forked child before exec: it changes
    /// the calling process irreversibly.
    pub(crate) unsafe fn apply(&self) -> io::Result<()> {
        // SAFETY: every call below is a plain system call on values prepared
        // before the fork; none allocates or takes a lock.
        unsafe {
            // Die with the parent; if it is already gone, the signal would
            // never come, so stop here.
            check(libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ))?;
            if libc::getppid() != self.parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            // Join the cgroup first, so every later fork is counted.
            if let Some(fd) = self.cgroup_procs {
                let zero = b"0";
                if libc::write(fd, zero.as_ptr().cast(), zero.len()) != 1 {
                    return Err(io::Error::last_os_error());
                }
            }
            for limit in self.rlimits.iter().flatten() {
                let value = libc::rlimit {
                    rlim_cur: limit.soft as libc::rlim_t,
                    rlim_max: limit.hard as libc::rlim_t,
                };
                check(libc::setrlimit(limit.resource, &value))?;
            }
            if let Some((uid, gid)) = self.user {
                check(libc::setgroups(0, std::ptr::null()))?;
                check(libc::setgid(gid))?;
                check(libc::setuid(uid))?;
            }
            if let Some(ruleset) = self.landlock {
                check(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))?;
                check(libc::syscall(libc::SYS_landlock_restrict_self, ruleset, 0) as libc::c_int)?;
            }
        }
        Ok(())
    }
}

fn check(ret: libc::c_int) -> io::Result<()> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
