//! ferrocap's control plane: Prometheus metrics, the `/api/v1` HTTP API and
//! the web admin page, over a running [`Runtime`](ferrocap_dataplane::runtime::Runtime).
//!
//! What it promises:
//! - **One owner of the outputs.** [`ControlPlane`] holds the packet-logging
//!   expression and every named dump (from the config or created through the
//!   API) and changes them only through the runtime's hot swap
//!   (`add_output`, `replace_expression`, `remove_output`), so capture keeps
//!   running and the accounting stays exact across every change.
//! - **Metrics at scrape time.** `/metrics` is built from
//!   `Runtime::snapshot()`, the port counters the main loop publishes
//!   ([`ControlPlane::set_ports`]) and the logger's counters when it is
//!   scraped; nothing on the packet path is touched (no atomic
//!   read-modify-write per packet). Names are in [`metrics`].
//! - **Safe HTTP.** Every error is a JSON body
//!   `{"error":{"message":…}}` (plus `line` and `char` for expression
//!   errors) with a 4xx status for any bad request: malformed JSON, unknown
//!   fields, bad names (dump names match `^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`
//!   without `..`, so no path traversal), unknown routes or methods, bodies
//!   over 64 KiB (413). Mutating requests need `Authorization: Bearer TOKEN`
//!   when a token is set (401 otherwise); [`Server::start`] refuses a
//!   non-loopback address without one.
//! - **Own threads.** [`Server::start`] runs a single-threaded tokio
//!   runtime on its own thread, plus at most two blocking threads for the
//!   operations that wait for the workers, all spawned from the calling
//!   thread, so they inherit its CPU affinity: called from DPDK's main
//!   lcore, the control plane never runs on a worker's core.
//!
//! The OpenAPI document is `control/openapi.json`, served at
//! `/api/v1/openapi.json`; a test keeps it equal to the router's routes.

mod api;
mod dumps;
#[doc(hidden)]
pub mod fuzz_checks;
pub mod metrics;
mod server;
mod state;
mod web;

#[cfg(test)]
mod tests;

pub use server::{ServeError, Server};
pub use state::{
    validate_dump_name, validate_dump_settings, ControlError, ControlOptions, ControlPlane,
    DumpRequest, DumpSource, PortStat, Rotation,
};

/// The port the control plane binds on 127.0.0.1 by default.
pub const DEFAULT_PORT: u16 = 9700;

/// Largest request body accepted (64 KiB); larger bodies get 413.
pub const BODY_LIMIT: usize = 64 * 1024;

/// The OpenAPI 3 document of the API (`control/openapi.json`).
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");
