//! Pure roster edits and the invariants they keep: R5 (one orchestrator) and
//! the two-agent floor (an orchestrator and at least one enhancer).

use super::{Agent, ENHANCER, ORCHESTRATOR, Roster};
use crate::error::{Error, Result};

/// How many agents have the orchestrator class.
pub fn count_orchestrators(roster: &Roster) -> usize {
    roster
        .agents
        .iter()
        .filter(|a| a.class == ORCHESTRATOR)
        .count()
}

/// How many agents have the enhancer class.
pub fn count_enhancers(roster: &Roster) -> usize {
    roster.agents.iter().filter(|a| a.class == ENHANCER).count()
}

/// The roster without `name`. Refuses to drop the sole orchestrator (R5) or
/// the sole enhancer (two-agent floor); a roster that never had an enhancer
/// can still lose its other agents.
pub fn remove_agent(roster: &Roster, name: &str) -> Result<Roster> {
    let agent = roster.agent(name)?;
    let remaining: Vec<Agent> = roster
        .agents
        .iter()
        .filter(|a| a.name != name)
        .cloned()
        .collect();
    if agent.class == ORCHESTRATOR && !remaining.iter().any(|a| a.class == ORCHESTRATOR) {
        return Err(Error::SoleOrchestrator(name.to_owned()));
    }
    if agent.class == ENHANCER && !remaining.iter().any(|a| a.class == ENHANCER) {
        return Err(Error::SoleEnhancer(name.to_owned()));
    }
    Ok(Roster {
        agents: remaining,
        ..roster.clone()
    })
}

/// The roster with `agent` appended; refuses a name already present or one
/// equal to the holder session.
pub fn add_agent(roster: &Roster, agent: Agent) -> Result<Roster> {
    if roster.agents.iter().any(|a| a.name == agent.name)
        || agent.name == roster.tmux.holder_session.as_str()
    {
        return Err(Error::DuplicateAgent(agent.name.to_string()));
    }
    let mut next = roster.clone();
    next.agents.push(agent);
    Ok(next)
}
