//! `http_fetch` (feature `sandbox`): GET and POST over HTTP(S), refusing
//! private, loopback and metadata addresses unless configured otherwise.

use std::{collections::BTreeMap, sync::Arc};

use rustchain_tools_core::{
    BehaviorHints, Permissions, Tool, ToolContext, ToolError, ToolInfo, ToolSource, async_trait,
};
use rustchain_tools_sandbox::net::{FetchRequest, HttpFetcher, Method};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::sandboxed::sandbox_error;

/// `http_fetch`: one HTTP request, SSRF-checked at every hop.
pub struct HttpFetch {
    fetcher: Arc<HttpFetcher>,
}

impl HttpFetch {
    pub(crate) fn new(fetcher: Arc<HttpFetcher>) -> Self {
        HttpFetch { fetcher }
    }
}

/// The HTTP method of [`HttpFetch`].
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// Read a resource.
    #[default]
    Get,
    /// Send a body.
    Post,
}

/// Arguments of [`HttpFetch`].
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpFetchParams {
    /// The absolute `http` or `https` URL.
    #[schemars(length(min = 1, max = 8192))]
    pub url: String,
    /// `GET` (default) or `POST`.
    #[serde(default)]
    pub method: HttpMethod,
    /// Request headers by name.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The request body (text), for `POST`.
    pub body: Option<String>,
}

/// Result of [`HttpFetch`].
#[derive(Debug, Serialize, JsonSchema)]
pub struct HttpFetchOutput {
    /// The HTTP status of the final response.
    pub status: u16,
    /// Its headers, by lower-case name (repeated headers joined with `, `).
    pub headers: BTreeMap<String, String>,
    /// The body as text (invalid UTF-8 replaced), at most the cap.
    pub body: String,
    /// Whether the body was cut at the cap.
    pub truncated: bool,
    /// The URL of the final response, after redirects.
    pub final_url: String,
    /// The URLs redirected to, in order.
    pub redirects: Vec<String>,
}

#[async_trait]
impl Tool for HttpFetch {
    type Params = HttpFetchParams;
    type Output = HttpFetchOutput;

    fn info(&self) -> ToolInfo {
        ToolInfo::new("http_fetch", "1.0.0")
            .source(ToolSource::Builtin)
            .title("Fetch a URL")
            .description(
                "Sends a GET or POST request and returns status, headers and body. Loopback, \
                 private, link-local and cloud-metadata addresses are refused unless configured, \
                 at every redirect.",
            )
            .category("network")
            .tags(["http", "web", "network", "sandbox"])
            .permissions(Permissions {
                // `*`: the policy judges the host of each call's URL.
                network: vec!["*".into()],
                ..Permissions::default()
            })
            .hints(BehaviorHints {
                read_only: false,
                destructive: false,
                idempotent: false,
                open_world: true,
            })
    }

    async fn run(
        &self,
        p: HttpFetchParams,
        _ctx: &ToolContext,
    ) -> Result<HttpFetchOutput, ToolError> {
        let request = FetchRequest {
            method: match p.method {
                HttpMethod::Get => Method::Get,
                HttpMethod::Post => Method::Post,
            },
            url: p.url,
            headers: p.headers.into_iter().collect(),
            body: p.body.map(String::into_bytes),
        };
        let response = self
            .fetcher
            .fetch(request)
            .await
            .map_err(|e| sandbox_error("http_fetch", e))?;
        let body = response.text();
        let mut headers: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in response.headers {
            headers
                .entry(name.to_ascii_lowercase())
                .and_modify(|v| {
                    v.push_str(", ");
                    v.push_str(&value);
                })
                .or_insert(value);
        }
        Ok(HttpFetchOutput {
            status: response.status,
            headers,
            body,
            truncated: response.truncated,
            final_url: response.final_url,
            redirects: response.redirects,
        })
    }
}
