//! The audit trail's cost: records per second for each durability mode
//! (64 concurrent appenders, as under load), and what the audit layer adds to
//! a call, alone and with 1,000 concurrent callers, with group commit (and
//! without syncing, which leaves the layer's own work: the difference is the
//! wait for the disk).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rustchain_tools::{Runtime, RuntimeBuilderExt, StackConfig};
use rustchain_tools_audit::{AuditConfig, AuditKey, AuditLayer, AuditLog, Durability, RecordKind};
use rustchain_tools_benches as b;
use serde_json::json;

fn open(dir: &std::path::Path, name: &str, durability: Durability) -> AuditLog {
    let key = AuditKey::generate("bench.audit").expect("a key");
    let mut config = AuditConfig::new(dir.join(format!("{name}.jsonl")), key);
    config.durability = durability;
    config.rotate_bytes = Some(64 << 20); // keep files bounded over long runs
    AuditLog::open(config).expect("the log opens")
}

/// `n` records from `appenders` tasks at once, each waiting for its record's
/// acknowledgement before the next; returns when all are committed.
async fn append(log: &AuditLog, n: u64, appenders: u64) {
    let tasks: Vec<_> = (0..appenders)
        .map(|t| {
            let log = log.clone();
            tokio::spawn(async move {
                for i in 0..n / appenders {
                    log.record(
                        RecordKind::Received,
                        json!({"callId": "bench", "tool": "bench.noop", "t": t, "i": i, "arguments": {"query": "rust", "limit": 10}}),
                    )
                    .await
                    .expect("committed");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("appender");
    }
}

fn records_per_second(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let mut group = c.benchmark_group("audit-append");
    group.sample_size(10);
    // Group commit gains with concurrency (records per fsync), so it is
    // measured with 64 and with 1,024 appenders, as many as the pipeline's
    // 1,000 concurrent calls. fsync per record is slow by design: fewer
    // records per iteration.
    for (durability, n, appenders) in [
        (Durability::None, 25_600, 1024),
        (Durability::None, 12_800, 64),
        (Durability::Group, 25_600, 1024),
        (Durability::Group, 12_800, 64),
        (Durability::Fsync, 256, 64),
    ] {
        let name = format!("{durability:?}-{appenders}").to_lowercase();
        let log = open(dir.path(), &name, durability);
        group.throughput(Throughput::Elements(n));
        group.bench_function(name, |bench| {
            bench.to_async(&rt).iter(|| append(&log, n, appenders));
        });
        log.close().expect("closes");
    }
    group.finish();
}

fn audited_runtime(log: &AuditLog) -> Runtime {
    Runtime::builder()
        .tool(b::NoOp)
        .layers(
            StackConfig::default()
                .audit_layer(AuditLayer::new(log.clone(), b"bench redaction key"))
                .insecure_no_policy(),
        )
        .build()
        .expect("the no-op tool registers")
}

fn layer_cost(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let log = open(dir.path(), "layer", Durability::Group);
    let unsynced_log = open(dir.path(), "layer-unsynced", Durability::None);
    let plain = b::runtime();
    let audited = audited_runtime(&log);
    let unsynced = audited_runtime(&unsynced_log);
    let single = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut group = c.benchmark_group("audit-layer");
    group.bench_function("without", |bench| {
        bench.to_async(&single).iter(|| b::pipeline_valid(&plain));
    });
    group.bench_function("with-group-commit", |bench| {
        bench.to_async(&single).iter(|| b::pipeline_valid(&audited));
    });
    group.finish();

    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let mut group = c.benchmark_group("audit-concurrent-1000");
    group.throughput(Throughput::Elements(1000));
    group.sample_size(10);
    group.bench_function("without", |bench| {
        bench.to_async(&multi).iter(|| b::concurrent(&plain, 1000));
    });
    group.bench_function("with-group-commit", |bench| {
        bench
            .to_async(&multi)
            .iter(|| b::concurrent(&audited, 1000));
    });
    group.bench_function("with-no-sync", |bench| {
        bench
            .to_async(&multi)
            .iter(|| b::concurrent(&unsynced, 1000));
    });
    group.finish();
    drop((audited, unsynced));
    log.close().expect("closes");
    unsynced_log.close().expect("closes");
}

criterion_group!(benches, records_per_second, layer_cost);
criterion_main!(benches);
