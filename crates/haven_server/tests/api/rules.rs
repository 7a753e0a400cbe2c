use crate::helpers::{expect_error, spawn_app};
use haven_core::rules::{
    ActionStatus, PupilAction, RuleTables, RulesVersion, SanctionAction, Timescale,
};

async fn rules_in_force(app: &crate::helpers::TestApp) -> RulesVersion {
    let response = app.get("/api/v1/rules").await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn the_default_rule_tables_are_in_force_from_the_first_start() {
    let app = spawn_app().await;
    let rules = rules_in_force(&app).await;
    assert_eq!(rules.version, 1);
    assert_eq!(rules.tables, RuleTables::trust_default());
}

#[tokio::test]
async fn the_default_tables_have_the_rows_and_facts_incident_guidance_needs() {
    let app = spawn_app().await;
    let t = rules_in_force(&app).await.tables;
    assert_eq!(t.pupil_sanctions.len(), 16);
    assert_eq!(t.staff_sanctions.len(), 18);
    for a in t.user_actions.iter().filter(|a| a.is_illegal()) {
        let act = a.legislation.as_deref().unwrap_or_default();
        assert!(act.contains("Act"), "{} names no Act", a.id);
    }
    assert!(t
        .user_actions
        .iter()
        .any(|a| a.pupils == ActionStatus::Unacceptable));
    for r in &t.pupil_sanctions {
        assert!(r.actions.iter().any(|a| a.is_referral()), "pupil {}", r.id);
    }
    for r in &t.staff_sanctions {
        assert!(r.actions.iter().any(|a| a.is_referral()), "staff {}", r.id);
    }
    for r in &t.reporting_routes {
        assert!(matches!(
            r.timescale,
            Timescale::Immediately | Timescale::SameDay
        ));
    }
}

#[tokio::test]
async fn replacing_the_rules_requires_an_admin_token() {
    let app = spawn_app().await;
    let response = app.put_rules(None, &RuleTables::trust_default()).await;
    expect_error(response, 401, "unauthorized").await;
}

#[tokio::test]
async fn replacing_the_rules_publishes_a_new_version_and_keeps_the_old_one_out_of_force() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let mut tables = RuleTables::trust_default();
    let row = tables
        .pupil_sanctions
        .iter_mut()
        .find(|r| r.id == "sharing-login")
        .unwrap();
    row.actions.insert(PupilAction::InformParents);

    let response = app.put_rules(Some(&token), &tables).await;
    assert_eq!(response.status(), 201);
    let v2: RulesVersion = response.json().await.unwrap();
    assert_eq!(v2.version, 2);
    assert_eq!(v2.id.get_version_num(), 7);
    assert_eq!(v2.tables, tables);
    assert_eq!(rules_in_force(&app).await, v2);
}

#[tokio::test]
async fn sending_the_same_rules_again_is_not_a_new_version() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let current = rules_in_force(&app).await;
    let response = app.put_rules(Some(&token), &current.tables).await;
    assert_eq!(response.status(), 200);
    let answer: RulesVersion = response.json().await.unwrap();
    assert_eq!(answer, current);
}

#[tokio::test]
async fn invalid_rules_are_a_400_that_names_the_row() {
    let app = spawn_app().await;
    let token = app.admin_token().await;

    let mut tables = RuleTables::trust_default();
    tables.user_actions[0].legislation = None;
    let e = expect_error(
        app.put_rules(Some(&token), &tables).await,
        400,
        "invalid_rules",
    )
    .await;
    assert!(
        e.message.starts_with("user_actions[0].legislation"),
        "{}",
        e.message
    );

    let mut tables = RuleTables::trust_default();
    tables.staff_sanctions[4]
        .actions
        .retain(|a| !a.is_referral());
    let e = expect_error(
        app.put_rules(Some(&token), &tables).await,
        400,
        "invalid_rules",
    )
    .await;
    assert!(
        e.message.starts_with("staff_sanctions[4].actions"),
        "{}",
        e.message
    );

    let mut json = serde_json::to_value(RuleTables::trust_default()).unwrap();
    json["reporting_routes"][0]["timescale"] = "next_week".into();
    let e = expect_error(app.put_rules(Some(&token), &json).await, 400, "bad_request").await;
    assert!(e.message.contains("next_week"), "{}", e.message);

    let mut json = serde_json::to_value(RuleTables::trust_default()).unwrap();
    json["pupil_sanctions"][0]["id"] = "Not A Slug".into();
    let e = expect_error(app.put_rules(Some(&token), &json).await, 400, "bad_request").await;
    assert!(e.message.contains("not a valid id"), "{}", e.message);

    assert_eq!(
        rules_in_force(&app).await.version,
        1,
        "nothing was published"
    );
}
