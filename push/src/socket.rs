//! One socket's session, from the upgrade to the Close frame:
//!
//! 1. subscribe to the user's notice subject on core NATS, and confirm it with a round
//!    trip so that nothing published afterwards can be missed;
//! 2. when the client named `since`, read what it missed from the history (see
//!    `recovery`), holding the live notices that come meanwhile;
//! 3. queue the missed notices (or `resync`), `ready`, then the held live notices less
//!    the copies of recovered ones;
//! 4. then, until the session ends: queue each live notice, presence frame and ping,
//!    answer the client's `ping`, record its presence reports and heartbeats (see
//!    `presence`), and write the queue to the socket as fast as the client takes it;
//! 5. close with a code that says why the session ended.
//!
//! The session never waits for the client to take a frame (see `outbox`): a slow client
//! overflows its own queue and is closed with `4008`, and no other socket notices.

use std::ops::ControlFlow;
use std::time::Duration;

use async_nats::{Client, Subscriber};
use axum::extract::ws::{Message, WebSocket};
use event_bus::Notice;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use tokio::time;
use tracing::Instrument;
use tungstenite::error::ProtocolError;

use crate::frame::{ClientFrame, CloseReason, ResyncReason, ServerFrame};
use crate::history::History;
use crate::keepalive::{Keepalive, Tick};
use crate::outbox::Outbox;
use crate::presence::{presence_subject, Presences};
use crate::recovery::{self, Reach, Recovery, Seam};
use crate::sessions::Sessions;
use crate::Config;

/// The longest closing may take: sending the Close frame, then again reading the
/// client's answer. A client too slow for its queue gets the idle timeout instead.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// What one session needs.
pub(crate) struct Session {
    pub(crate) user_id: String,
    /// The position of the last notice the client saw, when it asked for recovery.
    pub(crate) since: Option<i64>,
    pub(crate) nats: Client,
    pub(crate) history: History,
    pub(crate) config: Config,
    pub(crate) sessions: Sessions,
    pub(crate) presences: Presences,
}

type Sink = SplitSink<WebSocket, Message>;
type Stream = SplitStream<WebSocket>;

/// Why a session ended; decides whether and how the server closes.
#[derive(Debug)]
enum End {
    /// The client sent a Close frame: the WebSocket layer answers it.
    ClientClosed,
    /// The connection broke: nobody to tell.
    Lost,
    /// Nothing heard from the client for the idle timeout: a dead peer.
    Silent,
    /// The server closes, saying why.
    Closed(CloseReason),
}

/// What woke the session loop up.
enum Event {
    Shutdown,
    /// The NATS connection broke, or came back after a break: live notices may have
    /// been missed.
    BrokerInterrupted,
    Keepalive(Tick),
    Written(Result<(), axum::Error>),
    Client(Option<Result<Message, axum::Error>>),
    Notice(Option<async_nats::Message>),
    Presence(Option<async_nats::Message>),
}

/// The user's live subscriptions: notices, and friends' presence.
struct Live {
    notices: Subscriber,
    presence: Subscriber,
}

/// Runs the session on an upgraded socket until it ends, then closes the socket.
pub(crate) async fn run(socket: WebSocket, session: Session) {
    let span = tracing::info_span!("socket", user.id = %session.user_id);
    serve(socket, session).instrument(span).await;
}

async fn serve(socket: WebSocket, session: Session) {
    tracing::info!(recovery.since = session.since, "socket opened");
    let (mut sink, mut stream) = socket.split();
    let end = match subscribe(&session).await {
        Some(mut live) => {
            let end = deliver(&mut sink, &mut stream, &mut live, &session).await;
            for subscriber in [&mut live.notices, &mut live.presence] {
                if let Err(error) = subscriber.unsubscribe().await {
                    tracing::debug!(error.cause = %error, "unsubscribing failed");
                }
            }
            end
        }
        None => End::Closed(CloseReason::TryAgain),
    };
    tracing::info!(socket.end = ?end, "socket closed");
    close(sink, stream, end, session.config.idle_timeout).await;
}

/// The user's notices and friends' presence, once the NATS server has the
/// subscriptions.
async fn subscribe(session: &Session) -> Option<Live> {
    let notices = subscribe_to(session, event_bus::notice_subject(&session.user_id)).await?;
    let presence = subscribe_to(session, presence_subject(&session.user_id)).await?;
    event_bus::round_trip(&session.nats)
        .await
        .inspect_err(|error| tracing::warn!(error.cause = %error, "NATS did not confirm"))
        .ok()?;
    Some(Live { notices, presence })
}

async fn subscribe_to(session: &Session, subject: String) -> Option<Subscriber> {
    session
        .nats
        .subscribe(subject)
        .await
        .inspect_err(|error| tracing::warn!(error.cause = %error, "subscribing failed"))
        .ok()
}

