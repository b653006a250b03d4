//! `GET /ui/pipeline`: the overview of `docflow status` for an operator (token role
//! `admin`), drawn as the pipeline's places from upload to evaluator with their live
//! counts. Server-rendered and refreshed by the page itself every few seconds (a `meta`
//! refresh: no script, no third-party asset); each view costs the overview's few
//! aggregate reads ([`crate::ops`]).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use super::i18n::{Lang, tr, tr_with};
use super::pages::{tr_markup, tr_markup_counted};
use super::{WebState, pages, to_sign_in};
use crate::ops::{Overview, StageBacklog, render};
use crate::settings::tokens::Role;

/// Seconds between two refreshes of the page.
const REFRESH: u32 = 10;

pub(super) async fn page(State(state): State<WebState>, lang: Lang, headers: HeaderMap) -> Response {
    let Some(session) = state.session(&headers) else { return to_sign_in() };
    let csrf = state.key.csrf(&session);
    let nav = Some((&session, csrf.as_str()));
    if session.role != Role::Admin {
        return pages::error_tr(
            lang,
            nav,
            StatusCode::FORBIDDEN,
            "common-not-for-this-role",
            "pipeline-operators-only",
        );
    }
    let Some(ops) = &state.ops else {
        return pages::error_tr(
            lang,
            nav,
            StatusCode::SERVICE_UNAVAILABLE,
            "pipeline-unavailable",
            "pipeline-not-connected",
        );
    };
    match ops.overview().await {
        Ok(overview) => {
            let body = pages::layout(lang, &tr(lang, "common-pipeline"), nav, view(lang, &overview));
            ([(header::REFRESH, REFRESH.to_string())], body).into_response()
        }
        Err(error) => {
            tracing::warn!(%error, "pipeline page: overview not read");
            pages::error_tr(lang, nav, StatusCode::SERVICE_UNAVAILABLE, "pipeline-unavailable", "pipeline-no-answer")
        }
    }
}

/// One place of the drawing: its name, what waits or happens there, and its problems.
struct Place<'a> {
    name: &'static str,
    /// Documents in the state that waits here.
    documents: Option<(&'static str, u64)>,
    consumer: Option<&'a StageBacklog>,
    dead: u64,
    note: Option<String>,
}

