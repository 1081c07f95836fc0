//! The PageNow services, each a separate `pagenow <role>` process, and their supervisor:
//! it kills one with SIGKILL on demand, restarts it at once on the same address, and
//! restarts any that exited by themselves (a service may give up while NATS or Postgres
//! is down).

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::Context;

/// One kind of service process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    CommandApi,
    QueryApi,
    Push,
    Relay,
    Projector,
}

impl Role {
    /// Every role, each run as one process.
    pub const ALL: [Role; 5] = [
        Role::CommandApi,
        Role::QueryApi,
        Role::Push,
        Role::Relay,
        Role::Projector,
    ];

    /// The roles the chaos kills (issue 7); the query API only reads and is left alone.
    pub const KILLABLE: [Role; 4] = [Role::Relay, Role::Projector, Role::Push, Role::CommandApi];

    /// The `pagenow` subcommand, also used as its name in logs and the report.
    pub fn name(self) -> &'static str {
        match self {
            Role::CommandApi => "command-api",
            Role::QueryApi => "query-api",
            Role::Push => "push",
            Role::Relay => "relay",
            Role::Projector => "projector",
        }
    }
}

/// Where the services find each other.
#[derive(Debug, Clone)]
pub struct Addresses {
    pub database_url: String,
    pub nats_url: String,
    pub command_api: SocketAddr,
    pub query_api: SocketAddr,
    pub push: SocketAddr,
}

impl Addresses {
    /// Free loopback ports for the three HTTP services.
    pub fn new(database_url: String, nats_url: String) -> Self {
        let local = |port| SocketAddr::from(([127, 0, 0, 1], port));
        Self {
            database_url,
            nats_url,
            command_api: local(testkit::free_port()),
            query_api: local(testkit::free_port()),
            push: local(testkit::free_port()),
        }
    }
}

/// The running processes, one per role. Every process is killed when this is dropped.
pub struct Services {
    bin: PathBuf,
    addresses: Addresses,
    log_dir: PathBuf,
    running: BTreeMap<Role, Child>,
    /// `kill -9`s per role.
    pub kills: BTreeMap<Role, u32>,
    /// Processes that exited without being killed, and were restarted.
    pub exits: BTreeMap<Role, u32>,
}

impl Services {
    /// Starts one process of every role.
    pub fn start(bin: &Path, addresses: Addresses, log_dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(log_dir)?;
        let mut services = Self {
            bin: bin.to_owned(),
            addresses,
            log_dir: log_dir.to_owned(),
            running: BTreeMap::new(),
            kills: BTreeMap::new(),
            exits: BTreeMap::new(),
        };
        for role in Role::ALL {
            let child = services.spawn(role)?;
            services.running.insert(role, child);
        }
        Ok(services)
    }

    pub fn addresses(&self) -> &Addresses {
        &self.addresses
    }

    /// `kill -9` of `role`'s process, then a new one at once.
    pub fn kill(&mut self, role: Role) -> anyhow::Result<()> {
        if let Some(mut child) = self.running.remove(&role) {
            let _ = child.kill();
            let _ = child.wait();
        }
        *self.kills.entry(role).or_default() += 1;
        let child = self.spawn(role)?;
        self.running.insert(role, child);
        Ok(())
    }

    /// Restarts every process that has exited by itself; returns their roles.
    pub fn restart_exited(&mut self) -> anyhow::Result<Vec<Role>> {
        let mut exited = Vec::new();
        for (role, child) in &mut self.running {
            if child.try_wait()?.is_some() {
                exited.push(*role);
            }
        }
        for role in &exited {
            *self.exits.entry(*role).or_default() += 1;
            let child = self.spawn(*role)?;
            self.running.insert(*role, child);
        }
        Ok(exited)
    }

    /// Kills every process.
    pub fn stop_all(&mut self) {
        for (_, mut child) in std::mem::take(&mut self.running) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn spawn(&self, role: Role) -> anyhow::Result<Child> {
        let log_path = self.log_dir.join(format!("{}.log", role.name()));
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("opening {}", log_path.display()))?;
        let a = &self.addresses;
        Command::new(&self.bin)
            .arg(role.name())
            .env("DATABASE_URL", &a.database_url)
            .env("NATS_URL", &a.nats_url)
            .env("COMMAND_API_ADDR", a.command_api.to_string())
            .env("QUERY_API_ADDR", a.query_api.to_string())
            .env("PUSH_ADDR", a.push.to_string())
            .env("PAGENOW_DB_POOL", "8")
            .env("PAGENOW_JWT_SECRET", auth::DEV_HS256_SECRET)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {} {}", self.bin.display(), role.name()))
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// Runs `pagenow migrate` against the run's database.
pub fn migrate(bin: &Path, database_url: &str) -> anyhow::Result<()> {
    let status = Command::new(bin)
        .arg("migrate")
        .env("DATABASE_URL", database_url)
        .stdout(Stdio::null())
        .status()
        .with_context(|| format!("running {} migrate", bin.display()))?;
    anyhow::ensure!(status.success(), "pagenow migrate failed: {status}");
    Ok(())
}
