//! One socket's session, from the upgrade to the Close frame:
//!
//! 1. subscribe to the user's notice subject on core NATS, and confirm it with a round
//!    trip so that nothing published afterwards can be missed;
//! 2. send `ready`;
//! 3. forward each notice, ping the client every `ping_interval` and listen to it;
//! 4. close with a code that says why the session ended.
//!
//! Recovery (what the client missed while away) slots in between 1 and 2: the live
//! subscription comes first, so nothing published during the replay is lost.

use std::ops::ControlFlow;
use std::pin::Pin;
use std::time::Duration;

use async_nats::{Client, Subscriber};
use axum::extract::ws::{Message, WebSocket};
use event_bus::Notice;
use futures::StreamExt;
use tokio::time::{self, Instant, Interval, MissedTickBehavior, Sleep};
use tracing::Instrument;
use tungstenite::error::ProtocolError;

use crate::frame::{CloseReason, ServerFrame};
use crate::sessions::Sessions;

/// The longest closing may take: sending the Close frame, then again reading the
/// client's answer.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// What one session needs.
pub(crate) struct Session {
    pub(crate) user_id: String,
    pub(crate) nats: Client,
    pub(crate) ping_interval: Duration,
    pub(crate) sessions: Sessions,
}

/// Why a session ended; decides whether and how the server closes.
#[derive(Debug)]
enum End {
    /// The client sent a Close frame: the WebSocket layer answers it.
    ClientClosed,
    /// The connection broke, or the client stopped taking frames: nobody to tell.
    Lost,
    /// Nothing heard from the client for two ping intervals: a dead peer.
    Silent,
    /// The server closes, saying why.
    Closed(CloseReason),
}

/// What woke the session loop up.
enum Event {
    Shutdown,
    Client(Option<Result<Message, axum::Error>>),
    Notice(Option<async_nats::Message>),
    Keepalive(Tick),
}

/// Runs the session on an upgraded socket until it ends, then closes the socket.
pub(crate) async fn run(socket: WebSocket, session: Session) {
    let span = tracing::info_span!("socket", user.id = %session.user_id);
    serve(socket, session).instrument(span).await;
}

async fn serve(mut socket: WebSocket, session: Session) {
    tracing::info!("socket opened");
    let end = match subscribe(&session).await {
        Some(mut notices) => {
            let end = deliver(&mut socket, &mut notices, &session).await;
            if let Err(error) = notices.unsubscribe().await {
                tracing::debug!(error.cause = %error, "unsubscribing from notices failed");
            }
            end
        }
        None => End::Closed(CloseReason::TryAgain),
    };
    tracing::info!(socket.end = ?end, "socket closed");
    close(socket, end).await;
}

/// The user's notices, once the NATS server has the subscription.
async fn subscribe(session: &Session) -> Option<Subscriber> {
    let subject = event_bus::notice_subject(&session.user_id);
    let notices = session
        .nats
        .subscribe(subject)
        .await
        .inspect_err(|error| tracing::warn!(error.cause = %error, "subscribing to notices failed"))
        .ok()?;
    confirm(&session.nats)
        .await
        .inspect_err(|error| tracing::warn!(error.cause = %error, "NATS did not confirm"))
        .ok()?;
    Some(notices)
}

/// Waits for one round trip on the NATS connection. The server handles a connection's
/// operations in order, so once it answers, the subscription sent before is in place.
/// The request goes to a fresh inbox nobody listens on: the server's "no responders"
/// status is the answer.
async fn confirm(nats: &Client) -> Result<(), async_nats::RequestError> {
    match nats.request(nats.new_inbox(), Default::default()).await {
        Err(error) if error.kind() != async_nats::RequestErrorKind::NoResponders => Err(error),
        _ => Ok(()),
    }
}

/// Says `ready`, then forwards notices and keeps the connection alive until the
/// session ends.
async fn deliver(socket: &mut WebSocket, notices: &mut Subscriber, session: &Session) -> End {
    let mut keepalive = Keepalive::new(session.ping_interval);
    let ready = ServerFrame::Ready {
        user_id: session.user_id.clone(),
    };
    if let ControlFlow::Break(end) = send(socket, &ready, keepalive.limit).await {
        return end;
    }
    loop {
        let event = tokio::select! {
            biased;
            () = session.sessions.closing() => Event::Shutdown,
            frame = socket.recv() => Event::Client(frame),
            message = notices.next() => Event::Notice(message),
            tick = keepalive.next() => Event::Keepalive(tick),
        };
        if let ControlFlow::Break(end) = handle(socket, event, &mut keepalive).await {
            return end;
        }
    }
}

async fn handle(
    socket: &mut WebSocket,
    event: Event,
    keepalive: &mut Keepalive,
) -> ControlFlow<End> {
    match event {
        Event::Shutdown => ControlFlow::Break(End::Closed(CloseReason::GoingAway)),
        Event::Client(frame) => from_client(frame, keepalive),
        Event::Notice(Some(message)) => forward(socket, &message, keepalive.limit).await,
        Event::Notice(None) => {
            tracing::warn!("the notice subscription ended");
            ControlFlow::Break(End::Closed(CloseReason::TryAgain))
        }
        Event::Keepalive(Tick::PingDue) => {
            send_message(socket, Message::Ping(Default::default()), keepalive.limit).await
        }
        Event::Keepalive(Tick::Silent) => ControlFlow::Break(End::Silent),
    }
}

