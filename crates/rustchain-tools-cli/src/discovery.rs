//! `tools search` and `registry import|remove|stats|eval`: the registry from
//! the command line.

use std::{
    io::Write,
    path::{Path, PathBuf},
    sync::Arc,
    time::Instant,
};

use anyhow::{Context, Result, anyhow, bail};
use indicatif::{ProgressBar, ProgressStyle};
use rustchain_tools::{
    Catalog, CatalogHit, Runtime, Version,
    audit::RecordKind,
    registry::{
        DEFAULT_MODEL, EmbeddingModel, Filters, Format, ImportOptions, ImportReport, LexicalReason,
        Parsed, Registry, RegistryOptions, SearchResult, parse,
    },
    search::SearchIndex,
    search::crossval::{
        CrossValidation, QueryScores, Split, cross_validate, describe, folds, query_scores,
        tuning_grid,
    },
    search::eval::{Metrics, load_corpus, load_queries, score_ranking},
};
use serde_json::{Value, json};

use crate::settings::Settings;

/// Lines imported per step of the progress bar.
const CHUNK_LINES: usize = 2_000;

/// Where the tools to search come from, and the filters.
#[derive(Debug, Clone, clap::Args)]
pub struct SearchArgs {
    /// What the tool should do, in plain words.
    #[arg(required_unless_present = "batch")]
    query: Option<String>,
    /// Only tools of this category.
    #[arg(long)]
    category: Option<String>,
    /// Only tools with this tag.
    #[arg(long)]
    tag: Option<String>,
    /// Only tools declaring this permission: fileRead, fileWrite, network,
    /// commands, or KIND:VALUE.
    #[arg(long)]
    permission: Option<String>,
    /// At most this many results.
    #[arg(long, default_value_t = 10)]
    limit: usize,
    /// Print JSON (one line per query with --batch).
    #[arg(long)]
    json: bool,
    /// Search the tools of this file (any import format) instead of a
    /// registry directory; nothing is kept.
    #[arg(long, value_name = "FILE")]
    corpus: Option<String>,
    /// Run every query of this JSON Lines file (`{"query": ...}` per line)
    /// and print each one's ranked tool ids, in input order.
    #[arg(long, value_name = "QUERIES.jsonl")]
    batch: Option<String>,
    #[command(flatten)]
    source: SourceArgs,
}

/// The registry directory and the embedding model.
#[derive(Debug, Clone, clap::Args)]
pub struct SourceArgs {
    /// The registry directory (default: `registry` in the data directory).
    #[arg(long, value_name = "DIR")]
    pub(crate) registry: Option<String>,
    /// The embedding model for semantic search: a directory, or the name of
    /// an installed model (`wordllama-l2-supercat-256`, the default, or
    /// `all-minilm-l6-v2`), found under the data directory or the
    /// workspace's `models/`.
    #[arg(long, value_name = "DIR|NAME")]
    model: Option<String>,
    /// Search by words only, even if a model is there.
    #[arg(long)]
    lexical: bool,
}

