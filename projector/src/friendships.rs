//! The friendship views (filled in by the friendships work).