/// Recovers, says `ready`, then delivers live notices until the session ends.
async fn deliver(sink: &mut Sink, stream: &mut Stream, live: &mut Live, session: &Session) -> End {
    let mut broker = session.sessions.broker_interruptions();
    let (mut outbox, mut seam) = match start(&mut live.notices, session).await {
        Ok(started) => started,
        Err(end) => return end,
    };
    let config = &session.config;
    let mut keepalive = Keepalive::new(config.ping_interval, config.idle_timeout);
    loop {
        let event = tokio::select! {
            biased;
            () = session.sessions.closing() => Event::Shutdown,
            Ok(()) = broker.changed() => Event::BrokerInterrupted,
            tick = keepalive.next() => Event::Keepalive(tick),
            written = outbox.write(sink), if outbox.has_work() => Event::Written(written),
            frame = stream.next() => Event::Client(frame),
            message = live.notices.next() => Event::Notice(message),
            message = live.presence.next() => Event::Presence(message),
        };
        let flow = match event {
            Event::Client(frame) => from_client(frame, &mut outbox, &mut keepalive, session).await,
            event => handle(event, &mut outbox, &mut seam),
        };
        if let ControlFlow::Break(end) = flow {
            return end;
        }
    }
}

/// The queue a session starts with: the missed notices (or `resync`) and `ready`, then
/// the live notices that came during recovery, less the copies of recovered ones.
async fn start(
    notices: &mut Subscriber,
    session: &Session,
) -> Result<(Outbox<Message>, Seam), End> {
    let mut outbox = Outbox::new(session.config.queue_frames);
    let (recovery, held) = match session.since {
        Some(since) => {
            let (recovery, held) = recover_holding(notices, session, since).await?;
            (Some(recovery), held)
        }
        None => (None, Vec::new()),
    };
    let mut seam = queue_recovery(&mut outbox, recovery);
    let ready = ServerFrame::Ready {
        user_id: session.user_id.clone(),
    };
    outbox.push_exempt(encode(&ready));
    for message in &held {
        if let ControlFlow::Break(end) = queue_notice(message, &mut outbox, &mut seam) {
            return Err(end);
        }
    }
    Ok((outbox, seam))
}

/// Queues the missed notices, or `resync`; returns the seam they leave.
fn queue_recovery(outbox: &mut Outbox<Message>, recovery: Option<Recovery>) -> Seam {
    match recovery {
        None => Seam::default(),
        Some(Recovery::Missed { since, notices }) => {
            tracing::info!(recovery.notices = notices.len(), "recovered");
            let seam = Seam::after(since, &notices);
            for notice in notices {
                outbox.push_exempt(encode(&ServerFrame::Notice(notice)));
            }
            seam
        }
        Some(Recovery::Resync(reason)) => {
            tracing::info!(recovery.resync = ?reason, "cannot recover: resync");
            outbox.push_exempt(encode(&ServerFrame::Resync { reason }));
            Seam::default()
        }
    }
}

/// Reads what the client missed after `since` while holding the live notices that come
/// meanwhile (at most a queue's worth). A history that does not answer within the idle
/// timeout is a `resync`.
async fn recover_holding(
    notices: &mut Subscriber,
    session: &Session,
    since: i64,
) -> Result<(Recovery, Vec<async_nats::Message>), End> {
    let config = &session.config;
    let reach = Reach {
        max_notices: config.max_recovery,
        retention: config.retention,
    };
    let read = recovery::recover(&session.history, &session.user_id, since, reach);
    let recovery = time::timeout(config.idle_timeout, read);
    tokio::pin!(recovery);
    let mut held = Vec::new();
    loop {
        tokio::select! {
            biased;
            () = session.sessions.closing() => return Err(End::Closed(CloseReason::GoingAway)),
            recovered = &mut recovery => {
                let recovered = recovered.unwrap_or(Recovery::Resync(ResyncReason::Unavailable));
                return Ok((recovered, held));
            }
            message = notices.next() => match message {
                None => return Err(End::Closed(CloseReason::TryAgain)),
                Some(_) if held.len() >= config.queue_frames => {
                    return Err(End::Closed(CloseReason::TooSlow));
                }
                Some(message) => held.push(message),
            },
        }
    }
}

fn handle(event: Event, outbox: &mut Outbox<Message>, seam: &mut Seam) -> ControlFlow<End> {
    match event {
        Event::Shutdown => ControlFlow::Break(End::Closed(CloseReason::GoingAway)),
        Event::BrokerInterrupted => ControlFlow::Break(End::Closed(CloseReason::TryAgain)),
        Event::Keepalive(Tick::PingDue) => queue(outbox, Message::Ping(Default::default())),
        Event::Keepalive(Tick::Silent) => ControlFlow::Break(End::Silent),
        Event::Written(Ok(())) => ControlFlow::Continue(()),
        Event::Written(Err(error)) => {
            tracing::info!(error.cause = %error, "writing to the socket failed");
            ControlFlow::Break(End::Lost)
        }
        // Answered by `from_client`, which awaits presence reports.
        Event::Client(_) => ControlFlow::Continue(()),
        Event::Notice(Some(message)) => queue_notice(&message, outbox, seam),
        Event::Presence(Some(message)) => queue_presence(&message, outbox),
        Event::Presence(None) => {
            tracing::warn!("the presence subscription ended");
            ControlFlow::Break(End::Closed(CloseReason::TryAgain))
        }
        Event::Notice(None) => {
            tracing::warn!("the notice subscription ended");
            ControlFlow::Break(End::Closed(CloseReason::TryAgain))
        }
    }
}

