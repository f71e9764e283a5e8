//! `cargo xtask bench backlog`: the backlog's claim throughput and latency,
//! each beside its ceiling, measured in one run on one server.
//!
//! On PostgreSQL: `N` cards drained by `W` workers doing claim then complete,
//! with (a) `mosaic-backlog`, (b) a bare single-statement `SKIP LOCKED` loop on
//! a one-column-queue (the ceiling), (c) pg-boss from npm doing the same work.
//! On SQLite: `mosaic-backlog` beside its own bare `UPDATE … RETURNING` loop.
//! Every run checks that no card was claimed twice.
//!
//! Flags: `--cards N` (50000), `--workers W` (16), `--durable` (keep the
//! server's `synchronous_commit`; by default the scratch database turns it off
//! so the figures measure the queue, not the disk's fsync rate), `--no-pg-boss`,
//! `--no-sqlite`.

use anyhow::{Context as _, bail, ensure};
use mosaic_backlog::{Backlog, CardId, ClaimRequest, Completion, NewCard, Owner};
use mosaic_store::sea_orm::ConnectionTrait;
use mosaic_store::{Store, StoreOptions};
use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

const DEFAULT_SERVER: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const PG_BOSS: &str = "pg-boss@10";

struct Options {
    cards: usize,
    workers: usize,
    durable: bool,
    pg_boss: bool,
    sqlite: bool,
}

fn options(args: &[String]) -> anyhow::Result<Options> {
    let mut opts = Options {
        cards: 50_000,
        workers: 16,
        durable: false,
        pg_boss: true,
        sqlite: true,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut number = |name: &str| -> anyhow::Result<usize> {
            let v = it
                .next()
                .with_context(|| format!("{name} needs a number"))?;
            v.parse()
                .with_context(|| format!("{name} `{v}` is not a positive number"))
        };
        match arg.as_str() {
            "--cards" => opts.cards = number("--cards")?,
            "--workers" => opts.workers = number("--workers")?,
            "--durable" => opts.durable = true,
            "--no-pg-boss" => opts.pg_boss = false,
            "--no-sqlite" => opts.sqlite = false,
            other => bail!(
                "unknown flag `{other}` (flags: --cards N, --workers W, --durable, --no-pg-boss, --no-sqlite)"
            ),
        }
    }
    ensure!(
        opts.cards > 0 && opts.workers > 0,
        "--cards and --workers must be at least 1"
    );
    Ok(opts)
}

/// Runs the benchmark, optimized: a debug build re-runs itself with `--release`.
pub fn run(args: &[String]) -> anyhow::Result<()> {
    let opts = options(args)?;
    if cfg!(debug_assertions) {
        eprintln!("==> rebuilding xtask with --release: timings of a debug build mean little");
        return crate::util::step(
            "bench backlog (release)",
            crate::util::cargo()
                .args([
                    "run",
                    "--release",
                    "--quiet",
                    "--package",
                    "xtask",
                    "--",
                    "bench",
                    "backlog",
                ])
                .args(args),
        );
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(bench(opts))
}

/// One contender's drain.
struct Drain {
    name: String,
    cards: usize,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
}

impl Drain {
    fn per_second(&self) -> f64 {
        self.cards as f64 / self.seconds
    }
}

async fn bench(opts: Options) -> anyhow::Result<()> {
    println!(
        "backlog benchmark: {} cards, {} workers, claim then complete{}",
        opts.cards,
        opts.workers,
        if opts.durable {
            ""
        } else {
            " (synchronous_commit off)"
        }
    );
    let server = std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_SERVER.to_owned());
    let scratch = Scratch::create(&server, opts.durable).await?;
    let pg = postgres(&scratch.url, &opts).await;
    scratch.drop().await;
    let pg = pg?;
    report("PostgreSQL", &pg[0], &pg[1..]);

    if opts.sqlite {
        let lite = sqlite(&opts).await?;
        report("SQLite", &lite[0], &lite[1..]);
    }
    Ok(())
}

