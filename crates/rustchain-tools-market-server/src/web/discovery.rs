//! The discovery parts of the pages: the index with its search box,
//! categories and featured packages; a package's compatibility matrix and
//! the packages used with it; an account's recommendations.

use std::fmt::Write as _;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use rustchain_tools_market::VersionRecord;
use serde_json::Value;

use super::{PageResult, Shared, escape, page};
use crate::discovery::{Find, LEXICAL_NOTICE, compatibility, featured_rule};
use crate::{Inner, ServerError};

/// At most this many packages on the index.
const INDEX_ROWS: usize = 100;

/// `/?key=value`, encoded.
fn index_link(pairs: &[(&str, &str)]) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    escape(&format!("/?{query}"))
}

fn nonempty(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|t| !t.is_empty())
}

pub(crate) async fn index(
    State(inner): Shared,
    headers: HeaderMap,
    find: Result<Query<Find>, QueryRejection>,
) -> PageResult {
    let account = inner.session_account(&headers).await.ok();
    let Query(find) = find.map_err(|e| ServerError::BadRequest(e.body_text()))?;
    let query = nonempty(find.q.as_deref());
    let category = nonempty(find.category.as_deref());
    let catalog = inner.catalog().await?;
    let categories = catalog.categories();

    let mut body = String::from("<h1>Packages</h1>");
    let _ = write!(
        body,
        "<form method=\"get\" action=\"/\" role=\"search\">\
         <input type=\"search\" name=\"q\" id=\"q\" size=\"40\" value=\"{}\" \
         placeholder=\"what should the tool do?\"> \
         <select name=\"category\"><option value=\"\">all categories</option>",
        escape(query.unwrap_or_default())
    );
    for name in categories.keys() {
        let _ = write!(
            body,
            "<option{}>{}</option>",
            if Some(*name) == category {
                " selected"
            } else {
                ""
            },
            escape(name)
        );
    }
    body.push_str("</select> <button>Search</button></form>");
    body.push_str("<p id=\"categories\">Categories: ");
    let links: Vec<String> = categories
        .iter()
        .map(|(name, count)| {
            format!(
                "<a href=\"{}\">{}</a> ({count})",
                index_link(&[("category", name)]),
                escape(name)
            )
        })
        .collect();
    body.push_str(&links.join(" · "));
    body.push_str("</p>");

    if query.is_none() && category.is_none() {
        let featured = inner.featured().await?;
        if !featured.is_empty() {
            body.push_str("<h2>Featured</h2><ul id=\"featured\">");
            for f in &featured {
                let earned = &f["earned"];
                let _ = write!(
                    body,
                    "<li><a href=\"/packages/{n}\">{n}</a>: {} ({:.1} stars from {} users, \
                     {} calls, security score {})</li>",
                    escape(f["description"].as_str().unwrap_or_default()),
                    earned["weightedRating"].as_f64().unwrap_or_default(),
                    earned["ratings"],
                    earned["calls"],
                    earned["securityScore"],
                    n = escape(f["name"].as_str().unwrap_or_default()),
                );
            }
            let _ = write!(
                body,
                "</ul><p class=\"explained\">Featured: {}.</p>",
                escape(&featured_rule())
            );
        }
    }

    let found = catalog.find(query, category, INDEX_ROWS);
    if query.is_some() && !catalog.semantic() {
        let _ = write!(
            body,
            "<p class=\"warn\" id=\"lexical\">{}</p>",
            escape(LEXICAL_NOTICE)
        );
    }
    match (query, category) {
        (Some(q), _) => {
            let _ = write!(body, "<h2>Results for “{}”</h2>", escape(q));
        }
        (None, Some(c)) => {
            let _ = write!(body, "<h2>In {}</h2>", escape(c));
        }
        (None, None) => {}
    }
    if found.is_empty() {
        body.push_str(if catalog.packages.is_empty() {
            "<p>No packages are published yet.</p>"
        } else {
            "<p>No package matches.</p>"
        });
    } else {
        body.push_str(
            "<table id=\"packages\"><tr><th>name</th><th>latest</th><th>publisher</th>\
             <th>category</th><th>description</th>",
        );
        if query.is_some() {
            body.push_str("<th>why it matched</th>");
        }
        body.push_str("</tr>");
        for (listing, why) in found {
            let _ = write!(
                body,
                "<tr><td><a href=\"/packages/{n}\">{n}</a></td><td>{}</td><td>{}</td>\
                 <td><a href=\"{}\">{}</a></td><td>{}</td>",
                escape(&listing.latest),
                escape(&listing.publisher),
                index_link(&[("category", &listing.category)]),
                escape(&listing.category),
                escape(&listing.description),
                n = escape(&listing.name),
            );
            if query.is_some() {
                let _ = write!(body, "<td>{}</td>", escape(&why.join("; ")));
            }
            body.push_str("</tr>");
        }
        body.push_str("</table>");
    }
    Ok(page("Packages", account.as_ref(), &body).into_response())
}

