//! Validation messages in several languages, from Fluent resources.

use std::{fmt, str::FromStr, sync::LazyLock};

use fluent_bundle::{FluentArgs, FluentResource, FluentValue, concurrent::FluentBundle};
use serde::{Deserialize, Serialize};

/// A language that validation messages are written in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Language {
    /// English (`en`), the default.
    #[default]
    #[serde(rename = "en")]
    English,
    /// German (`de`).
    #[serde(rename = "de")]
    German,
    /// French (`fr`).
    #[serde(rename = "fr")]
    French,
}

impl Language {
    /// Every language messages exist in.
    pub const ALL: [Language; 3] = [Language::English, Language::German, Language::French];

    /// The language's code, as in `--lang`.
    pub fn code(self) -> &'static str {
        match self {
            Language::English => "en",
            Language::German => "de",
            Language::French => "fr",
        }
    }

    fn index(self) -> usize {
        match self {
            Language::English => 0,
            Language::German => 1,
            Language::French => 2,
        }
    }

    fn source(self) -> &'static str {
        match self {
            Language::English => include_str!("../locales/en.ftl"),
            Language::German => include_str!("../locales/de.ftl"),
            Language::French => include_str!("../locales/fr.ftl"),
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Language {
    type Err = String;

    /// Takes a code or a language tag (`de`, `de-AT`, `fr_FR`), case aside.
    fn from_str(s: &str) -> Result<Self, String> {
        let primary = s
            .split(['-', '_'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        Language::ALL
            .into_iter()
            .find(|l| l.code() == primary)
            .ok_or_else(|| {
                format!(
                    "no messages in {s:?}; the languages are {}",
                    Language::ALL.map(Language::code).join(", ")
                )
            })
    }
}

static BUNDLES: LazyLock<Vec<FluentBundle<FluentResource>>> = LazyLock::new(|| {
    Language::ALL
        .into_iter()
        .map(|language| {
            let resource = FluentResource::try_new(language.source().to_owned())
                .unwrap_or_else(|(resource, _errors)| resource);
            let tag = language
                .code()
                .parse()
                .unwrap_or_else(|_| unic_langid::LanguageIdentifier::default());
            let mut bundle = FluentBundle::new_concurrent(vec![tag]);
            // Isolation marks around arguments would end up in JSON and logs.
            bundle.set_use_isolating(false);
            // Ids are unique within each file (checked by a test); a clash
            // would keep the first message.
            let _ = bundle.add_resource(resource);
            bundle
        })
        .collect()
});

/// The message `id` in `language` with `args`; English when the language
/// lacks it (a test makes sure none does), the id itself as a last resort.
pub(crate) fn text(language: Language, id: &str, args: &[(&str, &str)]) -> String {
    let mut fluent_args = FluentArgs::new();
    for (name, value) in args {
        fluent_args.set(*name, FluentValue::from(*value));
    }
    [language, Language::English]
        .into_iter()
        .find_map(|l| {
            let bundle = &BUNDLES[l.index()];
            let pattern = bundle.get_message(id)?.value()?;
            let mut errors = Vec::new();
            Some(
                bundle
                    .format_pattern(pattern, Some(&fluent_args), &mut errors)
                    .into_owned(),
            )
        })
        .unwrap_or_else(|| id.to_owned())
}

/// The ids of every message in `language`, for the completeness test.
pub fn message_ids(language: Language) -> Vec<String> {
    let resource = FluentResource::try_new(language.source().to_owned())
        .unwrap_or_else(|(resource, _errors)| resource);
    resource
        .entries()
        .filter_map(|entry| match entry {
            fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_owned()),
            _ => None,
        })
        .collect()
}

/// Formats every message of `language` with placeholder arguments and returns
/// the errors Fluent reports (unknown variables, syntax), for the tests.
pub fn message_errors(language: Language) -> Vec<String> {
    let mut problems = Vec::new();
    if let Err((_, errors)) = FluentResource::try_new(language.source().to_owned()) {
        problems.extend(errors.iter().map(|e| format!("{language}: {e:?}")));
    }
    let bundle = &BUNDLES[language.index()];
    let mut args = FluentArgs::new();
    for name in [
        "pointer", "offset", "value", "count", "expected", "found", "name", "allowed", "limit",
        "options", "pattern", "format", "why", "schemes", "reasons", "number", "reason", "schema",
        "bytes",
    ] {
        args.set(name, FluentValue::from("x"));
    }
    for id in message_ids(language) {
        let Some(pattern) = bundle.get_message(&id).and_then(|m| m.value()) else {
            problems.push(format!("{language}: {id} has no value"));
            continue;
        };
        let mut errors = Vec::new();
        bundle.format_pattern(pattern, Some(&args), &mut errors);
        problems.extend(errors.iter().map(|e| format!("{language}: {id}: {e:?}")));
    }
    problems
}
