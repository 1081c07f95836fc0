//! The sharing policy new accounts start with is configuration: an invalid default domain
//! stops the command API at start-up, before it serves anything.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sqlx::PgPool;
use testkit::{database_url, eventually, free_port};

/// A process killed when dropped, should the test fail while it runs.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn an_invalid_default_domain_stops_the_command_api_at_start_up(pool: PgPool) {
    let log = std::env::temp_dir().join(format!("pagenow-defaults-{}.log", free_port()));
    let child = Command::new(env!("CARGO_BIN_EXE_pagenow"))
        .arg("command-api")
        .env("DATABASE_URL", database_url(&pool))
        .env("COMMAND_API_ADDR", format!("127.0.0.1:{}", free_port()))
        .env("PAGENOW_JWT_SECRET", auth::DEV_HS256_SECRET)
        .env("PAGENOW_DEFAULT_ALLOW", "github.com,not a domain")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("spawn pagenow");
    let mut process = Running(child);

    let status = eventually(Duration::from_secs(30), "pagenow to exit", || {
        let exited = process.0.try_wait().ok().flatten();
        async move { exited }
    })
    .await;

    assert!(!status.success(), "it started with an invalid default");
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    assert!(
        output.contains("PAGENOW_DEFAULT_ALLOW") && output.contains("not a domain"),
        "{output}"
    );
}
