//! Runs one benchmark scenario a given number of times on a single-threaded
//! runtime, for `cargo xtask bench-gate` to count its instructions under
//! callgrind. Usage: `bench-scenario SCENARIO ITERATIONS`.

use std::process::ExitCode;

use rustchain_tools::schema::export::{ExportOptions, Format, export};
use rustchain_tools_benches as b;

const SCENARIOS: &str = "direct, bare, limits, valid, invalid, concurrent-1000, validate-valid, validate-invalid, export-strict, policy-decision, policy-decision-reused, mcp-call, wasm-echo, audit-append, registry-exact, registry-negative, registry-search, registry-register, ledger-record, market-download";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(scenario), Some(iterations)) = (args.first(), args.get(1)) else {
        eprintln!("usage: bench-scenario SCENARIO ITERATIONS (scenarios: {SCENARIOS})");
        return ExitCode::from(64);
    };
    let Ok(iterations) = iterations.parse::<usize>() else {
        eprintln!("ITERATIONS must be a whole number, not {iterations:?}");
        return ExitCode::from(64);
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let runtime = b::runtime();
    let tool = b::bare_tool();
    let validator = b::noop_validator();
    let large = b::large_definition();
    rt.block_on(async {
        match scenario.as_str() {
            "direct" => {
                for _ in 0..iterations {
                    b::direct(&tool).await;
                }
            }
            "bare" => {
                let bare = b::bare_runtime();
                for _ in 0..iterations {
                    b::pipeline_valid(&bare).await;
                }
            }
            "limits" => {
                let limited = b::limits_runtime();
                for _ in 0..iterations {
                    b::pipeline_valid(&limited).await;
                }
            }
            "valid" => {
                for _ in 0..iterations {
                    b::pipeline_valid(&runtime).await;
                }
            }
            "invalid" => {
                for _ in 0..iterations {
                    b::pipeline_invalid(&runtime).await;
                }
            }
            "concurrent-1000" => {
                for _ in 0..iterations {
                    b::concurrent(&runtime, 1000).await;
                }
            }
            "validate-valid" => {
                let args = b::valid_arguments();
                for _ in 0..iterations {
                    assert!(validator.validate(&args).is_ok());
                }
            }
            "validate-invalid" => {
                let args = b::invalid_arguments();
                for _ in 0..iterations {
                    assert!(validator.validate(&args).is_err());
                }
            }
            "export-strict" => {
                let options = ExportOptions::new(Format::OpenaiStrict);
                for _ in 0..iterations {
                    export(&large, options).expect("exports");
                }
            }
            "registry-exact" | "registry-negative" | "registry-search" => {
                use rustchain_tools::registry::Filters;
                let (registry, dir) = b::corpus_registry();
                let snapshot = registry.snapshot();
                match scenario.as_str() {
                    "registry-exact" => {
                        for _ in 0..iterations {
                            assert!(snapshot.get("get_current_weather").is_some());
                        }
                    }
                    "registry-negative" => {
                        for _ in 0..iterations {
                            assert!(!snapshot.contains("no_such_tool_anywhere"));
                        }
                    }
                    _ => {
                        // The first search decodes the index; not part of the count.
                        let _ = snapshot.search("warm up", &Filters::default(), 10);
                        for i in 0..iterations {
                            let query = b::SEARCH_QUERIES[i % b::SEARCH_QUERIES.len()];
                            let hits = snapshot
                                .search(query, &Filters::default(), 10)
                                .expect("search runs");
                            assert!(!hits.is_empty());
                        }
                    }
                }
                let _ = std::fs::remove_dir_all(&dir);
            }
            "registry-register" => {
                use rustchain_tools::registry::Registry;
                let manifests = b::corpus_manifests();
                let dir =
                    std::env::temp_dir().join(format!("bench-register-{}", std::process::id()));
                for i in 0..iterations {
                    let at = dir.join(i.to_string());
                    let registry = Registry::open(&at).expect("a registry in a temporary directory");
                    let report = registry.register(&manifests).expect("registers");
                    assert_eq!(report.added.len(), manifests.len());
                }
                let _ = std::fs::remove_dir_all(&dir);
            }
            "mcp-call" => {
                // Instructions, not disk waits: audited without syncing.
                let server = b::mcp::BenchServer::start(rustchain_tools::audit::Durability::None);
                let mut session = b::mcp::LineSession::open(&server.server).await;
                for _ in 0..iterations {
                    session.call().await;
                }
            }
            "wasm-echo" => {
                let (module, grants) = b::wasm::echo_module(4);
                let limits = rustchain_tools::sandbox::wasm::CallLimits::default();
                for _ in 0..iterations {
                    b::wasm::echo_call(&module, &grants, &limits);
                }
            }
            "market-download" => {
                let market = b::market::BenchMarket::start().await;
                for _ in 0..iterations {
                    market.download().await;
                }
            }
            "ledger-record" => {
                let mut ledger = rustchain_tools_market::Ledger::new();
                b::market::record_in_memory(&mut ledger, 0, iterations as u64);
            }
            "audit-append" => {
                use rustchain_tools::audit::{
                    AuditConfig, AuditKey, AuditLog, Durability, RecordKind,
                };
                let dir = std::env::temp_dir().join(format!("bench-audit-{}", std::process::id()));
                std::fs::create_dir_all(&dir).expect("a temporary directory");
                let key = AuditKey::generate("bench.audit").expect("a key");
                let mut config = AuditConfig::new(dir.join("audit.jsonl"), key);
                // Instructions, not disk waits: the gate counts the record's own cost.
                config.durability = Durability::None;
                let log = AuditLog::open(config).expect("the log opens");
                for i in 0..iterations {
                    log.append(
                        RecordKind::Received,
                        serde_json::json!({"tool": "bench.noop", "callId": i.to_string(), "arguments": b::valid_arguments()}),
                    )
                    .expect("appended");
                }
                log.close().expect("closed");
                let _ = std::fs::remove_dir_all(&dir);
            }
            "policy-decision" | "policy-decision-reused" => {
                // Evaluated every time, or reused for the repeated call.
                let config = rustchain_tools::policy::PolicyConfig::new()
                    .profile("sox")
                    .reuse_decisions(scenario == "policy-decision-reused");
                let engine = rustchain_tools::policy::PolicyEngine::load(&config)
                    .expect("the shipped policies load");
                let request = rustchain_tools::ToolRequest::new(
                    b::call(b::valid_arguments()),
                    std::sync::Arc::new(
                        rustchain_tools::RegisteredTool::new(tool.clone()).expect("registers"),
                    ),
                );
                for _ in 0..iterations {
                    assert!(engine.decide(&request).allowed);
                }
            }
            other => {
                eprintln!("unknown scenario {other:?} (scenarios: {SCENARIOS})");
                return ExitCode::from(64);
            }
        }
        ExitCode::SUCCESS
    })
}