fn report(backend: &str, ceiling: &Drain, others: &[Drain]) {
    println!();
    println!(
        "{backend:<11} {:<34} {:>9} {:>9} {:>9}",
        "contender", "cards/s", "p50 ms", "p99 ms"
    );
    for d in std::iter::once(ceiling).chain(others) {
        println!(
            "{:<11} {:<34} {:>9.0} {:>9.2} {:>9.2}",
            "",
            d.name,
            d.per_second(),
            d.p50_ms,
            d.p99_ms
        );
    }
    let Some(mosaic) = others.first() else {
        return;
    };
    println!(
        "  {} vs {}: {:.2}x throughput, {:.2}x p99 claim latency",
        mosaic.name,
        ceiling.name,
        mosaic.per_second() / ceiling.per_second(),
        mosaic.p99_ms / ceiling.p99_ms
    );
    for other in &others[1..] {
        println!(
            "  {} vs {}: {:.2}x throughput, {:.2}x p99 claim latency",
            mosaic.name,
            other.name,
            mosaic.per_second() / other.per_second(),
            mosaic.p99_ms / other.p99_ms
        );
    }
}

/// A claim-then-complete queue under test.
trait Queue: Clone + Send + Sync + 'static {
    fn claim(&self, worker: usize) -> impl Future<Output = anyhow::Result<Option<String>>> + Send;
    fn complete(
        &self,
        worker: usize,
        id: String,
    ) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// Drains `queue` with `workers` concurrent workers; fails on any card claimed
/// twice or left behind.
async fn drain<Q: Queue>(
    name: &str,
    queue: Q,
    workers: usize,
    cards: usize,
) -> anyhow::Result<Drain> {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..workers {
        let queue = queue.clone();
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            let mut ids = Vec::new();
            loop {
                let t = Instant::now();
                let Some(id) = queue.claim(w).await? else {
                    break;
                };
                latencies.push(t.elapsed());
                queue.complete(w, id.clone()).await?;
                ids.push(id);
            }
            anyhow::Ok((latencies, ids))
        });
    }
    let mut latencies = Vec::with_capacity(cards);
    let mut seen = HashSet::with_capacity(cards);
    let mut doubles = 0usize;
    for result in tasks.join_all().await {
        let (lat, ids) = result?;
        latencies.extend(lat);
        for id in ids {
            if !seen.insert(id) {
                doubles += 1;
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    ensure!(doubles == 0, "{name}: {doubles} cards were claimed twice");
    ensure!(
        seen.len() == cards,
        "{name}: drained {} of {cards} cards",
        seen.len()
    );
    latencies.sort();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1);
        latencies.get(i).copied().unwrap_or_default().as_secs_f64() * 1e3
    };
    eprintln!("    {name}: {cards} cards in {seconds:.2}s, no card claimed twice");
    Ok(Drain {
        name: name.to_owned(),
        cards,
        seconds,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    })
}

#[derive(Clone)]
struct Mosaic {
    backlog: Backlog,
    owners: Arc<Vec<Owner>>,
}

impl Queue for Mosaic {
    async fn claim(&self, worker: usize) -> anyhow::Result<Option<String>> {
        let req = ClaimRequest::new(self.owners[worker].clone()).ttl_seconds(600);
        Ok(self
            .backlog
            .claim(&req)
            .await?
            .map(|c| c.id.as_str().to_owned()))
    }
    async fn complete(&self, worker: usize, id: String) -> anyhow::Result<()> {
        let by = Completion::Owner(self.owners[worker].clone());
        self.backlog.complete(&CardId::new(id)?, &by).await?;
        Ok(())
    }
}

