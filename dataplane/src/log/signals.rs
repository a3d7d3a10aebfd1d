//! Signal handling for the logger: SIGUSR1 raises the level by one, SIGUSR2
//! lowers it by one (both log `SLOG-110-K level changed to N`), SIGHUP
//! reopens the log files. A dedicated thread reacts; the handlers themselves
//! only record the signal (signal-hook's self-pipe).
#![forbid(unsafe_code)]

use std::thread::{self, JoinHandle};

use signal_hook::consts::{SIGHUP, SIGUSR1, SIGUSR2};
use signal_hook::iterator::{Handle, Signals};

use super::logger::{LogError, Logger};

/// The running signal thread; [`SignalThread::stop`] ends it.
#[derive(Debug)]
pub struct SignalThread {
    handle: Handle,
    thread: Option<JoinHandle<()>>,
}

/// Installs handlers for SIGUSR1, SIGUSR2 and SIGHUP and starts the thread
/// that applies them to `logger`.
pub fn install(logger: Logger) -> Result<SignalThread, LogError> {
    let mut signals = Signals::new([SIGUSR1, SIGUSR2, SIGHUP]).map_err(LogError::Signals)?;
    let handle = signals.handle();
    let thread = thread::Builder::new()
        .name("ferrocap-signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                match sig {
                    SIGUSR1 => {
                        logger.step_up();
                    }
                    SIGUSR2 => {
                        logger.step_down();
                    }
                    SIGHUP => logger.reopen(),
                    _ => {}
                }
            }
        })
        .map_err(LogError::Thread)?;
    Ok(SignalThread {
        handle,
        thread: Some(thread),
    })
}

impl SignalThread {
    /// Unregisters the handlers' delivery and joins the thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.handle.close();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for SignalThread {
    fn drop(&mut self) {
        self.shutdown();
    }
}
