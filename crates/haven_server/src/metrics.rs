//! Prometheus metrics, served at `GET /metrics` in the text exposition format
//! 0.0.4, for an operator's monitoring to scrape.
//!
//! What is counted (docs/operations.md lists every metric):
//!
//! - pushes the server accepted, and what became of each record in them;
//! - every refusal the server answered with an [`AppError`], by its `code`
//!   (counted where the answer leaves the app, [`count_refusals`]);
//! - how long each push took (a histogram);
//! - the backlog devices report with each push, and, at each scrape, the
//!   backlog left on the devices that pushed in the last week;
//! - runs and failures of the server's own jobs: the retention purges and
//!   the alert email.
//!
//! No label names a person, a device, an academy or an id: every label value
//! is one of a fixed set written in the code (error codes are `&'static str`),
//! so the metrics hold no personal data and their number stays bounded.
//!
//! Who may read them: nobody, unless the operator sets a token
//! (`--metrics-token`, `HAVEN_METRICS_TOKEN`); then only a scraper that sends
//! it as `Authorization: Bearer TOKEN`. Counts of pushes and refusals say
//! how busy a school is and when; they are for the operator, and a token
//! works the same behind any proxy or load balancer, where "only from
//! loopback" would see the proxy's address for everyone.

use crate::clock;
use crate::error::{AppError, ErrorCode};
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use haven_core::sync::wire::{Outcome, PushRequest, PushResponse};
use prometheus_client::encoding::prometheus_text;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// What the metrics' names start with.
const PREFIX: &str = "haven";

/// The shortest metrics token accepted: long enough that guessing it over
/// HTTP is hopeless (`openssl rand -hex 32` makes a good one).
pub const MIN_TOKEN_LEN: usize = 24;

/// How long a scrape waits for the database for the devices' backlog before
/// leaving those two metrics out.
const BACKLOG_QUERY_TIMEOUT: Duration = Duration::from_secs(1);

/// A device counts in the backlog gauges if it pushed within this long.
pub const BACKLOG_WINDOW_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// The server's jobs, as the `job` label names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// Visits past their academy's retention (`visits::purge`), at start-up
    /// and hourly.
    VisitRetentionPurge,
    /// Attachment uploads no incident names (`attachments::purge`), at
    /// start-up and hourly.
    AbandonedUploadPurge,
    /// One alert email for an immediate incident (`alert_mail`).
    AlertMail,
    /// The weekly reminders to sign, when the trust asked for them
    /// (`jobs::reminders`).
    WeeklyReminders,
}

