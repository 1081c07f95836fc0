//! The Postgres event store: how events are written, read back in order, and tracked.
//!
//! The table is postgres-es's `events`, extended with a global `position`, the writing
//! transaction's `tx_id` (`xid8`), an `event_id` and `recorded_at` (see `migrations`).
//!
//! - [`envelope`]: [`StoredEvent`] (an event as stored and as published on NATS), the
//!   feed [`Cursor`], event [`Metadata`], and NATS subject naming.
//! - [`codec`]: domain events to and from `(event_type, event_version, payload)`.
//! - [`append`]: one round trip appends a command's events, or reports a conflict.
//! - [`availability`]: whether Postgres can be reached (probes, 503 or 500).
//! - [`repository`]: loads an aggregate (cached), runs a command, appends, retries
//!   conflicts; returns the positions of the new events.
//! - [`reader`]: the feed, in commit-safe order, that never skips a late commit.
//! - [`checkpoint`]: how far a reader of the feed has got.
//! - [`leader`]: one active instance of a worker, by advisory lock.
//!
//! It uses cqrs-es's `Aggregate` and `DomainEvent` traits, but not its `CqrsFramework`:
//! `execute` there returns no positions and costs six round trips (DESIGN.md).

pub mod append;
pub mod availability;
pub mod checkpoint;
pub mod codec;
pub mod envelope;
pub mod leader;
pub mod reader;
pub mod repository;

pub use envelope::{Cursor, Metadata, StoredEvent};
pub use reader::FeedReader;
pub use repository::{AggregateRepository, Committed, ExecuteError};
