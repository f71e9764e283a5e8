//! The query layer against a real store on every backend: which rows each
//! filter reaches, get outcomes, memory paging across its two tables.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fixture;

use fixture::{Fx, access_fixture, at};
use mosaic_federation::query::{FederationQueries, GetOutcome, Verb};
use mosaic_scope::{NativeRbac, NativeRbacRequest, QueryFilter};
use mosaic_store::testing::all_backends;
use mosaic_types::{FederatedRow, FederationResource};
use serde_json::Value;

fn filter(resource: FederationResource, personal: bool, teams: &[&str], limit: u32) -> QueryFilter {
    QueryFilter {
        resource,
        subject_user_id: "S".parse().unwrap(),
        include_personal: personal,
        team_ids: teams.iter().map(|t| (*t).to_owned()).collect(),
        limit,
        max_rows_per_query: limit,
    }
}

fn ids(items: &[mosaic_federation::query::Item]) -> Vec<String> {
    items.iter().map(|i| i.id().to_owned()).collect()
}

/// A row as the JSON it is sent as.
fn wire(item: &mosaic_federation::query::Item) -> Value {
    serde_json::to_value(item).unwrap()
}

fn request(resource: FederationResource) -> NativeRbacRequest {
    NativeRbacRequest {
        grant_id: Some("grant-1".parse().unwrap()),
        peer_id: Some("peer-1".parse().unwrap()),
        subject_user_id: "S".parse().unwrap(),
        resource,
    }
}

#[tokio::test]
async fn native_access_per_resource() {
    for db in all_backends().await {
        access_fixture(db.store.conn()).await;
        Fx(db.store.conn()).member("U", "S").await;
        for verb in [Verb::List, Verb::Get] {
            let q = FederationQueries::new(db.store.conn(), verb);
            for secret in [FederationResource::Credentials, FederationResource::ApiKeys] {
                let denied = q.evaluate_read_access(&request(secret)).await.unwrap_err();
                let word = if verb == Verb::List { "list" } else { "get" };
                assert_eq!(
                    denied.reason.unwrap(),
                    format!("{secret} federation {word} access is never granted")
                );
            }
            let memory = q
                .evaluate_read_access(&request(FederationResource::Memory))
                .await
                .unwrap();
            assert!(memory.include_personal && memory.team_ids.is_empty());
            let mut tasks = q
                .evaluate_read_access(&request(FederationResource::Tasks))
                .await
                .unwrap();
            tasks.team_ids.sort();
            assert!(tasks.include_personal);
            assert_eq!(tasks.team_ids, vec!["T", "U"]);
        }
        db.cleanup().await;
    }
}

