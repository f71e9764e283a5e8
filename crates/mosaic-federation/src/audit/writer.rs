//! [`AuditWriter`]: records go into a bounded queue and a background task
//! writes them in batches, one multi-row `INSERT` each.
//!
//! - **Batching.** The task takes the first queued row, then gathers more for
//!   at most [`WriterOptions::gather`] or until [`WriterOptions::max_batch`]
//!   rows, and writes them together. A row is in the table well within a
//!   second of [`AuditWriter::record`] returning, under normal load.
//! - **Back-pressure.** When the queue is full, `record` waits for room: the
//!   request that made the row waits, no row is dropped. Each wait is counted
//!   ([`AuditStats::backpressure_waits`]) and a warning logged, at most once
//!   per [`FULL_LOG_EVERY`], with the count of waits since the last one.
//! - **Failures.** A failed write is logged, counted and retried with
//!   back-off (doubling from [`WriterOptions::retry_initial`] up to
//!   [`WriterOptions::retry_max`]), the batch kept: nothing is lost to a
//!   database that comes back.
//! - **Shutdown.** [`AuditWriter::shutdown`] closes the queue and waits until
//!   every queued row is written, until the caller's deadline; rows still
//!   unwritten then are counted ([`AuditStats::rows_lost`]) and logged as lost.

use super::AuditRecord;
use super::log::active_model;
use mosaic_store::entity::federation_audit_log as audit;
use mosaic_store::sea_orm::{DatabaseConnection, DbErr, EntityTrait};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How often a full queue is logged, at most.
pub const FULL_LOG_EVERY: Duration = Duration::from_secs(10);

/// How the writer batches and retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterOptions {
    /// Rows waiting to be written at most; more wait in `record`.
    pub capacity: NonZeroUsize,
    /// Rows in one `INSERT` at most.
    pub max_batch: NonZeroUsize,
    /// How long a batch gathers rows after its first, at most.
    pub gather: Duration,
    /// The wait after a first failed write.
    pub retry_initial: Duration,
    /// The longest wait between retries.
    pub retry_max: Duration,
}

impl WriterOptions {
    /// A queue of `capacity` rows; batches of up to 500 rows gathered for up
    /// to 200 ms; retries from 100 ms up to 5 s apart.
    pub fn new(capacity: NonZeroUsize) -> Self {
        Self {
            capacity,
            max_batch: NonZeroUsize::new(500).unwrap_or(NonZeroUsize::MIN),
            gather: Duration::from_millis(200),
            retry_initial: Duration::from_millis(100),
            retry_max: Duration::from_secs(5),
        }
    }
}

/// The writer's figures at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuditStats {
    /// Rows recorded and not yet written (queued, or in the batch being
    /// written).
    pub queue_depth: u64,
    /// Rows written since start.
    pub rows_written: u64,
    /// Times `record` found the queue full and waited for room.
    pub backpressure_waits: u64,
    /// Batch writes that failed (each retried).
    pub write_failures: u64,
    /// Rows that could not be written: unwritten at the shutdown deadline,
    /// or recorded after shutdown.
    pub rows_lost: u64,
}

#[derive(Debug, Default)]
struct Counters {
    depth: AtomicU64,
    written: AtomicU64,
    waits: AtomicU64,
    failures: AtomicU64,
    lost: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> AuditStats {
        AuditStats {
            queue_depth: self.depth.load(Ordering::Relaxed),
            rows_written: self.written.load(Ordering::Relaxed),
            backpressure_waits: self.waits.load(Ordering::Relaxed),
            write_failures: self.failures.load(Ordering::Relaxed),
            rows_lost: self.lost.load(Ordering::Relaxed),
        }
    }

    fn lose(&self, rows: u64) {
        self.depth.fetch_sub(rows, Ordering::Relaxed);
        self.lost.fetch_add(rows, Ordering::Relaxed);
    }
}

/// Where the writer is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Taking rows.
    Running,
    /// Queue closed: write what is queued, then stop.
    Draining,
    /// The deadline passed: stop now, counting what is left as lost.
    Abandon,
}

/// The log of full-queue warnings: when the last was, waits since.
#[derive(Debug, Default)]
struct FullLog {
    last: Option<Instant>,
    since_last: u64,
}

