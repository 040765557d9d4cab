//! Name resolution that is checked against the policy and is the only lookup a
//! connection uses.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::classify::{AddressClass, classify};
use super::policy::NetPolicy;

/// The future a [`DnsResolver`] returns.
pub type Lookup<'a> = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send + 'a>>;

/// Turns a host name into addresses. The fetcher calls it once per new
/// connection and connects only to the addresses it returned, after checking
/// every one of them; tests inject their own answers through it.
pub trait DnsResolver: Send + Sync {
    /// The addresses of `host` (a domain name, never an IP literal).
    fn lookup<'a>(&'a self, host: &'a str) -> Lookup<'a>;
}

/// The system's resolver (`getaddrinfo` on a blocking thread, through tokio).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl DnsResolver for SystemResolver {
    fn lookup<'a>(&'a self, host: &'a str) -> Lookup<'a> {
        Box::pin(async move {
            let mut addrs: Vec<IpAddr> = Vec::new();
            for addr in tokio::net::lookup_host((host, 0)).await? {
                if !addrs.contains(&addr.ip()) {
                    addrs.push(addr.ip());
                }
            }
            Ok(addrs)
        })
    }
}

/// Why a checked lookup gave no addresses; carried through reqwest's error
/// chain and turned into a [`crate::SandboxError`] naming the URL.
#[derive(Debug, Clone)]
pub(crate) enum LookupRefusal {
    /// An answer is an address the policy refuses.
    Refused {
        host: String,
        address: IpAddr,
        class: AddressClass,
    },
    /// The lookup failed or found nothing.
    Failed { host: String, reason: String },
}

impl fmt::Display for LookupRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused {
                host,
                address,
                class,
            } => write!(f, "host `{host}` resolved to {address}, a {class} address"),
            Self::Failed { host, reason } => write!(f, "could not resolve `{host}`: {reason}"),
        }
    }
}

impl std::error::Error for LookupRefusal {}

/// The resolver plugged into the HTTP client: looks up with the injected
/// resolver, refuses the name if any answer is refused, and hands the client
/// exactly the answers it checked.
pub(crate) struct CheckedResolver {
    pub(crate) policy: Arc<NetPolicy>,
    pub(crate) inner: Arc<dyn DnsResolver>,
}

impl CheckedResolver {
    /// One lookup of `host`, checked; the addresses a connection may use.
    pub(crate) async fn checked_lookup(&self, host: &str) -> Result<Vec<IpAddr>, LookupRefusal> {
        let failed = |reason: String| LookupRefusal::Failed {
            host: host.to_string(),
            reason,
        };
        let addrs = self
            .inner
            .lookup(host)
            .await
            .map_err(|e| failed(e.to_string()))?;
        if addrs.is_empty() {
            return Err(failed("no addresses".into()));
        }
        if let Some(&address) = addrs.iter().find(|ip| !self.policy.permits_address(**ip)) {
            return Err(LookupRefusal::Refused {
                host: host.to_string(),
                address,
                class: classify(address),
            });
        }
        Ok(addrs)
    }
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let checker = CheckedResolver {
            policy: Arc::clone(&self.policy),
            inner: Arc::clone(&self.inner),
        };
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs = checker.checked_lookup(&host).await?;
            // Port 0 is replaced by the URL's port (or the scheme's default).
            let addrs: Addrs = Box::new(addrs.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Answers each lookup with the next scripted answer.
    struct Scripted(Mutex<Vec<Vec<IpAddr>>>);

    impl DnsResolver for Scripted {
        fn lookup<'a>(&'a self, _host: &'a str) -> Lookup<'a> {
            let next = self.0.lock().unwrap().remove(0);
            Box::pin(async move { Ok(next) })
        }
    }

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn checker(answers: Vec<Vec<IpAddr>>) -> CheckedResolver {
        CheckedResolver {
            policy: Arc::new(NetPolicy::default()),
            inner: Arc::new(Scripted(Mutex::new(answers))),
        }
    }

    #[tokio::test]
    async fn names_resolving_to_internal_addresses_are_refused() {
        for bad in [
            "10.0.0.1",
            "169.254.169.254",
            "::ffff:127.0.0.1",
            "fd00:ec2::254",
            "0.0.0.0",
            "64:ff9b::a00:1",
        ] {
            let err = checker(vec![ips(&[bad])])
                .checked_lookup("x.test")
                .await
                .unwrap_err();
            assert!(
                matches!(err, LookupRefusal::Refused { address, .. } if address == bad.parse::<IpAddr>().unwrap()),
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn one_refused_answer_refuses_the_name() {
        let err = checker(vec![ips(&["93.184.216.34", "10.0.0.1"])])
            .checked_lookup("mixed.test")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("10.0.0.1"), "{err}");
    }

    #[tokio::test]
    async fn each_resolution_is_one_lookup_whose_answers_are_handed_on() {
        // A rebinding name: public first, private second. Each resolution
        // makes exactly one lookup and hands on exactly what it checked, so
        // the second answer can never be connected to.
        let resolver = checker(vec![ips(&["93.184.216.34"]), ips(&["10.0.0.1"])]);
        let first: Vec<SocketAddr> = resolver
            .resolve("rebind.test".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert_eq!(
            first,
            vec![SocketAddr::new("93.184.216.34".parse().unwrap(), 0)]
        );
        let second = resolver.resolve("rebind.test".parse().unwrap()).await;
        let err = second.err().unwrap();
        assert!(err.downcast_ref::<LookupRefusal>().is_some(), "{err}");
    }

    #[tokio::test]
    async fn empty_answers_fail_closed() {
        let err = checker(vec![vec![]])
            .checked_lookup("empty.test")
            .await
            .unwrap_err();
        assert!(matches!(err, LookupRefusal::Failed { .. }));
    }
}
