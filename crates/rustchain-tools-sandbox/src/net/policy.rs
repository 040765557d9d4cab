//! Which URLs and addresses a fetch may reach.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use url::{Host, Url};

use super::classify::{AddressClass, classify, embedded_ipv4};
use crate::SandboxError;

/// Where outbound HTTP may go. The default is the public internet only:
/// `http` and `https` on ports 80 and 443, any host name, and no loopback,
/// private, link-local, metadata or other special address.
///
/// Every address a host name resolves to is checked, and the name is refused
/// if ANY of them is refused (fail closed: a name that mixes public and
/// internal answers is not trusted for any of them).
///
/// ```
/// use rustchain_tools_sandbox::net::NetPolicy;
///
/// let policy: NetPolicy = serde_json::from_str(r#"{ "allowed_hosts": ["api.example.com", "*.example.org"] }"#).unwrap();
/// assert!(policy.permits_address("93.184.216.34".parse().unwrap()));
/// assert!(!policy.permits_address("127.0.0.1".parse().unwrap()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetPolicy {
    /// URL schemes that may be fetched; only `http` and `https` are supported at all.
    pub allowed_schemes: Vec<String>,
    /// Host names (or IP literals as written in URLs) that may be fetched;
    /// `*.example.com` matches any subdomain of `example.com`. `None`: any host.
    pub allowed_hosts: Option<Vec<String>>,
    /// Ports that may be connected to (the scheme's default port when the URL has none).
    pub allowed_ports: Vec<u16>,
    /// Allow every port, ignoring `allowed_ports`.
    pub allow_any_port: bool,
    /// Allow loopback addresses (`127.0.0.0/8`, `::1`).
    pub allow_loopback: bool,
    /// Allow private addresses (RFC 1918, `fc00::/7`) and shared address space (`100.64.0.0/10`).
    pub allow_private: bool,
    /// Ranges allowed whatever their class (except the unspecified address).
    pub allowed_ranges: Vec<IpNet>,
    /// Addresses allowed whatever their class (except the unspecified address).
    pub allowed_addresses: Vec<IpAddr>,
}

impl Default for NetPolicy {
    fn default() -> Self {
        Self {
            allowed_schemes: vec!["http".into(), "https".into()],
            allowed_hosts: None,
            allowed_ports: vec![80, 443],
            allow_any_port: false,
            allow_loopback: false,
            allow_private: false,
            allowed_ranges: Vec::new(),
            allowed_addresses: Vec::new(),
        }
    }
}

/// Schemes the fetcher can speak at all, whatever the policy lists.
const SUPPORTED_SCHEMES: [&str; 2] = ["http", "https"];

impl NetPolicy {
    /// Whether a connection to `ip` is allowed.
    pub fn permits_address(&self, ip: IpAddr) -> bool {
        match classify(ip) {
            AddressClass::Public => true,
            AddressClass::Unspecified => false,
            AddressClass::Loopback if self.allow_loopback => true,
            AddressClass::Private | AddressClass::SharedAddressSpace if self.allow_private => true,
            _ => self.lists(ip),
        }
    }

