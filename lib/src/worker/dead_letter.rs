//! Dead letters: the original body on `{prefix}.dead.{stage}` with headers saying what
//! failed, published by the runtime (permanent failure, last attempt) and by the
//! max-deliveries advisory listener (deliveries ran out without a final attempt).

use std::borrow::Cow;
use std::sync::Arc;

use async_nats::HeaderMap;
use async_nats::jetstream::context::PublishAckFuture;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, publish::PublishAck};
use chrono::{SecondsFormat, Utc};
use futures_util::StreamExt;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::runtime::Bound;
use super::{Delivery, Stage, WorkerError};
use crate::ids::StageId;
use crate::nats::Names;

pub const STAGE: &str = "Docflow-Stage";
pub const ERROR: &str = "Docflow-Error";
pub const ATTEMPTS: &str = "Docflow-Attempts";
pub const ORIGINAL_SUBJECT: &str = "Docflow-Original-Subject";
pub const FAILED_AT: &str = "Docflow-Failed-At";
pub const DOCUMENT_ID: &str = "Docflow-Document-Id";
pub const TRACEPARENT: &str = "traceparent";

/// The reason given when deliveries ran out without the worker handling a last attempt.
pub const EXHAUSTED: &str = "deliveries exhausted without a final attempt (crash loop?)";

#[derive(Debug, thiserror::Error)]
#[error(
    "cannot publish the dead letter of {stream} #{sequence} to {subject}: {detail}; is the {dead_stream} stream there (`docflow setup`)?"
)]
pub struct DeadLetterError {
    pub stream: String,
    pub sequence: u64,
    pub subject: String,
    pub dead_stream: String,
    pub detail: String,
}

/// Publishes the dead letter of `delivery` (taken from `stream`) and waits for the
/// server's ack. Its `Nats-Msg-Id` is `{stream}:{stream_sequence}`, so the runtime and
/// the advisory listener dead-lettering the same message store it once (within the dead
/// stream's duplicate window); `PublishAck::duplicate` tells the second one.
pub async fn publish_dead_letter(
    js: &jetstream::Context,
    names: &Names,
    stage: StageId,
    stream: &str,
    delivery: &Delivery,
    reason: &str,
) -> Result<PublishAck, DeadLetterError> {
    let subject = stage.dead_subject(names);
    let err = |detail: String| DeadLetterError {
        stream: stream.to_owned(),
        sequence: delivery.stream_sequence,
        subject: subject.clone(),
        dead_stream: names.stream(crate::topology::DEAD_STREAM),
        detail,
    };
    let mut headers = HeaderMap::new();
    for name in [DOCUMENT_ID, TRACEPARENT] {
        if let Some(value) = delivery.header(name) {
            headers.insert(name, value);
        }
    }
    headers.insert(STAGE, stage.as_str());
    headers.insert(ERROR, header_safe(reason).as_str());
    headers.insert(ATTEMPTS, delivery.attempt.to_string().as_str());
    headers.insert(ORIGINAL_SUBJECT, delivery.subject.as_str());
    headers.insert(FAILED_AT, Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true).as_str());
    let publish = PublishMessage::build()
        .payload(delivery.payload.clone())
        .headers(headers)
        .message_id(format!("{stream}:{}", delivery.stream_sequence));
    let ack: PublishAckFuture = js.send_publish(subject.clone(), publish).await.map_err(|e| err(e.to_string()))?;
    ack.await.map_err(|e| err(e.to_string()))
}

/// `delivery` as its dead letter should show it: when the message did not name its
/// document (or carried no `traceparent`) and the stage can tell which document it
/// concerns, with `Docflow-Document-Id` and a `traceparent` derived from it.
pub(crate) fn named<'a, S: Stage>(stage: &S, delivery: &'a Delivery) -> Cow<'a, Delivery> {
    if delivery.header(DOCUMENT_ID).is_some() && delivery.header(TRACEPARENT).is_some() {
        return Cow::Borrowed(delivery);
    }
    let id = match delivery.header(DOCUMENT_ID) {
        Some(header) => header.parse().ok(),
        None => stage.document_of(delivery),
    };
    let Some(id) = id else { return Cow::Borrowed(delivery) };
    let mut named = delivery.clone();
    if named.header(DOCUMENT_ID).is_none() {
        named.headers.insert(DOCUMENT_ID, id.to_string().as_str());
    }
    if named.header(TRACEPARENT).is_none() {
        named.headers.insert(TRACEPARENT, crate::messages::traceparent_for(id).as_str());
    }
    Cow::Owned(named)
}

/// A header value on one line, at most 1 KiB.
fn header_safe(text: &str) -> String {
    let mut line: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if line.len() > 1024 {
        let mut end = 1024;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        line.truncate(end);
    }
    line
}

#[derive(Debug, Deserialize)]
struct MaxDeliveries {
    stream_seq: u64,
    deliveries: u64,
}

