//! The socket protocol: the text frames each side sends and the close codes the server uses.
//!
//! Every frame is a JSON object with a `type`. The server sends:
//! - `{"type":"notice","position":…,"tx_id":…,"kind":"…","data":{…}}`, one per
//!   [`event_bus::Notice`]: first those the client missed (when it connected with
//!   `?since=<position>`), oldest first, then live ones;
//! - `{"type":"resync","reason":"…"}` instead of the missed notices when they cannot all
//!   be sent: the client refetches its views ([`ResyncReason`]);
//! - `{"type":"ready","user_id":"…"}`, once, after the missed notices (or `resync`):
//!   every notice from then on reaches this socket;
//! - `{"type":"pong"}`, the answer to a client's `{"type":"ping"}`;
//! - `{"type":"presence","user_id","state","url","title","at"}`, live, when a friend's
//!   presence changes (`url` and `title` only when `online`; `private` may carry
//!   `last_shared`; `offline` has none of them nor `at`). It carries no position:
//!   presence is not part of the recoverable history;
//! - `{"type":"error","code","message"}` when a presence frame was refused
//!   (`presence.invalid_url`, `presence.invalid_title`, `presence.unknown`, …).
//!
//! The client may send `{"type":"ping"}`, `{"type":"presence","url":"…","title":"…"}`
//! and `{"type":"heartbeat"}`; other text frames are ignored. Any frame shows the
//! client is alive.

use ::presence::Seen;
use axum::extract::ws::{close_code, CloseFrame, Utf8Bytes};
use event_bus::Notice;
use serde::{Deserialize, Serialize};

/// A frame the server sends, as JSON text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// Recovery is over and the subscription to the user's notices is in place.
    Ready {
        /// The authenticated user the socket belongs to.
        user_id: String,
    },
    /// Something that concerns the user happened.
    Notice(Notice),
    /// What the client missed cannot be sent: it must refetch its views.
    Resync {
        /// Why recovery was not possible.
        reason: ResyncReason,
    },
    /// The answer to a client's `ping`.
    Pong,
    /// A friend's presence changed (see `crate::presence`).
    Presence(Seen),
    /// A client frame was refused, with the same code HTTP would answer.
    Error { code: String, message: String },
}

/// Why a socket that asked for recovery gets `resync` instead of the missed notices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResyncReason {
    /// `since` is the position of no event.
    UnknownPosition,
    /// `since` is older than the retained history (`Config::retention`): notices after
    /// it may have been deleted.
    HistoryExpired,
    /// More notices were missed than one recovery sends (`Config::max_recovery`).
    TooManyMissed,
    /// The history could not be read (Postgres did not answer).
    Unavailable,
}

/// A frame the client sends, as JSON text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// A heartbeat; answered with `pong`.
    Ping,
    /// The page the user is on now.
    Presence {
        url: String,
        #[serde(default)]
        title: String,
    },
    /// The user is still on the page last reported: its presence is refreshed.
    Heartbeat,
}

impl ClientFrame {
    /// The frame `text` holds, or `None` for anything this version does not know.
    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

/// Why the server closes a socket, as the client reads it in the Close frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// `1001`: the service is shutting down; reconnect (to another node) with `since`.
    GoingAway,
    /// `1009`: a client frame was larger than `Config::max_message_bytes`.
    TooBig,
    /// `1002`: the client broke the WebSocket protocol.
    ProtocolError,
    /// `1007`: a client text frame was not UTF-8.
    InvalidText,
    /// `1011`, reason `try again`: live delivery stopped (the NATS subscription ended or
    /// could not be made); reconnecting shortly with `since` is expected to work.
    TryAgain,
    /// `4008`, reason `too slow: reconnect with since`: the client did not take its
    /// frames as fast as they came and its queue (`Config::queue_frames`) overflowed.
    TooSlow,
}

/// The close code of [`CloseReason::TooSlow`].
pub const TOO_SLOW: u16 = 4008;

impl CloseReason {
    /// The WebSocket close code.
    pub fn code(self) -> u16 {
        match self {
            Self::GoingAway => close_code::AWAY,
            Self::TooBig => close_code::SIZE,
            Self::ProtocolError => close_code::PROTOCOL,
            Self::InvalidText => close_code::INVALID,
            Self::TryAgain => close_code::ERROR,
            Self::TooSlow => TOO_SLOW,
        }
    }

    /// The reason text sent with the code.
    pub fn text(self) -> &'static str {
        match self {
            Self::GoingAway => "going away",
            Self::TooBig => "message too big",
            Self::ProtocolError => "protocol error",
            Self::InvalidText => "invalid text",
            Self::TryAgain => "try again",
            Self::TooSlow => "too slow: reconnect with since",
        }
    }

    pub(crate) fn frame(self) -> CloseFrame {
        CloseFrame {
            code: self.code(),
            reason: Utf8Bytes::from_static(self.text()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_have_the_documented_shapes() {
        let resync = ServerFrame::Resync {
            reason: ResyncReason::TooManyMissed,
        };
        let shapes = [
            (resync, r#"{"type":"resync","reason":"too_many_missed"}"#),
            (ServerFrame::Pong, r#"{"type":"pong"}"#),
        ];
        for (frame, json) in shapes {
            assert_eq!(serde_json::to_string(&frame).ok().as_deref(), Some(json));
        }
    }

    #[test]
    fn a_client_ping_is_recognised_and_anything_else_is_not() {
        assert_eq!(
            ClientFrame::parse(r#"{"type":"ping"}"#),
            Some(ClientFrame::Ping)
        );
        assert_eq!(ClientFrame::parse(r#"{"type":"presence"}"#), None);
        assert_eq!(
            ClientFrame::parse(r#"{"type":"presence","url":"https://a.com/"}"#),
            Some(ClientFrame::Presence {
                url: "https://a.com/".into(),
                title: String::new()
            })
        );
        assert_eq!(
            ClientFrame::parse(r#"{"type":"heartbeat"}"#),
            Some(ClientFrame::Heartbeat)
        );
        assert_eq!(ClientFrame::parse("ping"), None);
    }
}
