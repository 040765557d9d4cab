//! The MCP server: `tools/list` and `tools/call` over a [`Catalog`], every
//! call through the runtime's secure stack, with discovery for registries
//! too large to list.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use arc_swap::ArcSwap;
use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
        InitializeRequestParams, InitializeResult, JsonObject, ListToolsResult, MetaObject,
        PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool, ToolAnnotations,
    },
    service::{NotificationContext, Peer, RequestContext},
};
use rustchain_tools::{
    Catalog, Principal, RegisteredTool, ToolCall, ToolError, ToolMetadata, ToolRequest, ToolResult,
    Version,
    audit::{AuditLog, RecordKind},
    policy::PolicyEngine,
    registry::Filters,
};
use serde_json::{Value, json};

use crate::{
    Exposure, Mode,
    config::AUTO_LIST_LIMIT,
    discovery::{self, CALL_TOOL, FIND_TOOLS},
};

/// The `_meta` key of a listed tool's definition digest.
pub const DIGEST_META: &str = "io.rustchain/definitionDigest";
/// The `_meta` key of a listed tool's version.
pub const VERSION_META: &str = "io.rustchain/version";
/// The `_meta` key of a failed call's error as a structured value.
pub const ERROR_META: &str = "io.rustchain/error";

/// What a server needs besides its catalog.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Who every call of this server is made by.
    pub principal: Principal,
    /// Which tools are visible, and how they are offered.
    pub exposure: Exposure,
    /// The engine `find_tools` asks whether the principal may call a tool
    /// (the same policies as the stack's); `None` filters nothing.
    pub probe: Option<PolicyEngine>,
    /// Where sessions and refused definitions are recorded (the log behind
    /// the stack's audit layer).
    pub audit: Option<AuditLog>,
    /// Tools per `tools/list` page.
    pub page_size: usize,
}

/// Serves a catalog's tools over MCP; cheap to clone (one clone per
/// session), every clone shares the same state.
#[derive(Clone)]
pub struct McpServer {
    shared: Arc<Shared>,
}

struct Shared {
    principal: Principal,
    probe: Option<PolicyEngine>,
    audit: Option<AuditLog>,
    page_size: usize,
    listing: ArcSwap<Listing>,
    /// Held while a new listing is made from the current one, so that a
    /// catalog change and an exposure change at once both take effect.
    listing_update: Mutex<()>,
    /// Sessions to tell of a changed tool list.
    peers: Mutex<Vec<Peer<RoleServer>>>,
    /// Whether the principal may call each tool (by name and version), for
    /// `find_tools`: decided once per tool.
    probes: Mutex<HashMap<(String, Version), bool>>,
}

/// A tool `find_tools` found: the tool, its score and why it matched.
pub(crate) struct Found {
    pub tool: Arc<RegisteredTool>,
    pub score: f32,
    pub why: Vec<String>,
}

/// The tools visible under one exposure, as `tools/list` gives them.
struct Listing {
    /// The tools served; replaced whole when plugins come or go.
    catalog: Catalog,
    exposure: Exposure,
    /// Counts up at each change; part of every cursor.
    generation: u64,
    search_mode: bool,
    /// Every visible callable tool, newest version of each name, by name.
    tools: Vec<Tool>,
}

impl std::fmt::Debug for McpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpServer")
            .field("catalog", &self.shared.listing.load().catalog)
            .field("principal", &self.shared.principal)
            .finish_non_exhaustive()
    }
}

