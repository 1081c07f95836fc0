//! The listening socket every HTTP service serves from.

use axum::serve::{ListenerExt, TapIo};
use tokio::net::TcpListener;

/// `listener`, with `TCP_NODELAY` set on every connection it accepts: an answer goes out
/// as soon as it is written, instead of waiting (Nagle) for the client to acknowledge the
/// previous segment. Interactive request/response traffic is what it is made for.
pub fn no_delay(listener: TcpListener) -> TapIo<TcpListener, fn(&mut tokio::net::TcpStream)> {
    listener.tap_io(set_no_delay as fn(&mut tokio::net::TcpStream))
}

fn set_no_delay(stream: &mut tokio::net::TcpStream) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "TCP_NODELAY not set on a connection");
    }
}
