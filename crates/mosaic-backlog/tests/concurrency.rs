//! Many workers on separate connections drain one backlog while some of them
//! crash mid-card: every card is completed exactly once and none is lost.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mosaic_backlog::{Backlog, BacklogError, CardId, ClaimRequest, Completion, NewCard, Owner};
use mosaic_store::sea_orm::ConnectionTrait;
use mosaic_store::testing::{TestDb, all_backends};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CARDS: usize = 1_000;
const WORKERS: usize = 32;
/// Short, so crashed claims come back within the test.
const TTL_SECONDS: u32 = 1;
/// One claim in this many is abandoned as if its worker crashed.
const CRASH_ONE_IN: u64 = 25;
const DEADLINE: Duration = Duration::from_secs(90);

/// A small deterministic generator: crash decisions vary per run but a failing
/// seed (printed) can be replayed.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[derive(Default)]
struct Tally {
    /// Successful completions per card.
    completed: Mutex<HashMap<String, u32>>,
    /// Every claim any worker received.
    claims: AtomicU64,
    /// Claims abandoned by a "crash".
    crashes: AtomicU64,
    /// Completions refused because the claim had lapsed and moved on.
    lost_races: AtomicU64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_workers_with_crashes_complete_every_card_exactly_once() {
    let seed = std::env::var("BACKLOG_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| u64::from(std::process::id()) | 1);
    for db in all_backends().await {
        let backend = db.backend();
        eprintln!("{backend}: seed {seed} (replay with BACKLOG_SEED={seed})");
        drain(&db, seed).await;
        db.cleanup().await;
    }
}

/// A connection of its own for one worker. On PostgreSQL its commits skip the
/// wait for the disk: this test is about locking, and a slow test disk would
/// otherwise set its pace.
async fn connection(db: &TestDb) -> mosaic_store::Store {
    let store = db.connect_again(1).await.unwrap();
    if store.backend() == mosaic_store::Backend::Postgres {
        store
            .conn()
            .execute_unprepared("SET synchronous_commit = off")
            .await
            .unwrap();
    }
    store
}

async fn drain(db: &TestDb, seed: u64) {
    let backend = db.backend();
    let setup = Backlog::new(&db.store);
    let mut creators = tokio::task::JoinSet::new();
    for part in 0..8 {
        let backlog = setup.clone();
        creators.spawn(async move {
            for i in (part..CARDS).step_by(8) {
                let mut card =
                    NewCard::new(id(&format!("c-{i:04}")), "work").priority((i % 7) as i32);
                // Every tenth card waits for the card before it: gates under load.
                if i % 10 == 9 {
                    card = card.depends_on([id(&format!("c-{:04}", i - 1))]);
                }
                backlog.create(card).await.unwrap();
            }
        });
    }
    creators.join_all().await;
    let created = Instant::now();

    let tally = Arc::new(Tally::default());
    let finished = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + DEADLINE;

    // The sweeper a gateway runs, on its own connection.
    let sweeper = {
        let backlog = Backlog::new(&connection(db).await);
        let finished = finished.clone();
        tokio::spawn(async move {
            let mut reclaimed = 0usize;
            while !finished.load(Ordering::Relaxed) {
                reclaimed += backlog.reclaim(None).await.unwrap().reclaimed.len();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            reclaimed
        })
    };

    // A crashed worker exits with its claim held; a replacement starts on a
    // new connection, as a restarted process would.
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..WORKERS {
        let rng = XorShift(seed.wrapping_mul(w as u64 + 1) | 1);
        let store = connection(db).await;
        workers.spawn(worker(
            w,
            rng,
            store,
            tally.clone(),
            finished.clone(),
            deadline,
        ));
    }
    while let Some(exit) = workers.join_next().await {
        if let Exit::Crashed { worker: w, rng } = exit.unwrap() {
            let store = connection(db).await;
            workers.spawn(worker(
                w,
                rng,
                store,
                tally.clone(),
                finished.clone(),
                deadline,
            ));
        }
    }
    finished.store(true, Ordering::Relaxed);
    let reclaimed = sweeper.await.unwrap();

    let completed = tally.completed.lock().unwrap().clone();
    assert_eq!(completed.len(), CARDS, "{backend}: every card completed");
    let twice: Vec<_> = completed.iter().filter(|(_, n)| **n != 1).collect();
    assert!(
        twice.is_empty(),
        "{backend}: completed more than once: {twice:?}"
    );

    let cards = setup.list(&Default::default()).await.unwrap();
    assert_eq!(cards.len(), CARDS);
    assert!(
        cards
            .iter()
            .all(|c| c.status == mosaic_backlog::Status::Done),
        "{backend}: nothing left behind"
    );
    // Every claim handed out is accounted for: each one either completed its
    // card, crashed, or lost a race after its TTL; and each bumped `attempts`.
    let attempts: u64 = cards.iter().map(|c| u64::from(c.attempts)).sum();
    let claims = tally.claims.load(Ordering::Relaxed);
    let crashes = tally.crashes.load(Ordering::Relaxed);
    let lost = tally.lost_races.load(Ordering::Relaxed);
    assert_eq!(attempts, claims, "{backend}: claims = attempts");
    assert_eq!(
        claims,
        CARDS as u64 + crashes + lost,
        "{backend}: claims add up"
    );
    assert!(crashes > 0, "{backend}: the run exercised crashes");
    assert!(
        reclaimed as u64 >= crashes,
        "{backend}: every crashed claim came back through the sweep ({reclaimed} < {crashes})"
    );
    eprintln!(
        "{backend}: drained {CARDS} cards in {:?}: {claims} claims, {crashes} crashes, \
         {reclaimed} reclaimed, {lost} lost races",
        created.elapsed()
    );
}

enum Exit {
    Finished,
    Crashed { worker: usize, rng: XorShift },
}

async fn worker(
    w: usize,
    mut rng: XorShift,
    store: mosaic_store::Store,
    tally: Arc<Tally>,
    finished: Arc<AtomicBool>,
    deadline: Instant,
) -> Exit {
    let backend = store.backend();
    let backlog = Backlog::new(&store);
    let me = Owner::new(format!("worker-{w}")).unwrap();
    while !finished.load(Ordering::Relaxed) {
        assert!(Instant::now() < deadline, "{backend}: drain did not finish");
        let req = ClaimRequest::new(me.clone()).ttl_seconds(TTL_SECONDS);
        let Some(card) = backlog.claim(&req).await.unwrap() else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        tally.claims.fetch_add(1, Ordering::Relaxed);
        if rng.next().is_multiple_of(CRASH_ONE_IN) {
            tally.crashes.fetch_add(1, Ordering::Relaxed);
            // Dropping the store closes this worker's connection mid-claim.
            drop(backlog);
            drop(store);
            return Exit::Crashed { worker: w, rng };
        }
        match backlog
            .complete(&card.id, &Completion::Owner(me.clone()))
            .await
        {
            Ok(_) => {
                let mut done = tally.completed.lock().unwrap();
                *done.entry(card.id.as_str().to_owned()).or_default() += 1;
                if done.len() == CARDS {
                    finished.store(true, Ordering::Relaxed);
                }
            }
            Err(BacklogError::WrongOwner { .. } | BacklogError::WrongStatus { .. }) => {
                // Slower than its TTL: the sweep took the card back first.
                tally.lost_races.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => panic!("{backend}: complete failed: {e}"),
        }
    }
    Exit::Finished
}

fn id(s: &str) -> CardId {
    CardId::new(s).unwrap()
}
