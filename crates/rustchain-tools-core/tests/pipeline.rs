//! The pipeline end to end: resolution, validation, deadlines, cancellation,
//! layer order and parallel calls.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use rustchain_tools_core::{
    BehaviorHints, BoxToolFuture, CancellationToken, DeadlineLayer, Runtime, Tool, ToolCall,
    ToolContext, ToolError, ToolExecutor, ToolInfo, ToolMetadata, ToolOutput, ToolRequest,
    ToolResult, ValidationLayer, async_trait,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower::{Layer, Service};

#[derive(Deserialize, JsonSchema)]
struct SearchParams {
    query: String,
    #[schemars(range(min = 1, max = 100))]
    limit: u32,
    #[serde(default)]
    verbose: bool,
}

#[derive(Serialize, JsonSchema)]
struct SearchOutput {
    echo: String,
    limit: u32,
    verbose: bool,
}

struct Search {
    version: &'static str,
}

#[async_trait]
impl Tool for Search {
    type Params = SearchParams;
    type Output = SearchOutput;

    fn info(&self) -> ToolInfo {
        ToolInfo::new("docs.search", self.version)
            .description("Searches the docs.")
            .hints(BehaviorHints::PURE)
    }

    async fn run(&self, p: SearchParams, _ctx: &ToolContext) -> Result<SearchOutput, ToolError> {
        Ok(SearchOutput {
            echo: format!("{}@{}", p.query, self.version),
            limit: p.limit,
            verbose: p.verbose,
        })
    }
}

/// Sleeps far longer than any test waits, noting whether it finished, was
/// dropped, and saw its cancellation token fire.
#[derive(Clone, Default)]
struct Sleeper {
    finished: Arc<AtomicBool>,
    dropped: Arc<AtomicBool>,
    saw_cancel: Arc<AtomicBool>,
}

#[derive(Deserialize, JsonSchema)]
struct Empty {}

struct DropFlag(Arc<AtomicBool>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[async_trait]
impl Tool for Sleeper {
    type Params = Empty;
    type Output = ();

    fn info(&self) -> ToolInfo {
        ToolInfo::new("sleep", "1.0.0")
    }

    async fn run(&self, _: Empty, ctx: &ToolContext) -> Result<(), ToolError> {
        let _guard = DropFlag(self.dropped.clone());
        let token = ctx.cancellation.clone();
        let saw = self.saw_cancel.clone();
        // Work started outside the tool's future, which must learn of the stop.
        tokio::spawn(async move {
            token.cancelled().await;
            saw.store(true, Ordering::SeqCst);
        });
        tokio::time::sleep(Duration::from_secs(3600)).await;
        self.finished.store(true, Ordering::SeqCst);
        Ok(())
    }
}

fn runtime() -> Runtime {
    Runtime::builder()
        .tool(Search { version: "1.0.0" })
        .layer(ValidationLayer::new())
        .layer(DeadlineLayer::new())
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_valid_call_returns_structured_output_and_text() {
    let result = runtime()
        .call(ToolCall::new("docs.search", json!({"query": "tower", "limit": 5})).with_id("c1"))
        .await
        .unwrap();
    assert_eq!(result.call_id, "c1");
    assert_eq!(result.tool, "docs.search");
    assert_eq!(result.version.to_string(), "1.0.0");
    let expected = json!({"echo": "tower@1.0.0", "limit": 5, "verbose": false});
    assert_eq!(result.structured, Some(expected.clone()));
    assert_eq!(
        serde_json::from_str::<Value>(&result.text).unwrap(),
        expected
    );
    assert!(!result.is_error);
}

#[tokio::test]
async fn invalid_arguments_report_every_violation_with_pointer_keyword_and_values() {
    let err = runtime()
        .call(ToolCall::new(
            "docs.search",
            json!({"limit": 500, "verbose": "yes"}),
        ))
        .await
        .unwrap_err();
    let ToolError::InvalidArguments { tool, violations } = err else {
        panic!("expected invalid arguments, got {err:?}");
    };
    assert_eq!(tool, "docs.search");
    let mut found: Vec<(&str, &str)> = violations
        .iter()
        .map(|v| (v.pointer.as_str(), v.keyword.as_str()))
        .collect();
    found.sort();
    assert_eq!(
        found,
        vec![
            ("/limit", "maximum"),
            ("/query", "required"),
            ("/verbose", "type")
        ]
    );
    let limit = violations.iter().find(|v| v.pointer == "/limit").unwrap();
    assert_eq!(limit.expected, json!(100));
    assert_eq!(limit.actual, json!(500));
    assert_eq!(
        limit.message,
        "at /limit: 500 is greater than the maximum of 100"
    );
    let verbose = violations.iter().find(|v| v.pointer == "/verbose").unwrap();
    assert_eq!(
        verbose.message,
        "at /verbose: expected boolean, found string \"yes\""
    );
}

#[tokio::test]
async fn without_the_validation_layer_typed_tools_still_refuse_bad_arguments() {
    let runtime = Runtime::builder()
        .tool(Search { version: "1.0.0" })
        .build()
        .unwrap();
    let err = runtime
        .call(ToolCall::new(
            "docs.search",
            json!({"query": 1, "limit": 1}),
        ))
        .await
        .unwrap_err();
    assert!(matches!(err, ToolError::InvalidArguments { .. }), "{err:?}");
}

#[tokio::test]
async fn an_unknown_tool_is_named_with_suggestions() {
    let err = runtime()
        .call(ToolCall::new("docs.serch", json!({})))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown tool `docs.serch`; did you mean docs.search?"
    );
}

#[tokio::test]
async fn the_newest_matching_version_serves_the_call() {
    let runtime = Runtime::builder()
        .tool(Search { version: "1.2.0" })
        .tool(Search { version: "2.0.0" })
        .tool(Search { version: "1.10.0" })
        .layer(ValidationLayer::new())
        .build()
        .unwrap();
    let args = json!({"query": "q", "limit": 1});
    let newest = runtime
        .call(ToolCall::new("docs.search", args.clone()))
        .await
        .unwrap();
    assert_eq!(newest.version.to_string(), "2.0.0");
    let v1 = runtime
        .call(ToolCall::new("docs.search", args.clone()).with_version("^1".parse().unwrap()))
        .await
        .unwrap();
    assert_eq!(v1.version.to_string(), "1.10.0");
    let err = runtime
        .call(ToolCall::new("docs.search", args).with_version("^3".parse().unwrap()))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "no version of `docs.search` matches `^3` (registered: 2.0.0, 1.10.0, 1.2.0)"
    );
}

