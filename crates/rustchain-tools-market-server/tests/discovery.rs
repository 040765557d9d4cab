//! Discovery through the router: categories, search that says it is
//! lexical, packages used together, recommendations for an account,
//! featured placement earned (and lost) by quality, and the compatibility
//! matrix.

use axum::http::StatusCode;
use rustchain_tools_market::{CallOutcome, UsageReport};
use rustchain_tools_plugins::FRAMEWORK_VERSION;
use serde_json::{Value, json};

mod common;
use common::{
    Fixture, account, browse, call, fixture, page, publish, publisher, sign_in, signed_in_page,
};

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect()
}

async fn get(f: &Fixture, path: &str, token: Option<&str>) -> Value {
    let (status, body) = call(&f.server, "GET", path, token, None).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

/// Reports `calls` successful calls of each of `packages`, version 1.0.0.
async fn use_packages(f: &Fixture, token: &str, packages: &[&str], calls: usize) {
    let reports: Vec<UsageReport> = packages
        .iter()
        .map(|name| {
            let mut report = UsageReport::new(name, "1.0.0");
            for _ in 0..calls {
                report.record(CallOutcome::Ok, 90);
            }
            report
        })
        .collect();
    let (status, body) = call(
        &f.server,
        "POST",
        "/api/v1/usage",
        Some(token),
        Some(json!(reports)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Four packages in three categories.
async fn market() -> Fixture {
    let f = fixture().await;
    let p = publisher(&f).await;
    publish(&f, &p, "example.echo", "1.0.0", |_| {}).await;
    publish(&f, &p, "files.lines", "1.0.0", |m| {
        m["category"] = json!("file");
        m["description"] = json!("Reads a text file from the workspace and returns its lines.");
        m["tags"] = json!(["filesystem"]);
    })
    .await;
    publish(&f, &p, "net.page", "1.0.0", |m| {
        m["category"] = json!("network");
        m["description"] = json!("Downloads a web page over HTTPS and returns its text.");
        m["inputSchema"]["properties"] =
            json!({"message": {"type": "string", "description": "The URL of the page."}});
    })
    .await;
    publish(&f, &p, "files.count", "1.0.0", |m| {
        m["category"] = json!("file");
        m["description"] = json!("Counts the words in a text.");
    })
    .await;
    f
}

#[tokio::test]
async fn packages_are_browsed_by_category_and_searched() {
    let f = market().await;
    assert_eq!(
        get(&f, "/api/v1/categories", None).await,
        json!([
            {"category": "file", "packages": 2},
            {"category": "network", "packages": 1},
            {"category": "text", "packages": 1},
        ])
    );
    let all = get(&f, "/api/v1/packages", None).await;
    assert_eq!(
        names(&all),
        ["example.echo", "files.count", "files.lines", "net.page"]
    );
    assert_eq!(all[3]["category"], "network");
    assert_eq!(all[3]["publisher"], "acme");
    assert_eq!(all[3]["latest"], "1.0.0");
    let files = get(&f, "/api/v1/packages?category=file", None).await;
    assert_eq!(names(&files), ["files.count", "files.lines"]);

    // Without a model, search says it is lexical and how to change that.
    let found = get(&f, "/api/v1/packages?q=download+a+web+page", None).await;
    assert_eq!(found["semantic"], false, "{found}");
    assert!(
        found["notice"]
            .as_str()
            .unwrap()
            .contains("cargo xtask fetch-model"),
        "{found}"
    );
    assert_eq!(names(&found["results"])[0], "net.page", "{found}");
    assert!(
        !found["results"][0]["why"].as_array().unwrap().is_empty(),
        "{found}"
    );
    let found = get(&f, "/api/v1/packages?q=text+file+lines&category=file", None).await;
    assert_eq!(names(&found["results"])[0], "files.lines", "{found}");
    let found = get(&f, "/api/v1/packages?q=web+page&category=text", None).await;
    assert_eq!(found["results"], json!([]), "{found}");

    // A yanked newest version leaves the catalog at once.
    let (status, body) = call(
        &f.server,
        "POST",
        "/api/v1/packages/net.page/1.0.0/yank",
        Some(&f.admin),
        Some(json!({"reason": "leaks cookies"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let found = get(&f, "/api/v1/packages?q=download+a+web+page", None).await;
    assert!(!names(&found["results"]).contains(&"net.page"), "{found}");
    let categories = get(&f, "/api/v1/categories", None).await;
    assert_eq!(categories.as_array().unwrap().len(), 2, "{categories}");

    // Query strings that are not what they should be say what is wrong.
    for bad in ["/api/v1/packages?limit=many", "/api/v1/packages?sort=name"] {
        let (status, body) = call(&f.server, "GET", bad, None, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(body["error"].as_str().is_some(), "{body}");
    }
}

#[tokio::test]
async fn use_makes_recommendations_and_packages_used_together() {
    let f = market().await;
    let u1 = account(&f, "u1", &["user"]).await;
    let u2 = account(&f, "u2", &["user"]).await;
    let u3 = account(&f, "u3", &["user"]).await;
    use_packages(&f, &u1, &["example.echo", "files.lines"], 3).await;
    use_packages(&f, &u2, &["example.echo", "files.lines", "net.page"], 2).await;
    use_packages(&f, &u3, &["files.lines", "files.count"], 1).await;

    let related = get(&f, "/api/v1/packages/example.echo/related", None).await;
    assert_eq!(names(&related["usedTogether"]), ["files.lines", "net.page"]);
    assert_eq!(related["usedTogether"][0]["accounts"], 2);
    let related = get(&f, "/api/v1/packages/example.echo/related?limit=1", None).await;
    assert_eq!(names(&related["usedTogether"]), ["files.lines"]);
    let (status, _) = call(
        &f.server,
        "GET",
        "/api/v1/packages/nope/related",
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // u1 shares packages with u2 (net.page) and u3 (files.count).
    let mine = "/api/v1/accounts/u1/recommendations";
    let recommended = get(&f, mine, Some(&u1)).await;
    assert_eq!(recommended["basis"], "usage");
    assert_eq!(names(&recommended["packages"]), ["files.count", "net.page"]);
    // Recommendations are for their account (and admins) only.
    let (status, body) = call(&f.server, "GET", mine, Some(&u2), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["reasons"][0].as_str().unwrap().contains("u1"),
        "{body}"
    );
    let (status, _) = call(&f.server, "GET", mine, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    get(&f, mine, Some(&f.admin)).await;

    // A yanked package is no longer recommended.
    let (status, body) = call(
        &f.server,
        "POST",
        "/api/v1/packages/net.page/1.0.0/yank",
        Some(&f.admin),
        Some(json!({"reason": "leaks cookies"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let recommended = get(&f, mine, Some(&u1)).await;
    assert_eq!(names(&recommended["packages"]), ["files.count"]);

    // An account with no use yet gets the most used packages.
    let new = account(&f, "u9", &["user"]).await;
    let recommended = get(&f, "/api/v1/accounts/u9/recommendations", Some(&new)).await;
    assert_eq!(recommended["basis"], "popular");
    assert_eq!(
        names(&recommended["packages"]),
        ["files.lines", "example.echo", "files.count"]
    );
}

#[tokio::test]
async fn featured_placement_is_earned_by_quality_and_lost_by_a_confirmed_finding() {
    let f = market().await;
    let featured = get(&f, "/api/v1/featured", None).await;
    assert_eq!(featured["packages"], json!([]));
    assert!(
        featured["rule"].as_str().unwrap().contains("20 ratings"),
        "{featured}"
    );

    // Twenty users who called example.echo 50 times each rate it 5 stars.
    for i in 0..20 {
        let id = format!("rater{i}");
        let token = account(&f, &id, &["user"]).await;
        use_packages(&f, &token, &["example.echo"], 50).await;
        let (status, body) = call(
            &f.server,
            "POST",
            "/api/v1/packages/example.echo/1.0.0/ratings",
            Some(&token),
            Some(json!({"stars": 5})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let featured = get(&f, "/api/v1/featured", None).await;
    assert_eq!(names(&featured["packages"]), ["example.echo"], "{featured}");
    let earned = &featured["packages"][0]["earned"];
    assert_eq!(earned["ratings"], 20);
    assert_eq!(earned["calls"], 1_000);
    assert_eq!(earned["failureRate"], 0.0);
    assert!(earned["securityScore"].as_u64().unwrap() >= 80, "{earned}");

    // A confirmed finding, even without a yank, ends the placement.
    let reporter = account(&f, "finder", &["user"]).await;
    let (status, finding) = call(
        &f.server,
        "POST",
        "/api/v1/packages/example.echo/1.0.0/findings",
        Some(&reporter),
        Some(json!({"severity": "low", "title": "echoes secrets", "detail": "steps"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{finding}");
    let (status, body) = call(
        &f.server,
        "POST",
        &format!("/api/v1/findings/{}/decision", finding["id"]),
        Some(&f.admin),
        Some(json!({"verdict": "confirm", "bonus": 0, "yank": false, "note": "seen"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let featured = get(&f, "/api/v1/featured", None).await;
    assert_eq!(featured["packages"], json!([]), "{featured}");
}

#[tokio::test]
async fn the_compatibility_matrix_checks_each_version_against_framework_versions() {
    let f = fixture().await;
    let p = publisher(&f).await;
    publish(&f, &p, "example.echo", "1.0.0", |_| {}).await;
    publish(&f, &p, "example.echo", "1.1.0", |m| {
        m["framework"] = json!(format!(">={FRAMEWORK_VERSION}"));
    })
    .await;
    let matrix = get(&f, "/api/v1/packages/example.echo/compatibility", None).await;
    assert_eq!(matrix["running"], FRAMEWORK_VERSION);
    let frameworks: Vec<&str> = matrix["frameworks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let column = |v: &str| frameworks.iter().position(|c| *c == v).unwrap();
    assert_eq!(matrix["versions"][0]["version"], "1.1.0");
    assert_eq!(matrix["versions"][1]["range"], ">=0.1, <0.2");
    // 1.0.0 works up to 0.2 (not included); 1.1.0 from this one on.
    assert_eq!(matrix["versions"][1]["works"][column("0.2.0")], false);
    assert_eq!(
        matrix["versions"][0]["works"][column(FRAMEWORK_VERSION)],
        true
    );
    assert_eq!(matrix["versions"][0]["works"][column("0.2.0")], true);
    let (status, _) = call(
        &f.server,
        "GET",
        "/api/v1/packages/nope/compatibility",
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// With the embedding model `cargo xtask fetch-model` installs (as
/// `.ci/run` does), search is semantic and says so; without it there is
/// nothing to check (and a line on stderr says so).
#[tokio::test]
async fn with_the_installed_model_search_is_semantic() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../models")
        .join(rustchain_tools_search::DEFAULT_MODEL);
    if !dir.join("model.json").exists() {
        eprintln!("no model at {}: not checked", dir.display());
        return;
    }
    let model = rustchain_tools_search::EmbeddingModel::load(&dir).unwrap();
    let f = market().await;
    let lexical = get(&f, "/api/v1/packages?q=grab+a+website", None).await;
    assert_eq!(lexical["semantic"], false);
    f.server.set_search_model(Some(std::sync::Arc::new(model)));
    let found = get(&f, "/api/v1/packages?q=grab+a+website", None).await;
    assert_eq!(found["semantic"], true, "{found}");
    assert!(found.get("notice").is_none(), "{found}");
    assert_eq!(names(&found["results"])[0], "net.page", "{found}");
}

#[tokio::test]
async fn the_pages_search_browse_and_recommend() {
    let f = market().await;
    let u1 = account(&f, "u1", &["user"]).await;
    let u2 = account(&f, "u2", &["user"]).await;
    use_packages(&f, &u1, &["example.echo"], 3).await;
    use_packages(&f, &u2, &["example.echo", "net.page"], 2).await;

    let index = page(&f.server, "/").await;
    assert!(index.contains("role=\"search\""), "{index}");
    assert!(
        index.contains("<a href=\"/?category=file\">file</a> (2)"),
        "{index}"
    );
    let found = page(&f.server, "/?q=download+a+web+page&category=").await;
    let first = found.find("/packages/net.page").unwrap();
    assert!(
        found
            .find("/packages/example.echo")
            .is_none_or(|i| i > first),
        "{found}"
    );
    assert!(found.contains("id=\"lexical\""), "{found}");
    let files = page(&f.server, "/?category=file").await;
    assert!(files.contains("/packages/files.lines"), "{files}");
    assert!(!files.contains("/packages/net.page"), "{files}");
    let (status, _, body) = browse(&f.server, "GET", "/?limit=x", None, None, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let echo = page(&f.server, "/packages/example.echo").await;
    assert!(echo.contains("id=\"compatibility\""), "{echo}");
    assert!(echo.contains("(this market)"), "{echo}");
    let together = &echo[echo.find("id=\"used-together\"").unwrap()..];
    assert!(together.contains("/packages/net.page"), "{echo}");

    let session = sign_in(&f.server, &u1).await;
    let dashboard = signed_in_page(&f.server, "/dashboard", &session).await;
    let recommended = &dashboard[dashboard.find("id=\"recommended\"").unwrap()..];
    assert!(recommended.contains("/packages/net.page"), "{dashboard}");
}
