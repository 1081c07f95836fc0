//! Shared pages and their notifications (filled in by the sharing work).