impl Job {
    pub fn label(self) -> &'static str {
        match self {
            Job::VisitRetentionPurge => "visit_retention_purge",
            Job::AbandonedUploadPurge => "abandoned_upload_purge",
            Job::AlertMail => "alert_mail",
            Job::WeeklyReminders => "weekly_reminders",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabel {
    code: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobResultLabels {
    job: &'static str,
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabel {
    job: &'static str,
}

/// The server's metrics: one set per server (tests run many in one process).
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pushes_accepted: Counter,
    push_records: Family<OutcomeLabel, Counter>,
    push_duration: Histogram,
    push_backlog: Histogram,
    refusals: Family<CodeLabel, Counter>,
    job_runs: Family<JobResultLabels, Counter>,
    job_last_success: Family<JobLabel, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix(PREFIX);
        let pushes_accepted = Counter::default();
        registry.register(
            "push_requests_accepted",
            "Pushes answered 200: the batch was taken and each record answered applied, duplicate or rejected",
            pushes_accepted.clone(),
        );
        let push_records = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "push_records",
            "Records in accepted pushes, by outcome: applied (stored now), duplicate (stored by an earlier push), rejected (can never be stored; the device keeps it and shows why)",
            push_records.clone(),
        );
        // 5 ms to 20 s: an ordinary push of agreements takes milliseconds;
        // one with incidents opens each with RSA; writers queue on SQLite's
        // lock for seconds under load (db.rs).
        let push_duration = Histogram::new([
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0,
        ]);
        registry.register_with_unit(
            "push_duration",
            "Time the push endpoint took over each push that reached it (body read, caller signed in), from reading it to its answer, accepted or refused",
            Unit::Seconds,
            push_duration.clone(),
        );
        // A device sends at most 100 records a push (500 allowed): a backlog
        // above a few hundred is a device that has been offline a long time.
        let push_backlog = Histogram::new([0.0, 1.0, 10.0, 100.0, 500.0, 1000.0, 5000.0, 10000.0]);
        registry.register(
            "push_reported_backlog_records",
            "Records waiting on the device, as it reported with each accepted push (the batch included)",
            push_backlog.clone(),
        );
        let refusals = Family::<CodeLabel, Counter>::default();
        registry.register(
            "refusals",
            "Requests answered with an API error, by its code (the `code` of the JSON error)",
            refusals.clone(),
        );
        let job_runs = Family::<JobResultLabels, Counter>::default();
        registry.register(
            "job_runs",
            "Runs of the server's own jobs (visit_retention_purge, abandoned_upload_purge, alert_mail), by result: ok or failed",
            job_runs.clone(),
        );
        let job_last_success = Family::<JobLabel, Gauge>::default();
        registry.register(
            "job_last_success_timestamp_seconds",
            "When each job last ran without failing, in seconds since the Unix epoch",
            job_last_success.clone(),
        );
        Metrics {
            registry,
            pushes_accepted,
            push_records,
            push_duration,
            push_backlog,
            refusals,
            job_runs,
            job_last_success,
        }
    }

    /// A push the endpoint answered after `took`: with the request and the
    /// answer if it was accepted.
    pub fn push_answered(&self, took: Duration, accepted: Option<(&PushRequest, &PushResponse)>) {
        self.push_duration.observe(took.as_secs_f64());
        let Some((request, response)) = accepted else {
            return;
        };
        self.pushes_accepted.inc();
        // Into a bucket: the precision an f64 loses above 2^53 does not matter.
        self.push_backlog.observe(request.backlog as f64);
        for result in &response.results {
            let outcome = match result.outcome {
                Outcome::Applied => "applied",
                Outcome::Duplicate => "duplicate",
                Outcome::Rejected { .. } => "rejected",
            };
            self.push_records
                .get_or_create(&OutcomeLabel { outcome })
                .inc();
        }
    }

    /// An API error answered with `code`.
    pub fn refused(&self, code: &'static str) {
        self.refusals.get_or_create(&CodeLabel { code }).inc();
    }

    /// A run of `job` ended, well or not.
    pub fn job_ran(&self, job: Job, succeeded: bool) {
        let job = job.label();
        let result = if succeeded { "ok" } else { "failed" };
        self.job_runs
            .get_or_create(&JobResultLabels { job, result })
            .inc();
        if succeeded {
            self.job_last_success
                .get_or_create(&JobLabel { job })
                .set(clock::now_ms() / 1000);
        }
    }

    /// The metrics in the text format 0.0.4, with `extra` (metrics made for
    /// this scrape) after them.
    fn encode(&self, extra: Option<&Registry>) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_text::encode(&mut text, &self.registry)?;
        if let Some(extra) = extra {
            prometheus_text::encode(&mut text, extra)?;
        }
        Ok(text)
    }
}

/// A metrics token too short, or that cannot be sent in a header.
#[derive(Debug, thiserror::Error)]
#[error(
    "the metrics token must be at least {MIN_TOKEN_LEN} characters of visible ASCII with no \
     spaces; make one with `openssl rand -hex 32`"
)]
pub struct WeakMetricsToken;

/// The operator's metrics token, kept only as its SHA-256 (so neither a
/// `Debug` print of the configuration nor a memory dump of the state shows it).
#[derive(Clone)]
pub struct MetricsToken {
    digest: [u8; 32],
}

impl std::fmt::Debug for MetricsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsToken(..)")
    }
}

impl MetricsToken {
    /// The token the operator set, if it is long enough and can be sent in
    /// a header (visible ASCII, no spaces).
    pub fn new(token: &str) -> Result<Self, WeakMetricsToken> {
        let sendable = token.bytes().all(|b| b.is_ascii_graphic());
        if token.len() < MIN_TOKEN_LEN || !sendable {
            return Err(WeakMetricsToken);
        }
        Ok(MetricsToken {
            digest: Sha256::digest(token.as_bytes()).into(),
        })
    }

    /// Whether `headers` carry this token as a bearer token. The digests are
    /// compared, not the tokens, so the time taken says nothing about how
    /// much of a guess was right.
    fn sent_in(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
            return false;
        };
        let Some((scheme, token)) = value.split_once(' ') else {
            return false;
        };
        scheme.eq_ignore_ascii_case("bearer")
            && <[u8; 32]>::from(Sha256::digest(token.trim().as_bytes())) == self.digest
    }
}

