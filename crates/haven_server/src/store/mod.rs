//! Every SQL statement the server runs, one module per family of tables.
//!
//! Handlers in `http/routes/` extract, authorize, call a function here and
//! answer; they never reach the database driver (a test in `http::routes`
//! checks it). Each module reads and writes typed rows and decides nothing
//! about who may: that is the caller's job. Ids come out through
//! [`db::parse_id`]; times are milliseconds since the Unix epoch (`BIGINT`),
//! read by [`crate::clock`] and never by the database.
//!
//! [`db`] opens SQLite or PostgreSQL through sqlx's `Any` driver and holds
//! the one write lock; the rest are the tables: [`accounts`] (people, roles,
//! sessions), [`org`], [`policies`], [`rules`], [`agreements`] and
//! [`ledger`], [`visits`], [`incidents`] and [`attachments`], [`devices`]
//! and [`parents`], [`audit`], the shared guess counts of [`limiter`], the
//! hourly claims of [`job_runs`] and who was last reminded to sign
//! ([`reminders`]). [`push`] and [`pull`] are sync's two
//! directions over all of them; [`backup`], [`migrate_data`] and [`demo`]
//! copy whole databases or fill an empty one.

pub mod accounts;
pub mod agreements;
pub mod attachments;
pub mod audit;
pub mod backup;
pub mod compliance;
pub mod db;
pub mod demo;
pub mod devices;
pub mod incidents;
pub mod job_runs;
pub mod ledger;
pub mod limiter;
pub mod migrate_data;
pub mod org;
pub mod parents;
pub mod policies;
pub mod pull;
pub mod push;
pub mod reminders;
pub mod roster;
pub mod rules;
pub mod visits;

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("a readable source folder") {
            let path = entry.expect("a folder entry").path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// All SQL lives here: a query anywhere else in the server is a store
    /// function waiting to be written.
    #[test]
    fn every_query_is_in_the_store() {
        let query = concat!("sqlx::", "query");
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let store = src.join("store");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        assert!(
            files.len() > 40,
            "found only {} files under {src:?}",
            files.len()
        );
        let offenders: Vec<String> = files
            .iter()
            .filter(|path| !path.starts_with(&store))
            .filter(|path| {
                std::fs::read_to_string(path)
                    .expect("a readable source file")
                    .contains(query)
            })
            .map(|path| path.display().to_string())
            .collect();
        assert!(
            offenders.is_empty(),
            "queries outside src/store/; move them into a store module: {offenders:?}"
        );
    }
}
