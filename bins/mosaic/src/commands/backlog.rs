//! `mosaic fleet backlog`: the shared backlog, on the local store or through a
//! gateway.
//!
//! Storage, in order: `--gateway` (or `MOSAIC_GATEWAY_URL`) talks to a gateway
//! with a token; otherwise `--database-url` / `DATABASE_URL`; otherwise the
//! SQLite file in the data dir, created and migrated on first use.

mod remote;
mod render;

use crate::commands::Global;
use crate::gateway_client::GatewayClient;
use crate::output::JsonArgs;
use clap::{Args, Subcommand};
use mosaic_backlog::api::{CompleteBody, FailBody, RenewBody};
use mosaic_backlog::{
    Backlog, Card, CardId, ClaimRequest, Completion, DEFAULT_CLAIM_TTL_SECONDS, ListFilter,
    NewCard, Owner, ReclaimResult, Stats, Status,
};

/// `mosaic fleet backlog [--gateway URL --token T] <action>`.
#[derive(Debug, Args)]
pub struct BacklogCommand {
    #[command(flatten)]
    target: TargetArgs,
    #[command(subcommand)]
    action: Action,
}

/// Where the backlog lives when it is not the local store.
#[derive(Debug, Clone, Args)]
struct TargetArgs {
    /// Use the backlog of the gateway at this URL instead of a local store
    /// [env: MOSAIC_GATEWAY_URL, unless --data-dir or --database-url is given].
    #[arg(long, global = true, value_name = "URL")]
    gateway: Option<String>,
    /// API token for --gateway, a user or admin token [env: MOSAIC_TOKEN]
    /// [config: client.token].
    #[arg(long, global = true, value_name = "TOKEN")]
    token: Option<String>,
}

/// Backlog actions. Each prints a readable table, or JSON with `--json`.
#[derive(Debug, Subcommand)]
enum Action {
    /// Create a card; a repeated idempotency key returns the existing card.
    Create(CreateArgs),
    /// List cards, highest priority first.
    List {
        /// Only this status.
        #[arg(long)]
        status: Option<Status>,
        /// Only this phase.
        #[arg(long)]
        phase: Option<String>,
        /// Only cards a claim could take now: ready with every dependency done.
        #[arg(long)]
        ready_only: bool,
        #[command(flatten)]
        out: JsonArgs,
    },
    /// Show one card: status, claim, attempts, dependencies.
    Get {
        /// The card.
        id: CardId,
        #[command(flatten)]
        out: JsonArgs,
    },
    /// Claim the highest-priority ready card (or --id); prints it, or null.
    Claim {
        /// Who holds the claim; needed to renew, release, fail or complete it.
        #[arg(long)]
        owner: Owner,
        /// Claim length in seconds.
        #[arg(long = "ttl", default_value_t = DEFAULT_CLAIM_TTL_SECONDS, value_name = "SECONDS")]
        ttl_seconds: u32,
        /// Claim this card only.
        #[arg(long)]
        id: Option<CardId>,
        #[command(flatten)]
        out: JsonArgs,
    },
    /// Restart a claim's TTL from now (owner only).
    Renew {
        /// The card.
        #[arg(long)]
        id: CardId,
        /// The claim's holder.
        #[arg(long)]
        owner: Owner,
        /// New claim length in seconds (default: the current one).
        #[arg(long = "ttl", value_name = "SECONDS")]
        ttl_seconds: Option<u32>,
        #[command(flatten)]
        out: JsonArgs,
    },
    /// Give a claim up: the card is ready again at once (owner only).
    Release {
        /// The card.
        #[arg(long)]
        id: CardId,
        /// The claim's holder.
        #[arg(long)]
        owner: Owner,
        #[command(flatten)]
        out: JsonArgs,
    },
    /// Return expired claims to ready (or one card's claim, expired or not).
    Reclaim {
        /// Release this card's claim whoever holds it.
        #[arg(long)]
        id: Option<CardId>,
        #[command(flatten)]
        out: JsonArgs,
    },
    /// Make --from depend on --to.
    Link {
        /// The card that waits.
        #[arg(long)]
        from: CardId,
        /// The card it waits for.
        #[arg(long)]
        to: CardId,
        #[command(flatten)]
        out: JsonArgs,
    },
    /// Counts per status, the oldest ready card's age, expired claims.
    Stats {
        #[command(flatten)]
        out: JsonArgs,
    },
    /// Park a card: it is never claimed until unblocked.
    Block {
        /// The card.
        #[arg(long)]
        id: CardId,
        #[command(flatten)]
        out: JsonArgs,
    },
    /// Return a blocked card to ready with a fresh attempt budget.
    Unblock {
        /// The card.
        #[arg(long)]
        id: CardId,
        #[command(flatten)]
        out: JsonArgs,
    },
    /// Mark a card done and release its claim.
    Complete {
        /// The card.
        #[arg(long)]
        id: CardId,
        /// The claim's holder.
        #[arg(long, required_unless_present = "force")]
        owner: Option<Owner>,
        /// Complete it whoever holds it, from any status.
        #[arg(long, conflicts_with = "owner")]
        force: bool,
        #[command(flatten)]
        out: JsonArgs,
    },
    /// Report a failed attempt: back to ready, or blocked after max attempts.
    Fail {
        /// The card.
        #[arg(long)]
        id: CardId,
        /// The claim's holder.
        #[arg(long)]
        owner: Owner,
        /// What went wrong.
        #[arg(long)]
        error: String,
        #[command(flatten)]
        out: JsonArgs,
    },
}

