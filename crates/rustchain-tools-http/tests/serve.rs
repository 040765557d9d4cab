//! `serve` on a real socket, spoken to in raw HTTP/1.1 so each test sees
//! exactly what goes over the wire and when the server closes.

use std::{net::SocketAddr, time::Duration};

use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::StatusCode,
    routing::{get, post},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::oneshot,
    task::JoinHandle,
};

struct Server {
    address: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start() -> Server {
        let app = Router::new()
            .route("/", get(|| async { "hello" }))
            .route("/echo", post(|body: String| async move { body }))
            .route(
                "/refuse",
                post(|| async { (StatusCode::UNAUTHORIZED, "who are you?") }),
            )
            .layer(DefaultBodyLimit::max(1024));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(rustchain_tools_http::serve(listener, app, async {
            let _ = stopped.await;
        }));
        Server {
            address,
            stop,
            task,
        }
    }

    async fn stop(self) {
        self.stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("the server stops")
            .unwrap()
            .unwrap();
    }
}

fn post_request(path: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: text/plain\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Reads one reply whose body is `expected_body`, leaving the connection
/// open for the next.
async fn read_reply(stream: &mut TcpStream, expected_body: &str) -> String {
    let mut reply = Vec::new();
    let mut buffer = [0u8; 4096];
    while !String::from_utf8_lossy(&reply).ends_with(&format!("\r\n\r\n{expected_body}")) {
        let n = tokio::time::timeout(Duration::from_secs(20), stream.read(&mut buffer))
            .await
            .expect("a reply comes")
            .unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&reply));
        reply.extend_from_slice(&buffer[..n]);
    }
    String::from_utf8(reply).unwrap().to_lowercase()
}

/// Reads until the server closes the connection.
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut reply = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut reply))
        .await
        .expect("the server closes the connection")
        .unwrap();
    String::from_utf8(reply).unwrap().to_lowercase()
}

#[tokio::test]
async fn a_read_body_keeps_the_connection_for_the_next_request() {
    let server = Server::start().await;
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    for text in ["first", "second"] {
        stream
            .write_all(post_request("/echo", text).as_bytes())
            .await
            .unwrap();
        let reply = read_reply(&mut stream, text).await;
        assert!(reply.starts_with("http/1.1 200"), "{reply}");
        assert!(!reply.contains("connection: close"), "{reply}");
    }
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
    let reply = read_reply(&mut stream, "hello").await;
    assert!(!reply.contains("connection: close"), "{reply}");
    drop(stream);
    server.stop().await;
}

#[tokio::test]
async fn a_refusal_that_leaves_the_body_unread_says_close_and_closes() {
    let server = Server::start().await;
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    stream
        .write_all(post_request("/refuse", "a body nobody reads").as_bytes())
        .await
        .unwrap();
    let reply = read_to_close(&mut stream).await;
    assert!(reply.starts_with("http/1.1 401"), "{reply}");
    assert!(reply.contains("\r\nconnection: close\r\n"), "{reply}");
    server.stop().await;
}

#[tokio::test]
async fn a_body_over_its_limit_is_refused_with_close_before_the_rest_arrives() {
    let server = Server::start().await;
    let stream = TcpStream::connect(server.address).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    // Announces 1 MiB, sends 8 KiB and waits: the reply and the close must
    // come without the rest.
    write
        .write_all(
            b"POST /echo HTTP/1.1\r\nhost: localhost\r\ncontent-type: text/plain\r\n\
              content-length: 1048576\r\n\r\n",
        )
        .await
        .unwrap();
    write.write_all(&[b'x'; 8192]).await.unwrap();
    let mut reply = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), read.read_to_end(&mut reply))
        .await
        .expect("the server closes the connection")
        .unwrap();
    let reply = String::from_utf8_lossy(&reply).to_lowercase();
    assert!(reply.starts_with("http/1.1 413"), "{reply}");
    assert!(reply.contains("\r\nconnection: close\r\n"), "{reply}");
    drop(write);
    server.stop().await;
}

#[tokio::test]
async fn an_unknown_path_with_a_body_says_close_too() {
    let server = Server::start().await;
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    stream
        .write_all(post_request("/nowhere", "lost").as_bytes())
        .await
        .unwrap();
    let reply = read_to_close(&mut stream).await;
    assert!(reply.starts_with("http/1.1 404"), "{reply}");
    assert!(reply.contains("\r\nconnection: close\r\n"), "{reply}");
    server.stop().await;
}
