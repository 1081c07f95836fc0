//! A socket's bounded queue of outgoing frames, written as fast as the client takes them.
//!
//! The session never waits for the client to take a frame: it queues the frame and goes
//! back to its notices, and writes whatever the socket accepts in between. A client that
//! falls `limit` frames behind has overflowed its queue and is closed (`4008`): it then
//! reconnects with `since` and recovers from the history, instead of holding memory here
//! or slowing anything else.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::task::{Context, Poll};

use futures::{Sink, SinkExt};

/// The queue overflowed: the client is too slow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Overflow;

/// Frames waiting for the socket.
#[derive(Debug)]
pub(crate) struct Outbox<M> {
    frames: VecDeque<M>,
    /// How many queued frames [`Outbox::push`] accepts.
    limit: usize,
    /// How many frames at the front were queued with [`Outbox::push_exempt`] and do not
    /// count against `limit` (the recovered notices, sent once per session).
    exempt: usize,
    /// Whether a frame was handed to the socket and not flushed since.
    unflushed: bool,
}

impl<M> Outbox<M> {
    /// An empty queue that holds at most `limit` frames (at least one).
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            frames: VecDeque::new(),
            limit: limit.max(1),
            exempt: 0,
            unflushed: false,
        }
    }

    /// Queues `frame`, unless `limit` frames are waiting already.
    pub(crate) fn push(&mut self, frame: M) -> Result<(), Overflow> {
        if self.frames.len() - self.exempt >= self.limit {
            return Err(Overflow);
        }
        self.frames.push_back(frame);
        Ok(())
    }

    /// Queues `frame` without counting it against the limit. Only before any
    /// [`Outbox::push`]: exempt frames are at the front.
    pub(crate) fn push_exempt(&mut self, frame: M) {
        debug_assert_eq!(self.frames.len(), self.exempt, "exempt frames go first");
        self.frames.push_back(frame);
        self.exempt += 1;
    }

    /// Whether there is anything to write or flush.
    pub(crate) fn has_work(&self) -> bool {
        !self.frames.is_empty() || self.unflushed
    }

    /// Writes queued frames into `sink` until it is flushed and the queue empty.
    /// Cancel-safe: a frame leaves the queue only once `sink` has taken it.
    pub(crate) async fn write<S>(&mut self, sink: &mut S) -> Result<(), S::Error>
    where
        S: Sink<M> + Unpin,
    {
        poll_fn(|cx| self.poll_write(sink, cx)).await
    }

    fn poll_write<S>(&mut self, sink: &mut S, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>>
    where
        S: Sink<M> + Unpin,
    {
        while !self.frames.is_empty() {
            if let Err(error) = std::task::ready!(sink.poll_ready_unpin(cx)) {
                return Poll::Ready(Err(error));
            }
            let Some(frame) = self.frames.pop_front() else {
                break;
            };
            self.exempt = self.exempt.saturating_sub(1);
            self.unflushed = true;
            sink.start_send_unpin(frame)?;
        }
        std::task::ready!(sink.poll_flush_unpin(cx))?;
        self.unflushed = false;
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use futures::channel::mpsc;
    use futures::StreamExt;

    use super::*;

    #[test]
    fn a_full_queue_refuses_the_next_frame() {
        let mut outbox = Outbox::new(2);
        assert_eq!(outbox.push(1), Ok(()));
        assert_eq!(outbox.push(2), Ok(()));
        assert_eq!(outbox.push(3), Err(Overflow));
    }

    #[test]
    fn exempt_frames_do_not_count_until_written() {
        let mut outbox = Outbox::new(1);
        outbox.push_exempt(1);
        outbox.push_exempt(2);
        assert_eq!(outbox.push(3), Ok(()));
        assert_eq!(outbox.push(4), Err(Overflow));
    }

    #[tokio::test]
    async fn frames_are_written_in_order_and_the_queue_empties() {
        let (mut sink, stream) = mpsc::unbounded();
        let mut outbox = Outbox::new(4);
        outbox.push_exempt(1);
        outbox.push(2).ok();
        outbox.push(3).ok();

        outbox.write(&mut sink).await.ok();

        drop(sink);
        assert_eq!(stream.collect::<Vec<_>>().await, vec![1, 2, 3]);
        assert!(!outbox.has_work());
        assert_eq!(outbox.push(4), Ok(()));
    }
}
