//! How every RustChain Tools server serves HTTP, so the MCP server and the
//! market server behave alike on the wire.
//!
//! - Replies go out at once: `TCP_NODELAY` is set on every connection, as
//!   the replies are small and each client waits for its answer (Nagle's
//!   algorithm would hold them for the client's delayed ACK, tens of
//!   milliseconds a request).
//! - A reply sent while the request's body was left unread (a refusal
//!   before reading, a body over its limit) says `Connection: close`
//!   ([`CloseUnreadLayer`]), and the connection closes after it. Without
//!   it the server would either wait to drain the rest of the body or drop
//!   the connection unannounced; a client that pooled it would then lose
//!   its next request in the race with the close. Said aloud, the client
//!   opens a new connection instead.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//!
//! # #[tokio::main] async fn main() -> std::io::Result<()> {
//! let app = Router::new().route("/", get(|| async { "hello" }));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! rustchain_tools_http::serve(listener, app, async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await
//! # }
//! ```

#![deny(missing_docs)]

mod close;

use std::future::Future;

use axum::{Router, ServiceExt, extract::Request, serve::ListenerExt};
use tokio::net::TcpListener;
use tower::Layer;

pub use close::{CloseUnread, CloseUnreadLayer};

/// Serves `app` on `listener` until `shutdown` completes, then lets the
/// requests in flight finish. Every connection has `TCP_NODELAY`, and every
/// reply passes [`CloseUnreadLayer`], the fallback's included.
pub async fn serve<F>(listener: TcpListener, app: Router, shutdown: F) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let listener = listener.tap_io(|stream| {
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY could not be set");
        }
    });
    let app = CloseUnreadLayer.layer(app);
    axum::serve(listener, ServiceExt::<Request>::into_make_service(app))
        .with_graceful_shutdown(shutdown)
        .await
}
