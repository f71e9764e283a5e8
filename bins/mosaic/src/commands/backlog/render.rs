//! Printing backlog answers: JSON for programs, short tables for people.

use super::Outcome;
use crate::output;
use mosaic_backlog::{Card, Stats, Status};
use std::fmt::Write as _;

/// Prints the outcome as JSON: a card, `null`, a list, `{reclaimed}` or stats.
pub(crate) fn json(outcome: &Outcome) -> anyhow::Result<()> {
    match outcome {
        Outcome::Card(card) => output::json(card),
        Outcome::Claimed(card) => output::json(card),
        Outcome::Cards(cards) => output::json(cards),
        Outcome::Reclaimed(result) => output::json(result),
        Outcome::Stats(stats) => output::json(stats),
    }
}

/// Prints the outcome for people.
pub(crate) fn human(outcome: &Outcome) {
    print!("{}", text(outcome));
}

fn text(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Card(card) => card_text(card),
        Outcome::Claimed(Some(card)) => format!("claimed {}\n{}", card.id, card_text(card)),
        Outcome::Claimed(None) => {
            "nothing to claim: no ready card has all its dependencies done\n".to_owned()
        }
        Outcome::Cards(cards) => table(cards),
        Outcome::Reclaimed(result) if result.reclaimed.is_empty() => {
            "nothing reclaimed\n".to_owned()
        }
        Outcome::Reclaimed(result) => {
            let ids: Vec<&str> = result.reclaimed.iter().map(|id| id.as_str()).collect();
            format!("reclaimed {}: {}\n", ids.len(), ids.join(", "))
        }
        Outcome::Stats(stats) => stats_text(stats),
    }
}

fn or_dash(value: Option<&str>) -> &str {
    value.filter(|v| !v.is_empty()).unwrap_or("-")
}

fn card_text(card: &Card) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "id:         {}", card.id);
    let _ = writeln!(out, "title:      {}", card.title);
    let _ = writeln!(out, "status:     {}", card.status);
    let _ = writeln!(out, "priority:   {}", card.priority);
    let _ = writeln!(out, "phase:      {}", or_dash(card.phase.as_deref()));
    let deps: Vec<&str> = card.depends_on.iter().map(|d| d.as_str()).collect();
    let _ = writeln!(out, "depends on: {}", or_dash(Some(&deps.join(", "))));
    if card.status == Status::Claimed
        && let (Some(owner), Some(until)) = (&card.claim_owner, card.claim_expires_at())
    {
        let _ = writeln!(
            out,
            "claimed by: {owner} until {}",
            until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
    }
    let _ = writeln!(
        out,
        "attempts:   {} of {}",
        card.attempts, card.max_attempts
    );
    if let Some(error) = &card.last_error {
        let _ = writeln!(out, "last error: {error}");
    }
    if let Some(body) = &card.body {
        let _ = writeln!(out, "\n{body}");
    }
    out
}

fn table(cards: &[Card]) -> String {
    if cards.is_empty() {
        return "no cards\n".to_owned();
    }
    let rows: Vec<Vec<String>> = cards
        .iter()
        .map(|c| {
            let deps: Vec<&str> = c.depends_on.iter().map(|d| d.as_str()).collect();
            vec![
                c.id.to_string(),
                c.status.to_string(),
                c.priority.to_string(),
                or_dash(c.phase.as_deref()).to_owned(),
                or_dash(c.claim_owner.as_ref().map(|o| o.as_str())).to_owned(),
                or_dash(Some(&deps.join(","))).to_owned(),
                c.title.clone(),
            ]
        })
        .collect();
    let header = ["ID", "STATUS", "PRI", "PHASE", "OWNER", "DEPENDS", "TITLE"];
    let mut out = output::table(&header, &rows);
    out.push('\n');
    out
}

fn stats_text(stats: &Stats) -> String {
    let mut out = String::new();
    for status in Status::ALL {
        let _ = writeln!(
            out,
            "{:<8} {}",
            format!("{status}:"),
            stats.counts.get(status)
        );
    }
    let _ = writeln!(out, "total:   {}", stats.total);
    let age = stats
        .oldest_ready_age_seconds
        .map_or_else(|| "-".to_owned(), |s| format!("{s}s"));
    let _ = writeln!(out, "oldest ready card: {age}");
    let _ = writeln!(out, "expired claims:    {}", stats.expired_claim_count);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use mosaic_backlog::{CardId, Counts, Owner, ReclaimResult};

    fn card(id: &str, status: Status) -> Card {
        let at = chrono::DateTime::parse_from_rfc3339("2026-06-24T10:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        Card {
            id: CardId::new(id).unwrap(),
            title: format!("title {id}"),
            body: None,
            phase: Some("M1".into()),
            priority: 5,
            status,
            depends_on: vec![CardId::new("A0").unwrap()],
            claim_owner: (status == Status::Claimed).then(|| Owner::new("w-1").unwrap()),
            claim_ttl_seconds: (status == Status::Claimed).then_some(600),
            claimed_at: (status == Status::Claimed).then_some(at),
            attempts: 1,
            max_attempts: 5,
            idempotency_key: None,
            acceptance: None,
            last_error: None,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn lists_are_aligned_tables() {
        let text = text(&Outcome::Cards(vec![
            card("A1", Status::Claimed),
            card("A22", Status::Ready),
        ]));
        assert_eq!(
            text,
            "ID   STATUS   PRI  PHASE  OWNER  DEPENDS  TITLE\n\
             A1   claimed  5    M1     w-1    A0       title A1\n\
             A22  ready    5    M1     -      A0       title A22\n"
        );
        assert_eq!(super::text(&Outcome::Cards(vec![])), "no cards\n");
    }

    #[test]
    fn a_claimed_card_shows_its_owner_and_expiry() {
        let text = text(&Outcome::Claimed(Some(card("A1", Status::Claimed))));
        assert!(text.starts_with("claimed A1\n"), "{text}");
        assert!(
            text.contains("claimed by: w-1 until 2026-06-24T10:10:00Z"),
            "{text}"
        );
        assert!(super::text(&Outcome::Claimed(None)).starts_with("nothing to claim"));
    }

    #[test]
    fn reclaims_and_stats_read_as_sentences() {
        let result = ReclaimResult {
            reclaimed: vec![CardId::new("a").unwrap(), CardId::new("b").unwrap()],
        };
        assert_eq!(text(&Outcome::Reclaimed(result)), "reclaimed 2: a, b\n");
        let stats = Stats {
            counts: Counts {
                ready: 2,
                claimed: 1,
                blocked: 0,
                done: 3,
            },
            total: 6,
            oldest_ready_age_seconds: Some(42),
            expired_claim_count: 1,
        };
        let text = text(&Outcome::Stats(stats));
        assert!(text.starts_with("ready:   2\nclaimed: 1\n"), "{text}");
        assert!(text.contains("oldest ready card: 42s"), "{text}");
    }
}
