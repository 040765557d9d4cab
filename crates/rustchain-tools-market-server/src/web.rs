//! The market's public web pages, rendered on the server: the published
//! packages, and each package's page (its versions, security scores as a
//! plot, checks and reviews). Every value from the store is escaped.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Html;
use rustchain_tools_market::{Submission, SubmissionState, VersionRecord};

use crate::api::latest;
use crate::{Inner, ServerError};

/// Escapes text for HTML content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{} · RustChain Tools market</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}\
         table{{border-collapse:collapse}}td,th{{padding:.3rem .8rem;border-bottom:1px solid #ddd;text-align:left}}\
         .warn{{color:#a60}}.fail{{color:#b00}}</style></head>\
         <body><p><a href=\"/\">RustChain Tools market</a></p>{body}</body></html>\n",
        escape(title)
    ))
}

fn text(value: &serde_json::Value) -> String {
    escape(value.as_str().unwrap_or_default())
}

pub(crate) async fn index(State(inner): State<Arc<Inner>>) -> Result<Html<String>, ServerError> {
    let mut rows = String::new();
    for name in inner.store.package_names().await? {
        let versions = inner.store.versions(&name).await?;
        let Some(latest) = latest(&versions) else {
            continue;
        };
        let _ = write!(
            rows,
            "<tr><td><a href=\"/packages/{n}\">{n}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&latest.package.version),
            escape(&latest.package.publisher),
            text(&latest.manifest["category"]),
            text(&latest.manifest["description"]),
            n = escape(&name),
        );
    }
    let body = if rows.is_empty() {
        "<h1>Packages</h1><p>No packages are published yet.</p>".to_owned()
    } else {
        format!(
            "<h1>Packages</h1><table><tr><th>name</th><th>latest</th><th>publisher</th>\
             <th>category</th><th>description</th></tr>{rows}</table>"
        )
    };
    Ok(page("Packages", &body))
}

/// The security score of each version as a bar, out of 100.
fn score_plot(published: &[&Submission]) -> String {
    const BAR: usize = 28;
    let width = 40 + published.len() * (BAR + 12);
    let mut svg = format!(
        "<svg role=\"img\" aria-label=\"security score per version\" width=\"{width}\" height=\"150\" \
         viewBox=\"0 0 {width} 150\"><line x1=\"30\" y1=\"110\" x2=\"{width}\" y2=\"110\" stroke=\"#999\"/>\
         <text x=\"0\" y=\"14\" font-size=\"10\">100</text><text x=\"0\" y=\"110\" font-size=\"10\">0</text>"
    );
    for (i, s) in published.iter().enumerate() {
        let x = 40 + i * (BAR + 12);
        let height = s.score.min(100) as usize;
        let _ = write!(
            svg,
            "<rect x=\"{x}\" y=\"{}\" width=\"{BAR}\" height=\"{height}\" fill=\"#3a7\">\
             <title>{} scored {}</title></rect>\
             <text x=\"{x}\" y=\"125\" font-size=\"10\">{}</text>\
             <text x=\"{x}\" y=\"{}\" font-size=\"10\">{}</text>",
            110 - height,
            escape(&s.package.version),
            s.score,
            escape(&s.package.version),
            105 - height,
            s.score,
        );
    }
    svg.push_str("</svg>");
    svg
}

pub(crate) async fn package(
    State(inner): State<Arc<Inner>>,
    Path(name): Path<String>,
) -> Result<Html<String>, ServerError> {
    let versions: Vec<VersionRecord> = inner.store.versions(&name).await?;
    let Some(newest) = latest(&versions).or(versions.last()) else {
        return Err(ServerError::Market(
            rustchain_tools_market::MarketError::UnknownVersion {
                name,
                version: "*".to_owned(),
            },
        ));
    };
    let publisher = newest.package.publisher.clone();
    let submissions = inner
        .store
        .submissions(Some(SubmissionState::Published), Some(&publisher))
        .await?;
    let published: Vec<&Submission> = submissions
        .iter()
        .filter(|s| s.package.name == name)
        .collect();

    let mut body = format!(
        "<h1>{}</h1><p>{}</p><p>by {} · category {} · framework {}</p>",
        escape(&name),
        text(&newest.manifest["description"]),
        escape(&publisher),
        text(&newest.manifest["category"]),
        text(&newest.manifest["framework"]),
    );
    let _ = write!(
        body,
        "<p><code>rustchain-tools plugin install {}</code></p>",
        escape(&name)
    );
    body.push_str(
        "<h2>Versions</h2><table><tr><th>version</th><th>digest</th><th>status</th></tr>",
    );
    for v in versions.iter().rev() {
        let status = match &v.yanked {
            Some(y) => format!("<span class=\"warn\">yanked: {}</span>", escape(&y.reason)),
            None => "published".to_owned(),
        };
        let _ = write!(
            body,
            "<tr><td>{}</td><td><code>{}</code></td><td>{status}</td></tr>",
            escape(&v.package.version),
            escape(&v.package.digest.to_string()),
        );
    }
    body.push_str("</table>");
    if !published.is_empty() {
        body.push_str("<h2>Security score</h2>");
        body.push_str(&score_plot(&published));
        body.push_str(
            "<p>Out of 100, from the automated scan at submission: load checks, schema lint \
             for every provider format and a fuzz run in the sandbox; each deduction is listed \
             below.</p>",
        );
    }
    for s in published.iter().rev() {
        let _ = write!(
            body,
            "<h3>{} · score {}</h3><ul>",
            escape(&s.package.version),
            s.score
        );
        for check in s.scan["checks"].as_array().into_iter().flatten() {
            let outcome = check["outcome"].as_str().unwrap_or_default();
            let _ = write!(
                body,
                "<li class=\"{}\">{} {}: {}</li>",
                escape(outcome),
                escape(outcome),
                text(&check["check"]),
                text(&check["detail"]),
            );
        }
        body.push_str("</ul><p>Reviews:</p><ul>");
        for r in &s.reviews {
            let _ = write!(
                body,
                "<li>{} review by {}: {} {}</li>",
                r.kind,
                escape(&r.reviewer),
                r.verdict,
                escape(&r.note)
            );
        }
        body.push_str("</ul>");
    }
    Ok(page(&name, &body))
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn markup_in_values_is_escaped() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }
}
