//! `GET /healthz` (the process answers), `GET /readyz` (it can do its work: NATS is
//! connected) and `GET /metrics`.

use async_nats::connection::State as NatsState;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{ApiError, GatewayState};

pub(super) async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the NATS connection is up: every route that stores something needs it.
/// The object store is not checked: only `POST /v1/uploads` needs it, and presigning
/// makes no request.
pub(super) async fn readyz(State(state): State<GatewayState>) -> Response {
    match state.jetstream.client().connection_state() {
        NatsState::Connected => Json(json!({"status": "ready", "nats": "connected"})).into_response(),
        other => {
            let nats = match other {
                NatsState::Pending => "connecting",
                _ => "disconnected",
            };
            ApiError::unavailable("not ready")
                .detail(json!({"nats": nats, "url": state.settings.nats.url}))
                .into_response()
        }
    }
}

pub(super) async fn metrics() -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], crate::metrics::render())
        .into_response()
}
