//! The app's one database handle.
//!
//! IndexedDB handles are not `Send`, so they cannot live in Leptos context;
//! the handle is kept per thread (the browser has one) and opened on first use.

use crate::db::{Db, DbError, APP_DB};
use std::cell::RefCell;

thread_local! {
    static DB: RefCell<Option<Db>> = const { RefCell::new(None) };
}

/// The app's database, opened on first use.
pub async fn app_db() -> Result<Db, DbError> {
    if let Some(db) = DB.with(|d| d.borrow().clone()) {
        return Ok(db);
    }
    let db = Db::open(APP_DB).await?;
    DB.with(|d| *d.borrow_mut() = Some(db.clone()));
    Ok(db)
}
