use crate::helpers::{
    expect_error, spawn_app, spawn_app_with, test_config, ONLINE_SAFETY_VERSION_ID,
    STAFF_AUA_VERSION_ID,
};
use crate::library_client::next_version_of;
use haven_core::pull::{Cursor, PullResponse};
use haven_core::rules::RulesVersion;
use haven_server::store::demo;
use tempfile::TempDir;

#[tokio::test]
async fn a_pull_from_zero_returns_everything() {
    let app = spawn_app().await;

    let all = app.pull(0).await;

    assert!(all.cursor > Cursor::START);
    assert!(!all.more && !all.reset);
    let mut ids: Vec<_> = all.policies.iter().map(|p| p.id).collect();
    let mut expected: Vec<_> = demo::policy_versions().iter().map(|p| p.id).collect();
    ids.sort();
    expected.sort();
    assert_eq!(ids, expected);
    let names: Vec<&str> = all.academies.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        ["Hilltop Secondary Academy", "Oakfield Primary Academy"]
    );
    assert_eq!(all.trust.as_ref().unwrap().name, "Riverside Learning Trust");
    let rules = all.rules.as_ref().unwrap();
    assert_eq!(rules.version, 1);
    assert_eq!(rules.tables, haven_core::rules::RuleTables::trust_default());
}

#[tokio::test]
async fn the_demo_policies_arrive_with_consistent_hashes_and_the_full_e_safety_policy() {
    let app = spawn_app().await;
    let all = app.pull(0).await;
    for p in &all.policies {
        assert!(p.hash_is_consistent(), "{}", p.title);
    }
    let esafety = all
        .policies
        .iter()
        .find(|p| p.id == ONLINE_SAFETY_VERSION_ID)
        .unwrap();
    assert!(
        esafety.body_markdown.len() >= 30_000,
        "{}",
        esafety.body_markdown.len()
    );
}

#[tokio::test]
async fn after_a_publish_a_pull_returns_only_the_new_version() {
    let app = spawn_app().await;
    let before = app.pull(0).await.cursor;
    let v1 = app.policy(STAFF_AUA_VERSION_ID).await;

    let v2 = app.publish(&next_version_of(&v1, "New text.")).await;
    let changes = app.pull(before.0).await;

    assert_eq!(changes.policies, [v2]);
    assert!(changes.rules.is_none());
    assert!(changes.academies.is_empty());
    assert!(changes.trust.is_none());
    assert!(changes.cursor > before);
}

#[tokio::test]
async fn after_a_rules_change_a_pull_returns_only_the_rules() {
    let app = spawn_app().await;
    let before = app.pull(0).await.cursor;
    let token = app.admin_token().await;
    let mut tables = haven_core::rules::RuleTables::trust_default();
    tables.pupil_sanctions[1].incident = "Using unrelated websites in a lesson".into();

    let response = app.put_rules(Some(&token), &tables).await;
    assert_eq!(response.status(), 201);
    let published: RulesVersion = response.json().await.unwrap();
    let changes = app.pull(before.0).await;

    assert!(changes.policies.is_empty() && changes.academies.is_empty());
    assert!(changes.trust.is_none());
    assert_eq!(changes.rules, Some(published));
    assert_eq!(changes.rules.unwrap().version, 2);
}

#[tokio::test]
async fn when_nothing_changed_a_pull_is_empty_and_keeps_the_cursor() {
    let app = spawn_app().await;
    let cursor = app.pull(0).await.cursor;

    let again = app.pull(cursor.0).await;

    assert_eq!(again.cursor, cursor);
    assert!(again.is_empty());
    assert!(again.policies.is_empty() && again.academies.is_empty());
    assert!(!again.more && !again.reset);
}

#[tokio::test]
async fn an_academy_edit_is_pulled_once_and_a_repeated_edit_is_no_change() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let before = app.pull(0).await.cursor;
    let (id, mut oakfield) = demo::academies().into_iter().next().unwrap();
    oakfield.key_personnel.dsl.name = "Mrs Amira Shah".into();

    let response = app.put_academy(Some(&token), id, &oakfield).await;
    assert_eq!(response.status(), 200);
    let changes = app.pull(before.0).await;
    assert_eq!(changes.academies.len(), 1);
    assert_eq!(
        changes.academies[0].key_personnel.dsl.name,
        "Mrs Amira Shah"
    );
    assert!(changes.policies.is_empty() && changes.rules.is_none());

    let response = app.put_academy(Some(&token), id, &oakfield).await;
    assert_eq!(response.status(), 200);
    let after = app.pull(changes.cursor.0).await;
    assert!(after.is_empty(), "the same edit again changes nothing");
    assert_eq!(after.cursor, changes.cursor);
}

