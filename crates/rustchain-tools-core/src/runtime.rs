//! The runtime: a set of tools behind a stack of layers.

use std::sync::Arc;

use tower::{Layer, Service, ServiceExt};

use crate::{
    BoxToolService, ExecuteTool, Tool, ToolCall, ToolError, ToolExecutor, ToolRequest, ToolResult,
    ToolSet,
};

type WrapFn = Box<dyn FnOnce(BoxToolService) -> BoxToolService + Send>;

/// Tools behind a pipeline of layers; cheap to clone and safe to call from
/// many tasks at once (nothing on the call path takes a global lock).
///
/// ```
/// use rustchain_tools_core::{DeadlineLayer, Runtime, ToolCall, ValidationLayer};
/// # use rustchain_tools_core::{async_trait, Tool, ToolContext, ToolError, ToolInfo};
/// # #[derive(serde::Deserialize, schemars::JsonSchema)] struct P { n: u32 }
/// # struct Double;
/// # #[async_trait] impl Tool for Double {
/// #     type Params = P; type Output = u32;
/// #     fn info(&self) -> ToolInfo { ToolInfo::new("double", "1.0.0") }
/// #     async fn run(&self, p: P, _: &ToolContext) -> Result<u32, ToolError> { Ok(p.n * 2) }
/// # }
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), ToolError> {
/// let runtime = Runtime::builder()
///     .tool(Double)
///     .layer(ValidationLayer::new()) // outermost
///     .layer(DeadlineLayer::new())   // innermost, around the tool
///     .build()?;
/// let result = runtime.call(ToolCall::new("double", serde_json::json!({"n": 21}))).await?;
/// assert_eq!(result.structured, Some(serde_json::json!(42)));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Runtime {
    tools: Arc<ToolSet>,
    service: BoxToolService,
}

impl Runtime {
    /// A builder with no tools and no layers.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::default()
    }

    /// The tools this runtime can call.
    pub fn tools(&self) -> &ToolSet {
        &self.tools
    }

    /// Resolves the call's tool and sends the call through the pipeline.
    pub async fn call(&self, call: ToolCall) -> Result<ToolResult, ToolError> {
        let tool = self.tools.resolve(&call.tool, call.version.as_ref())?;
        self.service
            .clone()
            .oneshot(ToolRequest::new(call, tool))
            .await
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("tools", &self.tools.len())
            .finish_non_exhaustive()
    }
}

/// Composes a [`Runtime`] from tools and layers. Layers apply in the order
/// they are added: the first one added is the outermost, the last one sits
/// right around the tool.
#[derive(Default)]
pub struct RuntimeBuilder {
    tools: ToolSet,
    layers: Vec<WrapFn>,
    error: Option<ToolError>,
}

impl RuntimeBuilder {
    /// Adds a typed tool.
    pub fn tool<T: Tool>(mut self, tool: T) -> Self {
        if self.error.is_none() {
            self.error = self.tools.add(tool).err();
        }
        self
    }

    /// Adds a tool given as an executor (a dynamic tool, say).
    pub fn executor(mut self, executor: Arc<dyn ToolExecutor>) -> Self {
        if self.error.is_none() {
            self.error = self.tools.insert(executor).err();
        }
        self
    }

    /// Adds a layer inside those added before.
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: Layer<BoxToolService> + Send + 'static,
        L::Service: Service<ToolRequest, Response = ToolResult, Error = ToolError>
            + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as Service<ToolRequest>>::Future: Send + 'static,
    {
        self.layers.push(Box::new(move |inner| {
            BoxToolService::new(layer.layer(inner))
        }));
        self
    }

    /// Records an error met while composing; [`build`](Self::build) returns
    /// the first one. For extensions that add tools from elsewhere.
    pub fn fail(mut self, error: ToolError) -> Self {
        self.error.get_or_insert(error);
        self
    }

    /// The runtime, or the first error met while adding tools.
    pub fn build(self) -> Result<Runtime, ToolError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let service = self
            .layers
            .into_iter()
            .rev()
            .fold(BoxToolService::new(ExecuteTool), |inner, wrap| wrap(inner));
        Ok(Runtime {
            tools: Arc::new(self.tools),
            service,
        })
    }
}
