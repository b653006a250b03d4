//! The video workspace in headless Chromium: the sample clip (5 s, VP9) and a transcript of
//! forty cues by two speakers, stored in a real S3 server (s3s-fs in process) and read
//! through the gateway. A click on a cue seeks the player to the cue's start; seeking and
//! playing move the highlighted cue (`aria-current`), which is kept in view; the player
//! stays in view beside the transcript on a wide screen and stacks above it on a phone;
//! axe-core finds no serious or critical violation at either width. Saves
//! `docs/screenshots/video-workspace.png` and `video-phone.png`.
//!
//! Ignored by default like the other browser tests: `make test-browser`.

use std::time::Duration;

use fantoccini::Locator;
use fantoccini::key::Key;
use serde_json::json;

use super::axe;
use super::{finish, screenshot, sign_in, start_with, until};
use crate::evaluator::tests::sqlite;
use crate::storage::testing::TestS3;
use crate::web::tests::video::normalized_video;

/// Cues in the transcript, each an eighth of a second of the 5-second clip.
const CUES: usize = 40;

fn transcript() -> String {
    let mut vtt = String::from("WEBVTT\n");
    for i in 0..CUES {
        let (start, end) = (i as f64 * 0.125, (i + 1) as f64 * 0.125);
        let speaker = if i / 4 % 2 == 0 { "Ms Lee" } else { "Sam" };
        vtt.push_str(&format!(
            "\n{}\n00:00:{start:06.3} --> 00:00:{end:06.3}\n<v {speaker}>Sentence <i>number</i> {i}, said &amp; heard.\n",
            i + 1
        ));
    }
    vtt
}

/// A script's answer: whether the highlighted cue is the one at the player's position (the
/// last to start), and that position.
const CONSISTENT: &str = "const v = document.getElementById('player'); \
    const cues = Array.from(document.querySelectorAll('ol.cues li')); \
    const t = v.currentTime + 0.01; \
    const at = cues.filter(c => parseFloat(c.dataset.start) <= t).pop(); \
    const marked = document.querySelectorAll('ol.cues li[aria-current=true]'); \
    return [marked.length === 1 && marked[0] === at, v.currentTime, cues.indexOf(marked[0])];";

/// Whether the highlighted cue is on screen (and inside the list's box when it scrolls),
/// and the player too.
const IN_VIEW_FN: &str = "() => { const cue = document.querySelector('ol.cues li[aria-current=true]'); \
    if (!cue) return false; \
    const c = cue.getBoundingClientRect(), l = cue.parentElement.getBoundingClientRect(); \
    const p = document.getElementById('player').getBoundingClientRect(); \
    const h = window.innerHeight; \
    return c.top >= Math.max(0, l.top) - 1 && c.bottom <= Math.min(h, l.bottom) + 1 && p.top >= -1 && p.bottom <= h + 1; }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's chromium and chromium-driver, and axe-core from `make test-browser`"]