/// `registry ...`.
#[derive(Debug, clap::Subcommand)]
pub enum RegistryCommand {
    /// Add tools from files: JSON Lines of manifests, an MCP tools/list
    /// result, OpenAI function definitions, or the retrieval corpus format.
    /// Every bad definition is reported with its line; the good ones stay.
    Import {
        /// The files.
        #[arg(required = true)]
        files: Vec<String>,
        /// The format, when detection should not decide: manifests, mcp, openai, corpus.
        #[arg(long)]
        format: Option<Format>,
        /// Replace characters MCP names do not allow with `_` instead of
        /// refusing the definition.
        #[arg(long)]
        sanitize_names: bool,
        #[command(flatten)]
        source: SourceArgs,
    },
    /// Remove a tool: NAME (every version), NAME@VERSION, or a corpus id.
    Remove {
        /// What to remove.
        tool: String,
        #[command(flatten)]
        source: SourceArgs,
    },
    /// Counts, memory, and the cache counters and hit rate of every
    /// process that used the registry.
    Stats {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        source: SourceArgs,
    },
    /// Rewrite the manifests and the index without removed and replaced
    /// tools (atomically: a crash midway leaves the old or the new registry).
    Compact {
        #[command(flatten)]
        source: SourceArgs,
    },
    /// Measure search quality: recall@1, recall@5, nDCG@10 and MRR of the
    /// queries (dev.jsonl format) over the tools of the corpus.
    Eval {
        /// The tools.
        #[arg(long, value_name = "FILE")]
        corpus: String,
        /// The queries with their relevant tools.
        #[arg(long, value_name = "FILE")]
        queries: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Cross-validate: split the queries (`family`: each source family
        /// held out in turn; `tool` or `tool:K`: K folds that share no
        /// function name), choose the ranking parameters on the other folds
        /// and measure each held-out fold, with 95% intervals.
        #[arg(long, value_name = "SPLIT")]
        split: Option<Split>,
        #[command(flatten)]
        source: SourceArgs,
    },
}

/// The embedding model in `dir` (a directory, or the name of an installed
/// model such as `all-minilm-l6-v2`), or the installed default one; an
/// installed model is looked for under the data directory, then the
/// workspace's `models/`. None when `lexical`.
pub(crate) fn embedding_model(
    settings: &Settings,
    dir: Option<&str>,
    lexical: bool,
) -> Result<Option<Arc<EmbeddingModel>>> {
    if lexical {
        return Ok(None);
    }
    let installed = |name: &str| {
        vec![
            settings.data_dir.join("models").join(name),
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../models")
                .join(name),
        ]
    };
    let candidates: Vec<PathBuf> = match dir {
        Some(name) if !name.contains(std::path::is_separator) && !Path::new(name).exists() => {
            installed(name)
        }
        Some(dir) => vec![PathBuf::from(dir)],
        None => installed(DEFAULT_MODEL),
    };
    for dir in &candidates {
        if dir.exists() {
            let model = EmbeddingModel::load(dir)
                .with_context(|| format!("the model in {} cannot be loaded", dir.display()))?;
            return Ok(Some(Arc::new(model)));
        }
    }
    if dir.is_some() {
        let tried: Vec<String> = candidates.iter().map(|c| c.display().to_string()).collect();
        bail!(
            "no model in {} (`cargo xtask fetch-model --model NAME` installs one)",
            tried.join(" or ")
        );
    }
    Ok(None)
}

impl SourceArgs {
    pub(crate) fn model(&self, settings: &Settings) -> Result<Option<Arc<EmbeddingModel>>> {
        embedding_model(settings, self.model.as_deref(), self.lexical)
    }

    fn open(&self, settings: &Settings) -> Result<Registry> {
        let dir = settings.registry_dir(self.registry.as_deref());
        let options = RegistryOptions {
            model: self.model(settings)?,
            ..RegistryOptions::default()
        };
        Registry::open_with(&dir, &options)
            .with_context(|| format!("the registry in {} cannot be opened", dir.display()))
    }