/// `backlog create`.
#[derive(Debug, Args)]
struct CreateArgs {
    /// Stable id, e.g. A4 or fleet-001.
    #[arg(long)]
    id: CardId,
    /// Short title.
    #[arg(long)]
    title: String,
    /// Free-form description.
    #[arg(long)]
    body: Option<String>,
    /// Board column or milestone label.
    #[arg(long)]
    phase: Option<String>,
    /// Higher is sooner.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    priority: i32,
    /// Cards that must be done first (comma-separated or repeated).
    #[arg(long, value_delimiter = ',', value_name = "ID")]
    depends_on: Vec<CardId>,
    /// One acceptance criterion (repeat for several).
    #[arg(long, value_name = "TEXT", conflicts_with = "acceptance_json")]
    acceptance: Vec<String>,
    /// Acceptance criteria as any JSON value.
    #[arg(long, value_name = "JSON")]
    acceptance_json: Option<String>,
    /// Makes create idempotent: the same key returns the same card.
    #[arg(long)]
    idempotency_key: Option<String>,
    /// Initial status: ready (default), blocked or done.
    #[arg(long)]
    status: Option<Status>,
    /// Claims `fail` allows before it parks the card as blocked.
    #[arg(long)]
    max_attempts: Option<u32>,
    #[command(flatten)]
    out: JsonArgs,
}

impl CreateArgs {
    /// The card to create; `--acceptance-json` must be JSON.
    fn into_card(self) -> anyhow::Result<NewCard> {
        let acceptance = match self.acceptance_json {
            Some(text) => Some(
                serde_json::from_str(&text)
                    .map_err(|e| anyhow::anyhow!("--acceptance-json is not valid JSON: {e}"))?,
            ),
            None if self.acceptance.is_empty() => None,
            None => Some(serde_json::json!(self.acceptance)),
        };
        Ok(NewCard {
            id: self.id,
            title: self.title,
            body: self.body,
            phase: self.phase,
            priority: self.priority,
            depends_on: self.depends_on,
            acceptance,
            idempotency_key: self.idempotency_key,
            status: self.status,
            max_attempts: self.max_attempts,
        })
    }
}

/// One backlog operation, as either target runs it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    Create(NewCard),
    List(ListFilter),
    Get(CardId),
    Claim(ClaimRequest),
    Renew(CardId, RenewBody),
    Release(CardId, Owner),
    Reclaim(Option<CardId>),
    Link(CardId, CardId),
    Stats,
    Block(CardId),
    Unblock(CardId),
    Complete(CardId, CompleteBody),
    Fail(CardId, FailBody),
}

/// What an operation answers.
#[derive(Debug)]
pub(crate) enum Outcome {
    Card(Card),
    Claimed(Option<Card>),
    Cards(Vec<Card>),
    Reclaimed(ReclaimResult),
    Stats(Stats),
}

