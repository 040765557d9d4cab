//! The market's API through its router: tokens, the policy's decisions,
//! errors a client can act on, and a package from submission to download.

use axum::http::StatusCode;
use rustchain_tools_market::package::{generate_key, read_dir};
use rustchain_tools_market::{
    CallOutcome, PackageBundle, PackageDigest, PublisherKey, SignedPackage, UsageReport,
};
use rustchain_tools_market_server::{BlobStore, FsBlobStore};
use serde_json::{Value, json};

mod common;
use common::{account, browse, call, fixture, page, published_echo, sign_in, signed_in_page};

#[tokio::test]
async fn requests_without_a_known_token_or_allow_are_refused_with_reasons() {
    let f = fixture().await;
    let (status, body) = call(&f.server, "GET", "/api/v1/queue", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("Authorization: Bearer"),
        "{body}"
    );
    let (status, _) = call(&f.server, "GET", "/api/v1/queue", Some("rct_nope"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let user = account(&f, "alice", &["user"]).await;
    let (status, body) = call(&f.server, "GET", "/api/v1/queue", Some(&user), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["reasons"],
        json!(["market.queue needs a reviewer role (security-reviewer or quality-reviewer)"])
    );
    let (status, body) = call(
        &f.server,
        "POST",
        "/api/v1/accounts",
        Some(&user),
        Some(json!({"id": "mallory", "roles": ["admin"]})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // A body that is not what it should be says where.
    let (status, body) = call(
        &f.server,
        "POST",
        "/api/v1/accounts",
        Some(&f.admin),
        Some(json!({"id": "bob", "roles": "admin"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("expected a sequence"),
        "{body}"
    );
    let (status, body) = call(
        &f.server,
        "POST",
        "/api/v1/accounts",
        Some(&f.admin),
        Some(json!({"id": "bob", "roles": ["root"]})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("`root` is not a role"),
        "{body}"
    );
    let (status, _) = call(
        &f.server,
        "GET",
        "/api/v1/submissions/x",
        Some(&f.admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = call(
        &f.server,
        "GET",
        "/api/v1/submissions/7",
        Some(&f.admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_package_is_scanned_reviewed_published_and_downloaded_whole() {
    let f = fixture().await;
    let acme = account(&f, "acme", &["publisher"]).await;
    let other = account(&f, "other", &["publisher"]).await;
    let sec = account(&f, "sec", &["security-reviewer"]).await;
    let qa = account(&f, "qa", &["quality-reviewer"]).await;
    let key = generate_key().unwrap();
    let public = PublisherKey {
        publisher: "acme".into(),
        key: key.verifying_key(),
    }
    .to_hex();
    let (status, body) = call(
        &f.server,
        "POST",
        "/api/v1/publishers/acme/keys",
        Some(&acme),
        Some(json!({"publicKey": public})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/plugins/echo");
    let files = read_dir(&dir).unwrap();
    let signed = SignedPackage::sign(
        &key,
        "acme",
        "example.echo",
        "1.0.0",
        PackageDigest::of(&files).unwrap(),
    );
    let bundle = serde_json::to_value(PackageBundle::new(signed.clone(), &files)).unwrap();

    // Another publisher may not submit it; files that are not the signed
    // ones are refused before they are kept or run.
    let (status, _) = call(
        &f.server,
        "POST",
        "/api/v1/submissions",
        Some(&other),
        Some(bundle.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let mut tampered = bundle.clone();
    tampered["files"][0]["base64"] = json!("AAAA");
    let (status, body) = call(
        &f.server,
        "POST",
        "/api/v1/submissions",
        Some(&acme),
        Some(tampered),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("fails verification"),
        "{body}"
    );

    let (status, submission) = call(
        &f.server,
        "POST",
        "/api/v1/submissions",
        Some(&acme),
        Some(bundle),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{submission}");
    assert_eq!(submission["state"], "in_review");
    assert_eq!(submission["scan"]["passed"], true);
    let id = submission["id"].as_i64().unwrap();
    let path = format!("/api/v1/submissions/{id}");
    let (status, _) = call(&f.server, "GET", &path, Some(&other), None).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "another publisher does not see it"
    );
    let (status, _) = call(&f.server, "GET", &path, Some(&acme), None).await;
    assert_eq!(status, StatusCode::OK);

    let reviews = format!("{path}/reviews");
    let (status, body) = call(
        &f.server,
        "POST",
        &reviews,
        Some(&sec),
        Some(json!({"kind": "security", "verdict": "approve"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = call(
        &f.server,
        "POST",
        &reviews,
        Some(&sec),
        Some(json!({"kind": "security", "verdict": "approve"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "verdicts are final");
    let (status, _) = call(
        &f.server,
        "GET",
        "/api/v1/packages/example.echo/1.0.0",
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = call(
        &f.server,
        "POST",
        &reviews,
        Some(&qa),
        Some(json!({"kind": "quality", "verdict": "approve", "note": "ok"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "published");

    let html = page(&f.server, "/").await;
    assert!(
        html.contains("<a href=\"/packages/example.echo\">example.echo</a>"),
        "{html}"
    );
    let html = page(&f.server, "/packages/example.echo").await;
    assert!(html.contains("<h1>example.echo</h1>"), "{html}");
    assert!(
        html.contains(&format!("<code>{}</code>", signed.digest)),
        "{html}"
    );
    assert!(
        html.contains("<svg role=\"img\" aria-label=\"security score per version\""),
        "{html}"
    );
    assert!(
        html.contains("quality review by qa (reputation 1): approve ok"),
        "{html}"
    );
    let (status, list) = call(&f.server, "GET", "/api/v1/packages", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list[0]["name"], "example.echo");

    // Users report their use and rate; the metrics and the page show both.
    let ann = account(&f, "ann", &["user"]).await;
    let mut report = UsageReport::new("example.echo", "1.0.0");
    for (elapsed, memory) in [(50, 65_536), (70, 65_536), (90, 65_536), (400_000, 3 << 20)] {
        report.record(CallOutcome::Ok, elapsed);
        report.record_memory(memory);
    }
    report.record(CallOutcome::Error, 2_000);
    let (status, body) = call(
        &f.server,
        "POST",
        "/api/v1/usage",
        Some(&acme),
        Some(json!([report])),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let mut broken = report.clone();
    broken.calls += 1;
    let (status, body) = call(
        &f.server,
        "POST",
        "/api/v1/usage",
        Some(&ann),
        Some(json!([report, broken])),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        f.server
            .store()
            .metrics("example.echo", "1.0.0")
            .await
            .unwrap()
            .calls,
        0,
        "a batch with a report that does not add up keeps none of it"
    );
    let (status, body) = call(
        &f.server,
        "POST",
        "/api/v1/usage",
        Some(&ann),
        Some(json!([report])),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = call(
        &f.server,
        "POST",
        "/api/v1/packages/example.echo/1.0.0/ratings",
        Some(&ann),
        Some(json!({"stars": 6})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("1 to 5 stars"),
        "{body}"
    );
    let (status, body) = call(
        &f.server,
        "POST",
        "/api/v1/packages/example.echo/1.0.0/ratings",
        Some(&ann),
        Some(json!({"stars": 4, "review": "<b>echoes</b>"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, metrics) = call(
        &f.server,
        "GET",
        "/api/v1/packages/example.echo/1.0.0/metrics",
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(metrics["calls"], 5);
    assert_eq!(metrics["computed"]["failureRate"], 0.2);
    assert_eq!(metrics["computed"]["latencyUs"]["p50"], 100);
    assert_eq!(metrics["computed"]["latencyUs"]["p99"], 500_000);
    assert_eq!(
        metrics["computed"]["memoryBytes"],
        json!({"measuredCalls": 4, "p50": 65_536, "p95": 4 << 20, "p99": 4 << 20})
    );
    assert_eq!(metrics["computed"]["weightedRating"], 4.0);
    assert_eq!(metrics["ratings"][0]["weight"], 3);
    assert_eq!(metrics["computed"]["revenueShare"]["publisher_bps"], 7_000);
    let (status, _) = call(
        &f.server,
        "GET",
        "/api/v1/packages/example.echo/9.0.0/metrics",
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let html = page(&f.server, "/packages/example.echo").await;
    assert!(
        html.contains("<td class=\"calls\">5</td><td>20.00%</td>"),
        "{html}"
    );
    assert!(
        html.contains("<td class=\"memory\">≤ 64 KiB</td><td>≤ 4 MiB</td>"),
        "{html}"
    );
    assert!(html.contains("≤ 100 µs"), "{html}");
    assert!(html.contains("4.00 of 5 (1 ratings)"), "{html}");
    assert!(
        html.contains("by ann (weight 3, 5 calls): &lt;b&gt;echoes&lt;/b&gt;"),
        "{html}"
    );
    assert!(
        html.contains("aria-label=\"calls per latency, version 1.0.0\""),
        "{html}"
    );

    // The rating form on the package page, signed in as a user.
    let own = Some("http://market.test");
    let session = sign_in(&f.server, &ann).await;
    let html = signed_in_page(&f.server, "/packages/example.echo", &session).await;
    assert!(
        html.contains("action=\"/packages/example.echo/1.0.0/ratings\""),
        "{html}"
    );
    let (status, headers, _) = browse(
        &f.server,
        "POST",
        "/packages/example.echo/1.0.0/ratings",
        own,
        Some(&session),
        Some("stars=2&review=slow+on+big+inputs"),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], "/packages/example.echo#use-1.0.0");
    let metrics = f
        .server
        .store()
        .metrics("example.echo", "1.0.0")
        .await
        .unwrap();
    assert_eq!(
        (
            metrics.ratings.len(),
            metrics.ratings[0].stars,
            metrics.ratings[0].review.as_str()
        ),
        (1, 2, "slow on big inputs")
    );
    let (status, downloaded) = call(
        &f.server,
        "GET",
        "/api/v1/packages/example.echo/1.0.0",
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let downloaded: PackageBundle = serde_json::from_value(downloaded).unwrap();
    assert_eq!(downloaded.package, signed);
    let keys = f.server.store().keys("acme").await.unwrap();
    downloaded
        .package
        .verify(&keys, Some(&downloaded.files().unwrap()))
        .unwrap();

    // A blob changed on disk is served as it is, and fails the client's
    // verification: trust rests on the signature, not on the server.
    let blobs = FsBlobStore::new(f.dir.path().join("blobs")).unwrap();
    let mut kept: Value =
        serde_json::from_slice(&blobs.get(&signed.digest).await.unwrap().unwrap()).unwrap();
    kept[0]["base64"] = json!("AAAA");
    let hex = signed.digest.to_string().replace("sha256:", "");
    std::fs::write(
        f.dir.path().join(format!("blobs/{hex}.json")),
        kept.to_string(),
    )
    .unwrap();
    let (_, served) = call(
        &f.server,
        "GET",
        "/api/v1/packages/example.echo/1.0.0",
        None,
        None,
    )
    .await;
    let served: PackageBundle = serde_json::from_value(served).unwrap();
    let err = served
        .package
        .verify(&keys, Some(&served.files().unwrap()))
        .unwrap_err();
    assert!(err.to_string().contains("fails verification"), "{err}");
}

#[tokio::test]
async fn the_web_pages_sign_in_by_token_and_refuse_posts_from_other_sites() {
    let f = fixture().await;
    let publisher = account(&f, "acme", &["publisher"]).await;
    let own = Some("http://market.test");
    let login = format!("token={publisher}");

    // Signed-out pages send the browser to sign in; a wrong token is refused.
    let (status, headers, _) = browse(&f.server, "GET", "/dashboard", None, None, None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], "/login");
    let (status, _, body) = browse(&f.server, "GET", "/queue", None, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("sign in first"), "{body}");
    let (status, _, body) = browse(
        &f.server,
        "POST",
        "/login",
        own,
        None,
        Some("token=rct_forged"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("not one the market knows"), "{body}");

    // A sign-in posted from another site, or naming no origin, is refused.
    for origin in [Some("http://evil.example"), Some("null"), None] {
        let (status, headers, body) =
            browse(&f.server, "POST", "/login", origin, None, Some(&login)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{origin:?}");
        assert!(headers.get("set-cookie").is_none());
        assert!(body.contains("not sent from the market"), "{body}");
    }

    let (status, headers, _) = browse(&f.server, "POST", "/login", own, None, Some(&login)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let cookie = headers["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    assert!(
        !cookie.contains(&publisher),
        "the token stays on the server"
    );
    let session = cookie.split(';').next().unwrap().to_owned();

    let (status, _, body) =
        browse(&f.server, "GET", "/dashboard", None, Some(&session), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<b id=\"account\">acme</b>"), "{body}");
    assert!(body.contains("Submit a package"), "{body}");
    // A publisher is no reviewer, on the pages as in the API.
    let (status, _, body) = browse(&f.server, "GET", "/queue", None, Some(&session), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("needs a reviewer role"), "{body}");
    // A review posted from another site with the session cookie is refused
    // before anything is looked at.
    let (status, _, _) = browse(
        &f.server,
        "POST",
        "/submissions/1/reviews",
        Some("http://evil.example"),
        Some(&session),
        Some("kind=security&verdict=approve"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Another publisher's submissions are not listed, through the API either.
    let other = account(&f, "globex", &["publisher"]).await;
    let (status, body) = call(
        &f.server,
        "GET",
        "/api/v1/publishers/acme/submissions",
        Some(&other),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(
        body["reasons"],
        json!(["the submissions of `acme` are for that publisher only"])
    );
    let (status, body) = call(
        &f.server,
        "GET",
        "/api/v1/publishers/acme/submissions",
        Some(&publisher),
        None,
    )
    .await;
    assert_eq!((status, body), (StatusCode::OK, json!([])));

    // Signing out ends the session on the server.
    let (status, headers, _) =
        browse(&f.server, "POST", "/logout", own, Some(&session), None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(
        headers["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let (status, headers, _) =
        browse(&f.server, "GET", "/dashboard", None, Some(&session), None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], "/login");
}

/// `example.echo@1.0.0`, priced per call when `price` is given, submitted
/// by `acme` and approved by `sec` and `qa` through the API; returns their
/// tokens.
#[tokio::test]
async fn findings_are_reported_decided_paid_and_move_reputation() {
    let f = fixture().await;
    let (acme, sec, _qa) = published_echo(&f, None).await;
    let user = account(&f, "user1", &["user"]).await;
    let nosy = account(&f, "nosy", &["user"]).await;
    let findings = "/api/v1/packages/example.echo/1.0.0/findings";
    let report =
        json!({"severity": "high", "title": "reads outside its directory", "detail": "steps"});

    // Who may report: users and security reviewers, not the publisher.
    let (status, body) = call(
        &f.server,
        "POST",
        findings,
        Some(&acme),
        Some(report.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = call(&f.server, "POST", findings, None, Some(report.clone())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let bad = json!({"severity": "urgent", "title": "x"});
    let (status, body) = call(&f.server, "POST", findings, Some(&user), Some(bad)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"].as_str().unwrap().contains("urgent"), "{body}");
    let (status, finding) = call(&f.server, "POST", findings, Some(&user), Some(report)).await;
    assert_eq!(status, StatusCode::CREATED, "{finding}");
    assert_eq!(finding["state"], "reported");
    let id = finding["id"].as_i64().unwrap();

    // An undecided finding is private: its reporter, the publisher and
    // security reviewers see it; the public history does not list it yet.
    let one = format!("/api/v1/findings/{id}");
    for (token, status) in [
        (&user, StatusCode::OK),
        (&acme, StatusCode::OK),
        (&sec, StatusCode::OK),
        (&nosy, StatusCode::FORBIDDEN),
    ] {
        assert_eq!(
            call(&f.server, "GET", &one, Some(token), None).await.0,
            status
        );
    }
    let (_, history) = call(&f.server, "GET", findings, None, None).await;
    assert_eq!(history, json!([]));
    let (status, _) = call(&f.server, "GET", "/api/v1/findings", Some(&nosy), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, all) = call(&f.server, "GET", "/api/v1/findings", Some(&sec), None).await;
    assert_eq!((status, all.as_array().unwrap().len()), (StatusCode::OK, 1));

    // Only an admin decides; the pool must hold the bonus.
    let decision = format!("{one}/decision");
    let confirm = json!({"verdict": "confirm", "bonus": 250, "yank": true, "note": "reproduced"});
    let (status, body) = call(
        &f.server,
        "POST",
        &decision,
        Some(&sec),
        Some(confirm.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = call(
        &f.server,
        "POST",
        &decision,
        Some(&f.admin),
        Some(confirm.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("review-pool"),
        "{body}"
    );
    f.server
        .store()
        .record(rustchain_tools_market::Transaction::Sale {
            id: "order-1".into(),
            customer: "user1".into(),
            publisher: "acme".into(),
            package: "example.echo@1.0.0".into(),
            amount: 5_000,
            share: rustchain_tools_market::RevenueShare::STANDARD,
        })
        .await
        .unwrap();
    let (status, decided) = call(
        &f.server,
        "POST",
        &decision,
        Some(&f.admin),
        Some(confirm.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{decided}");
    assert_eq!(
        (decided["state"].as_str(), decided["bonus"].as_i64()),
        (Some("confirmed"), Some(250))
    );
    let (status, _) = call(&f.server, "POST", &decision, Some(&f.admin), Some(confirm)).await;
    assert_eq!(status, StatusCode::CONFLICT, "a decision is final");

    // Now public: the history, the yank, the reputation and the bonus.
    let (_, history) = call(&f.server, "GET", findings, None, None).await;
    assert_eq!(history[0]["title"], "reads outside its directory");
    let (_, versions) = call(
        &f.server,
        "GET",
        "/api/v1/packages/example.echo",
        None,
        None,
    )
    .await;
    assert!(
        versions[0]["yanked"]["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("security finding {id}")),
        "{versions}"
    );
    let (_, reputation) = call(
        &f.server,
        "GET",
        "/api/v1/accounts/sec/reputation",
        None,
        None,
    )
    .await;
    assert_eq!(
        (
            reputation["overturned"].as_u64(),
            reputation["score"].as_i64()
        ),
        (Some(1), Some(-5))
    );
    let (_, reputation) = call(
        &f.server,
        "GET",
        "/api/v1/accounts/user1/reputation",
        None,
        None,
    )
    .await;
    assert_eq!(reputation["score"], 3);
    let statement = "/api/v1/statements/reviewer:user1";
    let (status, body) = call(&f.server, "GET", statement, Some(&user), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["balance"].as_i64(), body["lines"][0]["kind"].as_str()),
        (Some(250), Some("review_bonus"))
    );
    assert_eq!(
        call(&f.server, "GET", statement, Some(&nosy), None).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, body) = call(
        &f.server,
        "GET",
        "/api/v1/statements/publisher:acme",
        Some(&acme),
        None,
    )
    .await;
    assert_eq!(
        (status, body["balance"].as_i64()),
        (StatusCode::OK, Some(3_500))
    );
    let (status, body) = call(
        &f.server,
        "GET",
        "/api/v1/statements/bank:x",
        Some(&f.admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let html = page(&f.server, "/packages/example.echo").await;
    assert!(
        html.contains("<h2>Security history</h2>") && html.contains("reads outside its directory"),
        "{html}"
    );

    // The publisher may yank its own versions, nobody else's; a reason is required.
    let yank = "/api/v1/packages/example.echo/1.0.0/yank";
    let (status, _) = call(
        &f.server,
        "POST",
        yank,
        Some(&nosy),
        Some(json!({"reason": "no"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(
        &f.server,
        "POST",
        yank,
        Some(&acme),
        Some(json!({"reason": " "})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = call(
        &f.server,
        "POST",
        yank,
        Some(&acme),
        Some(json!({"reason": "superseded"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body["yanked"]["reason"]
            .as_str()
            .unwrap()
            .contains("security finding"),
        "the first reason stays: {body}"
    );
}

#[tokio::test]
async fn reported_calls_of_a_priced_version_are_billed_and_shown_to_its_publisher() {
    let f = fixture().await;
    let (acme, _sec, _qa) = published_echo(&f, Some(3)).await;
    let ann = account(&f, "ann", &["user"]).await;
    let (_, versions) = call(
        &f.server,
        "GET",
        "/api/v1/packages/example.echo",
        None,
        None,
    )
    .await;
    assert_eq!(versions[0]["manifest"]["price"], json!({"perCall": 3}));

    // Each report bills the calls it adds to the last one, once.
    let mut report = UsageReport::new("example.echo", "1.0.0");
    let mut billed = Vec::new();
    for calls in [10, 5, 0] {
        for _ in 0..calls {
            report.record(CallOutcome::Ok, 80);
        }
        let (status, body) = call(
            &f.server,
            "POST",
            "/api/v1/usage",
            Some(&ann),
            Some(json!([report])),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        billed.push(body["billed"].clone());
    }
    assert_eq!(billed[0][0]["package"], "example.echo@1.0.0");
    let amounts: Vec<Value> = billed
        .iter()
        .map(|b| {
            json!(
                b.as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s["amount"].clone())
                    .collect::<Vec<_>>()
            )
        })
        .collect();
    assert_eq!(amounts, [json!([30]), json!([15]), json!([])]);

    // 70% of each sale is the publisher's, rounded by the ledger's rule.
    let (status, statement) = call(
        &f.server,
        "GET",
        "/api/v1/statements/publisher:acme",
        Some(&acme),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{statement}");
    assert_eq!(statement["balance"], 32);
    assert_eq!(statement["lines"].as_array().unwrap().len(), 2);
    assert_eq!(
        statement["lines"][0]["id"], billed[0][0]["transaction"],
        "{statement}"
    );

    // The dashboard shows the balance and what the version earned.
    let session = sign_in(&f.server, &acme).await;
    let html = signed_in_page(&f.server, "/dashboard", &session).await;
    assert!(
        html.contains("<strong id=\"balance\">32</strong>"),
        "{html}"
    );
    assert!(
        html.contains(
            "<tr><td>example.echo@1.0.0</td><td>3 per call</td><td>15</td><td>0.00%</td>\
             <td>–</td><td>70%</td><td>2</td><td class=\"earned\">32</td></tr>"
        ),
        "{html}"
    );
    assert!(
        html.contains("aria-label=\"earnings per version\""),
        "{html}"
    );
}

#[tokio::test]
async fn the_package_page_takes_findings_and_shows_reviewers_reputation() {
    let f = fixture().await;
    let (acme, _sec, _qa) = published_echo(&f, None).await;
    let user = account(&f, "ann", &["user"]).await;
    let own = Some("http://market.test");
    let ann = sign_in(&f.server, &user).await;
    let html = signed_in_page(&f.server, "/packages/example.echo", &ann).await;
    assert!(html.contains("id=\"finding-form\""), "{html}");
    // Each approval held: the reviewers' reputation is 1 each.
    assert!(
        html.contains("security review by sec (reputation 1): approve"),
        "{html}"
    );
    let publisher = sign_in(&f.server, &acme).await;
    let html = signed_in_page(&f.server, "/packages/example.echo", &publisher).await;
    assert!(
        !html.contains("id=\"finding-form\""),
        "no form for its publisher"
    );

    let findings = "/packages/example.echo/1.0.0/findings";
    let form = "severity=high&title=leaks+its+input&detail=call+it+twice";
    let (status, _, body) = browse(
        &f.server,
        "POST",
        findings,
        Some("http://evil.example"),
        Some(&ann),
        Some(form),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _, body) = browse(
        &f.server,
        "POST",
        findings,
        own,
        Some(&ann),
        Some("severity=urgent&title=x"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("urgent"), "{body}");
    let (status, _, body) = browse(
        &f.server,
        "POST",
        findings,
        own,
        Some(&publisher),
        Some(form),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "its publisher may not: {body}"
    );
    let (status, _, body) = browse(&f.server, "POST", findings, own, Some(&ann), Some(form)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(
        body.contains("Finding 1 against example.echo@1.0.0 (high): leaks its input."),
        "{body}"
    );
    let (_, finding) = call(&f.server, "GET", "/api/v1/findings/1", Some(&f.admin), None).await;
    assert_eq!(finding["reporter"], "ann");
    assert_eq!(finding["detail"], "call it twice");
}

/// On a real socket: a submission over the body limit (90 MiB) is refused
/// before the rest of it arrives, and the reply says the connection closes,
/// so a pooling client opens a new one for its next request.
#[tokio::test]
async fn a_body_over_the_limit_is_refused_at_once_with_connection_close() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let f = fixture().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = f.server.clone();
    let task = tokio::spawn(async move {
        server
            .serve(listener, async {
                let _ = stopped.await;
            })
            .await
    });

    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let head = format!(
        "POST /api/v1/submissions HTTP/1.1\r\nhost: {address}\r\n\
         authorization: Bearer {}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n",
        f.admin,
        100 << 20
    );
    // 91 MiB of an announced 100, written aside: the server stops reading
    // once it has seen too much.
    let writer = tokio::spawn(async move {
        write.write_all(head.as_bytes()).await?;
        let chunk = vec![b' '; 1 << 20];
        for _ in 0..91 {
            write.write_all(&chunk).await?;
        }
        Ok::<_, std::io::Error>(write)
    });
    let mut reply = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(20),
        read.read_to_end(&mut reply),
    )
    .await
    .expect("the server replies and closes without the rest of the body")
    .unwrap();
    let reply = String::from_utf8_lossy(&reply).to_lowercase();
    assert!(reply.starts_with("http/1.1 413"), "{reply}");
    assert!(reply.contains("\r\nconnection: close\r\n"), "{reply}");

    writer.abort();
    stop.send(()).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(20), task)
        .await
        .expect("the market stops")
        .unwrap()
        .unwrap();
}

/// A version with a purchase price is sold by the market itself: its files
/// go only to an account that bought the package (once), its publisher and
/// admins; the sale is in the ledger, and the package page sells it too.
#[tokio::test]
async fn a_sold_package_is_bought_once_before_its_files_are_served() {
    let f = fixture().await;
    let p = common::publisher(&f).await;
    common::publish(&f, &p, "example.sold", "1.0.0", |manifest| {
        manifest["price"] = json!({"purchase": 900});
    })
    .await;
    let ann = account(&f, "ann", &["user"]).await;
    let bob = account(&f, "bob", &["user"]).await;
    let files = "/api/v1/packages/example.sold/1.0.0";
    let buy = "/api/v1/packages/example.sold/1.0.0/purchase";

    let (status, body) = call(&f.server, "GET", files, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body["error"].as_str().unwrap().contains("sold"), "{body}");
    let (status, body) = call(&f.server, "GET", files, Some(&ann), None).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("900") && error.contains("market buy example.sold@1.0.0"),
        "{error}"
    );
    assert_eq!(body["price"], 900, "{body}");
    assert_eq!(body["purchase"], buy, "{body}");

    let (status, bought) = call(&f.server, "POST", buy, Some(&ann), None).await;
    assert_eq!(status, StatusCode::CREATED, "{bought}");
    assert_eq!(
        (bought["amount"].as_i64(), bought["new"].as_bool()),
        (Some(900), Some(true))
    );
    let (status, again) = call(&f.server, "POST", buy, Some(&ann), None).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["transaction"], bought["transaction"]);
    assert_eq!(again["new"], false);

    for token in [&ann, &p.token, &f.admin] {
        let (status, body) = call(&f.server, "GET", files, Some(token), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["package"]["name"], "example.sold");
    }
    let (status, _) = call(&f.server, "GET", files, Some(&bob), None).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED);

    // A purchase opens its major version: 1.1.0 too, not 2.0.0.
    for (version, price) in [("1.1.0", 1200), ("2.0.0", 2000)] {
        common::publish(&f, &p, "example.sold", version, |manifest| {
            manifest["price"] = json!({"purchase": price});
        })
        .await;
    }
    let (status, body) = call(
        &f.server,
        "GET",
        "/api/v1/packages/example.sold/1.1.0",
        Some(&ann),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = call(
        &f.server,
        "GET",
        "/api/v1/packages/example.sold/2.0.0",
        Some(&ann),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{body}");
    assert_eq!(body["price"], 2000, "{body}");
    // A yanked version cannot be bought; the answer names one that opens it.
    let (status, body) = call(
        &f.server,
        "POST",
        "/api/v1/packages/example.sold/1.0.0/yank",
        Some(&p.token),
        Some(json!({"reason": "superseded by 1.1.0"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = call(&f.server, "GET", files, Some(&bob), None).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{body}");
    assert_eq!(
        body["purchase"], "/api/v1/packages/example.sold/1.1.0/purchase",
        "{body}"
    );
    let (status, _) = call(&f.server, "GET", files, Some(&ann), None).await;
    assert_eq!(status, StatusCode::OK, "a buyer keeps the yanked version");
    // Who may not buy: the publisher (403), a reviewer without the user
    // role (403), a free version (409).
    let (status, body) = call(&f.server, "POST", buy, Some(&p.token), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = call(&f.server, "POST", buy, Some(&p.sec), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    common::publish(&f, &p, "example.free", "1.0.0", |_| {}).await;
    let (status, body) = call(
        &f.server,
        "POST",
        "/api/v1/packages/example.free/1.0.0/purchase",
        Some(&bob),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    let (status, statement) = call(
        &f.server,
        "GET",
        "/api/v1/statements/customer:ann",
        Some(&ann),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{statement}");
    assert_eq!(statement["balance"], -900, "{statement}");

    // The page: a price, a Buy form for a signed-in user who has not
    // bought it, and the purchase once made.
    let own = Some("http://market.test");
    let bob_session = sign_in(&f.server, &bob).await;
    let html = page(&f.server, "/packages/example.sold").await;
    assert!(html.contains("<td>2000 to buy</td>"), "{html}");
    assert!(!html.contains("id=\"buy\""), "no form for a visitor");
    let html = signed_in_page(&f.server, "/packages/example.sold", &bob_session).await;
    assert!(html.contains("id=\"buy\""), "{html}");
    let web_buy = "/packages/example.sold/1.1.0/purchase";
    let (status, _, _) = browse(
        &f.server,
        "POST",
        web_buy,
        Some("http://evil.example"),
        Some(&bob_session),
        Some(""),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "from another site");
    let (status, _, _) = browse(
        &f.server,
        "POST",
        web_buy,
        own,
        Some(&bob_session),
        Some(""),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let html = signed_in_page(&f.server, "/packages/example.sold", &bob_session).await;
    assert!(
        !html.contains("You bought it"),
        "the page sells the newest version, 2.0.0: {html}"
    );
    let (status, _) = call(&f.server, "GET", files, Some(&bob), None).await;
    assert_eq!(status, StatusCode::OK, "bob's 1.1.0 opens the yanked 1.0.0");
    let (status, _, _) = browse(
        &f.server,
        "POST",
        "/packages/example.sold/2.0.0/purchase",
        own,
        Some(&bob_session),
        Some(""),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let html = signed_in_page(&f.server, "/packages/example.sold", &bob_session).await;
    assert!(
        html.contains("You bought it (example.sold@2.0.0 for 2000)")
            && !html.contains("id=\"buy\""),
        "{html}"
    );
}

/// A policy that refuses a sold download for another reason than a
/// missing purchase answers 403 with its reason, never 402: the account is
/// not told to pay for what it still could not download.
#[tokio::test]
async fn a_sold_download_the_policy_refuses_anyway_is_not_offered_for_sale() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    let shipped = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/market.rego"),
    )
    .unwrap();
    let suspension = r#"
deny contains msg if {
	input.tool.name == "market.download_sold"
	input.principal.id == "bob"
	msg := "bob is suspended"
}
"#;
    std::fs::write(policies.join("market.rego"), shipped + suspension).unwrap();
    let policy = rustchain_tools_market_server::market_policy(Some(&policies)).unwrap();
    let blobs = FsBlobStore::new(dir.path().join("blobs")).unwrap();
    let f = common::fixture_with(dir, blobs, policy).await;
    let p = common::publisher(&f).await;
    common::publish(&f, &p, "example.sold", "1.0.0", |manifest| {
        manifest["price"] = json!({"purchase": 900});
    })
    .await;
    let bob = account(&f, "bob", &["user"]).await;
    let files = "/api/v1/packages/example.sold/1.0.0";
    let (status, body) = call(&f.server, "GET", files, Some(&bob), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["reasons"][0], "bob is suspended", "{body}");
    // Bought, it stays refused, with the same reason.
    let (status, _) = call(
        &f.server,
        "POST",
        "/api/v1/packages/example.sold/1.0.0/purchase",
        Some(&bob),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = call(&f.server, "GET", files, Some(&bob), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["reasons"][0], "bob is suspended", "{body}");
    let ann = account(&f, "ann", &["user"]).await;
    let (status, body) = call(&f.server, "GET", files, Some(&ann), None).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{body}");
}
