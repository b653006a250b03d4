//! Scenario 6: one large object through transfer in upload mode, against a plain S3 GET
//! streamed into an HTTP POST of the same bytes to the same provider-sim.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use docflow::storage::Store;
use minio::s3::response_traits::HasEtagFromHeaders;
use minio::s3::types::S3Api;

use crate::procs;
use crate::report::Report;
use crate::rig::{BUCKET, Pipeline, Services, Upload};

const CHUNK: usize = 1 << 20;

pub async fn large_object(services: &Services, pipe: &mut Pipeline, mib: usize, report: &mut Report) -> Result<()> {
    let settings = docflow::settings::Settings::load(None, Some(pipe.env.clone()))?;
    let store = Store::new(&settings.s3)?;
    let key = format!("{}-s6/trainee-1/lesson-{mib}MiB.mp4", pipe.prefix);
    let size = (mib * CHUNK) as u64;
    let mut first = vec![0u8, 0, 0, 0x18, b'f', b't', b'y', b'p', b'm', b'p', b'4', b'2'];
    first.resize(CHUNK, 5);
    let (first, rest) = (Bytes::from(first), Bytes::from(vec![5u8; CHUNK]));
    let chunks = (0..mib).map(move |i| std::io::Result::Ok(if i == 0 { first.clone() } else { rest.clone() }));
    store.put_stream(BUCKET, &key, Box::pin(futures_util::stream::iter(chunks)), size, "video/mp4").await?;
    let etag =
        services.s3.stat_object(BUCKET, &key)?.build().send().await?.etag()?.to_string().trim_matches('"').to_owned();
    let upload = Upload { key: key.clone(), size, etag, content_type: "video/mp4" };

    // The baseline, in this process: GET streamed into a multipart POST, as docflow's
    // transfer sends it.
    let (base_seconds, base_growth) = with_peak_rss("self", async {
        let (stream, length) = store.open(BUCKET, &key, None).await?;
        let metadata = serde_json::json!({
            "reference": uuid::Uuid::new_v4().to_string(), "kind": "video", "file_name": "baseline.mp4",
            "content_type": "video/mp4", "size": length, "callback_url": "http://127.0.0.1:9/nowhere",
        });
        let form = reqwest::multipart::Form::new()
            .part(
                "metadata",
                reqwest::multipart::Part::bytes(serde_json::to_vec(&metadata)?).mime_str("application/json")?,
            )
            .part(
                "file",
                reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(stream), length)
                    .file_name("baseline.mp4")
                    .mime_str("video/mp4")?,
            );
        let response = reqwest::Client::new()
            .post(format!("{}/v1/jobs", pipe.sim_url))
            .bearer_auth("sim-api-key")
            .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
            .multipart(form)
            .send()
            .await?;
        if !response.status().is_success() {
            bail!(
                "provider-sim refused the baseline upload: {} {}",
                response.status(),
                response.text().await.unwrap_or_default()
            );
        }
        Ok(())
    })
    .await?;

    let pid = pipe.docflow_pid().to_string();
    let (seconds, growth) = with_peak_rss(&pid, async {
        pipe.announce(&upload).await?;
        let published = Instant::now();
        loop {
            match pipe.state_of(&key).await?.as_deref() {
                Some("received") | None => {}
                Some("failed") | Some("rejected") => bail!("the large object failed in transfer; see docflow's log"),
                Some(_) => return Ok(()),
            }
            if published.elapsed() > Duration::from_secs(3600) {
                bail!("the large object was not submitted");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .context("scenario 6 (large object)")?;

    let mb = size as f64 / 1e6;
    report.add("large", "object_mib", mib as f64, "MiB");
    report.add("large", "baseline_mb_per_s", mb / base_seconds, "MB/s (S3 GET piped to POST)");
    report.add("large", "docflow_mb_per_s", mb / seconds, "MB/s (event to submitted)");
    report.add("large", "throughput_ratio_to_baseline", base_seconds / seconds, "x baseline");
    report.add("large", "baseline_rss_growth_mib", base_growth as f64 / (1 << 20) as f64, "MiB");
    report.add("large", "docflow_rss_growth_mib", growth as f64 / (1 << 20) as f64, "MiB");
    Ok(())
}

/// Runs `work`, sampling the VmRSS of `pid` every 20 ms: seconds taken and the largest
/// growth over the RSS before.
async fn with_peak_rss(pid: &str, work: impl Future<Output = Result<()>>) -> Result<(f64, u64)> {
    let before = procs::memory(pid).0;
    let stop = AtomicBool::new(false);
    let start = Instant::now();
    let work = async {
        let result = work.await;
        stop.store(true, Ordering::Relaxed);
        result.map(|()| start.elapsed().as_secs_f64())
    };
    let sampler = async {
        let mut peak = before;
        while !stop.load(Ordering::Relaxed) {
            peak = peak.max(procs::memory(pid).0);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        peak
    };
    let (seconds, peak) = tokio::join!(work, sampler);
    Ok((seconds?, peak.saturating_sub(before)))
}
