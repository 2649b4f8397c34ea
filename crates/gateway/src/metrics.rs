//! Prometheus metrics for `/metrics` on the control listener.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    connection: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConnectionLabels {
    connection: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

/// The gateway's metrics. Connection names come from config, never from agents, so
/// label cardinality stays bounded.
pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    duration: Family<ConnectionLabels, Histogram>,
    refused: Family<ReasonLabels, Counter>,
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let mut registry = Registry::with_prefix("portcullis");
        let requests = Family::<RequestLabels, Counter>::default();
        let duration = Family::<ConnectionLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
        });
        let refused = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests on the data listener by connection and status",
            requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time from request head to response head, by connection",
            duration.clone(),
        );
        registry.register("refused", "Requests the gateway refused itself, by reason code", refused.clone());
        Metrics { registry, requests, duration, refused }
    }

    pub(crate) fn observe(&self, connection: &str, status: u16, elapsed: Duration) {
        let connection = connection.to_owned();
        self.requests.get_or_create(&RequestLabels { connection: connection.clone(), status }).inc();
        self.duration.get_or_create(&ConnectionLabels { connection }).observe(elapsed.as_secs_f64());
    }

    pub(crate) fn refused(&self, reason: &'static str) {
        self.refused.get_or_create(&ReasonLabels { reason }).inc();
    }

    /// The Prometheus text exposition.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