/// Creates the cards through the library, then drains them; verifies in the
/// database that every card is done and was claimed exactly once.
async fn mosaic(name: &str, store: &Store, opts: &Options) -> anyhow::Result<Drain> {
    store.migrate().await?;
    let backlog = Backlog::new(store);
    let started = Instant::now();
    let mut creators = tokio::task::JoinSet::new();
    for part in 0..opts.workers {
        let backlog = backlog.clone();
        let (cards, workers) = (opts.cards, opts.workers);
        creators.spawn(async move {
            for i in (part..cards).step_by(workers) {
                let card = NewCard::new(CardId::new(format!("card-{i:06}"))?, "bench")
                    .priority((i % 10) as i32);
                backlog.create(card).await?;
            }
            anyhow::Ok(())
        });
    }
    for r in creators.join_all().await {
        r?;
    }
    eprintln!(
        "    {name}: created {} cards in {:.2}s",
        opts.cards,
        started.elapsed().as_secs_f64()
    );
    let owners = (0..opts.workers)
        .map(|w| Owner::new(format!("worker-{w}")))
        .collect::<Result<Vec<_>, _>>()?;
    let queue = Mosaic {
        backlog: backlog.clone(),
        owners: Arc::new(owners),
    };
    let result = drain(name, queue, opts.workers, opts.cards).await?;
    let stats = backlog.stats().await?;
    ensure!(
        stats.counts.done as usize == opts.cards && stats.total as usize == opts.cards,
        "{name}: not every card is done: {stats:?}"
    );
    let row = store
        .conn()
        .query_one_raw(mosaic_store::sea_orm::Statement::from_string(
            store.conn().get_database_backend(),
            "SELECT CAST(SUM(attempts) AS BIGINT) AS claims FROM backlog",
        ))
        .await?
        .context("no answer to SUM(attempts)")?;
    let claims: i64 = row.try_get("", "claims")?;
    ensure!(
        claims as usize == opts.cards,
        "{name}: {claims} claims for {} cards: some card was claimed twice",
        opts.cards
    );
    Ok(result)
}

async fn postgres(url: &str, opts: &Options) -> anyhow::Result<Vec<Drain>> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(opts.workers as u32 + 2)
        .connect(url)
        .await
        .context("connecting to the scratch database")?;
    let ceiling = bare::postgres(&pool, opts).await?;
    pool.close().await;

    let store_opts = StoreOptions {
        max_connections: opts.workers as u32 + 2,
        ..StoreOptions::embedded(std::env::temp_dir())
    };
    let store = Store::connect(url, &store_opts).await?;
    let ours = mosaic("mosaic-backlog", &store, opts).await;
    store.close().await?;
    let mut out = vec![ceiling, ours?];
    if opts.pg_boss {
        out.push(pgboss::run(url, opts)?);
    }
    Ok(out)
}

async fn sqlite(opts: &Options) -> anyhow::Result<Vec<Drain>> {
    let dir = tempfile::tempdir()?;
    let ceiling = bare::sqlite(&dir.path().join("bare.db"), opts).await?;
    let store = Store::open(&StoreOptions {
        max_connections: opts.workers as u32,
        ..StoreOptions::embedded(dir.path().join("mosaic"))
    })
    .await?;
    let ours = mosaic("mosaic-backlog", &store, opts).await;
    store.close().await?;
    Ok(vec![ceiling, ours?])
}

/// A database of the benchmark's own on the server, dropped afterwards.
struct Scratch {
    admin: String,
    name: String,
    url: String,
}

impl Scratch {
    async fn create(server: &str, durable: bool) -> anyhow::Result<Self> {
        let name = format!("mosaic_bench_{}", std::process::id());
        let admin = Store::connect(server, &StoreOptions::embedded(std::env::temp_dir()))
            .await
            .with_context(|| {
                format!(
                    "the benchmark needs PostgreSQL at {} (set DATABASE_URL)",
                    mosaic_store::redact_url(server)
                )
            })?;
        admin
            .conn()
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .context("creating the scratch database (the role needs CREATEDB)")?;
        if !durable {
            admin
                .conn()
                .execute_unprepared(&format!(
                    "ALTER DATABASE \"{name}\" SET synchronous_commit = off"
                ))
                .await?;
        }
        admin.close().await?;
        let url = with_database(server, &name);
        Ok(Self {
            admin: server.to_owned(),
            name,
            url,
        })
    }

    async fn drop(self) {
        if let Ok(admin) =
            Store::connect(&self.admin, &StoreOptions::embedded(std::env::temp_dir())).await
        {
            let _ = admin
                .conn()
                .execute_unprepared(&format!(
                    "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                    self.name
                ))
                .await;
            let _ = admin.close().await;
        }
    }
}

/// `url` with its database name replaced.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

mod bare {
    //! The ceilings: the least a claim-then-complete loop can do, one
    //! statement per step, straight on the driver.

    use super::{Drain, Options, Queue, drain};
    use sqlx::{PgPool, SqlitePool};

    #[derive(Clone)]
    struct Pg(PgPool);

