//! The gateway as a person first runs it: zero set-up, health and readiness,
//! clean shutdown, and one clear line when it cannot start.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::Value;
use support::{Gateway, command, run_to_exit};

fn get(url: &str) -> (u16, Value) {
    support::crypto();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let resp = reqwest::get(url).await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    })
}

fn get_with(url: &str, token: &str) -> (u16, Value) {
    support::crypto();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let resp = reqwest::Client::new()
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    })
}

#[test]
fn starts_on_the_embedded_default_with_zero_set_up() {
    let home = tempfile::tempdir().unwrap();
    let data_dir = home.path().join("data/mosaic");
    let gw = Gateway::start(command(home.path()), data_dir.clone());

    let (status, body) = get(&gw.url("/healthz"));
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");

    let (status, body) = get(&gw.url("/readyz"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["backend"], "sqlite");
    assert!(body["schema"].as_str().unwrap().starts_with('m'));

    assert!(
        data_dir.join("mosaic.db").is_file(),
        "SQLite file in the XDG data dir"
    );
    assert!(
        gw.admin_token.is_some(),
        "first start prints the admin token"
    );

    let (status, body) = get(&gw.url("/no/such/route"));
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");

    // The README shows what /readyz prints on a fresh gateway, exactly.
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let shown = readme
        .lines()
        .skip_while(|l| !l.contains("curl -s http://127.0.0.1:7420/readyz"))
        .nth(1)
        .expect("README shows a /readyz answer");
    let shown: Value = serde_json::from_str(shown).unwrap();
    assert_eq!(
        shown,
        get(&gw.url("/readyz")).1,
        "README's /readyz example is stale"
    );

    // Logs to a pipe carry no colour codes.
    let logs = gw.stderr_lines().join("\n");
    assert!(!logs.is_empty());
    assert!(
        !logs.contains('\u{1b}'),
        "ANSI escapes in piped logs: {logs:?}"
    );

    let status = gw.terminate();
    assert!(status.success(), "SIGTERM is a clean shutdown: {status:?}");

    // Second start: same database, no new admin token.
    let gw = Gateway::start(command(home.path()), data_dir);
    assert!(
        gw.admin_token.is_none(),
        "the admin token is shown only once"
    );
    assert_eq!(get(&gw.url("/readyz")).0, 200);
    assert!(gw.terminate().success());
}

#[test]
fn admin_routes_need_an_admin_token() {
    let home = tempfile::tempdir().unwrap();
    let gw = Gateway::start(command(home.path()), home.path().join("data/mosaic"));
    let admin = gw.admin_token.clone().unwrap();
    let url = gw.url("/api/admin/v1/tokens");

    let (status, body) = get(&url);
    assert_eq!(status, 401, "no token");
    assert_eq!(body["error"]["code"], "unauthorized");

    let (status, body) = get_with(&url, "not-a-token");
    assert_eq!(status, 401, "malformed token");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("malformed")
    );

    let (status, _) = get_with(&url, &mosaic_auth::generate_secret().unwrap());
    assert_eq!(status, 401, "unknown token");

    let (status, body) = get_with(&url, &admin);
    assert_eq!(status, 200);
    assert_eq!(body.as_array().unwrap().len(), 1);
    assert_eq!(body[0]["role"], "admin");
    assert!(
        !body.to_string().contains(&admin),
        "secrets are never listed"
    );
}

#[test]
fn user_tokens_are_forbidden_on_admin_routes() {
    let home = tempfile::tempdir().unwrap();
    let data_dir = home.path().join("data/mosaic");
    let gw = Gateway::start(command(home.path()), data_dir.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let user_token = rt.block_on(async {
        use mosaic_store::sea_orm::{ActiveModelTrait, Set};
        let store = mosaic_store::Store::open(&mosaic_store::StoreOptions::embedded(&data_dir))
            .await
            .unwrap();
        mosaic_store::entity::users::ActiveModel {
            id: Set("u1".into()),
            name: Set("U".into()),
            email: Set("u@x.test".into()),
            email_verified: Set(false),
            created_at: Set(mosaic_store::now()),
            updated_at: Set(mosaic_store::now()),
        }
        .insert(store.conn())
        .await
        .unwrap();
        let t = mosaic_auth::Tokens::new(store.conn())
            .issue(mosaic_auth::Role::User, Some("u1"), "t")
            .await
            .unwrap();
        store.close().await.unwrap();
        t.secret
    });
    let (status, body) = get_with(&gw.url("/api/admin/v1/tokens"), &user_token);
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "forbidden");

    // Either token may ask whom it speaks for.
    let (status, me) = get_with(&gw.url("/api/v1/whoami"), &user_token);
    assert_eq!(status, 200, "{me}");
    assert_eq!(
        (me["role"].as_str(), me["user_id"].as_str()),
        (Some("user"), Some("u1"))
    );
    let (status, me) = get_with(
        &gw.url("/api/v1/whoami"),
        gw.admin_token.as_deref().unwrap(),
    );
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["role"], "admin");
    assert!(me["user_id"].is_null());
    assert!(!me.to_string().contains(&user_token));
}

