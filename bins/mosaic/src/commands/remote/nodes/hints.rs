//! Refusals of the agent-node API that say what went wrong and what to do:
//! the [`GatewayClient`]'s errors with a hint per request and status.

use crate::gateway_client::{Connection, GatewayClient, GatewayError, Refusal};

/// The token these commands need, said before anything is sent.
const USER_TOKEN_NEEDED: &str = "this command needs a user token: pass --token or set MOSAIC_TOKEN (`mosaic user token <user>` issues one)";

/// A client for `conn`; fails without a token.
pub fn user_client(conn: &Connection) -> anyhow::Result<GatewayClient> {
    Ok(conn.client()?.require_token(USER_TOKEN_NEEDED)?)
}

/// What a request is about, to say how to fix a refusal.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// `POST /api/nodes/invite`.
    Invite,
    /// `GET /api/nodes`.
    Nodes,
    /// One node.
    Node(&'a str),
    /// `GET|POST /api/sessions`.
    Sessions,
    /// One session.
    Session(&'a str),
    /// Attaching `node` to `session`.
    Attach {
        /// Session id.
        session: &'a str,
        /// Node id.
        node: &'a str,
    },
    /// Dispatching a command in `session`.
    Dispatch {
        /// Session id.
        session: &'a str,
    },
    /// One task (or its output).
    Task {
        /// Session id.
        session: &'a str,
        /// Task id.
        task: &'a str,
    },
    /// Cancelling a task.
    Cancel {
        /// Session id.
        session: &'a str,
        /// Task id.
        task: &'a str,
    },
}

/// How to fix a refusal with `status` of a request about `target`.
pub fn hint(target: Target<'_>, status: u16) -> Option<String> {
    use Target as T;
    let h = match (status, target) {
        (401, _) => "check --token or MOSAIC_TOKEN: it must be a valid user token (`mosaic user token <user>` issues one)".to_owned(),
        (403, _) => "nodes and sessions take a user token, not an admin token: `mosaic user token <user>` issues one".to_owned(),
        (404, T::Node(id)) => format!("you have no node `{id}`: `mosaic node ls` lists your nodes"),
        (404, T::Session(id)) => {
            format!("you have no session `{id}`: `mosaic session ls` lists your sessions")
        }
        (404, T::Attach { .. }) => "check the session (`mosaic session ls`) and the node (`mosaic node ls`)".to_owned(),
        (404, T::Dispatch { session }) => format!(
            "check the session (`mosaic session ls`) and --node (`mosaic session show {session}` lists its nodes)"
        ),
        (404, T::Task { session, task } | T::Cancel { session, task }) => format!(
            "no task `{task}` in session `{session}`: `mosaic session logs {session}` lists its tasks"
        ),
        (404, T::Invite | T::Nodes | T::Sessions) => "this gateway has no agent-node API: it may predate agent nodes (upgrade it), or --gateway points elsewhere".to_owned(),
        (409, T::Attach { session, node }) => format!(
            "the session may be closed, or node `{node}` not available to it: `mosaic session show {session}`, `mosaic node show {node}`"
        ),
        (409 | 503, T::Dispatch { session }) => format!(
            "the node must be online and attached to an active session: `mosaic session show {session}`, `mosaic node ls`; with several nodes attached, pick one with --node"
        ),
        (409, T::Cancel { session, task }) => format!(
            "the task may have ended already: `mosaic session logs {session} {task}`"
        ),
        (409, T::Node(id)) => format!("see `mosaic node show {id}`"),
        (400 | 422, T::Invite) => "check --name, --ttl (1m to 7d) and the policy flags (--strict --allow …, or --deny …)".to_owned(),
        (400 | 422, T::Dispatch { .. }) => "check the command, --node (needed when several nodes are attached), --cwd and --timeout".to_owned(),
        (400 | 422, T::Attach { .. }) => "check the node id: `mosaic node ls` lists your nodes".to_owned(),
        (400 | 422, T::Sessions) => "check --name".to_owned(),
        (429, _) => "too many requests: retry in a moment".to_owned(),
        (500..=599, _) => "the gateway failed: retry, or look at its log".to_owned(),
        _ => return None,
    };
    Some(h)
}

/// The hint for a refusal of a request about `target`. A 404 without the
/// envelope comes from the router: no such endpoint.
fn hint_for(target: Target<'_>, r: &Refusal) -> Option<String> {
    if r.status() == 404 && !r.has_envelope() {
        return Some(
            "this gateway has no such endpoint: it may predate agent nodes (upgrade it), or --gateway points elsewhere"
                .to_owned(),
        );
    }
    hint(target, r.status())
}

/// Adds the hint for `target` to a gateway call's error.
pub trait Hinted<T> {
    /// The result, its refusal (if any) with the hint for `target`.
    fn about(self, target: Target<'_>) -> anyhow::Result<T>;
}

impl<T> Hinted<T> for Result<T, GatewayError> {
    fn about(self, target: Target<'_>) -> anyhow::Result<T> {
        self.map_err(|e| e.with_hint(|r| hint_for(target, r)).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GW: &str = "http://127.0.0.1:7420";

    fn refusal(status: u16, body: &[u8], target: Target<'_>) -> String {
        let e = GatewayError::refused(Refusal::new(GW, status, body));
        Err::<(), _>(e).about(target).unwrap_err().to_string()
    }

    #[test]
    fn refusals_carry_the_envelope_and_a_hint() {
        let body = br#"{"error":{"code":"not_found","message":"node n1 not found"}}"#;
        let e = refusal(404, body, Target::Node("n1"));
        assert_eq!(
            e,
            "the gateway at http://127.0.0.1:7420 refused (404): not_found: node n1 not found; you have no node `n1`: `mosaic node ls` lists your nodes"
        );
        let e = refusal(
            401,
            br#"{"error":{"code":"unauthorized","message":"bad token"}}"#,
            Target::Nodes,
        );
        assert!(
            e.contains("(401): unauthorized: bad token; check --token"),
            "{e}"
        );
        assert!(!e.contains('\n'));
    }

    #[test]
    fn a_bare_404_means_a_missing_endpoint() {
        let e = refusal(404, b"", Target::Session("s"));
        assert!(e.contains("no details"), "{e}");
        assert!(
            e.contains("no such endpoint: it may predate agent nodes"),
            "{e}"
        );
    }

    #[test]
    fn text_bodies_stay_on_one_line() {
        let e = refusal(
            422,
            b"Failed to deserialize the JSON body\ninto the target type",
            Target::Dispatch { session: "s" },
        );
        assert!(!e.contains('\n'), "{e}");
        assert!(e.contains("(422): Failed to deserialize"), "{e}");
        assert!(e.contains("--node"), "{e}");
    }

    #[test]
    fn each_status_gets_a_fitting_hint() {
        let t = Target::Task {
            session: "s",
            task: "t",
        };
        assert!(hint(t, 404).unwrap().contains("mosaic session logs s"));
        assert!(
            hint(
                Target::Cancel {
                    session: "s",
                    task: "t"
                },
                409
            )
            .unwrap()
            .contains("mosaic session logs s t")
        );
        assert!(hint(Target::Invite, 422).unwrap().contains("--ttl"));
        assert!(hint(Target::Nodes, 403).unwrap().contains("token"));
        assert!(hint(Target::Nodes, 502).unwrap().contains("log"));
        assert_eq!(hint(Target::Nodes, 409), None);
    }

    #[test]
    fn a_missing_token_is_refused_before_any_request() {
        let conn = Connection {
            gateway: Some("http://127.0.0.1:1".into()),
            token: None,
        };
        let e = user_client(&conn).unwrap_err().to_string();
        assert!(e.contains("--token"), "{e}");
    }
}