    /// Whether `ip` (or the IPv4 address it carries) is listed explicitly.
    fn lists(&self, ip: IpAddr) -> bool {
        let carried = match ip {
            IpAddr::V6(v6) => embedded_ipv4(v6).map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        std::iter::once(ip).chain(carried).any(|candidate| {
            self.allowed_addresses.contains(&candidate)
                || self
                    .allowed_ranges
                    .iter()
                    .any(|net| net.contains(&candidate))
        })
    }

    /// Whether the host name (lower case, no trailing dot) is on the allowlist.
    fn permits_host(&self, host: &str) -> bool {
        let Some(allowed) = &self.allowed_hosts else {
            return true;
        };
        allowed.iter().any(|entry| {
            let entry = entry.trim_end_matches('.').to_ascii_lowercase();
            match entry.strip_prefix("*.") {
                Some(suffix) => host
                    .strip_suffix(suffix)
                    .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
                None => host == entry,
            }
        })
    }

    /// Checks a URL before any connection: scheme, host allowlist, port, and,
    /// for an IP literal host, the address itself. Host names are checked
    /// again, address by address, when they are resolved.
    pub fn check_url(&self, url: &Url) -> Result<(), SandboxError> {
        let refuse = |reason: String| SandboxError::UrlRefused {
            url: url.to_string(),
            reason,
        };
        let scheme = url.scheme();
        if !SUPPORTED_SCHEMES.contains(&scheme) {
            return Err(refuse(format!(
                "scheme `{scheme}` is not supported; only http and https are"
            )));
        }
        if !self
            .allowed_schemes
            .iter()
            .any(|s| s.eq_ignore_ascii_case(scheme))
        {
            return Err(refuse(format!(
                "scheme `{scheme}` is not in allowed_schemes {:?}; add it there to allow it",
                self.allowed_schemes
            )));
        }
        let Some(host) = url.host() else {
            return Err(refuse("the URL has no host".into()));
        };
        let host_text = match &host {
            Host::Domain(name) => name.trim_end_matches('.').to_ascii_lowercase(),
            Host::Ipv4(ip) => ip.to_string(),
            Host::Ipv6(ip) => format!("[{ip}]"),
        };
        if !self.permits_host(&host_text) {
            return Err(refuse(format!(
                "host `{host_text}` is not in allowed_hosts; add it there to allow it"
            )));
        }
        let Some(port) = url.port_or_known_default() else {
            return Err(refuse(
                "the URL has no port and its scheme no default".into(),
            ));
        };
        if !self.allow_any_port && !self.allowed_ports.contains(&port) {
            return Err(refuse(format!(
                "port {port} is not in allowed_ports {:?}; add it there (or set allow_any_port: true) to allow it",
                self.allowed_ports
            )));
        }
        let literal = match host {
            Host::Domain(_) => None,
            Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
            Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        };
        match literal {
            Some(ip) if !self.permits_address(ip) => {
                Err(address_refused(url.as_str(), &host_text, ip))
            }
            _ => Ok(()),
        }
    }
}

/// What a refused address's class would need in the policy to be allowed.
pub(crate) fn how_to_allow(class: AddressClass) -> &'static str {
    match class {
        AddressClass::Loopback => {
            "set allow_loopback: true (or list it in allowed_addresses or allowed_ranges) to allow it"
        }
        AddressClass::Private | AddressClass::SharedAddressSpace => {
            "set allow_private: true (or list it in allowed_addresses or allowed_ranges) to allow it"
        }
        AddressClass::Unspecified => {
            "no setting allows it, since a connection to it reaches this machine"
        }
        _ => "only listing it in allowed_addresses or allowed_ranges allows it",
    }
}

/// The refusal of `ip`, the address of `host` in `url`.
pub(crate) fn address_refused(url: &str, host: &str, ip: IpAddr) -> SandboxError {
    let class = classify(ip);
    SandboxError::AddressRefused {
        url: url.to_string(),
        host: host.to_string(),
        address: ip,
        class,
        allow_with: how_to_allow(class).to_string(),
    }
}

