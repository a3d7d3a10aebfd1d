//! ferrocap's control plane.
//!
//! This crate will hold the HTTP server (Prometheus `/metrics`, the `/api/v1`
//! REST API and the web admin page). It depends on `ferrocap-dataplane` and is
//! used by the `ferrocap` binary; the dataplane knows nothing about it.
//!
//! Nothing is served yet: the control plane is tracked as its own issue. The
//! crate exists so that the dependency direction appliance → control →
//! dataplane is fixed from the start.

/// The port the control plane will bind on 127.0.0.1 by default.
pub const DEFAULT_PORT: u16 = 9700;

// The page's assets; the control server (branch `control`) serves them.
#[allow(dead_code)]
mod web;
