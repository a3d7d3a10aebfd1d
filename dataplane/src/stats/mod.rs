//! Stats (stub).
