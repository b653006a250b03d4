//! `docflow status ID_OR_BUCKET/KEY [--json]`: a document's state and timeline;
//! `docflow status [--json | --watch]`: the whole pipeline at a glance (`docflow::ops`).

use std::process::ExitCode;

use docflow::db::Db;
use docflow::ids::DocumentId;
use docflow::settings::Settings;

use crate::outln;

/// The pipeline overview once (text or JSON), or redrawn until Ctrl-C.
pub async fn overview(settings: &Settings, json: bool, watch: Option<std::time::Duration>) -> anyhow::Result<ExitCode> {
    let ops = docflow::ops::Ops::connect(settings).await?;
    if let Some(every) = watch {
        let stop = tokio_util::sync::CancellationToken::new();
        let cancel = stop.clone();
        tokio::spawn(async move {
            tokio::signal::ctrl_c().await.ok();
            cancel.cancel();
        });
        docflow::ops::render::watch(&ops, every, &mut std::io::stdout(), stop).await?;
        return Ok(ExitCode::SUCCESS);
    }
    let overview = ops.overview().await?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&docflow::ops::render::json(&overview))?)?;
    } else {
        use std::io::Write as _;
        write!(std::io::stdout().lock(), "{}", docflow::ops::render::text(&overview))?;
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run(settings: &Settings, id_or_key: &str, json: bool) -> anyhow::Result<ExitCode> {
    let db = Db::connect(&settings.database).await?;
    let document = match id_or_key.parse::<DocumentId>() {
        Ok(id) => db.get(id).await?,
        Err(_) => {
            let Some((bucket, key)) = id_or_key.split_once('/') else {
                anyhow::bail!("{id_or_key:?} is neither a document id (UUID) nor BUCKET/KEY");
            };
            db.find_latest_by_key(bucket, key).await?
        }
    };
    let Some(document) = document else {
        anyhow::bail!("no document {id_or_key}; `docflow status` takes a document id or the BUCKET/KEY of an upload");
    };
    let timeline = db.timeline(document.id).await?;
    if json {
        let value = serde_json::json!({
            "id": document.id, "state": document.state.as_str(), "kind": document.kind.as_str(),
            "uploader_id": document.uploader_id, "bucket": document.bucket, "key": document.key,
            "size": document.size, "content_type": document.content_type, "provider": document.provider,
            "provider_job_id": document.provider_job_id, "attempts": document.attempts,
            "created_at": document.created_at, "updated_at": document.updated_at,
            "error": document.error_stage.as_ref().map(|stage| serde_json::json!({"stage": stage, "reason": document.error_reason})),
            "timeline": timeline.iter().map(|t| serde_json::json!({
                "at": t.at, "state": t.state.as_str(), "stage": t.stage, "attempt": t.attempt, "reason": t.reason,
            })).collect::<Vec<_>>(),
        });
        outln!("{}", serde_json::to_string_pretty(&value)?)?;
    } else {
        outln!(
            "{}  {}  {}  {}/{}",
            document.id,
            document.state.as_str(),
            document.kind.as_str(),
            document.bucket,
            document.key
        )?;
        if let Some(job) = &document.provider_job_id {
            outln!("provider {} job {job}", document.provider)?;
        }
        if let (Some(stage), Some(reason)) = (&document.error_stage, &document.error_reason) {
            outln!("error in {stage}: {reason}")?;
        }
        for t in &timeline {
            outln!(
                "  {}  {:<10} {:<9} attempt {}  {}",
                t.at.format("%Y-%m-%d %H:%M:%S%.3f"),
                t.state.as_str(),
                t.stage,
                t.attempt,
                t.reason.as_deref().unwrap_or("")
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