impl Action {
    /// The operation and whether to print JSON.
    fn into_op(self) -> anyhow::Result<(Op, bool)> {
        Ok(match self {
            Action::Create(a) => {
                let json = a.out.json;
                (Op::Create(a.into_card()?), json)
            }
            Action::List {
                status,
                phase,
                ready_only,
                out: JsonArgs { json },
            } => (
                Op::List(ListFilter {
                    status,
                    phase,
                    ready_only,
                }),
                json,
            ),
            Action::Get {
                id,
                out: JsonArgs { json },
            } => (Op::Get(id), json),
            Action::Claim {
                owner,
                ttl_seconds,
                id,
                out: JsonArgs { json },
            } => (
                Op::Claim(ClaimRequest {
                    owner,
                    ttl_seconds: Some(ttl_seconds),
                    id,
                }),
                json,
            ),
            Action::Renew {
                id,
                owner,
                ttl_seconds,
                out: JsonArgs { json },
            } => (Op::Renew(id, RenewBody { owner, ttl_seconds }), json),
            Action::Release {
                id,
                owner,
                out: JsonArgs { json },
            } => (Op::Release(id, owner), json),
            Action::Reclaim {
                id,
                out: JsonArgs { json },
            } => (Op::Reclaim(id), json),
            Action::Link {
                from,
                to,
                out: JsonArgs { json },
            } => (Op::Link(from, to), json),
            Action::Stats {
                out: JsonArgs { json },
            } => (Op::Stats, json),
            Action::Block {
                id,
                out: JsonArgs { json },
            } => (Op::Block(id), json),
            Action::Unblock {
                id,
                out: JsonArgs { json },
            } => (Op::Unblock(id), json),
            Action::Complete {
                id,
                owner,
                force,
                out: JsonArgs { json },
            } => (Op::Complete(id, CompleteBody { owner, force }), json),
            Action::Fail {
                id,
                owner,
                error,
                out: JsonArgs { json },
            } => (Op::Fail(id, FailBody { owner, error }), json),
        })
    }
}

/// Runs a `mosaic fleet backlog` command.
pub async fn run(global: &Global, cmd: BacklogCommand) -> anyhow::Result<()> {
    let (op, json) = cmd.action.into_op()?;
    let outcome = match remote_gateway(global, &cmd.target)? {
        Some(url) => {
            let token = crate::settings::token(cmd.target.token.as_deref(), "--token")?;
            let client = GatewayClient::new(&url, token.as_ref().map(|t| t.value.as_str()))?
                .require_token(
                    "--gateway needs a token: pass --token, set MOSAIC_TOKEN or run `mosaic login` (issue one on the gateway's host)",
                )?;
            remote::run(&client, op).await?
        }
        None => {
            let store = global.store().await?;
            store.migrate().await?;
            let result = local(&Backlog::new(&store), op).await;
            store.close().await?;
            result?
        }
    };
    if json {
        render::json(&outcome)
    } else {
        render::human(&outcome);
        Ok(())
    }
}

/// The gateway whose backlog to use, or `None` for the local store. Flags
/// win over the environment: `--gateway` goes remote, `--data-dir` or
/// `--database-url` stays local even with `MOSAIC_GATEWAY_URL` exported;
/// with neither flag, `MOSAIC_GATEWAY_URL` goes remote. A gateway URL kept in
/// the config file by `mosaic login` does not move the backlog off this host.
fn remote_gateway(global: &Global, target: &TargetArgs) -> anyhow::Result<Option<String>> {
    let local_flag = global.data_dir.is_some() || global.database_url.is_some();
    match (target.gateway.as_deref(), local_flag) {
        (Some(_), true) => anyhow::bail!(
            "--gateway and --data-dir/--database-url name two different backlogs: pass one of them"
        ),
        (Some(url), false) => Ok(Some(url.to_owned())),
        (None, true) => Ok(None),
        (None, false) => Ok(std::env::var(crate::settings::GATEWAY_ENV)
            .ok()
            .filter(|v| !v.trim().is_empty())),
    }
}

