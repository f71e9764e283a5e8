//! The federation audit log on every backend: rows written in batches and read
//! back newest first through cursors and each filter; back-pressure that never
//! drops a row; a failed write retried with its batch; shutdown that drains,
//! or counts what it could not write; pruning by age.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration as Span, TimeZone, Utc};
use mosaic_federation::audit::{
    AuditError, AuditLog, AuditParams, AuditQuery, AuditRecord, AuditWriter, TraceId, WriterOptions,
};
use mosaic_store::sea_orm::{ConnectionTrait, DatabaseConnection};
use mosaic_store::testing::all_backends;
use mosaic_types::ErrorCode;
use mosaic_types::admin::{AuditEntryView, AuditVerb};
use std::num::{NonZeroU16, NonZeroUsize};
use std::time::Duration;
use tokio::time::Instant;

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 2, 9, 0, 0).unwrap()
}

fn nz(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap()
}

/// A record of request `n` at `base() + minute` minutes.
fn rec(n: usize, minute: i64, peer: &str, grant: &str, user: &str, status: u16) -> AuditRecord {
    let path = if n.is_multiple_of(2) {
        "/api/federation/v1/list/tasks".to_owned()
    } else {
        format!("/api/federation/v1/get/notes/note-{n}")
    };
    let mut r = AuditRecord::new(
        &path,
        base() + Span::minutes(minute),
        status,
        Duration::from_micros(1000 + n as u64),
        TraceId::random(),
    );
    r.peer_id = Some(peer.parse().unwrap());
    r.grant_id = Some(grant.parse().unwrap());
    r.subject_user_id = Some(user.parse().unwrap());
    r.cert_serial = Some(format!("{n:04X}"));
    r.remote_addr = Some(format!("127.0.0.1:{}", 40000 + n).parse().unwrap());
    if status >= 400 {
        r.error_code = Some(ErrorCode::ScopeViolation);
    } else {
        r.rows = Some(u32::try_from(n).unwrap());
    }
    r
}

/// Writes `records` through a writer and waits until they are written.
async fn write_all(db: &DatabaseConnection, records: Vec<AuditRecord>) {
    let writer = AuditWriter::start(db.clone(), nz(64));
    for r in records {
        writer.record(r).await;
    }
    let stats = writer.shutdown(deadline(30)).await;
    assert_eq!(stats.rows_lost, 0);
    assert_eq!(stats.queue_depth, 0);
}

fn deadline(secs: u64) -> Instant {
    Instant::now() + Duration::from_secs(secs)
}

/// Every page of `query`, following cursors; checks each page's size.
async fn all_pages(db: &DatabaseConnection, mut query: AuditQuery) -> Vec<AuditEntryView> {
    let mut seen = Vec::new();
    loop {
        let page = AuditLog::new(db).list(&query).await.unwrap();
        assert!(page.items.len() <= usize::from(query.limit.get()));
        seen.extend(page.items);
        match page.next_cursor {
            Some(c) => {
                query.cursor = Some(mosaic_federation::audit::AuditCursor::decode(&c).unwrap());
            }
            None => return seen,
        }
    }
}

fn limited(n: u16) -> AuditQuery {
    AuditQuery {
        limit: NonZeroU16::new(n).unwrap(),
        ..AuditQuery::default()
    }
}

/// Which records a filter keeps.
type Keep<'a> = &'a dyn Fn(&AuditRecord) -> bool;

fn with_params(pairs: &[(&str, &str)]) -> AuditQuery {
    let mut p = AuditParams::default();
    for (k, v) in pairs {
        let v = Some((*v).to_owned());
        match *k {
            "peer" => p.peer = v,
            "grant" => p.grant = v,
            "user" => p.user = v,
            "denied" => p.denied = v,
            "since" => p.since = v,
            "limit" => p.limit = v,
            other => panic!("{other}"),
        }
    }
    AuditQuery::from_params(&p, base() + Span::hours(1)).unwrap()
}

