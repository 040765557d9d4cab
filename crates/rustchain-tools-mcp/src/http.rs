//! Streamable HTTP: rmcp's service behind a bearer-token check, on loopback
//! unless configured otherwise, with `Host` and `Origin` checked against
//! DNS rebinding.

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Router,
    body::Body,
    extract::{Request, State},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use http::{StatusCode, header};
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::{McpError, McpServer, config::HttpSection};

/// The path the MCP endpoint is served at.
pub const MCP_PATH: &str = "/mcp";

/// How the HTTP transport listens and whom it lets in.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// The `[http]` section.
    pub section: HttpSection,
    /// The bearer token clients must send, if any.
    pub token: Option<String>,
}

impl HttpOptions {
    /// The options of `section`, the token read from its `token_env`.
    pub fn from_section(section: &HttpSection) -> Result<HttpOptions, McpError> {
        let token = match &section.token_env {
            None => None,
            Some(name) => match std::env::var(name) {
                Ok(token) if token.len() >= 16 => Some(token),
                Ok(_) => {
                    return Err(McpError::Config {
                        file: "[http]".into(),
                        reason: format!("the token in ${name} is shorter than 16 characters"),
                    });
                }
                Err(_) => {
                    return Err(McpError::Config {
                        file: "[http]".into(),
                        reason: format!("token_env names ${name}, which is not set"),
                    });
                }
            },
        };
        Ok(HttpOptions {
            section: section.clone(),
            token,
        })
    }
}

/// Serves `server` over streamable HTTP at [`MCP_PATH`] until `stop` is
/// cancelled. `ready` hears the address bound (port 0 picks one).
pub async fn serve_http(
    server: McpServer,
    options: HttpOptions,
    stop: CancellationToken,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), McpError> {
    let section = &options.section;
    let address = section.listen;
    if !address.ip().is_loopback() && !section.allow_remote {
        return Err(McpError::Listen {
            address: address.to_string(),
            reason: "not a loopback address; set [http] allow_remote = true (and a token) to \
                     serve other machines"
                .into(),
        });
    }
    if !address.ip().is_loopback() && options.token.is_none() {
        return Err(McpError::Listen {
            address: address.to_string(),
            reason: "serving other machines needs a bearer token ([http] token_env)".into(),
        });
    }
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| McpError::Listen {
            address: address.to_string(),
            reason: e.to_string(),
        })?;
    let bound = listener.local_addr().map_err(|e| McpError::Listen {
        address: address.to_string(),
        reason: e.to_string(),
    })?;

    let mut hosts = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    hosts.extend(section.allowed_hosts.iter().cloned());
    let mut origins: Vec<String> = ["http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    origins.extend(section.allowed_origins.iter().cloned());
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(hosts)
        .with_allowed_origins(origins)
        .enforce_origin_validation()
        .with_max_request_body_bytes(section.max_body_bytes)
        .with_json_response(true)
        .with_cancellation_token(stop.child_token());
    let factory = server.clone();
    let service = StreamableHttpService::new(
        move || Ok(factory.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let token = Arc::new(options.token.clone());
    let app = Router::new()
        .nest_service(MCP_PATH, service)
        .layer(middleware::from_fn_with_state(token, require_token));
    ready(bound);
    server.record_session(
        "listening",
        json!({"transport": "http", "address": bound.to_string()}),
    );
    let result = rustchain_tools_http::serve(listener, app, async move { stop.cancelled().await })
        .await
        .map_err(|e| McpError::Transport(e.to_string()));
    server.record_session(
        "stopped",
        json!({"transport": "http", "address": bound.to_string()}),
    );
    result
}

/// Lets a request through when no token is configured or it carries
/// `Authorization: Bearer <token>`.
async fn require_token(
    State(token): State<Arc<Option<String>>>,
    request: Request<Body>,
    next: Next,
) -> Response {
    let Some(expected) = token.as_deref() else {
        return next.run(request).await;
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(given) if constant_time_eq(given.as_bytes(), expected.as_bytes()) => {
            next.run(request).await
        }
        _ => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "a bearer token is required: send Authorization: Bearer <token>",
        )
            .into_response(),
    }
}

/// Compares without stopping at the first difference, so the time taken
/// does not tell how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"secret-token-123", b"secret-token-123"));
        assert!(!constant_time_eq(b"secret-token-123", b"secret-token-124"));
        assert!(!constant_time_eq(b"short", b"secret-token-123"));
    }
}