/// Operators read the stages' and states' own names (as `docflow status` prints them);
/// the sentences around them are the catalogue's.
fn view(lang: Lang, overview: &Overview) -> Markup {
    let n = |id: &str, n: u64| tr_with(lang, id, &[("n", n.into())]);
    let docs = |state: &'static str| (state, overview.documents.get(state).copied().unwrap_or(0));
    let stage = |name: &str| overview.stages.iter().find(|s| s.stage == name);
    let dead = |name: &str| overview.dead_letters.get(name).copied().unwrap_or(0);
    let breakers: Vec<String> = overview.providers.iter().map(|p| format!("{} {}", p.provider, p.state)).collect();
    let places = [
        Place {
            name: "upload",
            documents: None,
            consumer: None,
            dead: 0,
            note: Some(tr(lang, "pipeline-bucket-notifications")),
        },
        Place {
            name: "transfer",
            documents: Some(docs("received")),
            consumer: stage("transfer"),
            dead: dead("transfer"),
            note: None,
        },
        Place {
            name: "provider",
            documents: Some(docs("submitted")),
            consumer: None,
            dead: 0,
            note: Some(tr_with(lang, "pipeline-breaker", &[("breakers", breakers.join(", ").into())])),
        },
        Place {
            name: "validate",
            documents: Some(docs("processed")),
            consumer: stage("validate"),
            dead: dead("validate"),
            note: None,
        },
        Place {
            name: "normalize",
            documents: Some(docs("validated")),
            consumer: stage("normalize"),
            dead: dead("normalize"),
            note: None,
        },
        Place {
            name: "evaluator",
            documents: Some(docs("normalized")),
            consumer: None,
            dead: 0,
            note: Some(tr(lang, "pipeline-ready-to-read")),
        },
    ];
    html! {
        h1 { (tr(lang, "common-pipeline")) }
        p.meta { (tr_markup(lang, "pipeline-at", &[
            ("at", html! { time datetime=(overview.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)) { (overview.at.format("%H:%M:%S UTC")) } }),
            ("seconds", html! { (REFRESH) }),
        ])) }
        ol.pipeline aria-label=(tr(lang, "pipeline-drawing")) {
            @for place in &places {
                li.place.trouble[place.dead > 0 || place.note.as_deref().is_some_and(|n| n.contains("open"))] {
                    h2 { (place.name) }
                    @if let Some((state, n)) = place.documents {
                        p.count { strong { (n) } " " (state) }
                    }
                    @if let Some(c) = place.consumer {
                        p { (tr_with(lang, "pipeline-consumer", &[("pending", c.pending.into()), ("in_flight", c.in_flight.into()), ("redelivered", c.redelivered.into())])) }
                        @if c.waiting == 0 { p.problem { (tr(lang, "pipeline-no-worker")) } }
                    }
                    @if place.dead > 0 { p.problem { (n("pipeline-dead-letters", place.dead)) } }
                    @if let Some(note) = &place.note { p.note { (note) } }
                }
            }
        }
        p { (tr_markup_counted(lang, "pipeline-stopped", &[
            ("failed_count", docs("failed").1),
            ("rejected_count", docs("rejected").1),
            ("timers", stage("watchdog").map_or(0, |s| s.pending + s.in_flight)),
            ("dead", dead("watchdog")),
        ], &[
            ("failed", html! { strong { (docs("failed").1) } }),
            ("rejected", html! { strong { (docs("rejected").1) } }),
        ])) }
        @match &overview.oldest_in_flight {
            Some(oldest) => p { (tr_markup(lang, "pipeline-oldest", &[
                ("id", html! { a href={ "/ui/documents/" (oldest.id) } { (oldest.id) } }),
                ("state", html! { (oldest.state) }),
                ("age", html! { (render::age(overview.at, oldest.since)) }),
                ("stage", html! { strong { (oldest.waits_at) } }),
            ])) },
            None => p { (tr(lang, "pipeline-nothing-in-flight")) },
        }
        h2 { (tr(lang, "pipeline-processes")) }
        @if overview.processes.is_empty() {
            p.problem { (tr(lang, "pipeline-no-process")) }
        } @else {
            ul {
                @for p in &overview.processes {
                    li { code { (p.process) } " (admin " code { (p.admin) } "): " (p.components.join(", ")) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::http::StatusCode;

    use super::*;
    use crate::web::tests::{csrf_field, get, pair, post, set_cookie};

    /// Signs in with `token` and returns the session cookie and where sign-in sent it.
    async fn session(router: &axum::Router, token: &str) -> String {
        let form = get(router, "/ui/sign-in", None).await;
        let csrf_cookie = pair(&set_cookie(&form, "docflow_csrf").unwrap());
        let csrf = csrf_field(&form.body);
        let signed = post(router, "/ui/sign-in", Some(&csrf_cookie), &[("token", token), ("csrf", &csrf)]).await;
        assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.body);
        pair(&set_cookie(&signed, "docflow_session").unwrap())
    }

    #[tokio::test]
    async fn an_admin_sees_the_drawn_pipeline_and_other_roles_do_not() {
        let t = crate::evaluator::tests::sqlite().await;
        t.receive("teacher-42", crate::ids::Kind::Document, "plan.pdf").await;
        let tokens = "[{token = \"ops-token\", role = \"admin\"}, {token = \"evaluator-token\", role = \"evaluator\"}]";
        let settings = Arc::new(crate::evaluator::tests::settings(&[("DOCFLOW__GATEWAY__TOKENS", tokens)]));
        let (client, js) = crate::testkit::connect(&crate::testkit::nats_url()).await;
        crate::topology::apply(&js, &settings).await.unwrap();
        let store = crate::storage::Store::new(&settings.s3).unwrap();
        let ops = crate::ops::Ops::new(client, t.db.clone(), &settings);
        let state =
            crate::web::WebState::new(crate::evaluator::EvaluatorState::new(settings.clone(), t.db.clone(), store));
        let router = crate::web::routes(state.with_ops(ops));

        assert_eq!(get(&router, "/ui/pipeline", None).await.status, StatusCode::SEE_OTHER, "no session");
        let admin = session(&router, "ops-token").await;
        let list = get(&router, "/ui/", Some(&admin)).await;
        assert_eq!(list.status, StatusCode::SEE_OTHER);
        assert_eq!(list.headers[header::LOCATION], "/ui/pipeline");
        let page = get(&router, "/ui/pipeline", Some(&admin)).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert_eq!(page.headers[header::REFRESH], REFRESH.to_string());
        assert!(page.body.contains("<strong>1</strong> received"), "{}", page.body);
        assert!(page.body.contains("waiting at <strong>transfer</strong>"), "{}", page.body);
        assert!(!page.body.contains("plan.pdf"), "counts only, no document names");
        crate::web::tests::assert_secured(&page);

        let evaluator = session(&router, "evaluator-token").await;
        let refused = get(&router, "/ui/pipeline", Some(&evaluator)).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(!refused.body.contains("received"), "{}", refused.body);
        crate::testkit::delete_streams(&js, &settings.nats.prefix).await;
    }

    #[test]
    fn the_drawing_has_every_place_in_order_with_its_counts_and_troubles() {
        let html = view(Lang::En, &fixture()).into_string();
        let order: Vec<usize> = ["upload", "transfer", "provider", "validate", "normalize", "evaluator"]
            .iter()
            .map(|name| html.find(&format!("<h2>{name}</h2>")).unwrap_or_else(|| panic!("{name} in {html}")))
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{html}");
        assert!(html.contains("<strong>3</strong> submitted"), "{html}");
        assert!(html.contains("7 waiting, 2 in flight, 1 redelivered"), "{html}");
        assert!(html.contains("no worker pulling"), "{html}");
        assert!(html.contains("One dead letter"), "{html}");
        assert!(html.contains("breaker: sim open"), "{html}");
        assert!(html.contains("waiting at <strong>provider</strong>"), "{html}");
    }

    #[test]
    fn counts_take_the_plural_of_their_language() {
        let mut overview = fixture();
        overview.dead_letters.insert("watchdog".to_owned(), 2);
        overview.documents.insert("failed", 1);
        let en = view(Lang::En, &overview).into_string();
        assert!(en.contains("<strong>1</strong> failed, <strong>0</strong> rejected"), "{en}");
        assert!(en.contains("Watchdog: 9 timers, 2 dead letters."), "{en}");
        let fr = view(Lang::Fr, &overview).into_string();
        assert!(fr.contains("1 lettre morte"), "transfer's one dead letter: {fr}");
        assert!(fr.contains("<strong>1</strong> échoué, <strong>0</strong> refusé."), "{fr}");
        assert!(fr.contains("9 minuteries, 2 lettres mortes."), "{fr}");
    }

    fn fixture() -> Overview {
        use chrono::TimeZone;
        let at = chrono::Utc.with_ymd_and_hms(2026, 12, 7, 10, 30, 0).unwrap();
        let stage = |name: &'static str, waiting| StageBacklog {
            stage: name,
            stream: "S".into(),
            consumer: name.into(),
            pending: 7,
            in_flight: 2,
            redelivered: 1,
            waiting,
            last_sequence: 9,
        };
        let mut documents: std::collections::BTreeMap<&'static str, u64> =
            crate::db::State::ALL.iter().map(|s| (s.as_str(), 0)).collect();
        documents.insert("submitted", 3);
        Overview {
            at,
            documents,
            in_flight: 3,
            stages: vec![stage("transfer", 1), stage("validate", 0), stage("normalize", 1), stage("watchdog", 1)],
            dead_letters: [("transfer".to_owned(), 1)].into(),
            providers: vec![crate::ops::ProviderBreaker {
                provider: "sim".into(),
                state: "open".into(),
                reported_by: vec!["box:1".into()],
            }],
            processes: vec![],
            oldest_in_flight: Some(crate::ops::OldestInFlight {
                id: "5b0a3c1e-2f7d-5d3b-9a6e-0c1d2e3f4a5b".into(),
                state: "submitted",
                waits_at: "provider",
                created_at: at,
                since: at,
            }),
        }
    }
}
