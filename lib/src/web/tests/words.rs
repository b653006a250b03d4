//! The words people read, through the router: the language the browser asks for on every
//! page (and no English left in a French one), a teacher's phases with the usual wait,
//! times in UTC for the script to make local, the favicon, and `/` leading to `/ui/`.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::reviews::normalize;
use super::{Page, csrf_field, send, sign_in};
use crate::db::documents;
use crate::evaluator::tests::{TEACHER_TOKEN, TOKEN, Target, sqlite};
use crate::ids::{DocumentId, Kind};
use crate::lifecycle::FailureCause;

/// `GET uri` with `Accept-Language: accept`.
async fn get_in(router: &Router, uri: &str, cookie: Option<&str>, accept: &str) -> Page {
    let mut request = Request::get(uri).header(header::ACCEPT_LANGUAGE, accept);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    send(router, request.body(Body::empty()).unwrap()).await
}

/// A page's text as a person reads it: tags (and their attributes) left out.
fn visible(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = text.replace("&#39;", "'").replace("&quot;", "\"").replace("&amp;", "&");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The English catalogue's text that a French page must not show: each message's pieces
/// between its variables, long enough to be a phrase, and not the same in French. The
/// states' own names are left out: operators and the technical detail show them raw.
fn english_phrases() -> Vec<String> {
    let texts = |source: &str| -> Vec<(String, String)> {
        source
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.split_once(" = "))
            .map(|(id, text)| (id.trim().to_owned(), text.to_owned()))
            .collect()
    };
    let french: Vec<String> = texts(include_str!("../i18n/fr.ftl")).into_iter().map(|(_, t)| t).collect();
    let mut phrases = Vec::new();
    for (id, text) in texts(include_str!("../i18n/en.ftl")) {
        if id.starts_with("state-") && !id.starts_with("state-phase-") {
            continue;
        }
        for piece in text.split(['{', '}']).filter(|p| !p.trim_start().starts_with('$')) {
            let piece = piece.trim().trim_end_matches(['.', ':', ',']);
            if piece.len() >= 10 && !french.iter().any(|f| f.contains(piece)) {
                phrases.push(piece.to_owned());
            }
        }
    }
    phrases
}

/// The page is in French: `<html lang="fr">`, `french` is there, and no English phrase.
fn assert_french(page: &Page, what: &str, french: &str) {
    assert!(page.body.contains("<html lang=\"fr\">"), "{what}: {}", page.body);
    let text = visible(&page.body);
    assert!(text.contains(french), "{what}: {french:?} missing in {text}");
    let left: Vec<String> = english_phrases().into_iter().filter(|p| text.contains(p.as_str())).collect();
    assert!(left.is_empty(), "{what}: English left in a French page: {left:?}\n{text}");
}

async fn fail(t: &Target, id: DocumentId, cause: FailureCause) {
    assert!(t.db.mark_failed(id, "transfer", 1, cause, "the provider refused the file").await.unwrap());
}