#[test]
fn registering_the_same_name_and_version_twice_is_refused() {
    let err = Runtime::builder()
        .tool(Search { version: "1.0.0" })
        .tool(Search { version: "1.0.0" })
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid definition of tool `docs.search`: version 1.0.0 is already registered"
    );
}

/// A dynamic tool, implemented by hand with a schema given as JSON.
struct Manifest {
    metadata: ToolMetadata,
}

#[async_trait]
impl ToolExecutor for Manifest {
    fn metadata(&self) -> &ToolMetadata {
        &self.metadata
    }

    async fn execute(&self, arguments: Value, _: ToolContext) -> Result<ToolOutput, ToolError> {
        Ok(ToolOutput::structured(arguments))
    }
}

fn manifest(schema: Value) -> Arc<dyn ToolExecutor> {
    Arc::new(Manifest {
        metadata: ToolMetadata::new(ToolInfo::new("get-weather", "0.1.0"), schema, None).unwrap(),
    })
}

#[tokio::test]
async fn dynamic_tools_are_validated_like_typed_ones() {
    let runtime = Runtime::builder()
        .executor(manifest(json!({
            "type": "object",
            "properties": {"city": {"type": "string", "minLength": 2}},
            "required": ["city"],
            "additionalProperties": false
        })))
        .layer(ValidationLayer::new())
        .build()
        .unwrap();
    let ok = runtime
        .call(ToolCall::new("get-weather", json!({"city": "Oslo"})))
        .await
        .unwrap();
    assert_eq!(ok.structured, Some(json!({"city": "Oslo"})));
    let err = runtime
        .call(ToolCall::new(
            "get-weather",
            json!({"city": "O", "units": "C"}),
        ))
        .await
        .unwrap_err();
    let ToolError::InvalidArguments { violations, .. } = err else {
        panic!("{err:?}")
    };
    let messages: Vec<&str> = violations.iter().map(|v| v.message.as_str()).collect();
    assert!(
        messages.contains(
            &"at /units: the property \"units\" is not allowed; the allowed properties are city"
        ),
        "{messages:?}"
    );
    assert!(
        messages.contains(&"at /city: the string has 1 characters, fewer than the minimum of 2"),
        "{messages:?}"
    );
}

