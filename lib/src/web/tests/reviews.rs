//! The review workflow through the pages: the form's token and role checks, the
//! teacher reading the comment, the tabs, and the CSV export.

use axum::http::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use super::{get, post, router, sign_in};
use crate::db::documents;
use crate::evaluator::tests::{TEACHER_TOKEN, TOKEN, Target, sqlite};
use crate::ids::{DocumentId, Kind};

/// Moves `id` to `normalized` with `findings` findings.
pub(in crate::web) async fn normalize(t: &Target, id: DocumentId, findings: usize) {
    let record = json!({"schema_version": 1, "findings": vec![json!({"message": "m"}); findings]});
    documents::Entity::update_many()
        .col_expr(documents::Column::State, sea_orm::sea_query::Expr::value("normalized"))
        .col_expr(documents::Column::Normalized, sea_orm::sea_query::Expr::value(record))
        .filter(documents::Column::Id.eq(id.to_string()))
        .exec(t.db.connection())
        .await
        .unwrap();
}

#[tokio::test]
async fn an_evaluator_reviews_with_a_comment_and_the_teacher_reads_it() {
    let t = sqlite().await;
    let id = t.receive("teacher-42", Kind::Document, "plan <b>.docx").await;
    normalize(&t, id, 3).await;
    let router = router(&t, &[]);
    let (evaluator, csrf) = sign_in(&router, TOKEN).await;

    // "To review" is the evaluator's default view, with its count.
    let list = get(&router, "/ui/", Some(&evaluator)).await;
    assert!(list.body.contains(&format!("/ui/documents/{id}")), "{}", list.body);
    assert!(
        list.body.contains("aria-current=\"page\" data-tab=\"to_review\">To review <span class=\"count\">1</span>")
    );
    assert!(list.body.contains("data-label=\"Findings\">3<"), "{}", list.body);
    assert!(
        list.body.contains("data-label=\"Review\">—<"),
        "not reviewed yet: a dash, not an empty label: {}",
        list.body
    );

    let page = get(&router, &format!("/ui/documents/{id}"), Some(&evaluator)).await;
    assert!(page.body.contains("<form class=\"review-form\" method=\"post\""), "{}", page.body);
    let uri = format!("/ui/documents/{id}/reviews");
    let comment = "Clear aims.\nAdd a <plenary>.";
    // Without the form token, or with another's, nothing is recorded.
    let forged = post(&router, &uri, Some(&evaluator), &[("comment", "forged"), ("csrf", "0000")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let missing = post(&router, &uri, Some(&evaluator), &[("comment", "forged")]).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    // A teacher cannot review, even with their own valid form token.
    let (teacher, teacher_csrf) = sign_in(&router, TEACHER_TOKEN).await;
    let own = post(&router, &uri, Some(&teacher), &[("comment", "self-review"), ("csrf", &teacher_csrf)]).await;
    assert_eq!(own.status, StatusCode::FORBIDDEN);
    assert!(crate::review::of_document(&t.db, id).await.unwrap().is_empty(), "nothing refused was stored");
    let teacher_page = get(&router, &format!("/ui/documents/{id}"), Some(&teacher)).await;
    assert!(!teacher_page.body.contains("review-form"), "teachers get no review form");
    assert!(teacher_page.body.contains("An evaluator has not reviewed this version yet."));

    let done =
        post(&router, &uri, Some(&evaluator), &[("comment", comment), ("verdict", "reviewed"), ("csrf", &csrf)]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.headers["location"], format!("/ui/documents/{id}#review"));

    let teacher_page = get(&router, &format!("/ui/documents/{id}"), Some(&teacher)).await;
    assert!(teacher_page.body.contains("Clear aims.\nAdd a &lt;plenary&gt;."), "{}", teacher_page.body);
    assert!(teacher_page.body.contains("<strong>Reviewed</strong> by evaluator (token)"));
    assert!(teacher_page.body.contains(": reviewed by evaluator (token)</li>"), "the timeline has the review");
    let list = get(&router, "/ui/", Some(&evaluator)).await;
    assert!(list.body.contains("To review <span class=\"count\">0</span>"), "{}", list.body);
    assert!(list.body.contains("Reviewed <span class=\"count\">1</span>"));
    let reviewed = get(&router, "/ui/?tab=reviewed", Some(&evaluator)).await;
    assert!(reviewed.body.contains(&format!("/ui/documents/{id}")));
}

#[tokio::test]
async fn a_document_not_ready_is_not_reviewed() {
    let t = sqlite().await;
    let id = t.receive("teacher-42", Kind::Document, "plan.docx").await;
    let router = router(&t, &[]);
    let (evaluator, csrf) = sign_in(&router, TOKEN).await;
    let page = get(&router, &format!("/ui/documents/{id}"), Some(&evaluator)).await;
    assert!(!page.body.contains("review-form"));
    assert!(!page.body.contains("review-section"), "no review section before the document is ready");
    let refused =
        post(&router, &format!("/ui/documents/{id}/reviews"), Some(&evaluator), &[("comment", "x"), ("csrf", &csrf)])
            .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert!(refused.body.contains("only a normalized document can be reviewed"));
}

#[tokio::test]
async fn the_csv_export_is_the_current_view_with_formulas_escaped() {
    let t = sqlite().await;
    let formula = t.receive("teacher-42", Kind::Document, "=HYPERLINK(\"evil.example\").docx").await;
    let plain = t.receive("teacher-42", Kind::Document, "plan, week 3.docx").await;
    let other = t.receive("teacher-7", Kind::Video, "@lesson.mp4").await;
    normalize(&t, formula, 2).await;
    let router = router(&t, &[]);
    let (evaluator, _) = sign_in(&router, TOKEN).await;
    let csv = get(&router, "/ui/documents.csv?tab=all&uploader=teacher-42", Some(&evaluator)).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
    assert!(csv.headers["content-disposition"].to_str().unwrap().starts_with("attachment"));
    let lines: Vec<&str> = csv.body.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 3, "{}", csv.body);
    assert!(lines[0].starts_with("file,folder,state,kind,uploader,findings"));
    assert!(
        csv.body.contains("\"'=HYPERLINK(\"\"evil.example\"\").docx\",week3,normalized,document,teacher-42,2,"),
        "{}",
        csv.body
    );
    assert!(csv.body.contains("\"plan, week 3.docx\",week3,received"));
    assert!(!csv.body.contains(&other.to_string()), "other uploaders are not in this view");
    // The evaluator's default tab holds only the normalized one; a teacher's export is
    // their own whatever the address says.
    let default = get(&router, "/ui/documents.csv", Some(&evaluator)).await;
    assert!(default.body.contains(&formula.to_string()) && !default.body.contains(&plain.to_string()));
    let (teacher, _) = sign_in(&router, TEACHER_TOKEN).await;
    let own = get(&router, "/ui/documents.csv?uploader=teacher-7", Some(&teacher)).await;
    assert!(own.body.contains(&plain.to_string()) && !own.body.contains("'@lesson.mp4"), "{}", own.body);
}
