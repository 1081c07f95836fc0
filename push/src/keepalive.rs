//! Heartbeats: the server pings each socket at an interval and drops one it has heard
//! nothing from (no frame at all: a Pong, a `ping` of its own, anything) for the idle
//! timeout.

use std::pin::Pin;
use std::time::Duration;

use tokio::time::{self, Instant, Interval, MissedTickBehavior, Sleep};

/// What the keepalive asks for.
pub(crate) enum Tick {
    /// Time to ping the client.
    PingDue,
    /// Nothing heard from the client for the idle timeout.
    Silent,
}

/// Pings the client every interval and notices when it has gone silent.
pub(crate) struct Keepalive {
    pings: Interval,
    silence: Pin<Box<Sleep>>,
    idle_timeout: Duration,
}

impl Keepalive {
    pub(crate) fn new(ping_interval: Duration, idle_timeout: Duration) -> Self {
        let mut pings = time::interval_at(Instant::now() + ping_interval, ping_interval);
        pings.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Self {
            pings,
            silence: Box::pin(time::sleep(idle_timeout)),
            idle_timeout,
        }
    }

    /// The client said something: it is alive.
    pub(crate) fn heard(&mut self) {
        let deadline = Instant::now() + self.idle_timeout;
        self.silence.as_mut().reset(deadline);
    }

    /// Completes at the next ping, or when the client has been silent too long.
    /// Cancel-safe: both timers keep their state when the future is dropped.
    pub(crate) async fn next(&mut self) -> Tick {
        tokio::select! {
            biased;
            () = self.silence.as_mut() => Tick::Silent,
            _ = self.pings.tick() => Tick::PingDue,
        }
    }
}