#[test]
fn a_tool_whose_schema_is_unusable_is_refused_at_registration() {
    for (schema, reason) in [
        (json!({"type": "string"}), "must have \"type\": \"object\""),
        (
            json!({"type": "object", "properties": {"a": {"type": "strin"}}}),
            "unusable",
        ),
        (
            json!({"type": "object", "properties": {"a": {"$ref": "https://example.com/s.json"}}}),
            "unusable",
        ),
    ] {
        let err = Runtime::builder()
            .executor(manifest(schema))
            .build()
            .unwrap_err();
        assert!(err.to_string().contains(reason), "{err}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_call_past_its_deadline_stops_the_tool_and_says_so() {
    let sleeper = Sleeper::default();
    let runtime = Runtime::builder()
        .tool(sleeper.clone())
        .layer(DeadlineLayer::new())
        .build()
        .unwrap();
    let err = runtime
        .call(ToolCall::new("sleep", json!({})).with_timeout(Duration::from_secs(2)))
        .await
        .unwrap_err();
    let ToolError::TimedOut { tool, after } = err else {
        panic!("{err:?}")
    };
    assert_eq!(tool, "sleep");
    assert!(after >= Duration::from_secs(2), "{after:?}");
    tokio::task::yield_now().await;
    assert!(
        sleeper.dropped.load(Ordering::SeqCst),
        "the tool's future was not dropped"
    );
    assert!(!sleeper.finished.load(Ordering::SeqCst));
    assert!(
        sleeper.saw_cancel.load(Ordering::SeqCst),
        "the tool's token was not cancelled"
    );
}

#[tokio::test(start_paused = true)]
async fn the_layers_default_timeout_applies_to_calls_without_a_deadline() {
    let runtime = Runtime::builder()
        .tool(Sleeper::default())
        .layer(DeadlineLayer::new().with_default_timeout(Duration::from_millis(50)))
        .build()
        .unwrap();
    let err = runtime
        .call(ToolCall::new("sleep", json!({})))
        .await
        .unwrap_err();
    assert!(matches!(err, ToolError::TimedOut { .. }), "{err:?}");
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_call_stops_the_tool_and_says_so() {
    let sleeper = Sleeper::default();
    let runtime = Runtime::builder()
        .tool(sleeper.clone())
        .layer(DeadlineLayer::new())
        .build()
        .unwrap();
    let token = CancellationToken::new();
    let call = ToolCall::new("sleep", json!({})).with_cancellation(token.clone());
    let handle = tokio::spawn(async move { runtime.call(call).await });
    tokio::time::sleep(Duration::from_secs(1)).await;
    token.cancel();
    let err = handle.await.unwrap().unwrap_err();
    assert_eq!(err.to_string(), "call to `sleep` was cancelled");
    tokio::task::yield_now().await;
    assert!(sleeper.dropped.load(Ordering::SeqCst));
    assert!(!sleeper.finished.load(Ordering::SeqCst));
}

/// Records the order in which layers see a call.
#[derive(Clone)]
struct Trace {
    name: &'static str,
    log: Arc<Mutex<Vec<&'static str>>>,
}

impl<S> Layer<S> for Trace {
    type Service = Traced<S>;
    fn layer(&self, inner: S) -> Traced<S> {
        Traced {
            inner,
            trace: self.clone(),
        }
    }
}

#[derive(Clone)]
struct Traced<S> {
    inner: S,
    trace: Trace,
}

impl<S> Service<ToolRequest> for Traced<S>
where
    S: Service<ToolRequest, Response = ToolResult, Error = ToolError>,
    S::Future: Send + 'static,
{
    type Response = ToolResult;
    type Error = ToolError;
    type Future = BoxToolFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ToolError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: ToolRequest) -> BoxToolFuture {
        self.trace.log.lock().unwrap().push(self.trace.name);
        Box::pin(self.inner.call(request))
    }
}

#[tokio::test]
async fn layers_run_in_the_order_they_were_added_and_can_be_reordered() {
    for order in [["a", "b"], ["b", "a"]] {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut builder = Runtime::builder().tool(Search { version: "1.0.0" });
        for name in order {
            builder = builder.layer(Trace {
                name,
                log: log.clone(),
            });
        }
        let runtime = builder.build().unwrap();
        runtime
            .call(ToolCall::new(
                "docs.search",
                json!({"query": "q", "limit": 1}),
            ))
            .await
            .unwrap();
        assert_eq!(*log.lock().unwrap(), order);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_parallel_callers_all_get_their_own_result() {
    let runtime = runtime();
    let done = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..1000u32 {
        let runtime = runtime.clone();
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            let limit = i % 100 + 1;
            let result = runtime
                .call(ToolCall::new(
                    "docs.search",
                    json!({"query": format!("q{i}"), "limit": limit}),
                ))
                .await
                .unwrap();
            assert_eq!(result.structured.unwrap()["limit"], json!(limit));
            done.fetch_add(1, Ordering::SeqCst);
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(done.load(Ordering::SeqCst), 1000);
}

#[tokio::test]
async fn a_call_without_a_requirement_prefers_releases_to_pre_releases() {
    let args = json!({"query": "q", "limit": 1});
    let runtime = Runtime::builder()
        .tool(Search { version: "1.9.0" })
        .tool(Search {
            version: "2.0.0-rc.1",
        })
        .build()
        .unwrap();
    let result = runtime
        .call(ToolCall::new("docs.search", args.clone()))
        .await
        .unwrap();
    assert_eq!(result.version.to_string(), "1.9.0");

    let only_pre = Runtime::builder()
        .tool(Search {
            version: "2.0.0-rc.1",
        })
        .build()
        .unwrap();
    let result = only_pre
        .call(ToolCall::new("docs.search", args))
        .await
        .unwrap();
    assert_eq!(result.version.to_string(), "2.0.0-rc.1");
}

/// Reports whether it saw a deadline in its context.
struct SeesDeadline;

#[async_trait]
impl Tool for SeesDeadline {
    type Params = Empty;
    type Output = bool;

    fn info(&self) -> ToolInfo {
        ToolInfo::new("deadline.seen", "1.0.0")
    }

    async fn run(&self, _: Empty, ctx: &ToolContext) -> Result<bool, ToolError> {
        Ok(ctx.deadline.is_some())
    }
}

#[tokio::test]
async fn the_tool_sees_the_default_deadline_it_runs_under() {
    let runtime = Runtime::builder()
        .tool(SeesDeadline)
        .layer(DeadlineLayer::new().with_default_timeout(Duration::from_secs(30)))
        .build()
        .unwrap();
    let result = runtime
        .call(ToolCall::new("deadline.seen", json!({})))
        .await
        .unwrap();
    assert_eq!(result.structured, Some(json!(true)));
}

/// Searches with tight argument limits.
struct Tight;

#[async_trait]
impl Tool for Tight {
    type Params = SearchParams;
    type Output = SearchOutput;

    fn info(&self) -> ToolInfo {
        ToolInfo::new("tight", "1.0.0").argument_limits(rustchain_tools_core::ArgumentLimits {
            max_bytes: 1024,
            max_depth: 2,
            max_string_chars: 8,
        })
    }

    async fn run(&self, p: SearchParams, ctx: &ToolContext) -> Result<SearchOutput, ToolError> {
        Search { version: "1.0.0" }.run(p, ctx).await
    }
}

#[tokio::test]
async fn arguments_past_the_tools_limits_are_refused_before_the_schema() {
    let runtime = Runtime::builder()
        .tool(Tight)
        .layer(ValidationLayer::new())
        .build()
        .unwrap();
    let err = runtime
        .call(ToolCall::new(
            "tight",
            json!({"query": "far too long", "limit": 1}),
        ))
        .await
        .unwrap_err();
    let ToolError::InvalidArguments { violations, .. } = err else {
        panic!("{err:?}")
    };
    assert_eq!(violations.len(), 1);
    assert_eq!(violations[0].pointer, "/query");
    assert_eq!(violations[0].keyword, "maxStringChars");
    assert!(
        runtime
            .call(ToolCall::new(
                "tight",
                json!({"query": "short", "limit": 1})
            ))
            .await
            .is_ok()
    );
}

fn booking_tool(schemes: &[&str]) -> Arc<dyn ToolExecutor> {
    let schema = json!({
        "type": "object",
        "properties": {
            "file": {"type": "string", "format": "relative-path"},
            "callback": {"type": "string", "format": "uri"},
            "start": {"type": "integer"},
            "end": {"type": "integer"}
        },
        "required": ["file", "start", "end"]
    });
    let info = ToolInfo::new("book", "1.0.0")
        .uri_schemes(schemes.iter().copied())
        .rule(|args: &Value| {
            if args["end"].as_i64() < args["start"].as_i64() {
                vec![rustchain_tools_core::Violation::new(
                    "/end",
                    "x-end-after-start",
                    args["start"].clone(),
                    args["end"].clone(),
                    "the end must not come before the start",
                )]
            } else {
                Vec::new()
            }
        });
    Arc::new(Manifest {
        metadata: ToolMetadata::new(info, schema, None).unwrap(),
    })
}

async fn booking_violations(runtime: &Runtime, args: Value) -> Vec<(String, String, String)> {
    match runtime.call(ToolCall::new("book", args)).await {
        Ok(_) => Vec::new(),
        Err(ToolError::InvalidArguments { violations, .. }) => violations
            .into_iter()
            .map(|v| (v.pointer, v.keyword, v.message))
            .collect(),
        Err(other) => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn custom_formats_and_rules_report_like_the_schema() {
    let runtime = Runtime::builder()
        .executor(booking_tool(&["https"]))
        .layer(ValidationLayer::new())
        .build()
        .unwrap();
    let ok =
        json!({"file": "notes/a.txt", "callback": "https://example.com/cb", "start": 1, "end": 2});
    assert!(booking_violations(&runtime, ok).await.is_empty());

    let bad = booking_violations(
        &runtime,
        json!({"file": "../etc/passwd", "callback": "http://example.com", "start": 1, "end": 2}),
    )
    .await;
    assert_eq!(bad.len(), 2, "{bad:?}");
    let file = bad.iter().find(|v| v.0 == "/file").unwrap();
    assert_eq!(file.1, "format");
    assert!(file.2.contains("no .. segment"), "{}", file.2);
    let callback = bad.iter().find(|v| v.0 == "/callback").unwrap();
    assert!(
        callback.2.contains("scheme is one of: https"),
        "{}",
        callback.2
    );

    // The rule runs only once the schema accepts the arguments.
    let rule = booking_violations(&runtime, json!({"file": "a", "start": 5, "end": 1})).await;
    assert_eq!(
        rule,
        vec![(
            "/end".to_owned(),
            "x-end-after-start".to_owned(),
            "at /end: the end must not come before the start".to_owned()
        )]
    );
    let both = booking_violations(&runtime, json!({"file": "/abs", "start": 5, "end": 1})).await;
    assert_eq!(both.len(), 1, "schema errors come alone: {both:?}");
}

fn versioned(version: &str, schema: Value) -> Arc<dyn ToolExecutor> {
    Arc::new(Manifest {
        metadata: ToolMetadata::new(ToolInfo::new("evolve", version), schema, None).unwrap(),
    })
}

#[test]
fn a_breaking_schema_needs_a_major_version_bump() {
    let v1 = json!({"type": "object", "properties": {"q": {"type": "string"}}, "additionalProperties": false});
    let narrower = json!({"type": "object", "properties": {"q": {"type": "string", "maxLength": 5}},
                          "required": ["q"], "additionalProperties": false});
    let wider = json!({"type": "object", "properties": {"q": {"type": "string"}, "n": {"type": "integer"}},
                       "additionalProperties": false});

    let err = Runtime::builder()
        .executor(versioned("1.0.0", v1.clone()))
        .executor(versioned("1.1.0", narrower.clone()))
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("version 1.1.0 breaks the input schema of version 1.0.0"),
        "{err}"
    );
    assert!(err.contains("/q: q is now required"), "{err}");
    assert!(err.contains("maxLength 5 added"), "{err}");

    // Registered in the other order, the older version is checked against the newer.
    let err = Runtime::builder()
        .executor(versioned("1.1.0", narrower.clone()))
        .executor(versioned("1.0.0", v1.clone()))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("breaks the input schema"), "{err}");

    assert!(
        Runtime::builder()
            .executor(versioned("1.0.0", v1.clone()))
            .executor(versioned("1.1.0", wider))
            .executor(versioned("2.0.0", narrower.clone()))
            .build()
            .is_ok()
    );
    // For 0.x versions a minor bump is the major one.
    assert!(
        Runtime::builder()
            .executor(versioned("0.1.0", v1.clone()))
            .executor(versioned("0.2.0", narrower.clone()))
            .build()
            .is_ok()
    );
    assert!(
        Runtime::builder()
            .executor(versioned("0.1.0", v1))
            .executor(versioned("0.1.1", narrower))
            .build()
            .is_err()
    );
}
