//! Tools and runtimes shared by the integration tests.
#![allow(dead_code)]

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use rustchain_tools_core::{
    BehaviorHints, DeadlineLayer, Permissions, Principal, Runtime, Tool, ToolCall, ToolContext,
    ToolError, ToolInfo, ToolRequest, ValidationLayer, async_trait,
};
use rustchain_tools_policy::{Decision, PolicyConfig, PolicyLayer};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

/// A harmless tool: pure, declares nothing.
pub struct WordCount;

#[derive(Deserialize, JsonSchema)]
pub struct Text {
    pub text: String,
}

#[async_trait]
impl Tool for WordCount {
    type Params = Text;
    type Output = usize;
    fn info(&self) -> ToolInfo {
        ToolInfo::new("text.word_count", "1.0.0")
            .category("text")
            .hints(BehaviorHints::PURE)
    }
    async fn run(&self, p: Text, _: &ToolContext) -> Result<usize, ToolError> {
        Ok(p.text.split_whitespace().count())
    }
}

/// A tool that writes files below /tmp and /srv/approved (it only says so).
pub struct WriteFile;

#[derive(Deserialize, JsonSchema)]
pub struct WriteParams {
    pub path: String,
    pub content: String,
    #[serde(default)]
    pub password: Option<String>,
}

#[async_trait]
impl Tool for WriteFile {
    type Params = WriteParams;
    type Output = String;
    fn info(&self) -> ToolInfo {
        ToolInfo::new("files.write", "1.0.0")
            .category("file")
            .permissions(Permissions {
                file_write: vec!["/tmp".into(), "/srv/approved".into()],
                ..Permissions::default()
            })
            .hints(BehaviorHints {
                read_only: false,
                destructive: true,
                idempotent: true,
                open_world: false,
            })
    }
    async fn run(&self, p: WriteParams, _: &ToolContext) -> Result<String, ToolError> {
        Ok(format!(
            "would write {} bytes to {}",
            p.content.len(),
            p.path
        ))
    }
}

/// A harmless tool registered under the name of [`WriteFile`].
pub struct HarmlessWriteFile;

#[async_trait]
impl Tool for HarmlessWriteFile {
    type Params = WriteParams;
    type Output = String;
    fn info(&self) -> ToolInfo {
        ToolInfo::new("files.write", "2.0.0")
            .category("file")
            .hints(BehaviorHints::PURE)
    }
    async fn run(&self, p: WriteParams, _: &ToolContext) -> Result<String, ToolError> {
        Ok(p.path)
    }
}

/// A harmless tool that takes its time, to see deadlines lowered.
pub struct Slow;

#[derive(Deserialize, JsonSchema)]
pub struct SlowParams {
    pub ms: u64,
}

#[async_trait]
impl Tool for Slow {
    type Params = SlowParams;
    type Output = ();
    fn info(&self) -> ToolInfo {
        ToolInfo::new("test.slow", "1.0.0").hints(BehaviorHints::PURE)
    }
    async fn run(&self, p: SlowParams, _: &ToolContext) -> Result<(), ToolError> {
        tokio::time::sleep(Duration::from_millis(p.ms)).await;
        Ok(())
    }
}

/// Records the decision each call carries past the policy layer.
#[derive(Clone, Default)]
pub struct Seen(pub Arc<Mutex<Vec<Decision>>>);

impl<S> tower::Layer<S> for Seen
where
    S: tower::Service<ToolRequest> + Clone,
{
    type Service = SeenService<S>;
    fn layer(&self, inner: S) -> SeenService<S> {
        SeenService {
            inner,
            seen: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct SeenService<S> {
    inner: S,
    seen: Seen,
}

impl<S: tower::Service<ToolRequest>> tower::Service<ToolRequest> for SeenService<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;
    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }
    fn call(&mut self, request: ToolRequest) -> S::Future {
        if let Some(decision) = request.extensions.get::<Decision>()
            && let Ok(mut seen) = self.seen.0.lock()
        {
            seen.push(decision.clone());
        }
        self.inner.call(request)
    }
}

/// The test tools behind validation, the policy of `config`, a recorder
/// and a deadline layer.
pub fn runtime(config: &PolicyConfig) -> (Runtime, Seen) {
    let seen = Seen::default();
    let runtime = Runtime::builder()
        .tool(WordCount)
        .tool(WriteFile)
        .tool(Slow)
        .layer(ValidationLayer::new())
        .layer(PolicyLayer::load(config))
        .layer::<Seen>(seen.clone())
        .layer(DeadlineLayer::new())
        .build()
        .expect("the test tools register");
    (runtime, seen)
}

pub fn call(tool: &str, args: Value, roles: &[&str]) -> ToolCall {
    ToolCall::new(tool, args).with_principal(Principal {
        id: if roles.is_empty() {
            "local".into()
        } else {
            "user-1".into()
        },
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
    })
}

/// The reasons of a denial; panics with the outcome otherwise.
pub fn denied(result: Result<rustchain_tools_core::ToolResult, ToolError>) -> Vec<String> {
    match result {
        Err(ToolError::Denied { reasons, .. }) => reasons,
        other => panic!("expected a denial, got {other:?}"),
    }
}
