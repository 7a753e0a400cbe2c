//! `/kiosk/badge/:id`: the visitor's badge, to print on a label or on A4:
//! name, organisation, host, date, the escort status in large type, and a
//! QR code of the badge code for signing out.

use super::{use_reception, KioskShell};
use crate::clock::{local_date, local_time};
use crate::components::qr::QrCode;
use haven_core::visit::badge_qr_payload;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

/// Prints with the label or the A4 layout: a class on `<html>` picks the
/// print stylesheet's rules, and is taken off again afterwards.
fn print_as(layout: &'static str) {
    let Some(root) = document().document_element() else {
        return;
    };
    let classes = root.class_list();
    let _ = classes.remove_2("print-label", "print-a4");
    let _ = classes.add_1(layout);
    if let Some(window) = web_sys::window() {
        let _ = window.print();
    }
}

#[component]
pub fn KioskBadge() -> impl IntoView {
    let params = use_params_map();
    let bump = RwSignal::new(0);
    let reception = use_reception(bump, false);
    let id = move || params.with(|p| p.get("id")).unwrap_or_default();
    view! {
        <KioskShell>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || reception.get().map(|r| {
                    let id = id();
                    let visit = r.ok().and_then(|r| r.visits.into_iter().find(|v| v.record.id.to_string() == id));
                    match visit {
                        None => view! { <p>"This badge is not on this device."</p> }.into_any(),
                        Some(v) => {
                            let v = v.record;
                            let code = v.badge_code.clone();
                            let escort = if v.escort_required { "ESCORT REQUIRED" } else { "No escort needed" };
                            view! {
                                <h1 class="no-print">"You are signed in"</h1>
                                <p class="no-print">"Wear your badge at all times. Sign out here when you leave."</p>
                                <article class="badge" data-testid="badge" aria-label="Visitor badge">
                                    <p class="badge-kind">"VISITOR"</p>
                                    <p class="badge-name" data-testid="badge-name">{v.visitor_name.clone()}</p>
                                    <p class="badge-org">{v.organisation.clone()}</p>
                                    <p>{format!("Visiting {}", v.host.name)}</p>
                                    <p>{format!("{} {}", local_date(v.signed_in_at), local_time(v.signed_in_at))}</p>
                                    <p class=if v.escort_required { "badge-escort badge-escort-required" } else { "badge-escort" }
                                        data-testid="badge-escort">{escort}</p>
                                    <div class="badge-qr">
                                        <QrCode text=badge_qr_payload(&code) label=format!("QR code for signing out, badge {code}")/>
                                        <p class="badge-code">"Badge " <span data-testid="badge-code">{code.clone()}</span></p>
                                    </div>
                                </article>
                                <p class="button-row no-print">
                                    <button type="button" class="button kiosk-button" on:click=|_| print_as("print-label")>"Print badge label"</button>
                                    <button type="button" class="button button-secondary kiosk-button" on:click=|_| print_as("print-a4")>"Print on A4"</button>
                                    <A href="/kiosk" attr:class="button button-secondary kiosk-button" attr:data-testid="badge-done">"Done"</A>
                                </p>
                            }.into_any()
                        }
                    }
                })}
            </Transition>
        </KioskShell>
    }
}
