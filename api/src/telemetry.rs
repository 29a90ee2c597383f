//! Structured logs with `tracing`: a subscriber for the process, text for
//! people or JSON for log pipelines. Every request runs in a span that carries
//! its `request_id` (see [`crate::http::middleware`]), so every line a request
//! causes names it. This module never logs a secret: types that hold one do
//! not print it (their `Debug` is redacted).

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::config::LogFormat;

/// Installs the global subscriber. Call once, at the start of the process;
/// a second call (as in tests that start several servers) is a no-op.
pub fn init(filter: &str, format: LogFormat) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(FmtSpan::NONE)
        .with_target(true)
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
    // Already installed: keep the first.
    drop(result);
}
