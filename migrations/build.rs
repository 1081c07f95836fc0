//! Rebuild this crate (and so re-embed the migrations) whenever a migration file changes:
//! `sqlx::migrate!` reads `sql/` at compile time, which cargo does not watch by itself.

fn main() {
    println!("cargo:rerun-if-changed=sql");
}
