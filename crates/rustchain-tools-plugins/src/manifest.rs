//! A plugin's manifest (`plugin.json`): the tool it is, the module that
//! implements it, the capabilities it requests and the framework versions
//! it works with.

use std::path::{Path, PathBuf};

use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::PluginError;

/// The version of RustChain Tools that plugins are checked against.
pub const FRAMEWORK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The manifest's file name in a plugin directory.
pub const MANIFEST_FILE: &str = "plugin.json";

/// A plugin's manifest, as written in `plugin.json` (camelCase keys;
/// unknown keys are refused so that a typo does not pass unnoticed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PluginManifest {
    /// The tool's name (ASCII letters, digits, `_`, `-`, `.`; at most 128).
    pub name: String,
    /// The plugin's version, a semantic version.
    pub version: Version,
    /// A short title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What the tool does, written for the model that chooses it.
    pub description: String,
    /// The category (`text`, `json`, `network`, ...).
    #[serde(default = "general")]
    pub category: String,
    /// Tags for search.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The module's file, beside the manifest: WASM binary or WAT text.
    #[serde(default = "default_module")]
    pub module: String,
    /// The versions of RustChain Tools the plugin works with, such as
    /// `">=0.1, <0.2"`.
    pub framework: VersionReq,
    /// The JSON Schema of the arguments.
    pub input_schema: Value,
    /// The JSON Schema of the result, if it has one; results are checked
    /// against it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
    /// The host functions the plugin requests; nothing by default.
    #[serde(default)]
    pub capabilities: Capabilities,
    /// Limits the plugin asks for, within the host's.
    #[serde(default)]
    pub limits: RequestedLimits,
    /// What its use costs in the market; free when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<Price>,
}

/// The most a call may cost, in minor units: a price above it is taken for
/// a typo.
pub const MAX_PRICE_PER_CALL: u64 = 1_000_000;

/// The most a purchase may cost, in minor units.
pub const MAX_PRICE_PURCHASE: u64 = 100_000_000;

/// A plugin's price in the market, in minor units (cents) of the market's
/// currency; either part may be left out (0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Price {
    /// The price of one call. The market bills each user for the calls
    /// that ran, as its usage reports count them; calls refused before the
    /// tool ran are free.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub per_call: u64,
    /// The price of the package, paid once per account before its first
    /// download: the market itself sells it, so this part rests on nothing
    /// the user reports.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub purchase: u64,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

fn general() -> String {
    "general".into()
}

fn default_module() -> String {
    "plugin.wasm".into()
}

/// The capabilities a plugin requests; each is a host function it may
/// import, granted per call by the policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Capabilities {
    /// `rustchain.log`: log lines to the host's log.
    #[serde(default)]
    pub log: bool,
    /// `rustchain.read_file`: read files below a directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_files: Option<ReadFiles>,
    /// `rustchain.fetch`: HTTP requests to some hosts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetch: Option<Fetch>,
}

/// Reading files below one directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReadFiles {
    /// The directory: relative to the sandbox root, or absolute.
    pub dir: String,
}

/// Fetching from some hosts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fetch {
    /// `host`, `*.domain`, optionally `:port` (443 when none is given).
    pub hosts: Vec<String>,
}

/// Limits a plugin asks for; the host's limits cap them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestedLimits {
    /// The longest a call may run, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// The most memory an instance may have, in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mib: Option<u64>,
}

impl PluginManifest {
    /// Reads and checks the manifest at `path`.
    pub fn read(path: &Path) -> Result<PluginManifest, PluginError> {
        let bad = |reason: String| PluginError::Manifest {
            path: path.to_path_buf(),
            reason,
        };
        let text =
            std::fs::read_to_string(path).map_err(|e| bad(format!("cannot be read: {e}")))?;
        let manifest: PluginManifest = serde_json::from_str(&text)
            .map_err(|e| bad(format!("is not a valid manifest: {e}")))?;
        manifest.check().map_err(bad)?;
        Ok(manifest)
    }

    /// The rules serde cannot check: the module's file name and the hosts.
    fn check(&self) -> Result<(), String> {
        let module = Path::new(&self.module);
        if self.module.is_empty()
            || module.components().count() != 1
            || module.file_name().is_none_or(|f| f != self.module.as_str())
        {
            return Err(format!(
                "`module` is {:?}; it must be a file name beside the manifest, with no directory",
                self.module
            ));
        }
        if let Some(fetch) = &self.capabilities.fetch {
            if fetch.hosts.is_empty() {
                return Err(
                    "`capabilities.fetch.hosts` is empty; name the hosts the plugin fetches from"
                        .into(),
                );
            }
            for host in &fetch.hosts {
                if host.is_empty() || host.contains(['/', '@', ' ', '?', '#']) {
                    return Err(format!(
                        "`capabilities.fetch.hosts` holds {host:?}, which is not `host`, `*.domain` or `host:port`"
                    ));
                }
            }
        }
        if let Some(read) = &self.capabilities.read_files
            && read.dir.is_empty()
        {
            return Err("`capabilities.readFiles.dir` is empty".into());
        }
        if let Some(price) = &self.price {
            if price.per_call > MAX_PRICE_PER_CALL {
                return Err(format!(
                    "`price.perCall` is {}; at most {MAX_PRICE_PER_CALL} minor units",
                    price.per_call
                ));
            }
            if price.purchase > MAX_PRICE_PURCHASE {
                return Err(format!(
                    "`price.purchase` is {}; at most {MAX_PRICE_PURCHASE} minor units",
                    price.purchase
                ));
            }
        }
        Ok(())
    }

