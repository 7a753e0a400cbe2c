//! Haven's server: serves the built PWA and the REST API, keeps data in SQLite or PostgreSQL.
//!
//! [`app`] builds the whole HTTP surface from an [`AppState`] with no socket, so
//! it can be tested with `oneshot`; [`Server`] opens the database and binds;
//! [`run`] is what the binary does.

pub mod clock;
pub mod config;
pub mod crypto;
pub mod error;
pub mod http;
pub mod jobs;
pub mod metrics;
pub mod state;
pub mod store;

pub use config::Config;
pub use error::{AppError, ServerError};
pub use state::AppState;

use store::{accounts, db, demo, ledger, rules};

use axum::http::header::{ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tower_http::compression::CompressionLayer;
use tower_http::decompression::RequestDecompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};
use tower_http::trace::{DefaultOnFailure, TraceLayer};
use tracing::Level;

/// The whole app: the API under `/api`, the operator's `/metrics`, and the
/// PWA everywhere else; every response with the security headers of
/// [`security_headers`] and an `X-Request-Id` ([`request_id`]).
pub fn app(state: AppState) -> Router {
    let body_idle = state.read_timeouts.body_idle;
    let counted = Arc::clone(&state.metrics);
    let pwa = http::static_files::router(&state.static_dir, state.pool.clone());
    let security = http::security_headers::SecurityHeaders::new(
        http::static_files::shells(&state.static_dir).to_vec(),
        state.trust_proxy,
    );
    Router::new()
        .nest("/api", http::routes::api())
        .route("/metrics", get(metrics::serve))
        .fallback_service(pwa)
        .with_state(state)
        // Outermost last: decompress gzip request bodies before anything reads
        // them, compress responses, trace everything, and put the security
        // headers on every response, the layers' own refusals included.
        .layer(RequestDecompressionLayer::new())
        // A caller who stops sending a body, or takes minutes over a request,
        // is cut off (headers have their own timeout in http/serve.rs).
        .layer(RequestBodyTimeoutLayer::new(body_idle))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            http::serve::REQUEST_TIMEOUT,
        ))
        .layer(middleware::map_response(unknown_encoding_as_api_error))
        .layer(CompressionLayer::new())
        .layer(
            // Error responses are logged where they are made (AppError), so the
            // trace layer reports them only at debug level. Each request's
            // span carries its id, so every line logged for it does.
            TraceLayer::new_for_http()
                .make_span_with(http::request_id::span_for)
                .on_failure(DefaultOnFailure::new().level(Level::DEBUG)),
        )
        // The id goes back on every response, the layers' own answers included.
        .layer(PropagateRequestIdLayer::new(http::request_id::X_REQUEST_ID))
        // A request without an acceptable id of its own gets a new UUID.
        .layer(SetRequestIdLayer::new(
            http::request_id::X_REQUEST_ID,
            MakeRequestUuid,
        ))
        .layer(middleware::from_fn(http::request_id::drop_unacceptable))
        .layer(middleware::from_fn_with_state(
            counted,
            metrics::count_refusals,
        ))
        .layer(middleware::from_fn_with_state(
            security,
            http::security_headers::layer,
        ))
}

/// The request decompression layer refuses a `Content-Encoding` it cannot
/// read with a bare 415; answer it as the API answers every error, JSON
/// ([`AppError::UnsupportedMediaType`]), keeping its `Accept-Encoding`.
async fn unknown_encoding_as_api_error(response: Response) -> Response {
    let bare_415 = response.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE
        && !response.headers().contains_key(CONTENT_TYPE);
    if !bare_415 {
        return response;
    }
    let readable = response.headers().get(ACCEPT_ENCODING).cloned();
    let mut error = AppError::UnsupportedMediaType(format!(
        "the body's Content-Encoding cannot be read; send it uncompressed{}",
        readable
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .map(|v| format!(" or as one of: {v}"))
            .unwrap_or_default()
    ))
    .into_response();
    let headers = error.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(readable) = readable {
        headers.insert(ACCEPT_ENCODING, readable);
    }
    error
}

/// A server with its database open and its socket bound, not yet serving.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    state: AppState,
    addr: SocketAddr,
}