/// The package page's matrix of which version works with which framework.
pub(super) fn compatibility_table(body: &mut String, versions: &[VersionRecord]) {
    let matrix = compatibility(versions);
    let _ = write!(
        body,
        "<h2>Compatibility</h2><table id=\"compatibility\"><tr><th>version</th><th>framework range</th>"
    );
    for framework in &matrix.frameworks {
        let running = if *framework == matrix.running {
            " (this market)"
        } else {
            ""
        };
        let _ = write!(body, "<th>{}{running}</th>", escape(framework));
    }
    body.push_str("</tr>");
    for row in &matrix.versions {
        let _ = write!(
            body,
            "<tr><td>{}{}</td><td><code>{}</code></td>",
            escape(&row.version),
            if row.yanked { " (yanked)" } else { "" },
            escape(&row.range)
        );
        for works in &row.works {
            body.push_str(if *works {
                "<td class=\"pass\">yes</td>"
            } else {
                "<td class=\"fail\">no</td>"
            });
        }
        body.push_str("</tr>");
    }
    body.push_str(
        "</table><p class=\"explained\">Each version's <code>framework</code> range from its \
         manifest, checked against this market's framework version, the next minor and major \
         ones, and each version the ranges name; installing checks the same range.</p>",
    );
}

/// Packages as a list of links, each with how many accounts back it.
fn package_list(body: &mut String, id: &str, packages: &[Value], backed: &str) {
    let _ = write!(body, "<ul id=\"{id}\">");
    for p in packages {
        let _ = write!(
            body,
            "<li><a href=\"/packages/{n}\">{n}</a>: {} ({} {backed})</li>",
            escape(p["description"].as_str().unwrap_or_default()),
            p["accounts"],
            n = escape(p["name"].as_str().unwrap_or_default()),
        );
    }
    body.push_str("</ul>");
}

/// The package page's "used together with".
pub(super) async fn used_together(
    inner: &Inner,
    name: &str,
    body: &mut String,
) -> Result<(), ServerError> {
    let used = inner.used_together(name, 10).await?;
    body.push_str("<h2>Used together with</h2>");
    if used.is_empty() {
        body.push_str("<p>No reported use links it to other packages yet.</p>");
    } else {
        package_list(body, "used-together", &used, "accounts use both");
    }
    Ok(())
}

/// The dashboard's recommendations for a signed-in user.
pub(super) async fn recommended(
    inner: &Inner,
    account: &str,
    body: &mut String,
) -> Result<(), ServerError> {
    let (basis, packages) = inner.recommendations(account, 10).await?;
    body.push_str("<h2>Recommended for you</h2>");
    if packages.is_empty() {
        body.push_str("<p>Nothing to recommend yet.</p>");
        return Ok(());
    }
    let (explained, backed) = if basis == "usage" {
        (
            "Used by the accounts that use your packages, from reported use.",
            "such accounts",
        )
    } else {
        (
            "You have reported no use yet: the most used packages.",
            "accounts",
        )
    };
    let _ = write!(body, "<p class=\"explained\">{explained}</p>");
    package_list(body, "recommended", &packages, backed);
    Ok(())
}
