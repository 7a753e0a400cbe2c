//! The reader build: what a parent's or guest's phone loads first (see
//! `haven_core::shell`). Only [`haven::ReaderApp`]'s pages are linked in.
fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(haven::ReaderApp);
}
