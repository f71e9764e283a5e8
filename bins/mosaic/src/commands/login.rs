//! `mosaic login`, `mosaic logout`, `mosaic status`: keep the gateway URL and
//! token in the config file's `[client]` table, and say what the CLI would
//! reach and as whom.

use crate::commands::Global;
use crate::gateway_client::{ApiPath, GatewayClient, GatewayError};
use crate::output::JsonArgs;
use crate::settings::{self, Source, Sourced};
use anyhow::Context as _;
use clap::Args;
use mosaic_types::whoami::WhoAmI;
use serde::{Deserialize, Serialize};
use std::io::BufRead as _;
use std::path::Path;

const WHOAMI: &str = "/api/v1/whoami";

/// `mosaic login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Gateway HTTP API base URL [env: MOSAIC_GATEWAY_URL] [default: the
    /// config's client.gateway_url, else http://127.0.0.1:7420].
    #[arg(long, value_name = "URL")]
    gateway: Option<String>,
    /// The token to keep [env: MOSAIC_TOKEN]. Prefer --token-stdin: a flag
    /// is visible to other users of this host in the process list.
    #[arg(long, value_name = "TOKEN", conflicts_with = "token_stdin")]
    token: Option<String>,
    /// Read the token from the first line of standard input.
    #[arg(long)]
    token_stdin: bool,
    #[command(flatten)]
    out: JsonArgs,
}

/// `mosaic logout`.
#[derive(Debug, Args)]
pub struct LogoutArgs {
    #[command(flatten)]
    out: JsonArgs,
}

/// `mosaic status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Gateway HTTP API base URL [env: MOSAIC_GATEWAY_URL] [config: client.gateway_url].
    #[arg(long, value_name = "URL")]
    gateway: Option<String>,
    /// Token [env: MOSAIC_TOKEN] [config: client.token].
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
    #[command(flatten)]
    out: JsonArgs,
}

/// What `login` kept.
#[derive(Debug, Serialize)]
struct LoggedIn {
    gateway_url: String,
    #[serde(flatten)]
    who: WhoAmI,
    config_file: String,
}

/// Checks the token with the gateway, then writes both into the config file.
/// A token the gateway refuses is not written.
pub async fn login(args: LoginArgs) -> anyhow::Result<()> {
    let gateway = settings::gateway_url(args.gateway.as_deref(), "--gateway")?;
    let token = if args.token_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the token from standard input")?;
        line.trim().to_owned()
    } else {
        settings::token(args.token.as_deref(), "--token")?
            .filter(|t| !matches!(t.source, Source::File(_)))
            .map(|t| t.value)
            .unwrap_or_default()
    };
    if token.is_empty() {
        anyhow::bail!(
            "no token to keep: pass --token-stdin (or --token, or set MOSAIC_TOKEN); `mosaic user token <user>` issues a user token"
        );
    }
    let client = GatewayClient::new(&gateway.value, Some(&token))?;
    let who: WhoAmI = client
        .get(&ApiPath::new(WHOAMI))
        .await
        .map_err(|e| e.with_hint(|r| (r.status() == 401).then(|| "the gateway does not know this token: check it, or issue a new one with `mosaic user token <user>`".to_owned())))?;
    let file = settings::config_file_path();
    let tightened = write_client(&file, Some(&gateway.value), Some(&token))?;
    let done = LoggedIn {
        gateway_url: gateway.value.clone(),
        who,
        config_file: file.display().to_string(),
    };
    args.out.print(&done, |d| {
        let whom = match &d.who.user_id {
            Some(user) => format!("user {user}"),
            None => "admin".to_owned(),
        };
        let mut text = format!(
            "logged in to {} as {whom} (token {}); saved in {}",
            d.gateway_url, d.who.token_id, d.config_file
        );
        if tightened {
            text.push_str("\n(its permissions were narrowed to owner-only: it holds a token)");
        }
        text
    })
}

/// Removes the token from the config file; the gateway URL stays.
pub fn logout(args: LogoutArgs) -> anyhow::Result<()> {
    let file = settings::config_file_path();
    let had = file.is_file() && settings::client_file()?.token.is_some();
    if had {
        write_client(&file, None, None)?;
    }
    #[derive(Serialize)]
    struct LoggedOut {
        config_file: String,
        removed: bool,
    }
    let done = LoggedOut {
        config_file: file.display().to_string(),
        removed: had,
    };
    args.out.print(&done, |d| {
        if d.removed {
            format!("token removed from {}", d.config_file)
        } else {
            format!("no token kept in {}", d.config_file)
        }
    })
}