/// Whether the URL's host and port match one of `hosts` (`host`, `*.domain`
/// or `*`, optionally with `:port`; without a port, every port).
pub(crate) fn host_granted(parsed: &Url, hosts: &[String]) -> Result<(), String> {
    let host = parsed
        .host_str()
        .ok_or("the URL has no host")?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    let port = parsed
        .port_or_known_default()
        .ok_or("the URL has no port")?;
    let matches = |pattern: &str| {
        let pattern = pattern.to_ascii_lowercase();
        let (host_pattern, port_pattern) = match pattern.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') || h.ends_with(']') => {
                (h.to_owned(), Some(p.to_owned()))
            }
            _ => (pattern.clone(), None),
        };
        let host_pattern = host_pattern.trim_start_matches('[').trim_end_matches(']');
        let host_ok = host_pattern == "*"
            || host_pattern == host
            || host_pattern
                .strip_prefix("*.")
                .is_some_and(|domain| host.ends_with(&format!(".{domain}")));
        host_ok && port_pattern.is_none_or(|p| p == port.to_string())
    };
    if hosts.iter().any(|h| matches(h)) {
        Ok(())
    } else {
        Err(format!(
            "{host}:{port} is not among the granted hosts ({})",
            if hosts.is_empty() {
                "none".to_owned()
            } else {
                hosts.join(", ")
            }
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_match_like_the_policy_patterns() {
        let granted = |url: &str, hosts: &[String]| host_granted(&Url::parse(url).unwrap(), hosts);
        let hosts = vec!["api.example.com:443".to_owned(), "*.data.org".to_owned()];
        assert!(granted("https://api.example.com/v1", &hosts).is_ok());
        assert!(granted("http://api.example.com/v1", &hosts).is_err());
        assert!(granted("https://x.data.org:8443/", &hosts).is_ok());
        assert!(granted("https://data.org/", &hosts).is_err());
        assert!(granted("https://evil.com/?api.example.com", &hosts).is_err());
        assert!(granted("https://api.example.com.evil.com/", &hosts).is_err());
        assert!(granted("http://127.0.0.1:9/", &["127.0.0.1".to_owned()]).is_ok());
    }

    fn check(policy: &NetPolicy, url: &str) -> Result<(), SandboxError> {
        policy.check_url(&Url::parse(url).unwrap())
    }

    #[test]
    fn default_policy_allows_public_only() {
        let policy = NetPolicy::default();
        assert!(check(&policy, "https://93.184.216.34/").is_ok());
        assert!(check(&policy, "http://example.com/x").is_ok());
        for refused in [
            "http://127.0.0.1/",
            "http://10.0.0.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/",
            "http://[fd00:ec2::254]/",
            "http://0.0.0.0/",
        ] {
            assert!(
                matches!(
                    check(&policy, refused),
                    Err(SandboxError::AddressRefused { .. })
                ),
                "{refused}"
            );
        }
    }

    #[test]
    fn scheme_port_and_host_rules() {
        let policy = NetPolicy {
            allowed_hosts: Some(vec!["api.example.com".into(), "*.example.org".into()]),
            ..NetPolicy::default()
        };
        assert!(check(&policy, "https://API.example.com./v1").is_ok());
        assert!(check(&policy, "https://a.b.example.org/").is_ok());
        for refused in [
            "https://example.org/",
            "https://evilexample.org/",
            "https://other.com/",
            "ftp://api.example.com/",
            "file:///etc/passwd",
            "https://api.example.com:8443/",
        ] {
            let err = check(&policy, refused).unwrap_err();
            assert!(
                matches!(err, SandboxError::UrlRefused { .. }),
                "{refused}: {err}"
            );
        }
        let only_https = NetPolicy {
            allowed_schemes: vec!["https".into()],
            ..NetPolicy::default()
        };
        assert!(check(&only_https, "http://example.com/").is_err());
    }

    #[test]
    fn opt_ins_allow_their_classes_only() {
        let policy = NetPolicy {
            allow_loopback: true,
            ..NetPolicy::default()
        };
        assert!(policy.permits_address("127.0.0.1".parse().unwrap()));
        assert!(policy.permits_address("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!policy.permits_address("10.0.0.1".parse().unwrap()));
        let policy = NetPolicy {
            allow_private: true,
            ..NetPolicy::default()
        };
        assert!(policy.permits_address("10.0.0.1".parse().unwrap()));
        assert!(policy.permits_address("100.64.1.1".parse().unwrap()));
        assert!(!policy.permits_address("169.254.169.254".parse().unwrap()));
        assert!(!policy.permits_address("100.100.100.200".parse().unwrap()));
        assert!(!policy.permits_address("fd00:ec2::254".parse().unwrap()));
        let policy = NetPolicy {
            allowed_ranges: vec!["169.254.0.0/16".parse().unwrap()],
            allowed_addresses: vec!["0.0.0.0".parse().unwrap(), "192.0.2.7".parse().unwrap()],
            ..NetPolicy::default()
        };
        assert!(policy.permits_address("169.254.169.254".parse().unwrap()));
        assert!(policy.permits_address("::ffff:192.0.2.7".parse().unwrap()));
        assert!(!policy.permits_address("192.0.2.8".parse().unwrap()));
        assert!(!policy.permits_address("0.0.0.0".parse().unwrap()));
    }

    #[test]
    fn refusal_names_url_host_address_class_and_setting() {
        let err = check(&NetPolicy::default(), "http://[::ffff:10.0.0.1]:80/x").unwrap_err();
        let text = err.to_string();
        for part in [
            "http://[::ffff:a00:1]/x",
            "::ffff:10.0.0.1",
            "private",
            "allow_private",
        ] {
            assert!(text.contains(part), "{part} not in {text}");
        }
    }

    #[test]
    fn policy_round_trips_through_serde() {
        let policy = NetPolicy {
            allow_loopback: true,
            allowed_ranges: vec!["10.1.0.0/16".parse().unwrap()],
            allowed_addresses: vec!["fd00::1".parse().unwrap()],
            ..NetPolicy::default()
        };
        let json = serde_json::to_string(&policy).unwrap();
        assert_eq!(serde_json::from_str::<NetPolicy>(&json).unwrap(), policy);
        assert_eq!(
            serde_json::from_str::<NetPolicy>("{}").unwrap(),
            NetPolicy::default()
        );
        assert!(serde_json::from_str::<NetPolicy>(r#"{"allow_everything": true}"#).is_err());
    }
}
