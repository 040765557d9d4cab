//! The fetcher against a tiny HTTP server this test starts on 127.0.0.1.
//! Nothing here sends traffic beyond the loopback: internal addresses in
//! redirects and in injected DNS answers are refused before any connection.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustchain_tools_sandbox::SandboxError;
use rustchain_tools_sandbox::net::{
    AddressClass, DnsResolver, FetchLimits, FetchRequest, HttpFetcher, Lookup, Method, NetPolicy,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// What the server does with a request.
enum Reply {
    Send(Vec<u8>),
    Hang,
}

type Route = Arc<dyn Fn(&Seen, SocketAddr) -> Reply + Send + Sync>;

struct Server {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    async fn start(route: impl Fn(&Seen, SocketAddr) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let route: Route = Arc::new(route);
        let (count, log) = (Arc::clone(&connections), Arc::clone(&seen));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(answer(stream, addr, Arc::clone(&route), Arc::clone(&log)));
            }
        });
        Self {
            addr,
            connections,
            seen,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// Reads one request (head and Content-Length body), answers, closes.
async fn answer(mut stream: TcpStream, own: SocketAddr, route: Route, log: Arc<Mutex<Vec<Seen>>>) {
    let mut buf = Vec::new();
    let mut chunk = [0_u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut start = lines.next().unwrap_or_default().split(' ');
    let (method, path) = (
        start.next().unwrap_or_default(),
        start.next().unwrap_or_default(),
    );
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let seen = Seen {
        method: method.to_string(),
        path: path.to_string(),
        headers,
        body: buf[head_end..head_end + length].to_vec(),
    };
    log.lock().unwrap().push(seen.clone());
    match route(&seen, own) {
        Reply::Send(bytes) => {
            let _ = stream.write_all(&bytes).await;
            let _ = stream.shutdown().await;
        }
        Reply::Hang => tokio::time::sleep(Duration::from_secs(60)).await,
    }
}

fn response(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    Reply::Send(bytes)
}

fn redirect(status: &str, location: &str) -> Reply {
    response(status, &[("Location", location)], b"")
}

/// Loopback allowed, and only the given ports.
fn loopback_policy(ports: &[u16]) -> NetPolicy {
    NetPolicy {
        allow_loopback: true,
        allowed_ports: ports.to_vec(),
        ..NetPolicy::default()
    }
}

fn limits() -> FetchLimits {
    FetchLimits {
        timeout: Duration::from_secs(10),
        ..FetchLimits::default()
    }
}

fn fetcher(policy: NetPolicy) -> HttpFetcher {
    HttpFetcher::new(policy, limits()).unwrap()
}

/// Answers each lookup with the next scripted answer and counts lookups.
struct Scripted {
    answers: Mutex<Vec<Vec<IpAddr>>>,
    lookups: AtomicUsize,
}

impl Scripted {
    fn new(answers: &[&[&str]]) -> Arc<Self> {
        let answers = answers
            .iter()
            .map(|a| a.iter().map(|s| s.parse().unwrap()).collect())
            .collect();
        Arc::new(Self {
            answers: Mutex::new(answers),
            lookups: AtomicUsize::new(0),
        })
    }
}

impl DnsResolver for Scripted {
    fn lookup<'a>(&'a self, _host: &'a str) -> Lookup<'a> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        let mut answers = self.answers.lock().unwrap();
        let next = if answers.is_empty() {
            Vec::new()
        } else {
            answers.remove(0)
        };
        Box::pin(async move { Ok(next) })
    }
}

fn refused_address(result: Result<impl std::fmt::Debug, SandboxError>) -> (IpAddr, AddressClass) {
    match result {
        Err(SandboxError::AddressRefused { address, class, .. }) => (address, class),
        other => panic!("expected an address refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn get_returns_status_headers_body_and_remote_addr() {
    let server = Server::start(|_, _| response("200 OK", &[("X-Answer", "42")], b"hello")).await;
    let got = fetcher(loopback_policy(&[server.addr.port()]))
        .fetch(FetchRequest::get(server.url("/greeting?x=1")))
        .await
        .unwrap();
    assert_eq!(got.status, 200);
    assert_eq!(got.text(), "hello");
    assert!(!got.truncated);
    assert!(
        got.headers
            .contains(&("x-answer".to_string(), "42".to_string()))
    );
    assert_eq!(got.final_url, server.url("/greeting?x=1"));
    assert!(got.redirects.is_empty());
    assert_eq!(got.remote_addr, Some(server.addr));
    let seen = server.seen();
    assert_eq!(
        (seen[0].method.as_str(), seen[0].path.as_str()),
        ("GET", "/greeting?x=1")
    );
    assert!(!seen[0].headers.contains_key("cookie"));
}

#[tokio::test]
async fn post_sends_body_and_headers() {
    let server = Server::start(|seen, _| response("201 Created", &[], &seen.body)).await;
    let request = FetchRequest {
        method: Method::Post,
        url: server.url("/items"),
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            ("X-Trace".into(), "abc".into()),
        ],
        body: Some(br#"{"a":1}"#.to_vec()),
    };
    let got = fetcher(loopback_policy(&[server.addr.port()]))
        .fetch(request)
        .await
        .unwrap();
    assert_eq!(got.status, 201);
    assert_eq!(got.body, br#"{"a":1}"#);
    let seen = &server.seen()[0];
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.headers["content-type"], "application/json");
    assert_eq!(seen.headers["x-trace"], "abc");
    assert_eq!(seen.body, br#"{"a":1}"#);
}

#[tokio::test]
async fn response_body_is_capped_while_streaming() {
    let server = Server::start(|seen, _| {
        let size = if seen.path == "/big" { 200_000 } else { 1000 };
        response("200 OK", &[], &vec![b'x'; size])
    })
    .await;
    let fetcher = HttpFetcher::new(
        loopback_policy(&[server.addr.port()]),
        FetchLimits {
            max_response_bytes: 1000,
            ..limits()
        },
    )
    .unwrap();
    let big = fetcher
        .fetch(FetchRequest::get(server.url("/big")))
        .await
        .unwrap();
    assert_eq!(big.body.len(), 1000);
    assert!(big.truncated);
    let exact = fetcher
        .fetch(FetchRequest::get(server.url("/exact")))
        .await
        .unwrap();
    assert_eq!(exact.body.len(), 1000);
    assert!(!exact.truncated);
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let server = Server::start(|_, _| Reply::Hang).await;
    let fetcher = HttpFetcher::new(
        loopback_policy(&[server.addr.port()]),
        FetchLimits {
            timeout: Duration::from_millis(300),
            ..limits()
        },
    )
    .unwrap();
    let err = fetcher
        .fetch(FetchRequest::get(server.url("/slow")))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SandboxError::FetchTimedOut { timeout_ms: 300, url } if url.ends_with("/slow")),
        "{err}"
    );
}

#[tokio::test]
async fn an_oversized_request_body_is_refused_before_connecting() {
    let server = Server::start(|_, _| response("200 OK", &[], b"")).await;
    let fetcher = HttpFetcher::new(
        loopback_policy(&[server.addr.port()]),
        FetchLimits {
            max_request_body_bytes: 4,
            ..limits()
        },
    )
    .unwrap();
    let request = FetchRequest {
        method: Method::Post,
        body: Some(b"12345".to_vec()),
        ..FetchRequest::get(server.url("/"))
    };
    let err = fetcher.fetch(request).await.unwrap_err();
    assert!(matches!(err, SandboxError::InvalidFetch { .. }), "{err}");
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn redirects_to_allowed_paths_are_followed() {
    let server = Server::start(|seen, _| match seen.path.as_str() {
        "/old" => redirect("301 Moved Permanently", "/middle"),
        "/middle" => redirect("307 Temporary Redirect", "new?q=2"),
        "/form" => redirect("303 See Other", "/done"),
        _ => response("200 OK", &[], seen.method.as_bytes()),
    })
    .await;
    let fetcher = fetcher(loopback_policy(&[server.addr.port()]));
    let got = fetcher
        .fetch(FetchRequest::get(server.url("/old")))
        .await
        .unwrap();
    assert_eq!(got.status, 200);
    assert_eq!(got.final_url, server.url("/new?q=2"));
    assert_eq!(
        got.redirects,
        vec![server.url("/middle"), server.url("/new?q=2")]
    );

    // 303 after a POST: the next hop is a GET without the body or its headers.
    let post = FetchRequest {
        method: Method::Post,
        headers: vec![("Content-Type".into(), "text/plain".into())],
        body: Some(b"data".to_vec()),
        ..FetchRequest::get(server.url("/form"))
    };
    let got = fetcher.fetch(post).await.unwrap();
    assert_eq!(got.text(), "GET");
    let last = server.seen().pop().unwrap();
    assert!(last.body.is_empty());
    assert!(!last.headers.contains_key("content-type"));
}

#[tokio::test]
async fn redirects_to_internal_addresses_are_refused_without_connecting() {
    for target in [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:10.0.0.1]/",
        "http://[fd00:ec2::254]/",
        "http://0x0a000001/",
    ] {
        let location = target.to_string();
        let server = Server::start(move |_, _| redirect("302 Found", &location)).await;
        let policy = NetPolicy {
            allowed_ports: vec![80, server.addr.port()],
            ..loopback_policy(&[])
        };
        let (address, class) = refused_address(
            fetcher(policy)
                .fetch(FetchRequest::get(server.url("/go")))
                .await,
        );
        assert_ne!(class, AddressClass::Public, "{target}");
        assert!(!address.is_loopback(), "{target}");
        assert_eq!(server.connections(), 1, "{target}");
    }
}

#[tokio::test]
async fn a_redirect_to_a_name_with_an_internal_answer_is_refused() {
    let server = Server::start(|_, own| {
        redirect(
            "302 Found",
            &format!("http://internal.test:{}/", own.port()),
        )
    })
    .await;
    let resolver = Scripted::new(&[&["10.0.0.1"]]);
    let fetcher = HttpFetcher::with_resolver(
        loopback_policy(&[server.addr.port()]),
        limits(),
        resolver.clone(),
    )
    .unwrap();
    let err = fetcher
        .fetch(FetchRequest::get(server.url("/go")))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(&err, SandboxError::AddressRefused { host, class: AddressClass::Private, .. } if host == "internal.test"),
        "{text}"
    );
    assert!(
        text.contains("http://internal.test:") && text.contains("allow_private"),
        "{text}"
    );
    assert_eq!(resolver.lookups.load(Ordering::SeqCst), 1);
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn too_many_redirects_are_refused() {
    let server = Server::start(|seen, _| {
        let n: u32 = seen.path.trim_start_matches('/').parse().unwrap_or(0);
        redirect("302 Found", &format!("/{}", n + 1))
    })
    .await;
    let fetcher = HttpFetcher::new(
        loopback_policy(&[server.addr.port()]),
        FetchLimits {
            max_redirects: 3,
            ..limits()
        },
    )
    .unwrap();
    let err = fetcher
        .fetch(FetchRequest::get(server.url("/0")))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SandboxError::TooManyRedirects { max: 3, next, .. } if next.ends_with("/4")),
        "{err}"
    );
    assert_eq!(server.seen().len(), 4);
}

