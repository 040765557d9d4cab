//! Discovery: the published packages by category, searched with the
//! registry's search (semantic where an embedding model is installed,
//! lexical otherwise, and saying which), featured placement earned by
//! quality metrics, the packages used together with one, recommendations
//! for an account from its use, and a version's compatibility with
//! framework versions.
//!
//! The catalog of published packages and its search index are built once
//! and kept until a version is added or yanked.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use rustchain_tools_market::{
    FindingState, MarketError, RevenueShare, SubmissionState, UsedBy, VersionRecord,
};
use rustchain_tools_plugins::FRAMEWORK_VERSION;
use rustchain_tools_search::eval::parameters_from_schema;
use rustchain_tools_search::{Document, EmbeddingModel, SearchIndex};
use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::api::latest;
use crate::{Inner, ServerError};

type Shared = State<Arc<Inner>>;
type Answer<T> = Result<Json<T>, ServerError>;

/// The lowest scan score a featured version may have, out of 100.
pub const FEATURED_MIN_SCORE: u32 = 80;

/// At most this many results in one answer.
const MAX_RESULTS: usize = 100;

/// What a search without a model says, once per catalog and in every answer.
pub(crate) const LEXICAL_NOTICE: &str = "search is lexical: no embedding model is installed; \
     `cargo xtask fetch-model` installs it and `market serve --model DIR` uses it";

/// A published package as discovery shows it: its newest version that is
/// not yanked.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Listing {
    pub name: String,
    pub publisher: String,
    pub latest: String,
    pub description: String,
    pub category: String,
    pub tags: Vec<String>,
    pub framework: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_per_call: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_purchase: Option<u64>,
}

