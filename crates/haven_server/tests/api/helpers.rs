use haven_core::agreement::AgreementRecord;
use haven_core::api::{AgreementView, ApiError, LoginRequest, LoginResponse};
use haven_core::hash::Sha256Hex;
use haven_core::policy::PolicyVersion;
use haven_core::sync::wire::{Change, Mutation, PushRequest, PushResponse};
use haven_server::store::db::Database;
use haven_server::{Config, Server, ServerError};
use std::path::PathBuf;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// The demo class teacher at Oakfield: a plain staff member.
pub const TEACHER_EMAIL: &str = "teacher@oakfield.example";

pub use haven_server::store::demo::{
    ADMIN_EMAIL, ADMIN_PASSWORD, ONLINE_SAFETY_VERSION_ID, STAFF_AUA_VERSION_ID,
    VISITOR_AUA_VERSION_ID,
};

/// A hashed asset name as Trunk writes it.
pub const HASHED_WASM: &str = "haven-1a2b3c4d5e6f7a8b_bg.wasm";
/// The text of the inline start-up script, as Trunk writes one into `index.html`.
macro_rules! inline_script {
    () => {
        "\nimport init from '/haven-1a2b3c4d5e6f7a8b.js';\n\
         await init({ module_or_path: '/haven-1a2b3c4d5e6f7a8b_bg.wasm' });\n"
    };
}
pub const INLINE_SCRIPT: &str = inline_script!();
pub const INDEX_HTML: &str = concat!(
    "<!doctype html><title>Haven</title>\n<script type=\"module\">",
    inline_script!(),
    "</script>\n<link rel=\"modulepreload\" href=\"/haven-1a2b3c4d5e6f7a8b.js\"><p>app shell</p>"
);

/// The full app's start-up script (`app/index.html`), which Trunk builds with
/// public URL `/app/`.
macro_rules! full_inline_script {
    () => {
        "\nimport init from '/app/haven-0a1b2c3d4e5f6a7b.js';\n\
         await init({ module_or_path: '/app/haven-0a1b2c3d4e5f6a7b_bg.wasm' });\n"
    };
}
pub const FULL_INLINE_SCRIPT: &str = full_inline_script!();
pub const FULL_APP_HTML: &str = concat!(
    "<!doctype html><title>Haven</title>\n<script type=\"module\">",
    full_inline_script!(),
    "</script>\n<p>full app shell</p>"
);

/// A running server and what it needs, kept alive for the test.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    /// A staff session for pushing, made at the first push (pushes need one).
    push_token: tokio::sync::OnceCell<String>,
    pub config: Config,
    pub dir: TempDir,
    /// The running server's state (its limiter, its password hash gate).
    pub state: haven_server::AppState,
    shutdown: oneshot::Sender<()>,
    handle: JoinHandle<Result<(), ServerError>>,
    /// Last, so the server's own pool is gone first.
    drop_database: DropDatabase,
}

/// A config for a fresh database and a small built PWA in a new temp folder.
pub fn test_config(dir: &TempDir) -> Config {
    let static_dir = dir.path().join("dist");
    std::fs::create_dir_all(&static_dir).unwrap();
    std::fs::write(static_dir.join("index.html"), INDEX_HTML).unwrap();
    std::fs::create_dir_all(static_dir.join("app")).unwrap();
    std::fs::write(static_dir.join("app").join("index.html"), FULL_APP_HTML).unwrap();
    std::fs::write(static_dir.join(HASHED_WASM), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(
        static_dir.join("sw.js"),
        "self.addEventListener('fetch', () => {});",
    )
    .unwrap();
    Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        database: test_database(dir),
        static_dir,
        // The API tests sign in as the demo accounts.
        demo: true,
        no_demo: false,
        trust_proxy: false,
        trusted_proxy_hops: 0,
        smtp_url: None,
        alert_from: None,
        public_url: None,
        metrics_token: None,
        header_timeout_secs: 10,
        body_idle_timeout_secs: 30,
        // Beside the database on SQLite; a folder of the test's on PostgreSQL.
        key_dir: postgres_base().map(|_| dir.path().join("keys")),
    }
}

/// The PostgreSQL server the suite runs against, if any: `HAVEN_TEST_POSTGRES`
/// names a database on it that the tests may create databases from (`cargo
/// xtask test` starts a throwaway cluster and sets it). Unset: SQLite.
pub fn postgres_base() -> Option<String> {
    std::env::var("HAVEN_TEST_POSTGRES")
        .ok()
        .filter(|url| !url.is_empty())
}

