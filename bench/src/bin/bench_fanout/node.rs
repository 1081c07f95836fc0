//! The push node: `pagenow push` as a process of its own, so that its memory is its own.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context;

use crate::Config;

/// A running push node; killed when dropped.
pub struct Node {
    child: Child,
    addr: SocketAddr,
}

impl Node {
    /// Starts `pagenow push` on a free port of 127.0.0.1 and waits (bounded) until it
    /// answers `/healthz`. Its log goes to a file in the temporary folder.
    pub async fn start(
        config: &Config,
        database_url: &str,
        nats_url: &str,
    ) -> anyhow::Result<Self> {
        let addr = SocketAddr::from(([127, 0, 0, 1], testkit::free_port()));
        let log = std::env::temp_dir().join(format!("bench_fanout_push_{}.log", addr.port()));
        let child = Command::new(&config.pagenow_bin)
            .arg("push")
            .env("DATABASE_URL", database_url)
            .env("PAGENOW_DB_POOL", "4")
            .env("NATS_URL", nats_url)
            .env("PUSH_ADDR", addr.to_string())
            .env("PAGENOW_JWT_SECRET", auth::DEV_HS256_SECRET)
            .env("PUSH_MAX_SOCKETS", config.sockets.to_string())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .with_context(|| format!("starting {}", config.pagenow_bin.display()))?;
        let mut node = Self { child, addr };
        node.wait_healthy()
            .await
            .with_context(|| format!("push did not start: see {}", log.display()))?;
        Ok(node)
    }

    async fn wait_healthy(&mut self) -> anyhow::Result<()> {
        let url = format!("http://{}/healthz", self.addr);
        let http = reqwest::Client::new();
        for _ in 0..200 {
            anyhow::ensure!(self.child.try_wait()?.is_none(), "the node exited");
            if http
                .get(&url)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!("no answer from {url} in 10 s")
    }

    /// The socket endpoint.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/v1/ws", self.addr)
    }

    /// The node's resident memory (`VmRSS`), in KiB.
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .context("no VmRSS in /proc/<pid>/status")
    }

    /// Kills the node (its sockets are the bench's to drop).
    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}
