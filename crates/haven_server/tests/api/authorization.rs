//! The authorization matrix: every API endpoint called as every kind of
//! caller — nobody, an expired staff session, a revoked device, each role,
//! a headteacher of the *other* academy, a reception kiosk and a parent — and
//! each outcome checked. [`MATRIX`] is also the list of routes the OpenAPI
//! tests hold the router and the document to, so an endpoint missing here
//! fails there.
//!
//! Across academies, in both directions (Oakfield's staff and kiosk against
//! Hilltop's person, device, parent link, academy and incident, and Hilltop's
//! head against Oakfield's), each refused call is checked for what it wrote
//! (nothing, read back from the database) and each list for holding only the
//! caller's academy's rows and its own.

use crate::helpers::{
    incident_key, incident_push, incident_record, seal, spawn_app, TestApp, ADMIN_EMAIL,
    ADMIN_PASSWORD, TEACHER_EMAIL, TEACHER_ID,
};
use crate::library_client::publish_request;
use haven_core::api::accounts::{ClassListReport, Enrolled, EnrolmentCode};
use haven_core::api::{ApiError, LoginResponse};
use haven_core::org::{Academy, AcademyInput, Trust, TrustInput};
use haven_core::rules::Involved;
use haven_core::sync::wire::{Outcome, PushResponse};
use haven_server::store::demo::{HILLTOP_ID, OAKFIELD_ID};
use serde_json::{json, Value};
use std::collections::HashMap;
use uuid::Uuid;

/// Who may call an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, no token needed.
    Public,
    /// Any valid credential: staff, device or parent.
    AnyCaller,
    /// Any staff session.
    AnyStaff,
    /// Trust admins only.
    TrustAdmin,
    /// Anyone who manages staff somewhere (headteachers); the target is at Oakfield.
    Headteachers,
    /// A trust admin or Oakfield's headteacher (the target is at Oakfield).
    OakfieldHead,
    /// Headteachers and e-safety leads anywhere (list, or import with rows elsewhere refused).
    Managers,
    /// A trust admin, or Oakfield's headteacher or e-safety lead.
    OakfieldManagers,
    /// A parent session only.
    Parent,
    /// Anyone who works at Oakfield: a trust admin, anyone with a role there,
    /// or a device enrolled there; not a parent, nor another academy's staff.
    OakfieldPeople,
    /// An Oakfield incident the teacher reported: a trust admin, Oakfield's
    /// DSL, e-safety lead and headteacher, and the teacher. Other staff get
    /// 404 (its existence is not revealed); parents and devices 403.
    OakfieldIncidentReaders,
    /// Following up that incident: a trust admin or Oakfield's DSL, e-safety
    /// lead or headteacher; the teacher who reported it 403, other staff 404.
    OakfieldIncidentLeads,
    /// DSLs, e-safety leads and headteachers anywhere, and trust admins.
    IncidentLeads,
    /// Whoever may push a record: any staff session or an enrolled device;
    /// not a parent. The upload is the Oakfield incident's attachment: other
    /// academies' staff get 404, as for an upload that does not exist.
    Pushers,
}

pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
}

const fn r(method: &'static str, path: &'static str, access: Access) -> Route {
    Route {
        method,
        path,
        access,
    }
}