#[tokio::test]
async fn rows_read_back_newest_first_through_cursors_and_filters() {
    for test_db in all_backends().await {
        let db = test_db.store.conn();
        let backend = test_db.backend();
        // 30 requests over 10 minutes, three to a minute (ties on time),
        // from two peers and two grants; every fifth refused.
        let mut records = Vec::new();
        for n in 0..30 {
            let (peer, grant, user) = if n % 3 == 0 {
                ("peer-b", "grant-b", "bob")
            } else {
                ("peer-a", "grant-a", "alice")
            };
            let status = if n % 5 == 0 { 403 } else { 200 };
            records.push(rec(
                n,
                i64::try_from(n / 3).unwrap(),
                peer,
                grant,
                user,
                status,
            ));
        }
        let mut expected: Vec<AuditRecord> = records.clone();
        expected.sort_by(|a, b| {
            b.occurred_at
                .cmp(&a.occurred_at)
                .then_with(|| b.id.as_str().cmp(a.id.as_str()))
        });
        write_all(db, records.clone()).await;

        // Pages of 7: every row once, newest first, ties by id descending.
        let q = limited(7);
        let all = all_pages(db, q).await;
        let ids: Vec<&str> = all.iter().map(|e| e.id.as_str()).collect();
        let want: Vec<&str> = expected.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, want, "{backend}");

        // Each field reads back as written.
        let first = &records[7];
        let e = all.iter().find(|e| e.id == first.id).unwrap();
        assert_eq!(e.occurred_at, first.occurred_at, "{backend}");
        assert_eq!(e.verb, AuditVerb::Get);
        assert_eq!(e.resource.as_deref(), Some("notes"));
        assert_eq!(e.target.as_deref(), Some("note-7"));
        assert_eq!(e.peer_id.as_ref().unwrap().as_str(), "peer-a");
        assert_eq!(e.grant_id.as_ref().unwrap().as_str(), "grant-a");
        assert_eq!(e.subject_user_id.as_ref().unwrap().as_str(), "alice");
        assert_eq!((e.status, e.error_code, e.rows), (200, None, Some(7)));
        assert!((e.latency_ms - 1.007).abs() < 1e-9, "{}", e.latency_ms);
        assert_eq!(e.cert_serial.as_deref(), Some("0007"));
        assert_eq!(e.trace_id, first.trace_id.to_string());
        assert_eq!(e.remote_addr.as_deref(), Some("127.0.0.1:40007"));
        let refused = all.iter().find(|e| e.id == records[5].id).unwrap();
        assert_eq!(
            (refused.status, refused.error_code, refused.rows),
            (403, Some(ErrorCode::ScopeViolation), None)
        );

        // Every filter, alone and combined, through pages of 4.
        let cases: [(&[(&str, &str)], Keep); 7] = [
            (&[("peer", "peer-b")], &|r| {
                r.peer_id.as_ref().unwrap().as_str() == "peer-b"
            }),
            (&[("grant", "grant-a")], &|r| {
                r.grant_id.as_ref().unwrap().as_str() == "grant-a"
            }),
            (&[("user", "bob")], &|r| {
                r.subject_user_id.as_ref().unwrap().as_str() == "bob"
            }),
            (&[("denied", "true")], &|r| r.status >= 400),
            // base + 1h - 55m = minute 5 onwards.
            (&[("since", "55m")], &|r| {
                r.occurred_at >= base() + Span::minutes(5)
            }),
            (&[("since", "2026-12-02T09:08:00Z")], &|r| {
                r.occurred_at >= base() + Span::minutes(8)
            }),
            (
                &[
                    ("peer", "peer-a"),
                    ("denied", "true"),
                    ("since", "2026-12-02T09:03:00Z"),
                ],
                &|r| {
                    r.peer_id.as_ref().unwrap().as_str() == "peer-a"
                        && r.status >= 400
                        && r.occurred_at >= base() + Span::minutes(3)
                },
            ),
        ];
        for (params, keep) in cases {
            let mut pairs = params.to_vec();
            pairs.push(("limit", "4"));
            let got: Vec<String> = all_pages(db, with_params(&pairs))
                .await
                .into_iter()
                .map(|e| e.id.into_inner())
                .collect();
            let want: Vec<String> = expected
                .iter()
                .filter(|r| keep(r))
                .map(|r| r.id.as_str().to_owned())
                .collect();
            assert!(!want.is_empty(), "{params:?} selects something");
            assert_eq!(got, want, "{backend}: {params:?}");
        }
        // A peer nobody has: an empty page, no cursor.
        let page = AuditLog::new(db)
            .list(&with_params(&[("peer", "nobody")]))
            .await
            .unwrap();
        assert!(page.items.is_empty() && page.next_cursor.is_none());
        test_db.cleanup().await;
    }
}

