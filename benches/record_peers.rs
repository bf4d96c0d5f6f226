//! The peers of `Aggregator::record`: the same updates of one request
//! through the `metrics` crate (with `metrics-exporter-prometheus` as the
//! recorder), `prometheus` (tikv) and `prometheus-client`.
//!
//! The updates: the request counter, the error counter of its class when
//! it failed, the latency histogram, the cost counter and the surface x
//! status counter. Each peer comes in two forms: handles registered once,
//! including one per surface and class held in a `HashMap` keyed by
//! surface (the fastest way each library allows), and a "labels" form
//! that resolves the labelled counter through the library on each call.

use std::collections::HashMap;

use metrics_core::{Aggregator, RequestRecord};

use crate::{class_label, surface_names, CLASSES};

/// Prometheus bucket bounds of the duration histogram, in seconds.
const BUCKETS: [f64; 11] =
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Surfaces registered up front; the sample's `windsurf` is one of them.
fn surfaces() -> Vec<String> {
    let mut names = surface_names(31);
    names.push("windsurf".into());
    names
}

/// Something that counts one request.
pub trait Recorder: Sync {
    /// Counts `r`.
    fn record(&self, r: &RequestRecord);
}

impl Recorder for Aggregator {
    fn record(&self, r: &RequestRecord) {
        Aggregator::record(self, r);
    }
}

/// The control of the two-thread cases: `Aggregator::record` into an
/// aggregator of the calling thread's own, so that the threads share no
/// memory at all. Whatever two threads cost over one here comes from
/// the machine (two vCPUs that may be siblings of one core, a shared
/// host), not from sharing inside the aggregator; the thread-local
/// lookup adds a few nanoseconds to every call.
pub struct OwnAggregator;

thread_local! {
    static OWN: Aggregator = Aggregator::default();
}

impl Recorder for OwnAggregator {
    fn record(&self, r: &RequestRecord) {
        OWN.with(|own| own.record(r));
    }
}

/// `Aggregator::record` of the same request with its conversation id
/// taken away, which leaves the conversation table out. Beside
/// `metrics_core` it measures what that table costs a call: the peers
/// keep no such table.
pub struct WithoutConversation {
    aggregator: Aggregator,
    request: RequestRecord,
}

impl WithoutConversation {
    /// Records `request`, less its conversation id, on every call.
    pub fn new(request: &RequestRecord) -> Self {
        let mut request = request.clone();
        request.conversation_id = None;
        WithoutConversation { aggregator: Aggregator::default(), request }
    }
}

impl Recorder for WithoutConversation {
    /// Records the request given to `new`; `_r` is that request with
    /// its conversation id.
    fn record(&self, _r: &RequestRecord) {
        self.aggregator.record(std::hint::black_box(&self.request));
    }
}

/// The `metrics` facade with handles registered once.
pub struct MetricsCrate {
    requests: metrics::Counter,
    errors_4xx: metrics::Counter,
    errors_5xx: metrics::Counter,
    duration: metrics::Histogram,
    cost_nanos: metrics::Counter,
    by_surface: HashMap<String, [metrics::Counter; 5]>,
}

impl MetricsCrate {
    /// Installs the exporter as the global recorder, starts its upkeep
    /// and registers the handles; call once per process.
    ///
    /// `install_recorder` leaves upkeep to the caller: without it the
    /// exporter keeps every histogram sample, so its memory grows with
    /// each call and the page faults of that growth would be timed as
    /// part of `metrics`. A thread runs upkeep every 5 s, the exporter's
    /// default upkeep interval.
    pub fn install() -> Self {
        let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
            .set_buckets(&BUCKETS)
            .unwrap()
            .install_recorder()
            .unwrap();
        std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || loop {
                std::thread::sleep(std::time::Duration::from_secs(5));
                handle.run_upkeep();
            })
            .unwrap();
        let by_surface = surfaces()
            .into_iter()
            .map(|s| {
                let counters = CLASSES.map(|c| {
                    metrics::counter!("maestra_requests_total",
                        "surface" => s.clone(), "status" => c)
                });
                (s, counters)
            })
            .collect();
        MetricsCrate {
            requests: metrics::counter!("maestra_requests_all_total"),
            errors_4xx: metrics::counter!("maestra_errors_total",
                "status" => "4xx"),
            errors_5xx: metrics::counter!("maestra_errors_total",
                "status" => "5xx"),
            duration: metrics::histogram!("maestra_request_duration_seconds"),
            cost_nanos: metrics::counter!("maestra_cost_nano_usd_total"),
            by_surface,
        }
    }
}

