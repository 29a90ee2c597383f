//! Prometheus metrics: request counts and latency histograms by method, route
//! template and status, and the database pool's usage, served at `/metrics`
//! in the OpenMetrics text format.
//!
//! Labels are bounded: a route is its template (`/v1/users/{user_id}`), never
//! the path a client sent, and unmatched paths share the label `unmatched`.
//! Nothing here may carry a secret or a personal identifier.

use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// The media type of the `/metrics` body.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The media type of the Prometheus text format, for scrapers that ask for
/// `text/plain`.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The same metrics in the Prometheus text format 0.0.4, from their
/// OpenMetrics form: a counter's family is named as its samples are
/// (`…_total`), and what 0.0.4 has no word for (`# UNIT`, `# EOF`, a
/// counter's `_created` sample) is left out.
pub fn prometheus_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let described = ["# HELP ", "# TYPE "]
            .iter()
            .find_map(|prefix| line.strip_prefix(prefix).map(|rest| (*prefix, rest)));
        if let Some((prefix, rest)) = described {
            let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            if counters.contains(name) {
                out.push_str(&format!("{prefix}{name}_total {tail}\n"));
                continue;
            }
        } else {
            let name = line.split(['{', ' ']).next().unwrap_or_default();
            let created = name
                .strip_suffix("_created")
                .is_some_and(|family| counters.contains(family));
            if created {
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The route label of requests that matched no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EmailLabels {
    template: String,
    outcome: &'static str,
}

/// The process's metrics. One per server, shared by all workers.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RequestLabels, Histogram>,
    pool_connections: Gauge,
    pool_idle: Gauge,
    pool_max: Gauge,
    emails: Family<EmailLabels, Counter>,
    /// Serializes scrapes: gauges are set and encoded as one step.
    scrape: Mutex<()>,
}

/// What the database pool reports at scrape time.
#[derive(Debug, Clone, Copy)]
pub struct PoolUsage {
    pub connections: u32,
    pub idle: u32,
    pub max: u32,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms to ~16 s, doubling.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.0005, 2.0, 16,
    ))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("custodian");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            requests.clone(),
        );
        let latency = Family::<RequestLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register_with_unit(
            "http_request_duration",
            "Time to answer an HTTP request, by method, route template and status",
            Unit::Seconds,
            latency.clone(),
        );
        let pool_connections = Gauge::default();
        registry.register(
            "db_pool_connections",
            "Open database connections (idle and in use)",
            pool_connections.clone(),
        );
        let pool_idle = Gauge::default();
        registry.register(
            "db_pool_idle_connections",
            "Idle database connections",
            pool_idle.clone(),
        );
        let pool_max = Gauge::default();
        registry.register(
            "db_pool_max_connections",
            "The most connections the database pool will open",
            pool_max.clone(),
        );
        let emails = Family::<EmailLabels, Counter>::default();
        registry.register(
            "email_attempts",
            "Outbox delivery tries, by template and outcome (sent, retrying, dead)",
            emails.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            pool_connections,
            pool_idle,
            pool_max,
            emails,
            scrape: Mutex::new(()),
        }
    }
}

impl Metrics {
    /// Records one answered request. `route` is the matched template, or
    /// [`UNMATCHED_ROUTE`].
    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        // actix accepts any method token; only the standard ones become labels.
        const METHODS: &[&str] = &[
            "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT",
        ];
        let method = if METHODS.contains(&method) {
            method
        } else {
            "other"
        };
        let labels = RequestLabels {
            method: method.to_owned(),
            route: route.to_owned(),
            status,
        };
        self.requests.get_or_create(&labels).inc();
        self.latency
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// Records one outbox delivery try. `template` names a template (a
    /// fixed set), never a recipient.
    pub fn email(&self, template: &str, outcome: &'static str) {
        self.emails
            .get_or_create(&EmailLabels {
                template: template.to_owned(),
                outcome,
            })
            .inc();
    }

    /// Encodes every metric, with the pool's usage as of now.
    pub fn render(&self, pool: PoolUsage) -> String {
        let _guard = self.scrape.lock().unwrap_or_else(|e| e.into_inner());
        self.pool_connections.set(i64::from(pool.connections));
        self.pool_idle.set(i64::from(pool.idle));
        self.pool_max.set(i64::from(pool.max));
        let mut out = String::with_capacity(8 * 1024);
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_format_names_counters_by_their_samples() {
        let metrics = Metrics::default();
        metrics.observe_request("GET", "/healthz", 200, Duration::from_millis(3));
        metrics.email("master_password_reset", "sent");
        let openmetrics = metrics.render(PoolUsage {
            connections: 2,
            idle: 1,
            max: 16,
        });
        let text = prometheus_text(&openmetrics);
        assert!(
            text.contains("# TYPE custodian_http_requests_total counter\n"),
            "{text}"
        );
        assert!(text.contains("# HELP custodian_http_requests_total HTTP requests"));
        assert!(text.contains("custodian_http_requests_total{"));
        assert!(text.contains("# TYPE custodian_http_request_duration_seconds histogram"));
        assert!(text.contains("# TYPE custodian_db_pool_connections gauge"));
        assert!(
            !text.contains("# EOF") && !text.contains("# UNIT"),
            "{text}"
        );
        // Every family has its HELP.
        let types = text.lines().filter(|l| l.starts_with("# TYPE ")).count();
        let helps = text.lines().filter(|l| l.starts_with("# HELP ")).count();
        assert_eq!(types, helps);
    }

    #[test]
    fn renders_requests_latency_and_pool() {
        let metrics = Metrics::default();
        metrics.observe_request("GET", "/v1/users/{user_id}", 200, Duration::from_millis(3));
        metrics.observe_request("GET", "/v1/users/{user_id}", 200, Duration::from_millis(5));
        let text = metrics.render(PoolUsage {
            connections: 3,
            idle: 2,
            max: 16,
        });
        assert!(
            text.contains(
                r#"custodian_http_requests_total{method="GET",route="/v1/users/{user_id}",status="200"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains("custodian_http_request_duration_seconds_count{"),
            "{text}"
        );
        assert!(
            text.contains("custodian_db_pool_max_connections 16"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn unknown_methods_share_one_label() {
        let metrics = Metrics::default();
        for method in ["FOO1", "FOO2", "BREW"] {
            metrics.observe_request(method, UNMATCHED_ROUTE, 404, Duration::from_millis(1));
        }
        let text = metrics.render(PoolUsage {
            connections: 0,
            idle: 0,
            max: 1,
        });
        assert!(
            text.contains(
                r#"custodian_http_requests_total{method="other",route="unmatched",status="404"} 3"#
            ),
            "{text}"
        );
        assert!(!text.contains("FOO1"));
    }
}
