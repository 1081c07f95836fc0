//! Personal data inside events.
//!
//! Events are immutable, yet a person may ask to be erased. So every piece of personal
//! data (e-mail, names, birth date, profile text, messages, shared pages) enters an event
//! as a [`Sealed`] value: encrypted with its owner's key, which lives outside the event
//! store. Deleting the key makes every copy unreadable, in the live views and in every
//! replay, while the history's shape stays. The domain never looks inside a `Sealed`:
//! values are validated (as newtypes) before they are sealed.

use serde::{Deserialize, Serialize};

/// An encrypted value and the user whose key opens it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    /// The user whose key sealed it.
    pub owner: String,
    /// Base64 of nonce and ciphertext.
    pub sealed: String,
}