/// Runs `op` on a local store.
async fn local(backlog: &Backlog, op: Op) -> anyhow::Result<Outcome> {
    Ok(match op {
        Op::Create(card) => Outcome::Card(backlog.create(card).await?),
        Op::List(filter) => Outcome::Cards(backlog.list(&filter).await?),
        Op::Get(id) => Outcome::Card(
            backlog
                .get(&id)
                .await?
                .ok_or(mosaic_backlog::BacklogError::NotFound { id })?,
        ),
        Op::Claim(req) => Outcome::Claimed(backlog.claim(&req).await?),
        Op::Renew(id, body) => {
            Outcome::Card(backlog.renew(&id, &body.owner, body.ttl_seconds).await?)
        }
        Op::Release(id, owner) => Outcome::Card(backlog.release(&id, &owner).await?),
        Op::Reclaim(id) => Outcome::Reclaimed(backlog.reclaim(id.as_ref()).await?),
        Op::Link(from, to) => Outcome::Card(backlog.link(&from, &to).await?),
        Op::Stats => Outcome::Stats(backlog.stats().await?),
        Op::Block(id) => Outcome::Card(backlog.block(&id).await?),
        Op::Unblock(id) => Outcome::Card(backlog.unblock(&id).await?),
        Op::Complete(id, body) => {
            let by = match body.owner {
                Some(owner) if !body.force => Completion::Owner(owner),
                _ => Completion::Forced,
            };
            Outcome::Card(backlog.complete(&id, &by).await?)
        }
        Op::Fail(id, body) => Outcome::Card(backlog.fail(&id, &body.owner, &body.error).await?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        cmd: BacklogCommand,
    }

    fn op(args: &[&str]) -> (Op, bool) {
        let cli = Cli::try_parse_from(std::iter::once("backlog").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
        cli.cmd.action.into_op().unwrap()
    }

    fn id(s: &str) -> CardId {
        CardId::new(s).unwrap()
    }

    #[test]
    fn create_takes_the_seed_flags() {
        let (op, json) = op(&[
            "create",
            "--id",
            "A2",
            "--title",
            "service",
            "--depends-on",
            "A1,A0",
            "--depends-on",
            "Z",
            "--priority",
            "-2",
            "--acceptance",
            "tests pass",
            "--acceptance",
            "docs",
            "--idempotency-key",
            "k",
            "--json",
        ]);
        assert!(json);
        let Op::Create(card) = op else {
            panic!("{op:?}")
        };
        assert_eq!(card.depends_on, vec![id("A1"), id("A0"), id("Z")]);
        assert_eq!(card.priority, -2);
        assert_eq!(
            card.acceptance,
            Some(serde_json::json!(["tests pass", "docs"]))
        );
        assert_eq!(card.idempotency_key.as_deref(), Some("k"));
    }

    #[test]
    fn acceptance_json_takes_any_value() {
        let (op, _) = op(&[
            "create",
            "--id",
            "a",
            "--title",
            "t",
            "--acceptance-json",
            r#"{"ci":"green"}"#,
        ]);
        let Op::Create(card) = op else {
            panic!("{op:?}")
        };
        assert_eq!(card.acceptance, Some(serde_json::json!({"ci": "green"})));
        let cli = Cli::try_parse_from([
            "backlog",
            "create",
            "--id",
            "a",
            "--title",
            "t",
            "--acceptance-json",
            "{",
        ])
        .unwrap();
        let err = cli.cmd.action.into_op().unwrap_err().to_string();
        assert!(err.contains("--acceptance-json"), "{err}");
    }

    #[test]
    fn claim_defaults_to_the_standard_ttl() {
        let (op, json) = op(&["claim", "--owner", "w-1"]);
        assert!(!json);
        assert_eq!(
            op,
            Op::Claim(ClaimRequest {
                owner: Owner::new("w-1").unwrap(),
                ttl_seconds: Some(900),
                id: None
            })
        );
        let (op, _) = op_with_ttl();
        assert!(matches!(
            op,
            Op::Claim(ClaimRequest {
                ttl_seconds: Some(600),
                id: Some(_),
                ..
            })
        ));
    }

    fn op_with_ttl() -> (Op, bool) {
        op(&[
            "claim", "--owner", "w", "--ttl", "600", "--id", "A1", "--json",
        ])
    }

    #[test]
    fn complete_needs_an_owner_or_force() {
        assert!(
            Cli::try_parse_from(["backlog", "complete", "--id", "a"]).is_err(),
            "neither --owner nor --force"
        );
        assert!(
            Cli::try_parse_from([
                "backlog", "complete", "--id", "a", "--owner", "w", "--force"
            ])
            .is_err()
        );
        let (op, _) = op(&["complete", "--id", "a", "--force"]);
        assert_eq!(
            op,
            Op::Complete(
                id("a"),
                CompleteBody {
                    owner: None,
                    force: true
                }
            )
        );
    }

    #[test]
    fn gateway_flags_go_before_or_after_the_action() {
        let cli = Cli::try_parse_from([
            "backlog",
            "stats",
            "--gateway",
            "http://gw:7420",
            "--token",
            "t",
        ])
        .unwrap();
        assert_eq!(cli.cmd.target.gateway.as_deref(), Some("http://gw:7420"));
        assert_eq!(cli.cmd.target.token.as_deref(), Some("t"));
    }

    #[test]
    fn bad_ids_and_statuses_are_flag_errors() {
        assert!(Cli::try_parse_from(["backlog", "block", "--id", " "]).is_err());
        let err = Cli::try_parse_from(["backlog", "list", "--status", "open"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("ready, claimed, blocked, done"), "{err}");
    }
}
