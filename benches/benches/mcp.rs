//! The MCP server's cost per call through the whole secure stack: one
//! client calling in turn over a stdio-framed pipe (audit without syncing,
//! which leaves the server's own work, and with group commit), and 100
//! concurrent calls over streamable HTTP on loopback.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rustchain_tools::audit::Durability;
use rustchain_tools_benches::mcp::{
    BenchServer, INITIALIZE, INITIALIZED, LineSession, call_request, is_success,
};
use tokio_util::sync::CancellationToken;

fn stdio(c: &mut Criterion) {
    let mut group = c.benchmark_group("mcp-stdio");
    // One thread: the server's own work. Two workers, as `rustchain-tools
    // mcp` runs: that plus the hand-offs between threads.
    for (name, durability, workers) in [
        ("call/audit-unsynced/1-thread", Durability::None, 1),
        ("call/audit-unsynced", Durability::None, 2),
        ("call/audit-group-commit", Durability::Group, 2),
    ] {
        let rt = if workers == 1 {
            tokio::runtime::Builder::new_current_thread()
        } else {
            tokio::runtime::Builder::new_multi_thread()
        }
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("a runtime");
        let server = BenchServer::start(durability);
        let mut session = rt.block_on(LineSession::open(&server.server));
        group.bench_function(name, |bench| {
            bench.iter(|| rt.block_on(session.call()));
        });
    }
    group.finish();
}

/// A streamable HTTP session that has completed its handshake.
struct HttpSession {
    client: reqwest::Client,
    url: String,
    id: String,
}

impl HttpSession {
    async fn open(client: reqwest::Client, url: String) -> HttpSession {
        let response = post(&client, &url, INITIALIZE)
            .send()
            .await
            .expect("initialize");
        let id = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .expect("a session id")
            .to_owned();
        let session = HttpSession { client, url, id };
        session.send(INITIALIZED).await;
        session
    }

    async fn send(&self, body: &str) -> String {
        post(&self.client, &self.url, body)
            .header("mcp-session-id", &self.id)
            .header("mcp-protocol-version", "2025-11-25")
            .send()
            .await
            .expect("the server answers")
            .text()
            .await
            .expect("a body")
    }

    async fn call(&self, id: u64) {
        let reply = self.send(&call_request(id)).await;
        assert!(is_success(&reply), "the call succeeds: {reply}");
    }
}

fn post(client: &reqwest::Client, url: &str, body: &str) -> reqwest::RequestBuilder {
    client
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_owned())
}

fn http_concurrent(c: &mut Criterion) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let mut group = c.benchmark_group("mcp-http");
    group.throughput(Throughput::Elements(100));
    group.sample_size(20);
    for (name, durability) in [
        ("100-concurrent/audit-unsynced", Durability::None),
        ("100-concurrent/audit-group-commit", Durability::Group),
    ] {
        let server = BenchServer::start(durability);
        let stop = CancellationToken::new();
        let sessions: Vec<HttpSession> = rt.block_on(async {
            let url = server.serve_http(stop.clone()).await;
            let client = reqwest::Client::new();
            let mut sessions = Vec::new();
            for _ in 0..100 {
                sessions.push(HttpSession::open(client.clone(), url.clone()).await);
            }
            sessions
        });
        let sessions = std::sync::Arc::new(sessions);
        let mut next = 1u64;
        group.bench_function(name, |bench| {
            bench.iter(|| {
                let id = next;
                next += 1;
                rt.block_on(async {
                    let calls: Vec<_> = (0..sessions.len())
                        .map(|i| {
                            let sessions = sessions.clone();
                            tokio::spawn(async move { sessions[i].call(id).await })
                        })
                        .collect();
                    for call in calls {
                        call.await.expect("a call task");
                    }
                });
            });
        });
        stop.cancel();
    }
    group.finish();
}

criterion_group!(benches, stdio, http_concurrent);
criterion_main!(benches);