    /// A registry in a temporary directory holding the tools of `corpus`.
    fn scratch(&self, settings: &Settings, corpus: &str) -> Result<(Registry, tempfile::TempDir)> {
        let dir = tempfile::tempdir().context("cannot make a temporary directory")?;
        let options = RegistryOptions {
            model: self.model(settings)?,
            ..RegistryOptions::default()
        };
        let registry = Registry::open_with(dir.path(), &options)?;
        let report = import(
            &registry,
            Path::new(corpus),
            &ImportOptions {
                sanitize_names: true,
                ..ImportOptions::default()
            },
        )?;
        report_problems(corpus, &report);
        Ok((registry, dir))
    }
}

/// `tools search`: the registry's tools and the runtime's, which are
/// registered in it first (once), each result marked callable or not.
pub fn search(args: &SearchArgs, settings: &Settings, runtime: Runtime) -> Result<u8> {
    let (catalog, _scratch) = match &args.corpus {
        // A corpus is searched alone, as `registry eval` does.
        Some(corpus) => {
            let (registry, dir) = args.source.scratch(settings, corpus)?;
            (Searched::Registry(registry), Some(dir))
        }
        None => {
            let registry = Arc::new(args.source.open(settings)?);
            let catalog = Catalog::open(runtime, registry.clone()).with_context(|| {
                format!(
                    "the tools of this program could not be registered in {}",
                    registry.dir().display()
                )
            })?;
            for change in catalog.changed() {
                eprintln!(
                    "warning: `{}` {} is refused: its definition changed under the same version \
                     (pinned {}, now {}); `rustchain-tools registry remove {}@{}` accepts it",
                    change.name,
                    change.version,
                    change.pinned,
                    change.offered,
                    change.name,
                    change.version
                );
            }
            (Searched::Catalog(catalog), None)
        }
    };
    let filters = Filters {
        category: args.category.clone(),
        tag: args.tag.clone(),
        permission: args.permission.clone(),
    };
    let mut out = std::io::stdout().lock();
    let lexical = catalog.registry().snapshot().lexical_reason();
    if let Some(reason) = lexical.filter(|_| !args.source.lexical) {
        warn_lexical(reason);
    }
    if let Some(batch) = &args.batch {
        let text =
            std::fs::read_to_string(batch).with_context(|| format!("cannot read {batch}"))?;
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let query: Value = serde_json::from_str(line)
                .with_context(|| format!("{batch} line {}: not JSON", i + 1))?;
            let Some(text) = query.get("query").and_then(Value::as_str) else {
                bail!("{batch} line {}: no \"query\" string", i + 1);
            };
            let results = catalog.search(text, &filters, args.limit)?;
            let ids: Vec<String> = results.iter().map(|h| h.result.key.to_string()).collect();
            let mut row = json!({"query": text, "ids": ids});
            if let Some(qid) = query.get("qid") {
                row["qid"] = qid.clone();
            }
            writeln!(out, "{row}")?;
        }
        return Ok(0);
    }
    let query = args
        .query
        .as_deref()
        .ok_or_else(|| anyhow!("give a query, or --batch FILE"))?;
    let results = catalog.search(query, &filters, args.limit)?;
    if args.json {
        let rows: Vec<Value> = results.iter().map(hit_json).collect();
        let mut answer = json!({"query": query, "semantic": lexical.is_none(), "results": rows});
        if let Some(reason) = lexical {
            answer["notice"] = json!(lexical_notice(reason));
        }
        writeln!(out, "{}", serde_json::to_string_pretty(&answer)?)?;
    } else {
        for (rank, hit) in results.iter().enumerate() {
            let r = &hit.result;
            let mark = if hit.callable {
                ""
            } else {
                "  [definition only: not callable here]"
            };
            writeln!(
                out,
                "{:>2}. {}  {}{mark}",
                rank + 1,
                r.key,
                r.description_line
            )?;
            writeln!(out, "    why: {}", r.why.join("; "))?;
        }
        if results.is_empty() {
            writeln!(out, "no tool matches")?;
        }
    }
    Ok(0)
}

/// What a lexical search says: why, and what makes it semantic.
fn lexical_notice(reason: LexicalReason) -> &'static str {
    match reason {
        LexicalReason::NoModel => {
            "search is lexical: no embedding model is installed; \
             `cargo xtask fetch-model` installs it (or give --model DIR|NAME)"
        }
        LexicalReason::NotEmbedded => {
            "search is lexical: some tools were imported without the model and the \
             registry's embeddings were dropped; `rustchain-tools registry compact` \
             with the model embeds them again"
        }
        LexicalReason::OtherModel => {
            "search is lexical: the registry's tools were embedded with another model \
             than this one; search with the model they came from, or \
             `rustchain-tools registry compact --model DIR|NAME` embeds them with this one"
        }
    }
}

/// Says once on stderr that search went lexical and why (the registry also
/// says so as a tracing event when it opens without a model).
fn warn_lexical(reason: LexicalReason) {
    eprintln!("warning: {}", lexical_notice(reason));
}

/// What `tools search` searches: the program's tools with the registry's,
/// or a corpus alone.
enum Searched {
    Catalog(Catalog),
    Registry(Registry),
}