#[tokio::test]
async fn note_gets_follow_owner_and_mission() {
    for db in all_backends().await {
        access_fixture(db.store.conn()).await;
        let q = FederationQueries::new(db.store.conn(), Verb::Get);
        let team_only = filter(FederationResource::Notes, false, &["T"], 1);
        let with_personal = filter(FederationResource::Notes, true, &["T"], 1);
        let denied = GetOutcome::Denied("Note is outside the federated scope".into());
        assert_eq!(
            q.get(&team_only, "N2").await.unwrap(),
            denied,
            "another user's note"
        );
        assert_eq!(
            q.get(&with_personal, "N4").await.unwrap(),
            denied,
            "unauthorized mission"
        );
        assert_eq!(
            q.get(&team_only, "N3").await.unwrap(),
            denied,
            "personal mission without personal scope"
        );
        match q.get(&team_only, "N1").await.unwrap() {
            GetOutcome::Found(item) => {
                assert!(matches!(*item, FederatedRow::Note(_)), "{item:?}");
                let item = wire(&item);
                assert_eq!(item["id"], "N1");
                assert_eq!(item["missionId"], "M_team");
                assert_eq!(item["content"], "subject note on team mission");
                assert!(item.get("userId").is_none(), "userId never leaves");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            q.get(&with_personal, "nope").await.unwrap(),
            GetOutcome::NotFound
        );
        let secret = filter(FederationResource::Credentials, true, &[], 1);
        assert!(matches!(
            q.get(&secret, "cred-1").await.unwrap(),
            GetOutcome::Denied(_)
        ));
        db.cleanup().await;
    }
}

#[tokio::test]
async fn note_lists_follow_owner_and_mission() {
    for db in all_backends().await {
        access_fixture(db.store.conn()).await;
        let q = FederationQueries::new(db.store.conn(), Verb::List);
        let page = q
            .list(&filter(FederationResource::Notes, false, &["T"], 10), None)
            .await
            .unwrap();
        assert_eq!(
            ids(&page.items),
            vec!["N1"],
            "N2 (other user) and N3 (personal) excluded"
        );
        let page = q
            .list(&filter(FederationResource::Notes, true, &["T"], 10), None)
            .await
            .unwrap();
        assert_eq!(
            ids(&page.items),
            vec!["N3", "N1"],
            "newest first; N4 and N2 excluded"
        );
        assert!(!page.truncated && page.next_cursor.is_none());
        let page = q
            .list(&filter(FederationResource::Notes, false, &[], 10), None)
            .await
            .unwrap();
        assert!(page.items.is_empty(), "no reach, no rows");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn empty_notes_are_not_notes() {
    for db in all_backends().await {
        access_fixture(db.store.conn()).await;
        let fx = Fx(db.store.conn());
        fx.note("N5", "M_personal", "S", Some(""), at(5)).await;
        fx.note("N6", "M_personal", "S", None, at(6)).await;
        let q = FederationQueries::new(db.store.conn(), Verb::List);
        let page = q
            .list(&filter(FederationResource::Notes, true, &[], 1), None)
            .await
            .unwrap();
        assert_eq!(
            ids(&page.items),
            vec!["N3"],
            "the page is filled past empty notes"
        );
        let g = FederationQueries::new(db.store.conn(), Verb::Get);
        for id in ["N5", "N6"] {
            assert_eq!(
                g.get(&filter(FederationResource::Notes, true, &[], 1), id)
                    .await
                    .unwrap(),
                GetOutcome::NotFound
            );
        }
        db.cleanup().await;
    }
}

#[tokio::test]
async fn task_pages_walk_newest_first_with_a_cursor() {
    for db in all_backends().await {
        access_fixture(db.store.conn()).await;
        let fx = Fx(db.store.conn());
        fx.task("t1", Some("P_personal"), None, at(1)).await;
        fx.task("t2", Some("P_personal"), None, at(2)).await;
        fx.task("t3", None, Some("M_team"), at(3)).await;
        // Same instant: ties break by id, descending.
        fx.task("t3b", Some("P_team"), None, at(3)).await;
        fx.task("x", Some("P_unauth"), None, at(9)).await;
        let q = FederationQueries::new(db.store.conn(), Verb::List);
        let f = filter(FederationResource::Tasks, true, &["T"], 2);
        let p1 = q.list(&f, None).await.unwrap();
        assert_eq!(ids(&p1.items), vec!["t3b", "t3"]);
        assert!(p1.truncated);
        let p2 = q.list(&f, p1.next_cursor.as_deref()).await.unwrap();
        assert_eq!(ids(&p2.items), vec!["t2", "t1"]);
        assert!(!p2.truncated && p2.next_cursor.is_none());

        let item = wire(&p1.items[0]);
        assert_eq!(item["createdAt"], "2026-06-24T03:00:00.000Z");
        assert_eq!(item["projectId"], "P_team");
        assert!(item.get("missionId").is_some() && item.get("dueDate").is_some());

        let err = q.list(&f, Some("not-base64-json")).await.unwrap_err();
        assert_eq!(err.to_string(), "Invalid federation list cursor");

        let g = FederationQueries::new(db.store.conn(), Verb::Get);
        assert!(matches!(
            g.get(&f, "t3").await.unwrap(),
            GetOutcome::Found(_)
        ));
        assert_eq!(
            g.get(&f, "x").await.unwrap(),
            GetOutcome::Denied("Task is outside the federated scope".into())
        );
        assert_eq!(g.get(&f, "missing").await.unwrap(), GetOutcome::NotFound);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn memory_pages_across_insights_then_preferences() {
    for db in all_backends().await {
        access_fixture(db.store.conn()).await;
        let fx = Fx(db.store.conn());
        fx.insight("I1", "S", at(5)).await;
        fx.insight("I2", "S", at(5)).await;
        fx.preference("P1", "S", at(5)).await;
        fx.preference("P2", "S", at(5)).await;
        fx.insight("IO", "O", at(6)).await;
        let q = FederationQueries::new(db.store.conn(), Verb::List);
        let f = filter(FederationResource::Memory, true, &[], 2);
        let p1 = q.list(&f, None).await.unwrap();
        assert_eq!(ids(&p1.items), vec!["I2", "I1"]);
        assert!(p1.truncated);
        let p2 = q.list(&f, p1.next_cursor.as_deref()).await.unwrap();
        assert_eq!(ids(&p2.items), vec!["P2", "P1"]);
        assert!(!p2.truncated);
        assert_eq!(wire(&p1.items[0])["kind"], "agent");
        assert_eq!(wire(&p2.items[0])["kind"], "editor");
        assert_eq!(
            wire(&p2.items[0])["value"],
            serde_json::json!({"enabled": true})
        );

        // A cursor without a memory block is refused.
        let tasks_cursor = mosaic_federation::cursor::Cursor {
            created_at: at(5),
            id: "I1".into(),
            source: None,
        };
        assert!(q.list(&f, Some(&tasks_cursor.encode())).await.is_err());

        // No personal scope, no memory.
        let none = q
            .list(&filter(FederationResource::Memory, false, &[], 2), None)
            .await
            .unwrap();
        assert!(none.items.is_empty());

        let g = FederationQueries::new(db.store.conn(), Verb::Get);
        assert!(
            matches!(g.get(&f, "P1").await.unwrap(), GetOutcome::Found(i) if wire(&i).get("userId").is_none())
        );
        assert_eq!(
            g.get(&f, "IO").await.unwrap(),
            GetOutcome::Denied("Memory row belongs to another subject user".into())
        );
        assert_eq!(
            g.get(&filter(FederationResource::Memory, false, &[], 1), "I1")
                .await
                .unwrap(),
            GetOutcome::Denied("Memory personal rows are outside the federated scope".into())
        );
        assert_eq!(g.get(&f, "nothing").await.unwrap(), GetOutcome::NotFound);
        db.cleanup().await;
    }
}
