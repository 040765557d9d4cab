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