impl Server {
    /// Opens (creating and migrating) the database, loads the demo data into an
    /// empty one if `config.demo` (only on a loopback address), and binds
    /// `config.bind`.
    pub async fn build(config: &Config) -> Result<Server, ServerError> {
        // Accounts with a published password never face a network.
        if config.demo && !config.bind.ip().is_loopback() {
            return Err(ServerError::DemoNotOnLoopback { addr: config.bind });
        }
        let pool = db::connect(&config.database).await?;
        if config.demo {
            demo::load_if_empty(&pool).await?;
        }
        if config.trust_proxy && config.trusted_proxy_hops == 0 {
            tracing::warn!(
                "--trust-proxy is set but --trusted-proxy-hops is 0: rate limits and the audit \
                 log see the proxy's address for every client; set --trusted-proxy-hops"
            );
        }
        // Agreements stored before the ledger existed join it, once.
        ledger::backfill(&pool)
            .await
            .map_err(|e| ServerError::Ledger(e.to_string()))?;
        // Every trust starts with the default rule tables, demo or not.
        rules::ensure_default(&pool)
            .await
            .map_err(|e| ServerError::DefaultRules(e.to_string()))?;
        // Counted from the start, so the start-up purges are in them too.
        let metrics = Arc::new(metrics::Metrics::new());
        // Visits past their academy's retention go before anything is served;
        // `serve_until` then looks again every hour.
        jobs::purge_visits(&pool, &metrics)
            .await
            .map_err(|e| ServerError::Purge(e.to_string()))?;
        jobs::purge_abandoned_uploads(&pool, &metrics).await;
        // Settings are checked before anything listens: a typo fails the start.
        let alert_mailer = jobs::alert_mail::AlertMailer::from_settings(
            config.smtp_url.as_deref(),
            config.alert_from.as_deref(),
        )?
        .map(Arc::new);
        let reminders = jobs::reminders::Reminders::from_settings(
            alert_mailer.clone(),
            config.public_url.as_deref(),
        )?;
        let key_base = config.key_base()?;
        if let Some(dir) = &config.key_dir {
            std::fs::create_dir_all(dir).map_err(|source| ServerError::CreateDataDir {
                path: dir.clone(),
                source,
            })?;
        }
        let key = crypto::keys::ServerKey::load_or_create(&crypto::keys::key_path_for(&key_base))?;
        let listener =
            TcpListener::bind(config.bind)
                .await
                .map_err(|source| ServerError::Bind {
                    addr: config.bind,
                    source,
                })?;
        let addr = listener.local_addr()?;
        Ok(Server {
            listener,
            state: AppState::new(pool, &config.static_dir)
                .with_trust_proxy(config.trust_proxy)
                .with_trusted_proxy_hops(config.trusted_proxy_hops)
                .with_key(key)
                .with_incident_key(crypto::incident_key::IncidentKeyStore::file(
                    crypto::incident_key::incident_key_path_for(&key_base),
                ))
                .with_alert_mailer(alert_mailer)
                .with_reminders(reminders)
                .with_read_timeouts(config.read_timeouts())
                .with_metrics(metrics)
                .with_metrics_token(config.metrics_token.clone()),
            addr,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, lets requests in flight finish, then
    /// closes the database. Meanwhile the purges run every hour
    /// ([`jobs::every_hour`]).
    pub async fn serve_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let pool = self.state.pool.clone();
        let purging = tokio::spawn(jobs::every_hour(
            pool.clone(),
            Arc::clone(&self.state.metrics),
            self.state.reminders.clone(),
        ));
        // The peer address feeds the per-address rate limits and the audit log.
        let timeouts = self.state.read_timeouts;
        let served = http::serve::serve(self.listener, app(self.state), timeouts, shutdown).await;
        // A purge cut short rolls back whole; the next start does it again.
        purging.abort();
        let _ = purging.await;
        pool.close().await;
        served?;
        Ok(())
    }
}

/// Runs the server until Ctrl-C or SIGTERM.
pub async fn run(config: Config) -> Result<(), ServerError> {
    init_tracing();
    let server = Server::build(&config).await?;
    let addr = server.local_addr();
    println!("Haven is running at http://{addr}/");
    if demo::admin_exists(&server.state().pool).await? {
        if config.demo {
            println!(
                "Demo sign-in: {} / {} (staff at Oakfield: see README)",
                demo::ADMIN_EMAIL,
                demo::ADMIN_PASSWORD
            );
        } else {
            tracing::warn!(
                "this database holds the demo accounts, whose password is in the README; \
                 use it only for trying Haven out"
            );
        }
    }
    // With no one able to sign in, print a one-time link to set up the first
    // trust admin (a new one at each start until it is used).
    if let Some(token) = accounts::setup_link_if_needed(&server.state().pool)
        .await
        .map_err(|e| ServerError::Setup(e.to_string()))?
    {
        println!(
            "Set up the first trust admin (once, within 24 hours): http://{addr}/setup/{token}"
        );
    }
    tracing::info!("listening on {addr}");
    server.serve_until(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Logs to stderr; `RUST_LOG` overrides the default level.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "haven_server=info,tower_http=info".into());
    // Already set (for example by an embedding program): keep that one.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Completes on Ctrl-C, or on SIGTERM where there is one.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
