//! Section 5 of `docs/provider-protocol.md`: `DELETE /v1/jobs/{job_id}` asks the provider
//! to erase its copy of the upload and of the results. Like the other calls, the client
//! never retries: the forget stage's message is redelivered.

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, RETRY_AFTER};
use secrecy::ExposeSecret;

use super::client::{ProviderClient, answered, parse_retry_after};
use crate::ids::JobId;

/// How much of a refusal's body goes into its detail.
const DETAIL_LIMIT: usize = 512;

/// What the provider's answer to a deletion means for docflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deletion {
    /// 2xx: the provider erased its copy.
    Erased,
    /// 404: the provider does not know the job (already erased, or expired): success.
    AlreadyGone,
    /// 429, 408, 5xx, no answer, or an answer the protocol does not name: ask again
    /// later (no sooner than `retry_after` when the provider said).
    Transient { retry_after: Option<Duration>, detail: String },
    /// Any other 4xx: asking again cannot help. Recorded and reported to the operator,
    /// who takes it up with the provider.
    Refused { status: u16, detail: String },
}

impl Deletion {
    /// True when the provider holds no copy any more.
    pub fn is_done(&self) -> bool {
        matches!(self, Deletion::Erased | Deletion::AlreadyGone)
    }
}

/// The protocol's table for the answer to a deletion.
pub fn classify(
    provider: &str,
    status: StatusCode,
    retry_after: Option<&str>,
    body: &str,
    now: SystemTime,
) -> Deletion {
    let code = status.as_u16();
    let detail = answered(provider, code, body);
    match code {
        200..=299 => Deletion::Erased,
        404 => Deletion::AlreadyGone,
        429 => Deletion::Transient { retry_after: retry_after.and_then(|v| parse_retry_after(v, now)), detail },
        408 => Deletion::Transient { retry_after: None, detail },
        400..=499 => Deletion::Refused { status: code, detail },
        // 5xx, and redirects (not followed: they would carry the API key elsewhere).
        _ => Deletion::Transient { retry_after: None, detail },
    }
}

impl ProviderClient {
    /// `DELETE /v1/jobs/{job_id}`. No answer within the provider's `idle_timeout` (the
    /// request has no body to keep moving) is transient.
    pub async fn delete_job(&self, job_id: &JobId) -> Deletion {
        let (http, base_url, api_key, idle_timeout) = self.parts();
        let mut url = base_url.join("v1/jobs/").expect("a relative path joins onto an http(s) base URL");
        url.path_segments_mut().expect("an http(s) URL has path segments").pop_if_empty().push(job_id.as_str());
        let request = http.delete(url.clone()).header(AUTHORIZATION, format!("Bearer {}", api_key.expose_secret()));
        let answer = tokio::time::timeout(idle_timeout, async {
            let response = request.send().await?;
            let status = response.status();
            let retry_after = response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_owned);
            let body = response.bytes().await.unwrap_or_default();
            Ok::<_, reqwest::Error>((status, retry_after, body))
        })
        .await;
        match answer {
            Ok(Ok((status, retry_after, body))) => {
                let body = String::from_utf8_lossy(&body[..body.len().min(DETAIL_LIMIT)]).trim().to_owned();
                classify(self.name(), status, retry_after.as_deref(), &body, SystemTime::now())
            }
            Ok(Err(error)) => Deletion::Transient {
                retry_after: None,
                detail: crate::redact::text(&format!("provider {}: cannot delete at {url}: {error}", self.name())),
            },
            Err(_) => Deletion::Transient {
                retry_after: None,
                detail: format!(
                    "provider {}: no answer to the deletion within {idle_timeout:?} (providers.{}.idle_timeout)",
                    self.name(),
                    self.name()
                ),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(code: u16, retry_after: Option<&str>) -> Deletion {
        classify("acme", StatusCode::from_u16(code).unwrap(), retry_after, "", SystemTime::UNIX_EPOCH)
    }

    #[test]
    fn a_204_is_erased_and_a_404_is_already_gone_both_done() {
        assert_eq!(answer(204, None), Deletion::Erased);
        assert_eq!(answer(200, None), Deletion::Erased);
        assert_eq!(answer(404, None), Deletion::AlreadyGone);
        assert!(answer(204, None).is_done() && answer(404, None).is_done());
    }

    #[test]
    fn throttling_server_errors_and_timeouts_are_transient() {
        assert_eq!(
            answer(429, Some("7")),
            Deletion::Transient {
                retry_after: Some(Duration::from_secs(7)),
                detail: "provider acme answered 429".into()
            }
        );
        for code in [408, 500, 502, 503, 504, 301] {
            let deletion = answer(code, None);
            assert!(matches!(deletion, Deletion::Transient { retry_after: None, .. }), "{code}: {deletion:?}");
            assert!(!deletion.is_done());
        }
    }

    #[test]
    fn other_client_errors_are_refusals_naming_the_status_and_body() {
        for code in [400, 401, 403, 409, 422] {
            assert!(matches!(answer(code, None), Deletion::Refused { status, .. } if status == code), "{code}");
        }
        let refused =
            classify("acme", StatusCode::FORBIDDEN, None, "{\"error\":\"legal hold\"}", SystemTime::UNIX_EPOCH);
        assert_eq!(
            refused,
            Deletion::Refused { status: 403, detail: "provider acme answered 403: {\"error\":\"legal hold\"}".into() }
        );
    }
}