impl Recorder for MetricsCrate {
    fn record(&self, r: &RequestRecord) {
        self.requests.increment(1);
        if r.status_code >= 500 {
            self.errors_5xx.increment(1);
        } else if r.status_code >= 400 {
            self.errors_4xx.increment(1);
        }
        self.duration.record(r.latency_ms as f64 / 1000.0);
        self.cost_nanos.increment((r.cost_usd * 1e9) as u64);
        if let Some(row) = self.by_surface.get(r.surface_id.as_str()) {
            row[class_index(r.status_code)].increment(1);
        }
    }
}

/// The `metrics` facade resolving the labelled counter on every call.
pub struct MetricsCrateLabels(pub MetricsCrate);

impl Recorder for MetricsCrateLabels {
    fn record(&self, r: &RequestRecord) {
        let m = &self.0;
        m.requests.increment(1);
        if r.status_code >= 500 {
            m.errors_5xx.increment(1);
        } else if r.status_code >= 400 {
            m.errors_4xx.increment(1);
        }
        m.duration.record(r.latency_ms as f64 / 1000.0);
        m.cost_nanos.increment((r.cost_usd * 1e9) as u64);
        metrics::counter!("maestra_requests_total",
            "surface" => r.surface_id.clone(),
            "status" => class_label(r.status_code))
        .increment(1);
    }
}

/// The tikv `prometheus` crate with handles registered once.
pub struct TikvPrometheus {
    requests: prometheus::IntCounter,
    errors_4xx: prometheus::IntCounter,
    errors_5xx: prometheus::IntCounter,
    duration: prometheus::Histogram,
    cost: prometheus::Counter,
    by_surface_vec: prometheus::IntCounterVec,
    by_surface: HashMap<String, [prometheus::IntCounter; 5]>,
}

impl TikvPrometheus {
    /// A registry with the families and their handles.
    pub fn new() -> Self {
        use prometheus::{
            Counter, Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts,
            Registry,
        };
        let registry = Registry::new();
        let requests =
            IntCounter::new("maestra_requests_all_total", "h").unwrap();
        let errors = IntCounterVec::new(
            Opts::new("maestra_errors_total", "h"),
            &["status"],
        )
        .unwrap();
        let opts = HistogramOpts::new("maestra_request_duration_seconds", "h")
            .buckets(BUCKETS.to_vec());
        let duration = Histogram::with_opts(opts).unwrap();
        let cost = Counter::new("maestra_cost_usd_total", "h").unwrap();
        let by_surface_vec = IntCounterVec::new(
            Opts::new("maestra_requests_total", "h"),
            &["surface", "status"],
        )
        .unwrap();
        registry.register(Box::new(requests.clone())).unwrap();
        registry.register(Box::new(errors.clone())).unwrap();
        registry.register(Box::new(duration.clone())).unwrap();
        registry.register(Box::new(cost.clone())).unwrap();
        registry.register(Box::new(by_surface_vec.clone())).unwrap();

        let by_surface = surfaces()
            .into_iter()
            .map(|s| {
                let row =
                    CLASSES.map(|c| by_surface_vec.with_label_values(&[&s, c]));
                (s, row)
            })
            .collect();
        TikvPrometheus {
            requests,
            errors_4xx: errors.with_label_values(&["4xx"]),
            errors_5xx: errors.with_label_values(&["5xx"]),
            duration,
            cost,
            by_surface_vec,
            by_surface,
        }
    }

    fn common(&self, r: &RequestRecord) {
        self.requests.inc();
        if r.status_code >= 500 {
            self.errors_5xx.inc();
        } else if r.status_code >= 400 {
            self.errors_4xx.inc();
        }
        self.duration.observe(r.latency_ms as f64 / 1000.0);
        self.cost.inc_by(r.cost_usd);
    }
}

impl Default for TikvPrometheus {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder for TikvPrometheus {
    fn record(&self, r: &RequestRecord) {
        self.common(r);
        if let Some(row) = self.by_surface.get(r.surface_id.as_str()) {
            row[class_index(r.status_code)].inc();
        }
    }
}

/// The tikv crate resolving the labelled counter on every call.
pub struct TikvLabels(pub TikvPrometheus);

impl Recorder for TikvLabels {
    fn record(&self, r: &RequestRecord) {
        self.0.common(r);
        let labels = [r.surface_id.as_str(), class_label(r.status_code)];
        self.0.by_surface_vec.with_label_values(&labels).inc();
    }
}

/// Label set of the surface x status family of `prometheus-client`.
#[derive(
    Clone,
    Debug,
    Hash,
    PartialEq,
    Eq,
    prometheus_client::encoding::EncodeLabelSet,
)]
struct SurfaceLabels {
    surface: String,
    status: &'static str,
}

