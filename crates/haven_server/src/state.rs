//! What every handler can reach.

use crate::crypto::hashing::HashGate;
use crate::crypto::incident_key::IncidentKeyStore;
use crate::crypto::keys::ServerKey;
use crate::jobs::alert_mail::AlertMailer;
use crate::metrics::{Metrics, MetricsToken};
use crate::store::limiter::Limiter;
use sqlx::AnyPool;
use std::path::PathBuf;
use std::sync::Arc;

/// Shared state of the app: cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    pub pool: AnyPool,
    /// Folder holding the built PWA.
    pub static_dir: PathBuf,
    /// Whether `X-Forwarded-Proto` from a reverse proxy is believed (see
    /// [`crate::Config::trust_proxy`]).
    pub trust_proxy: bool,
    /// How many proxies' `X-Forwarded-For` entries are believed (see
    /// [`crate::Config::trusted_proxy_hops`] and [`crate::http::auth::client_address`]).
    pub trusted_proxy_hops: usize,
    /// Seals TOTP secrets and derives online keys (see [`crate::crypto::keys`]).
    pub key: Arc<ServerKey>,
    /// Failed sign-ins, codes and links, for rate limits.
    pub limiter: Arc<Limiter>,
    /// Runs password hashes a few at a time (see [`crate::crypto::hashing`]).
    pub hashing: Arc<HashGate>,
    /// Opens the incidents devices seal for the server (see
    /// [`crate::crypto::incident_key`]); made on first need.
    pub incident_key: Arc<IncidentKeyStore>,
    /// Emails the leads about an immediate incident, where configured
    /// (see [`crate::jobs::alert_mail`]); `None` sends nothing.
    pub alert_mailer: Option<Arc<AlertMailer>>,
    /// Reminders to sign, where a relay and the public address are set.
    pub reminders: Option<Arc<crate::jobs::reminders::Reminders>>,
    /// How long a caller may take to send headers and between body pieces.
    pub read_timeouts: crate::http::serve::ReadTimeouts,
    /// What `/metrics` reports (see [`crate::metrics`]).
    pub metrics: Arc<Metrics>,
    /// The token `/metrics` asks for; `None` serves no metrics.
    pub metrics_token: Option<MetricsToken>,
}

impl AppState {
    pub fn new(pool: AnyPool, static_dir: impl Into<PathBuf>) -> Self {
        AppState {
            pool,
            static_dir: static_dir.into(),
            trust_proxy: false,
            trusted_proxy_hops: 0,
            key: Arc::new(ServerKey::random()),
            limiter: Arc::new(Limiter::default()),
            hashing: Arc::new(HashGate::default()),
            incident_key: Arc::new(IncidentKeyStore::in_memory()),
            alert_mailer: None,
            reminders: None,
            read_timeouts: Default::default(),
            metrics: Arc::new(Metrics::new()),
            metrics_token: None,
        }
    }

    /// The same state counting into `metrics` (the server's own, which
    /// counted the jobs run before it served).
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// The same state serving `/metrics` to whoever sends `token` (or to no
    /// one, with `None`).
    pub fn with_metrics_token(mut self, token: Option<MetricsToken>) -> Self {
        self.metrics_token = token;
        self
    }

    /// The same state with the server key from its file.
    pub fn with_key(mut self, key: ServerKey) -> Self {
        self.key = Arc::new(key);
        self
    }

    /// The same state with the incident key pair from (or made in) its file.
    pub fn with_incident_key(mut self, store: IncidentKeyStore) -> Self {
        self.incident_key = Arc::new(store);
        self
    }

    /// The same state with these read timeouts.
    pub fn with_read_timeouts(mut self, timeouts: crate::http::serve::ReadTimeouts) -> Self {
        self.read_timeouts = timeouts;
        self
    }

    /// The same state, sending reminders to sign with `reminders` (or not).
    pub fn with_reminders(mut self, reminders: Option<crate::jobs::reminders::Reminders>) -> Self {
        self.reminders = reminders.map(Arc::new);
        self
    }

    /// The same state, emailing alerts through `mailer` (or not, with `None`).
    pub fn with_alert_mailer(mut self, mailer: Option<Arc<AlertMailer>>) -> Self {
        self.alert_mailer = mailer;
        self
    }

    /// The same state, believing `X-Forwarded-Proto` or not.
    pub fn with_trust_proxy(mut self, trust_proxy: bool) -> Self {
        self.trust_proxy = trust_proxy;
        self
    }

    /// The same state, reading the client's address from this many trusted
    /// proxies' `X-Forwarded-For` entries.
    pub fn with_trusted_proxy_hops(mut self, hops: usize) -> Self {
        self.trusted_proxy_hops = hops;
        self
    }
}
