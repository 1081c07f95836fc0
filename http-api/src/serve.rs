//! Serving a router with the limits `axum::serve` does not have.
//!
//! `axum::serve` gives hyper no timer, so a client that sends its request line and
//! headers a byte at a time — or opens a connection and says nothing — holds a
//! connection and a task for as long as it likes, and a swarm of them runs the process
//! out of file descriptors. [`serve`] is the same accept loop (HTTP/1.1 with upgrades,
//! graceful shutdown) with three limits, [`Limits`]:
//!
//! - the request head must arrive within `header_read_timeout` of the connection
//!   being ready for it (hyper's `header_read_timeout`); otherwise the connection is
//!   closed. An idle keep-alive connection is closed after the same time;
//! - the body must arrive within `body_read_timeout` of the head
//!   ([`crate::layers::standard`] reads it; a late one gets 408 `request.timeout`);
//! - at most `max_connections` connections are served at once; past that, new ones wait
//!   in the listen backlog until one closes. The two timeouts bound how long a slow
//!   client can hold one.
//!
//! What happens after the response — a WebSocket after its upgrade, a handler that
//! waits for a view (`min_position`) — is not limited here.
//!
//! HTTP/2 is not served: hyper has no header timeout for it, and its protocol sniffing
//! waits for a first byte without a timer. Every client here speaks HTTP/1.1 (a
//! TLS-terminating proxy in front may speak HTTP/2 to browsers).

use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::serve::Listener;
use axum::{Extension, Router};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::{watch, Semaphore};
use tower::Layer;

/// How long a client may take to send a request, and how many connections are served
/// at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The request line and headers must arrive within this time (`PAGENOW_HTTP_HEADER_TIMEOUT_MS`).
    pub header_read_timeout: Duration,
    /// The body must arrive within this time after the headers (`PAGENOW_HTTP_BODY_TIMEOUT_MS`).
    pub body_read_timeout: Duration,
    /// Connections served at once (`PAGENOW_HTTP_MAX_CONNECTIONS`); keep it under the
    /// process's file-descriptor limit and above `PUSH_MAX_SOCKETS`.
    pub max_connections: usize,
}

impl Limits {
    pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_MAX_CONNECTIONS: usize = 16_384;

    /// Makes these the limits of every [`serve`] in this process that is not given its
    /// own. Called once, at start-up, from the binary's configuration: the services'
    /// `App::run` serve with them. Fails (returning the limits already installed) on a
    /// second call with other limits.
    pub fn install(self) -> Result<(), Limits> {
        let installed = *INSTALLED.get_or_init(|| self);
        if installed == self {
            Ok(())
        } else {
            Err(installed)
        }
    }

    /// The limits [`Limits::install`] set, or the defaults.
    pub fn installed() -> Limits {
        INSTALLED.get().copied().unwrap_or_default()
    }
}

static INSTALLED: OnceLock<Limits> = OnceLock::new();

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: Self::DEFAULT_HEADER_READ_TIMEOUT,
            body_read_timeout: Self::DEFAULT_BODY_READ_TIMEOUT,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// Serves `router` on `listener` with the [installed](Limits::installed) limits; use
/// like `axum::serve`: `serve(listener, router).with_graceful_shutdown(signal).await`.
pub fn serve<L>(listener: L, router: Router) -> Serve<L>
where
    L: Listener,
{
    Serve {
        listener,
        router,
        limits: Limits::installed(),
    }
}

/// A server not yet running; see [`serve`].
#[must_use = "a server does nothing until `with_graceful_shutdown(..).await`"]
pub struct Serve<L> {
    listener: L,
    router: Router,
    limits: Limits,
}

impl<L: Listener> Serve<L> {
    /// Serves with `limits` instead of the installed ones.
    pub fn limits(self, limits: Limits) -> Self {
        Self { limits, ..self }
    }

    /// Serves until `signal` completes; then stops accepting, lets each connection
    /// finish the request it is answering, and returns once all are closed.
    pub async fn with_graceful_shutdown(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        let Self {
            mut listener,
            router,
            limits,
        } = self;
        // Around the router, not `Router::layer`, which would box it into every route.
        let router = Extension(limits).layer(router);
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout);
        let slots = Arc::new(Semaphore::new(limits.max_connections));
        let (stop, stopping) = watch::channel(());
        let mut signal = pin!(signal);
        loop {
            let next = async {
                let slot = Arc::clone(&slots).acquire_owned().await;
                (slot, listener.accept().await)
            };
            let (slot, (io, _addr)) = tokio::select! {
                next = next => next,
                () = &mut signal => break,
            };
            let conn = builder
                .serve_connection(TokioIo::new(io), TowerToHyperService::new(router.clone()))
                .with_upgrades();
            let mut stopping = stopping.clone();
            tokio::spawn(async move {
                let mut conn = pin!(conn);
                let ended = tokio::select! {
                    ended = conn.as_mut() => ended,
                    _ = stopping.changed() => {
                        conn.as_mut().graceful_shutdown();
                        conn.await
                    }
                };
                if let Err(error) = ended {
                    tracing::debug!(%error, "connection ended with an error");
                }
                drop(slot);
            });
        }
        drop(listener);
        drop(stopping);
        stop.send_replace(());
        stop.closed().await;
        Ok(())
    }
}
