//! SSRF-safe outbound HTTP.
//!
//! A [`NetPolicy`] says which schemes, hosts, ports and classes of address
//! (see [`classify`]) a fetch may reach; the default is the public internet
//! only. [`HttpFetcher`] enforces it on the first URL and on every redirect
//! hop, and connects only to addresses it has checked: IP literals before
//! sending, and host names through a resolver plugged into the client, one
//! lookup per connection, whose answers are the only ones connected to. A name
//! is refused if ANY of its addresses is refused.

mod classify;
mod fetch;
mod policy;
mod resolve;

pub use classify::{AddressClass, classify, embedded_ipv4};
pub use fetch::{FetchLimits, FetchRequest, FetchResponse, HttpFetcher, Method};
pub use policy::NetPolicy;
pub use resolve::{DnsResolver, Lookup, SystemResolver};

/// The workspace's one TLS set-up for outbound clients: rustls with the
/// ring provider, its safe protocol versions, Mozilla's root certificates
/// (webpki-roots, so no system store is read) and no client certificate.
/// [`HttpFetcher`] builds on it, and so do the market's client and its S3
/// store, so every client trusts the same roots the same way.
pub fn tls_client_config() -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        })
        .with_no_client_auth())
}
