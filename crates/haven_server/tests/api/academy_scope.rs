//! Academy scope: a manager changes a person only if every role that person
//! holds is within the academies the manager manages. The three-call
//! lock-out (one academy's headteacher importing another's, then
//! deactivating them trust-wide) is refused with nothing changed.

use crate::authorization::open_db;
use crate::helpers::{spawn_app, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD, TEACHER_EMAIL, TEACHER_ID};
use haven_core::accounts::roles::{Grants, Role, RoleGrant};
use haven_core::api::accounts::{StaffImportReport, StaffMember};
use haven_core::api::LoginResponse;
use haven_server::store::demo::{DEMO_STAFF, HILLTOP_ID, OAKFIELD_ID};
use serde_json::json;
use uuid::Uuid;

const OAK_HEAD_EMAIL: &str = "head@oakfield.example";
const HILL_HEAD_EMAIL: &str = "head@hilltop.example";

fn oak_head_id() -> Uuid {
    DEMO_STAFF[0].0
}

async fn token(app: &TestApp, email: &str) -> String {
    let response = app.login(email, ADMIN_PASSWORD).await;
    assert_eq!(response.status(), 200, "{email} signs in");
    response.json::<LoginResponse>().await.unwrap().token
}

/// A person's roles and active flag, read straight from the database.
async fn stored(app: &TestApp, user: Uuid) -> (Vec<(String, String)>, bool) {
    let pool = open_db(app).await;
    let roles: Vec<(String, String)> =
        sqlx::query_as("SELECT role, academy_id FROM user_roles WHERE user_id = $1 ORDER BY 1, 2")
            .bind(user.to_string())
            .fetch_all(&pool)
            .await
            .unwrap();
    let active: i64 = sqlx::query_scalar("SELECT active FROM users WHERE id = $1")
        .bind(user.to_string())
        .fetch_one(&pool)
        .await
        .unwrap();
    let active = active == 1;
    pool.close().await;
    (roles, active)
}

