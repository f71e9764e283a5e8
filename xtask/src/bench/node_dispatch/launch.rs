//! Starting the real things: a release gateway with a user to act as, and
//! a real agent-node attached to a session.

use super::api::Api;
use super::proc::Proc;
use anyhow::Context as _;
use mosaic_types::nodes::{AttachNode, CreateSession, SessionView};
use serde_json::json;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

pub(super) struct Gateway {
    pub(super) proc: Proc,
    base: String,
    admin_token: String,
}

/// Starts the gateway. Every simulated node connects from 127.0.0.1, so the
/// gateway's connection caps (per listener and per address) are raised to
/// admit `connections` of them; a real fleet comes from many addresses.
pub(super) fn start_gateway(bin: &Path, dir: &Path, connections: usize) -> anyhow::Result<Gateway> {
    let home = dir.join("gateway");
    std::fs::create_dir_all(&home)?;
    let mut cmd = Command::new(bin);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("MOSAIC_DATA_DIR", home.join("mosaic"))
        .env("MOSAIC_HTTP_ADDR", "127.0.0.1:0")
        .env("MOSAIC_FEDERATION_ADDR", "127.0.0.1:0")
        .env("MOSAIC_NODE_ADDR", "127.0.0.1:0")
        .env(
            "MOSAIC_LIMITS__MAX_CONNECTIONS",
            (connections + 256).to_string(),
        )
        .env(
            "MOSAIC_LIMITS__MAX_CONNECTIONS_PER_IP",
            (connections + 64).to_string(),
        )
        .env("MOSAIC_LOG", "warn");
    let proc = Proc::spawn("gateway", &mut cmd)?;
    let mut admin_token = None;
    let addr = proc.wait_line(
        mosaic_gateway::READY_PREFIX,
        Duration::from_secs(60),
        &mut |line| {
            if let Some(t) = line.strip_prefix(mosaic_gateway::ADMIN_TOKEN_PREFIX) {
                admin_token = Some(t.to_owned());
            }
        },
    )?;
    Ok(Gateway {
        proc,
        base: format!("http://{addr}"),
        admin_token: admin_token.context("the gateway printed no admin token")?,
    })
}

/// A user and a user token, made with the admin token.
pub(super) async fn user_api(gateway: &Gateway) -> anyhow::Result<Api> {
    let http = reqwest::Client::builder().no_proxy().http1_only().build()?;
    let admin = Api {
        http: http.clone(),
        base: gateway.base.clone(),
        token: gateway.admin_token.clone(),
    };
    let user: serde_json::Value = serde_json::from_slice(
        &admin
            .post(
                "/api/admin/v1/users",
                json!({"name": "bench", "email": "bench@bench.invalid"}),
                201,
            )
            .await?,
    )?;
    let id = user["id"].as_str().context("the new user has no id")?;
    let token: serde_json::Value = serde_json::from_slice(
        &admin
            .post(
                &format!("/api/admin/v1/users/{id}/tokens"),
                json!({"label": "bench"}),
                201,
            )
            .await?,
    )?;
    Ok(Api {
        http,
        base: gateway.base.clone(),
        token: token["token"]
            .as_str()
            .context("no token in the answer")?
            .to_owned(),
    })
}

pub(super) struct RealNode {
    pub(super) proc: Proc,
    pub(super) session: String,
}

/// Invites and starts a real agent-node, waits for it online, and attaches
/// it to a new session.
pub(super) fn start_node(
    rt: &tokio::runtime::Runtime,
    api: &Api,
    bin: &Path,
    dir: &Path,
) -> anyhow::Result<RealNode> {
    let home = dir.join("node");
    let (state, workspace) = (home.join("state"), home.join("workspace"));
    std::fs::create_dir_all(&state)?;
    std::fs::create_dir_all(&workspace)?;
    let invite = rt.block_on(api.invite("bench-node".into()))?;
    let config = home.join("agent-node.yaml");
    std::fs::write(
        &config,
        format!(
            "{}\nstate_dir: {}\nworkspace: {}\n",
            invite.config_yaml.trim_end(),
            state.display(),
            workspace.display()
        ),
    )?;
    let mut cmd = Command::new(bin);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .arg("--config")
        .arg(&config)
        .args(["--log", "warn"]);
    let proc = Proc::spawn("agent-node", &mut cmd)?;
    proc.wait_line("agent-node connected", Duration::from_secs(60), &mut |_| {})?;
    let session = rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(30);
        let node_id = loop {
            let list = api.nodes().await?;
            if let Some(n) = list.nodes.iter().find(|n| n.status == "online") {
                break n.id.clone();
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "agent-node said it connected but the gateway shows it offline after 30s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let session: SessionView = serde_json::from_slice(
            &api.post(
                "/api/sessions",
                serde_json::to_value(CreateSession {
                    name: Some("bench".into()),
                })?,
                201,
            )
            .await?,
        )?;
        api.post(
            &format!("/api/sessions/{}/attach", session.id),
            serde_json::to_value(AttachNode { node_id })?,
            200,
        )
        .await?;
        anyhow::Ok(session.id)
    })?;
    Ok(RealNode { proc, session })
}
