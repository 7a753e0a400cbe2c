//! The reception kiosk (`/kiosk/…`): a tablet on a stand at the front desk.
//!
//! Visitors see only the welcome screen, signing in (details, the visitor
//! agreement unless they already signed its current version, then their
//! badge) and signing out. Everything else — the fire roll call, the end of
//! day — needs a staff member's PIN. After [`IDLE_MS`] with no touch the
//! kiosk goes back to the welcome screen, so one visitor's details never
//! wait on screen for the next.

pub mod badge;
pub mod roll_call;
pub mod sign_in;
pub mod sign_out;

use crate::clock::now_ms;
use crate::db::{KeptSnapshot, StoredVisit};
use crate::state::app_db;
use crate::state::session::use_session;
use crate::state::{use_sync_status, Connection};
use haven_core::api::accounts::{DeviceKind, DeviceView};
use haven_core::org::Academy;
use haven_core::policy::PolicyVersion;
use haven_core::visit::{Host, ReceptionSettings, Recognisable, VisitRecord, VisitorType};
use haven_core::Millis;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_location, use_navigate};

/// Back to the welcome screen after this long untouched.
pub const IDLE_MS: Millis = 60_000;

/// Everything the kiosk pages read from the device, in one load.
#[derive(Clone)]
pub struct Reception {
    pub enrolment: Option<DeviceView>,
    pub academy: Option<Academy>,
    pub visits: Vec<StoredVisit>,
    pub snapshot: Option<KeptSnapshot>,
    pub policies: Vec<PolicyVersion>,
    /// This desk's key for returning visitors' digests, and what it knows
    /// them by: never their names (`haven_core::visit::returning_digest`).
    pub visitor_key: Vec<u8>,
    pub returning: Vec<Recognisable>,
}

impl Reception {
    pub fn settings(&self) -> ReceptionSettings {
        self.snapshot
            .as_ref()
            .map(|s| s.snapshot.settings)
            .unwrap_or_default()
    }

    pub fn is_reception_desk(&self) -> bool {
        self.enrolment
            .as_ref()
            .is_some_and(|e| e.kind == DeviceKind::ReceptionKiosk)
    }

    /// Whom visitors may come to see: the academy's staff from the server,
    /// or, before the first sync, its key personnel.
    pub fn hosts(&self) -> Vec<Host> {
        if let Some(kept) = self
            .snapshot
            .as_ref()
            .filter(|k| !k.snapshot.hosts.is_empty())
        {
            return kept.snapshot.hosts.clone();
        }
        let mut hosts: Vec<Host> = self
            .academy
            .iter()
            .flat_map(|a| {
                let k = &a.key_personnel;
                [&k.headteacher, &k.esafety_lead, &k.dsl]
            })
            .map(|c| Host {
                staff_id: None,
                name: c.name.clone(),
            })
            .collect();
        hosts.sort_by(|a, b| a.name.cmp(&b.name));
        hosts.dedup();
        hosts
    }

    /// The current version of the agreement a visitor of `kind` signs: the
    /// one written for their role if there is one, else the kind's general one.
    pub fn agreement_for(&self, visitor: VisitorType) -> Option<PolicyVersion> {
        let kind = visitor.agreement_kind();
        let of_kind = || self.policies.iter().filter(|p| p.kind == kind);
        of_kind()
            .find(|p| p.audiences.contains(&visitor.audience()))
            .or_else(|| of_kind().next())
            .cloned()
    }

    /// Whether staff see `visit`'s times as approximate: a device's clock was
    /// wrong when they were recorded.
    pub fn times_approximate(&self, visit: &VisitRecord) -> bool {
        let snapshot = self.snapshot.as_ref().map(|k| &k.snapshot);
        haven_core::visit::times_approximate(visit, snapshot)
    }

    /// Visits still on site, as this desk and the last snapshot know them.
    pub fn on_site(&self) -> Vec<StoredVisit> {
        let local = self.visits.iter().map(|v| (&v.record, !v.is_on_site()));
        let snapshot = self.snapshot.as_ref().map(|k| &k.snapshot);
        haven_core::visit::on_site(local, snapshot)
            .into_iter()
            .map(|record| {
                self.visits
                    .iter()
                    .find(|v| v.record.id == record.id)
                    .cloned()
                    // Another desk's visitor: the server has their sign-in.
                    .unwrap_or_else(|| StoredVisit {
                        record: record.clone(),
                        sync: crate::db::SyncState::Synced,
                        end: None,
                        end_sync: None,
                    })
            })
            .collect()
    }
}