async fn staff_list(app: &TestApp, token: &str) -> Vec<StaffMember> {
    let response = app
        .client
        .get(app.url("/api/v1/staff"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn put_active(app: &TestApp, token: &str, user: Uuid, active: bool) -> u16 {
    app.client
        .put(app.url(&format!("/api/v1/staff/{user}/active")))
        .bearer_auth(token)
        .json(&json!({ "active": active }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn put_roles(app: &TestApp, token: &str, user: Uuid, grants: serde_json::Value) -> u16 {
    app.client
        .put(app.url(&format!("/api/v1/staff/{user}/roles")))
        .bearer_auth(token)
        .json(&json!({ "grants": grants }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn import(app: &TestApp, token: &str, csv: &str) -> StaffImportReport {
    let response = app
        .client
        .post(app.url("/api/v1/staff/import"))
        .bearer_auth(token)
        .json(&json!({ "csv": csv }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn one_academys_headteacher_cannot_lock_out_anothers_in_three_calls() {
    let app = spawn_app().await;
    let hill = token(&app, HILL_HEAD_EMAIL).await;
    // Oakfield's head is signed in, so an ended session would show.
    let oak = token(&app, OAK_HEAD_EMAIL).await;
    let before = stored(&app, oak_head_id()).await;
    assert_eq!(
        before,
        (
            vec![("headteacher".to_owned(), OAKFIELD_ID.to_string())],
            true
        )
    );

    // 1. Import a row naming Oakfield's head with a role at Hilltop: the row
    //    is refused with its reason and nothing is added.
    let report = import(
        &app,
        &hill,
        &format!(
            "name,email,academy,role\n\
             Helen Okafor,{OAK_HEAD_EMAIL},Hilltop Secondary Academy,staff\n\
             Helen Okafor,{},Hilltop Secondary Academy,dsl\n",
            OAK_HEAD_EMAIL.to_uppercase()
        ),
    )
    .await;
    assert!(report.updated.is_empty(), "{report:?}");
    assert!(report.invited.is_empty(), "{report:?}");
    let lines: Vec<usize> = report.problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, [2, 3], "{report:?}");
    for p in &report.problems {
        assert!(
            p.message.contains(OAK_HEAD_EMAIL) && p.message.contains("nothing was added"),
            "{}",
            p.message
        );
    }
    assert_eq!(stored(&app, oak_head_id()).await, before);

    // Inviting them instead adds nothing either.
    let response = app
        .client
        .post(app.url("/api/v1/staff"))
        .bearer_auth(&hill)
        .json(&json!({"name": "Helen Okafor", "email": OAK_HEAD_EMAIL,
            "grants": [{"role": "staff", "academy_id": HILLTOP_ID}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 409);
    assert_eq!(stored(&app, oak_head_id()).await, before);

    // 2. They are not in Hilltop's staff list, which holds only people with
    //    a role at Hilltop.
    let list = staff_list(&app, &hill).await;
    assert!(list.iter().all(|m| m.id != oak_head_id()), "{list:?}");
    assert!(!list.is_empty());
    for m in &list {
        assert!(
            m.grants.0.iter().any(|g| g.academy_id == Some(HILLTOP_ID)),
            "{m:?} has no role at Hilltop"
        );
    }

    // 3. Deactivating them (or changing their roles) is refused.
    assert_eq!(put_active(&app, &hill, oak_head_id(), false).await, 403);
    assert_eq!(
        put_roles(
            &app,
            &hill,
            oak_head_id(),
            json!([{"role": "staff", "academy_id": HILLTOP_ID}])
        )
        .await,
        403
    );
    assert_eq!(put_roles(&app, &hill, oak_head_id(), json!([])).await, 403);

    // Nothing changed: same roles, still active, the session still works and
    // they can sign in again.
    assert_eq!(stored(&app, oak_head_id()).await, before);
    let me = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .bearer_auth(&oak)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    token(&app, OAK_HEAD_EMAIL).await;
}

#[tokio::test]
async fn giving_another_academys_teacher_a_role_at_your_own_is_refused() {
    let app = spawn_app().await;
    let hill = token(&app, HILL_HEAD_EMAIL).await;
    let before = stored(&app, TEACHER_ID).await;
    assert_eq!(
        put_roles(
            &app,
            &hill,
            TEACHER_ID,
            json!([{"role": "dsl", "academy_id": HILLTOP_ID}])
        )
        .await,
        403
    );
    assert_eq!(stored(&app, TEACHER_ID).await, before);
    // Nor can a trust admin be reached from an academy.
    let admin_id = token(&app, ADMIN_EMAIL).await;
    let me: serde_json::Value = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .bearer_auth(&admin_id)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let admin_id: Uuid = me["user_id"].as_str().unwrap().parse().unwrap();
    let admin_before = stored(&app, admin_id).await;
    assert_eq!(put_active(&app, &hill, admin_id, false).await, 403);
    assert_eq!(
        put_roles(
            &app,
            &hill,
            admin_id,
            json!([{"role": "staff", "academy_id": HILLTOP_ID}])
        )
        .await,
        403
    );
    assert_eq!(stored(&app, admin_id).await, admin_before);
}

#[tokio::test]
async fn someone_working_at_two_academies_is_seen_by_both_and_changed_by_neither_head() {
    let app = spawn_app().await;
    let admin = token(&app, ADMIN_EMAIL).await;
    let hill = token(&app, HILL_HEAD_EMAIL).await;
    let oak = token(&app, OAK_HEAD_EMAIL).await;
    // The trust admin gives Oakfield's teacher a role at Hilltop too.
    assert_eq!(
        put_roles(
            &app,
            &admin,
            TEACHER_ID,
            json!([{"role": "staff", "academy_id": OAKFIELD_ID},
                   {"role": "volunteer", "academy_id": HILLTOP_ID}])
        )
        .await,
        200
    );
    let before = stored(&app, TEACHER_ID).await;
    for head in [&hill, &oak] {
        let list = staff_list(&app, head).await;
        let teacher = list.iter().find(|m| m.id == TEACHER_ID).expect("listed");
        assert_eq!(teacher.grants.0.len(), 2);
        assert_eq!(put_active(&app, head, TEACHER_ID, false).await, 403);
        assert_eq!(
            put_roles(
                &app,
                head,
                TEACHER_ID,
                json!([{"role": "dsl", "academy_id": OAKFIELD_ID}])
            )
            .await,
            403
        );
        let report = import(
            &app,
            head,
            &format!("name,email,academy,role\nTom Reilly,{TEACHER_EMAIL},Hilltop Secondary Academy,staff\n"),
        )
        .await;
        assert!(report.updated.is_empty(), "{report:?}");
        assert_eq!(report.problems.len(), 1, "{report:?}");
    }
    assert_eq!(stored(&app, TEACHER_ID).await, before);
    // The trust admin still can.
    assert_eq!(put_active(&app, &admin, TEACHER_ID, false).await, 200);
    assert!(!stored(&app, TEACHER_ID).await.1);
}

#[tokio::test]
async fn a_head_still_imports_new_people_and_adds_roles_to_their_own_staff() {
    let app = spawn_app().await;
    let hill = token(&app, HILL_HEAD_EMAIL).await;
    let report = import(
        &app,
        &hill,
        "name,email,academy,role\nNew Teacher,new@hilltop.example,Hilltop Secondary Academy,staff\n",
    )
    .await;
    assert_eq!(report.invited.len(), 1, "{report:?}");
    let id = report.invited[0].staff.id;
    let report = import(
        &app,
        &hill,
        "name,email,academy,role\nNew Teacher,new@hilltop.example,Hilltop Secondary Academy,dsl\n",
    )
    .await;
    assert_eq!(report.updated.len(), 1, "{report:?}");
    assert!(report.problems.is_empty(), "{report:?}");
    let mut want = Grants(vec![
        RoleGrant {
            role: Role::Dsl,
            academy_id: Some(HILLTOP_ID),
        },
        RoleGrant {
            role: Role::Staff,
            academy_id: Some(HILLTOP_ID),
        },
    ]);
    let mut got = report.updated[0].grants.clone();
    want.0.sort();
    got.0.sort();
    assert_eq!(got, want);
    assert_eq!(put_active(&app, &hill, id, false).await, 200);
    assert!(!stored(&app, id).await.1);
}