/// `GET /metrics`. Not part of the API (and so not in its OpenAPI document):
/// it is for the operator's monitoring, not for Haven's apps.
pub async fn serve(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let Some(token) = &state.metrics_token else {
        return Err(AppError::NotFound(
            "metrics are off on this server; the operator turns them on with --metrics-token \
             (HAVEN_METRICS_TOKEN)"
                .to_owned(),
        ));
    };
    if !token.sent_in(&headers) {
        return Err(AppError::MetricsTokenWrong);
    }
    let backlog = devices_backlog(&state.pool).await;
    let text = state
        .metrics
        .encode(backlog.as_ref())
        .map_err(|e| AppError::Internal(format!("cannot write the metrics: {e}")))?;
    Ok((
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static(prometheus_text::CONTENT_TYPE),
            ),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        text,
    )
        .into_response())
}

/// The backlog devices that pushed in the last [`BACKLOG_WINDOW_MS`] left
/// after their last push, read now: `None` (and the two metrics left out of
/// this scrape, rather than shown stale) if the database does not answer
/// within [`BACKLOG_QUERY_TIMEOUT`].
async fn devices_backlog(pool: &sqlx::AnyPool) -> Option<Registry> {
    let since = clock::now_ms() - BACKLOG_WINDOW_MS;
    let query = crate::store::devices::backlog(pool, since);
    let (records, devices) = match tokio::time::timeout(BACKLOG_QUERY_TIMEOUT, query).await {
        Ok(Ok(row)) => row,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "metrics: cannot read the devices' backlog");
            return None;
        }
        Err(_) => {
            tracing::warn!("metrics: the database did not answer for the devices' backlog");
            return None;
        }
    };
    let mut registry = Registry::with_prefix(PREFIX);
    let records_gauge = Gauge::<i64>::default();
    records_gauge.set(records);
    registry.register(
        "devices_backlog_records",
        "Records still waiting on devices after their last push, summed over the devices that pushed in the last 7 days",
        records_gauge,
    );
    let devices_gauge = Gauge::<i64>::default();
    devices_gauge.set(devices);
    registry.register(
        "devices_behind",
        "Devices that pushed in the last 7 days and still had records waiting after their last push",
        devices_gauge,
    );
    Some(registry)
}

/// The middleware that counts every API error the app answers, by its code
/// ([`ErrorCode`], which [`AppError`] leaves on its response).
pub async fn count_refusals(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    if let Some(ErrorCode(code)) = response.extensions().get::<ErrorCode>() {
        metrics.refused(code);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_read_as_prometheus_text_0_0_4_with_bounded_labels() {
        let metrics = Metrics::new();
        metrics.refused("not_found");
        metrics.refused("not_found");
        metrics.job_ran(Job::VisitRetentionPurge, true);
        metrics.job_ran(Job::AlertMail, false);
        let text = metrics.encode(None).unwrap();
        assert!(
            text.contains("# TYPE haven_refusals_total counter\n"),
            "{text}"
        );
        assert!(
            text.contains("haven_refusals_total{code=\"not_found\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("haven_job_runs_total{job=\"visit_retention_purge\",result=\"ok\"} 1\n")
        );
        assert!(text.contains("haven_job_runs_total{job=\"alert_mail\",result=\"failed\"} 1\n"));
        assert!(
            text.contains("# TYPE haven_push_duration_seconds histogram\n"),
            "{text}"
        );
        // 0.0.4, not OpenMetrics: no EOF marker.
        assert!(!text.contains("# EOF"), "{text}");
    }

    #[test]
    fn a_short_or_unsendable_token_is_refused() {
        assert!(MetricsToken::new("short").is_err());
        assert!(MetricsToken::new(&"x y".repeat(12)).is_err());
        assert!(MetricsToken::new(&"é".repeat(24)).is_err());
        let token = MetricsToken::new(&"a".repeat(MIN_TOKEN_LEN)).unwrap();
        let mut headers = HeaderMap::new();
        assert!(!token.sent_in(&headers));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer aaaa"));
        assert!(!token.sent_in(&headers));
        let right = format!("Bearer {}", "a".repeat(MIN_TOKEN_LEN));
        headers.insert(AUTHORIZATION, HeaderValue::from_str(&right).unwrap());
        assert!(token.sent_in(&headers));
        assert_eq!(format!("{token:?}"), "MetricsToken(..)");
    }
}
