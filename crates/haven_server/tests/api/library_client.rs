//! Calls for the policy library, rules, academies and pull, shared by their tests.

use crate::helpers::TestApp;
use haven_core::policy::{Audience, PolicyKind, PolicyOwner, PolicyVersion, PublishPolicyVersion};
use haven_core::pull::PullResponse;
use serde::Serialize;
use uuid::Uuid;

/// A complete, valid request to publish a staff agreement as a new policy.
pub fn publish_request(title: &str, body: &str) -> PublishPolicyVersion {
    PublishPolicyVersion {
        policy_id: None,
        title: title.to_owned(),
        kind: PolicyKind::StaffAua,
        audiences: vec![Audience::Staff, Audience::Volunteer],
        owner: PolicyOwner::Trust,
        body_markdown: body.to_owned(),
        approved_by: "Board of Trustees".to_owned(),
        effective_date: "2026-09-01".to_owned(),
        last_reviewed: "2026-07-14".to_owned(),
        next_review_due: "2027-07-31".to_owned(),
        change_summary: None,
    }
}

/// A request for the next version of an existing version's policy, with a new body.
pub fn next_version_of(v: &PolicyVersion, body: &str) -> PublishPolicyVersion {
    PublishPolicyVersion {
        policy_id: Some(v.policy_id),
        title: v.title.clone(),
        kind: v.kind,
        audiences: v.audiences.clone(),
        owner: v.owner,
        body_markdown: body.to_owned(),
        approved_by: v.approved_by.clone(),
        effective_date: "2027-01-01".to_owned(),
        last_reviewed: "2026-12-01".to_owned(),
        next_review_due: "2027-12-01".to_owned(),
        change_summary: Some(format!("Version {} rewritten.", v.version + 1)),
    }
}

impl TestApp {
    /// `method path` with a JSON body and, if given, a bearer token.
    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: &impl Serialize,
    ) -> reqwest::Response {
        let mut request = self.client.request(method, self.url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    pub async fn post_policy(
        &self,
        token: Option<&str>,
        body: &impl Serialize,
    ) -> reqwest::Response {
        self.send_json(reqwest::Method::POST, "/api/v1/policies", token, body)
            .await
    }

    /// Publishes as the demo admin, expecting a new version.
    pub async fn publish(&self, request: &PublishPolicyVersion) -> PolicyVersion {
        let token = self.admin_token().await;
        let response = self.post_policy(Some(&token), request).await;
        assert_eq!(response.status(), 201, "publish failed");
        response.json().await.unwrap()
    }

    pub async fn put_rules(&self, token: Option<&str>, body: &impl Serialize) -> reqwest::Response {
        self.send_json(reqwest::Method::PUT, "/api/v1/rules", token, body)
            .await
    }

    pub async fn put_academy(
        &self,
        token: Option<&str>,
        id: Uuid,
        body: &impl Serialize,
    ) -> reqwest::Response {
        self.send_json(
            reqwest::Method::PUT,
            &format!("/api/v1/academies/{id}"),
            token,
            body,
        )
        .await
    }

    /// `GET /api/v1/pull?since=...`, expecting success.
    pub async fn pull(&self, since: u64) -> PullResponse {
        let response = self.get(&format!("/api/v1/pull?since={since}")).await;
        assert_eq!(response.status(), 200, "pull failed");
        response.json().await.unwrap()
    }
}