/// Whether this run is on PostgreSQL.
pub fn on_postgres() -> bool {
    postgres_base().is_some()
}

/// Returns from a test that checks SQLite's files, its own SQL or the file
/// tools (backup, restore), which have no PostgreSQL counterpart to test.
#[macro_export]
macro_rules! sqlite_only {
    () => {
        if $crate::helpers::on_postgres() {
            eprintln!("(SQLite only: skipped on PostgreSQL)");
            return;
        }
    };
}

/// A new, empty database for one test: a SQLite file in the test's folder, or
/// a fresh database on the PostgreSQL server (made when the server starts).
pub fn test_database(dir: &TempDir) -> Database {
    match postgres_base() {
        None => Database::Sqlite(dir.path().join("data").join("haven.sqlite3")),
        Some(base) => {
            let mut url = url::Url::parse(&base).expect("HAVEN_TEST_POSTGRES is a URL");
            url.set_path(&format!("haven_test_{}", Uuid::new_v4().simple()));
            Database::Postgres(url.to_string())
        }
    }
}

/// Creates a test's PostgreSQL database if it is not there yet. Collation
/// "C", as `cargo xtask postgres` and docs/running.md make a trust's, so
/// text sorts byte by byte as it does on SQLite.
pub async fn create_postgres_database(url: &str) {
    use sqlx::Connection;
    let base = postgres_base().expect("on PostgreSQL");
    let name = url::Url::parse(url)
        .unwrap()
        .path()
        .trim_start_matches('/')
        .to_owned();
    let mut admin = sqlx::PgConnection::connect(&base)
        .await
        .expect("PostgreSQL is up");
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_optional(&mut admin)
        .await
        .unwrap();
    if exists.is_none() {
        sqlx::raw_sql(&format!(
            "CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C'"
        ))
        .execute(&mut admin)
        .await
        .unwrap();
    }
    admin.close().await.unwrap();
}

/// Drops a test's PostgreSQL database once the test is done with it, from a
/// thread of its own (a `Drop` cannot await, and the test's runtime may be
/// ending), so a suite of hundreds of tests does not fill the disk.
pub struct DropDatabase(Option<String>);

impl DropDatabase {
    /// Drops `database` when this is dropped, if it is a PostgreSQL one.
    pub fn new(database: &Database) -> DropDatabase {
        match database {
            Database::Postgres(url) => DropDatabase(Some(url.clone())),
            Database::Sqlite(_) => DropDatabase(None),
        }
    }

    /// Keeps the database after all (it is dropped with the throwaway cluster).
    fn keep(&mut self) {
        self.0 = None;
    }
}

impl Drop for DropDatabase {
    fn drop(&mut self) {
        let (Some(url), Some(base)) = (self.0.take(), postgres_base()) else {
            return;
        };
        let name = url::Url::parse(&url)
            .unwrap()
            .path()
            .trim_start_matches('/')
            .to_owned();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                use sqlx::Connection;
                if let Ok(mut admin) = sqlx::PgConnection::connect(&base).await {
                    let _ =
                        sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                            .execute(&mut admin)
                            .await;
                }
            });
        })
        .join();
    }
}

pub async fn spawn_app() -> TestApp {
    let dir = TempDir::new().unwrap();
    let config = test_config(&dir);
    spawn_app_with(dir, config).await
}

