//! Rosters from the MIS (OneRoster 1.1 CSV): a trust's export of two
//! academies with 50 staff, 600 pupils and 900 parent/carer links imported,
//! then a newer export with leavers, joiners and changes. The dry run changes
//! nothing, each kind of change is counted, nobody is deleted and nothing
//! signed is lost.

use crate::helpers::{expect_error, spawn_app, Device, TestApp};
use haven_core::api::accounts::{RosterImport, StaffMember};
use haven_core::sync::wire::Outcome;
use haven_server::store::demo::PARENT_AUA_VERSION_ID;
use serde_json::{json, Value};

const OAKFIELD: &str = "Oakfield Primary Academy";
const HILLTOP: &str = "Hilltop Secondary Academy";

/// The two versions of the export the tests import.
#[derive(Clone, Copy, PartialEq)]
enum Version {
    First,
    /// Three staff leave (one marked, two gone), two join, one is renamed,
    /// one's email changes, one moves academy; pupils 1 to 10 leave, two
    /// join with a new carer, one changes class; one carer is renamed and
    /// one's email changes.
    Second,
}

/// orgs, users, classes and enrollments of a two-academy trust: staff 1-30
/// at Oakfield, 31-50 at Hilltop; pupils 1-360 at Oakfield, 361-600 at
/// Hilltop, in ten classes each; pupils 2k-1 and 2k are siblings with carer
/// gK, and pupils 1-300 also have carer hN: 900 links, 600 families.
fn export(version: Version) -> Value {
    let second = version == Version::Second;
    let org = |i: usize, split: usize| if i <= split { "o1" } else { "o2" };
    let mut users = String::from(
        "sourcedId,status,enabledUser,orgSourcedIds,role,givenName,familyName,email,agentSourcedIds,grades\n",
    );
    let mut classes = String::from("sourcedId,status,title,classType,schoolSourcedId\n");
    let mut enrollments =
        String::from("sourcedId,status,classSourcedId,schoolSourcedId,userSourcedId,role\n");
    for school in ["o1", "o2"] {
        for k in 0..10 {
            classes.push_str(&format!(
                "c{school}{k},active,Class {k} {school},homeroom,{school}\n"
            ));
        }
    }
    let staff_count = if second { 52 } else { 50 };
    for i in 1..=staff_count {
        if second && (i == 2 || i == 3) {
            continue;
        }
        let status = if second && i == 1 {
            "tobedeleted"
        } else {
            "active"
        };
        let family = if second && i == 10 {
            "Renamed"
        } else {
            "Teacher"
        };
        let email = if second && i == 11 {
            format!("new.staff{i}@riverside.example")
        } else {
            format!("staff{i}@riverside.example")
        };
        let orgs = if second && i == 12 { "o2" } else { org(i, 30) };
        users.push_str(&format!(
            "s{i},{status},true,{orgs},teacher,Staff{i},{family},{email},,\n"
        ));
    }
    let pupils = if second { 602 } else { 600 };
    for i in 1..=pupils {
        let school = if i > 600 { "o2" } else { org(i, 360) };
        let status = if second && i <= 10 {
            "tobedeleted"
        } else {
            "active"
        };
        let mut agents = vec![format!("g{}", i.div_ceil(2))];
        if i <= 300 {
            agents.push(format!("h{i}"));
        }
        users.push_str(&format!(
            "p{i},{status},true,{school},student,Pupil{i},Child,,\"{}\",04\n",
            agents.join(",")
        ));
        let k = if second && i == 20 { 7 } else { i % 10 };
        enrollments.push_str(&format!("e{i},active,c{school}{k},{school},p{i},student\n"));
    }
    for g in 1..=pupils.div_ceil(2) {
        let email = if second && g == 60 {
            format!("carer.g{g}@new.example.org")
        } else {
            format!("carer.g{g}@example.org")
        };
        let school = if 2 * g > 600 { "o2" } else { org(2 * g, 360) };
        users.push_str(&format!(
            "g{g},active,true,{school},parent,Carer{g},G,{email},,\n"
        ));
    }
    for h in 1..=300 {
        let given = if second && h == 50 {
            "Renamed"
        } else {
            "Carer"
        };
        users.push_str(&format!(
            "h{h},active,true,{},guardian,{given}{h},H,carer.h{h}@example.org,,\n",
            org(h, 360)
        ));
    }
    json!({
        "orgs": format!("sourcedId,status,name,type\no1,active,{OAKFIELD},school\no2,active,{HILLTOP},school\n"),
        "users": users,
        "classes": classes,
        "enrollments": enrollments,
    })
}

