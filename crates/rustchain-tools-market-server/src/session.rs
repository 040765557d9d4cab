//! Web sessions: a browser signs in once with its API token and then holds
//! only a random session id in a cookie. The token stays on the server, and
//! every request still looks its account up in the store, so a changed or
//! removed account takes effect at once.

use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, header};
use dashmap::DashMap;

use crate::ServerError;

/// The cookie that carries the session id.
pub(crate) const COOKIE: &str = "rct_session";

/// How long a session lasts after sign-in.
const LIFETIME: Duration = Duration::from_secs(8 * 60 * 60);

struct Session {
    token: String,
    expires: Instant,
}

/// The signed-in browsers, in memory: a restart signs everyone out.
#[derive(Default)]
pub(crate) struct Sessions {
    by_id: DashMap<String, Session>,
}

impl Sessions {
    /// Starts a session for `token` (already checked by the caller) and
    /// returns the `Set-Cookie` value that gives it to the browser.
    pub(crate) fn start(&self, token: &str) -> Result<HeaderValue, ServerError> {
        let now = Instant::now();
        self.by_id.retain(|_, s| s.expires > now);
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| ServerError::Session(e.to_string()))?;
        let id = hex::encode(secret);
        self.by_id.insert(
            id.clone(),
            Session {
                token: token.to_owned(),
                expires: now + LIFETIME,
            },
        );
        // HttpOnly: scripts cannot read it; SameSite=Strict: other sites'
        // pages cannot make the browser send it.
        HeaderValue::from_str(&format!(
            "{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
            LIFETIME.as_secs()
        ))
        .map_err(|e| ServerError::Session(e.to_string()))
    }

    /// The API token of the request's session, if it has a live one.
    pub(crate) fn token(&self, headers: &HeaderMap) -> Option<String> {
        let id = session_id(headers)?;
        let session = self.by_id.get(id)?;
        (session.expires > Instant::now()).then(|| session.token.clone())
    }

    /// Ends the request's session; the returned `Set-Cookie` value clears
    /// the cookie.
    pub(crate) fn end(&self, headers: &HeaderMap) -> HeaderValue {
        if let Some(id) = session_id(headers) {
            self.by_id.remove(id);
        }
        HeaderValue::from_static("rct_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
    }
}

fn session_id(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, id)| id)
}

/// Whether a form post comes from the market's own pages: its `Origin`
/// (or, without one, its `Referer`) must name the host it was sent to. A
/// post that names neither is refused, so the check fails closed.
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let source = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    let Some(source) = source else { return false };
    let rest = source
        .strip_prefix("http://")
        .or_else(|| source.strip_prefix("https://"));
    rest.map(|r| r.split('/').next() == Some(host))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn a_session_carries_its_token_until_it_ends() {
        let sessions = Sessions::default();
        let cookie = sessions.start("rct_abc").unwrap();
        let pair = cookie.to_str().unwrap().split(';').next().unwrap();
        let request = headers(&[(header::COOKIE, &format!("theme=dark; {pair}"))]);
        assert_eq!(sessions.token(&request).as_deref(), Some("rct_abc"));
        assert!(
            sessions
                .end(&request)
                .to_str()
                .unwrap()
                .contains("Max-Age=0")
        );
        assert_eq!(sessions.token(&request), None);
        let forged = headers(&[(header::COOKIE, "rct_session=0000")]);
        assert_eq!(sessions.token(&forged), None);
    }

    #[test]
    fn only_posts_from_the_same_host_pass() {
        let host = (header::HOST, "127.0.0.1:8080");
        assert!(same_origin(&headers(&[
            host.clone(),
            (header::ORIGIN, "http://127.0.0.1:8080")
        ])));
        assert!(same_origin(&headers(&[
            host.clone(),
            (header::REFERER, "http://127.0.0.1:8080/dashboard")
        ])));
        assert!(!same_origin(&headers(&[
            host.clone(),
            (header::ORIGIN, "http://evil.example")
        ])));
        assert!(!same_origin(&headers(&[
            host.clone(),
            (header::ORIGIN, "http://127.0.0.1:8080.evil.example")
        ])));
        assert!(!same_origin(&headers(&[
            host.clone(),
            (header::ORIGIN, "null")
        ])));
        assert!(!same_origin(&headers(&[host])));
    }
}
