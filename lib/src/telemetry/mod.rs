//! Logs and traces. Logs go to stderr, as text or as JSON lines (`[log] format`, or
//! `--log-format`). With `[telemetry] otlp_endpoint` set, every span is also exported to
//! an OpenTelemetry collector over OTLP/HTTP (protobuf), so one document's work across
//! processes reads as one trace: each message's span takes the `traceparent` the message
//! carries as its parent (see [`link`]), and whatever the step publishes carries the
//! step's own span on (see [`current_traceparent`]). A document's trace id is its id
//! (`messages::traceparent_for`), whichever process starts it.

use std::time::Duration;

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, TracerProvider};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// What a process logs and exports.
#[derive(Debug, Clone, Default)]
pub struct Telemetry {
    /// `text` or `json`.
    pub log_format: String,
    /// The filter when `RUST_LOG` is unset (`info`, `warn`, `docflow=debug`...).
    pub level: String,
    /// The collector's OTLP/HTTP address (`http://collector:4318`); spans go to
    /// `{endpoint}/v1/traces`. None: no export.
    pub otlp_endpoint: Option<String>,
    /// `service.name` of the exported spans.
    pub service_name: String,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "cannot export traces to telemetry.otlp_endpoint {endpoint:?}: {detail}; set it to the collector's OTLP/HTTP address, e.g. http://127.0.0.1:4318"
)]
pub struct TelemetryError {
    pub endpoint: String,
    pub detail: String,
}

/// Flushes the spans not yet exported when dropped (the end of `main`).
#[must_use = "dropping the guard at once stops the export"]
pub struct Guard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(error) = provider.shutdown_with_timeout(Duration::from_secs(5))
        {
            eprintln!("warning: traces not all exported at exit: {error}");
        }
    }
}

/// Installs the process's subscriber: the log layer, and the OTLP export when asked.
pub fn init(telemetry: &Telemetry) -> Result<Guard, TelemetryError> {
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&telemetry.level));
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs = if telemetry.log_format == "json" { logs.json().boxed() } else { logs.boxed() };
    let Some(endpoint) = telemetry.otlp_endpoint.as_deref().filter(|e| !e.trim().is_empty()) else {
        tracing_subscriber::registry().with(logs.with_filter(filter())).init();
        return Ok(Guard { provider: None });
    };
    let provider = provider(endpoint, &telemetry.service_name)?;
    let tracer = provider.tracer("docflow");
    // Spans are exported at info and above whatever the log level: a quiet log still
    // gives complete traces.
    let traces = tracing_opentelemetry::layer().with_tracer(tracer).with_filter(EnvFilter::new("info"));
    tracing_subscriber::registry().with(logs.with_filter(filter())).with(traces).init();
    Ok(Guard { provider: Some(provider) })
}

fn provider(endpoint: &str, service_name: &str) -> Result<SdkTracerProvider, TelemetryError> {
    use opentelemetry_otlp::WithExportConfig;
    let fail = |detail: String| TelemetryError { endpoint: crate::redact::url(endpoint), detail };
    let url = traces_url(endpoint).map_err(fail)?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(url)
        .with_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let resource = Resource::builder()
        .with_service_name(service_name.to_owned())
        .with_attributes([
            KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
            KeyValue::new("process.pid", i64::from(std::process::id())),
        ])
        .build();
    Ok(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource).build())
}

/// `{endpoint}/v1/traces`, unless the endpoint already names a path.
fn traces_url(endpoint: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(endpoint.trim()).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("expected an http:// or https:// URL".into());
    }
    Ok(match url.path() {
        "" | "/" => format!("{}/v1/traces", url.as_str().trim_end_matches('/')),
        _ => url.to_string(),
    })
}

/// The W3C `traceparent` as a remote parent: `00-{trace}-{span}-{flags}`.
pub fn parse_traceparent(value: &str) -> Option<SpanContext> {
    let mut parts = value.trim().split('-');
    let (version, trace, span, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if version != "00" || parts.next().is_some() || trace.len() != 32 || span.len() != 16 || flags.len() != 2 {
        return None;
    }
    let trace = TraceId::from_hex(trace).ok().filter(|t| *t != TraceId::INVALID)?;
    let span = SpanId::from_hex(span).ok().filter(|s| *s != SpanId::INVALID)?;
    let flags = u8::from_str_radix(flags, 16).ok()?;
    Some(SpanContext::new(trace, span, TraceFlags::new(flags), true, TraceState::default()))
}

/// Makes `span` a child of the `traceparent` a message or request carried; a missing or
/// malformed one leaves the span where it is. Does nothing without the OTLP export.
pub fn link(span: &tracing::Span, traceparent: Option<&str>) {
    if let Some(parent) = traceparent.and_then(parse_traceparent) {
        let _ = span.set_parent(Context::new().with_remote_span_context(parent));
    }
}

/// The current span's context as a `traceparent`, to carry on what it publishes; `None`
/// when no span is exported (no OTLP endpoint, or outside any span).
pub fn current_traceparent() -> Option<String> {
    let context = tracing::Span::current().context();
    let span = context.span();
    let span = span.span_context();
    span.is_valid().then(|| format!("00-{}-{}-{:02x}", span.trace_id(), span.span_id(), span.trace_flags().to_u8()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traceparent_parses_into_a_remote_sampled_parent() {
        let parent = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(parent.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(parent.span_id().to_string(), "00f067aa0ba902b7");
        assert!(parent.is_sampled() && parent.is_remote());
        for bad in [
            "",
            "garbage",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f35-00f067aa0ba902b7-01",
        ] {
            assert!(parse_traceparent(bad).is_none(), "{bad:?}");
        }
    }

    /// What the worker runtime and the gateway rely on: a span linked to a message's
    /// `traceparent` continues its trace, and what it publishes carries that trace on.
    #[test]
    fn a_linked_span_continues_the_carried_trace_and_hands_it_on() {
        let provider = SdkTracerProvider::builder().build();
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            let carried = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
            let span = tracing::info_span!("message");
            link(&span, Some(carried));
            let handed = span.in_scope(current_traceparent).expect("a span's traceparent");
            assert!(handed.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"), "{handed}");
            assert!(!handed.contains("00f067aa0ba902b7"), "the child's own span id: {handed}");
            assert!(handed.ends_with("-01"), "{handed}");
        });
        assert_eq!(current_traceparent(), None, "outside any exported span");
    }

    #[test]
    fn the_endpoint_gets_the_traces_path_unless_it_names_one() {
        assert_eq!(traces_url("http://127.0.0.1:4318").unwrap(), "http://127.0.0.1:4318/v1/traces");
        assert_eq!(traces_url("http://c:4318/").unwrap(), "http://c:4318/v1/traces");
        assert_eq!(traces_url("https://c/otlp/v1/traces").unwrap(), "https://c/otlp/v1/traces");
        assert!(traces_url("collector:4318").is_err());
    }
}
