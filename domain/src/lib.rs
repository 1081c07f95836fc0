//! The PageNow domain: aggregates, their commands, events and rules. Pure: no I/O, no
//! clock, no randomness. Whatever a decision needs from outside (the time, whether a
//! user exists) the command handler looks up and puts into the command, so a replay and
//! a test are deterministic.
//!
//! - [`personal`]: [`Sealed`], personal data as it travels inside events (encrypted
//!   with its owner's key, outside this crate).
//! - [`user`]: the user profile aggregate.
//! - [`friendship`]: one relationship per pair of users.
//! - [`share`]: pages shared with friends, and their notifications.
//! - [`chat`]: conversations, messages and read positions.
//!
//! Each aggregate has a command enum, an event enum, an error enum with a stable code per
//! variant, a state with a pure `decide` and an infallible `evolve`; its cqrs-es
//! `Aggregate` impl only calls them. Event type names and versions are explicit strings
//! that never change once released.

pub mod chat;
pub mod friendship;
pub mod personal;
pub mod share;
pub mod user;

pub use personal::Sealed;

/// A domain error's stable code, e.g. `user.not_registered`.
pub trait ErrorCode {
    fn code(&self) -> &'static str;
}
