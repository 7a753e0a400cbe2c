use crate::helpers::{spawn_app, spawn_app_with, test_config, Device, STAFF_AUA_VERSION_ID};
use haven_core::policy::PolicySummary;
use haven_core::sync::wire::Outcome;
use haven_server::store::demo;
use tempfile::TempDir;

#[tokio::test]
async fn the_database_file_and_its_folder_are_created_on_first_start() {
    crate::sqlite_only!();
    let dir = TempDir::new().unwrap();
    let mut config = test_config(&dir);
    let path = dir.path().join("a").join("b").join("haven.sqlite3");
    assert!(!path.exists());
    config.database = path.into();

    let app = spawn_app_with(dir, config).await;

    assert!(app.database_path().is_file());
    let list: Vec<PolicySummary> = app.get("/api/v1/policies").await.json().await.unwrap();
    assert_eq!(list.len(), demo::policy_versions().len());
}

#[tokio::test]
async fn data_survives_a_restart_on_the_same_file() {
    let app = spawn_app().await;
    let device = Device::fresh();
    let version = app.policy(STAFF_AUA_VERSION_ID).await;
    let record = device.sign(&version, "Ada Lovelace");
    app.push(&device.push(&[(1, &record)])).await;

    let app = app.restart().await;

    let stored = app.agreements().await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].record, record);
    let list: Vec<PolicySummary> = app.get("/api/v1/policies").await.json().await.unwrap();
    assert_eq!(
        list.len(),
        demo::policy_versions().len(),
        "demo data is not loaded twice"
    );
    let replay = app.push(&device.push(&[(1, &record)])).await;
    assert_eq!(replay.results[0].outcome, Outcome::Duplicate);
    assert_eq!(replay.last_mutation_id, 1);
}

#[tokio::test]
async fn no_demo_data_is_loaded_when_it_is_turned_off() {
    let dir = TempDir::new().unwrap();
    let mut config = test_config(&dir);
    config.demo = false;
    let app = spawn_app_with(dir, config).await;

    let list: Vec<PolicySummary> = app.get("/api/v1/policies").await.json().await.unwrap();
    assert!(list.is_empty());
}