#[tokio::test]
async fn a_pull_with_a_limit_comes_in_pages_that_add_up_to_everything() {
    let app = spawn_app().await;
    let everything = app.pull(0).await;
    let mut cursor = Cursor::START;
    let mut policies = Vec::new();
    let mut academies = Vec::new();
    let mut rules = None;
    let mut pages = 0;
    loop {
        let page: PullResponse = app
            .get(&format!("/api/v1/pull?since={cursor}&limit=3"))
            .await
            .json()
            .await
            .unwrap();
        pages += 1;
        assert!(page.cursor > cursor, "each page moves on");
        policies.extend(page.policies);
        academies.extend(page.academies);
        rules = page.rules.or(rules);
        cursor = page.cursor;
        if !page.more {
            break;
        }
    }
    assert!(pages >= 4, "{pages} pages");
    assert_eq!(cursor, everything.cursor);
    assert_eq!(policies, everything.policies);
    assert_eq!(academies.len(), 2);
    assert_eq!(rules, everything.rules);
}

#[tokio::test]
async fn a_cursor_ahead_of_the_server_gets_everything_marked_reset() {
    let app = spawn_app().await;
    let everything = app.pull(0).await;

    let reply = app.pull(everything.cursor.0 + 1000).await;

    assert!(reply.reset);
    assert_eq!(reply.cursor, everything.cursor);
    assert_eq!(reply.policies, everything.policies);
}

#[tokio::test]
async fn a_bad_cursor_or_limit_is_a_json_400() {
    let app = spawn_app().await;
    for query in [
        "since=abc",
        "since=-1",
        "since=0&limit=0",
        "since=0&limit=100000",
        "since=0&colour=red",
    ] {
        let e = expect_error(
            app.get(&format!("/api/v1/pull?{query}")).await,
            400,
            "bad_request",
        )
        .await;
        assert!(!e.message.is_empty(), "{query}");
    }
    assert_eq!(
        app.get("/api/v1/pull").await.status(),
        200,
        "since defaults to 0"
    );
}

#[tokio::test]
async fn without_demo_data_a_pull_holds_only_the_default_rules() {
    let dir = TempDir::new().unwrap();
    let mut config = test_config(&dir);
    config.demo = false;
    let app = spawn_app_with(dir, config).await;

    let all = app.pull(0).await;

    assert_eq!(all.cursor, Cursor(1));
    assert!(all.policies.is_empty() && all.academies.is_empty() && all.trust.is_none());
    assert_eq!(all.rules.unwrap().version, 1);
}

#[tokio::test]
async fn the_cursor_and_the_rules_survive_a_restart_without_new_changes() {
    let app = spawn_app().await;
    let cursor = app.pull(0).await.cursor;
    let app = app.restart().await;
    let again = app.pull(cursor.0).await;
    assert!(
        again.is_empty(),
        "start-up does not publish the default rules again"
    );
    assert_eq!(again.cursor, cursor);
}

#[tokio::test]
async fn a_database_from_before_the_policy_library_keeps_its_versions_and_can_pull_them() {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    // An upgrade of a SQLite file; PostgreSQL starts at today's schema.
    crate::sqlite_only!();
    let dir = TempDir::new().unwrap();
    let mut config = test_config(&dir);
    config.demo = false;
    let path = config.database.sqlite_path().unwrap().to_path_buf();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();

    // The schema as it was before 0003, with one version published then.
    let options = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true);
    let old = SqlitePoolOptions::new()
        .connect_with(options)
        .await
        .unwrap();
    let before_library = sqlx::migrate::Migrator {
        migrations: haven_server::store::db::SQLITE_MIGRATOR
            .migrations
            .iter()
            .filter(|m| m.version < 3)
            .cloned()
            .collect(),
        ..sqlx::migrate::Migrator::DEFAULT
    };
    before_library.run(&old).await.unwrap();
    let old_version = demo::policy_versions()
        .into_iter()
        .find(|v| v.id == STAFF_AUA_VERSION_ID)
        .unwrap();
    sqlx::query(
        "INSERT INTO policy_versions (id, policy_id, version, title, kind, body_markdown, \
         approved_by, effective_date, next_review_due, published_at, text_sha256) \
         VALUES ($1, $2, 1, $3, 'staff_aua', $4, $5, $6, $7, $8, $9)",
    )
    .bind(old_version.id.to_string())
    .bind(old_version.policy_id.to_string())
    .bind(&old_version.title)
    .bind(&old_version.body_markdown)
    .bind(&old_version.approved_by)
    .bind(&old_version.effective_date)
    .bind(&old_version.next_review_due)
    .bind(old_version.published_at)
    .bind(old_version.text_sha256.as_str())
    .execute(&old)
    .await
    .unwrap();
    old.close().await;

    let app = spawn_app_with(dir, config).await;
    let all = app.pull(0).await;

    assert_eq!(all.policies.len(), 1);
    let migrated = &all.policies[0];
    assert_eq!(
        migrated.text_sha256, old_version.text_sha256,
        "the text is untouched"
    );
    assert!(migrated.hash_is_consistent());
    assert_eq!(
        migrated.audiences, old_version.audiences,
        "the kind's usual audiences"
    );
    assert_eq!(
        migrated.last_reviewed, "2026-07-14",
        "the day it was published"
    );
    assert!(all.rules.is_some());
    assert_eq!(
        all.cursor,
        Cursor(2),
        "the old version first, then the default rules"
    );
}