impl Listing {
    fn of(record: &VersionRecord) -> Listing {
        let manifest = &record.manifest;
        let strings = |key: &str| -> Vec<String> {
            manifest[key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect()
        };
        Listing {
            name: record.package.name.clone(),
            publisher: record.package.publisher.clone(),
            latest: record.package.version.clone(),
            description: manifest["description"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            // The manifest's own default.
            category: manifest["category"]
                .as_str()
                .unwrap_or("general")
                .to_owned(),
            tags: strings("tags"),
            framework: manifest["framework"].as_str().unwrap_or("*").to_owned(),
            price_per_call: Some(record.prices().per_call).filter(|p| *p > 0),
            price_purchase: Some(record.prices().purchase).filter(|p| *p > 0),
        }
    }

    fn document(&self, record: &VersionRecord) -> Document {
        let mut tags = self.tags.clone();
        tags.push(self.category.clone());
        let title = record.manifest["title"].as_str().unwrap_or_default();
        Document {
            id: self.name.clone(),
            name: self.name.clone(),
            description: format!("{title} {}", self.description).trim().to_owned(),
            parameters: parameters_from_schema(&record.manifest["inputSchema"]),
            tags,
        }
    }
}

/// The published packages, by name, and their search index.
pub(crate) struct Catalog {
    changed: [i64; 3],
    pub packages: Vec<Listing>,
    index: SearchIndex,
}

impl Catalog {
    /// Whether search uses an embedding model.
    pub fn semantic(&self) -> bool {
        self.index.has_semantic()
    }

    pub fn get(&self, name: &str) -> Option<&Listing> {
        self.packages
            .binary_search_by(|l| l.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.packages[i])
    }

    /// Each category with how many packages are in it, by name.
    pub fn categories(&self) -> BTreeMap<&str, usize> {
        let mut counts = BTreeMap::new();
        for listing in &self.packages {
            *counts.entry(listing.category.as_str()).or_default() += 1;
        }
        counts
    }

    /// The packages in `category` (all without one) matching `query` (all,
    /// by name, without one), best first, with why each matched.
    pub fn find(
        &self,
        query: Option<&str>,
        category: Option<&str>,
        limit: usize,
    ) -> Vec<(&Listing, Vec<String>)> {
        let in_category = |l: &Listing| category.is_none_or(|c| l.category == c);
        match query.map(str::trim).filter(|q| !q.is_empty()) {
            None => self
                .packages
                .iter()
                .filter(|l| in_category(l))
                .take(limit)
                .map(|l| (l, Vec::new()))
                .collect(),
            Some(query) => self
                .index
                .search(query, limit, &|doc| {
                    self.packages.get(doc as usize).is_some_and(in_category)
                })
                .into_iter()
                .filter_map(|hit| Some((self.packages.get(hit.doc as usize)?, hit.why)))
                .collect(),
        }
    }

    /// The listings of `used` that are published, in their order.
    fn published(&self, used: Vec<UsedBy>) -> Vec<Value> {
        used.into_iter()
            .filter_map(|u| {
                let listing = self.get(&u.name)?;
                let mut value = json!(listing);
                value["accounts"] = json!(u.accounts);
                Some(value)
            })
            .collect()
    }
}

/// The search model and the catalog built last.
#[derive(Default)]
pub(crate) struct Discovery {
    model: Mutex<Option<Arc<EmbeddingModel>>>,
    catalog: Mutex<Option<Arc<Catalog>>>,
}

impl Discovery {
    pub fn set_model(&self, model: Option<Arc<EmbeddingModel>>) {
        *self.model.lock().unwrap_or_else(|e| e.into_inner()) = model;
        *self.catalog.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

impl Inner {
    /// The catalog of the published packages as they are now.
    pub(crate) async fn catalog(&self) -> Result<Arc<Catalog>, ServerError> {
        let changed = self.store.versions_changed().await?;
        let kept = self
            .discovery
            .catalog
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(catalog) = kept.filter(|c| c.changed == changed) {
            return Ok(catalog);
        }
        let mut by_name: BTreeMap<String, Vec<VersionRecord>> = BTreeMap::new();
        for record in self.store.all_versions().await? {
            by_name
                .entry(record.package.name.clone())
                .or_default()
                .push(record);
        }
        let mut packages = Vec::new();
        let mut documents = Vec::new();
        for versions in by_name.values() {
            if let Some(record) = latest(versions) {
                let listing = Listing::of(record);
                documents.push(listing.document(record));
                packages.push(listing);
            }
        }
        let model = self
            .discovery
            .model
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let semantic = model.is_some();
        // Embedding every package takes a while with a model: off the
        // async workers.
        let index = tokio::task::spawn_blocking(move || SearchIndex::build(&documents, model))
            .await
            .map_err(|e| ServerError::Search(e.to_string()))?;
        if !semantic {
            tracing::warn!("market {LEXICAL_NOTICE}");
        }
        let catalog = Arc::new(Catalog {
            changed,
            packages,
            index,
        });
        *self
            .discovery
            .catalog
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(Arc::clone(&catalog));
        Ok(catalog)
    }

    /// The published packages whose newest version has earned featured
    /// placement, with the figures that earned it.
    pub(crate) async fn featured(&self) -> Result<Vec<Value>, ServerError> {
        let catalog = self.catalog().await?;
        let mut featured = Vec::new();
        for listing in &catalog.packages {
            let metrics = self.store.metrics(&listing.name, &listing.latest).await?;
            if RevenueShare::for_quality(&metrics.quality()) != RevenueShare::HIGHLY_RATED {
                continue;
            }
            let confirmed = self
                .store
                .findings(Some(FindingState::Confirmed), Some(&listing.name))
                .await?;
            if confirmed.iter().any(|f| f.version == listing.latest) {
                continue;
            }
            let score = self
                .store
                .submissions(Some(SubmissionState::Published), Some(&listing.publisher))
                .await?
                .into_iter()
                .filter(|s| s.package.name == listing.name && s.package.version == listing.latest)
                .map(|s| s.score)
                .max();
            // A version added without the scan (there is no such route)
            // has no score and is not featured.
            let Some(score) = score.filter(|s| *s >= FEATURED_MIN_SCORE) else {
                continue;
            };
            let mut value = json!(listing);
            value["earned"] = json!({
                "weightedRating": metrics.weighted_rating(),
                "ratings": metrics.quality().ratings,
                "calls": metrics.calls,
                "failureRate": metrics.failure_rate(),
                "securityScore": score,
            });
            featured.push(value);
        }
        Ok(featured)
    }

    /// What `account` might use next, and on what basis: the use of the
    /// accounts that share its packages, or, with none, the most used
    /// packages it does not use.
    pub(crate) async fn recommendations(
        &self,
        account: &str,
        limit: usize,
    ) -> Result<(&'static str, Vec<Value>), ServerError> {
        let catalog = self.catalog().await?;
        let limit = limit.min(MAX_RESULTS);
        // Unpublished names are dropped after the limit: ask for a few more.
        let from_use = catalog.published(self.store.recommended_for(account, limit * 2).await?);
        if !from_use.is_empty() {
            return Ok(("usage", from_use.into_iter().take(limit).collect()));
        }
        let mine: HashSet<String> = self.store.used_by(account).await?.into_iter().collect();
        let popular = self
            .store
            .most_used(limit + mine.len())
            .await?
            .into_iter()
            .filter(|u| !mine.contains(&u.name))
            .collect();
        Ok((
            "popular",
            catalog.published(popular).into_iter().take(limit).collect(),
        ))
    }

    /// The published packages used together with `name`.
    pub(crate) async fn used_together(
        &self,
        name: &str,
        limit: usize,
    ) -> Result<Vec<Value>, ServerError> {
        let catalog = self.catalog().await?;
        let limit = limit.min(MAX_RESULTS);
        let used = self.store.used_together(name, limit * 2).await?;
        Ok(catalog.published(used).into_iter().take(limit).collect())
    }
}

/// Which framework versions each version of a package works with.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Compatibility {
    /// This market's framework version.
    pub running: String,
    /// The columns: the running version, its next minor and major, and
    /// each version the packages' ranges name.
    pub frameworks: Vec<String>,
    pub versions: Vec<VersionCompatibility>,
}

/// One row of the matrix.
#[derive(Debug, Serialize)]
pub(crate) struct VersionCompatibility {
    pub version: String,
    pub range: String,
    pub yanked: bool,
    /// Per column of [`Compatibility::frameworks`].
    pub works: Vec<bool>,
}

/// The compatibility matrix of `versions` (newest first).
pub(crate) fn compatibility(versions: &[VersionRecord]) -> Compatibility {
    let running = Version::parse(FRAMEWORK_VERSION).unwrap_or_else(|_| Version::new(0, 0, 0));
    let mut columns = BTreeSet::from([
        running.clone(),
        if running.major == 0 {
            Version::new(0, running.minor + 1, 0)
        } else {
            Version::new(running.major, running.minor + 1, 0)
        },
        Version::new(running.major + 1, 0, 0),
    ]);
    let ranges: Vec<(&VersionRecord, Option<VersionReq>)> = versions
        .iter()
        .map(|v| {
            let range = v.manifest["framework"]
                .as_str()
                .and_then(|r| VersionReq::parse(r).ok());
            (v, range)
        })
        .collect();
    for req in ranges.iter().filter_map(|(_, r)| r.as_ref()) {
        for c in &req.comparators {
            let mut v = Version::new(c.major, c.minor.unwrap_or(0), c.patch.unwrap_or(0));
            v.pre = c.pre.clone();
            columns.insert(v);
        }
    }
    let mut rows: Vec<VersionCompatibility> = ranges
        .iter()
        .map(|(v, req)| VersionCompatibility {
            version: v.package.version.clone(),
            range: v.manifest["framework"]
                .as_str()
                .unwrap_or("(none)")
                .to_owned(),
            yanked: v.yanked.is_some(),
            // A range that does not parse matches nothing: installing
            // checks it the same way.
            works: columns
                .iter()
                .map(|f| req.as_ref().is_some_and(|r| r.matches(f)))
                .collect(),
        })
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse(Version::parse(&r.version).ok()));
    Compatibility {
        running: running.to_string(),
        frameworks: columns.iter().map(Version::to_string).collect(),
        versions: rows,
    }
}

/// `?q=&category=&limit=`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Find {
    pub q: Option<String>,
    pub category: Option<String>,
    pub limit: Option<usize>,
}

pub(crate) async fn packages(
    State(inner): Shared,
    find: Result<Query<Find>, QueryRejection>,
) -> Answer<Value> {
    let Query(find) = find.map_err(bad_query)?;
    let catalog = inner.catalog().await?;
    let found = catalog.find(
        find.q.as_deref(),
        find.category.as_deref(),
        find.limit.unwrap_or(MAX_RESULTS).min(MAX_RESULTS),
    );
    let searched = find.q.as_deref().is_some_and(|q| !q.trim().is_empty());
    let results: Vec<Value> = found
        .into_iter()
        .map(|(listing, why)| {
            let mut value = json!(listing);
            if searched {
                value["why"] = json!(why);
            }
            value
        })
        .collect();
    if !searched {
        return Ok(Json(Value::Array(results)));
    }
    let mut answer = json!({
        "query": find.q,
        "category": find.category,
        "semantic": catalog.semantic(),
        "results": results,
    });
    if !catalog.semantic() {
        answer["notice"] = json!(LEXICAL_NOTICE);
    }
    Ok(Json(answer))
}

pub(crate) async fn categories(State(inner): Shared) -> Answer<Value> {
    let catalog = inner.catalog().await?;
    Ok(Json(Value::Array(
        catalog
            .categories()
            .into_iter()
            .map(|(category, packages)| json!({"category": category, "packages": packages}))
            .collect(),
    )))
}

pub(crate) async fn featured(State(inner): Shared) -> Answer<Value> {
    Ok(Json(json!({
        "rule": featured_rule(),
        "packages": inner.featured().await?,
    })))
}

/// How a package earns featured placement, in words.
pub(crate) fn featured_rule() -> String {
    format!(
        "the newest version has at least {} ratings from users with reported calls averaging \
         4.5 stars or more, at least {} reported calls of which at most 1% failed (the \
         highly-rated revenue tier), a security score of at least {FEATURED_MIN_SCORE}, and no \
         confirmed security finding",
        RevenueShare::MIN_RATINGS,
        RevenueShare::MIN_CALLS,
    )
}

fn bad_query(rejection: QueryRejection) -> ServerError {
    ServerError::BadRequest(rejection.body_text())
}

/// `?limit=`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Limit {
    pub limit: Option<usize>,
}

