//! The HTTP server: a small tokio runtime on its own threads serving the
//! router, with an orderly shutdown.

use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::Duration;

use ferrocap_dataplane::log::catalog;

use crate::state::ControlPlane;

/// Errors of [`Server::start`].
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A non-loopback address without a token.
    #[error("refusing to serve on {0} without a token: set [control] token, or bind 127.0.0.1")]
    NoToken(SocketAddr),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {cause}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        cause: std::io::Error,
    },
    /// The runtime or its thread could not be started.
    #[error("cannot start the control plane's threads: {0}")]
    Runtime(std::io::Error),
}

/// A running control-plane server. [`Server::shutdown`] (or dropping it)
/// stops it.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Binds `addr` (port 0: any free port, see [`Server::local_addr`]) and
    /// serves `plane`'s router on a tokio runtime with one worker thread
    /// and at most two blocking threads, all spawned from the calling
    /// thread (so they share its CPU affinity). Refuses a non-loopback
    /// address when the plane has no token. Logs `CTLH-100` or `CTLH-110`.
    pub fn start(plane: &ControlPlane, addr: SocketAddr) -> Result<Server, ServeError> {
        let log = |entry, args: &[&dyn std::fmt::Display]| {
            if let Some(l) = &plane.shared.logger {
                l.log(0, entry, args);
            }
        };
        if !addr.ip().is_loopback() && plane.shared.opts.token.is_none() {
            let e = ServeError::NoToken(addr);
            log(catalog::CTLH_BIND_FAILED, &[&addr, &e]);
            return Err(e);
        }
        let listener = std::net::TcpListener::bind(addr)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|cause| {
                log(catalog::CTLH_BIND_FAILED, &[&addr, &cause]);
                ServeError::Bind { addr, cause }
            })?;
        let local = listener.local_addr().unwrap_or(addr);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(2)
            .thread_name("ferrocap-ctl")
            .enable_all()
            .build()
            .map_err(ServeError::Runtime)?;
        let router = crate::api::router(plane.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("ferrocap-ctl-main".into())
            .spawn(move || {
                rt.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let serve = axum::serve(listener, router).with_graceful_shutdown(async {
                        let _ = rx.await;
                    });
                    let _ = serve.await;
                });
                // Connections still open (a long download) get 2 s.
                rt.shutdown_timeout(Duration::from_secs(2));
            })
            .map_err(ServeError::Runtime)?;
        log(catalog::CTLH_LISTENING, &[&local]);
        log(
            catalog::CTLM_LISTENING,
            &[&format!("http://{local}/metrics")],
        );
        Ok(Server {
            addr: local,
            stop: Some(tx),
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets open requests finish (up to a grace time) and
    /// joins the server's threads.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop_now();
    }
}