/// Moves `id`'s creation `minutes` before its last change (for the usual wait).
pub(in crate::web) async fn took(t: &Target, id: DocumentId, minutes: i64) {
    let now = chrono::Utc::now();
    documents::Entity::update_many()
        .col_expr(
            documents::Column::CreatedAt,
            sea_orm::sea_query::Expr::value(now - chrono::Duration::minutes(minutes)),
        )
        .col_expr(documents::Column::UpdatedAt, sea_orm::sea_query::Expr::value(now))
        .filter(documents::Column::Id.eq(id.to_string()))
        .exec(t.db.connection())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_french_browser_reads_french_and_an_english_one_english() {
    let t = sqlite().await;
    let router = super::router(&t, &[]);
    let french = get_in(&router, "/ui/sign-in", None, "fr-FR,fr;q=0.9,en;q=0.5").await;
    assert_eq!(french.status, StatusCode::OK);
    assert_french(&french, "sign-in", "Votre jeton d'accès");
    // The leftover check sees English where there is some.
    let phrases = english_phrases();
    assert!(phrases.len() > 100 && phrases.iter().any(|p| p == "Your access token"), "{phrases:?}");
    let english = visible(&get_in(&router, "/ui/sign-in", None, "en").await.body);
    assert!(phrases.iter().any(|p| english.contains(p.as_str())), "{english}");
    for accept in ["en-GB,en;q=0.9", "de-DE", ""] {
        let english = get_in(&router, "/ui/sign-in", None, accept).await;
        assert!(english.body.contains("<html lang=\"en\">"), "{accept}: {}", english.body);
        assert!(english.body.contains("Your access token") && !english.body.contains("jeton"), "{accept}");
    }
}

#[tokio::test]
async fn every_page_speaks_french_when_asked_with_no_english_left() {
    let t = sqlite().await;
    let ready = t.receive("teacher-42", Kind::Document, "fractions.docx").await;
    normalize(&t, ready, 2).await;
    let stopped = t.receive("teacher-42", Kind::Document, "décimaux.docx").await;
    fail(&t, stopped, FailureCause::SubmissionRefused).await;
    let waiting = t.receive("teacher-42", Kind::Video, "classe.mp4").await;
    let router = super::router(&t, &[]);
    let fr = "fr";
    let (evaluator, csrf) = sign_in(&router, TOKEN).await;
    let (teacher, _) = sign_in(&router, TEACHER_TOKEN).await;

    let (ready_uri, stopped_uri) = (format!("/ui/documents/{ready}"), format!("/ui/documents/{stopped}"));
    let waiting_uri = format!("/ui/documents/{waiting}");
    let pages: [(&str, &str, &String, &str); 15] = [
        ("the evaluator's list", "/ui/", &evaluator, "À relire"),
        ("every document", "/ui/?tab=all", &evaluator, "Exporter cette vue en CSV"),
        ("a ready document", &ready_uri, &evaluator, "Marquer comme relu"),
        ("a stopped document", &stopped_uri, &evaluator, "Ce qui s'est passé"),
        ("the teacher's list", "/ui/", &teacher, "Vos documents"),
        ("the teacher's stopped document", &stopped_uri, &teacher, "Déposer une nouvelle version"),
        ("the teacher's processing video", &waiting_uri, &teacher, "Traitement en cours"),
        ("the upload page", "/ui/upload", &teacher, "Qu'envoyez-vous ?"),
        ("a missing document", "/ui/documents/nope", &evaluator, "Document introuvable"),
        ("the upload page, refused", "/ui/upload", &evaluator, "Non disponible pour ce rôle"),
        ("the pipeline, refused", "/ui/pipeline", &evaluator, "réservée aux exploitants"),
        ("filters refused", "/ui/?state=nope", &evaluator, "Ces filtres ne peuvent pas être utilisés"),
        ("the sign-in page, signed in", "/ui/sign-in", &evaluator, "Se connecter sous une autre identité"),
        ("no OpenID provider", "/ui/oidc/sign-in", &evaluator, "Aucun fournisseur de connexion"),
        ("an OpenID step out of turn", "/ui/oidc/finish", &evaluator, "Cette connexion ne peut pas aboutir"),
    ];
    for (what, uri, session, french) in pages {
        let page = get_in(&router, uri, Some(session), fr).await;
        assert_french(&page, what, french);
    }
    // French typography: a no-break space before a colon (the timeline's, here).
    let timeline = |page: &Page| page.body.split("class=\"timeline\"").nth(1).unwrap_or_default().to_owned();
    let french = timeline(&get_in(&router, &ready_uri, Some(&evaluator), fr).await);
    assert!(french.contains("</time>\u{a0}: ") && !french.contains("</time>: "), "{french}");
    let english = timeline(&get_in(&router, &ready_uri, Some(&evaluator), "en").await);
    assert!(english.contains("</time>: "), "{english}");
    // A form without its token, and a review, answered in French too.
    let request = Request::post(format!("/ui/documents/{ready}/reviews"))
        .header(header::ACCEPT_LANGUAGE, fr)
        .header(header::COOKIE, &evaluator)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("comment=x"))
        .unwrap();
    let refused = send(&router, request).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_french(&refused, "a refused form", "Ce formulaire ne peut pas être accepté");
    let request = Request::post(format!("/ui/documents/{ready}/reviews"))
        .header(header::COOKIE, &evaluator)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("csrf={csrf}&comment=Bien&verdict=reviewed")))
        .unwrap();
    assert_eq!(send(&router, request).await.status, StatusCode::SEE_OTHER);
    let reviewed = get_in(&router, &format!("/ui/documents/{ready}"), Some(&teacher), fr).await;
    assert_french(&reviewed, "a reviewed document", "Relu par evaluator (token)");
    assert!(!csrf_field(&reviewed.body).is_empty());
}

