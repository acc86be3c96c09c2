//! What `GET /metrics` shows, kept with the Prometheus project's own Rust client
//! (`prometheus-client`), which also writes the exposition formats.
//!
//! Counted as things happen: pauses created and decided (from the writer's committed
//! events, so an attempt that never committed is not counted), HTTP requests (by the
//! matched route pattern, never the raw path), the writer's group commits. Read at
//! each scrape: pending pauses and the outbox (from the database), long-polls held
//! (from memory), the process's memory and open files (from `/proc`).

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

use crate::db::writer::CommitListener;
use crate::memory::Memory;
use crate::model::events::Event;

/// The outbox's kinds (its `kind` column's CHECK): every one is shown, 0 when empty.
pub const CHANNELS: [&str; 8] = [
    "webhook", "email", "slack", "telegram", "ntfy", "push", "teams", "discord",
];

/// The OpenMetrics text format's content type (what [`Metrics::openmetrics`] writes).
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The Prometheus text format's (what [`Metrics::prometheus_text`] writes).
pub const PROMETHEUS_CONTENT_TYPE: &str =
    prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KeyLabel {
    key: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChannelLabel {
    channel: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabel {
    version: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Created → resolved: seconds to a day, for people who decide.
const DECISION_BUCKETS: [f64; 15] = [
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0,
    43200.0, 86400.0,
];

fn decision_histogram() -> Histogram {
    Histogram::new(DECISION_BUCKETS)
}

/// What the database holds at a scrape.
#[derive(Debug, Default)]
pub struct Stored {
    pub pending_pauses: i64,
    /// `(kind, rows pending, rows failed)`.
    pub outbox: Vec<(String, i64, i64)>,
}

/// Every metric, and the registry that writes them. Shared (`Arc`) by the handlers,
/// the HTTP middleware and the writer's commit listener.
pub struct Metrics {
    registry: Registry,
    pauses_created: Family<KeyLabel, Counter>,
    decisions: Family<StatusLabel, Counter>,
    decision_seconds: HistogramFamily<StatusLabel>,
    pauses_pending: Gauge,
    long_polls: Gauge,
    outbox_pending: Family<ChannelLabel, Gauge>,
    outbox_failed: Family<ChannelLabel, Gauge>,
    http_requests: Family<RequestLabels, Counter>,
    writer_batch_size: Histogram,
    writer_commit_seconds: Histogram,
    resident_memory: Gauge,
    open_fds: Gauge,
    /// The scrape that sets the gauges above holds this, so that two scrapes at once
    /// do not mix their readings.
    scraping: std::sync::Mutex<()>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let pauses_created = Family::<KeyLabel, Counter>::default();
        registry.register(
            "hitl_pauses_created",
            "Pauses created (committed), by the name of the key that created them",
            pauses_created.clone(),
        );
        let decisions = Family::<StatusLabel, Counter>::default();
        registry.register(
            "hitl_decisions",
            "Pauses resolved, by how they ended: approved, rejected, answered, expired, cancelled",
            decisions.clone(),
        );
        let decision_seconds: HistogramFamily<StatusLabel> =
            Family::new_with_constructor(decision_histogram);
        registry.register_with_unit(
            "hitl_decision",
            "Time from a pause's creation to its resolution, by how it ended",
            Unit::Seconds,
            decision_seconds.clone(),
        );
        let pauses_pending = Gauge::default();
        registry.register(
            "hitl_pauses_pending",
            "Pauses waiting for a decision now (read from the database at the scrape)",
            pauses_pending.clone(),
        );
        let long_polls = Gauge::default();
        registry.register(
            "hitl_long_polls",
            "Requests held open now waiting for a decision (?wait=, hooks, MCP)",
            long_polls.clone(),
        );
        let outbox_pending = Family::<ChannelLabel, Gauge>::default();
        registry.register(
            "hitl_outbox_pending",
            "Notifications waiting to be delivered (or retried), by channel",
            outbox_pending.clone(),
        );
        let outbox_failed = Family::<ChannelLabel, Gauge>::default();
        registry.register(
            "hitl_outbox_failed",
            "Notifications that failed for good after their retries, by channel (rows in the outbox now)",
            outbox_failed.clone(),
        );
        let http_requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "hitl_http_requests",
            "HTTP requests answered, by matched route pattern (\"unmatched\" for none), method and status",
            http_requests.clone(),
        );
        let writer_batch_size =
            Histogram::new([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0]);
        registry.register(
            "hitl_writer_batch_size",
            "Writes committed together in one group commit",
            writer_batch_size.clone(),
        );
        let writer_commit_seconds = Histogram::new([
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
        ]);
        registry.register_with_unit(
            "hitl_writer_commit",
            "Time of one group commit, from BEGIN to the end of COMMIT (its fsync)",
            Unit::Seconds,
            writer_commit_seconds.clone(),
        );
        let resident_memory = Gauge::default();
        registry.register_with_unit(
            "process_resident_memory",
            "Resident memory size",
            Unit::Bytes,
            resident_memory.clone(),
        );
        let open_fds = Gauge::default();
        registry.register(
            "process_open_fds",
            "Open file descriptors",
            open_fds.clone(),
        );
        registry.register(
            "hitl_build",
            "The running version",
            Info::new(VersionLabel {
                version: env!("CARGO_PKG_VERSION"),
            }),
        );
        Metrics {
            registry,
            pauses_created,
            decisions,
            decision_seconds,
            pauses_pending,
            long_polls,
            outbox_pending,
            outbox_failed,
            http_requests,
            writer_batch_size,
            writer_commit_seconds,
            resident_memory,
            open_fds,
            scraping: std::sync::Mutex::new(()),
        }
    }

    /// One HTTP request answered. `route` is the matched pattern, or `None`.
    pub fn http_request(
        &self,
        route: Option<String>,
        method: &actix_web::http::Method,
        status: u16,
    ) {
        self.http_requests
            .get_or_create(&RequestLabels {
                route: route.unwrap_or_else(|| "unmatched".into()),
                method: method_label(method),
                status,
            })
            .inc();
    }

    /// What the writer committed: counted once on disk.
    fn committed(&self, events: &[Event]) {
        for event in events {
            match event {
                Event::PauseCreated { key_name, .. } => {
                    self.pauses_created
                        .get_or_create(&KeyLabel {
                            key: key_name.clone(),
                        })
                        .inc();
                }
                Event::PauseResolved {
                    status, pending_ms, ..
                } => {
                    let label = StatusLabel {
                        status: status.as_str(),
                    };
                    self.decisions.get_or_create(&label).inc();
                    self.decision_seconds
                        .get_or_create(&label)
                        .observe(*pending_ms as f64 / 1000.0);
                }
                _ => {}
            }
        }
    }

    /// The OpenMetrics text of every metric, with `stored` and `long_polls` read just
    /// before.
    pub fn openmetrics(
        &self,
        stored: &Stored,
        long_polls: usize,
    ) -> Result<String, std::fmt::Error> {
        self.render(stored, long_polls, |out, registry| {
            prometheus_client::encoding::text::encode(out, registry)
        })
    }

    /// The same in the Prometheus text format (version 0.0.4).
    pub fn prometheus_text(
        &self,
        stored: &Stored,
        long_polls: usize,
    ) -> Result<String, std::fmt::Error> {
        self.render(stored, long_polls, |out, registry| {
            prometheus_client::encoding::prometheus_text::encode(out, registry)
        })
    }

    fn render(
        &self,
        stored: &Stored,
        long_polls: usize,
        encode: impl FnOnce(&mut String, &Registry) -> Result<(), std::fmt::Error>,
    ) -> Result<String, std::fmt::Error> {
        // A panic elsewhere while holding this lock cannot leave the gauges wrong.
        let _scrape = self.scraping.lock().unwrap_or_else(|e| e.into_inner());
        self.pauses_pending.set(stored.pending_pauses);
        self.long_polls
            .set(i64::try_from(long_polls).unwrap_or(i64::MAX));
        for channel in CHANNELS {
            let (pending, failed) = stored
                .outbox
                .iter()
                .filter(|(kind, ..)| kind == channel)
                .fold((0, 0), |(p, f), (_, pending, failed)| {
                    (p + pending, f + failed)
                });
            let label = ChannelLabel { channel };
            self.outbox_pending.get_or_create(&label).set(pending);
            self.outbox_failed.get_or_create(&label).set(failed);
        }
        if let Some(bytes) = resident_memory_bytes() {
            self.resident_memory.set(bytes);
        }
        if let Some(fds) = open_fds() {
            self.open_fds.set(fds);
        }
        let mut out = String::with_capacity(16 * 1024);
        encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// The standard methods by name, anything else as `other`: a client cannot make new
/// series with made-up methods.
fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// `VmRSS` of `/proc/self/status`, in bytes (`None` off Linux).
fn resident_memory_bytes() -> Option<i64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut parts = line.split_whitespace().skip(1);
    let value: i64 = parts.next()?.parse().ok()?;
    match parts.next()? {
        "kB" => value.checked_mul(1024),
        _ => None,
    }
}

/// Entries of `/proc/self/fd` (`None` off Linux).
fn open_fds() -> Option<i64> {
    let count = std::fs::read_dir("/proc/self/fd").ok()?.count();
    i64::try_from(count).ok()
}

/// The writer's listener in `hitl serve`: memory first (exactly as without metrics),
/// then the counts of what committed.
pub struct Observed {
    pub memory: Arc<Memory>,
    pub metrics: Arc<Metrics>,
}

impl CommitListener for Observed {
    fn writer_started(&self, generation: Option<i64>) {
        self.memory.writer_started(generation);
    }

    fn writer_idle(&self, generation: Option<i64>) {
        self.memory.writer_idle(generation);
    }

    fn before_commit(&self, events: &[Event]) {
        self.memory.before_commit(events);
    }

    fn after_commit(&self, conn: &rusqlite::Connection, generation: Option<i64>, events: &[Event]) {
        self.memory.after_commit(conn, generation, events);
        self.metrics.committed(events);
    }

    fn commit_failed(&self, events: &[Event]) {
        self.memory.commit_failed(events);
    }

    fn batch_committed(&self, writes: usize, took: Duration) {
        self.metrics.writer_batch_size.observe(writes as f64);
        self.metrics
            .writer_commit_seconds
            .observe(took.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Status;

    #[test]
    fn committed_events_are_counted_by_key_and_status() {
        let metrics = Metrics::new();
        metrics.committed(&[
            Event::PauseCreated {
                watch_id: "w1".into(),
                wake_at: None,
                key_name: "deploy \"bot\"".into(),
            },
            Event::PauseResolved {
                watch_id: "w1".into(),
                status: Status::Approved,
                pending_ms: 2500,
            },
            Event::OutboxReady,
        ]);
        let stored = Stored {
            pending_pauses: 3,
            outbox: vec![("webhook".into(), 2, 1)],
        };
        let text = metrics.openmetrics(&stored, 4).unwrap();
        assert!(
            text.contains("hitl_pauses_created_total{key=\"deploy \\\"bot\\\"\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("hitl_decisions_total{status=\"approved\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("hitl_decision_seconds_count{status=\"approved\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("hitl_decision_seconds_bucket{le=\"5.0\",status=\"approved\"} 1\n")
                || text
                    .contains("hitl_decision_seconds_bucket{status=\"approved\",le=\"5.0\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("hitl_pauses_pending 3\n"), "{text}");
        assert!(text.contains("hitl_long_polls 4\n"), "{text}");
        assert!(
            text.contains("hitl_outbox_pending{channel=\"webhook\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("hitl_outbox_failed{channel=\"webhook\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("hitl_outbox_pending{channel=\"discord\"} 0\n"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
        let plain = metrics.prometheus_text(&stored, 4).unwrap();
        assert!(
            plain.contains("hitl_decisions_total{status=\"approved\"} 1\n"),
            "{plain}"
        );
        assert!(!plain.contains("# EOF"), "{plain}");
    }

    #[test]
    fn made_up_methods_share_one_label() {
        let odd = actix_web::http::Method::from_bytes(b"BREW").unwrap();
        assert_eq!(method_label(&odd), "other");
        assert_eq!(method_label(&actix_web::http::Method::POST), "POST");
    }
}
