//! The share notification views (filled in by the sharing work).
