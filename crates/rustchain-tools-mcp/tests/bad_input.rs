//! Bad input on the wire gets the protocol's error or a clean close, never
//! a crash or a hang, and the audit log still verifies: malformed JSON-RPC,
//! unknown methods, wrong shapes, oversized messages, a client gone
//! mid-call, DNS rebinding and foreign origins, and 1,000 HTTP sessions at
//! once.

mod common;

use std::time::Duration;

use rustchain_tools::audit::RecordKind;
use rustchain_tools_mcp::{HttpOptions, McpServer, Mode, config::HttpSection, serve_http};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream, Lines},
    task::JoinHandle,
};
use tokio_util::sync::CancellationToken;

const INIT: &str = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#;
const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;

struct Raw {
    write: tokio::io::WriteHalf<DuplexStream>,
    lines: Lines<BufReader<tokio::io::ReadHalf<DuplexStream>>>,
    server: JoinHandle<()>,
}

/// A session over a pipe, initialized.
async fn open(server: &McpServer) -> Raw {
    let (server_end, client_end) = tokio::io::duplex(64 << 20);
    let server = server.clone();
    let task = tokio::spawn(async move {
        if let Ok(running) = rmcp::ServiceExt::serve(server, server_end).await {
            let _ = running.waiting().await;
        }
    });
    let (read, write) = tokio::io::split(client_end);
    let mut raw = Raw {
        write,
        lines: BufReader::new(read).lines(),
        server: task,
    };
    raw.send(INIT).await;
    let reply = raw.reply().await.expect("initialize is answered");
    assert_eq!(reply["id"], 0, "{reply}");
    raw.send(INITIALIZED).await;
    raw
}

impl Raw {
    async fn send(&mut self, line: &str) {
        // A write to a session the server closed fails: that is a clean close.
        let _ = self.write.write_all(line.as_bytes()).await;
        let _ = self.write.write_all(b"\n").await;
        let _ = self.write.flush().await;
    }

    /// The next message, or `None` when the server closed the session;
    /// waiting longer than 10 s is a hang.
    async fn reply(&mut self) -> Option<Value> {
        let line = tokio::time::timeout(Duration::from_secs(10), self.lines.next_line())
            .await
            .expect("the server answers or closes, it does not hang");
        line.ok()
            .flatten()
            .map(|l| serde_json::from_str(&l).expect("the server writes JSON"))
    }

    /// Whether the session still serves a call.
    async fn still_serves(&mut self) -> bool {
        self.send(r#"{"jsonrpc":"2.0","id":99,"method":"tools/call","params":{"name":"text.sha256","arguments":{"text":"a"}}}"#).await;
        while let Some(reply) = self.reply().await {
            if reply["id"] == 99 {
                return reply["result"]["isError"] == false;
            }
        }
        false
    }

    async fn close(self) {
        drop(self.write);
        drop(self.lines);
        tokio::time::timeout(Duration::from_secs(10), self.server)
            .await
            .expect("the session ends when the client goes")
            .expect("the session task did not panic");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_unknown_and_misshapen_messages_get_errors() {
    let test = common::server(Vec::new(), Mode::List, 100);

    // Not JSON at all: ignored, as rmcp and the other official SDKs do (an
    // answer has no id to go to, and could start an error storm with a peer
    // that echoes), and the session goes on.
    let mut raw = open(&test.server).await;
    raw.send("{this is not json").await;
    raw.send("\u{0}\u{1}garbage]]]").await;
    assert!(raw.still_serves().await);
    raw.close().await;

    // An unknown method: method not found, and the session goes on.
    let mut raw = open(&test.server).await;
    raw.send(r#"{"jsonrpc":"2.0","id":1,"method":"tools/explode","params":{}}"#)
        .await;
    let reply = raw.reply().await.expect("an error reply");
    assert_eq!(reply["id"], 1, "{reply}");
    assert_eq!(reply["error"]["code"], -32601, "{reply}");
    // A known method with the wrong shape: an error, and the session goes on.
    raw.send(r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":5}}"#)
        .await;
    let reply = raw.reply().await.expect("an error reply");
    assert!(reply["error"]["code"].is_i64(), "{reply}");
    raw.send(r#"{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"cursor":"junk"}}"#)
        .await;
    let reply = raw.reply().await.expect("an error reply");
    assert_eq!(reply["error"]["code"], -32602, "{reply}");
    assert!(raw.still_serves().await);
    raw.close().await;

    // A message larger than the transport takes (16 MiB): refused or
    // closed, without the server holding it all.
    let mut raw = open(&test.server).await;
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{{"name":"text.sha256","arguments":{{"text":"{}"}}}}}}"#,
        "x".repeat(17 << 20)
    );
    raw.send(&huge).await;
    assert!(raw.still_serves().await, "the oversized line is discarded");
    raw.close().await;

    // Arguments past the tool's own limit (1 MiB) are a tool error.
    let mut raw = open(&test.server).await;
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{{"name":"text.sha256","arguments":{{"text":"{}"}}}}}}"#,
        "x".repeat(2 << 20)
    );
    raw.send(&big).await;
    let reply = raw.reply().await.expect("a reply");
    assert_eq!(reply["result"]["isError"], true, "{reply}");
    assert!(
        reply["result"]["content"][0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("max")),
        "{reply}"
    );
    raw.close().await;

