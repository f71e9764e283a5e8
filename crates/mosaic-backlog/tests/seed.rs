//! The backlog's original test suite, case for case, on SQLite and PostgreSQL,
//! plus the untested paths of the original code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration, Utc};
use mosaic_backlog::{
    Backlog, BacklogError, CardId, ClaimRequest, Completion, ListFilter, ManualClock, NewCard,
    Owner, Status,
};
use mosaic_store::testing::{TestDb, all_backends};
use std::collections::HashSet;
use std::sync::Arc;

fn id(s: &str) -> CardId {
    CardId::new(s).unwrap()
}

fn owner(s: &str) -> Owner {
    Owner::new(s).unwrap()
}

fn claim(who: &str) -> ClaimRequest {
    ClaimRequest::new(owner(who))
}

fn card(s: &str, title: &str) -> NewCard {
    NewCard::new(id(s), title)
}

/// A backlog on its own connection to `db`, as a second process would have.
async fn another(db: &TestDb) -> Backlog {
    Backlog::new(&db.connect_again(1).await.unwrap())
}

/// A backlog whose clock tests move by hand.
fn with_clock(db: &TestDb) -> (Backlog, ManualClock) {
    let clock = ManualClock::new(Utc::now());
    (
        Backlog::new(&db.store).with_clock(Arc::new(clock.clone())),
        clock,
    )
}

