//! The server driven by rmcp's own client, in this process over a pipe.

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use rmcp::{
    ClientHandler, RoleClient, ServiceExt,
    model::{CallToolRequestParams, PaginatedRequestParams},
    service::{NotificationContext, RunningService},
};
use rustchain_tools::audit::RecordKind;
use rustchain_tools_mcp::{DIGEST_META, Exposure, McpServer, Mode};
use serde_json::{Value, json};

/// Counts `notifications/tools/list_changed`.
#[derive(Clone, Default)]
struct Counting(Arc<AtomicUsize>);

impl ClientHandler for Counting {
    async fn on_tool_list_changed(&self, _: NotificationContext<RoleClient>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

async fn connect(
    server: &McpServer,
    client: Counting,
) -> (
    RunningService<RoleClient, Counting>,
    tokio::task::JoinHandle<()>,
) {
    let (server_end, client_end) = tokio::io::duplex(1 << 20);
    let server = server.clone();
    let task = tokio::spawn(async move {
        if let Ok(running) = server.serve(server_end).await {
            let _ = running.waiting().await;
        }
    });
    let client = client.serve(client_end).await.expect("the client connects");
    (client, task)
}

fn call(name: &str, arguments: Value) -> CallToolRequestParams {
    let mut params = CallToolRequestParams::new(name.to_owned());
    params.arguments = arguments.as_object().cloned();
    params
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_calls_refusals_and_list_changed() {
    let test = common::server(Vec::new(), Mode::List, 5);
    let counting = Counting::default();
    let (client, task) = connect(&test.server, counting.clone()).await;

    let mut names = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = client
            .list_tools(Some(PaginatedRequestParams::default().with_cursor(cursor)))
            .await
            .unwrap();
        pages += 1;
        for tool in &page.tools {
            let digest = tool.meta.as_ref().unwrap().0[DIGEST_META].as_str().unwrap();
            assert!(digest.starts_with("sha256:"), "{digest}");
            names.push(tool.name.to_string());
        }
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    // The eight pure built-ins and test.sleep, five a page.
    assert_eq!(names.len(), 9, "{names:?}");
    assert_eq!(pages, 2);

    let ok = client
        .call_tool(call("text.sha256", json!({"text": "a"})))
        .await
        .unwrap();
    assert_eq!(ok.is_error, Some(false));
    assert!(
        ok.structured_content.unwrap()["sha256"]
            .as_str()
            .unwrap()
            .starts_with("ca978112")
    );
    let invalid = client
        .call_tool(call("text.sha256", json!({})))
        .await
        .unwrap();
    assert_eq!(invalid.is_error, Some(true));
    let unknown = client.call_tool(call("text.sha257", json!({}))).await;
    let message = format!("{unknown:?}");
    assert!(message.contains("did you mean text.sha256"), "{message}");

    // Hiding tools tells the session.
    let hidden = Exposure::new(&["*".into()], &["text.*".into()], Mode::List).unwrap();
    assert!(test.server.set_exposure(hidden).await);
    tokio::time::timeout(Duration::from_secs(5), async {
        while counting.0.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("list_changed arrives");
    let page = client.list_tools(None).await.unwrap();
    assert!(page.tools.iter().all(|t| !t.name.starts_with("text.")));
    // A hidden tool is unknown, with nothing suggested.
    let hidden = format!(
        "{:?}",
        client
            .call_tool(call("text.sha256", json!({"text": "a"})))
            .await
    );
    assert!(hidden.contains("unknown tool `text.sha256`"), "{hidden}");
    assert!(!hidden.contains("did you mean"), "{hidden}");

    client.cancel().await.unwrap();
    task.await.unwrap();
    let records = test.records();
    assert!(records.iter().any(|r| r.kind == RecordKind::Finished));
    assert!(records.iter().any(|r| r.kind == RecordKind::Rejected));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_tools_through_find_tools_and_call_tool() {
    let corpus = common::corpus_tools(10_000);
    assert!(corpus.len() >= 9_900, "{} corpus tools", corpus.len());
    let test = common::server(corpus, Mode::Auto, 100);
    assert!(
        test.server.search_mode(),
        "auto goes to search mode past 64 tools"
    );
    let (client, task) = connect(&test.server, Counting::default()).await;

    let listed = client.list_tools(None).await.unwrap();
    let names: Vec<&str> = listed.tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names, ["find_tools", "call_tool"]);

    let found = client
        .call_tool(call(
            "find_tools",
            json!({"query": "count the words and lines of a text", "limit": 5}),
        ))
        .await
        .unwrap();
    let hits = found.structured_content.unwrap()["tools"].clone();
    let hit_names: Vec<&str> = hits
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    assert!(hit_names.contains(&"text.word_count"), "{hit_names:?}");
    let result = client
        .call_tool(call(
            "call_tool",
            json!({"name": "text.word_count", "arguments": {"text": "one two"}}),
        ))
        .await
        .unwrap();
    assert_eq!(result.structured_content.unwrap()["words"], 2);

    // A corpus tool found by what it does, then called.
    let found = client
        .call_tool(call(
            "find_tools",
            json!({"query": "Runs the jar agent with the specified options and attaches it to the Instrumentation instance"}),
        ))
        .await
        .unwrap();
    let first = found.structured_content.unwrap()["tools"][0].clone();
    assert_eq!(
        first["name"], "bfcl_AbstractJarAgent.runJarAgent",
        "{first}"
    );
    let result = client
        .call_tool(call(
            "call_tool",
            json!({"name": first["name"], "arguments": {"options": "-v", "inst": "i"}}),
        ))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(false), "{result:?}");
    client.cancel().await.unwrap();
    task.await.unwrap();
    drop(test.records());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exposure_change_beside_a_catalog_change_is_not_lost() {
    let test = common::server(Vec::new(), Mode::List, 5);
    let all = Exposure::new(&["*".into()], &[], Mode::List).unwrap();
    let hidden = Exposure::new(&["*".into()], &["text.*".into()], Mode::List).unwrap();
    for round in 0..200 {
        let exposure = if round % 2 == 0 { &hidden } else { &all };
        let catalogs = {
            let server = test.server.clone();
            tokio::spawn(async move {
                for _ in 0..4 {
                    server.set_catalog(server.catalog()).await;
                }
            })
        };
        test.server.set_exposure(exposure.clone()).await;
        catalogs.await.unwrap();
        let texts = test
            .server
            .listed_names()
            .iter()
            .filter(|n| n.starts_with("text."))
            .count();
        assert_eq!(
            texts == 0,
            round % 2 == 0,
            "round {round}: the exposure was lost"
        );
    }
}