pub async fn spawn_app_with(dir: TempDir, config: Config) -> TestApp {
    if let Database::Postgres(url) = &config.database {
        create_postgres_database(url).await;
    }
    let drop_database = DropDatabase::new(&config.database);
    let server = Server::build(&config).await.expect("server starts");
    let address = format!("http://{}", server.local_addr());
    let state = server.state().clone();
    let (shutdown, stop) = oneshot::channel::<()>();
    let handle = tokio::spawn(server.serve_until(async {
        let _ = stop.await;
    }));
    TestApp {
        address,
        client: reqwest::Client::new(),
        push_token: tokio::sync::OnceCell::new(),
        config,
        dir,
        state,
        shutdown,
        handle,
        drop_database,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Stops the server gracefully and starts a new one on the same files.
    pub async fn restart(self) -> TestApp {
        let TestApp {
            config,
            dir,
            shutdown,
            handle,
            mut drop_database,
            ..
        } = self;
        drop_database.keep();
        shutdown.send(()).unwrap();
        handle.await.unwrap().expect("server stops cleanly");
        spawn_app_with(dir, config).await
    }

    /// A second server on this one's database and keys, as a second instance
    /// behind a load balancer is; its own folder otherwise.
    pub async fn second_instance(&self) -> TestApp {
        let dir = TempDir::new().unwrap();
        let mut config = test_config(&dir);
        config.database = self.config.database.clone();
        config.key_dir = self.config.key_dir.clone();
        config.metrics_token = self.config.metrics_token.clone();
        let mut second = spawn_app_with(dir, config).await;
        // The database is the first instance's to drop.
        second.drop_database.keep();
        second
    }

    /// Stops the server gracefully; its database is closed when this returns
    /// and kept, for a test that starts a server on it again. Its folder is
    /// handed back (dropping it deletes the files).
    pub async fn stop(mut self) -> TempDir {
        self.drop_database.keep();
        self.shutdown.send(()).unwrap();
        self.handle.await.unwrap().expect("server stops cleanly");
        self.dir
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn policy(&self, id: Uuid) -> PolicyVersion {
        let response = self.get(&format!("/api/v1/policies/{id}")).await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// The staff session pushes are sent with.
    pub async fn push_token(&self) -> &str {
        self.push_token
            .get_or_init(|| async {
                let response = self.login(TEACHER_EMAIL, ADMIN_PASSWORD).await;
                assert_eq!(response.status(), 200);
                response.json::<LoginResponse>().await.unwrap().token
            })
            .await
    }

    pub async fn post_push(&self, request: &PushRequest) -> reqwest::Response {
        let token = self.push_token().await.to_owned();
        self.client
            .post(self.url("/api/v1/sync/push"))
            .bearer_auth(token)
            .json(request)
            .send()
            .await
            .unwrap()
    }

    pub async fn push(&self, request: &PushRequest) -> PushResponse {
        let response = self.post_push(request).await;
        assert_eq!(response.status(), 200, "push failed");
        response.json().await.unwrap()
    }

    /// A POST with a raw body, sent with the push session (so endpoints that
    /// need one get as far as reading the body).
    pub async fn post_raw(&self, path: &str, content_type: &str, body: &str) -> reqwest::Response {
        let token = self.push_token().await.to_owned();
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    pub async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/auth/login"))
            .json(&LoginRequest {
                email: email.to_owned(),
                password: password.to_owned(),
                totp_code: None,
            })
            .send()
            .await
            .unwrap()
    }

    pub async fn admin_token(&self) -> String {
        let response = self.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        assert_eq!(response.status(), 200);
        response.json::<LoginResponse>().await.unwrap().token
    }

    pub async fn get_agreements(&self, token: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(self.url("/api/v1/agreements"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    pub async fn agreements(&self) -> Vec<AgreementView> {
        let token = self.admin_token().await;
        let response = self.get_agreements(Some(&token)).await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// The SQLite file (tests of SQLite's files call [`sqlite_only!`] first).
    pub fn database_path(&self) -> PathBuf {
        self.config
            .database
            .sqlite_path()
            .expect("a SQLite test (sqlite_only!)")
            .to_path_buf()
    }

    /// The database as the command-line tools take it (`--database`).
    pub fn database_arg(&self) -> String {
        database_arg(&self.config.database)
    }

    /// A pool of the test's own on the server's database, for looking at
    /// what was written (or changing it as a hostile insider would).
    pub async fn db(&self) -> sqlx::AnyPool {
        haven_server::store::db::connect(&self.config.database)
            .await
            .expect("the test database opens")
    }
}

/// Reads an error body and checks its status and code.
pub async fn expect_error(response: reqwest::Response, status: u16, code: &str) -> ApiError {
    assert_eq!(response.status(), status);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let error: ApiError = response.json().await.unwrap();
    assert_eq!(error.code, code, "{error:?}");
    error
}

/// A device with a fresh id, making numbered mutations.
pub struct Device {
    pub id: Uuid,
}

impl Device {
    pub fn fresh() -> Self {
        Device { id: Uuid::now_v7() }
    }

    /// A valid signature of `version` as this device would record it.
    pub fn sign(&self, version: &PolicyVersion, name: &str) -> AgreementRecord {
        AgreementRecord {
            id: Uuid::now_v7(),
            policy_version_id: version.id,
            policy_text_sha256: version.text_sha256.clone(),
            signer_name: name.to_owned(),
            agreed: true,
            signed_at: 1_790_000_000_000,
            device_id: self.id,
            ..Default::default()
        }
    }

    /// A signature naming a version id the server has never heard of.
    pub fn sign_unknown(&self) -> AgreementRecord {
        AgreementRecord {
            id: Uuid::now_v7(),
            policy_version_id: Uuid::now_v7(),
            policy_text_sha256: Sha256Hex::of(b"some text"),
            signer_name: "Grace Hopper".to_owned(),
            agreed: true,
            signed_at: 1_790_000_000_000,
            device_id: self.id,
            ..Default::default()
        }
    }

    pub fn push(&self, mutations: &[(u64, &AgreementRecord)]) -> PushRequest {
        PushRequest {
            device_secret: Some(device_secret(self.id)),
            device_id: self.id,
            mutations: mutations
                .iter()
                .map(|(id, record)| Mutation {
                    proof: None,
                    id: *id,
                    change: Change::CreateAgreement((*record).clone()),
                })
                .collect(),
            backlog: mutations.len() as u64,
        }
    }
}

/// The secret a test browser made on its first run: fixed per device id, so
/// each test device is one browser to the server.
pub fn device_secret(device_id: Uuid) -> String {
    use base64::Engine;
    let digest = <sha2::Sha256 as sha2::Digest>::digest(device_id.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

/// A staff member's online key, as a shared tablet holds it (sealed under
/// their PIN) once they have signed in on it: from their sign-in's reply.
pub async fn online_key(app: &TestApp, email: &str) -> [u8; 32] {
    use base64::Engine;
    let login: haven_core::api::LoginResponse =
        app.login(email, ADMIN_PASSWORD).await.json().await.unwrap();
    base64::engine::general_purpose::STANDARD
        .decode(login.online_key)
        .unwrap()
        .try_into()
        .unwrap()
}

/// Adds to every mutation of `request` the proof `account` makes while
/// unlocked on the device that pushes it.
pub fn prove(request: &mut PushRequest, account: Uuid, online_key: &[u8; 32]) {
    use haven_core::sync::staff_proof;
    let key = staff_proof::proof_key(online_key);
    for mutation in &mut request.mutations {
        mutation.proof = Some(staff_proof::sign(&key, account, &mutation.change));
    }
}

/// The demo class teacher's account id (Tom Reilly, staff at Oakfield).
pub const TEACHER_ID: Uuid = haven_server::store::demo::DEMO_STAFF[3].0;

/// The server's incident public key, as a device fetches it.
pub async fn incident_key(app: &TestApp) -> haven_core::incident::IncidentKey {
    let response = app.get("/api/v1/incidents/key").await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// An incident as the PWA would submit it: the tables' recommendation for
/// `incident_type`, every recommended referral done, the DSL told where a
/// route says "immediately".
pub fn incident_record(
    academy_id: Uuid,
    device_id: Uuid,
    reported_by: Uuid,
    involved: haven_core::rules::Involved,
    incident_type: &str,
) -> haven_core::incident::IncidentRecord {
    use haven_core::incident::{IncidentRecord, PersonInvolved, PersonKind, Recommended};
    let tables = haven_core::rules::RuleTables::trust_default();
    let guidance = tables.guidance(involved, incident_type).unwrap();
    let recommended = Recommended::from_guidance(&guidance);
    IncidentRecord {
        id: Uuid::now_v7(),
        academy_id,
        device_id,
        reported_by,
        reported_at: 1_790_000_000_000,
        occurred_at: 1_789_999_000_000,
        location: "Room 4".into(),
        involved,
        people: vec![PersonInvolved {
            kind: if involved.is_pupil() {
                PersonKind::Pupil
            } else {
                PersonKind::StaffMember
            },
            name: "Sam Pupil".into(),
            class: involved.is_pupil().then(|| "4B".into()),
        }],
        incident_type: haven_core::slug::Slug::parse(incident_type).unwrap(),
        description: "Found a proxy site during the lesson.".into(),
        urls: vec![],
        device_involved: "Year 4 iPad 12".into(),
        immediate_action: "Closed the tab.".into(),
        actions_taken: recommended.referrals.clone(),
        told_dsl_in_person: recommended.immediate.then_some(true),
        recommended,
        difference_reason: None,
        second_senior_staff: None,
        outcome: None,
        attachments: vec![],
    }
}

/// What a device does with an incident before it leaves: its JSON under a
/// fresh AES-256-GCM key (tag appended), the key wrapped with RSA-OAEP
/// (SHA-256) for the server's public key, everything base64 (as WebCrypto).
pub fn seal(
    record: &haven_core::incident::IncidentRecord,
    key: &haven_core::incident::IncidentKey,
) -> haven_core::incident::SealedIncident {
    use aes_gcm::aead::{Aead, KeyInit};
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use rand::RngCore;
    use rsa::pkcs8::DecodePublicKey;
    let der = STANDARD.decode(&key.spki).unwrap();
    let public = rsa::RsaPublicKey::from_public_key_der(&der).unwrap();
    let mut aes_key = [0u8; 32];
    let mut iv = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut aes_key);
    rand::rngs::OsRng.fill_bytes(&mut iv);
    let ciphertext = aes_gcm::Aes256Gcm::new_from_slice(&aes_key)
        .unwrap()
        .encrypt(
            aes_gcm::Nonce::from_slice(&iv),
            serde_json::to_vec(record).unwrap().as_slice(),
        )
        .unwrap();
    let wrapped = public
        .encrypt(
            &mut rand::rngs::OsRng,
            rsa::Oaep::new::<sha2::Sha256>(),
            &aes_key,
        )
        .unwrap();
    haven_core::incident::SealedIncident {
        id: record.id,
        device_id: record.device_id,
        key_id: key.key_id.clone(),
        wrapped_key: STANDARD.encode(wrapped),
        iv: STANDARD.encode(iv),
        ciphertext: STANDARD.encode(ciphertext),
    }
}

/// A push of sealed incidents from `device_id`.
pub fn incident_push(
    device_id: Uuid,
    incidents: Vec<(u64, haven_core::incident::SealedIncident)>,
) -> PushRequest {
    PushRequest {
        device_secret: Some(device_secret(device_id)),
        device_id,
        backlog: incidents.len() as u64,
        mutations: incidents
            .into_iter()
            .map(|(id, sealed)| Mutation {
                proof: None,
                id,
                change: Change::CreateIncident(sealed),
            })
            .collect(),
    }
}

/// Each row of `table` as one line of text, the `skip` columns left out, in
/// an order that stays put: for before-and-after snapshots of what is stored.
/// A `bytes` column is summed up by its length and digest.
pub async fn rows_as_text(pool: &sqlx::AnyPool, table: &str, skip: &[&str]) -> Vec<String> {
    let postgres = on_postgres();
    let columns: Vec<String> = if postgres {
        sqlx::query_scalar(
            "SELECT CAST(column_name AS TEXT) FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind(table)
        .fetch_all(pool)
        .await
        .unwrap()
    } else {
        sqlx::query_scalar(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .fetch_all(pool)
            .await
            .unwrap()
    };
    assert!(!columns.is_empty(), "no table {table}");
    let row = columns
        .iter()
        .filter(|c| !skip.contains(&c.as_str()))
        .map(|c| match (c.as_str(), postgres) {
            ("bytes", false) => {
                "length(bytes)||hex(substr(bytes,1,16))||hex(substr(bytes,-16))".to_owned()
            }
            ("bytes", true) => "length(bytes)||encode(sha256(bytes), 'hex')".to_owned(),
            (c, false) => format!("quote({c})"),
            (c, true) => format!("quote_nullable({c})"),
        })
        .collect::<Vec<_>>()
        .join("||','||");
    // SQLite: in the order the rows were written. PostgreSQL has no rowid.
    let order = if postgres { "1" } else { "rowid" };
    sqlx::query_scalar(&format!("SELECT {row} FROM {table} ORDER BY {order}"))
        .fetch_all(pool)
        .await
        .unwrap()
}

/// Drops a trigger that guards `table`, as someone with the database could.
pub async fn drop_trigger<'e>(db: impl sqlx::AnyExecutor<'e>, name: &str, table: &str) {
    let sql = if on_postgres() {
        format!("DROP TRIGGER {name} ON {table}")
    } else {
        format!("DROP TRIGGER {name}")
    };
    sqlx::query(&sql).execute(db).await.unwrap();
}

/// `database` as the binary's `--database` takes it (with any password: the
/// `Display` of a `Database` hides it).
pub fn database_arg(database: &Database) -> String {
    match database {
        Database::Sqlite(path) => path.display().to_string(),
        Database::Postgres(url) => url.clone(),
    }
}