impl Searched {
    fn search(&self, query: &str, filters: &Filters, limit: usize) -> Result<Vec<CatalogHit>> {
        Ok(match self {
            Searched::Catalog(catalog) => catalog.search(query, filters, limit)?,
            Searched::Registry(registry) => registry
                .search(query, filters, limit)?
                .into_iter()
                .map(|result| CatalogHit {
                    result,
                    callable: false,
                })
                .collect(),
        })
    }

    fn registry(&self) -> &Registry {
        match self {
            Searched::Catalog(catalog) => catalog.registry(),
            Searched::Registry(registry) => registry,
        }
    }
}

fn hit_json(hit: &CatalogHit) -> Value {
    let mut row = result_json(&hit.result);
    row["callable"] = json!(hit.callable);
    row
}

fn result_json(r: &SearchResult) -> Value {
    json!({
        "id": r.key.to_string(),
        "name": r.name,
        "version": r.version.to_string(),
        "description": r.description_line,
        "score": r.score,
        "why": r.why,
    })
}

/// `registry ...`.
pub fn registry(command: &RegistryCommand, settings: &Settings) -> Result<u8> {
    match command {
        RegistryCommand::Import {
            files,
            format,
            sanitize_names,
            source,
        } => {
            let registry = source.open(settings)?;
            let options = ImportOptions {
                format: *format,
                sanitize_names: *sanitize_names,
                ..ImportOptions::default()
            };
            let mut bad = 0;
            let mut added: Vec<String> = Vec::new();
            for file in files {
                let report = import(&registry, Path::new(file), &options)?;
                bad += report.problems.len();
                added.extend(report.added.iter().map(ToString::to_string));
                println!(
                    "{file}: {} tools added ({} replaced, {} renamed), {} refused",
                    report.added.len(),
                    report.replaced,
                    report.renamed,
                    report.problems.len()
                );
                report_problems(file, &report);
                if report.embeddings_dropped {
                    eprintln!(
                        "warning: {file} was imported without the embedding model the registry's \
                         tools were embedded with, so their embeddings were dropped and search \
                         is lexical; `registry compact` with the model embeds them again"
                    );
                }
            }
            registry.save().context("the registry could not be saved")?;
            record_admin(
                settings,
                RecordKind::ToolRegistered,
                json!({"registry": registry.dir().display().to_string(), "files": files, "tools": added}),
            )?;
            println!(
                "{} tools in {}",
                registry.snapshot().len(),
                registry.dir().display()
            );
            Ok(if bad > 0 { 2 } else { 0 })
        }
        RegistryCommand::Remove { tool, source } => {
            let registry = source.open(settings)?;
            let snapshot = registry.snapshot();
            let removed = if let Some(found) = snapshot.by_id(tool) {
                let key = found.key();
                usize::from(registry.remove_key(&key)?)
            } else {
                let (name, version) = match tool.rsplit_once('@') {
                    Some((name, version)) => (
                        name,
                        Some(
                            version
                                .parse::<Version>()
                                .with_context(|| format!("`{version}` is not a version"))?,
                        ),
                    ),
                    None => (tool.as_str(), None),
                };
                registry.remove(name, version.as_ref())?
            };
            if removed == 0 {
                eprintln!("error: no tool `{tool}` in {}", registry.dir().display());
                return Ok(64);
            }
            registry.save().context("the registry could not be saved")?;
            record_admin(
                settings,
                RecordKind::ToolRemoved,
                json!({"registry": registry.dir().display().to_string(), "tool": tool, "count": removed}),
            )?;
            println!("removed {removed} tool(s)");
            Ok(0)
        }
        RegistryCommand::Stats { json, source } => {
            let registry = source.open(settings)?;
            let stats = registry.stats();
            let value = json!({
                "directory": registry.dir().display().to_string(),
                "tools": stats.tools,
                "names": stats.names,
                "versions": stats.versions,
                "categories": stats.categories,
                "tags": stats.tags,
                "indexBytes": stats.index_bytes,
                "residentBytes": rustchain_tools::sandbox::resident_memory(),
                "cacheLookups": stats.all_processes.lookups,
                "cacheHits": stats.all_processes.hits,
                "cacheMisses": stats.all_processes.misses,
                "cacheEvictions": stats.all_processes.evictions,
                "cacheHitRate": stats.all_processes.hit_rate(),
                "semanticSearch": stats.semantic_search,
            });
            if *json {
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else if let Value::Object(fields) = value {
                for (name, v) in fields {
                    println!("{name:>15}  {v}");
                }
            }
            Ok(0)
        }
        RegistryCommand::Compact { source } => {
            let registry = source.open(settings)?;
            let reclaimed = registry
                .compact()
                .context("the registry could not be compacted")?;
            println!(
                "compacted {}: {} tools, {reclaimed} bytes reclaimed",
                registry.dir().display(),
                registry.snapshot().len()
            );
            Ok(0)
        }
        RegistryCommand::Eval {
            corpus,
            queries,
            json,
            split: Some(split),
            source,
        } => cross_validated(settings, corpus, queries, *split, *json, source),
        RegistryCommand::Eval {
            corpus,
            queries,
            json,
            split: None,
            source,
        } => {
            let (registry, _dir) = source.scratch(settings, corpus)?;
            let queries = load_queries(Path::new(queries))
                .with_context(|| format!("cannot read the queries {queries}"))?;
            let started = Instant::now();
            // Ids to the names the queries' labels use (before any sanitizing).
            let id_names: std::collections::HashMap<String, String> =
                load_corpus(Path::new(corpus))
                    .with_context(|| format!("{corpus} is not in the corpus format"))?
                    .into_iter()
                    .map(|d| (d.id, d.name))
                    .collect();
            let (names, exact) = evaluate(&registry, &queries, &id_names)?;
            let per_query = started.elapsed() / queries.len().max(1) as u32;
            let mode = if registry.snapshot().has_semantic() {
                "hybrid (lexical + semantic)"
            } else {
                "lexical"
            };
            if *json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({
                        "mode": mode,
                        "tools": registry.snapshot().len(),
                        "names": metrics_json(&names),
                        "exact": metrics_json(&exact),
                        "perQueryUs": per_query.as_micros(),
                    }))?
                );
            } else {
                println!(
                    "{mode} search over {} tools, {} queries ({} µs a query)",
                    registry.snapshot().len(),
                    names.queries,
                    per_query.as_micros()
                );
                println!("relevance     recall@1  recall@5  nDCG@10    MRR");
                for (label, m) in [("names", &names), ("exact", &exact)] {
                    println!(
                        "{label:<12} {:>9.3} {:>9.3} {:>8.3} {:>7.3}",
                        m.recall_at_1, m.recall_at_5, m.ndcg_at_10, m.mrr
                    );
                }
            }
            Ok(0)
        }
    }
}

