//! "Usually ready in about 3 minutes": what a teacher reads while their document is
//! processing. The figure is the median time from upload to ready of the last
//! [`SAMPLE`] documents of the same kind that docflow made ready (any teacher's: a time
//! says nothing about whose file it was), read from the list's own query, sorted by the
//! time they last changed. A ready document's `updated_at` is when it became ready: a
//! review is stored apart and does not change it. Fewer than [`ENOUGH`] such documents
//! say nothing rather than a guess.

use std::time::Duration;

use super::i18n::{Lang, tr, tr_with};
use crate::db::{Db, ListFilter, State};
use crate::evaluator::query::{self, Listing};
use crate::evaluator::sort::{Direction, Sort};
use crate::ids::Kind;

/// How many recent ready documents the median is taken over.
pub const SAMPLE: u64 = 20;
/// Below this many, no figure is given.
pub const ENOUGH: usize = 3;

/// The median of `durations` (the lower middle one for an even count); `None` below
/// [`ENOUGH`] of them.
pub fn median(mut durations: Vec<Duration>) -> Option<Duration> {
    if durations.len() < ENOUGH {
        return None;
    }
    durations.sort();
    Some(durations[(durations.len() - 1) / 2])
}

/// The usual wait for `kind`, from the database; `None` when too few are known or the
/// database did not answer (the page then says nothing of it).
pub async fn usual(db: &Db, kind: Kind) -> Option<Duration> {
    let listing = Listing {
        filter: ListFilter { state: Some(State::Normalized), kind: Some(kind), ..ListFilter::default() },
        tab: None,
        sort: Sort::UpdatedAt,
        direction: Direction::Desc,
        limit: SAMPLE,
        position: None,
    };
    let listed = query::page(db, &listing)
        .await
        .inspect_err(|error| tracing::warn!(%error, "the usual wait was not read"))
        .ok()?;
    median(listed.documents.iter().filter_map(|d| (d.updated_at - d.created_at).to_std().ok()).collect())
}

/// The sentence a teacher reads, for a kind and its usual wait; `None` without a figure.
pub fn words(lang: Lang, kind: Kind, wait: Option<Duration>) -> Option<String> {
    let wait = wait?;
    let what = match kind {
        Kind::Document => "document",
        Kind::Video => "video",
    };
    let minutes = wait.as_secs().div_ceil(60);
    Some(if minutes <= 1 {
        tr(lang, &format!("wait-{what}-under-a-minute"))
    } else {
        tr_with(lang, &format!("wait-{what}-minutes"), &[("n", minutes.into())])
    })
}

/// [`usual`] then [`words`].
pub async fn said(db: &Db, lang: Lang, kind: Kind) -> Option<String> {
    words(lang, kind, usual(db, kind).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mins(n: u64) -> Duration {
        Duration::from_secs(60 * n)
    }

    #[test]
    fn the_median_needs_enough_documents_and_ignores_one_slow_one() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![mins(1), mins(2)]), None, "two are not enough");
        assert_eq!(median(vec![mins(3), mins(1), mins(90)]), Some(mins(3)));
        assert_eq!(median(vec![mins(4), mins(1), mins(2), mins(3)]), Some(mins(2)), "the lower middle");
    }

    #[test]
    fn the_wait_is_said_in_whole_minutes_rounded_up_in_each_language() {
        let say = |lang, kind, secs| words(lang, kind, Some(Duration::from_secs(secs))).unwrap();
        assert_eq!(say(Lang::En, Kind::Document, 40), "Lesson plans are usually ready in less than a minute.");
        assert_eq!(say(Lang::En, Kind::Document, 61), "Lesson plans are usually ready in about 2 minutes.");
        assert_eq!(say(Lang::En, Kind::Video, 600), "Videos are usually ready in about 10 minutes.");
        assert_eq!(say(Lang::Fr, Kind::Video, 600), "Une vidéo est en général prête en 10 minutes environ.");
        assert_eq!(words(Lang::En, Kind::Video, None), None);
    }
}