    /// Whether the plugin works with this framework version.
    pub fn check_framework(&self) -> Result<(), PluginError> {
        let framework = Version::parse(FRAMEWORK_VERSION).expect("the crate version is semver");
        if self.framework.matches(&framework) {
            Ok(())
        } else {
            Err(PluginError::Incompatible {
                plugin: self.name.clone(),
                requires: self.framework.to_string(),
                framework: FRAMEWORK_VERSION.to_owned(),
            })
        }
    }

    /// The hosts the plugin fetches from, each with a port (443 when none
    /// was written), as the policy matches them.
    pub fn fetch_hosts(&self) -> Vec<String> {
        self.capabilities
            .fetch
            .iter()
            .flat_map(|f| &f.hosts)
            .map(|host| {
                let has_port = host
                    .rsplit_once(':')
                    .is_some_and(|(_, port)| port.parse::<u16>().is_ok());
                if has_port {
                    host.clone()
                } else {
                    format!("{host}:443")
                }
            })
            .collect()
    }

    /// The directory files are read from, resolved against `root`.
    pub fn read_dir(&self, root: &Path) -> Option<PathBuf> {
        self.capabilities
            .read_files
            .as_ref()
            .map(|r| root.join(&r.dir))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(extra: &str) -> Result<PluginManifest, String> {
        let text = format!(
            r#"{{"name":"p","version":"1.0.0","description":"d","framework":">=0.1","inputSchema":{{"type":"object"}}{extra}}}"#
        );
        let manifest: PluginManifest = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        manifest.check()?;
        Ok(manifest)
    }

    #[test]
    fn defaults_and_rules() {
        let m = manifest("").unwrap();
        assert_eq!(m.module, "plugin.wasm");
        assert_eq!(m.category, "general");
        assert_eq!(m.capabilities, Capabilities::default());
        assert!(
            manifest(r#","modul":"x""#)
                .unwrap_err()
                .contains("unknown field")
        );
        assert!(
            manifest(r#","module":"../x.wasm""#)
                .unwrap_err()
                .contains("file name")
        );
        assert!(manifest(r#","module":"/etc/x""#).is_err());
        assert!(manifest(r#","capabilities":{"fetch":{"hosts":[]}}"#).is_err());
        assert!(manifest(r#","capabilities":{"fetch":{"hosts":["http://x"]}}"#).is_err());
        assert!(
            manifest(r#","capabilities":{"network":true}"#)
                .unwrap_err()
                .contains("unknown field")
        );
    }

    #[test]
    fn a_price_is_optional_and_bounded() {
        assert_eq!(manifest("").unwrap().price, None);
        let m = manifest(r#","price":{"perCall":25}"#).unwrap();
        assert_eq!(
            m.price,
            Some(Price {
                per_call: 25,
                purchase: 0
            })
        );
        let m = manifest(r#","price":{"purchase":900}"#).unwrap();
        assert_eq!(
            m.price,
            Some(Price {
                per_call: 0,
                purchase: 900
            })
        );
        assert!(
            manifest(r#","price":{"purchase":100000001}"#)
                .unwrap_err()
                .contains("price.purchase")
        );
        assert!(manifest(r#","price":{"perCal":5}"#).is_err());
        assert!(
            manifest(r#","price":{"perCall":1000001}"#)
                .unwrap_err()
                .contains("at most 1000000")
        );
        assert!(manifest(r#","price":{"perCall":-1}"#).is_err());
        assert!(manifest(r#","price":{"each":1}"#).is_err());
    }

    #[test]
    fn hosts_get_a_port() {
        let m = manifest(
            r#","capabilities":{"fetch":{"hosts":["api.example.com","*.data.org:8443"]}}"#,
        )
        .unwrap();
        assert_eq!(m.fetch_hosts(), ["api.example.com:443", "*.data.org:8443"]);
    }

    #[test]
    fn the_framework_range_is_checked() {
        let mut m = manifest("").unwrap();
        assert!(m.check_framework().is_ok());
        m.framework = ">=99".parse().unwrap();
        assert!(
            m.check_framework()
                .unwrap_err()
                .to_string()
                .contains("requires RustChain Tools >=99")
        );
    }
}