#[tokio::test]
async fn create_then_list() {
    for db in all_backends().await {
        let backlog = Backlog::new(&db.store);
        backlog
            .create(card("c1", "First card").phase("M1").priority(5))
            .await
            .unwrap();
        let cards = backlog.list(&ListFilter::default()).await.unwrap();
        assert_eq!(cards.len(), 1, "{}", db.backend());
        let c = &cards[0];
        assert_eq!(
            (
                c.id.as_str(),
                c.title.as_str(),
                c.phase.as_deref(),
                c.status
            ),
            ("c1", "First card", Some("M1"), Status::Ready)
        );
        assert_eq!((c.priority, c.attempts), (5, 0));
        assert!(c.depends_on.is_empty() && c.claim_owner.is_none());
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_repeated_idempotency_key_returns_the_first_card() {
    for db in all_backends().await {
        let backlog = Backlog::new(&db.store);
        let first = backlog
            .create(card("c1", "one").idempotency_key("k-1"))
            .await
            .unwrap();
        let again = backlog
            .create(card("c2", "two").idempotency_key("k-1"))
            .await
            .unwrap();
        assert_eq!(again.id.as_str(), "c1", "{}", db.backend());
        assert_eq!(again, first, "returned unchanged");
        assert_eq!(backlog.list(&ListFilter::default()).await.unwrap().len(), 1);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn list_filters_by_phase_and_status() {
    for db in all_backends().await {
        let backlog = Backlog::new(&db.store);
        backlog.create(card("c1", "a").phase("M1")).await.unwrap();
        backlog.create(card("c2", "b").phase("M2")).await.unwrap();
        backlog.block(&id("c2")).await.unwrap();
        let m1 = ListFilter {
            phase: Some("M1".into()),
            ..ListFilter::default()
        };
        assert_eq!(backlog.list(&m1).await.unwrap().len(), 1);
        let blocked = ListFilter {
            status: Some(Status::Blocked),
            ..ListFilter::default()
        };
        let cards = backlog.list(&blocked).await.unwrap();
        assert_eq!(cards.len(), 1, "{}", db.backend());
        assert_eq!(cards[0].id.as_str(), "c2");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn two_concurrent_claimers_one_card_exactly_one_wins() {
    for db in all_backends().await {
        let a = another(&db).await;
        let b = another(&db).await;
        a.create(card("only", "only").priority(10)).await.unwrap();
        let (req_a, req_b) = (claim("worker-A"), claim("worker-B"));
        let (ra, rb) = tokio::join!(a.claim(&req_a), b.claim(&req_b));
        let winners: Vec<_> = [ra.unwrap(), rb.unwrap()].into_iter().flatten().collect();
        assert_eq!(winners.len(), 1, "{}", db.backend());
        let won = &winners[0];
        assert_eq!((won.id.as_str(), won.status), ("only", Status::Claimed));
        let holder = won.claim_owner.as_ref().unwrap().as_str();
        assert!(holder == "worker-A" || holder == "worker-B");
        let stored = a.get(&id("only")).await.unwrap().unwrap();
        assert_eq!((stored.status, stored.attempts), (Status::Claimed, 1));
        db.cleanup().await;
    }
}

/// `claimers` parallel claims on separate connections; returns the winners' ids.
async fn race(db: &TestDb, claimers: usize) -> Vec<String> {
    let mut backlogs = Vec::new();
    for _ in 0..claimers {
        backlogs.push(another(db).await);
    }
    // Connections are open before any claim starts, so the claims overlap.
    let mut tasks = tokio::task::JoinSet::new();
    for (i, b) in backlogs.into_iter().enumerate() {
        tasks.spawn(async move { b.claim(&claim(&format!("w-{i}"))).await.unwrap() });
    }
    tasks
        .join_all()
        .await
        .into_iter()
        .flatten()
        .map(|c| c.id.as_str().to_owned())
        .collect()
}

#[tokio::test]
async fn eight_claimers_five_cards_five_distinct_winners() {
    for db in all_backends().await {
        let backlog = Backlog::new(&db.store);
        for i in 0..5 {
            backlog
                .create(card(&format!("card-{i}"), "c").priority(i))
                .await
                .unwrap();
        }
        let won = race(&db, 8).await;
        assert_eq!(won.len(), 5, "{}", db.backend());
        assert_eq!(won.iter().collect::<HashSet<_>>().len(), 5);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn n_claimers_n_cards_no_one_starves() {
    for db in all_backends().await {
        let backlog = Backlog::new(&db.store);
        for i in 0..6 {
            backlog
                .create(card(&format!("n-{i}"), "c").priority(i))
                .await
                .unwrap();
        }
        let won = race(&db, 6).await;
        assert_eq!(won.len(), 6, "{}: {won:?}", db.backend());
        assert_eq!(won.iter().collect::<HashSet<_>>().len(), 6);
        let ready = ListFilter {
            status: Some(Status::Ready),
            ..ListFilter::default()
        };
        assert!(backlog.list(&ready).await.unwrap().is_empty());
        db.cleanup().await;
    }
}

#[tokio::test]
async fn sequential_claims_drain_in_priority_order() {
    for db in all_backends().await {
        let backlog = Backlog::new(&db.store);
        for i in 0..4 {
            backlog
                .create(card(&format!("s-{i}"), "c").priority(i))
                .await
                .unwrap();
        }
        let mut order = Vec::new();
        for i in 0..4 {
            let c = backlog.claim(&claim(&format!("w-{i}"))).await.unwrap();
            order.push(c.unwrap().id.as_str().to_owned());
        }
        assert_eq!(order, ["s-3", "s-2", "s-1", "s-0"], "{}", db.backend());
        assert!(backlog.claim(&claim("late")).await.unwrap().is_none());
        db.cleanup().await;
    }
}

#[tokio::test]
async fn claim_takes_the_highest_priority() {
    for db in all_backends().await {
        let backlog = Backlog::new(&db.store);
        backlog.create(card("low", "l").priority(1)).await.unwrap();
        backlog.create(card("high", "h").priority(9)).await.unwrap();
        let c = backlog.claim(&claim("w")).await.unwrap().unwrap();
        assert_eq!(c.id.as_str(), "high", "{}", db.backend());
        db.cleanup().await;
    }
}

#[tokio::test]
async fn claim_by_id_takes_that_card() {
    for db in all_backends().await {
        let backlog = Backlog::new(&db.store);
        backlog.create(card("a", "a").priority(9)).await.unwrap();
        backlog.create(card("b", "b").priority(1)).await.unwrap();
        let c = backlog
            .claim(&claim("w").id(id("b")))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(c.id.as_str(), "b", "{}", db.backend());
        assert_eq!(c.claim_owner, Some(owner("w")));
        db.cleanup().await;
    }
}

#[tokio::test]
async fn claim_on_an_empty_backlog_is_none() {
    for db in all_backends().await {
        let backlog = Backlog::new(&db.store);
        assert!(backlog.claim(&claim("w")).await.unwrap().is_none());
        db.cleanup().await;
    }
}

#[tokio::test]
async fn dependencies_gate_claims_and_ready_only_lists() {
    for db in all_backends().await {
        let backlog = Backlog::new(&db.store);
        backlog.create(card("dep", "dep")).await.unwrap();
        backlog
            .create(card("main", "main").depends_on([id("dep")]))
            .await
            .unwrap();
        let ready_only = ListFilter {
            ready_only: true,
            ..ListFilter::default()
        };

        let first = backlog.claim(&claim("w")).await.unwrap().unwrap();
        assert_eq!(first.id.as_str(), "dep", "{}", db.backend());
        assert!(backlog.claim(&claim("w")).await.unwrap().is_none());
        let ready: Vec<_> = backlog.list(&ready_only).await.unwrap();
        assert!(!ready.iter().any(|c| c.id.as_str() == "main"));

        backlog
            .complete(&id("dep"), &Completion::Forced)
            .await
            .unwrap();
        let ready = backlog.list(&ready_only).await.unwrap();
        assert!(ready.iter().any(|c| c.id.as_str() == "main"));
        let next = backlog.claim(&claim("w")).await.unwrap().unwrap();
        assert_eq!(next.id.as_str(), "main");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn link_adds_a_dependency_that_gates_the_claim() {
    for db in all_backends().await {
        let backlog = Backlog::new(&db.store);
        backlog.create(card("a", "a")).await.unwrap();
        backlog.create(card("b", "b")).await.unwrap();
        let linked = backlog.link(&id("a"), &id("b")).await.unwrap();
        assert_eq!(linked.depends_on, vec![id("b")], "{}", db.backend());
        let next = backlog.claim(&claim("w")).await.unwrap().unwrap();
        assert_eq!(next.id.as_str(), "b");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn reclaim_returns_expired_claims() {
    for db in all_backends().await {
        let (backlog, clock) = with_clock(&db);
        backlog.create(card("c1", "c")).await.unwrap();
        backlog
            .claim(&claim("w").ttl_seconds(60))
            .await
            .unwrap()
            .unwrap();
        clock.advance(Duration::hours(1));
        let result = backlog.reclaim(None).await.unwrap();
        assert_eq!(result.reclaimed, vec![id("c1")], "{}", db.backend());
        let c = backlog.get(&id("c1")).await.unwrap().unwrap();
        assert_eq!(c.status, Status::Ready);
        assert!(c.claim_owner.is_none() && c.claimed_at.is_none() && c.claim_ttl_seconds.is_none());
        assert_eq!(c.attempts, 1, "attempts survive a reclaim");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn reclaim_leaves_fresh_claims_alone() {
    for db in all_backends().await {
        let (backlog, clock) = with_clock(&db);
        backlog.create(card("c1", "c")).await.unwrap();
        backlog
            .claim(&claim("w").ttl_seconds(3600))
            .await
            .unwrap()
            .unwrap();
        clock.advance(Duration::minutes(59));
        assert!(backlog.reclaim(None).await.unwrap().reclaimed.is_empty());
        let c = backlog.get(&id("c1")).await.unwrap().unwrap();
        assert_eq!(c.status, Status::Claimed, "{}", db.backend());
        db.cleanup().await;
    }
}

#[tokio::test]
async fn expiry_is_exact_to_the_millisecond() {
    for db in all_backends().await {
        let (backlog, clock) = with_clock(&db);
        backlog.create(card("c1", "c")).await.unwrap();
        backlog
            .claim(&claim("w").ttl_seconds(60))
            .await
            .unwrap()
            .unwrap();
        clock.advance(Duration::seconds(60));
        assert!(
            backlog.reclaim(None).await.unwrap().reclaimed.is_empty(),
            "{}: not expired at exactly claimed_at + ttl",
            db.backend()
        );
        clock.advance(Duration::milliseconds(2));
        assert_eq!(backlog.reclaim(None).await.unwrap().reclaimed.len(), 1);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn reclaim_by_id_releases_a_fresh_claim() {
    for db in all_backends().await {
        let backlog = Backlog::new(&db.store);
        backlog.create(card("c1", "c")).await.unwrap();
        backlog
            .claim(&claim("w").ttl_seconds(3600))
            .await
            .unwrap()
            .unwrap();
        let result = backlog.reclaim(Some(&id("c1"))).await.unwrap();
        assert_eq!(result.reclaimed, vec![id("c1")], "{}", db.backend());
        let c = backlog.get(&id("c1")).await.unwrap().unwrap();
        assert_eq!(c.status, Status::Ready);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn stats_count_statuses_age_and_expired_claims() {
    for db in all_backends().await {
        let (backlog, clock) = with_clock(&db);
        backlog.create(card("r1", "r")).await.unwrap();
        backlog.create(card("r2", "r")).await.unwrap();
        backlog.create(card("b1", "b")).await.unwrap();
        backlog.block(&id("b1")).await.unwrap();
        backlog.create(card("d1", "d")).await.unwrap();
        backlog
            .complete(&id("d1"), &Completion::Forced)
            .await
            .unwrap();
        backlog.create(card("cl1", "c")).await.unwrap();
        backlog
            .claim(&claim("w").id(id("cl1")).ttl_seconds(60))
            .await
            .unwrap()
            .unwrap();
        clock.advance(Duration::hours(1));

        let stats = backlog.stats().await.unwrap();
        let c = stats.counts;
        assert_eq!(
            (c.ready, c.blocked, c.done, c.claimed),
            (2, 1, 1, 1),
            "{}",
            db.backend()
        );
        assert_eq!(stats.total, 5);
        assert_eq!(stats.expired_claim_count, 1);
        assert_eq!(stats.oldest_ready_age_seconds, Some(3600));
        db.cleanup().await;
    }
}

#[tokio::test]
async fn stats_on_an_empty_backlog_have_no_oldest_card() {
    for db in all_backends().await {
        let stats = Backlog::new(&db.store).stats().await.unwrap();
        assert_eq!(stats.total, 0);
        assert_eq!(stats.oldest_ready_age_seconds, None);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn link_errors_come_in_the_original_order() {
    for db in all_backends().await {
        let backlog = Backlog::new(&db.store);
        backlog.create(card("a", "a")).await.unwrap();
        let err = backlog
            .link(&id("nope"), &id("also-nope"))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, BacklogError::NotFound { id } if id.as_str() == "nope"),
            "{err}"
        );
        assert_eq!(err.to_string(), "backlog card not found: nope");
        let err = backlog.link(&id("a"), &id("nope")).await.unwrap_err();
        assert_eq!(err.to_string(), "backlog dependency not found: nope");
        let err = backlog.link(&id("a"), &id("a")).await.unwrap_err();
        assert!(matches!(err, BacklogError::SelfDependency { .. }), "{err}");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn linking_twice_returns_the_card_unchanged() {
    for db in all_backends().await {
        let backlog = Backlog::new(&db.store);
        backlog.create(card("a", "a")).await.unwrap();
        backlog.create(card("b", "b")).await.unwrap();
        let once = backlog.link(&id("a"), &id("b")).await.unwrap();
        let twice = backlog.link(&id("a"), &id("b")).await.unwrap();
        assert_eq!(once, twice, "{}", db.backend());
        assert_eq!(twice.depends_on, vec![id("b")]);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn block_and_complete_on_an_unknown_id_are_not_found() {
    for db in all_backends().await {
        let backlog = Backlog::new(&db.store);
        for err in [
            backlog.block(&id("ghost")).await.unwrap_err(),
            backlog
                .complete(&id("ghost"), &Completion::Forced)
                .await
                .unwrap_err(),
            backlog
                .complete(&id("ghost"), &Completion::Owner(owner("w")))
                .await
                .unwrap_err(),
        ] {
            assert!(
                matches!(&err, BacklogError::NotFound { id } if id.as_str() == "ghost"),
                "{}: {err}",
                db.backend()
            );
        }
        db.cleanup().await;
    }
}

#[tokio::test]
async fn claim_by_id_of_a_card_that_is_not_ready_is_none() {
    for db in all_backends().await {
        let backlog = Backlog::new(&db.store);
        backlog.create(card("b", "b")).await.unwrap();
        backlog.block(&id("b")).await.unwrap();
        assert!(
            backlog
                .claim(&claim("w").id(id("b")))
                .await
                .unwrap()
                .is_none()
        );
        backlog
            .create(card("gated", "g").depends_on([id("b")]))
            .await
            .unwrap();
        assert!(
            backlog
                .claim(&claim("w").id(id("gated")))
                .await
                .unwrap()
                .is_none(),
            "{}: dependencies gate claims by id too",
            db.backend()
        );
        let err = backlog
            .claim(&claim("w").id(id("ghost")))
            .await
            .unwrap_err();
        assert!(matches!(err, BacklogError::NotFound { .. }), "{err}");
        db.cleanup().await;
    }
}
