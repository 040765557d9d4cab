//! The HTTP fetcher: one client, the checked resolver, redirects followed by
//! hand, bodies read under a cap, the whole fetch under a timeout.

use std::error::Error as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{StatusCode, Url};

use super::policy::{NetPolicy, host_granted, how_to_allow};
use super::resolve::{CheckedResolver, DnsResolver, LookupRefusal, SystemResolver};
use crate::SandboxError;

/// Limits of one fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchLimits {
    /// The most response body bytes kept; reading stops past it and the response is marked truncated.
    pub max_response_bytes: usize,
    /// The time the whole fetch may take: every redirect hop and the body included.
    pub timeout: Duration,
    /// The most redirects followed; one more is refused.
    pub max_redirects: usize,
    /// The largest request body sent.
    pub max_request_body_bytes: usize,
}

impl Default for FetchLimits {
    /// 10 MiB responses, 30 s, 5 redirects, 1 MiB request bodies.
    fn default() -> Self {
        Self {
            max_response_bytes: 10 << 20,
            timeout: Duration::from_secs(30),
            max_redirects: 5,
            max_request_body_bytes: 1 << 20,
        }
    }
}

/// The HTTP methods a fetch may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
}

impl Method {
    fn as_reqwest(self) -> reqwest::Method {
        match self {
            Self::Get => reqwest::Method::GET,
            Self::Post => reqwest::Method::POST,
        }
    }
}

/// One request to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchRequest {
    /// The method.
    pub method: Method,
    /// The absolute `http` or `https` URL.
    pub url: String,
    /// Request headers (name, value). `Host`, `Content-Length`, `Transfer-Encoding`
    /// and the hop-by-hop headers are refused: the client sets them.
    pub headers: Vec<(String, String)>,
    /// The request body, if any.
    pub body: Option<Vec<u8>>,
}

impl FetchRequest {
    /// A `GET` of `url` with no headers.
    pub fn get(url: impl Into<String>) -> Self {
        Self {
            method: Method::Get,
            url: url.into(),
            headers: Vec::new(),
            body: None,
        }
    }
}

/// What a fetch brought back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchResponse {
    /// The HTTP status of the final response.
    pub status: u16,
    /// Its headers (values that are not UTF-8 are converted lossily).
    pub headers: Vec<(String, String)>,
    /// The body, at most `max_response_bytes` of it.
    pub body: Vec<u8>,
    /// Whether the body was cut at `max_response_bytes`.
    pub truncated: bool,
    /// The URL of the final response, after redirects.
    pub final_url: String,
    /// The URLs redirected to, in order.
    pub redirects: Vec<String>,
    /// The address the final response came from.
    pub remote_addr: Option<SocketAddr>,
}

impl FetchResponse {
    /// The body as text, invalid UTF-8 replaced.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Headers the client manages itself; a caller setting them could smuggle a
/// second request or point the request at another virtual host.
const FORBIDDEN_HEADERS: [&str; 10] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-connection",
    "proxy-authorization",
];

/// Headers that carry credentials and are dropped when a redirect leaves the origin.
const SENSITIVE_HEADERS: [HeaderName; 3] = [
    header::AUTHORIZATION,
    header::COOKIE,
    header::PROXY_AUTHORIZATION,
];

/// Headers that describe a body, dropped with it when a redirect turns a POST into a GET.
const BODY_HEADERS: [HeaderName; 4] = [
    header::CONTENT_TYPE,
    header::CONTENT_ENCODING,
    header::CONTENT_LANGUAGE,
    header::CONTENT_LOCATION,
];

/// An HTTP client that only reaches what its [`NetPolicy`] allows.
///
/// Every URL (the first and each redirect) is checked for scheme, host and
/// port; an IP literal is checked before anything is sent, and a host name is
/// resolved once per connection by a resolver plugged into the client, which
/// checks every answer and hands the client only those, so a second lookup
/// cannot rebind the name. Proxies from the environment, cookies, automatic
/// redirects, retries and compression are off; TLS is rustls (ring) with the
/// webpki roots.
///
/// ```no_run
/// use rustchain_tools_sandbox::net::{FetchLimits, FetchRequest, HttpFetcher, NetPolicy};
///
/// # async fn run() -> Result<(), rustchain_tools_sandbox::SandboxError> {
/// let fetcher = HttpFetcher::new(NetPolicy::default(), FetchLimits::default())?;
/// let response = fetcher.fetch(FetchRequest::get("https://example.com/")).await?;
/// println!("{} {} bytes from {:?}", response.status, response.body.len(), response.remote_addr);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct HttpFetcher {
    client: reqwest::Client,
    policy: Arc<NetPolicy>,
    limits: FetchLimits,
    granted_hosts: Vec<Arc<[String]>>,
}