async fn import(app: &TestApp, token: &str, version: Version, apply: bool) -> RosterImport {
    let mut body = export(version);
    body["apply"] = json!(apply);
    let response = app
        .post_json("/api/v1/roster/import", Some(token), body)
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Every row of the tables an import writes, to show a dry run wrote none.
async fn snapshot(app: &TestApp) -> Vec<i64> {
    let pool = app.db().await;
    let mut counts = Vec::new();
    for table in [
        "users",
        "user_roles",
        "parent_invitations",
        "roster_staff",
        "roster_families",
    ] {
        counts.push(
            sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(&pool)
                .await
                .unwrap(),
        );
    }
    counts
}

async fn staff(app: &TestApp, token: &str) -> Vec<StaffMember> {
    app.get_with("/api/v1/staff", token)
        .await
        .json()
        .await
        .unwrap()
}

async fn redeem(app: &TestApp, link_path: &str) -> reqwest::Response {
    app.post_json(
        "/api/v1/parent-invitations/redeem",
        None,
        json!({"token": link_path.trim_start_matches("/join/")}),
    )
    .await
}

#[tokio::test]
async fn a_trusts_roster_imports_then_a_newer_export_updates_it_in_place() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let before = snapshot(&app).await;

    // The dry run shows the plan and changes nothing.
    let dry = import(&app, &admin, Version::First, false).await;
    assert!(!dry.applied);
    assert!(dry.problems.is_empty(), "{:?}", dry.problems);
    assert_eq!(
        (
            dry.counts.academies,
            dry.counts.staff,
            dry.counts.pupils,
            dry.counts.links
        ),
        (2, 50, 600, 900)
    );
    let s = dry.plan.summary;
    assert_eq!((s.staff_to_add, s.families_to_add), (50, 600));
    assert!(dry.invited.is_empty() && dry.invitations.is_empty());
    assert_eq!(snapshot(&app).await, before, "a dry run writes nothing");

    let first = import(&app, &admin, Version::First, true).await;
    assert!(first.applied);
    assert_eq!((first.invited.len(), first.invitations.len()), (50, 600));
    let teacher = first
        .invited
        .iter()
        .find(|i| i.staff.email == "staff12@riverside.example")
        .unwrap();
    assert_eq!(teacher.staff.grants.0.len(), 1);
    let carer = first
        .invitations
        .iter()
        .find(|i| i.invitation.parent_email.as_deref() == Some("carer.g1@example.org"))
        .unwrap();
    assert_eq!(
        carer.invitation.children.len(),
        2,
        "siblings share one link"
    );
    // Importing the same export again changes nothing.
    let again = import(&app, &admin, Version::First, false).await;
    assert!(!again.plan.has_changes(), "{:?}", again.plan.summary);

    // A family that will leave signs first: what they signed must stay.
    let h1 = first
        .invitations
        .iter()
        .find(|i| i.invitation.parent_email.as_deref() == Some("carer.h1@example.org"))
        .unwrap();
    let session: Value = redeem(&app, &h1.link_path).await.json().await.unwrap();
    let parent = session["token"].as_str().unwrap();
    let device = Device::fresh();
    let version = app.policy(PARENT_AUA_VERSION_ID).await;
    let record = device.sign(&version, "Carer1 H");
    let body = serde_json::to_value(device.push(&[(1, &record)])).unwrap();
    let pushed: haven_core::sync::wire::PushResponse = app
        .post_json("/api/v1/sync/push", Some(parent), body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(pushed.results[0].outcome, Outcome::Applied);
    let signed_before = app.agreements().await.len();

    // The newer export: a dry run first, which changes nothing.
    let between = snapshot(&app).await;
    let planned = import(&app, &admin, Version::Second, false).await;
    assert_eq!(snapshot(&app).await, between);
    let s = planned.plan.summary;
    assert_eq!(
        (
            s.staff_to_add,
            s.staff_to_update,
            s.staff_to_deactivate,
            s.staff_unchanged
        ),
        (2, 3, 3, 44)
    );
    // Pupils 1-10 leave: carers g1-g5 and h1-h10 have no child left. Pupil
    // 20 changes class (both g10's and h20's family), h50 is renamed, g60's
    // email changes; g301 joins with pupils 601 and 602.
    assert_eq!(
        (s.families_to_add, s.families_to_update, s.families_to_close),
        (1, 4, 15)
    );

    let second = import(&app, &admin, Version::Second, true).await;
    assert_eq!(second.plan.summary, s);
    assert!(second.problems.is_empty(), "{:?}", second.problems);
    let people = staff(&app, &admin).await;
    let by_email = |email: &str| people.iter().find(|p| p.email == email);
    // Leavers are deactivated, never deleted.
    for leaver in 1..=3 {
        let gone = by_email(&format!("staff{leaver}@riverside.example")).expect("still there");
        assert!(!gone.active, "staff{leaver} deactivated");
    }
    assert!(by_email("staff4@riverside.example").unwrap().active);
    assert_eq!(
        by_email("staff10@riverside.example").unwrap().name,
        "Staff10 Renamed"
    );
    assert!(by_email("staff11@riverside.example").is_none());
    assert!(by_email("new.staff11@riverside.example").is_some());
    let moved = by_email("staff12@riverside.example").unwrap();
    assert_eq!(moved.grants.0.len(), 1);
    assert_eq!(
        moved.grants.0[0].academy_id,
        Some(haven_server::store::demo::HILLTOP_ID),
        "the roster's staff role moves with them"
    );
    assert!(by_email("staff52@riverside.example").is_some());
    // The family that left: its link is closed, what it signed stays.
    assert_eq!(app.agreements().await.len(), signed_before);
    expect_error(redeem(&app, &carer.link_path).await, 410, "link_expired").await;
    let h2 = first
        .invitations
        .iter()
        .find(|i| i.invitation.parent_email.as_deref() == Some("carer.h2@example.org"))
        .unwrap();
    expect_error(redeem(&app, &h2.link_path).await, 410, "link_expired").await;
    // The rest still work, with what changed.
    let g10 = first
        .invitations
        .iter()
        .find(|i| i.invitation.parent_email.as_deref() == Some("carer.g10@example.org"))
        .unwrap();
    let session: Value = redeem(&app, &g10.link_path).await.json().await.unwrap();
    let classes: Vec<&str> = session["invitation"]["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["class"].as_str().unwrap())
        .collect();
    assert!(classes.contains(&"Class 7 o1"), "{classes:?}");
    // A family that left is not chased for a signature (a reminder would
    // give it a new link); one still at the school is.
    let chase: Vec<haven_core::reminders::ChaseRow> = app
        .get_with(
            &format!(
                "/api/v1/compliance/chase?academy_id={}",
                haven_server::store::demo::OAKFIELD_ID
            ),
            &admin,
        )
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = chase.iter().map(|r| r.name.as_str()).collect();
    assert!(!names.contains(&"Carer2 H"), "h2's family left");
    assert!(names.contains(&"Carer60 G"), "g60's family is still due");
    // And the same export again plans nothing.
    let settled = import(&app, &admin, Version::Second, false).await;
    assert!(!settled.plan.has_changes(), "{:?}", settled.plan.summary);
}

#[tokio::test]
async fn only_a_trust_admin_imports_a_roster_and_a_bad_file_says_which() {
    let app = spawn_app().await;
    let head = app
        .login("head@oakfield.example", crate::helpers::ADMIN_PASSWORD)
        .await
        .json::<haven_core::api::LoginResponse>()
        .await
        .unwrap()
        .token;
    let post = |token: String, body: Value| {
        let app = &app;
        async move {
            app.post_json("/api/v1/roster/import", Some(&token), body)
                .await
        }
    };
    expect_error(post(head, export(Version::First)).await, 403, "forbidden").await;

    let admin = app.admin_token().await;
    let mut body = export(Version::First);
    body["users"] = json!("sourcedId,role,givenName\nx,teacher,A\n");
    let error = expect_error(post(admin.clone(), body).await, 400, "invalid_roster").await;
    assert!(error.message.starts_with("users.csv:"), "{}", error.message);
    // Problem rows are reported with their file and line, and the rest imports.
    let mut body = export(Version::First);
    body["orgs"] = json!(format!(
        "sourcedId,name,type\no1,{OAKFIELD},school\no2,Nowhere Academy,school\n"
    ));
    let report: RosterImport = post(admin.clone(), body).await.json().await.unwrap();
    let unknown = &report.problems[0];
    assert_eq!((unknown.file.as_str(), unknown.line), ("orgs.csv", 3));
    assert_eq!(
        report.plan.summary.staff_to_add, 30,
        "Oakfield's staff only"
    );
    // A body past the upload limit (10 MiB) is refused whole.
    let mut body = export(Version::First);
    body["users"] = json!("x".repeat(10 * 1024 * 1024 + 1));
    expect_error(post(admin, body).await, 413, "payload_too_large").await;
}
