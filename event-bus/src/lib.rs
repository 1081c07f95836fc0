//! The NATS side of the pipeline, shared by the relay, the projector and push.
//!
//! - The JetStream stream of events ([`ensure_stream`]), subjects
//!   `events.<aggregate_type>.<aggregate_id>`, one message per stored event, its
//!   `Nats-Msg-Id` the event id and its body the [`event_store::StoredEvent`] as JSON.
//! - Per-user notices on core NATS, `notices.<user id>` ([`notice_subject`]), body a
//!   [`Notice`] as JSON. Subject-based interest: a push node subscribes only to the users
//!   it holds sockets for.
//!
//! Ids inside subjects are escaped with [`event_store::envelope::subject_token`].

use std::time::Duration;

use async_nats::jetstream::{self, stream};
use event_store::envelope::subject_token;
use serde::{Deserialize, Serialize};

/// The default name of the events stream.
pub const DEFAULT_STREAM: &str = "PAGENOW_EVENTS";

/// Every event subject.
pub const EVENTS_WILDCARD: &str = "events.>";

/// How the events stream is set up.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    pub name: String,
    /// How long `Nats-Msg-Id` dedup remembers an id.
    pub duplicate_window: Duration,
}

impl Default for StreamConfig {
    fn default() -> Self {
        Self {
            name: DEFAULT_STREAM.to_owned(),
            duplicate_window: Duration::from_secs(120),
        }
    }
}

/// Creates the events stream if it does not exist (file storage, kept without age
/// limit: the store is the source of truth, the stream its ordered copy).
pub async fn ensure_stream(
    js: &jetstream::Context,
    config: &StreamConfig,
) -> Result<stream::Stream, jetstream::context::CreateStreamError> {
    js.get_or_create_stream(stream::Config {
        name: config.name.clone(),
        subjects: vec![EVENTS_WILDCARD.to_owned()],
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        duplicate_window: config.duplicate_window,
        ..Default::default()
    })
    .await
}

/// Waits for one round trip to the NATS server on `nats`' connection. The server handles a
/// connection's operations in order, so once it answers, every publication and
/// subscription sent before is in its hands (a `flush` only writes them to the socket).
/// The request goes to a fresh inbox nobody listens on: the server's "no responders"
/// status is the answer.
pub async fn round_trip(nats: &async_nats::Client) -> Result<(), async_nats::RequestError> {
    match nats.request(nats.new_inbox(), Default::default()).await {
        Err(error) if error.kind() != async_nats::RequestErrorKind::NoResponders => Err(error),
        _ => Ok(()),
    }
}

/// The losses of a NATS client's connection, told as they happen.
///
/// The client's state, read by polling, can miss a loss: connection lost and back between
/// two looks. Its event callback does not: [`Losses::connect`] sets one, and each
/// `Disconnected` event it reports is counted here, before the client starts to reconnect.
#[derive(Debug, Clone)]
pub struct Losses(tokio::sync::watch::Receiver<u64>);

impl Losses {
    /// Connects to `url` with `options`, counting the losses of the connection (the
    /// counting callback replaces any event callback `options` had).
    pub async fn connect(
        url: &str,
        options: async_nats::ConnectOptions,
    ) -> Result<(async_nats::Client, Self), async_nats::ConnectError> {
        let (count, losses) = tokio::sync::watch::channel(0);
        let options = options.event_callback(move |event| {
            if event == async_nats::Event::Disconnected {
                count.send_modify(|n| *n += 1);
            }
            std::future::ready(())
        });
        Ok((options.connect(url).await?, Self(losses)))
    }

    /// Completes at the next loss not yet waited for; never, once the client is gone.
    pub async fn next(&mut self) {
        if self.0.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// The core NATS subject of `user_id`'s notices.
pub fn notice_subject(user_id: &str) -> String {
    format!("notices.{}", subject_token(user_id))
}

/// What a user's sockets are told: something that concerns them happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    /// The position of the event behind it: pass it to a query to read what it changed.
    pub position: i64,
    /// The feed transaction of that event (with `position`, its place in the feed).
    pub tx_id: u64,
    /// What happened, e.g. `user.registered`.
    pub kind: String,
    /// Enough to show the notice without another request.
    pub data: serde_json::Value,
}

/// A notice addressed to one user.
#[derive(Debug, Clone, PartialEq)]
pub struct Addressed {
    pub user_id: String,
    pub notice: Notice,
}