impl McpServer {
    /// A server over `catalog`.
    pub fn new(catalog: Catalog, options: ServerOptions) -> McpServer {
        let listing = build_listing(catalog, options.exposure, 0);
        McpServer {
            shared: Arc::new(Shared {
                principal: options.principal,
                probe: options.probe,
                audit: options.audit,
                page_size: options.page_size.max(1),
                listing: ArcSwap::from_pointee(listing),
                listing_update: Mutex::new(()),
                peers: Mutex::new(Vec::new()),
                probes: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The catalog served now.
    pub fn catalog(&self) -> Catalog {
        self.shared.listing.load().catalog.clone()
    }

    /// Serves `catalog` from now on (plugins were added or removed, say);
    /// calls in flight finish on the old one. When the listed tools change,
    /// every session is sent `notifications/tools/list_changed`. Returns
    /// whether they did.
    pub async fn set_catalog(&self, catalog: Catalog) -> bool {
        let changed = {
            let _update = lock(&self.shared.listing_update);
            let current = self.shared.listing.load_full();
            let next = build_listing(catalog, current.exposure.clone(), current.generation + 1);
            let changed = next.search_mode != current.search_mode || next.tools != current.tools;
            self.shared.listing.store(Arc::new(next));
            changed
        };
        lock(&self.shared.probes).clear();
        if changed {
            self.notify_list_changed().await;
        }
        changed
    }

    /// The log sessions are recorded in, if any.
    pub fn audit_log(&self) -> Option<&AuditLog> {
        self.shared.audit.as_ref()
    }

    /// Whether `tools/list` offers `find_tools` and `call_tool` instead of
    /// the tools.
    pub fn search_mode(&self) -> bool {
        self.shared.listing.load().search_mode
    }

    /// The names `tools/list` gives (all pages).
    pub fn listed_names(&self) -> Vec<String> {
        let listing = self.shared.listing.load();
        if listing.search_mode {
            vec![FIND_TOOLS.to_owned(), CALL_TOOL.to_owned()]
        } else {
            listing.tools.iter().map(|t| t.name.to_string()).collect()
        }
    }

    /// Changes what is visible; when the listed tools change, every session
    /// is sent `notifications/tools/list_changed`. Returns whether they did.
    pub async fn set_exposure(&self, exposure: Exposure) -> bool {
        let changed = {
            let _update = lock(&self.shared.listing_update);
            let current = self.shared.listing.load_full();
            if current.exposure == exposure {
                return false;
            }
            let next = build_listing(current.catalog.clone(), exposure, current.generation + 1);
            let changed = next.search_mode != current.search_mode || next.tools != current.tools;
            self.shared.listing.store(Arc::new(next));
            changed
        };
        if changed {
            self.notify_list_changed().await;
        }
        changed
    }

    async fn notify_list_changed(&self) {
        let peers: Vec<Peer<RoleServer>> = {
            let mut peers = lock(&self.shared.peers);
            peers.retain(|p| !p.is_transport_closed());
            peers.clone()
        };
        for peer in peers {
            if let Err(e) = peer.notify_tool_list_changed().await {
                tracing::debug!(error = %e, "a session could not be told of the new tool list");
            }
        }
    }

    /// Records a session event (`opened`, `closed`) in the audit log.
    pub fn record_session(&self, event: &str, details: Value) {
        if let Some(log) = &self.shared.audit {
            let mut payload = json!({"event": event, "principal": self.shared.principal.id});
            if let (Value::Object(p), Value::Object(d)) = (&mut payload, details) {
                p.extend(d);
            }
            log.record_detached(RecordKind::Session, payload);
        }
    }

    fn visible(&self, name: &str) -> bool {
        self.shared.listing.load().exposure.allows(name)
    }

    /// Whether the principal may call `tool` at all: the policy's decision
    /// on a call with no arguments, once per tool.
    pub(crate) fn may_call(&self, tool: &Arc<RegisteredTool>) -> bool {
        let Some(engine) = &self.shared.probe else {
            return true;
        };
        let metadata = tool.metadata();
        let key = (metadata.name().to_string(), metadata.version().clone());
        if let Some(&known) = lock(&self.shared.probes).get(&key) {
            return known;
        }
        let call = ToolCall::new(metadata.name().as_str(), json!({}))
            .with_principal(self.shared.principal.clone());
        let allowed = engine.decide(&ToolRequest::new(call, tool.clone())).allowed;
        lock(&self.shared.probes).insert(key, allowed);
        allowed
    }

    /// The callable, visible tools a search finds, newest first within a
    /// name, filtered by what the principal may call.
    pub(crate) fn find(
        &self,
        query: &str,
        category: Option<String>,
        limit: usize,
    ) -> Result<Vec<Found>, ErrorData> {
        let catalog = &self.catalog();
        let filters = Filters {
            category,
            ..Filters::none()
        };
        // Ask for more than wanted: some hits are filtered out below.
        let window = (limit * 4).clamp(20, 200);
        let hits = catalog
            .search(query, &filters, window)
            .map_err(|e| ErrorData::internal_error(format!("search failed: {e}"), None))?;
        let mut found = Vec::with_capacity(limit);
        for hit in hits {
            if !hit.callable || !self.visible(&hit.result.name) {
                continue;
            }
            let requirement = format!("={}", hit.result.version);
            let Ok(tool) = catalog
                .runtime()
                .tools()
                .resolve(&hit.result.name, requirement.parse().ok().as_ref())
            else {
                continue;
            };
            if self.may_call(&tool) {
                found.push(Found {
                    tool,
                    score: hit.result.score,
                    why: hit.result.why,
                });
                if found.len() == limit {
                    break;
                }
            }
        }
        Ok(found)
    }

    /// The MCP definition of a tool, with its digest.
    pub(crate) fn tool_definition(&self, tool: &RegisteredTool) -> Tool {
        mcp_tool(tool.metadata(), digest_of(&self.catalog(), tool))
    }

    /// Calls `name` with `arguments` as this server's principal.
    pub(crate) async fn call_named(
        &self,
        name: &str,
        arguments: Value,
        context: &RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let call = ToolCall::new(name, arguments)
            .with_principal(self.shared.principal.clone())
            .with_cancellation(context.ct.clone());
        let catalog = &self.catalog();
        if !self.visible(name) {
            // Not visible is not there: the refusal names nothing else.
            let error = ToolError::UnknownTool {
                tool: name.to_owned(),
                suggestions: Vec::new(),
            };
            let error = catalog.runtime().refuse(&call, error).await;
            return Err(ErrorData::invalid_params(error.to_string(), None));
        }
        match catalog.call(call).await {
            Ok(result) => Ok(self.success(&result)),
            Err(ToolError::UnknownTool { tool, suggestions }) => {
                let suggestions = suggestions
                    .into_iter()
                    .filter(|s| self.visible(s))
                    .collect();
                let error = ToolError::UnknownTool { tool, suggestions };
                Err(ErrorData::invalid_params(error.to_string(), None))
            }
            Err(error @ ToolError::NoMatchingVersion { .. }) => {
                Err(ErrorData::invalid_params(error.to_string(), None))
            }
            Err(error) => Ok(tool_error(&error)),
        }
    }

    fn success(&self, result: &ToolResult) -> CallToolResult {
        let has_output_schema = self
            .catalog()
            .runtime()
            .tools()
            .resolve(
                &result.tool,
                format!("={}", result.version).parse().ok().as_ref(),
            )
            .ok()
            .is_some_and(|t| object_schema(t.metadata().output_schema()).is_some());
        let content = vec![ContentBlock::text(result.text.clone())];
        let mut out = if result.is_error {
            CallToolResult::error(content)
        } else {
            CallToolResult::success(content)
        };
        if has_output_schema && !result.is_error {
            out.structured_content = result.structured.clone();
        }
        out
    }

    fn listing_page(&self, cursor: Option<&str>) -> Result<ListToolsResult, ErrorData> {
        let listing = self.shared.listing.load();
        if listing.search_mode {
            let mut result = ListToolsResult::with_all_items(discovery::meta_tools());
            result.next_cursor = None;
            return Ok(result);
        }
        let start = match cursor {
            None => 0,
            Some(cursor) => parse_cursor(cursor, listing.generation)?,
        };
        let end = (start + self.shared.page_size).min(listing.tools.len());
        let tools = listing.tools.get(start..end).unwrap_or_default().to_vec();
        let mut result = ListToolsResult::with_all_items(tools);
        result.next_cursor =
            (end < listing.tools.len()).then(|| format!("{}.{end}", listing.generation));
        Ok(result)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The guarded maps are caches and lists that stay valid at every step.
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

fn digest_of<'a>(catalog: &'a Catalog, tool: &RegisteredTool) -> &'a str {
    let metadata = tool.metadata();
    catalog
        .digest(metadata.name().as_str(), metadata.version())
        .unwrap_or_default()
}

fn parse_cursor(cursor: &str, generation: u64) -> Result<usize, ErrorData> {
    let invalid = || {
        ErrorData::invalid_params(
            format!("invalid cursor `{cursor}`: use the nextCursor of the previous page"),
            None,
        )
    };
    let (g, offset) = cursor.split_once('.').ok_or_else(invalid)?;
    let g: u64 = g.parse().map_err(|_| invalid())?;
    let offset: usize = offset.parse().map_err(|_| invalid())?;
    if g != generation {
        return Err(ErrorData::invalid_params(
            "the tool list changed since this cursor was given (see \
             notifications/tools/list_changed): list again from the start",
            None,
        ));
    }
    Ok(offset)
}

fn build_listing(catalog: Catalog, exposure: Exposure, generation: u64) -> Listing {
    let mut tools = Vec::new();
    let mut last_name: Option<String> = None;
    // The tool set iterates by name, newest version first: the first of each
    // name that may be called is the one listed.
    for tool in catalog.runtime().tools().iter() {
        let metadata = tool.metadata();
        let name = metadata.name().as_str();
        if last_name.as_deref() == Some(name)
            || !exposure.allows(name)
            || !catalog.is_callable(name, metadata.version())
            || !metadata.version().pre.is_empty()
        {
            continue;
        }
        last_name = Some(name.to_owned());
        tools.push(mcp_tool(metadata, digest_of(&catalog, tool)));
    }
    let search_mode = match exposure.mode {
        Mode::List => false,
        Mode::Search => true,
        Mode::Auto => tools.len() > AUTO_LIST_LIMIT,
    };
    Listing {
        catalog,
        exposure,
        generation,
        search_mode,
        tools,
    }
}

/// The schema as a JSON object when it describes objects (MCP's rule for
/// `outputSchema`), else `None`.
fn object_schema(schema: Option<&Value>) -> Option<&JsonObject> {
    schema
        .and_then(Value::as_object)
        .filter(|s| s.get("type").and_then(Value::as_str) == Some("object"))
}

/// A tool as MCP lists it: its schemas, its hints as annotations, and its
/// version and definition digest under `_meta`.
fn mcp_tool(metadata: &ToolMetadata, digest: &str) -> Tool {
    let input = metadata
        .input_schema()
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut tool = Tool::new_with_raw(
        metadata.name().to_string(),
        Some(metadata.description().to_owned().into()),
        Arc::new(input),
    );
    if let Some(title) = metadata.title() {
        tool = tool.with_title(title);
    }
    if let Some(output) = object_schema(metadata.output_schema()) {
        tool = tool.with_raw_output_schema(Arc::new(output.clone()));
    }
    let hints = metadata.hints();
    let mut annotations = ToolAnnotations::new()
        .read_only(hints.read_only)
        .destructive(hints.destructive)
        .idempotent(hints.idempotent)
        .open_world(hints.open_world);
    annotations.title = metadata.title().map(str::to_owned);
    tool = tool.with_annotations(annotations);
    let mut meta = JsonObject::new();
    meta.insert(DIGEST_META.into(), json!(digest));
    meta.insert(VERSION_META.into(), json!(metadata.version().to_string()));
    tool.with_meta(MetaObject(meta))
}

/// A refusal or failure the model can act on, as a tool result with
/// `isError`, the error's details under `_meta`.
fn tool_error(error: &ToolError) -> CallToolResult {
    let text = match error {
        ToolError::InvalidArguments { tool, violations } => {
            let mut text = format!(
                "invalid arguments for `{tool}` ({} violation{}); fix them and call again:",
                violations.len(),
                if violations.len() == 1 { "" } else { "s" }
            );
            for v in violations {
                text.push_str(&format!("\n- {} (keyword: {})", v.message, v.keyword));
            }
            text
        }
        ToolError::Denied { tool, reasons } => {
            let mut text =
                format!("call to `{tool}` denied by policy; the same call will be denied again:");
            for reason in reasons {
                text.push_str(&format!("\n- {reason}"));
            }
            text
        }
        other => other.to_string(),
    };
    let mut result = CallToolResult::error(vec![ContentBlock::text(text)]);
    let mut meta = JsonObject::new();
    meta.insert(
        ERROR_META.into(),
        serde_json::to_value(error).unwrap_or(Value::Null),
    );
    result.meta = Some(MetaObject(meta));
    result
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_tool_list_changed()
            .build();
        let instructions = if self.search_mode() {
            "Find the tool you need with `find_tools` (a plain-words request), then call it by \
             its name, or through `call_tool`. Every call is checked against the tool's schema, \
             decided by policy and recorded."
        } else {
            "Every call is checked against the tool's schema, decided by policy and recorded; \
             a refusal comes back as a result with isError and says what to change."
        };
        InitializeResult::new(capabilities)
            .with_server_info(Implementation::new(
                "rustchain-tools",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(instructions)
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, ErrorData> {
        context.peer.set_peer_info(request.clone());
        self.record_session(
            "opened",
            json!({
                "client": {
                    "name": request.client_info.name,
                    "version": request.client_info.version,
                },
                "protocolVersion": request.protocol_version.to_string(),
            }),
        );
        self.negotiate_initialize(&request)
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        let mut peers = lock(&self.shared.peers);
        peers.retain(|p| !p.is_transport_closed());
        peers.push(context.peer);
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        self.listing_page(request.as_ref().and_then(|r| r.cursor.as_deref()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let arguments = Value::Object(request.arguments.unwrap_or_default());
        let result = match request.name.as_ref() {
            FIND_TOOLS => discovery::find_tools(self, &arguments),
            CALL_TOOL => discovery::call_tool(self, arguments, &context).await,
            name => self.call_named(name, arguments, &context).await,
        }?;
        Ok(CallToolResponse::Complete(result))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_carry_the_generation_and_refuse_garbage() {
        assert_eq!(parse_cursor("3.40", 3).unwrap(), 40);
        assert!(
            parse_cursor("2.40", 3)
                .unwrap_err()
                .message
                .contains("changed")
        );
        for bad in ["", "x", "3", "3.", "3.-1", "a.b", "3.40.1"] {
            assert!(parse_cursor(bad, 3).is_err(), "{bad}");
        }
    }
}
