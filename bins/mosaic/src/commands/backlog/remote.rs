//! The backlog through a gateway's HTTP API.

use super::{Op, Outcome};
use crate::gateway_client::{ApiPath, GatewayClient, GatewayError};
use mosaic_backlog::api::{self, CardAction, LinkBody, OwnerBody, ReclaimBody};
use reqwest::Method;
use serde::de::DeserializeOwned;

/// One HTTP request: method, path and query below the gateway URL, body.
#[derive(Debug, PartialEq)]
pub(crate) struct Request {
    pub method: Method,
    pub path: ApiPath,
    pub body: Option<serde_json::Value>,
}

fn card_action(id: &mosaic_backlog::CardId, action: CardAction) -> ApiPath {
    ApiPath::new(api::CARDS)
        .seg(id.as_str())
        .seg(action.segment())
}

fn body(value: impl serde::Serialize) -> anyhow::Result<Option<serde_json::Value>> {
    Ok(Some(serde_json::to_value(value)?))
}

/// The request for `op`. Card ids become single path segments, so any id the
/// backlog accepts survives the URL.
pub(crate) fn request(op: &Op) -> anyhow::Result<Request> {
    let post = |path, body| Request {
        method: Method::POST,
        path,
        body,
    };
    let get = |path| Request {
        method: Method::GET,
        path,
        body: None,
    };
    Ok(match op {
        Op::Create(card) => post(ApiPath::new(api::CARDS), body(card)?),
        Op::List(filter) => get(ApiPath::new(api::CARDS)
            .query_opt("status", filter.status.map(|s| s.as_str()))
            .query_opt("phase", filter.phase.as_ref())
            .query_opt("readyOnly", filter.ready_only.then_some(true))),
        Op::Get(id) => get(ApiPath::new(api::CARDS).seg(id.as_str())),
        Op::Claim(req) => post(ApiPath::new(api::CLAIM), body(req)?),
        Op::Renew(id, renew) => post(card_action(id, CardAction::Renew), body(renew)?),
        Op::Release(id, owner) => post(
            card_action(id, CardAction::Release),
            body(OwnerBody {
                owner: owner.clone(),
            })?,
        ),
        Op::Reclaim(id) => post(
            ApiPath::new(api::RECLAIM),
            body(ReclaimBody { id: id.clone() })?,
        ),
        Op::Link(from, to) => post(
            card_action(from, CardAction::Link),
            body(LinkBody { to: to.clone() })?,
        ),
        Op::Stats => get(ApiPath::new(api::STATS)),
        Op::Block(id) => post(card_action(id, CardAction::Block), None),
        Op::Unblock(id) => post(card_action(id, CardAction::Unblock), None),
        Op::Complete(id, complete) => post(card_action(id, CardAction::Complete), body(complete)?),
        Op::Fail(id, fail) => post(card_action(id, CardAction::Fail), body(fail)?),
    })
}

/// Sends `op` through `client` and decodes the answer.
pub(crate) async fn run(client: &GatewayClient, op: Op) -> anyhow::Result<Outcome> {
    let req = request(&op)?;
    Ok(match op {
        Op::List(_) => Outcome::Cards(send(client, req).await?),
        Op::Claim(_) => Outcome::Claimed(send(client, req).await?),
        Op::Reclaim(_) => Outcome::Reclaimed(send(client, req).await?),
        Op::Stats => Outcome::Stats(send(client, req).await?),
        _ => Outcome::Card(send(client, req).await?),
    })
}

async fn send<T: DeserializeOwned>(
    client: &GatewayClient,
    req: Request,
) -> Result<T, GatewayError> {
    match (req.method, req.body) {
        (Method::GET, _) => client.get(&req.path).await,
        (_, Some(body)) => client.post(&req.path, &body).await,
        (_, None) => client.post_empty(&req.path).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mosaic_backlog::api::CompleteBody;
    use mosaic_backlog::{CardId, ListFilter, Owner, Status};
    use serde_json::json;

    fn id(s: &str) -> CardId {
        CardId::new(s).unwrap()
    }

    #[test]
    fn lists_pass_the_filter_as_query() {
        let req = request(&Op::List(ListFilter {
            status: Some(Status::Ready),
            phase: Some("M 1".into()),
            ready_only: true,
        }))
        .unwrap();
        assert_eq!(req.method, Method::GET);
        assert_eq!(req.path.segments().join("/"), "api/fleet/v1/backlog/cards");
        assert_eq!(
            req.path.query_pairs(),
            [
                ("status", "ready".to_owned()),
                ("phase", "M 1".to_owned()),
                ("readyOnly", "true".to_owned())
            ]
        );
    }

    #[test]
    fn card_actions_post_their_bodies_under_the_card() {
        let req = request(&Op::Complete(
            id("A1"),
            CompleteBody {
                owner: Some(Owner::new("w").unwrap()),
                force: false,
            },
        ))
        .unwrap();
        assert_eq!(req.method, Method::POST);
        assert_eq!(
            req.path.segments().join("/"),
            "api/fleet/v1/backlog/cards/A1/complete"
        );
        assert_eq!(req.body, Some(json!({"owner": "w"})));
        let req = request(&Op::Link(id("a"), id("b"))).unwrap();
        assert_eq!(req.body, Some(json!({"to": "b"})));
        assert_eq!(request(&Op::Block(id("a"))).unwrap().body, None);
    }

    #[test]
    fn ids_are_encoded_as_one_segment() {
        let req = request(&Op::Block(id("a/b c?"))).unwrap();
        let base = reqwest::Url::parse("http://gw:7420/prefix/").unwrap();
        assert_eq!(
            req.path.url(&base).as_str(),
            "http://gw:7420/prefix/api/fleet/v1/backlog/cards/a%2Fb%20c%3F/block"
        );
    }
}
