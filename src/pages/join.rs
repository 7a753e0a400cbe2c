//! `/join/TOKEN`: a parent or carer opens the link the school sent. The link
//! is redeemed once for a session kept on this phone, which is what the
//! device then signs and sends with; opening it again elsewhere is refused.
//! An agreement whose newer version replaced one signed here says so, with
//! what changed (`components::resign`).
//! The signing journey itself (per child, photo consent) is issue [5/8].

use crate::api;
use crate::components::resign::{Resign, ResignNotice};
use crate::db::{Credential, CredentialKind, StoredAgreement};
use crate::state::app_db;
use haven_core::agreement::Capacity;
use haven_core::api::accounts::{ParentInvitation, ParentSession, RedeemRequest};
use haven_core::compliance::Signed;
use haven_core::policy::{PolicyKind, PolicyVersion};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

#[component]
pub fn Join() -> impl IntoView {
    let token = use_params_map().with_untracked(|p| p.get("token").unwrap_or_default());
    let device = crate::state::device_role::use_device_role();
    let state = LocalResource::new(move || {
        let token = token.clone();
        async move {
            let opened = open_link(&token).await;
            // The header now names the parent's academy.
            device.changed();
            opened
        }
    });
    // The server's copy lists what there is to sign; the app takes over
    // once it knows whether the link opened (`crate::prerender`).
    Effect::new(move |_| {
        if state.get().is_some() {
            crate::prerender::ready();
        }
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
    let kept = db.parent_invitation().await.map_err(|e| e.to_string())?;
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
        owner: None,
    }))
    .await
    .map_err(|e| e.to_string())?;
    db.keep_parent_invitation(token, &session.invitation)
        .await
        .map_err(|e| e.to_string())?;
    crate::state::request_sync();
    Ok(session.invitation)
}

/// The invitation this phone redeemed, if any (for the sign page).
pub async fn kept_invitation() -> Option<ParentInvitation> {
    let kept = app_db().await.ok()?.parent_invitation().await.ok()?;
    kept.map(|(_, invitation)| invitation)
}

/// The path back to the invitation page, from the kept link.
pub async fn invitation_path() -> Option<String> {
    let kept = app_db().await.ok()?.parent_invitation().await.ok()?;
    kept.map(|(token, _)| join_path(&token))
}

/// The invitation page of the link `token`.
pub fn join_path(token: &str) -> String {
    format!("/join/{token}")
}

/// A query value made safe for a URL.
fn encode(s: &str) -> String {
    js_sys::encode_uri_component(s)
        .as_string()
        .unwrap_or_default()
}

/// Whether `a` was signed for `child` (a pupil's name) or, with `None`, by
/// the parent for themselves.
fn signed_for(a: &StoredAgreement, child: Option<&str>) -> bool {
    match (&a.record.capacity, child) {
        (Capacity::OnBehalfOf { child_name, .. }, Some(c)) => child_name == c,
        (Capacity::Myself, None) => true,
        _ => false,
    }
}

/// What the invitation page knows: the latest version of each policy, every
/// version held here (to explain a new version), and this phone's signatures.
#[derive(Clone)]
struct Known {
    latest: Vec<PolicyVersion>,
    versions: Vec<PolicyVersion>,
    signed: Vec<StoredAgreement>,
}

impl Known {
    /// "Signed" or "Declined" when the current version `p` was answered for
    /// `child`.
    fn answered(&self, p: &PolicyVersion, child: Option<&str>) -> Option<&'static str> {
        self.signed
            .iter()
            .find(|a| a.record.policy_version_id == p.id && signed_for(a, child))
            .map(|a| {
                if a.record.agreed {
                    "Signed"
                } else {
                    "Declined"
                }
            })
    }

    /// Why `p` is to be signed again for `child`, when an earlier version of
    /// it was.
    fn resign(&self, p: &PolicyVersion, child: Option<&str>) -> Option<Resign> {
        let records: Vec<Signed> = self
            .signed
            .iter()
            .filter(|a| signed_for(a, child))
            .filter_map(|a| {
                let v = self
                    .versions
                    .iter()
                    .find(|v| v.id == a.record.policy_version_id)?;
                Some(Signed {
                    policy_id: v.policy_id,
                    version: v.version,
                    agreed: a.record.agreed,
                    signed_at: a.record.signed_at,
                })
            })
            .collect();
        Resign::from_records(p, &records, &self.versions)
    }
}

#[component]
fn Welcome(invitation: ParentInvitation) -> impl IntoView {
    let status = crate::state::use_sync_status();
    let state = LocalResource::new(move || {
        status.data_version.track();
        async move {
            let db = app_db().await?;
            Ok::<_, crate::db::DbError>(Known {
                latest: db.latest_policies().await?,
                versions: db.all_policy_versions().await?,
                signed: db.agreements().await?,
            })
        }
    });
    let invitation = StoredValue::new(invitation);
    view! {
        <p data-testid="join-welcome">{format!("Hello {}.", invitation.with_value(|i| i.parent_name.clone()))}</p>
        <p>{haven_core::accounts::class_list::INVITATION_ASK}</p>
        <ul data-testid="join-children" class="visually-hidden">
            {invitation.with_value(|i| i.children.iter().map(|c| view! { <li>{format!("{} ({})", c.pupil_name, c.class)}</li> }).collect_view())}
        </ul>
        <Transition fallback=|| view! { <p>"Loading the agreements…"</p> }>
            {move || state.get().and_then(Result::ok).map(|known| {
                let known = std::rc::Rc::new(known);
                let find = |kind: PolicyKind| known.latest.iter().find(|p| p.kind == kind).cloned();
                let item = {
                    let known = known.clone();
                    move |p: &PolicyVersion, child: Option<&str>| {
                        let href = match child {
                            Some(c) => format!("/sign/{}?child={}", p.id, encode(c)),
                            None => format!("/sign/{}?parent=1", p.id),
                        };
                        let state = known.answered(p, child);
                        let resign = state.is_none().then(|| known.resign(p, child)).flatten();
                        let title = p.title.clone();
                        view! {
                            <li>
                                <A href=href>{title}</A>
                                {state.map(|s| view! { <span class="tag tag-done">{format!(" — {s}")}</span> })}
                                {resign.map(|resign| view! { <ResignNotice resign/> })}
                            </li>
                        }
                    }
                };
                let parent = find(PolicyKind::ParentAua);
                let for_child = [find(PolicyKind::PupilAua), find(PolicyKind::PhotoConsent)];
                view! {
                    {parent.map(|p| view! {
                        <h2>"For you"</h2>
                        <ul class="policy-list" data-testid="for-parent">{item(&p, None)}</ul>
                    })}
                    {invitation.with_value(|i| i.children.clone()).into_iter().map(|c| {
                        let name = c.pupil_name.clone();
                        view! {
                            <section class="child-card" data-testid=format!("child-{name}")>
                                <h2>{format!("For {} ({})", c.pupil_name, c.class)}</h2>
                                <ul class="policy-list">
                                    {for_child.iter().flatten().map(|p| item(p, Some(&name))).collect_view()}
                                </ul>
                            </section>
                        }
                    }).collect_view()}
                }
            })}
        </Transition>
    }
}
