//! SIGINT and SIGTERM for the fleet commands that wait.
//!
//! The fleet library installs no handler; a command that waits calls
//! [`forward`], and from then on a signal raises the command's
//! [`Interrupt`] instead of killing the process, so the operation can stop
//! waiting and undo what it changed. It then fails with
//! `mosaic_fleet::Error::Interrupted`, which [`exit_if_interrupted`] turns
//! into the conventional status (130 for SIGINT, 143 for SIGTERM). A second
//! signal ends the process at once with that status.

use mosaic_fleet::interrupt::{Interrupt, Signal};
use tokio::signal::unix::{SignalKind, signal};

/// Raises `interrupt` on SIGINT or SIGTERM from now on. The handlers are
/// registered before this returns, so no signal falls between.
pub fn forward(interrupt: &Interrupt) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    let (mut int, mut term) = {
        let _entered = runtime.enter();
        (
            signal(SignalKind::interrupt())?,
            signal(SignalKind::terminate())?,
        )
    };
    let interrupt = interrupt.clone();
    std::thread::Builder::new()
        .name("mosaic-signals".to_owned())
        .spawn(move || {
            runtime.block_on(async move {
                loop {
                    let raised = tokio::select! {
                        Some(()) = int.recv() => Signal::Interrupt,
                        Some(()) = term.recv() => Signal::Terminate,
                        else => return,
                    };
                    if interrupt.raise(raised) {
                        eprintln!("mosaic: {raised} again: stopping at once");
                        std::process::exit(i32::from(raised.exit_code()));
                    }
                }
            });
        })?;
    Ok(())
}

/// When `result` failed because a signal stopped the operation, prints the
/// error (what it was doing, what was undone) and exits with the signal's
/// status; otherwise hands `result` back.
pub fn exit_if_interrupted<T>(result: anyhow::Result<T>) -> anyhow::Result<T> {
    if let Err(e) = &result
        && let Some(signal) = e
            .downcast_ref::<mosaic_fleet::Error>()
            .and_then(mosaic_fleet::Error::signal)
    {
        eprintln!("mosaic: {e:#}");
        std::process::exit(i32::from(signal.exit_code()));
    }
    result
}