    impl Queue for Pg {
        async fn claim(&self, worker: usize) -> anyhow::Result<Option<String>> {
            let row: Option<(i64,)> = sqlx::query_as(
                "UPDATE bare_queue SET status = 'claimed', owner = $1 WHERE id = \
                 (SELECT id FROM bare_queue WHERE status = 'ready' ORDER BY priority DESC, id \
                 LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id",
            )
            .bind(format!("worker-{worker}"))
            .fetch_optional(&self.0)
            .await?;
            Ok(row.map(|(id,)| id.to_string()))
        }
        async fn complete(&self, _worker: usize, id: String) -> anyhow::Result<()> {
            sqlx::query("UPDATE bare_queue SET status = 'done', owner = NULL WHERE id = $1")
                .bind(id.parse::<i64>()?)
                .execute(&self.0)
                .await?;
            Ok(())
        }
    }

    pub(super) async fn postgres(pool: &PgPool, opts: &Options) -> anyhow::Result<Drain> {
        for sql in [
            "CREATE TABLE bare_queue (id bigint PRIMARY KEY, priority int NOT NULL, \
             status text NOT NULL DEFAULT 'ready', owner text)",
            "CREATE INDEX bare_queue_ready ON bare_queue (priority DESC, id) WHERE status = 'ready'",
        ] {
            sqlx::query(sql).execute(pool).await?;
        }
        sqlx::query(
            "INSERT INTO bare_queue (id, priority) SELECT i, i % 10 FROM generate_series(0, $1 - 1) AS i",
        )
        .bind(opts.cards as i64)
        .execute(pool)
        .await?;
        sqlx::query("ANALYZE bare_queue").execute(pool).await?;
        drain(
            "bare SKIP LOCKED loop (ceiling)",
            Pg(pool.clone()),
            opts.workers,
            opts.cards,
        )
        .await
    }

    #[derive(Clone)]
    struct Lite(SqlitePool);

    impl Queue for Lite {
        async fn claim(&self, worker: usize) -> anyhow::Result<Option<String>> {
            let row: Option<(i64,)> = sqlx::query_as(
                "UPDATE bare_queue SET status = 'claimed', owner = ? WHERE id = \
                 (SELECT id FROM bare_queue WHERE status = 'ready' ORDER BY priority DESC, id LIMIT 1) \
                 RETURNING id",
            )
            .bind(format!("worker-{worker}"))
            .fetch_optional(&self.0)
            .await?;
            Ok(row.map(|(id,)| id.to_string()))
        }
        async fn complete(&self, _worker: usize, id: String) -> anyhow::Result<()> {
            sqlx::query("UPDATE bare_queue SET status = 'done', owner = NULL WHERE id = ?")
                .bind(id.parse::<i64>()?)
                .execute(&self.0)
                .await?;
            Ok(())
        }
    }

    pub(super) async fn sqlite(path: &std::path::Path, opts: &Options) -> anyhow::Result<Drain> {
        use sqlx::sqlite::{
            SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
        };
        // The same settings the store uses, so only the statements differ.
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(opts.workers as u32)
            .connect_with(options)
            .await?;
        for sql in [
            "CREATE TABLE bare_queue (id INTEGER PRIMARY KEY, priority INTEGER NOT NULL, \
             status TEXT NOT NULL DEFAULT 'ready', owner TEXT)",
            "CREATE INDEX bare_queue_ready ON bare_queue (priority DESC, id) WHERE status = 'ready'",
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?) \
             INSERT INTO bare_queue (id, priority) SELECT i, i % 10 FROM n",
        ] {
            let q = sqlx::query(sql);
            let q = if sql.contains('?') {
                q.bind(opts.cards as i64)
            } else {
                q
            };
            q.execute(&pool).await?;
        }
        let result = drain(
            "bare UPDATE ... RETURNING loop (ceiling)",
            Lite(pool.clone()),
            opts.workers,
            opts.cards,
        )
        .await;
        pool.close().await;
        result
    }
}

mod pgboss {
    //! pg-boss, installed from npm into a temporary directory and driven by a
    //! small Node script doing the same claim (`fetch`) then complete.

    use super::{Drain, Options, PG_BOSS};
    use anyhow::{Context as _, bail, ensure};
    use std::process::Command;