/// Any frame shows the client is alive. Text frames are otherwise ignored for now
/// (presence will read them).
fn from_client(
    frame: Option<Result<Message, axum::Error>>,
    keepalive: &mut Keepalive,
) -> ControlFlow<End> {
    match frame {
        Some(Ok(Message::Close(_))) => ControlFlow::Break(End::ClientClosed),
        Some(Ok(_)) => {
            keepalive.heard();
            ControlFlow::Continue(())
        }
        Some(Err(error)) => ControlFlow::Break(read_failed(error)),
        None => ControlFlow::Break(End::Lost),
    }
}

/// Tells a frame over the size limit or a protocol violation (answered with a Close
/// frame) from a broken connection (dropped).
fn read_failed(error: axum::Error) -> End {
    tracing::info!(error.cause = %error, "reading from the socket failed");
    let Ok(error) = error.into_inner().downcast::<tungstenite::Error>() else {
        return End::Lost;
    };
    match *error {
        tungstenite::Error::Capacity(_) => End::Closed(CloseReason::TooBig),
        tungstenite::Error::Utf8(_) => End::Closed(CloseReason::InvalidText),
        tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => End::Lost,
        tungstenite::Error::Protocol(_) => End::Closed(CloseReason::ProtocolError),
        _ => End::Lost,
    }
}

/// Sends a notice from NATS to the client; a malformed one is logged and skipped.
async fn forward(
    socket: &mut WebSocket,
    message: &async_nats::Message,
    limit: Duration,
) -> ControlFlow<End> {
    let notice = match serde_json::from_slice::<Notice>(&message.payload) {
        Ok(notice) => notice,
        Err(error) => {
            tracing::warn!(nats.subject = %message.subject, error.cause = %error, "malformed notice skipped");
            return ControlFlow::Continue(());
        }
    };
    tracing::debug!(notice.position = notice.position, notice.kind = %notice.kind, "notice");
    send(socket, &ServerFrame::Notice(notice), limit).await
}

async fn send(socket: &mut WebSocket, frame: &ServerFrame, limit: Duration) -> ControlFlow<End> {
    match serde_json::to_string(frame) {
        Ok(text) => send_message(socket, Message::Text(text.into()), limit).await,
        Err(error) => {
            tracing::error!(error.cause = %error, "a frame could not be encoded");
            ControlFlow::Continue(())
        }
    }
}

/// A client that does not take a frame within `limit` is treated as gone: a session
/// must not hang on a peer that stopped reading.
async fn send_message(
    socket: &mut WebSocket,
    message: Message,
    limit: Duration,
) -> ControlFlow<End> {
    match time::timeout(limit, socket.send(message)).await {
        Ok(Ok(())) => ControlFlow::Continue(()),
        Ok(Err(error)) => {
            tracing::info!(error.cause = %error, "writing to the socket failed");
            ControlFlow::Break(End::Lost)
        }
        Err(_) => {
            tracing::info!("the client stopped taking frames");
            ControlFlow::Break(End::Lost)
        }
    }
}

/// Sends the Close frame the end calls for, then reads (bounded) until the client's
/// answer so the closing handshake completes before the connection is dropped.
async fn close(mut socket: WebSocket, end: End) {
    match end {
        End::Closed(reason) => {
            let frame = Message::Close(Some(reason.frame()));
            if let Ok(Ok(())) = time::timeout(CLOSE_TIMEOUT, socket.send(frame)).await {
                finish_closing(&mut socket).await;
            }
        }
        // Reading again flushes the answer the WebSocket layer queued for the client.
        End::ClientClosed => finish_closing(&mut socket).await,
        End::Lost | End::Silent => {}
    }
}

async fn finish_closing(socket: &mut WebSocket) {
    let drain = async { while let Some(Ok(_)) = socket.recv().await {} };
    let _ = time::timeout(CLOSE_TIMEOUT, drain).await;
}

/// What the keepalive asks for.
enum Tick {
    /// Time to ping the client.
    PingDue,
    /// Nothing heard from the client for two ping intervals.
    Silent,
}

/// Pings the client every interval and notices when it has gone silent.
struct Keepalive {
    pings: Interval,
    silence: Pin<Box<Sleep>>,
    /// Two ping intervals: how long a client may stay silent, or take to accept a frame.
    limit: Duration,
}

impl Keepalive {
    fn new(ping_interval: Duration) -> Self {
        let mut pings = time::interval_at(Instant::now() + ping_interval, ping_interval);
        pings.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let limit = ping_interval.saturating_mul(2);
        Self {
            pings,
            silence: Box::pin(time::sleep(limit)),
            limit,
        }
    }

    /// The client said something: it is alive.
    fn heard(&mut self) {
        let deadline = Instant::now() + self.limit;
        self.silence.as_mut().reset(deadline);
    }

    /// Completes at the next ping, or when the client has been silent too long.
    /// Cancel-safe: both timers keep their state when the future is dropped.
    async fn next(&mut self) -> Tick {
        tokio::select! {
            biased;
            () = self.silence.as_mut() => Tick::Silent,
            _ = self.pings.tick() => Tick::PingDue,
        }
    }
}