/// Sets `[client] gateway_url` (when given) and sets or removes `token` in
/// the TOML file at `path`, keeping everything else in it as written. The
/// file is replaced atomically and left readable by its owner only. Returns
/// whether an existing file's permissions were narrowed.
fn write_client(path: &Path, gateway: Option<&str>, token: Option<&str>) -> anyhow::Result<bool> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .with_context(|| format!("{} is not valid TOML", path.display()))?;
    let client = doc
        .entry("client")
        .or_insert_with(|| toml_edit::Item::Table(toml_edit::Table::new()))
        .as_table_mut()
        .with_context(|| format!("`client` in {} is not a table", path.display()))?;
    if let Some(url) = gateway {
        client["gateway_url"] = toml_edit::value(url);
    }
    match token {
        Some(t) => client["token"] = toml_edit::value(t),
        None => {
            client.remove("token");
        }
    }
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let was_open = was_readable_by_others(path);
    let mut tmp = tempfile::Builder::new()
        .prefix(".mosaic.toml.")
        .tempfile_in(dir.unwrap_or_else(|| Path::new(".")))
        .context("creating a temporary file beside the config file")?;
    // tempfile creates the file 0600 already; say so explicitly.
    set_owner_only(tmp.path())?;
    std::io::Write::write_all(&mut tmp, doc.to_string().as_bytes())
        .context("writing the config file")?;
    tmp.persist(path)
        .with_context(|| format!("replacing {}", path.display()))?;
    Ok(was_open)
}

#[cfg(unix)]
fn was_readable_by_others(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
}

#[cfg(unix)]
fn set_owner_only(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("restricting {}", path.display()))
}

/// What `status` found.
#[derive(Debug, Serialize)]
struct Status {
    gateway: Sourced<String>,
    reachable: bool,
    /// `/readyz` or the reason it could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    ready: Option<Ready>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    token: Option<TokenStatus>,
    config_file: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Ready {
    status: String,
    backend: String,
    schema: Option<String>,
}

#[derive(Debug, Serialize)]
struct TokenStatus {
    source: Source,
    token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    who: Option<WhoAmI>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Reports the gateway the CLI would use, whether it answers, and whom the
/// token speaks for. Exits non-zero when the gateway cannot be reached or
/// refuses the token.
pub async fn status(_global: &Global, args: StatusArgs) -> anyhow::Result<()> {
    let gateway = settings::gateway_url(args.gateway.as_deref(), "--gateway")?;
    let token = settings::token(args.token.as_deref(), "--token")?;
    let probe = GatewayClient::new(&gateway.value, None)?;
    let (reachable, ready, error) = match probe.get_public::<Ready>("/readyz").await {
        Ok(r) => (true, Some(r), None),
        Err(GatewayError::Refused(r)) => (true, None, Some(r.to_string())),
        Err(e) => (false, None, Some(e.to_string())),
    };
    let token = match token {
        None => None,
        Some(t) => {
            let shown = settings::redact_token(&t.value);
            let (who, error) = if reachable {
                match GatewayClient::new(&gateway.value, Some(&t.value))?
                    .get::<WhoAmI>(&ApiPath::new(WHOAMI))
                    .await
                {
                    Ok(w) => (Some(w), None),
                    Err(e) => (None, Some(e.to_string())),
                }
            } else {
                (None, None)
            };
            Some(TokenStatus {
                source: t.source,
                token: shown,
                who,
                error,
            })
        }
    };
    let report = Status {
        gateway,
        reachable,
        ready,
        error,
        token,
        config_file: settings::config_file_path().display().to_string(),
    };
    let healthy = report.reachable
        && report.error.is_none()
        && report.token.as_ref().is_none_or(|t| t.error.is_none());
    args.out.print(&report, human_status)?;
    if !report.reachable {
        anyhow::bail!("the gateway at {} cannot be reached", report.gateway.value);
    }
    if !healthy {
        anyhow::bail!(
            "the gateway at {} is not ready, or refused the token",
            report.gateway.value
        );
    }
    Ok(())
}

fn human_status(s: &Status) -> String {
    let mut lines = vec![format!(
        "gateway:  {} ({})",
        s.gateway.value, s.gateway.source
    )];
    match (&s.ready, &s.error) {
        (Some(r), _) => lines.push(format!(
            "storage:  {} on {}, schema {}",
            r.status,
            r.backend,
            r.schema.as_deref().unwrap_or("none")
        )),
        (None, Some(e)) => lines.push(format!("problem:  {e}")),
        (None, None) => {}
    }
    match &s.token {
        None => lines.push(
            "token:    none (pass --token, set MOSAIC_TOKEN, or run `mosaic login`)".to_owned(),
        ),
        Some(t) => {
            let whom = match (&t.who, &t.error) {
                (Some(w), _) => match &w.user_id {
                    Some(u) => format!("user {u}, token {}", w.token_id),
                    None => format!("admin, token {}", w.token_id),
                },
                (None, Some(e)) => format!("refused: {e}"),
                (None, None) => "not checked (gateway unreachable)".to_owned(),
            };
            lines.push(format!("token:    {} ({}): {whom}", t.token, t.source));
        }
    }
    lines.push(format!("config:   {}", s.config_file));
    lines.join("\n")
}