#[tokio::test]
async fn credentials_are_dropped_on_cross_origin_redirects_only() {
    let other = Server::start(|_, _| response("200 OK", &[], b"other")).await;
    let target = other.url("/landing");
    let server = Server::start(move |seen, _| match seen.path.as_str() {
        "/same" => redirect("302 Found", "/landing"),
        "/cross" => redirect("302 Found", &target),
        _ => response("200 OK", &[], b"same"),
    })
    .await;
    let fetcher = fetcher(loopback_policy(&[server.addr.port(), other.addr.port()]));
    let request = |path: &str| FetchRequest {
        headers: vec![
            ("Authorization".into(), "Bearer secret".into()),
            ("Cookie".into(), "session=1".into()),
            ("X-Keep".into(), "yes".into()),
        ],
        ..FetchRequest::get(server.url(path))
    };

    fetcher.fetch(request("/same")).await.unwrap();
    let same = server.seen().pop().unwrap();
    assert_eq!(same.path, "/landing");
    assert_eq!(same.headers["authorization"], "Bearer secret");
    assert_eq!(same.headers["cookie"], "session=1");

    let got = fetcher.fetch(request("/cross")).await.unwrap();
    assert_eq!(got.text(), "other");
    let cross = &other.seen()[0];
    assert!(!cross.headers.contains_key("authorization"), "{cross:?}");
    assert!(!cross.headers.contains_key("cookie"), "{cross:?}");
    assert_eq!(cross.headers["x-keep"], "yes");
}

