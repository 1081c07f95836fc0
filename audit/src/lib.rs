//! Audit and replay tooling over the event store: what the operator's commands
//! (`pagenow events`, `aggregate`, `verify`, `status`) print, as functions returning data.
//!
//! - [`history`]: events by aggregate, user, type, time, position or request
//!   (correlation id), in feed order; [`history::Follower`] follows the store live.
//! - [`aggregate`]: an aggregate's state at any version, and what one event changed,
//!   folded with the domain's own `evolve`.
//! - [`verify`]: every projection rebuilt into scratch tables and compared row by row
//!   with the live views ("replay equals live").
//! - [`status`]: each projection's and the relay's checkpoint and lag, and the store's
//!   readable head against its last committed event.
//! - [`shadow`]: one projection rebuilt beside the live tables and switched in
//!   atomically, while the system serves traffic.
//! - [`scratch`]: the verifier's scratch schema (and the shadow one's tables).
//!
//! Boundaries: reads the event store and the views; writes only its own scratch and
//! shadow schemas, through the projections' own code. Never writes events; the only
//! change it makes to the live views is the shadow rebuild's switch.

pub mod aggregate;
pub mod compare;
pub mod history;
pub mod scratch;
pub mod shadow;
pub mod status;
pub mod verify;

mod rows;

pub use aggregate::{aggregate_diff, aggregate_state, AggregateError, AggregateState, EventDiff};
pub use compare::{Difference, TableReport};
pub use history::{list_events, page_after, EventFilter, Follower};
pub use status::{status, ReaderStatus, Status};
pub use verify::{verify, Report, VerifyError, VerifyOptions};
