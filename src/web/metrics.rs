//! Prometheus metrics: requests by route and outcome, acknowledgement latency, outbox depth and
//! age, delivery failures by platform and error. One registry per app, so tests stay separate.

use crate::delivery::DeliveryObserver;
use crate::directory::Platform;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

/// The app's metrics.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub ack_latency: HistogramVec,
    pub outbox_pending: IntGauge,
    pub outbox_parked: IntGauge,
    /// Posts kept for workspaces where escalation-bot must be installed again.
    pub outbox_held: IntGauge,
    pub outbox_oldest_age_seconds: IntGauge,
    pub deliveries: IntCounterVec,
    pub delivery_failures: IntCounterVec,
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new_custom(Some("escalation_bot".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by route and outcome"),
            &["route", "outcome"],
        )?;
        let ack_latency = HistogramVec::new(
            HistogramOpts::new("ack_latency_seconds", "Time to answer a platform request").buckets(
                vec![
                    0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0,
                ],
            ),
            &["route"],
        )?;
        let outbox_pending = IntGauge::new("outbox_pending", "Posts waiting to be delivered")?;
        let outbox_parked = IntGauge::new(
            "outbox_parked",
            "Posts that could not be delivered and were set aside",
        )?;
        let outbox_held = IntGauge::new(
            "outbox_held",
            "Posts kept until escalation-bot is installed again in their workspace",
        )?;
        let outbox_oldest_age_seconds = IntGauge::new(
            "outbox_oldest_age_seconds",
            "Age of the oldest post waiting",
        )?;
        let deliveries = IntCounterVec::new(
            Opts::new("deliveries_total", "Posts delivered"),
            &["platform"],
        )?;
        let delivery_failures = IntCounterVec::new(
            Opts::new(
                "delivery_failures_total",
                "Failed post attempts by platform and error",
            ),
            &["platform", "error", "parked"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(ack_latency.clone()))?;
        registry.register(Box::new(outbox_pending.clone()))?;
        registry.register(Box::new(outbox_parked.clone()))?;
        registry.register(Box::new(outbox_held.clone()))?;
        registry.register(Box::new(outbox_oldest_age_seconds.clone()))?;
        registry.register(Box::new(deliveries.clone()))?;
        registry.register(Box::new(delivery_failures.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            ack_latency,
            outbox_pending,
            outbox_parked,
            outbox_held,
            outbox_oldest_age_seconds,
            deliveries,
            delivery_failures,
        })
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let encoder = TextEncoder::new();
        if encoder.encode(&self.registry.gather(), &mut buf).is_err() {
            return String::new();
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl DeliveryObserver for Metrics {
    fn sent(&self, platform: Platform) {
        let platform = platform.to_string();
        self.deliveries
            .with_label_values(&[platform.as_str()])
            .inc();
    }

    fn failed(&self, platform: Platform, error: &str, parked: bool) {
        let platform = platform.to_string();
        let parked = if parked { "true" } else { "false" };
        self.delivery_failures
            .with_label_values(&[platform.as_str(), error, parked])
            .inc();
    }
}