    let records = test.records();
    assert!(records.iter().any(|r| r.kind == RecordKind::Rejected));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_gone_mid_call_cancels_it_on_record() {
    let test = common::server(Vec::new(), Mode::List, 100);
    let mut raw = open(&test.server).await;
    raw.send(r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"test.sleep","arguments":{"seconds":30}}}"#).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    raw.close().await;
    // rmcp lets handlers in flight finish for up to 5 s after the client
    // goes, then drops them: the call is cancelled on record.
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    // The session ends before rmcp's request task has dropped the call (and
    // its audit layer sent `cancelled`): wait for that before closing the log.
    for _ in 0..100 {
        let text = std::fs::read_to_string(&test.log_path).unwrap_or_default();
        if text.contains(r#""kind":"cancelled""#) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let records = test.records();
    let call = records
        .iter()
        .find(|r| r.kind == RecordKind::Received && r.payload["tool"] == "test.sleep")
        .expect("the call was received");
    let id = &call.payload["callId"];
    let outcome: Vec<RecordKind> = records
        .iter()
        .filter(|r| &r.payload["callId"] == id)
        .map(|r| r.kind)
        .collect();
    assert_eq!(outcome.last(), Some(&RecordKind::Cancelled), "{outcome:?}");
}

async fn start_http(server: &McpServer) -> (String, CancellationToken, JoinHandle<()>) {
    let stop = CancellationToken::new();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let options = HttpOptions {
        section: HttpSection {
            listen: "127.0.0.1:0".parse().unwrap(),
            max_body_bytes: 1 << 20,
            ..HttpSection::default()
        },
        token: None,
    };
    let server = server.clone();
    let task_stop = stop.clone();
    let task = tokio::spawn(async move {
        serve_http(server, options, task_stop, |address| {
            let _ = tx.send(address);
        })
        .await
        .expect("the HTTP server runs");
    });
    let address = rx.await.unwrap();
    (format!("http://{address}/mcp"), stop, task)
}

fn post(client: &reqwest::Client, url: &str, body: &str) -> reqwest::RequestBuilder {
    client
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_owned())
}

/// An error with its causes, so a failure under load says which step of
/// the connection broke (connect, write, read).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// One whole session: initialize, initialized, a call, close.
async fn session(client: reqwest::Client, url: String, n: usize) -> Result<(), String> {
    let response = post(&client, &url, INIT)
        .send()
        .await
        .map_err(|e| chain(&e))?;
    if !response.status().is_success() {
        return Err(format!("initialize: {}", response.status()));
    }
    let session = response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .ok_or("no session id")?
        .to_owned();
    let with_session = |body: &str| {
        post(&client, &url, body)
            .header("mcp-session-id", &session)
            .header("mcp-protocol-version", "2025-11-25")
    };
    with_session(INITIALIZED)
        .send()
        .await
        .map_err(|e| chain(&e))?;
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "text.word_count", "arguments": {"text": format!("session {n}")}}});
    let response = with_session(&call.to_string())
        .send()
        .await
        .map_err(|e| chain(&e))?;
    let text = response.text().await.map_err(|e| chain(&e))?;
    // A JSON body, or server-sent events whose last data line is the reply.
    let body: Value = text
        .lines()
        .rev()
        .filter_map(|l| l.strip_prefix("data: "))
        .find(|d| !d.is_empty())
        .map_or_else(|| serde_json::from_str(&text), serde_json::from_str)
        .map_err(|e| format!("{e}: {text}"))?;
    if body["result"]["structuredContent"]["words"] != 2 {
        return Err(format!("unexpected reply {body}"));
    }
    client
        .delete(&url)
        .header("mcp-session-id", &session)
        .send()
        .await
        .map_err(|e| chain(&e))?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_refuses_rebinding_foreign_origins_junk_and_serves_a_thousand_sessions() {
    let test = common::server(Vec::new(), Mode::List, 100);
    let (url, stop, task) = start_http(&test.server).await;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();

    // DNS rebinding: a page on evil.example resolving to 127.0.0.1.
    let rebinding = post(&client, &url, INIT)
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(rebinding.status(), 403);
    let foreign = post(&client, &url, INIT)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    let local = post(&client, &url, INIT)
        .header("origin", "http://localhost:3000")
        .send()
        .await
        .unwrap();
    assert!(local.status().is_success(), "{}", local.status());
    // Junk and oversized bodies get an HTTP error, not a crash.
    let junk = post(&client, &url, "{not json").send().await.unwrap();
    assert!(junk.status().is_client_error(), "{}", junk.status());
    let huge = post(&client, &url, &"x".repeat(2 << 20))
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 413);
    // Said aloud, so the pooled client opens a new connection rather than
    // losing a later request on this one as the server closes it.
    assert_eq!(huge.headers()["connection"], "close");

    // A thousand sessions at once, each initialized, called and closed.
    let sessions: Vec<_> = (0..1000)
        .map(|n| tokio::spawn(session(client.clone(), url.clone(), n)))
        .collect();
    let mut failures = Vec::new();
    for s in sessions {
        if let Err(e) = s.await.unwrap() {
            failures.push(e);
        }
    }
    assert!(
        failures.is_empty(),
        "{} sessions failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
    // And the server still serves.
    session(client.clone(), url.clone(), 1001).await.unwrap();

    stop.cancel();
    tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .expect("the server stops")
        .unwrap();
    let records = test.records();
    let finished = records
        .iter()
        .filter(|r| r.kind == RecordKind::Finished)
        .count();
    assert!(finished >= 1001, "{finished} calls finished on record");
}