#[derive(Debug)]
struct Shared {
    counters: Counters,
    phase: watch::Sender<Phase>,
    task: Mutex<Option<JoinHandle<()>>>,
    full_log: Mutex<FullLog>,
    capacity: usize,
}

/// The asynchronous, batched writer of audit rows. Cheap to clone; every
/// clone feeds the same queue and task.
#[derive(Debug, Clone)]
pub struct AuditWriter {
    tx: mpsc::Sender<AuditRecord>,
    shared: Arc<Shared>,
}

impl AuditWriter {
    /// Starts the writer's task on the current tokio runtime, writing to
    /// `db` through a queue of `capacity` rows.
    ///
    /// # Panics
    /// Outside a tokio runtime (it spawns its task there).
    pub fn start(db: DatabaseConnection, capacity: NonZeroUsize) -> Self {
        Self::start_with(db, WriterOptions::new(capacity))
    }

    /// [`AuditWriter::start`] with every option given.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn start_with(db: DatabaseConnection, options: WriterOptions) -> Self {
        let (tx, rx) = mpsc::channel(options.capacity.get());
        let (phase, phase_rx) = watch::channel(Phase::Running);
        let shared = Arc::new(Shared {
            counters: Counters::default(),
            phase,
            task: Mutex::new(None),
            full_log: Mutex::new(FullLog::default()),
            capacity: options.capacity.get(),
        });
        let task = tokio::spawn(run(db, rx, phase_rx, shared.clone(), options));
        *shared.task.lock().unwrap_or_else(PoisonError::into_inner) = Some(task);
        Self { tx, shared }
    }

    /// Queues `record` for writing. When the queue is full, waits for room
    /// (back-pressure), logging and counting the wait. After
    /// [`AuditWriter::shutdown`] the row cannot be written: it is counted
    /// and logged as lost.
    pub async fn record(&self, record: AuditRecord) {
        let counters = &self.shared.counters;
        counters.depth.fetch_add(1, Ordering::Relaxed);
        let record = match self.tx.try_send(record) {
            Ok(()) => return,
            Err(TrySendError::Closed(record)) => {
                self.lost_after_shutdown(&record);
                return;
            }
            Err(TrySendError::Full(record)) => record,
        };
        counters.waits.fetch_add(1, Ordering::Relaxed);
        self.log_full();
        if let Err(mpsc::error::SendError(record)) = self.tx.send(record).await {
            self.lost_after_shutdown(&record);
        }
    }

    fn lost_after_shutdown(&self, record: &AuditRecord) {
        self.shared.counters.lose(1);
        tracing::error!(
            trace_id = %record.trace_id,
            verb = %record.verb,
            status = record.status,
            "federation audit row lost: the audit writer has shut down"
        );
    }

    fn log_full(&self) {
        let mut log = self
            .shared
            .full_log
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        log.since_last += 1;
        if log.last.is_none_or(|at| at.elapsed() >= FULL_LOG_EVERY) {
            tracing::warn!(
                capacity = self.shared.capacity,
                waits = log.since_last,
                "federation audit queue full: requests wait for room (back-pressure); raise federation.audit_queue_capacity or look at the database's write speed"
            );
            log.since_last = 0;
            log.last = Some(Instant::now());
        }
    }

    /// The writer's figures now.
    pub fn stats(&self) -> AuditStats {
        self.shared.counters.snapshot()
    }

    /// Closes the queue and waits until every queued row is written, or
    /// `deadline`; then counts and logs as lost whatever is still unwritten.
    /// Returns the final figures. Any clone's later `record` finds the queue
    /// closed.
    pub async fn shutdown(self, deadline: Instant) -> AuditStats {
        let _ = self.shared.phase.send(Phase::Draining);
        let task = self
            .shared
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(mut task) = task
            && tokio::time::timeout_at(deadline, &mut task).await.is_err()
        {
            let _ = self.shared.phase.send(Phase::Abandon);
            if let Err(e) = task.await {
                tracing::error!(error = %e, "federation audit writer ended abnormally");
            }
        }
        let stats = self.stats();
        tracing::info!(
            rows_written = stats.rows_written,
            rows_lost = stats.rows_lost,
            "federation audit writer stopped"
        );
        stats
    }
}

