//! Friendships: one aggregate per pair of users (filled in by the friendships work).