#[tokio::test]
async fn the_default_policy_refuses_the_local_server() {
    let server = Server::start(|_, _| response("200 OK", &[], b"secret")).await;
    let port_open = NetPolicy {
        allowed_ports: vec![server.addr.port()],
        ..NetPolicy::default()
    };
    for policy in [NetPolicy::default(), port_open.clone()] {
        let err = fetcher(policy)
            .fetch(FetchRequest::get(server.url("/")))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                SandboxError::UrlRefused { .. } | SandboxError::AddressRefused { .. }
            ),
            "{err}"
        );
    }
    let (address, class) = refused_address(
        fetcher(port_open)
            .fetch(FetchRequest::get(server.url("/")))
            .await,
    );
    assert_eq!((address, class), (server.addr.ip(), AddressClass::Loopback));
    // A name that resolves to the server is refused too.
    let resolver = Scripted::new(&[&["127.0.0.1"]]);
    let by_name = HttpFetcher::with_resolver(
        NetPolicy {
            allowed_ports: vec![server.addr.port()],
            ..NetPolicy::default()
        },
        limits(),
        resolver,
    )
    .unwrap();
    let url = format!("http://svc.test:{}/", server.addr.port());
    refused_address(by_name.fetch(FetchRequest::get(url)).await);
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn names_connect_only_to_their_checked_answers() {
    let server = Server::start(|_, _| response("200 OK", &[], b"by name")).await;
    let url = format!("http://svc.test:{}/", server.addr.port());
    let policy = loopback_policy(&[server.addr.port()]);

    let resolver = Scripted::new(&[&["127.0.0.1"]]);
    let got = HttpFetcher::with_resolver(policy.clone(), limits(), resolver.clone())
        .unwrap()
        .fetch(FetchRequest::get(url.clone()))
        .await
        .unwrap();
    assert_eq!(
        (got.text().as_str(), got.remote_addr),
        ("by name", Some(server.addr))
    );
    assert_eq!(resolver.lookups.load(Ordering::SeqCst), 1);

    // One allowed and one refused answer: the whole name is refused, nothing is connected.
    let mixed = Scripted::new(&[&["127.0.0.1", "10.0.0.1"]]);
    let err = HttpFetcher::with_resolver(policy, limits(), mixed)
        .unwrap()
        .fetch(FetchRequest::get(url))
        .await;
    assert_eq!(
        refused_address(err),
        ("10.0.0.1".parse().unwrap(), AddressClass::Private)
    );
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn dns_rebinding_cannot_reach_the_second_answer() {
    let server = Server::start(|_, _| response("200 OK", &[], b"ok")).await;
    let url = format!("http://rebind.test:{}/", server.addr.port());
    // First answer allowed, second internal: every connection makes one
    // lookup and connects to what that lookup answered, after checking it.
    let resolver = Scripted::new(&[&["127.0.0.1"], &["10.0.0.1"]]);
    let fetcher = HttpFetcher::with_resolver(
        loopback_policy(&[server.addr.port()]),
        limits(),
        resolver.clone(),
    )
    .unwrap();
    let first = fetcher.fetch(FetchRequest::get(url.clone())).await.unwrap();
    assert_eq!(first.remote_addr, Some(server.addr));
    let second = fetcher.fetch(FetchRequest::get(url)).await;
    assert_eq!(
        refused_address(second).0,
        "10.0.0.1".parse::<IpAddr>().unwrap()
    );
    assert_eq!(resolver.lookups.load(Ordering::SeqCst), 2);
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn resolution_failures_are_reported_with_the_host() {
    let resolver = Scripted::new(&[]);
    let fetcher = HttpFetcher::with_resolver(NetPolicy::default(), limits(), resolver).unwrap();
    let err = fetcher
        .fetch(FetchRequest::get("http://nowhere.test/"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SandboxError::Resolve { host, .. } if host == "nowhere.test"),
        "{err}"
    );
}

#[tokio::test]
async fn https_goes_through_rustls_and_fails_cleanly_on_a_plain_server() {
    // A plain-text server that speaks first: the TLS handshake reads an HTTP
    // answer where a ServerHello belongs and must fail, not hang or panic.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                .await;
            let _ = stream.shutdown().await;
        }
    });
    let url = format!("https://{addr}/");
    let err = fetcher(loopback_policy(&[addr.port()]))
        .fetch(FetchRequest::get(url.clone()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SandboxError::Http { url: u, reason } if *u == url && reason.contains("corrupt message")),
        "{err}"
    );
}