/// Any frame shows the client is alive; a `ping` is answered with `pong`, a presence
/// report or heartbeat is recorded (the session waits for it: reports stay in order)
/// and answered with `error` only when refused. Other text frames are ignored.
async fn from_client(
    frame: Option<Result<Message, axum::Error>>,
    outbox: &mut Outbox<Message>,
    keepalive: &mut Keepalive,
    session: &Session,
) -> ControlFlow<End> {
    let message = match frame {
        Some(Ok(Message::Close(_))) => return ControlFlow::Break(End::ClientClosed),
        Some(Ok(message)) => message,
        Some(Err(error)) => return ControlFlow::Break(read_failed(error)),
        None => return ControlFlow::Break(End::Lost),
    };
    keepalive.heard();
    let Message::Text(text) = message else {
        return ControlFlow::Continue(());
    };
    match ClientFrame::parse(&text) {
        Some(ClientFrame::Ping) => queue(outbox, encode(&ServerFrame::Pong)),
        Some(frame) => match session.presences.answer(&session.user_id, frame).await {
            Some(refusal) => queue(outbox, encode(&refusal)),
            None => ControlFlow::Continue(()),
        },
        None => ControlFlow::Continue(()),
    }
}

/// Queues a friend's presence from NATS as a `presence` frame; a malformed one is
/// skipped.
fn queue_presence(message: &async_nats::Message, outbox: &mut Outbox<Message>) -> ControlFlow<End> {
    match crate::presence::frame_of(message) {
        Some(frame) => queue(outbox, encode(&frame)),
        None => ControlFlow::Continue(()),
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

/// Queues a live notice from NATS, unless it is a copy of one sent already; a
/// malformed one is logged and skipped.
fn queue_notice(
    message: &async_nats::Message,
    outbox: &mut Outbox<Message>,
    seam: &mut Seam,
) -> ControlFlow<End> {
    let notice = match serde_json::from_slice::<Notice>(&message.payload) {
        Ok(notice) => notice,
        Err(error) => {
            tracing::warn!(nats.subject = %message.subject, error.cause = %error, "malformed notice skipped");
            return ControlFlow::Continue(());
        }
    };
    if !seam.admit(&notice) {
        tracing::debug!(
            notice.position = notice.position,
            "a copy of a notice sent already"
        );
        return ControlFlow::Continue(());
    }
    tracing::debug!(notice.position = notice.position, notice.kind = %notice.kind, "notice");
    queue(outbox, encode(&ServerFrame::Notice(notice)))
}

/// Queues `message`; a client whose queue is full is too slow and is closed.
fn queue(outbox: &mut Outbox<Message>, message: Message) -> ControlFlow<End> {
    match outbox.push(message) {
        Ok(()) => ControlFlow::Continue(()),
        Err(_) => {
            tracing::info!("the client's queue is full: too slow");
            ControlFlow::Break(End::Closed(CloseReason::TooSlow))
        }
    }
}

/// `frame` as a text message. Server frames are plain JSON data, so encoding does not
/// fail; were it to, the error is logged and the client gets `{}`.
fn encode(frame: &ServerFrame) -> Message {
    let text = serde_json::to_string(frame).unwrap_or_else(|error| {
        tracing::error!(error.cause = %error, "a frame could not be encoded");
        "{}".to_owned()
    });
    Message::Text(text.into())
}

/// Sends the Close frame the end calls for, then reads (bounded) until the client's
/// answer so the closing handshake completes before the connection is dropped. Frames
/// still queued are dropped: the client recovers them by reconnecting with `since`.
async fn close(mut sink: Sink, mut stream: Stream, end: End, idle_timeout: Duration) {
    match end {
        End::Closed(reason) => {
            let limit = match reason {
                CloseReason::TooSlow => idle_timeout,
                _ => CLOSE_TIMEOUT,
            };
            let frame = Message::Close(Some(reason.frame()));
            if let Ok(Ok(())) = time::timeout(limit, sink.send(frame)).await {
                finish_closing(&mut stream).await;
            }
        }
        // Reading again flushes the answer the WebSocket layer queued for the client.
        End::ClientClosed => finish_closing(&mut stream).await,
        End::Lost | End::Silent => {}
    }
}

async fn finish_closing(stream: &mut Stream) {
    let drain = async { while let Some(Ok(_)) = stream.next().await {} };
    let _ = time::timeout(CLOSE_TIMEOUT, drain).await;
}
