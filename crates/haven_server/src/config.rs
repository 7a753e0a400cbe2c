//! Command-line and environment configuration.

use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;

/// How to run the server. Every option can also be set through the environment.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "haven_server",
    version,
    about = "Haven's server: the PWA and its sync API"
)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "HAVEN_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// The database: a SQLite file (created, with its folder, if missing),
    /// or a PostgreSQL URL `postgres://user:password@host/dbname`, which
    /// several server instances can share (docs/running.md).
    #[arg(
        long,
        env = "HAVEN_DATABASE",
        default_value = "data/haven.sqlite3",
        hide_env_values = true
    )]
    pub database: crate::store::db::Database,

    /// Folder of the server's key files (the key that seals second-factor
    /// secrets and the incident key). With SQLite they sit beside the
    /// database file unless this is set; with PostgreSQL it is required, and
    /// every instance on one database needs the same files.
    #[arg(long, env = "HAVEN_KEY_DIR")]
    pub key_dir: Option<PathBuf>,

    /// Folder holding the built PWA (Trunk's `dist`).
    #[arg(long, env = "HAVEN_STATIC_DIR", default_value = "dist")]
    pub static_dir: PathBuf,

    /// Load the demo trust, policies and accounts into an empty database.
    ///
    /// The demo accounts' password is published in the README, so this is
    /// refused unless `--bind` is a loopback address. Without it, an empty
    /// database gets no accounts and the server prints a one-time link to set
    /// up the first trust admin.
    #[arg(long, env = "HAVEN_DEMO", value_parser = clap::builder::FalseyValueParser::new())]
    pub demo: bool,

    /// No demo data: the default now, accepted so that start-up scripts
    /// written when the demo was loaded by default keep working.
    #[arg(long, env = "HAVEN_NO_DEMO", hide = true, conflicts_with = "demo",
          value_parser = clap::builder::FalseyValueParser::new())]
    pub no_demo: bool,

    /// Trust `X-Forwarded-Proto` from a reverse proxy in front of the server.
    ///
    /// The server speaks plain HTTP; when a proxy terminates TLS and sends
    /// `X-Forwarded-Proto: https`, responses get `Strict-Transport-Security`.
    /// Off by default, since any client can send that header: set it only when
    /// every request comes through a proxy that sets (or strips) the header.
    #[arg(long, env = "HAVEN_TRUST_PROXY", value_parser = clap::builder::FalseyValueParser::new())]
    pub trust_proxy: bool,

    /// How many reverse proxies in front of the server append to
    /// `X-Forwarded-For`: the client's address, for rate limits and the
    /// audit log, is the entry this many places from the right (1: the
    /// address your one proxy saw). 0, the default, ignores the header and
    /// uses the connection's own address, since any client can send it.
    #[arg(long, env = "HAVEN_TRUSTED_PROXY_HOPS", default_value_t = 0)]
    pub trusted_proxy_hops: usize,

    /// SMTP relay for the alert email, as `smtp://host[:port]` (plain SMTP,
    /// port 25 if none): with `--alert-from`, each new incident whose route
    /// says "immediately" is also emailed to its academy's DSL and e-safety
    /// lead, naming no one and saying nothing of the incident. Unset: no email.
    #[arg(long, env = "HAVEN_SMTP_URL")]
    pub smtp_url: Option<String>,

    /// The address the alert email comes from (needed with `--smtp-url`).
    #[arg(long, env = "HAVEN_ALERT_FROM")]
    pub alert_from: Option<String>,

    /// The address people open Haven at, as `https://host[/path]`: the links
    /// in reminder emails start with it. With `--smtp-url` and
    /// `--alert-from`, the compliance page can send reminders to sign; unset,
    /// it cannot (a link made from a request's own Host header could point
    /// anywhere).
    #[arg(long, env = "HAVEN_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Serve Prometheus metrics at `/metrics` to a scraper that sends this
    /// token as `Authorization: Bearer TOKEN` (at least 24 characters; make
    /// one with `openssl rand -hex 32`). Unset, the default: no metrics are
    /// served to anyone. See docs/operations.md.
    #[arg(long, env = "HAVEN_METRICS_TOKEN", hide_env_values = true,
          value_parser = crate::metrics::MetricsToken::new)]
    pub metrics_token: Option<crate::metrics::MetricsToken>,

    /// Seconds a caller has to send a request's headers before the
    /// connection is closed.
    #[arg(long, env = "HAVEN_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    pub header_timeout_secs: u64,

    /// Seconds a request body may pause between pieces before the request
    /// is cut off.
    #[arg(long, env = "HAVEN_BODY_IDLE_TIMEOUT_SECS", default_value_t = 30)]
    pub body_idle_timeout_secs: u64,
}

impl Config {
    /// The path the key files are named from: `haven.sqlite3` gives
    /// `haven.sqlite3.key` and `haven.sqlite3.incident-key.pem`; with
    /// `--key-dir DIR`, `DIR/haven.key` and `DIR/haven.incident-key.pem`.
    pub fn key_base(&self) -> Result<PathBuf, crate::ServerError> {
        match (&self.key_dir, &self.database) {
            (Some(dir), _) => Ok(dir.join("haven")),
            (None, crate::store::db::Database::Sqlite(path)) => Ok(path.clone()),
            (None, crate::store::db::Database::Postgres(_)) => {
                Err(crate::ServerError::KeyDirNeeded)
            }
        }
    }

    /// The read timeouts these settings ask for (at least a second each).
    pub fn read_timeouts(&self) -> crate::http::serve::ReadTimeouts {
        let secs = |s: u64| std::time::Duration::from_secs(s.max(1));
        crate::http::serve::ReadTimeouts {
            headers: secs(self.header_timeout_secs),
            body_idle: secs(self.body_idle_timeout_secs),
        }
    }
}
