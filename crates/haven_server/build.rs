// sqlx::migrate! embeds the migration folders at build time; without this a
// new migration file would not rebuild the server (sqlx's documented fix).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
