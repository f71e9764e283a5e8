//! What a work queue needs beyond the original backlog: renew, release, fail,
//! unblock, owner-checked completion, cycle detection, and typed errors where
//! the original returned nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration, Utc};
use mosaic_backlog::{
    Backlog, BacklogError, CardId, ClaimRequest, Completion, ManualClock, NewCard, Owner, Status,
};
use mosaic_store::testing::all_backends;
use serde_json::json;
use std::sync::Arc;

fn id(s: &str) -> CardId {
    CardId::new(s).unwrap()
}

fn owner(s: &str) -> Owner {
    Owner::new(s).unwrap()
}

fn card(s: &str) -> NewCard {
    NewCard::new(id(s), format!("card {s}"))
}

#[tokio::test]
async fn renew_restarts_the_claim_for_its_owner_only() {
    for db in all_backends().await {
        let clock = ManualClock::new(Utc::now());
        let backlog = Backlog::new(&db.store).with_clock(Arc::new(clock.clone()));
        backlog.create(card("c")).await.unwrap();
        let claimed = backlog
            .claim(&ClaimRequest::new(owner("w1")).ttl_seconds(60))
            .await
            .unwrap()
            .unwrap();

        clock.advance(Duration::seconds(50));
        let renewed = backlog.renew(&id("c"), &owner("w1"), None).await.unwrap();
        assert_eq!(renewed.claim_ttl_seconds, Some(60), "{}", db.backend());
        assert_eq!(
            renewed.claimed_at.unwrap() - claimed.claimed_at.unwrap(),
            Duration::seconds(50)
        );
        clock.advance(Duration::seconds(50));
        assert!(
            backlog.reclaim(None).await.unwrap().reclaimed.is_empty(),
            "the renewal moved the expiry"
        );

        let longer = backlog
            .renew(&id("c"), &owner("w1"), Some(600))
            .await
            .unwrap();
        assert_eq!(longer.claim_ttl_seconds, Some(600));
        assert_eq!(longer.attempts, 1, "renewing is not a new attempt");

        let err = backlog
            .renew(&id("c"), &owner("w2"), None)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, BacklogError::WrongOwner { holder: Some(h), .. } if h.as_str() == "w1"),
            "{err}"
        );
        let err = backlog
            .renew(&id("ghost"), &owner("w1"), None)
            .await
            .unwrap_err();
        assert!(matches!(err, BacklogError::NotFound { .. }), "{err}");
        let err = backlog
            .renew(&id("c"), &owner("w1"), Some(0))
            .await
            .unwrap_err();
        assert!(matches!(err, BacklogError::Invalid(_)), "{err}");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn an_expired_claim_can_be_renewed_until_a_sweep_takes_it() {
    for db in all_backends().await {
        let clock = ManualClock::new(Utc::now());
        let backlog = Backlog::new(&db.store).with_clock(Arc::new(clock.clone()));
        backlog.create(card("c")).await.unwrap();
        backlog
            .claim(&ClaimRequest::new(owner("w1")).ttl_seconds(60))
            .await
            .unwrap()
            .unwrap();
        clock.advance(Duration::seconds(90));
        backlog.renew(&id("c"), &owner("w1"), None).await.unwrap();
        assert!(backlog.reclaim(None).await.unwrap().reclaimed.is_empty());

        clock.advance(Duration::seconds(90));
        assert_eq!(backlog.reclaim(None).await.unwrap().reclaimed, [id("c")]);
        let err = backlog
            .renew(&id("c"), &owner("w1"), None)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                BacklogError::WrongStatus {
                    status: Status::Ready,
                    wanted: Status::Claimed,
                    ..
                }
            ),
            "{}: {err}",
            db.backend()
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn release_hands_the_card_back_at_once() {
    for db in all_backends().await {
        let backlog = Backlog::new(&db.store);
        backlog.create(card("c")).await.unwrap();
        backlog
            .claim(&ClaimRequest::new(owner("w1")))
            .await
            .unwrap()
            .unwrap();
        let err = backlog.release(&id("c"), &owner("w2")).await.unwrap_err();
        assert!(matches!(err, BacklogError::WrongOwner { .. }), "{err}");

        let released = backlog.release(&id("c"), &owner("w1")).await.unwrap();
        assert_eq!(released.status, Status::Ready, "{}", db.backend());
        assert!(released.claim_owner.is_none() && released.claimed_at.is_none());
        let again = backlog
            .claim(&ClaimRequest::new(owner("w2")))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((again.id.as_str(), again.attempts), ("c", 2));

        let err = backlog.release(&id("c"), &owner("w1")).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "backlog card c is claimed by w2, not by w1"
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn complete_checks_the_owner_unless_forced() {
    for db in all_backends().await {
        let backlog = Backlog::new(&db.store);
        backlog.create(card("c")).await.unwrap();
        let err = backlog
            .complete(&id("c"), &Completion::Owner(owner("w1")))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                BacklogError::WrongStatus {
                    status: Status::Ready,
                    ..
                }
            ),
            "{}: an unclaimed card cannot be completed by an owner: {err}",
            db.backend()
        );
        backlog
            .claim(&ClaimRequest::new(owner("w1")))
            .await
            .unwrap()
            .unwrap();
        let err = backlog
            .complete(&id("c"), &Completion::Owner(owner("w2")))
            .await
            .unwrap_err();
        assert!(matches!(err, BacklogError::WrongOwner { .. }), "{err}");

        let done = backlog
            .complete(&id("c"), &Completion::Owner(owner("w1")))
            .await
            .unwrap();
        assert_eq!(done.status, Status::Done);
        assert!(done.claim_owner.is_none() && done.claim_ttl_seconds.is_none());

        let err = backlog
            .complete(&id("c"), &Completion::Owner(owner("w1")))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                BacklogError::WrongStatus {
                    status: Status::Done,
                    ..
                }
            ),
            "completing twice is reported: {err}"
        );
        let forced = backlog
            .complete(&id("c"), &Completion::Forced)
            .await
            .unwrap();
        assert_eq!(forced.status, Status::Done, "forcing accepts any status");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn fail_records_the_error_and_parks_the_card_after_max_attempts() {
    for db in all_backends().await {
        let backlog = Backlog::new(&db.store);
        backlog.create(card("c").max_attempts(2)).await.unwrap();
        let w = owner("w");

        backlog
            .claim(&ClaimRequest::new(w.clone()))
            .await
            .unwrap()
            .unwrap();
        let first = backlog
            .fail(&id("c"), &w, "compiler crashed")
            .await
            .unwrap();
        assert_eq!(first.status, Status::Ready, "{}", db.backend());
        assert_eq!(first.last_error.as_deref(), Some("compiler crashed"));
        assert!(first.claim_owner.is_none());

        backlog
            .claim(&ClaimRequest::new(w.clone()))
            .await
            .unwrap()
            .unwrap();
        let second = backlog.fail(&id("c"), &w, "again").await.unwrap();
        assert_eq!(second.status, Status::Blocked, "two attempts spent");
        assert_eq!((second.attempts, second.max_attempts), (2, 2));
        assert!(
            backlog
                .claim(&ClaimRequest::new(w.clone()))
                .await
                .unwrap()
                .is_none()
        );

        let err = backlog.fail(&id("c"), &w, "x").await.unwrap_err();
        assert!(matches!(err, BacklogError::WrongStatus { .. }), "{err}");
        let err = backlog.fail(&id("c"), &w, "  ").await.unwrap_err();
        assert!(matches!(err, BacklogError::Invalid(_)), "{err}");

        let unblocked = backlog.unblock(&id("c")).await.unwrap();
        assert_eq!((unblocked.status, unblocked.attempts), (Status::Ready, 0));
        assert_eq!(
            unblocked.last_error.as_deref(),
            Some("again"),
            "history is kept"
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn unblock_applies_to_blocked_cards_only() {
    for db in all_backends().await {
        let backlog = Backlog::new(&db.store);
        backlog.create(card("c")).await.unwrap();
        let err = backlog.unblock(&id("c")).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "backlog card c is ready; unblock needs it blocked"
        );
        let err = backlog.unblock(&id("ghost")).await.unwrap_err();
        assert!(matches!(err, BacklogError::NotFound { .. }), "{err}");

        backlog
            .claim(&ClaimRequest::new(owner("w")))
            .await
            .unwrap()
            .unwrap();
        let blocked = backlog.block(&id("c")).await.unwrap();
        assert_eq!(blocked.status, Status::Blocked, "{}", db.backend());
        assert_eq!(
            blocked.claim_owner,
            Some(owner("w")),
            "block leaves the claim columns as they were"
        );
        let err = backlog
            .complete(&id("c"), &Completion::Owner(owner("w")))
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            BacklogError::WrongStatus {
                status: Status::Blocked,
                ..
            }
        ));
        let ready = backlog.unblock(&id("c")).await.unwrap();
        assert!(ready.claim_owner.is_none() && ready.claimed_at.is_none());
        db.cleanup().await;
    }
}

#[tokio::test]
async fn links_that_would_close_a_cycle_are_refused() {
    for db in all_backends().await {
        let backlog = Backlog::new(&db.store);
        for s in ["a", "b", "c", "d"] {
            backlog.create(card(s)).await.unwrap();
        }
        backlog.link(&id("a"), &id("b")).await.unwrap();
        backlog.link(&id("b"), &id("c")).await.unwrap();
        backlog.link(&id("a"), &id("d")).await.unwrap();

        let err = backlog.link(&id("c"), &id("a")).await.unwrap_err();
        match &err {
            BacklogError::Cycle { from, to, path } => {
                assert_eq!((from.as_str(), to.as_str()), ("c", "a"));
                assert_eq!(path.0, vec![id("a"), id("b"), id("c")]);
            }
            other => panic!("{}: expected a cycle, got {other}", db.backend()),
        }
        assert_eq!(
            err.to_string(),
            "making c depend on a would create a cycle: a already depends on c via a → b → c"
        );
        let c = backlog.get(&id("c")).await.unwrap().unwrap();
        assert!(c.depends_on.is_empty(), "nothing was written");

        // A diamond is not a cycle.
        backlog.link(&id("d"), &id("c")).await.unwrap();
        db.cleanup().await;
    }
}

#[tokio::test]
async fn creating_a_card_that_closes_a_cycle_is_refused() {
    for db in all_backends().await {
        let backlog = Backlog::new(&db.store);
        // `a` waits for `b`, which does not exist yet.
        backlog
            .create(card("a").depends_on([id("b")]))
            .await
            .unwrap();
        let err = backlog
            .create(card("b").depends_on([id("a")]))
            .await
            .unwrap_err();
        assert!(
            matches!(err, BacklogError::Cycle { .. }),
            "{}: {err}",
            db.backend()
        );
        assert!(backlog.get(&id("b")).await.unwrap().is_none());

        let err = backlog
            .create(card("s").depends_on([id("s")]))
            .await
            .unwrap_err();
        assert!(matches!(err, BacklogError::SelfDependency { .. }), "{err}");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn concurrent_links_cannot_close_a_cycle_together() {
    for db in all_backends().await {
        let setup = Backlog::new(&db.store);
        for round in 0..10 {
            let (x, y) = (format!("x{round}"), format!("y{round}"));
            setup.create(card(&x)).await.unwrap();
            setup.create(card(&y)).await.unwrap();
            let one = Backlog::new(&db.connect_again(1).await.unwrap());
            let two = Backlog::new(&db.connect_again(1).await.unwrap());
            let (a, b) = (id(&x), id(&y));
            let (r1, r2) = tokio::join!(one.link(&a, &b), two.link(&b, &a));
            let ok = [r1.is_ok(), r2.is_ok()];
            assert_eq!(
                ok.iter().filter(|&&o| o).count(),
                1,
                "{}: exactly one of two opposite links wins: {r1:?} {r2:?}",
                db.backend()
            );
            let loser = if r1.is_ok() { r2 } else { r1 };
            assert!(
                matches!(loser, Err(BacklogError::Cycle { .. })),
                "{loser:?}"
            );
        }
        db.cleanup().await;
    }
}

#[tokio::test]
async fn duplicate_ids_and_bad_input_are_typed_errors() {
    for db in all_backends().await {
        let backlog = Backlog::new(&db.store);
        backlog.create(card("c")).await.unwrap();
        let err = backlog.create(card("c")).await.unwrap_err();
        assert!(
            matches!(&err, BacklogError::DuplicateId { id } if id.as_str() == "c"),
            "{}: {err}",
            db.backend()
        );
        assert!(err.to_string().contains("idempotency key"), "{err}");

        for (bad, field) in [
            (NewCard::new(id("t"), "  "), "title"),
            (card("t").status(Status::Claimed), "status"),
            (card("t").max_attempts(0), "max attempts"),
            (card("t").idempotency_key(""), "idempotency key"),
        ] {
            match backlog.create(bad).await {
                Err(BacklogError::Invalid(e)) => assert_eq!(e.field, field),
                other => panic!("{field}: expected invalid input, got {other:?}"),
            }
        }
        let err = backlog
            .claim(&ClaimRequest::new(owner("w")).ttl_seconds(0))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid input: ttl must be at least 1 second"
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn racing_creates_with_one_key_make_one_card() {
    for db in all_backends().await {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..6 {
            let backlog = Backlog::new(&db.connect_again(1).await.unwrap());
            tasks.spawn(async move {
                backlog
                    .create(card(&format!("r{i}")).idempotency_key("same"))
                    .await
                    .unwrap()
            });
        }
        let cards = tasks.join_all().await;
        let first = &cards[0];
        assert!(cards.iter().all(|c| c.id == first.id), "{}", db.backend());
        let all = Backlog::new(&db.store)
            .list(&Default::default())
            .await
            .unwrap();
        assert_eq!(all.len(), 1);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn cards_keep_every_field_they_were_created_with() {
    for db in all_backends().await {
        let backlog = Backlog::new(&db.store);
        let created = backlog
            .create(
                card("full")
                    .body("the body")
                    .phase("fleet")
                    .priority(-3)
                    .depends_on([id("x"), id("x"), id("y")])
                    .acceptance(json!({"tests": ["pass"]}))
                    .idempotency_key("k")
                    .status(Status::Blocked)
                    .max_attempts(9),
            )
            .await
            .unwrap();
        assert_eq!(created.depends_on, vec![id("x"), id("y")], "deduplicated");
        assert_eq!(backlog.get(&id("full")).await.unwrap().unwrap(), created);
        let wire = serde_json::to_value(&created).unwrap();
        assert_eq!(wire["dependsOn"], json!(["x", "y"]));
        assert_eq!(wire["status"], "blocked");
        assert_eq!(wire["maxAttempts"], 9);
        assert_eq!(wire["acceptance"], json!({"tests": ["pass"]}));
        assert!(wire["claimOwner"].is_null());
        db.cleanup().await;
    }
}
