//! The Landlock ruleset applied to every command: read and execute the
//! system directories a program needs to start, read and write the root.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use landlock::{
    ABI, Access, AccessFs, CompatLevel, Compatible, Ruleset, RulesetAttr, RulesetCreatedAttr,
    Scope, path_beneath_rules,
};

/// The Landlock ABI the ruleset is written for; older kernels get the subset
/// they know (best effort), kernels without Landlock get none.
const TARGET_ABI: ABI = ABI::V6;

/// Read-only (and executable) paths a dynamically linked program needs.
/// `/etc` is listed file by file because as root it would expose
/// `/etc/shadow`; `/proc` is left out because it exposes other processes.
pub const DEFAULT_SYSTEM_PATHS: &[&str] = &[
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/nsswitch.conf",
    "/etc/passwd",
    "/etc/group",
    "/etc/alternatives",
];

/// Device files commands may read and write.
const DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
];

/// Builds the ruleset once; `None` when the kernel offers no Landlock.
pub(crate) fn build_ruleset(
    root: &Path,
    system_paths: &[PathBuf],
    programs: &[PathBuf],
) -> Result<Option<OwnedFd>, landlock::RulesetError> {
    let read = AccessFs::from_read(TARGET_ABI);
    let all = AccessFs::from_all(TARGET_ABI);
    let created = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(all)?
        .scope(Scope::Signal | Scope::AbstractUnixSocket)?
        .create()?
        .add_rules(path_beneath_rules(system_paths, read))?
        .add_rules(path_beneath_rules(programs, read))?
        .add_rules(path_beneath_rules(DEVICES, all))?
        .add_rules(path_beneath_rules([root], all))?;
    Ok(created.into())
}
