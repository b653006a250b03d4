//! The interface's words, in a message catalogue per language (Fluent: `i18n/en.ftl`,
//! `i18n/fr.ftl`), chosen by the browser's `Accept-Language`. English is the fallback: a
//! message missing from another catalogue is said in English, and the catalogue test fails.
//!
//! Pages take a [`Lang`] (an extractor: put `lang: Lang` in a handler's arguments) and say
//! `tr(lang, "message-id")`, or `tr_with(lang, "message-id", &[("name", value.into())])`
//! for a message with variables.

use std::sync::LazyLock;

use axum::extract::FromRequestParts;
use axum::http::header::ACCEPT_LANGUAGE;
use axum::http::request::Parts;
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use unic_langid::LanguageIdentifier;

/// The languages the interface speaks, first the fallback.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Fr,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Fr];

    /// The BCP 47 tag, for `<html lang>` and the catalogues.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }

    fn source(self) -> &'static str {
        match self {
            Lang::En => include_str!("i18n/en.ftl"),
            Lang::Fr => include_str!("i18n/fr.ftl"),
        }
    }

    /// The best of ours for an `Accept-Language` header (q-values honoured); English when
    /// nothing matches or the header is absent.
    pub fn negotiate(accept_language: Option<&str>) -> Lang {
        let Some(header) = accept_language else { return Lang::En };
        let requested = fluent_langneg::accepted_languages::parse(header);
        let available: Vec<LanguageIdentifier> =
            Lang::ALL.iter().map(|lang| lang.tag().parse().expect("a valid tag")).collect();
        let default: LanguageIdentifier = Lang::En.tag().parse().expect("a valid tag");
        let chosen = fluent_langneg::negotiate_languages(
            &requested,
            &available,
            Some(&default),
            fluent_langneg::NegotiationStrategy::Lookup,
        );
        let tag = chosen.first().map(|id| id.language.as_str()).unwrap_or("en");
        Lang::ALL.into_iter().find(|lang| lang.tag() == tag).unwrap_or_default()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(ACCEPT_LANGUAGE).and_then(|value| value.to_str().ok());
        Ok(Lang::negotiate(header))
    }
}

struct Catalogue {
    bundle: FluentBundle<FluentResource>,
}

impl Catalogue {
    fn load(lang: Lang) -> Catalogue {
        let resource = FluentResource::try_new(lang.source().to_owned())
            .unwrap_or_else(|(_, errors)| panic!("i18n/{}.ftl does not parse: {errors:?}", lang.tag()));
        let id: LanguageIdentifier = lang.tag().parse().expect("a valid tag");
        let mut bundle = FluentBundle::new_concurrent(vec![id]);
        // Plain text in HTML attributes and CSV cells: no bidi isolation marks around values.
        bundle.set_use_isolating(false);
        bundle
            .add_resource(resource)
            .unwrap_or_else(|errors| panic!("i18n/{}.ftl repeats a message: {errors:?}", lang.tag()));
        Catalogue { bundle }
    }

    fn format(&self, id: &str, args: Option<&FluentArgs>) -> Option<String> {
        let pattern = self.bundle.get_message(id)?.value()?;
        let mut errors = Vec::new();
        let text = self.bundle.format_pattern(pattern, args, &mut errors).into_owned();
        errors.is_empty().then_some(text)
    }
}

static CATALOGUES: LazyLock<[Catalogue; 2]> = LazyLock::new(|| Lang::ALL.map(Catalogue::load));

fn catalogue(lang: Lang) -> &'static Catalogue {
    &CATALOGUES[Lang::ALL.iter().position(|l| *l == lang).expect("every language has a catalogue")]
}

/// The message `id` in `lang`, else in English, else the id itself (which the catalogue
/// tests catch before a release).
pub fn tr(lang: Lang, id: &str) -> String {
    tr_args(lang, id, None)
}

/// The message `id` with its variables.
pub fn tr_with(lang: Lang, id: &str, args: &[(&str, FluentValue<'_>)]) -> String {
    let mut fluent = FluentArgs::new();
    for (name, value) in args {
        fluent.set(*name, value.clone());
    }
    tr_args(lang, id, Some(&fluent))
}

fn tr_args(lang: Lang, id: &str, args: Option<&FluentArgs>) -> String {
    catalogue(lang).format(id, args).or_else(|| catalogue(Lang::En).format(id, args)).unwrap_or_else(|| id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(lang: Lang) -> Vec<String> {
        let resource = FluentResource::try_new(lang.source().to_owned()).expect("parses");
        resource
            .entries()
            .filter_map(|entry| match entry {
                fluent_syntax::ast::Entry::Message(message) => Some(message.id.name.to_owned()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_catalogue_has_every_english_message_and_no_other() {
        let english = ids(Lang::En);
        for lang in Lang::ALL {
            let theirs = ids(lang);
            let missing: Vec<_> = english.iter().filter(|id| !theirs.contains(id)).collect();
            let extra: Vec<_> = theirs.iter().filter(|id| !english.contains(id)).collect();
            assert!(missing.is_empty() && extra.is_empty(), "{}: missing {missing:?}, extra {extra:?}", lang.tag());
        }
    }

    #[test]
    fn every_message_formats_in_every_language() {
        for lang in Lang::ALL {
            for id in ids(Lang::En) {
                assert!(
                    catalogue(lang).bundle.get_message(&id).and_then(|m| m.value()).is_some(),
                    "{id} in {}",
                    lang.tag()
                );
            }
        }
    }

    #[test]
    fn the_browser_chooses_by_preference_and_english_is_the_fallback() {
        assert_eq!(Lang::negotiate(Some("fr-FR,fr;q=0.9,en;q=0.8")), Lang::Fr);
        assert_eq!(Lang::negotiate(Some("de-DE,fr;q=0.5")), Lang::Fr);
        assert_eq!(Lang::negotiate(Some("en-GB,fr;q=0.5")), Lang::En);
        assert_eq!(Lang::negotiate(Some("de-DE")), Lang::En);
        assert_eq!(Lang::negotiate(Some("")), Lang::En);
        assert_eq!(Lang::negotiate(None), Lang::En);
    }

    #[test]
    fn a_missing_message_falls_back_to_english_then_to_its_id() {
        assert_eq!(tr(Lang::Fr, "no-such-message"), "no-such-message");
        assert_eq!(tr(Lang::En, "skip-to-content"), "Skip to content");
        assert_eq!(tr(Lang::Fr, "skip-to-content"), "Aller au contenu");
    }

    #[test]
    fn variables_are_filled_in() {
        let text = tr_with(Lang::En, "signed-in-as", &[("who", "Ada".into())]);
        assert_eq!(text, "Signed in as Ada");
    }
}