/// Resolves once the phase is `at_least` or later (`Abandon` comes after
/// `Draining`). Never resolves once every handle is gone: the writer then
/// ends by its queue closing.
async fn phase_reaches(phase: &mut watch::Receiver<Phase>, at_least: Phase) {
    let rank = |p: Phase| match p {
        Phase::Running => 0,
        Phase::Draining => 1,
        Phase::Abandon => 2,
    };
    let reached = |p: &Phase| rank(*p) >= rank(at_least);
    if phase.wait_for(reached).await.is_err() {
        std::future::pending::<()>().await;
    }
}

async fn run(
    db: DatabaseConnection,
    mut rx: mpsc::Receiver<AuditRecord>,
    mut phase: watch::Receiver<Phase>,
    shared: Arc<Shared>,
    options: WriterOptions,
) {
    let counters = &shared.counters;
    let mut batch: Vec<AuditRecord> = Vec::with_capacity(options.max_batch.get());
    let mut closed = false;
    loop {
        // The first row of a batch; on shutdown, the queue closes and the
        // rows still in it come out before `None`.
        let first = if closed {
            rx.recv().await
        } else {
            tokio::select! {
                row = rx.recv() => row,
                () = phase_reaches(&mut phase, Phase::Draining) => {
                    rx.close();
                    closed = true;
                    continue;
                }
            }
        };
        let Some(first) = first else {
            return;
        };
        batch.push(first);
        let until = Instant::now() + options.gather;
        while batch.len() < options.max_batch.get() {
            let room = options.max_batch.get() - batch.len();
            tokio::select! {
                got = rx.recv_many(&mut batch, room) => if got == 0 { break },
                () = tokio::time::sleep_until(until) => break,
                () = phase_reaches(&mut phase, Phase::Draining), if !closed => {
                    rx.close();
                    closed = true;
                }
            }
        }
        if !write_with_retries(&db, &mut batch, &mut phase, counters, &options).await {
            abandon(&mut rx, &mut batch, counters);
            return;
        }
    }
}

/// Writes `batch` until it succeeds (then empties it and returns `true`) or
/// the writer is abandoned (`false`, the batch left for the count of lost).
async fn write_with_retries(
    db: &DatabaseConnection,
    batch: &mut Vec<AuditRecord>,
    phase: &mut watch::Receiver<Phase>,
    counters: &Counters,
    options: &WriterOptions,
) -> bool {
    let rows = batch.len() as u64;
    let mut wait = options.retry_initial;
    let mut attempt: u32 = 1;
    loop {
        let outcome = tokio::select! {
            result = insert(db, batch) => result,
            () = phase_reaches(phase, Phase::Abandon) => return false,
        };
        match outcome {
            Ok(()) => {
                counters.written.fetch_add(rows, Ordering::Relaxed);
                counters.depth.fetch_sub(rows, Ordering::Relaxed);
                batch.clear();
                return true;
            }
            Err(e) => {
                counters.failures.fetch_add(1, Ordering::Relaxed);
                tracing::error!(
                    error = %mosaic_store::describe_db_err(&e),
                    rows,
                    attempt,
                    retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    "federation audit write failed; the batch is kept and retried"
                );
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = phase_reaches(phase, Phase::Abandon) => return false,
                }
                wait = (wait * 2).min(options.retry_max);
                attempt = attempt.saturating_add(1);
            }
        }
    }
}

/// One multi-row `INSERT` of every record in `batch`.
async fn insert(db: &DatabaseConnection, batch: &[AuditRecord]) -> Result<(), DbErr> {
    let models = batch.iter().cloned().map(active_model);
    audit::Entity::insert_many(models)
        .exec_without_returning(db)
        .await
        .map(|_| ())
}

/// The deadline passed: what is in hand and in the queue is lost.
fn abandon(
    rx: &mut mpsc::Receiver<AuditRecord>,
    batch: &mut Vec<AuditRecord>,
    counters: &Counters,
) {
    rx.close();
    let mut lost = batch.len() as u64;
    batch.clear();
    while rx.try_recv().is_ok() {
        lost += 1;
    }
    counters.lose(lost);
    tracing::error!(
        rows_lost = lost,
        "federation audit rows lost: still unwritten when the shutdown deadline passed"
    );
}