/// The safety net: JetStream's max-deliveries advisory for the stage's consumer. One
/// subscriber per queue group handles each advisory: it reads the message, dead-letters
/// it, tells the stage and deletes it from the work-queue stream (JetStream keeps it).
///
/// Up to nats-server 2.10 the advisory fires only when the server tries the delivery
/// after the last, i.e. while a pull request is waiting; since 2.11 when the last ack
/// deadline passes.
pub(crate) async fn listen_advisories<S: Stage>(
    bound: Arc<Bound<S>>,
    shutdown: CancellationToken,
) -> Result<(), WorkerError> {
    let subject = format!("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{}.{}", bound.stream_name, bound.consumer_name);
    let group = format!("{}-dead-{}", bound.names.prefix(), bound.stage.id().as_str());
    let mut advisories = bound
        .client
        .queue_subscribe(subject.clone(), group)
        .await
        .map_err(|e| WorkerError::Advisories { subject: subject.clone(), detail: e.to_string() })?;
    loop {
        let message = tokio::select! {
            _ = shutdown.cancelled() => break,
            message = advisories.next() => match message {
                Some(message) => message,
                None => break,
            },
        };
        let advisory: MaxDeliveries = match serde_json::from_slice(&message.payload) {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(%subject, error = %e, "unreadable max-deliveries advisory");
                continue;
            }
        };
        let span = tracing::info_span!(
            "exhausted",
            stage = bound.stage.id().as_str(),
            stream_seq = advisory.stream_seq,
            deliveries = advisory.deliveries
        );
        if let Err(e) = dead_letter_exhausted(&bound, &advisory).instrument(span.clone()).await {
            // The message stays in the work-queue stream: `nats stream view` shows it.
            span.in_scope(|| tracing::error!(error = %e, "cannot dead-letter an exhausted message"));
        }
    }
    let _ = advisories.unsubscribe().await;
    Ok(())
}

async fn dead_letter_exhausted<S: Stage>(bound: &Bound<S>, advisory: &MaxDeliveries) -> Result<(), String> {
    let stream = bound.js.get_stream_no_info(&bound.stream_name).await.map_err(|e| e.to_string())?;
    let message = match stream.get_raw_message(advisory.stream_seq).await {
        Ok(message) => message,
        Err(e) => {
            // Gone already: acked late, or another listener handled it.
            tracing::debug!(error = %e, "exhausted message no longer in the stream");
            return Ok(());
        }
    };
    let spent = super::hold::spent(&message.headers).unwrap_or(0);
    let delivery = Delivery {
        subject: message.subject.to_string(),
        headers: message.headers,
        payload: message.payload,
        attempt: spent + advisory.deliveries,
        delivered: advisory.deliveries,
        max_deliver: bound.max_deliver,
        stream_sequence: message.sequence,
    };
    let delivery = named(bound.stage.as_ref(), &delivery).into_owned();
    let ack = publish_dead_letter(&bound.js, &bound.names, bound.stage.id(), &bound.stream_name, &delivery, EXHAUSTED)
        .await
        .map_err(|e| e.to_string())?;
    if ack.duplicate {
        tracing::info!("dead letter already published by the worker");
    } else {
        tracing::warn!(reason = EXHAUSTED, "message dead-lettered");
        bound.stage.on_dead_letter(&delivery, EXHAUSTED, None).await;
    }
    stream.delete_message(advisory.stream_seq).await.map_err(|e| e.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use async_nats::HeaderMap;
    use bytes::Bytes;

    use super::{DOCUMENT_ID, TRACEPARENT, header_safe, named};
    use crate::ids::DocumentId;
    use crate::worker::{Delivery, Outcome, Stage};

    /// A stage that reads the document id from the body.
    struct BodyNames;

    impl Stage for BodyNames {
        fn id(&self) -> crate::ids::StageId {
            crate::ids::StageId::Transfer
        }
        async fn step(&self, _: &Delivery) -> Outcome {
            Outcome::Done
        }
        fn document_of(&self, delivery: &Delivery) -> Option<DocumentId> {
            std::str::from_utf8(&delivery.payload).ok()?.parse().ok()
        }
    }

    fn delivery(body: &str, headers: &[(&str, &str)]) -> Delivery {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, *v);
        }
        Delivery {
            subject: "p.uploads.minio".into(),
            headers: map,
            payload: Bytes::from(body.to_owned()),
            attempt: 1,
            delivered: 1,
            max_deliver: 5,
            stream_sequence: 7,
        }
    }

    const ID: &str = "5b0a3c1e-0000-4000-8000-000000000001";

    #[test]
    fn a_dead_letter_names_the_document_the_stage_derives_with_a_traceparent() {
        let plain = delivery(ID, &[]);
        let named = named(&BodyNames, &plain);
        assert_eq!(named.header(DOCUMENT_ID), Some(ID));
        let trace = named.header(TRACEPARENT).unwrap();
        assert_eq!(trace.len(), 55, "{trace}");
        assert!(trace.starts_with(&format!("00-{}", ID.replace('-', ""))), "{trace}");
    }

    #[test]
    fn the_headers_a_message_carried_are_kept() {
        let trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let carried = delivery("not an id", &[(DOCUMENT_ID, ID), (TRACEPARENT, trace)]);
        assert!(matches!(named(&BodyNames, &carried), std::borrow::Cow::Borrowed(_)));
        let id_only = delivery("not an id", &[(DOCUMENT_ID, ID)]);
        assert_eq!(named(&BodyNames, &id_only).header(DOCUMENT_ID), Some(ID));
        assert!(named(&BodyNames, &id_only).header(TRACEPARENT).is_some());
    }

    #[test]
    fn a_message_about_no_known_document_is_left_as_it_is() {
        let unknown = delivery("garbage", &[]);
        let named = named(&BodyNames, &unknown);
        assert_eq!(named.header(DOCUMENT_ID), None);
        assert_eq!(named.header(TRACEPARENT), None);
    }

    #[test]
    fn header_values_stay_on_one_line_and_short() {
        assert_eq!(header_safe("a\r\nb"), "a  b");
        assert_eq!(header_safe(&"é".repeat(600)).len(), 1024);
    }
}
