//! `/join/TOKEN`: a parent or carer opens the link the school sent. The link
//! is redeemed once for a session kept on this phone, which is what the
//! device then signs and sends with; opening it again elsewhere is refused.
//! The signing journey itself (per child, photo consent) is issue [5/8].

use crate::api;
use crate::db::{Credential, CredentialKind};
use crate::state::app_db;
use haven_core::api::accounts::{ParentInvitation, ParentSession, RedeemRequest};
use haven_core::policy::PolicyKind;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

const INVITATION_KEY: &str = "parent_invitation";

#[component]
pub fn Join() -> impl IntoView {
    let token = use_params_map().with_untracked(|p| p.get("token").unwrap_or_default());
    let state = LocalResource::new(move || {
        let token = token.clone();
        async move { open_link(&token).await }
    });
    view! {
        <h1>"Online safety agreements"</h1>
        <Transition fallback=|| view! { <p>"Opening your invitation…"</p> }>
            {move || state.get().map(|r| match r {
                Err(message) => view! {
                    <div class="error-summary" role="alert"><h2>"This link cannot be used"</h2><p data-testid="join-error">{message}</p></div>
                }.into_any(),
                Ok(invitation) => view! { <Welcome invitation/> }.into_any(),
            })}
        </Transition>
    }
}

/// Redeems the link, or — on the phone that already redeemed it — carries on
/// with the invitation kept here.
async fn open_link(token: &str) -> Result<ParentInvitation, String> {
    let db = app_db().await.map_err(|e| e.to_string())?;
    let kept: Option<(String, ParentInvitation)> = db
        .get_meta(INVITATION_KEY)
        .await
        .map_err(|e| e.to_string())?;
    if let Some((link, invitation)) = kept {
        if link == token {
            return Ok(invitation);
        }
    }
    let session: ParentSession = api::post_json(
        &api::url("/parent-invitations/redeem"),
        None,
        &RedeemRequest {
            token: token.to_owned(),
        },
    )
    .await
    .map_err(|e| match e {
        api::ApiClientError::Unreachable => {
            "Haven cannot reach the school. Open this link again when you have signal.".to_owned()
        }
        e => e.to_string(),
    })?;
    db.set_credential(Some(&Credential {
        kind: CredentialKind::Parent,
        token: session.token,
        expires_at: Some(session.expires_at),
        label: session.invitation.parent_name.clone(),
        refused: false,
    }))
    .await
    .map_err(|e| e.to_string())?;
    db.put_meta(
        INVITATION_KEY,
        &(token.to_owned(), session.invitation.clone()),
    )
    .await
    .map_err(|e| e.to_string())?;
    crate::state::request_sync();
    Ok(session.invitation)
}

#[component]
fn Welcome(invitation: ParentInvitation) -> impl IntoView {
    let policies = LocalResource::new(|| async { app_db().await?.latest_policies().await });
    view! {
        <p data-testid="join-welcome">{format!("Hello {}.", invitation.parent_name)}</p>
        <p>"The school asks you to read and sign these agreements for:"</p>
        <ul data-testid="join-children">
            {invitation.children.iter().map(|c| view! { <li>{format!("{} ({})", c.pupil_name, c.class)}</li> }).collect_view()}
        </ul>
        <Transition fallback=|| view! { <p>"Loading the agreements…"</p> }>
            {move || policies.get().and_then(Result::ok).map(|list| view! {
                <ul class="policy-list">
                    {list.into_iter()
                        .filter(|p| matches!(p.kind, PolicyKind::ParentAua | PolicyKind::PupilAua | PolicyKind::PhotoConsent))
                        .map(|p| view! { <li><A href=format!("/policies/{}", p.id)>{p.title.clone()}</A></li> })
                        .collect_view()}
                </ul>
            })}
        </Transition>
    }
}