/// `registry eval --split`: the search index over the corpus, each grid
/// candidate's scores per query, the parameters chosen per fold on the
/// others, and the default's figures on the same folds beside them.
fn cross_validated(
    settings: &Settings,
    corpus: &str,
    queries: &str,
    split: Split,
    json: bool,
    source: &SourceArgs,
) -> Result<u8> {
    let docs = load_corpus(Path::new(corpus))
        .with_context(|| format!("{corpus} is not in the corpus format"))?;
    let queries = load_queries(Path::new(queries))
        .with_context(|| format!("cannot read the queries {queries}"))?;
    let model = source.model(settings)?;
    let index = SearchIndex::build(&docs, model);
    let semantic = index.has_semantic();
    if let Some(reason) = index.lexical_reason().filter(|_| !source.lexical) {
        warn_lexical(reason);
    }
    let grid = tuning_grid(semantic);
    let scores: Vec<Vec<QueryScores>> = grid
        .iter()
        .map(|config| query_scores(&index.with_config(config.clone()), &docs, &queries))
        .collect();
    let folds = folds(&queries, split);
    let tuned = cross_validate(&scores, &folds);
    let fixed = cross_validate(&scores[..1], &folds);
    let mode = if semantic { "hybrid" } else { "lexical" };
    if json {
        let fold_json: Vec<Value> = tuned
            .folds
            .iter()
            .zip(&fixed.folds)
            .map(|(t, d)| {
                json!({
                    "fold": t.name,
                    "chosen": describe(&grid[t.chosen], semantic),
                    "heldOut": metrics_json(&t.held_out),
                    "default": metrics_json(&d.held_out),
                })
            })
            .collect();
        let interval = |cv: &CrossValidation| {
            json!({
                "recall@5": [cv.recall_at_5_interval.0, cv.recall_at_5_interval.1],
                "nDCG@10": [cv.ndcg_at_10_interval.0, cv.ndcg_at_10_interval.1],
            })
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "mode": mode,
                "semantic": semantic,
                "tools": docs.len(),
                "split": split.to_string(),
                "candidates": grid.len(),
                "folds": fold_json,
                "heldOut": metrics_json(&tuned.held_out),
                "heldOutInterval95": interval(&tuned),
                "default": metrics_json(&fixed.held_out),
                "defaultInterval95": interval(&fixed),
                "defaultNdcgSpread": [fixed.ndcg_spread().0, fixed.ndcg_spread().1],
            }))?
        );
        return Ok(0);
    }
    println!(
        "{mode} search over {} tools, {} queries, split {split}: per fold, the best of {} \
         parameter sets by nDCG@10 on the other folds, measured on the fold (name-level relevance)",
        docs.len(),
        queries.len(),
        grid.len()
    );
    println!(
        "{:<20} {:>7} {:>9} {:>8}   {:>9} {:>8}   chosen",
        "fold", "queries", "recall@5", "nDCG@10", "default:", ""
    );
    for (t, d) in tuned.folds.iter().zip(&fixed.folds) {
        println!(
            "{:<20} {:>7} {:>9.3} {:>8.3}   {:>9.3} {:>8.3}   {}",
            t.name,
            t.held_out.queries,
            t.held_out.recall_at_5,
            t.held_out.ndcg_at_10,
            d.held_out.recall_at_5,
            d.held_out.ndcg_at_10,
            describe(&grid[t.chosen], semantic)
        );
    }
    for (label, cv) in [("held out, tuned", &tuned), ("held out, default", &fixed)] {
        println!(
            "{label:<20} {:>7} recall@5 {:.3} [{:.3}, {:.3}]  nDCG@10 {:.3} [{:.3}, {:.3}] \
             (95% bootstrap intervals)",
            cv.held_out.queries,
            cv.held_out.recall_at_5,
            cv.recall_at_5_interval.0,
            cv.recall_at_5_interval.1,
            cv.held_out.ndcg_at_10,
            cv.ndcg_at_10_interval.0,
            cv.ndcg_at_10_interval.1,
        );
    }
    let (low, high) = fixed.ndcg_spread();
    println!("nDCG@10 of the default from fold to fold: {low:.3} to {high:.3}");
    Ok(0)
}

