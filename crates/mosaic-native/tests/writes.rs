//! Native writes on both backends, including every refusal.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mosaic_native::*;
use mosaic_store::testing::all_backends;

fn user(id: &str) -> NewUser {
    NewUser {
        id: Some(id.into()),
        name: id.to_uppercase(),
        email: format!("{id}@example.test"),
    }
}

#[tokio::test]
async fn people_projects_and_rows() {
    for db in all_backends().await {
        let n = Native::new(db.store.conn());
        n.create_user(user("alice")).await.unwrap();
        n.create_user(user("bob")).await.unwrap();
        assert!(matches!(
            n.create_user(user("alice")).await,
            Err(NativeError::Duplicate { .. })
        ));
        let mut dup_email = user("carol");
        dup_email.email = "alice@example.test".into();
        assert!(matches!(
            n.create_user(dup_email).await,
            Err(NativeError::Duplicate { kind: "email", .. })
        ));
        let err = n
            .create_user(NewUser {
                id: None,
                name: "x".into(),
                email: "nope".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "email: is not an email address");

        let team = n
            .create_team(NewTeam {
                id: Some("ops".into()),
                name: "Ops Team".into(),
                slug: None,
                owner_id: "alice".into(),
            })
            .await
            .unwrap();
        assert_eq!(team.slug, "ops-team");
        assert!(n.is_member("ops", "alice").await.unwrap());
        assert!(!n.is_member("ops", "bob").await.unwrap());

        // Bob may not create a project for a team he is not in.
        let denied = n
            .create_project(NewProject {
                name: "P".into(),
                owner: Owner::Team("ops".into()),
                created_by: "bob".into(),
            })
            .await;
        assert!(matches!(denied, Err(NativeError::Forbidden(_))));
        n.add_member("ops", "bob", "member").await.unwrap();
        let team_project = n
            .create_project(NewProject {
                name: "P".into(),
                owner: Owner::Team("ops".into()),
                created_by: "bob".into(),
            })
            .await
            .unwrap();
        let personal = n
            .create_project(NewProject {
                name: "Mine".into(),
                owner: Owner::User("alice".into()),
                created_by: "alice".into(),
            })
            .await
            .unwrap();

        let mission = n
            .create_mission(
                "alice",
                NewMission {
                    name: "M".into(),
                    project_id: personal.id.clone(),
                },
            )
            .await
            .unwrap();
        let task = n
            .create_task(
                "alice",
                NewTask {
                    title: "Water plants".into(),
                    mission_id: Some(mission.clone()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(task.status, "not-started");
        assert!(task.created_at.ends_with('Z'));
        n.create_task(
            "bob",
            NewTask {
                title: "Deploy".into(),
                project_id: Some(team_project.id.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        // Bob cannot write into Alice's personal project.
        let err = n
            .create_task(
                "bob",
                NewTask {
                    title: "x".into(),
                    project_id: Some(personal.id.clone()),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(err, NativeError::Forbidden(_)));
        let err = n
            .create_task(
                "alice",
                NewTask {
                    title: "orphan".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "project_id: a task needs a project or a mission"
        );
        let err = n
            .create_task(
                "alice",
                NewTask {
                    title: "x".into(),
                    project_id: Some("nope".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "no project with id `nope`");

        n.create_note(
            "alice",
            NewNote {
                mission_id: mission.clone(),
                task_id: Some(task.id),
                content: "remember".into(),
            },
        )
        .await
        .unwrap();
        n.create_insight(
            "alice",
            NewInsight {
                content: "prefers mornings".into(),
                category: None,
            },
        )
        .await
        .unwrap();
        let p1 = n
            .set_preference(
                "alice",
                NewPreference {
                    key: "theme".into(),
                    value: serde_json::json!("dark"),
                    category: None,
                },
            )
            .await
            .unwrap();
        let p2 = n
            .set_preference(
                "alice",
                NewPreference {
                    key: "theme".into(),
                    value: serde_json::json!("light"),
                    category: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(p1, p2, "setting a key again updates it");

        n.remove_member("ops", "bob").await.unwrap();
        assert!(!n.is_member("ops", "bob").await.unwrap());
        assert_eq!(n.list_users().await.unwrap().len(), 2);
        db.cleanup().await;
    }
}