    const SCRIPT: &str = r#"
const PgBoss = require('pg-boss');
const [url, cardsArg, workersArg] = process.argv.slice(2);
const cards = Number(cardsArg), workers = Number(workersArg);
async function main() {
  const boss = new PgBoss({ connectionString: url, max: workers + 2, supervise: false, schedule: false });
  boss.on('error', (e) => { console.error(e); process.exit(1); });
  await boss.start();
  await boss.createQueue('bench');
  for (let i = 0; i < cards; i += 1000) {
    const batch = [];
    for (let k = i; k < Math.min(cards, i + 1000); k++) batch.push({ name: 'bench', data: { k }, priority: k % 10 });
    await boss.insert(batch);
  }
  const seen = new Map();
  const latencies = [];
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: workers }, async () => {
    for (;;) {
      const t = process.hrtime.bigint();
      const jobs = await boss.fetch('bench', { batchSize: 1 });
      if (!jobs || jobs.length === 0) break;
      latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
      const job = jobs[0];
      seen.set(job.id, (seen.get(job.id) || 0) + 1);
      await boss.complete('bench', job.id);
    }
  }));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.max(0, Math.ceil(latencies.length * p) - 1)] || 0;
  let doubles = 0;
  for (const n of seen.values()) if (n > 1) doubles += n - 1;
  await boss.stop({ graceful: false, wait: false });
  console.log(JSON.stringify({ cards: seen.size, seconds, p50: pct(0.5), p99: pct(0.99), doubles }));
  process.exit(0);
}
main().catch((e) => { console.error(e); process.exit(1); });
"#;

    pub(super) fn run(url: &str, opts: &Options) -> anyhow::Result<Drain> {
        let dir = tempfile::tempdir()?;
        eprintln!(
            "    pg-boss: npm install {PG_BOSS} into {}",
            dir.path().display()
        );
        let status = Command::new("npm")
            .args(["install", PG_BOSS, "--no-audit", "--no-fund", "--silent"])
            .current_dir(dir.path())
            .status()
            .context("running npm (Node.js 20+ and npm are needed for the pg-boss comparison; --no-pg-boss skips it)")?;
        ensure!(status.success(), "npm install {PG_BOSS} failed ({status})");
        let script = dir.path().join("bench.cjs");
        std::fs::write(&script, SCRIPT)?;
        let out = Command::new("node")
            .arg(&script)
            .args([url, &opts.cards.to_string(), &opts.workers.to_string()])
            .current_dir(dir.path())
            .output()
            .context("running node")?;
        if !out.status.success() {
            bail!(
                "the pg-boss run failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout.lines().last().context("pg-boss printed nothing")?;
        let v: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("pg-boss printed `{line}`"))?;
        let get = |k: &str| {
            v[k].as_f64()
                .with_context(|| format!("pg-boss result lacks `{k}`: {v}"))
        };
        let (cards, doubles) = (get("cards")? as usize, get("doubles")? as usize);
        ensure!(doubles == 0, "pg-boss: {doubles} jobs were fetched twice");
        ensure!(
            cards == opts.cards,
            "pg-boss: drained {cards} of {} jobs",
            opts.cards
        );
        eprintln!(
            "    pg-boss: {cards} jobs in {:.2}s, no job fetched twice",
            get("seconds")?
        );
        Ok(Drain {
            name: "pg-boss 10 (fetch + complete)".to_owned(),
            cards,
            seconds: get("seconds")?,
            p50_ms: get("p50")?,
            p99_ms: get("p99")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_urls_keep_server_and_query() {
        assert_eq!(
            with_database("postgres://u@h:5432/ci?sslmode=disable", "b"),
            "postgres://u@h:5432/b?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "b"), "postgres://u@h/b");
    }

    #[test]
    fn flags_parse_and_unknown_ones_are_named() {
        let args: Vec<String> = [
            "--cards",
            "10",
            "--workers",
            "2",
            "--durable",
            "--no-pg-boss",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let o = options(&args).unwrap();
        assert_eq!(
            (o.cards, o.workers, o.durable, o.pg_boss, o.sqlite),
            (10, 2, true, false, true)
        );
        let err = options(&["--fast".to_owned()]).err().unwrap().to_string();
        assert!(err.contains("--fast"), "{err}");
    }
}
