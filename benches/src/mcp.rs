//! The MCP server's own cost: a server over the whole secure stack (the
//! default policy with the `sox` profile, audit, validation, limits,
//! deadline) around the no-op tool, and a client that costs next to nothing
//! (pre-formatted requests, replies checked by their text), so what is
//! measured is the server: rmcp's framing and dispatch, our handler and the
//! pipeline.

use std::{net::SocketAddr, sync::Arc};

use rustchain_tools::{
    Catalog, Principal, Runtime, RuntimeBuilderExt, StackConfig,
    audit::{AuditConfig, AuditKey, AuditLayer, AuditLog, Durability},
    policy::{PolicyConfig, PolicyEngine},
    registry::Registry,
};
use rustchain_tools_mcp::{
    Exposure, HttpOptions, McpServer, Mode, ServerOptions, config::HttpSection, serve_http,
    serve_io,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream, ReadHalf, WriteHalf};
use tokio_util::sync::CancellationToken;

use crate::NoOp;

/// A server and the temporary directory its audit log and registry live in.
pub struct BenchServer {
    /// The server; clone it for each session.
    pub server: McpServer,
    /// Its audit log, for counting what it recorded.
    pub log: AuditLog,
    _dir: tempfile::TempDir,
}

impl BenchServer {
    /// The no-op tool behind the whole secure stack, audited with
    /// `durability`, for the local principal.
    pub fn start(durability: Durability) -> BenchServer {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let key = AuditKey::generate("bench.mcp").expect("a key");
        let mut config = AuditConfig::new(dir.path().join("audit.jsonl"), key);
        config.durability = durability;
        config.rotate_bytes = Some(64 << 20); // bounded over long runs
        let log = AuditLog::open(config).expect("the audit log opens");
        let policy = PolicyConfig::new().profile("sox");
        let runtime = Runtime::builder()
            .tool(NoOp)
            .layers(
                StackConfig::default()
                    .policy(policy.clone())
                    .audit_layer(AuditLayer::new(log.clone(), b"bench")),
            )
            .build()
            .expect("the stack builds");
        let registry =
            Arc::new(Registry::open(&dir.path().join("registry")).expect("the registry opens"));
        let catalog = Catalog::open(runtime, registry).expect("the catalog opens");
        let server = McpServer::new(
            catalog,
            ServerOptions {
                principal: Principal::local(),
                exposure: Exposure::all(Mode::List),
                probe: Some(PolicyEngine::load(&policy).expect("the shipped policies load")),
                audit: Some(log.clone()),
                page_size: 100,
            },
        );
        BenchServer {
            server,
            log,
            _dir: dir,
        }
    }

    /// Serves over streamable HTTP on an ephemeral loopback port until
    /// the token is cancelled; returns the endpoint's URL.
    pub async fn serve_http(&self, stop: CancellationToken) -> String {
        let (tx, rx) = tokio::sync::oneshot::channel::<SocketAddr>();
        let options = HttpOptions {
            section: HttpSection {
                listen: "127.0.0.1:0".parse().expect("an address"),
                ..HttpSection::default()
            },
            token: None,
        };
        let server = self.server.clone();
        tokio::spawn(async move {
            serve_http(server, options, stop, |address| {
                let _ = tx.send(address);
            })
            .await
            .expect("the HTTP server runs");
        });
        let address = rx.await.expect("the HTTP server binds");
        format!("http://{address}/mcp")
    }
}

/// The `initialize` request a client sends first.
pub const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}"#;
/// The notification that completes the handshake.
pub const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;

/// One `tools/call` of the no-op tool with valid arguments, as JSON text.
pub fn call_request(id: u64) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"bench.noop","arguments":{{"query":"rust tool frameworks","limit":10,"verbose":true}}}}}}"#
    )
}

/// Whether `reply` is a successful result (not a protocol error, not a
/// tool error).
pub fn is_success(reply: &str) -> bool {
    reply.contains(r#""result""#) && !reply.contains(r#""isError":true"#)
}

/// A session over an in-memory pipe, framed as over stdio: one JSON-RPC
/// message per line.
pub struct LineSession {
    writer: WriteHalf<DuplexStream>,
    reader: BufReader<ReadHalf<DuplexStream>>,
    line: String,
    next_id: u64,
}

impl LineSession {
    /// Starts serving `server` on one end of a pipe and completes the
    /// handshake from the other.
    pub async fn open(server: &McpServer) -> LineSession {
        let (client, served) = tokio::io::duplex(1 << 16);
        let (read, write) = tokio::io::split(served);
        let server = server.clone();
        tokio::spawn(async move {
            let _ = serve_io(server, read, write, "bench").await;
        });
        let (reader, writer) = tokio::io::split(client);
        let mut session = LineSession {
            writer,
            reader: BufReader::new(reader),
            line: String::new(),
            next_id: 1,
        };
        session.send(INITIALIZE).await;
        assert!(
            session.reply().await.contains("serverInfo"),
            "initialize answered"
        );
        session.send(INITIALIZED).await;
        session
    }

    async fn send(&mut self, message: &str) {
        self.writer
            .write_all(message.as_bytes())
            .await
            .expect("the server reads");
        self.writer
            .write_all(b"\n")
            .await
            .expect("the server reads");
    }

    async fn reply(&mut self) -> &str {
        self.line.clear();
        let n = self
            .reader
            .read_line(&mut self.line)
            .await
            .expect("the server writes");
        assert!(n > 0, "the server closed the session");
        &self.line
    }

    /// One call of the no-op tool; panics unless it succeeds.
    pub async fn call(&mut self) {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&call_request(id)).await;
        let reply = self.reply().await;
        assert!(is_success(reply), "the call succeeds: {reply}");
    }
}
