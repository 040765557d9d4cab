//! The runtime: a set of tools behind a stack of layers.

use std::{future::Future, pin::Pin, sync::Arc};

use tower::{Layer, Service, ServiceExt};

use crate::{
    BoxToolService, ExecuteTool, Tool, ToolCall, ToolError, ToolExecutor, ToolRequest, ToolResult,
    ToolSet,
};

type WrapFn = Box<dyn FnOnce(BoxToolService) -> BoxToolService + Send>;

/// The future a [`RefusalListener`] returns.
pub type RefusedFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Hears of the calls [`Runtime::call`] refuses before any layer runs (no
/// such tool, no version that meets the requirement), which layers never
/// see. An audit log records them this way; add one with
/// [`RuntimeBuilder::on_refused`].
pub trait RefusalListener: Send + Sync {
    /// Told of `call` and why it was refused. [`Runtime::call`] returns the
    /// refusal once the returned future is done, so a listener can have its
    /// record committed first; it must not fail the call a second time.
    fn refused(&self, call: &ToolCall, error: &ToolError) -> RefusedFuture;
}

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
    refusals: Arc<[Arc<dyn RefusalListener>]>,
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

    /// The same layers around another set of tools, for a runtime whose tools
    /// change while it serves (plugins added or removed): the layers' state
    /// (the audit log, the policy, the limits' slots) is shared with this one.
    pub fn with_tools(&self, tools: ToolSet) -> Runtime {
        Runtime {
            tools: Arc::new(tools),
            service: self.service.clone(),
            refusals: self.refusals.clone(),
        }
    }

    /// Resolves the call's tool and sends the call through the pipeline. A
    /// call that cannot be resolved is refused here, and the
    /// [`RefusalListener`]s hear of it.
    pub async fn call(&self, call: ToolCall) -> Result<ToolResult, ToolError> {
        let tool = match self.tools.resolve(&call.tool, call.version.as_ref()) {
            Ok(tool) => tool,
            Err(error) => return Err(self.refuse(&call, error).await),
        };
        self.service
            .clone()
            .oneshot(ToolRequest::new(call, tool))
            .await
    }
}

impl Runtime {
    /// Refuses `call` without running it, for callers that decide before
    /// the pipeline (a tool known only by its definition, say): the
    /// [`RefusalListener`]s hear of it as of any refusal, then `error` is
    /// given back to return.
    pub async fn refuse(&self, call: &ToolCall, error: ToolError) -> ToolError {
        for listener in self.refusals.iter() {
            listener.refused(call, &error).await;
        }
        error
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
    refusals: Vec<Arc<dyn RefusalListener>>,
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

    /// Adds a tool given as an executor, telling the caller when it is
    /// refused (a taken name and version, a built-in's name) instead of
    /// failing [`build`](Self::build): for tools that are left out with a
    /// warning, such as installed plugins.
    pub fn try_executor(&mut self, executor: Arc<dyn ToolExecutor>) -> Result<(), ToolError> {
        self.tools.insert(executor)
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

    /// Tells `listener` of every call refused before the layers (see
    /// [`RefusalListener`]); several listeners hear in the order added.
    pub fn on_refused(mut self, listener: Arc<dyn RefusalListener>) -> Self {
        self.refusals.push(listener);
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
            refusals: self.refusals.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Keeps the tool name and error kind of each refusal it hears of.
    #[derive(Default)]
    struct Heard(Mutex<Vec<(String, String)>>);

    impl RefusalListener for Heard {
        fn refused(&self, call: &ToolCall, error: &ToolError) -> RefusedFuture {
            let kind = match error {
                ToolError::UnknownTool { .. } => "unknown",
                ToolError::NoMatchingVersion { .. } => "no-version",
                _ => "other",
            };
            if let Ok(mut heard) = self.0.lock() {
                heard.push((call.tool.clone(), kind.to_owned()));
            }
            Box::pin(async {})
        }
    }

    #[tokio::test]
    async fn refusals_before_the_pipeline_reach_every_listener() {
        let (first, second) = (Arc::new(Heard::default()), Arc::new(Heard::default()));
        let runtime = Runtime::builder()
            .on_refused(first.clone())
            .on_refused(second.clone())
            .build()
            .unwrap();
        let error = runtime
            .call(ToolCall::new("no.such_tool", serde_json::json!({})))
            .await
            .unwrap_err();
        assert!(matches!(error, ToolError::UnknownTool { .. }), "{error}");
        for heard in [&first, &second] {
            assert_eq!(
                *heard.0.lock().unwrap(),
                [("no.such_tool".to_owned(), "unknown".to_owned())]
            );
        }
    }
}