async fn in_chromium_the_transcript_seeks_and_follows_playback() {
    let t = sqlite().await;
    let s3 = TestS3::start(&["results"]).await;
    let clip = include_bytes!("../../../../samples/classroom-clip.mp4");
    let vtt = transcript();
    let files: [(&str, &str, &str, &[u8]); 3] = [
        ("rendition", "classroom-clip.mp4", "video/mp4", clip),
        ("transcript", "transcript.vtt", "text/vtt", vtt.as_bytes()),
        ("summary", "summary.json", "application/json", b"{}"),
    ];
    let id = normalized_video(&t, &s3, &files, true).await;
    let (base, server, driver, browser) = start_with(&t, &[("DOCFLOW__S3__ENDPOINT", s3.url.as_str())]).await;
    let outcome = async {
        sign_in(&browser, &base).await?;
        let page = format!("{base}/ui/documents/{id}");
        browser.goto(&page).await?;
        browser.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("ol.cues")).await?;
        until(&browser, "the video's metadata loaded", 30,
            "const v = document.getElementById('player'); return v.readyState >= 1 && v.duration > 4").await?;
        assert_eq!(browser.execute("return document.querySelectorAll('ol.cues li').length", vec![]).await?, json!(CUES));
        let text = browser.find(Locator::Css("ol.cues")).await?.text().await?;
        assert!(text.contains("Ms Lee") && text.contains("Sentence number 7, said & heard."), "{text}");
        assert!(!text.contains("<v") && !text.contains("&amp;"), "{text}");
        axe(&browser, "the video's page").await?;

        // A click on a cue seeks the player to its start, and marks that cue.
        let cue = browser.find(Locator::Css("ol.cues li:nth-child(25) a[data-seek]")).await?;
        let start: f64 = cue.attr("data-seek").await?.expect("a cue's start").parse().expect("seconds");
        assert_eq!(start, 3.0);
        cue.click().await?;
        browser.execute("document.getElementById('player').pause(); return true;", vec![]).await?;
        until(&browser, "the cue sought the video", 20, &format!(
            "const v = document.getElementById('player'); return v.currentTime >= {start} - 0.05 && v.currentTime < {start} + 1")).await?;
        let state = browser.execute(CONSISTENT, vec![]).await?;
        assert_eq!(state[0], json!(true), "the cue at the player's position is marked: {state}");

        // By keyboard: Enter on a cue's time seeks there too, and the focus stays on it.
        browser.execute("document.querySelector('ol.cues li:nth-child(9) a').focus(); return true;", vec![]).await?;
        browser.active_element().await?.send_keys(&Key::Enter.to_string()).await?;
        browser.execute("document.getElementById('player').pause(); return true;", vec![]).await?;
        until(&browser, "Enter on a cue sought the video", 20,
            "const v = document.getElementById('player'); return v.currentTime >= 0.95 && v.currentTime < 1.9").await?;
        let focused = browser.execute("return document.activeElement.closest('li') === document.querySelector('ol.cues li:nth-child(9)')", vec![]).await?;
        assert_eq!(focused, json!(true));

        // Seeking elsewhere from the player (as its own controls do) moves the mark, and
        // the marked cue is brought into view while the player stays in view.
        browser.execute("document.getElementById('player').currentTime = 4.6; return true;", vec![]).await?;
        until(&browser, "the mark followed the seek", 20, &holds(CONSISTENT, "r[0] && r[2] === 36")).await?;
        until(&browser, "the marked cue scrolled into view, the player still in view", 20, &format!("return ({IN_VIEW_FN})();")).await?;
        // A reader who scrolled away from the marked cue is left where they are. The
        // smooth scroll that revealed the cue ends first (two readings 100 ms apart agree),
        // or its last frames would move the page after the reader's scroll.
        until(&browser, "the reveal's smooth scroll ended", 20,
            "const y = window.scrollY, same = window.lastY === y; window.lastY = y; return same;").await?;
        browser.execute("window.scrollTo(0, 0); document.getElementById('player').currentTime = 4.1; return true;", vec![]).await?;
        until(&browser, "the mark followed the seek", 20, &holds(CONSISTENT, "r[0] && r[2] === 32")).await?;
        let stayed = browser.execute(&format!("return [window.scrollY, ({IN_VIEW_FN})()];"), vec![]).await?;
        assert_eq!(stayed, json!([0, false]), "the page did not move to the marked cue");

        // Playing from the start: the mark moves with the video, cue after cue.
        browser.execute("const v = document.getElementById('player'); v.muted = true; v.currentTime = 0; v.play(); return true;", vec![]).await?;
        until(&browser, "the video played past its second second", 30,
            "return document.getElementById('player').currentTime > 2").await?;
        let playing = browser.execute(CONSISTENT, vec![]).await?;
        assert!(playing[2].as_i64().unwrap_or(0) >= 8, "the mark moved on with the playback: {playing}");
        until(&browser, "the mark keeps up with the playback", 20, &holds(CONSISTENT, "r[0]")).await?;
        browser.execute("const v = document.getElementById('player'); v.pause(); v.currentTime = 2.5; return true;", vec![]).await?;
        until(&browser, "the mark at 2.5 s", 20, &holds(CONSISTENT, "r[0]")).await?;
        // For the picture: an early cue marked, the section's top in view.
        browser.execute("document.getElementById('player').currentTime = 0.9; return true;", vec![]).await?;
        until(&browser, "the mark at 0.9 s", 20, &holds(CONSISTENT, "r[0] && r[2] === 7")).await?;
        browser.execute("document.activeElement.blur(); document.getElementById('video').scrollIntoView(); return true;", vec![]).await?;
        screenshot("video-workspace.png", &browser.screenshot().await?);

        // On a phone: the player above the transcript, which scrolls in its own box.
        browser.set_window_size(390, 844).await?;
        browser.goto(&page).await?;
        browser.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("ol.cues")).await?;
        until(&browser, "the video's metadata loaded", 30,
            "const v = document.getElementById('player'); return v.readyState >= 1 && v.duration > 4").await?;
        let unmoved = browser.execute("return [window.scrollY, !!document.querySelector('ol.cues li[aria-current=true]')]", vec![]).await?;
        assert_eq!(unmoved, json!([0, true]), "the first cue marked as the page loads, and the page not scrolled to it");
        let stacked = browser.execute(
            "const p = document.getElementById('player').getBoundingClientRect(); \
             const l = document.querySelector('ol.cues'); \
             return [l.getBoundingClientRect().top >= p.bottom, l.scrollHeight > l.clientHeight];", vec![]).await?;
        assert_eq!(stacked, json!([true, true]), "stacked, the transcript in its own box");
        axe(&browser, "the video's page on a phone").await?;
        browser.execute("document.getElementById('player').currentTime = 4.6; return true;", vec![]).await?;
        until(&browser, "the mark followed the seek on a phone", 20, &holds(CONSISTENT, "r[0]")).await?;
        let scrolled = "const l = document.querySelector('ol.cues'); \
            const c = l.querySelector('li[aria-current=true]').getBoundingClientRect(), b = l.getBoundingClientRect(); \
            return l.scrollTop > 0 && c.top >= b.top - 1 && c.bottom <= b.bottom + 1 && window.scrollY === 0;";
        until(&browser, "the marked cue scrolled into view inside the transcript's box, the page unmoved", 20, scrolled).await?;
        browser.execute("document.querySelector('ol.cues li[aria-current=true]').scrollIntoView({block: 'center'}); return true;", vec![]).await?;
        screenshot("video-phone.png", &browser.screenshot().await?);
        browser.set_window_size(1100, 900).await?;
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    finish(browser, driver, server, outcome).await;
}

/// A script whose answer is `condition` over `r`, what `script` (a function body) returns.
fn holds(script: &str, condition: &str) -> String {
    format!("const r = (() => {{ {script} }})(); return {condition};")
}