/// Ranks every query through the registry and scores the ranking by the
/// names and by the exact definitions labelled relevant.
fn evaluate(
    registry: &Registry,
    queries: &[rustchain_tools::search::eval::Query],
    id_names: &std::collections::HashMap<String, String>,
) -> Result<(Metrics, Metrics)> {
    let mut names = Sums::default();
    let mut exact = Sums::default();
    let snapshot = registry.snapshot();
    for query in queries {
        let results = snapshot.search(&query.query, &Filters::default(), 10)?;
        let ids: Vec<String> = results.iter().map(|r| r.key.to_string()).collect();
        let ranked: Vec<&str> = ids.iter().map(String::as_str).collect();
        // A needed name is found by any definition of that name.
        let by_name: Vec<Vec<&str>> = query
            .relevant_names
            .iter()
            .map(|name| {
                query
                    .relevant
                    .iter()
                    .filter(|id| id_names.get(id.as_str()) == Some(name))
                    .map(String::as_str)
                    .collect()
            })
            .collect();
        let by_exact: Vec<Vec<&str>> = query
            .relevant_exact
            .iter()
            .map(|id| vec![id.as_str()])
            .collect();
        names.add(score_ranking(&ranked, &by_name));
        exact.add(score_ranking(&ranked, &by_exact));
    }
    Ok((names.mean(), exact.mean()))
}

