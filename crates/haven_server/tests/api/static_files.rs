use crate::helpers::{
    spawn_app, spawn_app_with, test_config, FULL_APP_HTML, HASHED_WASM, INDEX_HTML,
};
use tempfile::TempDir;

#[tokio::test]
async fn the_app_shell_is_served_at_the_root_and_revalidated() {
    let app = spawn_app().await;
    let response = app.get("/").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-cache");
    assert_eq!(response.text().await.unwrap(), INDEX_HTML);
}

#[tokio::test]
async fn app_routes_fall_back_to_index_html_with_no_cache() {
    let app = spawn_app().await;
    let response = app.get("/policies/xyz").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-cache");
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert_eq!(response.text().await.unwrap(), INDEX_HTML);
}

#[tokio::test]
async fn staff_admin_and_kiosk_pages_get_the_full_apps_shell() {
    let app = spawn_app().await;
    for (path, shell) in [
        ("/", INDEX_HTML),
        ("/policies", INDEX_HTML),
        ("/sign/xyz", INDEX_HTML),
        ("/join/abc", INDEX_HTML),
        ("/signin", FULL_APP_HTML),
        ("/admin/incidents", FULL_APP_HTML),
        ("/kiosk/sign-in", FULL_APP_HTML),
        ("/incidents/new", FULL_APP_HTML),
        ("/no-such-page", FULL_APP_HTML),
        ("/app/", FULL_APP_HTML),
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["cache-control"], "no-cache", "{path}");
        assert_eq!(response.text().await.unwrap(), shell, "{path}");
    }
}

#[tokio::test]
async fn a_build_without_the_full_app_serves_the_reader_everywhere() {
    let dir = TempDir::new().unwrap();
    let config = test_config(&dir);
    std::fs::remove_dir_all(config.static_dir.join("app")).unwrap();
    let app = spawn_app_with(dir, config).await;
    let response = app.get("/admin").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), INDEX_HTML);
}

#[tokio::test]
async fn a_hashed_asset_is_cached_for_a_year() {
    let app = spawn_app().await;
    let response = app.get(&format!("/{HASHED_WASM}")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(response.headers()["content-type"], "application/wasm");
}

#[tokio::test]
async fn a_missing_hashed_asset_is_a_404_not_the_app_shell() {
    let app = spawn_app().await;
    let response = app.get("/haven-0000000000000000_bg.wasm").await;
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["cache-control"], "no-cache");
}

#[tokio::test]
async fn the_service_worker_is_revalidated_and_may_control_the_whole_site() {
    let app = spawn_app().await;
    let response = app.get("/sw.js").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-cache");
    assert_eq!(response.headers()["service-worker-allowed"], "/");
}

#[tokio::test]
async fn without_a_built_pwa_the_root_says_how_to_build_it() {
    let dir = TempDir::new().unwrap();
    let mut config = test_config(&dir);
    config.static_dir = dir.path().join("not-built");
    let app = spawn_app_with(dir, config).await;

    let response = app.get("/").await;
    assert_eq!(response.status(), 503);
    assert!(response.text().await.unwrap().contains("cargo xtask run"));
    // The API works all the same.
    assert_eq!(app.get("/api/v1/health").await.status(), 200);
}