#[tokio::test]
async fn a_full_queue_makes_records_wait_and_loses_none() {
    for test_db in all_backends().await {
        let db = test_db.store.conn();
        let writer = AuditWriter::start(db.clone(), nz(4));
        let mut tasks = Vec::new();
        for n in 0..1000 {
            let writer = writer.clone();
            tasks.push(tokio::spawn(async move {
                writer
                    .record(rec(n, 0, "peer-a", "grant-a", "alice", 200))
                    .await;
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let during = writer.stats();
        assert!(
            during.backpressure_waits > 0,
            "{}: 1000 records through a queue of 4 waited: {during:?}",
            test_db.backend()
        );
        let stats = writer.shutdown(deadline(60)).await;
        assert_eq!(
            (stats.rows_written, stats.rows_lost, stats.queue_depth),
            (1000, 0, 0),
            "{stats:?}"
        );
        let q = limited(1000);
        assert_eq!(AuditLog::new(db).list(&q).await.unwrap().items.len(), 1000);
        test_db.cleanup().await;
    }
}

#[tokio::test]
async fn a_row_is_visible_within_a_second() {
    for test_db in all_backends().await {
        let db = test_db.store.conn();
        let writer = AuditWriter::start(db.clone(), nz(100));
        let r = rec(1, 0, "peer-a", "grant-a", "alice", 200);
        let id = r.id.clone();
        let start = std::time::Instant::now();
        writer.record(r).await;
        loop {
            let page = AuditLog::new(db)
                .list(&AuditQuery::default())
                .await
                .unwrap();
            if page.items.iter().any(|e| e.id == id) {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(1),
                "{}: not visible after 1 s",
                test_db.backend()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        writer.shutdown(deadline(10)).await;
        test_db.cleanup().await;
    }
}

/// Moves the table away (every write fails) and back.
async fn table_away(db: &DatabaseConnection, away: bool) {
    let (from, to) = if away {
        ("federation_audit_log", "federation_audit_log_away")
    } else {
        ("federation_audit_log_away", "federation_audit_log")
    };
    db.execute_unprepared(&format!("ALTER TABLE {from} RENAME TO {to}"))
        .await
        .unwrap();
}

fn quick_retries(capacity: usize) -> WriterOptions {
    WriterOptions {
        gather: Duration::from_millis(20),
        retry_initial: Duration::from_millis(20),
        retry_max: Duration::from_millis(100),
        ..WriterOptions::new(nz(capacity))
    }
}

#[tokio::test]
async fn a_failed_write_is_retried_with_its_batch() {
    for test_db in all_backends().await {
        let db = test_db.store.conn();
        let writer = AuditWriter::start_with(db.clone(), quick_retries(100));
        table_away(db, true).await;
        for n in 0..10 {
            writer
                .record(rec(n, 0, "peer-a", "grant-a", "alice", 200))
                .await;
        }
        let start = std::time::Instant::now();
        while writer.stats().write_failures < 2 {
            assert!(start.elapsed() < Duration::from_secs(10), "no write tried");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(writer.stats().queue_depth, 10);
        table_away(db, false).await;
        let stats = writer.shutdown(deadline(30)).await;
        assert_eq!((stats.rows_written, stats.rows_lost), (10, 0), "{stats:?}");
        assert!(stats.write_failures >= 2);
        let page = AuditLog::new(db)
            .list(&AuditQuery::default())
            .await
            .unwrap();
        assert_eq!(page.items.len(), 10, "{}", test_db.backend());
        test_db.cleanup().await;
    }
}

#[tokio::test]
async fn shutdown_drains_the_queue_or_counts_what_it_could_not_write() {
    for test_db in all_backends().await {
        let db = test_db.store.conn();
        // A long gather: rows sit in the queue when shutdown comes, and are
        // written then, not after the gather.
        let writer = AuditWriter::start_with(
            db.clone(),
            WriterOptions {
                gather: Duration::from_secs(30),
                ..WriterOptions::new(nz(1000))
            },
        );
        for n in 0..300 {
            writer
                .record(rec(n, 0, "peer-a", "grant-a", "alice", 200))
                .await;
        }
        let late = writer.clone();
        let start = std::time::Instant::now();
        let stats = writer.shutdown(deadline(20)).await;
        assert!(start.elapsed() < Duration::from_secs(10), "drained at once");
        assert_eq!((stats.rows_written, stats.rows_lost), (300, 0), "{stats:?}");
        let q = limited(1000);
        assert_eq!(AuditLog::new(db).list(&q).await.unwrap().items.len(), 300);
        // After shutdown a record is lost, and counted.
        late.record(rec(1, 0, "peer-a", "grant-a", "alice", 200))
            .await;
        assert_eq!(late.stats().rows_lost, 1);
        assert_eq!(late.stats().queue_depth, 0);

        // A database that never takes the rows: the deadline ends the wait
        // and every unwritten row is counted as lost.
        let writer = AuditWriter::start_with(db.clone(), quick_retries(100));
        table_away(db, true).await;
        for n in 0..25 {
            writer
                .record(rec(n, 0, "peer-a", "grant-a", "alice", 200))
                .await;
        }
        let start = std::time::Instant::now();
        let stats = writer
            .shutdown(Instant::now() + Duration::from_millis(500))
            .await;
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the deadline holds"
        );
        assert_eq!((stats.rows_written, stats.rows_lost), (0, 25), "{stats:?}");
        assert_eq!(stats.queue_depth, 0);
        table_away(db, false).await;
        test_db.cleanup().await;
    }
}

#[tokio::test]
async fn pruning_removes_only_rows_older_than_the_cutoff() {
    for test_db in all_backends().await {
        let db = test_db.store.conn();
        // 2500 old rows (more than one prune batch) and 5 recent ones.
        let mut records: Vec<AuditRecord> = (0..2500)
            .map(|n| rec(n, -(60 * 24 * 100), "peer-a", "grant-a", "alice", 200))
            .collect();
        let recent: Vec<AuditRecord> = (0..5)
            .map(|n| {
                rec(
                    n,
                    i64::try_from(n).unwrap(),
                    "peer-a",
                    "grant-a",
                    "alice",
                    200,
                )
            })
            .collect();
        records.extend(recent.clone());
        write_all(db, records).await;
        let cutoff = base() - Span::days(90);
        let log = AuditLog::new(db);
        assert_eq!(log.prune_older_than(cutoff).await.unwrap(), 2500);
        assert_eq!(log.prune_older_than(cutoff).await.unwrap(), 0);
        let left: Vec<String> = log
            .list(&AuditQuery::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|e| e.id.into_inner())
            .collect();
        let mut want: Vec<String> = recent.iter().map(|r| r.id.as_str().to_owned()).collect();
        want.reverse();
        assert_eq!(left, want, "{}", test_db.backend());
        // The cutoff itself is not older than the cutoff.
        assert_eq!(log.prune_older_than(base()).await.unwrap(), 0);
        assert_eq!(
            log.prune_older_than(base() + Span::minutes(1))
                .await
                .unwrap(),
            1
        );
        test_db.cleanup().await;
    }
}

#[tokio::test]
async fn a_bad_cursor_is_the_callers_mistake() {
    let params = AuditParams {
        cursor: Some("not-a-cursor".into()),
        ..AuditParams::default()
    };
    let err = AuditQuery::from_params(&params, Utc::now()).unwrap_err();
    assert!(matches!(err, AuditError::InvalidCursor(_)), "{err}");
    assert_eq!(err.code(), ErrorCode::InvalidRequest);
    assert!(err.to_string().starts_with("cursor: "), "{err}");
}