#[tokio::test]
async fn a_teacher_reads_phases_and_the_usual_wait_and_an_evaluator_the_states() {
    let t = sqlite().await;
    // Three lesson plans made ready in 1, 2 and 30 minutes: usually about 2 minutes.
    for minutes in [1, 2, 30] {
        let id = t.receive("teacher-7", Kind::Document, &format!("done-{minutes}.md")).await;
        normalize(&t, id, 0).await;
        took(&t, id, minutes).await;
    }
    let waiting = t.receive("teacher-42", Kind::Document, "new plan.md").await;
    let stopped = t.receive("teacher-42", Kind::Document, "bad plan.md").await;
    fail(&t, stopped, FailureCause::FileRefused).await;
    let router = super::router(&t, &[]);
    let (teacher, _) = sign_in(&router, TEACHER_TOKEN).await;
    let (evaluator, _) = sign_in(&router, TOKEN).await;

    let list = get_in(&router, "/ui/", Some(&teacher), "en").await;
    let row = |page: &Page, id: DocumentId| {
        let at = page.body.find(&format!("data-id=\"{id}\"")).expect("the row");
        page.body[at..].split("</tr>").next().unwrap().to_owned()
    };
    assert!(row(&list, waiting).contains(">Processing</span>"), "{}", list.body);
    assert!(row(&list, stopped).contains(">Needs your action</span>"), "{}", list.body);
    assert!(list.body.contains("Lesson plans are usually ready in about 2 minutes."), "{}", list.body);
    assert!(!visible(&list.body).contains("received"), "a teacher reads no state name");
    let page = get_in(&router, &format!("/ui/documents/{waiting}"), Some(&teacher), "fr").await;
    assert!(page.body.contains("Une fiche de préparation est en général prête en 2 minutes environ."), "{}", page.body);

    let list = get_in(&router, "/ui/?tab=all", Some(&evaluator), "en").await;
    assert!(row(&list, waiting).contains(">received</span>"), "{}", list.body);
    assert!(row(&list, stopped).contains(">failed</span>"), "{}", list.body);
    assert!(!list.body.contains("usually ready"), "evaluators read the states, not the wait");
}

#[tokio::test]
async fn times_are_written_in_utc_for_the_script_to_make_local() {
    let t = sqlite().await;
    let id = t.receive("teacher-42", Kind::Document, "plan.md").await;
    let router = super::router(&t, &[]);
    let (evaluator, _) = sign_in(&router, TOKEN).await;
    let page = get_in(&router, &format!("/ui/documents/{id}"), Some(&evaluator), "en").await;
    let at = page.body.find("<time class=\"at\" datetime=\"").expect("a moment") + 27;
    let datetime = page.body[at..].split('"').next().unwrap();
    let parsed = chrono::DateTime::parse_from_rfc3339(datetime).expect("an RFC 3339 datetime");
    assert!(datetime.ends_with('Z'), "{datetime}");
    let text = page.body[at..].split('>').nth(1).unwrap().split('<').next().unwrap();
    assert_eq!(text, parsed.format("%-d %b %Y, %H:%M UTC").to_string(), "the text says UTC without the script");
}

#[tokio::test]
async fn the_root_leads_to_the_interface_and_every_page_has_the_favicon() {
    let t = sqlite().await;
    let router = super::router(&t, &[]);
    let root = super::get(&router, "/", None).await;
    assert_eq!(root.status, StatusCode::SEE_OTHER);
    assert_eq!(root.headers[header::LOCATION], "/ui/");
    for path in ["/ui/favicon.svg", "/favicon.ico"] {
        let icon = super::get(&router, path, None).await;
        assert_eq!(icon.status, StatusCode::OK, "{path}");
        assert_eq!(icon.headers[header::CONTENT_TYPE], "image/svg+xml", "{path}");
        assert!(icon.body.starts_with("<svg"), "{path}");
    }
    let page = super::get(&router, "/ui/sign-in", None).await;
    assert!(page.body.contains("<link rel=\"icon\" type=\"image/svg+xml\" href=\"/ui/favicon.svg\">"), "{}", page.body);
}