/// Per-query scores summed, to average.
#[derive(Default)]
struct Sums {
    queries: usize,
    totals: [f64; 4],
}

impl Sums {
    fn add(&mut self, (r1, r5, ndcg, rr): (f64, f64, f64, f64)) {
        self.queries += 1;
        for (total, x) in self.totals.iter_mut().zip([r1, r5, ndcg, rr]) {
            *total += x;
        }
    }

    fn mean(&self) -> Metrics {
        let n = self.queries.max(1) as f64;
        Metrics {
            queries: self.queries,
            recall_at_1: self.totals[0] / n,
            recall_at_5: self.totals[1] / n,
            ndcg_at_10: self.totals[2] / n,
            mrr: self.totals[3] / n,
        }
    }
}

fn metrics_json(m: &Metrics) -> Value {
    json!({
        "queries": m.queries,
        "recall@1": m.recall_at_1,
        "recall@5": m.recall_at_5,
        "nDCG@10": m.ndcg_at_10,
        "MRR": m.mrr,
    })
}

/// Imports `file`, reading a line-based file in parts so that a progress
/// bar (on a terminal) can follow; the parts are joined before anything is
/// registered, so the result is the same as reading the file whole. A
/// document that is not line-based (an MCP list, a JSON array) is read in
/// one go.
fn import(registry: &Registry, file: &Path, options: &ImportOptions) -> Result<ImportReport> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let origin = file.display().to_string();
    let trimmed = text.trim_start();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let line_based = !(trimmed.starts_with('[')
        || (trimmed.starts_with('{')
            && lines.iter().filter(|l| !l.trim().is_empty()).count() == 1));
    if !line_based || lines.len() <= CHUNK_LINES {
        return Ok(registry.import_str(&text, &origin, options)?);
    }
    let bar = ProgressBar::new(lines.len() as u64).with_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} lines ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(format!("reading {origin}"));
    let mut whole: Option<Parsed> = None;
    for (n, chunk) in lines.chunks(CHUNK_LINES).enumerate() {
        // Every part is read in the format the first one was found in.
        let part_options = ImportOptions {
            format: options.format.or(whole.as_ref().map(|w| w.format)),
            ..options.clone()
        };
        let mut part = parse(&chunk.concat(), &origin, &part_options)?;
        let offset = n * CHUNK_LINES;
        for (line, _) in &mut part.manifests {
            *line += offset;
        }
        for problem in &mut part.problems {
            problem.line += offset;
        }
        match &mut whole {
            None => whole = Some(part),
            Some(whole) => whole.append(part),
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    let whole = whole.ok_or_else(|| anyhow!("{origin} is empty"))?;
    Ok(registry.import_parsed(whole)?)
}

/// Records a change to a registry in the audit log `call` uses (unless the
/// configuration turns it off). A change that cannot be recorded is an
/// error, though the registry has changed: the caller is told.
fn record_admin(settings: &Settings, kind: RecordKind, payload: Value) -> Result<()> {
    let Some(path) = settings.audit_log(None, false) else {
        return Ok(());
    };
    let (log, _) = crate::open_audit_log(&path)?;
    settings.record_configuration(&log, &path)?;
    log.append(kind, payload)
        .with_context(|| format!("the change is made but not recorded in {}", path.display()))?;
    log.close()
        .with_context(|| format!("the audit log {} was not closed cleanly", path.display()))?;
    Ok(())
}

fn report_problems(file: &str, report: &ImportReport) {
    for p in report.problems.iter().take(20) {
        eprintln!(
            "  {file}:{}: {}: {}",
            p.line,
            p.name.as_deref().unwrap_or("?"),
            p.reason
        );
    }
    if report.problems.len() > 20 {
        eprintln!("  ... and {} more", report.problems.len() - 20);
    }
}