impl HttpFetcher {
    /// A fetcher that resolves names with the system resolver.
    pub fn new(policy: NetPolicy, limits: FetchLimits) -> Result<Self, SandboxError> {
        Self::with_resolver(policy, limits, Arc::new(SystemResolver))
    }

    /// A fetcher that resolves names with `resolver` (its answers are checked all the same).
    pub fn with_resolver(
        policy: NetPolicy,
        limits: FetchLimits,
        resolver: Arc<dyn DnsResolver>,
    ) -> Result<Self, SandboxError> {
        let client_error = |reason: String| SandboxError::HttpClient { reason };
        let policy = Arc::new(policy);
        let mut tls = super::tls_client_config().map_err(|e| client_error(e.to_string()))?;
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .retry(reqwest::retry::never())
            .referer(false)
            .user_agent(concat!(
                "rustchain-tools-sandbox/",
                env!("CARGO_PKG_VERSION")
            ))
            .tls_backend_preconfigured(tls)
            .dns_resolver(CheckedResolver {
                policy: Arc::clone(&policy),
                inner: resolver,
            })
            .build()
            .map_err(|e| client_error(error_chain(&e)))?;
        Ok(Self {
            client,
            policy,
            limits,
            granted_hosts: Vec::new(),
        })
    }

    /// A copy (sharing the client) that also refuses every URL, the first
    /// and each redirect hop, whose host and port are not among `hosts`:
    /// `host`, `*.domain` or `*`, each optionally with `:port` (without
    /// one, every port). Restrictions add up: a URL must pass each.
    pub fn only_hosts(&self, hosts: Vec<String>) -> HttpFetcher {
        let mut restricted = self.clone();
        restricted.granted_hosts.push(hosts.into());
        restricted
    }

    /// Fetches `request` under the policy and limits, following redirects.
    pub async fn fetch(&self, request: FetchRequest) -> Result<FetchResponse, SandboxError> {
        let url = request.url.clone();
        tokio::time::timeout(self.limits.timeout, self.fetch_within_time(request))
            .await
            .unwrap_or_else(|_| {
                Err(SandboxError::FetchTimedOut {
                    url,
                    timeout_ms: u64::try_from(self.limits.timeout.as_millis()).unwrap_or(u64::MAX),
                })
            })
    }

    async fn fetch_within_time(
        &self,
        request: FetchRequest,
    ) -> Result<FetchResponse, SandboxError> {
        let invalid = |reason: String| SandboxError::InvalidFetch {
            url: request.url.clone(),
            reason,
        };
        let mut url = Url::parse(&request.url).map_err(|e| SandboxError::UrlRefused {
            url: request.url.clone(),
            reason: format!("not a valid absolute URL: {e}"),
        })?;
        let mut headers = header_map(&request.headers).map_err(invalid)?;
        let mut body = request.body;
        if let Some(bytes) = &body
            && bytes.len() > self.limits.max_request_body_bytes
        {
            return Err(invalid(format!(
                "the body is {} bytes, over max_request_body_bytes {}",
                bytes.len(),
                self.limits.max_request_body_bytes
            )));
        }
        let mut method = request.method;
        let mut redirects = Vec::new();
        loop {
            self.policy.check_url(&url)?;
            for hosts in &self.granted_hosts {
                host_granted(&url, hosts).map_err(|reason| SandboxError::UrlRefused {
                    url: url.to_string(),
                    reason,
                })?;
            }
            let mut builder = self
                .client
                .request(method.as_reqwest(), url.clone())
                .headers(headers.clone());
            if let Some(bytes) = &body {
                builder = builder.body(bytes.clone());
            }
            let response = builder.send().await.map_err(|e| send_error(&url, &e))?;
            let status = response.status();
            let location = response.headers().get(header::LOCATION);
            let Some(location) = location.filter(|_| is_followed_redirect(status)) else {
                return self.read_response(response, redirects).await;
            };
            let next = location
                .to_str()
                .ok()
                .and_then(|text| url.join(text).ok())
                .ok_or_else(|| SandboxError::Http {
                    url: url.to_string(),
                    reason: format!("{status} redirect has an unusable Location {location:?}"),
                })?;
            if redirects.len() >= self.limits.max_redirects {
                return Err(SandboxError::TooManyRedirects {
                    url: request.url.clone(),
                    max: self.limits.max_redirects,
                    next: next.to_string(),
                });
            }
            if next.origin() != url.origin() {
                for name in &SENSITIVE_HEADERS {
                    headers.remove(name);
                }
            }
            let becomes_get = status == StatusCode::SEE_OTHER
                || (method == Method::Post
                    && matches!(status, StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND));
            if becomes_get {
                method = Method::Get;
                body = None;
                for name in &BODY_HEADERS {
                    headers.remove(name);
                }
            }
            redirects.push(next.to_string());
            url = next;
        }
    }