/// `prometheus-client` with handles registered once.
pub struct PromClient {
    requests: prometheus_client::metrics::counter::Counter,
    errors_4xx: prometheus_client::metrics::counter::Counter,
    errors_5xx: prometheus_client::metrics::counter::Counter,
    duration: prometheus_client::metrics::histogram::Histogram,
    cost: prometheus_client::metrics::counter::Counter<
        f64,
        std::sync::atomic::AtomicU64,
    >,
    family: prometheus_client::metrics::family::Family<
        SurfaceLabels,
        prometheus_client::metrics::counter::Counter,
    >,
    by_surface:
        HashMap<String, [prometheus_client::metrics::counter::Counter; 5]>,
    _registry: prometheus_client::registry::Registry,
}

impl PromClient {
    /// A registry with the families and their handles.
    pub fn new() -> Self {
        use prometheus_client::metrics::counter::Counter;
        use prometheus_client::metrics::family::Family;
        use prometheus_client::metrics::histogram::Histogram;

        let mut registry = prometheus_client::registry::Registry::default();
        let requests = Counter::default();
        let errors_4xx = Counter::default();
        let errors_5xx = Counter::default();
        let duration = Histogram::new(BUCKETS);
        let cost = Counter::<f64, std::sync::atomic::AtomicU64>::default();
        let family = Family::<SurfaceLabels, Counter>::default();
        registry.register("maestra_requests_all", "h", requests.clone());
        registry.register("maestra_errors_4xx", "h", errors_4xx.clone());
        registry.register("maestra_errors_5xx", "h", errors_5xx.clone());
        registry.register(
            "maestra_request_duration_seconds",
            "h",
            duration.clone(),
        );
        registry.register("maestra_cost_usd", "h", cost.clone());
        registry.register("maestra_requests", "h", family.clone());

        let by_surface = surfaces()
            .into_iter()
            .map(|s| {
                let row = CLASSES.map(|status| {
                    let labels = SurfaceLabels { surface: s.clone(), status };
                    family.get_or_create_owned(&labels)
                });
                (s, row)
            })
            .collect();
        PromClient {
            requests,
            errors_4xx,
            errors_5xx,
            duration,
            cost,
            family,
            by_surface,
            _registry: registry,
        }
    }

    fn common(&self, r: &RequestRecord) {
        self.requests.inc();
        if r.status_code >= 500 {
            self.errors_5xx.inc();
        } else if r.status_code >= 400 {
            self.errors_4xx.inc();
        }
        self.duration.observe(r.latency_ms as f64 / 1000.0);
        self.cost.inc_by(r.cost_usd);
    }
}

impl Default for PromClient {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder for PromClient {
    fn record(&self, r: &RequestRecord) {
        self.common(r);
        if let Some(row) = self.by_surface.get(r.surface_id.as_str()) {
            row[class_index(r.status_code)].inc();
        }
    }
}

/// `prometheus-client` looking the labelled counter up on every call.
pub struct PromClientLabels(pub PromClient);

impl Recorder for PromClientLabels {
    fn record(&self, r: &RequestRecord) {
        self.0.common(r);
        let labels = SurfaceLabels {
            surface: r.surface_id.clone(),
            status: class_label(r.status_code),
        };
        self.0.family.get_or_create(&labels).inc();
    }
}

fn class_index(status: u16) -> usize {
    usize::from(status / 100).clamp(1, 5) - 1
}

impl MetricsCrate {
    /// Handles from the recorder installed by [`MetricsCrate::install`]
    /// (a process has one global recorder).
    pub fn install_again() -> Self {
        let by_surface = HashMap::new();
        MetricsCrate {
            requests: metrics::counter!("maestra_requests_all_total"),
            errors_4xx: metrics::counter!("maestra_errors_total",
                "status" => "4xx"),
            errors_5xx: metrics::counter!("maestra_errors_total",
                "status" => "5xx"),
            duration: metrics::histogram!("maestra_request_duration_seconds"),
            cost_nanos: metrics::counter!("maestra_cost_nano_usd_total"),
            by_surface,
        }
    }
}
