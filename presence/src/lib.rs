//! Presence: which page each user is on, kept out of the event store.
//!
//! A user's presence changes on every page view, so it is not an event: it lives in a
//! JetStream key-value bucket ([`BUCKET`]) whose bucket-wide `max_age` is the presence
//! timeout. A record nobody refreshes expires by itself (the user is offline), and it
//! survives the restart of any service, the NATS server's storage being the only copy.
//!
//! What a friend may see of a record is decided by its owner's sharing policy (the
//! `sharing_policy` view): see [`Presence::seen_by_friends`].
//!
//! Modules:
//! - `record`: the record, its states and what friends see of it;
//! - `store`: the bucket: `put`, `get`, `get_many`, `users`;
//! - `views`: the Postgres views presence reads (policies and friends; their SQL).

mod record;
mod store;
mod views;

pub use record::{LastShared, Presence, PresenceError, PresenceState, Seen, SharedPage};
pub use store::{PresenceStore, StoreError, BUCKET};
pub use views::{accepted_friends, sharing_policies, sharing_policy};