#[tokio::test]
async fn a_body_too_large_is_refused_and_its_connection_closed_aloud() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let test = common::server(Vec::new(), Mode::List, 100);
    let (url, stop, task) = start_http(&test.server).await;
    let address = url
        .trim_start_matches("http://")
        .trim_end_matches("/mcp")
        .to_owned();
    let stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /mcp HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/json\r\n\
         accept: application/json, text/event-stream\r\ncontent-length: {}\r\n\r\n",
        2 << 20
    );
    let (mut read, mut write) = stream.into_split();
    // More than the limit of 1 MiB, less than announced: the rest of the
    // body never comes, so the reply and the close must. Written aside, as
    // the server stops reading once it has seen too much.
    let writer = tokio::spawn(async move {
        write.write_all(head.as_bytes()).await?;
        write.write_all(&vec![b'x'; 3 << 19]).await?;
        Ok::<_, std::io::Error>(write)
    });
    let mut reply = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), read.read_to_end(&mut reply))
        .await
        .expect("the server closes the connection")
        .unwrap();
    writer.abort();
    let reply = String::from_utf8_lossy(&reply).to_lowercase();
    assert!(reply.starts_with("http/1.1 413"), "{reply}");
    assert!(reply.contains("\r\nconnection: close\r\n"), "{reply}");

    stop.cancel();
    tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .expect("the server stops")
        .unwrap();
}