/// Reads [`Reception`] again whenever this page bumps `bump` and, if
/// `live`, whenever a sync changed something. A form is not live: a sync
/// finishing while a visitor types must not start their form again.
pub fn use_reception(bump: RwSignal<u64>, live: bool) -> LocalResource<Result<Reception, String>> {
    let status = use_sync_status();
    LocalResource::new(move || {
        if live {
            status.data_version.track();
        }
        bump.track();
        async move {
            let db = app_db().await.map_err(|e| e.to_string())?;
            let enrolment = db.enrolment().await.map_err(|e| e.to_string())?;
            let academies = db.academies().await.map_err(|e| e.to_string())?;
            let academy = enrolment
                .as_ref()
                .and_then(|e| academies.into_iter().find(|a| a.id == e.academy_id));
            let (visitor_key, returning) =
                db.returning_visitors().await.map_err(|e| e.to_string())?;
            Ok(Reception {
                enrolment,
                academy,
                visits: db.visits().await.map_err(|e| e.to_string())?,
                snapshot: db.reception_snapshot().await.map_err(|e| e.to_string())?,
                policies: db.latest_policies().await.map_err(|e| e.to_string())?,
                visitor_key,
                returning,
            })
        }
    })
}

/// The kiosk's frame: its own header (no way into the app but the staff
/// PIN), and the idle return to the welcome screen.
#[component]
pub fn KioskShell(children: Children) -> impl IntoView {
    let navigate = StoredValue::new_local(use_navigate());
    let location = use_location();
    let session = use_session();
    let last_touch = RwSignal::new(now_ms());
    let touch = move || last_touch.set(now_ms());
    // Checked every few seconds rather than timed exactly: a minute give or
    // take five seconds is what a person at the desk notices.
    let interval = gloo_timers::callback::Interval::new(5_000, move || {
        let path = location.pathname.get_untracked();
        let at_welcome = path == "/kiosk" || path == "/kiosk/";
        if !at_welcome && now_ms() - last_touch.get_untracked() >= IDLE_MS {
            // Staff pages lock too: the roll call is not for the next visitor.
            if path.starts_with("/kiosk/staff") || path.starts_with("/kiosk/roll-call") {
                session.lock();
            }
            navigate.with_value(|nav| nav("/kiosk", Default::default()));
        }
    });
    let interval = StoredValue::new_local(Some(interval));
    on_cleanup(move || {
        interval.update_value(|i| {
            if let Some(i) = i.take() {
                i.cancel();
            }
        })
    });
    let status = use_sync_status();
    view! {
        <div class="kiosk" on:pointerdown=move |_| touch() on:keydown=move |_| touch() on:input=move |_| touch()>
            <div class="kiosk-bar">
                <A href="/kiosk" attr:class="kiosk-home">"Reception"</A>
                <span class="kiosk-connection" data-testid="kiosk-connection">
                    {move || match status.connection.get() {
                        Connection::Online => "Online".to_owned(),
                        Connection::Checking => Connection::Checking.label().to_owned(),
                        c => format!("{}: signing in and out still works", c.label()),
                    }}
                </span>
                <A href="/unlock?next=/kiosk/staff" attr:class="button button-secondary button-small" attr:data-testid="kiosk-staff">"Staff"</A>
            </div>
            {children()}
        </div>
    }
}

/// `/kiosk`: the welcome screen.
#[component]
pub fn KioskWelcome() -> impl IntoView {
    let bump = RwSignal::new(0);
    let reception = use_reception(bump, true);
    view! {
        <KioskShell>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || reception.get().map(|r| match r {
                    Err(e) => view! { <p class="field-error" role="alert">{e}</p> }.into_any(),
                    Ok(r) if !r.is_reception_desk() => view! {
                        <h1>"This device is not a reception desk"</h1>
                        <p>"An admin makes an enrolment code for a reception kiosk; enter it on this device."</p>
                        <p><A href="/enrol" attr:class="button">"Enrol this device"</A></p>
                    }.into_any(),
                    Ok(r) => {
                        let name = r.academy.map(|a| a.name).unwrap_or_else(|| "our school".into());
                        view! {
                            <h1 class="kiosk-welcome">{format!("Welcome to {name}")}</h1>
                            <div class="kiosk-choices">
                                <A href="/kiosk/sign-in" attr:class="button kiosk-choice" attr:data-testid="kiosk-sign-in">"Sign in"</A>
                                <A href="/kiosk/sign-out" attr:class="button button-secondary kiosk-choice" attr:data-testid="kiosk-sign-out">"Sign out"</A>
                            </div>
                            <p class="kiosk-note">"Visitors sign in here and wear their badge while on site."</p>
                        }.into_any()
                    }
                })}
            </Transition>
        </KioskShell>
    }
}