#[test]
fn unreachable_database_exits_non_zero_with_one_line() {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = command(home.path());
    cmd.env(
        "DATABASE_URL",
        "postgres://mosaic:secret@127.0.0.1:1/mosaic",
    );
    let (status, _out, err) = run_to_exit(cmd);
    assert!(!status.success());
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("gateway:")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains("cannot connect to PostgreSQL at"),
        "{err}"
    );
    assert!(lines[0].contains("127.0.0.1:1"), "{err}");
    assert!(!err.contains("secret"), "passwords never reach the logs");
}

#[test]
fn unwritable_data_dir_exits_non_zero_with_one_line() {
    let home = tempfile::tempdir().unwrap();
    let blocker = home.path().join("file");
    std::fs::write(&blocker, b"").unwrap();
    let mut cmd = command(home.path());
    cmd.env("MOSAIC_DATA_DIR", blocker.join("data"));
    let (status, _out, err) = run_to_exit(cmd);
    assert!(!status.success());
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("gateway:")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains("data dir"), "{err}");
    assert!(lines[0].contains("MOSAIC_DATA_DIR"), "{err}");
}

#[test]
fn bad_configuration_names_the_key_and_source() {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = command(home.path());
    cmd.env("MOSAIC_HTTP_ADDR", "seven-four-two-zero");
    let (status, _out, err) = run_to_exit(cmd);
    assert_eq!(status.code(), Some(i32::from(mosaic_config::EXIT_CONFIG)));
    assert!(
        err.contains("`http_addr`") && err.contains("MOSAIC_HTTP_ADDR"),
        "{err}"
    );
}

#[test]
fn an_unknown_key_in_mosaic_toml_is_refused_with_the_nearest_key() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("mosaic.toml");
    std::fs::write(&file, "htp_addr = \"127.0.0.1:7420\"\n").unwrap();
    let mut cmd = command(home.path());
    cmd.env("MOSAIC_CONFIG", &file);
    let (status, _out, err) = run_to_exit(cmd);
    assert_eq!(status.code(), Some(i32::from(mosaic_config::EXIT_CONFIG)));
    let line = err.lines().find(|l| l.starts_with("gateway:")).unwrap();
    assert!(
        line.contains("invalid configuration: unknown key `htp_addr`"),
        "{err}"
    );
    assert!(line.contains(&file.display().to_string()), "{err}");
    assert!(line.contains("did you mean `http_addr`?"), "{err}");
}

#[test]
fn an_empty_data_dir_is_refused_not_the_current_directory() {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = command(home.path());
    cmd.env("MOSAIC_DATA_DIR", "").current_dir(home.path());
    let (status, _out, err) = run_to_exit(cmd);
    assert_eq!(
        status.code(),
        Some(i32::from(mosaic_config::EXIT_CONFIG)),
        "{err}"
    );
    assert!(
        err.contains("MOSAIC_DATA_DIR") && err.contains("empty"),
        "{err}"
    );
    assert!(!home.path().join("mosaic.db").exists());
}

#[test]
fn a_second_gateway_on_the_same_sqlite_data_dir_is_refused_with_the_first_ones_pid() {
    let home = tempfile::tempdir().unwrap();
    let data_dir = home.path().join("data/mosaic");
    let first = Gateway::start(command(home.path()), data_dir.clone());

    let (status, _out, err) = run_to_exit(command(home.path()));
    assert!(!status.success());
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("gateway:")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains("in use by another gateway"), "{err}");
    assert!(
        lines[0].contains(&format!("pid {}", first.child.id())),
        "{err}"
    );
    assert!(lines[0].contains(&data_dir.display().to_string()), "{err}");

    // The first one still serves; once it stops the data dir is free again.
    assert_eq!(get(&first.url("/readyz")).0, 200);
    assert!(first.terminate().success());
    let again = Gateway::start(command(home.path()), data_dir);
    assert_eq!(get(&again.url("/readyz")).0, 200);
    assert!(again.terminate().success());
}

#[test]
fn runs_on_postgres_when_database_url_is_set() {
    let Some(admin_url) = mosaic_store::testing::postgres_url() else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let db = rt
        .block_on(mosaic_store::testing::TestDatabase::create(&admin_url))
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let mut cmd = command(home.path());
    cmd.env("DATABASE_URL", &db.url);
    let gw = Gateway::start(cmd, home.path().join("data/mosaic"));
    let (status, body) = get(&gw.url("/readyz"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["backend"], "postgres");
    assert!(gw.terminate().success());
    rt.block_on(db.drop_database());
}