    async fn read_response(
        &self,
        mut response: reqwest::Response,
        redirects: Vec<String>,
    ) -> Result<FetchResponse, SandboxError> {
        let final_url = response.url().to_string();
        let status = response.status().as_u16();
        let remote_addr = response.remote_addr();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_string(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let cap = self.limits.max_response_bytes;
        let mut body = Vec::new();
        let mut truncated = false;
        while let Some(chunk) = response.chunk().await.map_err(|e| SandboxError::Http {
            url: final_url.clone(),
            reason: format!("reading the body: {}", error_chain(&e)),
        })? {
            let room = cap - body.len();
            if chunk.len() > room {
                body.extend_from_slice(&chunk[..room]);
                truncated = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
        Ok(FetchResponse {
            status,
            headers,
            body,
            truncated,
            final_url,
            redirects,
            remote_addr,
        })
    }
}

fn is_followed_redirect(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::SEE_OTHER
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT
    )
}

fn header_map(pairs: &[(String, String)]) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        let parsed = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("header name {name:?} is not a valid HTTP header name"))?;
        if FORBIDDEN_HEADERS.contains(&parsed.as_str()) {
            return Err(format!(
                "header {name:?} is set by the client and may not be given"
            ));
        }
        let value = HeaderValue::from_str(value)
            .map_err(|_| format!("the value of header {name:?} is not a valid header value"))?;
        map.append(parsed, value);
    }
    Ok(map)
}

/// The error and its causes, joined, since reqwest's own message is terse.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        parts.push(cause.to_string());
        source = cause.source();
    }
    parts.join(": ")
}

/// A send error as the sandbox reports it: a refusal by the checked resolver
/// becomes the refusal it is, anything else an HTTP failure with its causes.
fn send_error(url: &Url, error: &reqwest::Error) -> SandboxError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = error.source();
    while let Some(cause) = source {
        if let Some(refusal) = cause.downcast_ref::<LookupRefusal>() {
            return match refusal.clone() {
                LookupRefusal::Refused {
                    host,
                    address,
                    class,
                } => SandboxError::AddressRefused {
                    url: url.to_string(),
                    host,
                    address,
                    class,
                    allow_with: how_to_allow(class).to_string(),
                },
                LookupRefusal::Failed { host, reason } => SandboxError::Resolve {
                    url: url.to_string(),
                    host,
                    reason,
                },
            };
        }
        source = cause.source();
    }
    SandboxError::Http {
        url: url.to_string(),
        reason: error_chain(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_and_malformed_headers_are_refused() {
        for name in ["Host", "content-length", "Transfer-Encoding", "bad header"] {
            let err = header_map(&[(name.into(), "x".into())]).unwrap_err();
            assert!(err.contains(name), "{err}");
        }
        assert!(header_map(&[("x-ok".into(), "line\r\nbreak".into())]).is_err());
        let map = header_map(&[("X-A".into(), "1".into()), ("x-a".into(), "2".into())]).unwrap();
        assert_eq!(map.get_all("x-a").iter().count(), 2);
    }
}
