//! Publishing a batch in order with a window of acks in flight.

use std::collections::VecDeque;

use async_nats::jetstream::context::PublishAckFuture;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::Context;
use bytes::Bytes;
use event_store::StoredEvent;

use crate::{nats, RelayError};

/// Publishes `batch` after stream sequence `last_sequence`, each message expecting the
/// one before it as the stream's last. Returns the stream's last sequence afterwards.
pub async fn in_order(
    js: &Context,
    batch: &[StoredEvent],
    mut last_sequence: u64,
    window: usize,
) -> Result<u64, RelayError> {
    let mut in_flight: VecDeque<PublishAckFuture> = VecDeque::with_capacity(window);
    for event in batch {
        if in_flight.len() >= window {
            confirm(in_flight.pop_front()).await?;
        }
        let body = serde_json::to_vec(event).map_err(nats)?;
        let message = PublishMessage::build()
            .payload(Bytes::from(body))
            .message_id(event.event_id.to_string())
            .expected_last_sequence(last_sequence);
        in_flight.push_back(
            js.send_publish(event.subject(""), message)
                .await
                .map_err(nats)?,
        );
        last_sequence += 1;
    }
    while let Some(ack) = in_flight.pop_front() {
        confirm(Some(ack)).await?;
    }
    Ok(last_sequence)
}

async fn confirm(ack: Option<PublishAckFuture>) -> Result<(), RelayError> {
    if let Some(ack) = ack {
        let ack = ack.await.map_err(nats)?;
        if ack.duplicate {
            // Only possible if the stream was written outside the relay.
            return Err(RelayError::Nats(format!(
                "unexpected duplicate at {}",
                ack.sequence
            )));
        }
    }
    Ok(())
}
