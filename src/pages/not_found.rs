use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <h1>"Page not found"</h1>
        <p>"If you typed the address, check it is correct."</p>
        <p><A href="/policies">"See all policies"</A></p>
    }
}