/// Every API route, with who may call it.
pub const MATRIX: &[Route] = &[
    r("get", "/api/v1/health", Access::Public),
    r("get", "/api/v1/ready", Access::Public),
    r("get", "/api/v1/openapi.json", Access::Public),
    r("post", "/api/v1/auth/login", Access::Public),
    r("post", "/api/v1/auth/setup", Access::Public),
    r("post", "/api/v1/auth/invitations/accept", Access::Public),
    r("get", "/api/v1/auth/me", Access::AnyStaff),
    r("post", "/api/v1/auth/totp/setup", Access::AnyStaff),
    r("post", "/api/v1/auth/totp/confirm", Access::AnyStaff),
    r("post", "/api/v1/auth/totp/remove", Access::AnyStaff),
    r("post", "/api/v1/auth/logout", Access::AnyStaff),
    r("post", "/api/v1/auth/sync-credential", Access::AnyStaff),
    r("post", "/api/v1/auth/logout-everywhere", Access::AnyStaff),
    r("get", "/api/v1/policies", Access::Public),
    r("post", "/api/v1/policies", Access::TrustAdmin),
    r("get", "/api/v1/policies/{version_id}", Access::Public),
    r(
        "get",
        "/api/v1/policies/{policy_id}/versions",
        Access::Public,
    ),
    r("get", "/api/v1/rules", Access::Public),
    r("put", "/api/v1/rules", Access::TrustAdmin),
    r("get", "/api/v1/academies", Access::Public),
    r(
        "put",
        "/api/v1/academies/{academy_id}",
        Access::OakfieldHead,
    ),
    r("get", "/api/v1/trust", Access::Public),
    r("put", "/api/v1/trust", Access::TrustAdmin),
    r("get", "/api/v1/pull", Access::Public),
    r("post", "/api/v1/sync/push", Access::AnyCaller),
    r("get", "/api/v1/agreements", Access::TrustAdmin),
    r("get", "/api/v1/staff", Access::Headteachers),
    r("post", "/api/v1/staff", Access::OakfieldHead),
    r("post", "/api/v1/staff/import", Access::Headteachers),
    r("put", "/api/v1/staff/{user_id}/roles", Access::OakfieldHead),
    r(
        "put",
        "/api/v1/staff/{user_id}/active",
        Access::OakfieldHead,
    ),
    r(
        "post",
        "/api/v1/staff/{user_id}/second-factor/reset",
        Access::OakfieldHead,
    ),
    r("get", "/api/v1/settings/accounts", Access::AnyCaller),
    r("put", "/api/v1/settings/accounts", Access::TrustAdmin),
    r("get", "/api/v1/settings/reminders", Access::AnyStaff),
    r("put", "/api/v1/settings/reminders", Access::TrustAdmin),
    r("post", "/api/v1/roster/import", Access::TrustAdmin),
    r("get", "/api/v1/devices", Access::Managers),
    r("post", "/api/v1/devices/codes", Access::OakfieldManagers),
    r("post", "/api/v1/devices/enrol", Access::Public),
    r(
        "post",
        "/api/v1/devices/{device_id}/revoke",
        Access::OakfieldManagers,
    ),
    r("get", "/api/v1/parent-invitations", Access::Managers),
    r(
        "post",
        "/api/v1/parent-invitations/import",
        Access::Managers,
    ),
    r("post", "/api/v1/parent-invitations/redeem", Access::Public),
    r("get", "/api/v1/parent-invitations/mine", Access::Parent),
    r(
        "post",
        "/api/v1/parent-invitations/{invitation_id}/link",
        Access::OakfieldManagers,
    ),
    r("get", "/api/v1/audit", Access::TrustAdmin),
    r("get", "/api/v1/verify/{code}", Access::Public),
    r("get", "/api/v1/compliance", Access::OakfieldManagers),
    r("get", "/api/v1/compliance/mine", Access::AnyStaff),
    r("get", "/api/v1/compliance/chase", Access::OakfieldManagers),
    // No relay here: an allowed caller is told reminders are not set up (409).
    r(
        "post",
        "/api/v1/compliance/reminders",
        Access::OakfieldManagers,
    ),
    r(
        "get",
        "/api/v1/reception/{academy_id}",
        Access::OakfieldPeople,
    ),
    r(
        "put",
        "/api/v1/academies/{academy_id}/reception",
        Access::OakfieldHead,
    ),
    r("get", "/api/v1/incidents/key", Access::Public),
    r("get", "/api/v1/incidents", Access::AnyStaff),
    r(
        "get",
        "/api/v1/incidents/{incident_id}",
        Access::OakfieldIncidentReaders,
    ),
    r(
        "post",
        "/api/v1/incidents/{incident_id}/follow-ups",
        Access::OakfieldIncidentLeads,
    ),
    r("get", "/api/v1/incidents/alerts", Access::AnyStaff),
    r("get", "/api/v1/incidents/report", Access::IncidentLeads),
    r("get", "/api/v1/incidents/report.csv", Access::IncidentLeads),
    r("get", "/api/v1/incidents/person", Access::IncidentLeads),
    r(
        "get",
        "/api/v1/incidents/{incident_id}/attachments/{sha256}",
        Access::OakfieldIncidentReaders,
    ),
    r("get", "/api/v1/attachments/{sha256}", Access::Pushers),
    r(
        "put",
        "/api/v1/attachments/{sha256}/pieces/{index}",
        Access::Pushers,
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Who {
    Nobody,
    ExpiredStaff,
    RevokedDevice,
    TrustAdmin,
    OakfieldHead,
    OakfieldEsafetyLead,
    OakfieldDsl,
    OakfieldStaff,
    HilltopHead,
    OakfieldKiosk,
    Parent,
    /// A trust admin's sync credential (`hk_`): pushes for one browser and
    /// may do nothing else, whatever its person may.
    AdminSyncCredential,
}

const EVERYONE: [Who; 12] = [
    Who::Nobody,
    Who::ExpiredStaff,
    Who::RevokedDevice,
    Who::TrustAdmin,
    Who::OakfieldHead,
    Who::OakfieldEsafetyLead,
    Who::OakfieldDsl,
    Who::OakfieldStaff,
    Who::HilltopHead,
    Who::OakfieldKiosk,
    Who::Parent,
    Who::AdminSyncCredential,
];

#[derive(Debug, PartialEq, Eq)]
enum Expect {
    Allowed,
    Unauthorized,
    Forbidden,
    /// 404 `not_found`: what the caller may not see does not exist for them.
    Hidden,
    /// 403 `sync_credential_only`: a sync credential anywhere but a push.
    SyncOnly,
}

fn expected(access: Access, who: Who) -> Expect {
    use Expect::*;
    let staff = matches!(
        who,
        Who::TrustAdmin
            | Who::OakfieldHead
            | Who::OakfieldEsafetyLead
            | Who::OakfieldDsl
            | Who::OakfieldStaff
            | Who::HilltopHead
    );
    if access == Access::Public {
        return Allowed;
    }
    if matches!(who, Who::Nobody | Who::ExpiredStaff | Who::RevokedDevice) {
        return Unauthorized;
    }
    let allowed = match access {
        Access::Public | Access::AnyCaller => true,
        Access::AnyStaff => staff,
        Access::TrustAdmin => who == Who::TrustAdmin,
        Access::Headteachers => {
            matches!(who, Who::TrustAdmin | Who::OakfieldHead | Who::HilltopHead)
        }
        Access::OakfieldHead => matches!(who, Who::TrustAdmin | Who::OakfieldHead),
        Access::Managers => matches!(
            who,
            Who::TrustAdmin | Who::OakfieldHead | Who::OakfieldEsafetyLead | Who::HilltopHead
        ),
        Access::OakfieldManagers => matches!(
            who,
            Who::TrustAdmin | Who::OakfieldHead | Who::OakfieldEsafetyLead
        ),
        Access::Parent => who == Who::Parent,
        Access::OakfieldPeople => matches!(
            who,
            Who::TrustAdmin
                | Who::OakfieldHead
                | Who::OakfieldEsafetyLead
                | Who::OakfieldDsl
                | Who::OakfieldStaff
                | Who::OakfieldKiosk
        ),
        Access::OakfieldIncidentReaders | Access::OakfieldIncidentLeads | Access::Pushers
            if who == Who::HilltopHead =>
        {
            return Hidden
        }
        Access::OakfieldIncidentReaders => staff,
        Access::OakfieldIncidentLeads => matches!(
            who,
            Who::TrustAdmin | Who::OakfieldHead | Who::OakfieldEsafetyLead | Who::OakfieldDsl
        ),
        Access::IncidentLeads => matches!(
            who,
            Who::TrustAdmin
                | Who::OakfieldHead
                | Who::OakfieldEsafetyLead
                | Who::OakfieldDsl
                | Who::HilltopHead
        ),
        Access::Pushers => staff || who == Who::OakfieldKiosk,
    };
    if allowed {
        Allowed
    } else {
        Forbidden
    }
}

/// Everything the matrix needs: a token per caller and targets to act on.
struct World {
    tokens: HashMap<Who, String>,
    /// The browser the admin's sync credential was made for.
    sync_device: Uuid,
    teacher_id: String,
    spare_device_id: Uuid,
    spare_invitation_id: Uuid,
    settings: Value,
    academy: AcademyInput,
    trust: TrustInput,
    /// An incident the teacher logged at Oakfield.
    incident_id: Uuid,
    /// Its one attachment, uploaded whole: its name and encrypted bytes.
    attachment: (String, Vec<u8>),
}

async fn login(app: &TestApp, email: &str) -> LoginResponse {
    let response = app.login(email, ADMIN_PASSWORD).await;
    assert_eq!(response.status(), 200, "{email} signs in");
    response.json().await.unwrap()
}

/// The test server's database, opened beside the server.
pub async fn open_db(app: &TestApp) -> sqlx::AnyPool {
    app.db().await
}

async fn enrol(app: &TestApp, admin: &str) -> (Enrolled, Uuid) {
    let code: EnrolmentCode = app
        .client
        .post(app.url("/api/v1/devices/codes"))
        .bearer_auth(admin)
        .json(&json!({"academy_id": OAKFIELD_ID, "kind": "reception_kiosk", "label": "Front desk"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sync_id = Uuid::now_v7();
    let response = app
        .client
        .post(app.url("/api/v1/devices/enrol"))
        .json(&json!({"code": code.code, "sync_device_id": sync_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    (response.json().await.unwrap(), sync_id)
}

/// A sync credential made from `session` for the browser `device`.
async fn sync_credential(app: &TestApp, session: &str, device: Uuid) -> String {
    let response = app
        .client
        .post(app.url("/api/v1/auth/sync-credential"))
        .bearer_auth(session)
        .json(&json!({"device_secret": crate::helpers::device_secret(device)}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response
        .json::<haven_core::sync::wire::SyncCredential>()
        .await
        .unwrap()
        .token
}

impl World {
    async fn new(app: &TestApp) -> World {
        let mut tokens = HashMap::new();
        let admin = login(app, ADMIN_EMAIL).await.token;
        for (who, email) in [
            (Who::OakfieldHead, "head@oakfield.example"),
            (Who::OakfieldEsafetyLead, "esafety@oakfield.example"),
            (Who::OakfieldDsl, "dsl@oakfield.example"),
            (Who::OakfieldStaff, TEACHER_EMAIL),
            (Who::HilltopHead, "head@hilltop.example"),
        ] {
            tokens.insert(who, login(app, email).await.token);
        }
        let teacher = login(app, TEACHER_EMAIL).await;
        let expired = login(app, TEACHER_EMAIL).await.token;
        let pool = open_db(app).await;
        sqlx::query("UPDATE sessions SET expires_at = 1 WHERE token_sha256 = $1")
            .bind(haven_server::crypto::tokens::token_digest(&expired))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        tokens.insert(Who::ExpiredStaff, expired);

        let (kiosk, _) = enrol(app, &admin).await;
        tokens.insert(Who::OakfieldKiosk, kiosk.token);
        let (revoked, _) = enrol(app, &admin).await;
        let response = app
            .client
            .post(app.url(&format!("/api/v1/devices/{}/revoke", revoked.device.id)))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        tokens.insert(Who::RevokedDevice, revoked.token);
        let (spare, _) = enrol(app, &admin).await;

        let csv = "pupil name,class,academy,parent/carer name,email\n\
                   Amira Khan,Year 3,Oakfield Primary Academy,Sara Khan,sara@example.org\n\
                   Leo Brown,Year 5,Oakfield Primary Academy,Jo Brown,jo@example.org\n";
        let report: ClassListReport = app
            .client
            .post(app.url("/api/v1/parent-invitations/import"))
            .bearer_auth(&admin)
            .json(&json!({ "csv": csv }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(report.invitations.len(), 2, "{:?}", report.problems);
        let link = &report.invitations[0].link_path;
        let redeemed: Value = app
            .client
            .post(app.url("/api/v1/parent-invitations/redeem"))
            .json(&json!({"token": link.trim_start_matches("/join/")}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        tokens.insert(Who::Parent, redeemed["token"].as_str().unwrap().to_owned());

        let settings: Value = app
            .client
            .get(app.url("/api/v1/settings/accounts"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let academies: Vec<Academy> = app.get("/api/v1/academies").await.json().await.unwrap();
        let oakfield = academies.into_iter().find(|a| a.id == OAKFIELD_ID).unwrap();
        let trust: Trust = app.get("/api/v1/trust").await.json().await.unwrap();
        let sync_device = Uuid::now_v7();
        let sync = sync_credential(app, &admin, sync_device).await;
        tokens.insert(Who::AdminSyncCredential, sync);
        tokens.insert(Who::TrustAdmin, admin);

        let key = incident_key(app).await;
        let device = Uuid::now_v7();
        let mut record = incident_record(
            OAKFIELD_ID,
            device,
            TEACHER_ID,
            Involved::PupilInLesson,
            "personal-device",
        );
        let (attachment, ciphertext) =
            crate::attachments::encrypt("photo.jpg", "image/jpeg", &crate::attachments::jpeg(100));
        crate::attachments::upload(app, &teacher.token, &attachment.sha256, &ciphertext).await;
        record.attachments = vec![attachment.clone()];
        let pushed: PushResponse = app
            .client
            .post(app.url("/api/v1/sync/push"))
            .bearer_auth(&teacher.token)
            .json(&incident_push(device, vec![(1, seal(&record, &key))]))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(pushed.results[0].outcome, Outcome::Applied);
        World {
            tokens,
            sync_device,
            teacher_id: teacher.me.user_id.to_string(),
            spare_device_id: spare.device.id,
            spare_invitation_id: report.invitations[1].invitation.id,
            settings,
            academy: AcademyInput {
                name: oakfield.name,
                key_personnel: oakfield.key_personnel,
            },
            trust: TrustInput {
                name: trust.name,
                chief_executive: trust.chief_executive,
                chair_of_trustees: trust.chair_of_trustees,
                data_protection_officer: trust.data_protection_officer,
            },
            incident_id: record.id,
            attachment: (attachment.sha256, ciphertext),
        }
    }

    /// A token again after a sign-out ended it: a session row written
    /// straight into the database, since signing in again would soon meet
    /// the per-address limit the matrix's deliberate failures run into.
    async fn renew(&mut self, app: &TestApp, who: Who) {
        let email = match who {
            Who::TrustAdmin => ADMIN_EMAIL,
            Who::OakfieldHead => "head@oakfield.example",
            Who::OakfieldEsafetyLead => "esafety@oakfield.example",
            Who::OakfieldDsl => "dsl@oakfield.example",
            Who::OakfieldStaff => TEACHER_EMAIL,
            Who::HilltopHead => "head@hilltop.example",
            _ => return,
        };
        let pool = open_db(app).await;
        let token = format!("hs_{}", haven_server::crypto::tokens::new_token());
        sqlx::query(
            "INSERT INTO sessions (token_sha256, user_id, expires_at, created_at, limited) \
             SELECT $1, id, $2, 0, 0 FROM users WHERE email = $3",
        )
        .bind(haven_server::crypto::tokens::token_digest(&token))
        .bind(i64::MAX)
        .bind(email)
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
        if who == Who::TrustAdmin {
            // The admin's sync credential ended with their sessions.
            let sync = sync_credential(app, &token, self.sync_device).await;
            self.tokens.insert(Who::AdminSyncCredential, sync);
        }
        self.tokens.insert(who, token);
    }

    fn url(&self, path: &str) -> String {
        path.replace("{version_id}", "01980a00-0000-7000-8000-000000000102")
            .replace("{policy_id}", "01980a00-0000-7000-8000-000000000202")
            .replace("{academy_id}", &OAKFIELD_ID.to_string())
            .replace("{user_id}", &self.teacher_id)
            .replace("{device_id}", &self.spare_device_id.to_string())
            .replace("{invitation_id}", &self.spare_invitation_id.to_string())
            .replace("{code}", "ZZZZ-ZZZZ")
            .replace("{incident_id}", &self.incident_id.to_string())
            .replace("{sha256}", &self.attachment.0)
            .replace(
                "{index}",
                &format!("0?size={}&pieces=1", self.attachment.1.len()),
            )
    }

    /// A body each endpoint accepts from a caller who is allowed.
    fn body(&self, method: &str, path: &str, n: usize) -> Option<Value> {
        let unique = format!("matrix{n}@oakfield.example");
        Some(match (method, path) {
            ("post", "/api/v1/auth/login") => {
                json!({"email": unique, "password": "wrong password"})
            }
            ("post", "/api/v1/auth/setup") => {
                json!({"token": "hl_unknown", "name": "A", "email": unique, "password": "long enough passphrase"})
            }
            ("post", "/api/v1/auth/invitations/accept") => {
                json!({"token": "hl_unknown", "password": "long enough passphrase"})
            }
            ("post", "/api/v1/auth/sync-credential") => {
                json!({"device_secret": crate::helpers::device_secret(Uuid::now_v7())})
            }
            ("post", "/api/v1/auth/totp/confirm") => json!({"code": "000000"}),
            ("post", "/api/v1/auth/totp/remove") => json!({"current_code": "000000"}),
            ("post", "/api/v1/policies") => {
                serde_json::to_value(publish_request(&format!("Matrix {n}"), "Text.")).unwrap()
            }
            ("put", "/api/v1/rules") => {
                serde_json::to_value(haven_core::rules::RuleTables::trust_default()).unwrap()
            }
            ("put", "/api/v1/academies/{academy_id}") => {
                serde_json::to_value(&self.academy).unwrap()
            }
            ("put", "/api/v1/trust") => serde_json::to_value(&self.trust).unwrap(),
            ("post", "/api/v1/sync/push") => {
                // A browser of the caller's own: every kind of caller may push
                // under an id that is theirs (tests/api/sync.rs covers others').
                let device = Uuid::now_v7();
                json!({"device_id": device, "device_secret": crate::helpers::device_secret(device), "mutations": [], "backlog": 0})
            }
            ("post", "/api/v1/staff") => {
                json!({"name": "Matrix Person", "email": unique, "grants": [{"role": "staff", "academy_id": OAKFIELD_ID}]})
            }
            ("post", "/api/v1/staff/import") => {
                json!({"csv": format!("name,email,academy,role\nMatrix Person,{unique},Oakfield Primary Academy,staff\n")})
            }
            ("put", "/api/v1/staff/{user_id}/roles") => {
                json!({"grants": [{"role": "staff", "academy_id": OAKFIELD_ID}]})
            }
            ("put", "/api/v1/staff/{user_id}/active") => json!({"active": true}),
            ("put", "/api/v1/settings/accounts") => self.settings.clone(),
            ("put", "/api/v1/settings/reminders") => json!({"interval_days": 7, "weekly": false}),
            ("post", "/api/v1/compliance/reminders") => json!({"academy_id": OAKFIELD_ID}),
            // A dry run: reads and plans, changes nothing.
            ("post", "/api/v1/roster/import") => json!({
                "orgs": "sourcedId,name,type\no1,Oakfield Primary Academy,school\n",
                "users": "sourcedId,orgSourcedIds,role,givenName,familyName,email,agentSourcedIds\n\
                          m1,o1,teacher,Matrix,Person,matrix.roster@example.org,\n",
            }),
            ("put", "/api/v1/academies/{academy_id}/reception") => {
                serde_json::to_value(haven_core::visit::ReceptionSettings::default()).unwrap()
            }
            ("post", "/api/v1/devices/codes") => {
                json!({"academy_id": OAKFIELD_ID, "kind": "shared_tablet", "label": "Year 3"})
            }
            ("post", "/api/v1/devices/enrol") => {
                json!({"code": "ZZZZ-ZZZZ", "sync_device_id": Uuid::now_v7()})
            }
            ("post", "/api/v1/parent-invitations/import") => {
                json!({"csv": format!("pupil name,class,academy,parent/carer name,email\nMia Lee,Year 1,Oakfield Primary Academy,Ann Lee,{unique}\n")})
            }
            ("post", "/api/v1/parent-invitations/redeem") => json!({"token": "hl_unknown"}),
            ("post", "/api/v1/incidents/{incident_id}/follow-ups") => {
                json!({"kind": "action_taken", "note": format!("Matrix note {n}")})
            }
            _ => return None,
        })
    }
}

/// The codes a refusal of each kind may carry.
fn outcome(status: u16, error: Option<&ApiError>) -> Expect {
    match (status, error.map(|e| e.code.as_str())) {
        (401, Some("unauthorized" | "device_revoked")) => Expect::Unauthorized,
        (403, Some("forbidden")) => Expect::Forbidden,
        (404, Some("not_found")) => Expect::Hidden,
        (403, Some("sync_credential_only")) => Expect::SyncOnly,
        _ => Expect::Allowed,
    }
}

#[tokio::test]
async fn every_endpoint_answers_every_kind_of_caller_as_the_matrix_says() {
    let app = spawn_app().await;
    let mut world = World::new(&app).await;
    let mut failures = Vec::new();
    let mut n = 0;
    for route in MATRIX {
        for who in EVERYONE {
            n += 1;
            let mut url = app.url(&world.url(route.path));
            if route.path == "/api/v1/compliance" || route.path == "/api/v1/compliance/chase" {
                url.push_str(&format!("?academy_id={OAKFIELD_ID}"));
            }
            if route.path == "/api/v1/incidents/person" {
                url.push_str("?name=Sam%20Pupil");
            }
            let mut request = app
                .client
                .request(route.method.to_uppercase().parse().unwrap(), url);
            if let Some(token) = world.tokens.get(&who) {
                request = request.bearer_auth(token);
            }
            if who == Who::AdminSyncCredential && route.path == "/api/v1/sync/push" {
                // A sync credential pushes only for the browser it was made for.
                let device = world.sync_device;
                request = request.json(&json!({"device_id": device, "device_secret": crate::helpers::device_secret(device), "mutations": [], "backlog": 0}));
            } else if let Some(body) = world.body(route.method, route.path, n) {
                request = request.json(&body);
            }
            if route.path.ends_with("/pieces/{index}") {
                // The attachment's one piece again: a resend, answered 200.
                request = request.body(world.attachment.1.clone());
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let text = response.text().await.unwrap();
            let error: Option<ApiError> = serde_json::from_str(&text).ok();
            let got = match outcome(status, error.as_ref()) {
                // Only incidents and their uploads are hidden as not found;
                // elsewhere a 404 is an allowed call's answer to a body made
                // to be refused.
                Expect::Hidden
                    if !route.path.contains("{incident_id}")
                        && !route.path.starts_with("/api/v1/attachments/") =>
                {
                    Expect::Allowed
                }
                got => got,
            };
            let want = if who != Who::AdminSyncCredential {
                expected(route.access, who)
            } else if route.path == "/api/v1/sync/push"
                || route.path.starts_with("/api/v1/attachments/")
            {
                // As its person, on its own browser.
                expected(route.access, Who::TrustAdmin)
            } else if route.access == Access::Public {
                Expect::Allowed
            } else {
                Expect::SyncOnly
            };
            // Allowed calls must succeed outright, except those whose body is
            // made to be refused (wrong password, unknown link or code) and
            // reminders, which this server has no relay for.
            let refused_on_purpose = matches!(
                route.path,
                "/api/v1/auth/login"
                    | "/api/v1/auth/setup"
                    | "/api/v1/auth/invitations/accept"
                    | "/api/v1/auth/totp/confirm"
                    | "/api/v1/auth/totp/remove"
                    | "/api/v1/devices/enrol"
                    | "/api/v1/parent-invitations/redeem"
                    | "/api/v1/verify/{code}"
                    | "/api/v1/compliance/reminders"
            );
            // Those answer a 4xx of their own (never a 2xx or a 5xx).
            let ok = got == want
                && (want != Expect::Allowed
                    || if refused_on_purpose {
                        (400..500).contains(&status)
                    } else {
                        (200..300).contains(&status)
                    });
            if !ok {
                failures.push(format!(
                    "{} {} as {who:?}: expected {want:?}, got {status} {text:.200}",
                    route.method, route.path
                ));
            }
            if route.path.starts_with("/api/v1/auth/logout") && want == Expect::Allowed {
                world.renew(&app, who).await;
            }
            // A reset of the teacher's second factor ends the teacher's sessions.
            if route.path.ends_with("/second-factor/reset") && want == Expect::Allowed {
                world.renew(&app, Who::OakfieldStaff).await;
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn a_headteacher_cannot_give_roles_at_another_academy() {
    let app = spawn_app().await;
    let head = login(&app, "head@hilltop.example").await.token;
    let response = app
        .client
        .post(app.url("/api/v1/staff"))
        .bearer_auth(&head)
        .json(&json!({"name": "New Teacher", "email": "new@hilltop.example",
            "grants": [{"role": "staff", "academy_id": HILLTOP_ID}, {"role": "dsl", "academy_id": OAKFIELD_ID}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let response = app
        .client
        .post(app.url("/api/v1/staff"))
        .bearer_auth(&head)
        .json(
            &json!({"name": "New Teacher", "email": "new@hilltop.example",
            "grants": [{"role": "trust_admin", "academy_id": null}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        403,
        "only trust admins make trust admins"
    );
    let response = app
        .client
        .post(app.url("/api/v1/staff"))
        .bearer_auth(&head)
        .json(
            &json!({"name": "New Teacher", "email": "new@hilltop.example",
            "grants": [{"role": "staff", "academy_id": HILLTOP_ID}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
}

/// One academy's targets for the cross-academy cells: a member of staff, an
/// enrolled device, a parent invitation and an incident, all made by the
/// trust admin (the incident by the academy's head).
struct Side {
    academy: Uuid,
    academy_name: &'static str,
    staff_id: Uuid,
    staff_email: String,
    device_id: Uuid,
    invitation_id: Uuid,
    incident_id: Uuid,
}

async fn side(app: &TestApp, admin: &str, academy: Uuid, head_email: &str) -> Side {
    let academy_name = if academy == OAKFIELD_ID {
        "Oakfield Primary Academy"
    } else {
        "Hilltop Secondary Academy"
    };
    let staff_email = format!("scope-{academy}@example.org");
    let invited: Value = app
        .client
        .post(app.url("/api/v1/staff"))
        .bearer_auth(admin)
        .json(&json!({"name": "Scope Person", "email": staff_email,
            "grants": [{"role": "staff", "academy_id": academy}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let staff_id = invited["staff"]["id"].as_str().unwrap().parse().unwrap();
    let code: EnrolmentCode = app
        .client
        .post(app.url("/api/v1/devices/codes"))
        .bearer_auth(admin)
        .json(&json!({"academy_id": academy, "kind": "shared_tablet", "label": "Scope"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let enrolled: Enrolled = app
        .client
        .post(app.url("/api/v1/devices/enrol"))
        .json(&json!({"code": code.code, "sync_device_id": Uuid::now_v7()}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let csv = format!(
        "pupil name,class,academy,parent/carer name,email\n\
         Pat Scope,Year 4,{academy_name},Chris Scope,scope-{academy}@example.org\n"
    );
    let report: ClassListReport = app
        .client
        .post(app.url("/api/v1/parent-invitations/import"))
        .bearer_auth(admin)
        .json(&json!({ "csv": csv }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report.invitations.len(), 1, "{:?}", report.problems);
    let head = login(app, head_email).await;
    let key = incident_key(app).await;
    let device = Uuid::now_v7();
    let record = incident_record(
        academy,
        device,
        head.me.user_id,
        Involved::PupilInLesson,
        "personal-device",
    );
    let pushed: PushResponse = app
        .client
        .post(app.url("/api/v1/sync/push"))
        .bearer_auth(&head.token)
        .json(&incident_push(device, vec![(1, seal(&record, &key))]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(pushed.results[0].outcome, Outcome::Applied);
    Side {
        academy,
        academy_name,
        staff_id,
        staff_email,
        device_id: enrolled.device.id,
        invitation_id: report.invitations[0].invitation.id,
        incident_id: record.id,
    }
}

/// Everything a refused call might have written, as text: each row of each
/// table that holds people, roles, devices, links, visits and incidents
/// (a device's last contact aside, which its own calls move).
async fn written(app: &TestApp) -> String {
    let pool = open_db(app).await;
    let mut all = String::new();
    for table in [
        "users",
        "user_roles",
        "account_links",
        "enrolled_devices",
        "enrolment_codes",
        "parent_invitations",
        "parent_sessions",
        "academies",
        "reception_settings",
        "visits",
        "visit_ends",
        "incidents",
        "incident_follow_ups",
    ] {
        let rows = crate::helpers::rows_as_text(&pool, table, &["last_contact_at"]).await;
        all.push_str(&format!("{table}: {}\n", rows.join("\n  ")));
    }
    pool.close().await;
    all
}

#[tokio::test]
async fn nothing_reaches_across_academies_in_either_direction() {
    let app = spawn_app().await;
    let admin = login(&app, ADMIN_EMAIL).await.token;
    let oak = side(&app, &admin, OAKFIELD_ID, "head@oakfield.example").await;
    let hill = side(&app, &admin, HILLTOP_ID, "head@hilltop.example").await;
    let (kiosk, _) = enrol(&app, &admin).await;
    // Callers at each academy, and the academy's roles they hold.
    let mut callers: Vec<(&str, String, &Side, &Side)> = Vec::new();
    for (name, email) in [
        ("Oakfield head", "head@oakfield.example"),
        ("Oakfield e-safety lead", "esafety@oakfield.example"),
        ("Oakfield DSL", "dsl@oakfield.example"),
        ("Oakfield teacher", TEACHER_EMAIL),
    ] {
        callers.push((name, login(&app, email).await.token, &oak, &hill));
    }
    callers.push((
        "Hilltop head",
        login(&app, "head@hilltop.example").await.token,
        &hill,
        &oak,
    ));
    callers.push(("Oakfield kiosk", kiosk.token.clone(), &oak, &hill));

    let mut failures = Vec::new();
    for (name, token, mine, theirs) in &callers {
        let is_device = name.ends_with("kiosk");
        let heads = name.ends_with("head");
        let managers = heads || name.ends_with("e-safety lead");
        let new_email = format!("cross-{}@example.org", Uuid::now_v7());
        let cells: Vec<(&str, String, Value, u16)> = vec![
            (
                "put",
                format!("/api/v1/staff/{}/roles", theirs.staff_id),
                json!({"grants": [{"role": "dsl", "academy_id": mine.academy}]}),
                403,
            ),
            (
                "put",
                format!("/api/v1/staff/{}/roles", theirs.staff_id),
                json!({"grants": []}),
                403,
            ),
            (
                "put",
                format!("/api/v1/staff/{}/active", theirs.staff_id),
                json!({"active": false}),
                403,
            ),
            (
                "post",
                format!("/api/v1/staff/{}/second-factor/reset", theirs.staff_id),
                Value::Null,
                403,
            ),
            (
                "post",
                "/api/v1/staff".to_owned(),
                json!({"name": "Cross", "email": new_email,
                    "grants": [{"role": "staff", "academy_id": theirs.academy}]}),
                403,
            ),
            (
                "post",
                "/api/v1/staff/import".to_owned(),
                json!({"csv": format!(
                    "name,email,academy,role\nScope Person,{},{},staff\nCross,{new_email},{},staff\n",
                    theirs.staff_email, mine.academy_name, theirs.academy_name
                )}),
                if heads { 200 } else { 403 },
            ),
            (
                "post",
                "/api/v1/devices/codes".to_owned(),
                json!({"academy_id": theirs.academy, "kind": "shared_tablet", "label": "X"}),
                403,
            ),
            (
                "post",
                format!("/api/v1/devices/{}/revoke", theirs.device_id),
                Value::Null,
                403,
            ),
            (
                "post",
                format!("/api/v1/parent-invitations/{}/link", theirs.invitation_id),
                Value::Null,
                403,
            ),
            (
                "post",
                "/api/v1/parent-invitations/import".to_owned(),
                json!({"csv": format!(
                    "pupil name,class,academy,parent/carer name,email\nMo Cross,Year 2,{},Al Cross,{new_email}\n",
                    theirs.academy_name
                )}),
                if managers { 200 } else { 403 },
            ),
            (
                "get",
                format!("/api/v1/compliance?academy_id={}", theirs.academy),
                Value::Null,
                403,
            ),
            (
                "get",
                format!("/api/v1/reception/{}", theirs.academy),
                Value::Null,
                403,
            ),
            (
                "put",
                format!("/api/v1/academies/{}/reception", theirs.academy),
                serde_json::to_value(haven_core::visit::ReceptionSettings::default()).unwrap(),
                403,
            ),
            (
                "get",
                format!("/api/v1/incidents/{}", theirs.incident_id),
                Value::Null,
                if is_device { 403 } else { 404 },
            ),
            (
                "post",
                format!("/api/v1/incidents/{}/follow-ups", theirs.incident_id),
                json!({"kind": "action_taken", "note": "Across"}),
                if is_device { 403 } else { 404 },
            ),
        ];
        for (method, path, body, want) in cells {
            let before = written(&app).await;
            let mut request = app
                .client
                .request(method.to_uppercase().parse().unwrap(), app.url(&path))
                .bearer_auth(token);
            if !body.is_null() {
                request = request.json(&body);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let text = response.text().await.unwrap();
            if status != want {
                failures.push(format!(
                    "{method} {path} as {name}: expected {want}, got {status} {text:.200}"
                ));
            }
            if want == 200 {
                // An import answers 200 with every row refused, each with a reason.
                let report: Value = serde_json::from_str(&text).unwrap_or_default();
                let problems = report["problems"].as_array().map_or(0, Vec::len);
                let rows = body["csv"].as_str().unwrap().lines().count() - 1;
                if problems != rows
                    || report["invited"].as_array().is_some_and(|a| !a.is_empty())
                    || report["updated"].as_array().is_some_and(|a| !a.is_empty())
                    || report["invitations"]
                        .as_array()
                        .is_some_and(|a| !a.is_empty())
                {
                    failures.push(format!(
                        "{method} {path} as {name}: every row should be refused: {text:.400}"
                    ));
                }
            }
            if written(&app).await != before {
                failures.push(format!(
                    "{method} {path} as {name}: a refused call wrote something"
                ));
            }
        }

        // Lists hold only the caller's academy's rows, and do hold them.
        if is_device {
            continue;
        }
        for (path, mine_expected) in [
            ("/api/v1/staff", heads),
            ("/api/v1/devices", managers),
            ("/api/v1/parent-invitations", managers),
            ("/api/v1/incidents", !name.ends_with("teacher")),
        ] {
            let response = app
                .client
                .get(app.url(path))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let list: Value = response.json().await.unwrap();
            if status == 403 && !mine_expected && path != "/api/v1/incidents" {
                continue;
            }
            let Some(items) = list.as_array().or_else(|| list["incidents"].as_array()) else {
                failures.push(format!("GET {path} as {name}: {status} {list:.200}"));
                continue;
            };
            let academies_of = |item: &Value| -> Vec<String> {
                match item["grants"].as_array() {
                    Some(grants) => grants
                        .iter()
                        .map(|g| g["academy_id"].as_str().unwrap_or("").to_owned())
                        .collect(),
                    None => vec![item["academy_id"].as_str().unwrap_or("").to_owned()],
                }
            };
            let own = mine.academy.to_string();
            for item in items {
                if !academies_of(item).contains(&own) {
                    failures.push(format!(
                        "GET {path} as {name} holds a row of another academy: {item:.300}"
                    ));
                }
            }
            let ids = [
                mine.staff_id,
                mine.device_id,
                mine.invitation_id,
                mine.incident_id,
            ]
            .map(|id| id.to_string());
            let has_own = items
                .iter()
                .any(|i| ids.iter().any(|id| i["id"].as_str() == Some(id.as_str())));
            if mine_expected && !has_own {
                failures.push(format!(
                    "GET {path} as {name} lacks its own academy's row: {list:.300}"
                ));
            }
        }
    }

    // The same calls from the targets' own head are allowed (so the cells
    // above were refused for where they reach, not for their bodies).
    for (side, head) in [
        (&oak, "head@oakfield.example"),
        (&hill, "head@hilltop.example"),
    ] {
        let token = login(&app, head).await.token;
        let response = app
            .client
            .put(app.url(&format!("/api/v1/staff/{}/roles", side.staff_id)))
            .bearer_auth(&token)
            .json(&json!({"grants": [{"role": "dsl", "academy_id": side.academy}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{head}");
        let response = app
            .client
            .post(app.url(&format!("/api/v1/devices/{}/revoke", side.device_id)))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{head}");
        let response = app
            .client
            .post(app.url(&format!(
                "/api/v1/incidents/{}/follow-ups",
                side.incident_id
            )))
            .bearer_auth(&token)
            .json(&json!({"kind": "action_taken", "note": "Own"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{head}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
