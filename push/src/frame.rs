//! The socket protocol: the text frames the server sends and the close codes it uses.
//!
//! Every server frame is a JSON object with a `type`:
//! - `{"type":"ready","user_id":"…"}`, once, when live delivery has started: every notice
//!   published for the user from then on reaches this socket;
//! - `{"type":"notice","position":…,"tx_id":…,"kind":"…","data":{…}}`, one per
//!   [`event_bus::Notice`], in the order NATS delivers them.
//!
//! Client text frames are read and ignored for now (presence will use them).

use axum::extract::ws::{close_code, CloseFrame, Utf8Bytes};
use event_bus::Notice;
use serde::{Deserialize, Serialize};

/// A frame the server sends, as JSON text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// The subscription to the user's notices is in place.
    Ready {
        /// The authenticated user the socket belongs to.
        user_id: String,
    },
    /// Something that concerns the user happened.
    Notice(Notice),
}

/// Why the server closes a socket, as the client reads it in the Close frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// `1001`: the service is shutting down; reconnect (to another node).
    GoingAway,
    /// `1009`: a client frame was larger than `Config::max_message_bytes`.
    TooBig,
    /// `1002`: the client broke the WebSocket protocol.
    ProtocolError,
    /// `1007`: a client text frame was not UTF-8.
    InvalidText,
    /// `1011`, reason `try again`: live delivery stopped (the NATS subscription ended or
    /// could not be made); reconnecting shortly is expected to work.
    TryAgain,
}

impl CloseReason {
    /// The WebSocket close code.
    pub fn code(self) -> u16 {
        match self {
            Self::GoingAway => close_code::AWAY,
            Self::TooBig => close_code::SIZE,
            Self::ProtocolError => close_code::PROTOCOL,
            Self::InvalidText => close_code::INVALID,
            Self::TryAgain => close_code::ERROR,
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
        }
    }

    pub(crate) fn frame(self) -> CloseFrame {
        CloseFrame {
            code: self.code(),
            reason: Utf8Bytes::from_static(self.text()),
        }
    }
}
