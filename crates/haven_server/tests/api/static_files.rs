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

/// A shell with a `<body>`, as Trunk writes the reader's `index.html`.
const SHELL_WITH_BODY: &str = "<!doctype html><html><head><title>Haven</title></head>\
    <body><noscript>Haven needs JavaScript.</noscript></body></html>";

async fn app_with_a_real_shell() -> crate::helpers::TestApp {
    let dir = TempDir::new().unwrap();
    let config = test_config(&dir);
    std::fs::write(config.static_dir.join("index.html"), SHELL_WITH_BODY).unwrap();
    spawn_app_with(dir, config).await
}

/// The content block the server put in a page, checked to sit at the top of
/// the body with the shell intact around it.
fn prerendered(html: &str, page: &str) -> String {
    let start = format!("<body><div id=\"prerendered\" data-page=\"{page}\">");
    assert!(html.contains(&start), "no {page} content in {html}");
    assert!(html.ends_with("</div><noscript>Haven needs JavaScript.</noscript></body></html>"));
    assert!(
        !html.contains("data-testid"),
        "the copy must not be found by the app's tests"
    );
    html.to_owned()
}

#[tokio::test]
async fn a_policy_and_its_sign_page_arrive_readable_with_the_devices_own_rendering() {
    let app = app_with_a_real_shell().await;
    let policy = app.policy(crate::helpers::ONLINE_SAFETY_VERSION_ID).await;
    let html = app
        .get(&format!("/policies/{}", policy.id))
        .await
        .text()
        .await
        .unwrap();
    let html = prerendered(&html, "policy");
    let rendered = haven_core::render::render_policy(&policy.body_markdown, None);
    assert!(
        html.contains(&rendered.html),
        "the body as the device renders it"
    );
    assert!(html.contains(&format!(
        "<h1>{}</h1>",
        haven_core::render::escape_html(&policy.title)
    )));
    assert!(html.contains(&haven_core::render::escape_html(&policy.meta_line())));
    assert!(
        html.contains("id=\"doc-search\""),
        "the search box, to type in"
    );

    let aua = app
        .policy(haven_server::store::demo::PARENT_AUA_VERSION_ID)
        .await;
    let html = app
        .get(&format!("/sign/{}", aua.id))
        .await
        .text()
        .await
        .unwrap();
    let html = prerendered(&html, "sign");
    assert!(html.contains(&format!("<h1>Sign: {}</h1>", aua.title)));
    assert!(html.contains("id=\"signer-name\""));
}

#[tokio::test]
async fn an_unknown_version_or_another_page_gets_the_plain_shell() {
    let app = app_with_a_real_shell().await;
    for path in [
        format!("/policies/{}", uuid::Uuid::now_v7()),
        "/policies/xyz".to_owned(),
        "/policies".to_owned(),
        "/".to_owned(),
        "/sync".to_owned(),
    ] {
        let html = app.get(&path).await.text().await.unwrap();
        assert_eq!(html, SHELL_WITH_BODY, "{path}");
    }
}

#[tokio::test]
async fn an_invitation_page_lists_what_to_sign_but_not_who_and_leaves_the_link_unused() {
    let app = app_with_a_real_shell().await;
    let admin = app.admin_token().await;
    let csv = "pupil name,class,academy,parent/carer name,email\n\
               Amira Khan,Year 3,Oakfield Primary Academy,Sara Khan,sara@example.org\n";
    let report: haven_core::api::accounts::ClassListReport = app
        .post_json(
            "/api/v1/parent-invitations/import",
            Some(&admin),
            serde_json::json!({ "csv": csv }),
        )
        .await
        .json()
        .await
        .unwrap();
    let link = &report.invitations[0].link_path;

    let html = app.get(link).await.text().await.unwrap();
    let html = prerendered(&html, "join");
    let parent_aua = app
        .policy(haven_server::store::demo::PARENT_AUA_VERSION_ID)
        .await;
    assert!(html.contains(&parent_aua.title));
    for personal in ["Amira", "Khan", "Sara", "Year 3", "sara@example.org"] {
        assert!(!html.contains(personal), "{personal} is in the page");
    }
    // A made-up link gets the same page: the HTML says nothing of the link.
    let other = app.get("/join/hl_0000").await.text().await.unwrap();
    assert_eq!(other, html);

    // Opening the page did not use the link up.
    let redeemed = app
        .post_json(
            "/api/v1/parent-invitations/redeem",
            None,
            serde_json::json!({"token": link.trim_start_matches("/join/")}),
        )
        .await;
    assert_eq!(redeemed.status(), 200);
}

#[tokio::test]
async fn a_receipt_page_says_it_is_checking_and_nothing_more() {
    let app = app_with_a_real_shell().await;
    let html = app.get("/verify/K7M2QX").await.text().await.unwrap();
    let html = prerendered(&html, "verify");
    assert!(html.contains("<h1>Check receipt K7M2QX</h1><p>Checking…</p>"));
}
