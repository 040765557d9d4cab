//! Which tools a server makes visible: glob patterns of names, apart from
//! what the policy authorizes.

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::{McpError, Mode, config::ToolsSection};

/// The visible tools and how they are offered.
#[derive(Debug, Clone)]
pub struct Exposure {
    expose: Vec<String>,
    hide: Vec<String>,
    expose_set: GlobSet,
    hide_set: GlobSet,
    /// `list`, `search` or `auto`.
    pub mode: Mode,
}

impl PartialEq for Exposure {
    fn eq(&self, other: &Self) -> bool {
        self.expose == other.expose && self.hide == other.hide && self.mode == other.mode
    }
}

impl Exposure {
    /// Every tool, in `mode`.
    pub fn all(mode: Mode) -> Exposure {
        Exposure::new(&["*".to_owned()], &[], mode).unwrap_or_else(|_| unreachable!())
    }

    /// The tools matching a pattern of `expose` and none of `hide` (`*`
    /// matches any run of characters, `?` one, `[ab]` one of a set).
    pub fn new(expose: &[String], hide: &[String], mode: Mode) -> Result<Exposure, McpError> {
        Ok(Exposure {
            expose_set: globs(expose, "expose")?,
            hide_set: globs(hide, "hide")?,
            expose: expose.to_vec(),
            hide: hide.to_vec(),
            mode,
        })
    }

    /// The exposure of a `[tools]` section.
    pub fn of(section: &ToolsSection) -> Result<Exposure, McpError> {
        Exposure::new(&section.expose, &section.hide, section.mode)
    }

    /// Whether the tool `name` is visible.
    pub fn allows(&self, name: &str) -> bool {
        self.expose_set.is_match(name) && !self.hide_set.is_match(name)
    }
}

fn globs(patterns: &[String], field: &str) -> Result<GlobSet, McpError> {
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        let glob = Glob::new(pattern).map_err(|e| McpError::Config {
            file: "[tools]".into(),
            reason: format!("{field}: `{pattern}` is not a glob pattern: {e}"),
        })?;
        builder.add(glob);
    }
    builder.build().map_err(|e| McpError::Config {
        file: "[tools]".into(),
        reason: format!("{field}: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn hide_wins_over_expose() {
        let exposure = Exposure::new(
            &strings(&["text.*", "fs_read"]),
            &strings(&["text.regex_*"]),
            Mode::List,
        )
        .unwrap();
        assert!(exposure.allows("text.sha256"));
        assert!(exposure.allows("fs_read"));
        assert!(!exposure.allows("text.regex_find"));
        assert!(!exposure.allows("fs_write"));
        assert!(Exposure::all(Mode::Auto).allows("anything.at_all"));
    }

    #[test]
    fn a_bad_pattern_is_refused_with_its_field() {
        let error = Exposure::new(&strings(&["text.[a"]), &[], Mode::List)
            .unwrap_err()
            .to_string();
        assert!(error.contains("expose: `text.[a`"), "{error}");
    }
}