pub(crate) async fn related(
    State(inner): Shared,
    Path(name): Path<String>,
    limit: Result<Query<Limit>, QueryRejection>,
) -> Answer<Value> {
    let Query(limit) = limit.map_err(bad_query)?;
    if inner.store.versions(&name).await?.is_empty() {
        return Err(MarketError::UnknownVersion {
            name,
            version: "*".to_owned(),
        }
        .into());
    }
    let used = inner
        .used_together(&name, limit.limit.unwrap_or(10))
        .await?;
    Ok(Json(json!({"package": name, "usedTogether": used})))
}

pub(crate) async fn recommendations(
    State(inner): Shared,
    Path(account): Path<String>,
    headers: HeaderMap,
    limit: Result<Query<Limit>, QueryRejection>,
) -> Answer<Value> {
    let Query(limit) = limit.map_err(bad_query)?;
    inner
        .authorized(
            &headers,
            "market.recommendations",
            json!({"account": account}),
        )
        .await?;
    let (basis, packages) = inner
        .recommendations(&account, limit.limit.unwrap_or(10))
        .await?;
    Ok(Json(
        json!({"account": account, "basis": basis, "packages": packages}),
    ))
}

pub(crate) async fn version_compatibility(
    State(inner): Shared,
    Path(name): Path<String>,
) -> Answer<Compatibility> {
    let versions = inner.store.versions(&name).await?;
    if versions.is_empty() {
        return Err(MarketError::UnknownVersion {
            name,
            version: "*".to_owned(),
        }
        .into());
    }
    Ok(Json(compatibility(&versions)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustchain_tools_market::{PackageDigest, SignedPackage, Yanked};

    fn record(version: &str, framework: &str, yanked: bool) -> VersionRecord {
        VersionRecord {
            package: SignedPackage {
                name: "p".into(),
                version: version.into(),
                publisher: "acme".into(),
                digest: PackageDigest::of(&[]).unwrap(),
                key_id: "k".into(),
                signature: "s".into(),
            },
            manifest: json!({"framework": framework}),
            added_at: 0,
            yanked: yanked.then(|| Yanked {
                at: 1,
                reason: "r".into(),
            }),
        }
    }

    #[test]
    fn the_matrix_has_a_column_per_named_framework_version() {
        let running = Version::parse(FRAMEWORK_VERSION).unwrap();
        let versions = [
            record("1.0.0", ">=0.1, <0.2", false),
            record("2.0.0", &format!(">={running}"), true),
            record("1.1.0", "not a range", false),
        ];
        let m = compatibility(&versions);
        assert_eq!(m.running, running.to_string());
        assert!(m.frameworks.contains(&"0.1.0".to_owned()), "{m:?}");
        assert!(m.frameworks.contains(&"0.2.0".to_owned()), "{m:?}");
        assert!(m.frameworks.contains(&running.to_string()), "{m:?}");
        let column = |f: &str| m.frameworks.iter().position(|c| c == f).unwrap();
        let order: Vec<&str> = m.versions.iter().map(|v| v.version.as_str()).collect();
        assert_eq!(order, ["2.0.0", "1.1.0", "1.0.0"]);
        let v1 = &m.versions[2];
        assert!(v1.works[column("0.1.0")] && !v1.works[column("0.2.0")]);
        let v2 = &m.versions[0];
        assert!(v2.yanked && v2.works[column(&running.to_string())]);
        assert!(
            m.versions[1].works.iter().all(|w| !w),
            "an unreadable range"
        );
    }
}
