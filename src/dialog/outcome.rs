//! What a step did to the self-service flows (`FlowOutcome`): started, completed, or abandoned
//! and why. The dialog says it, because only the dialog knows; the engine counts it.

use super::keys::ResponseKey;
use super::state::{Flow, State};

/// How a flow that was in progress ended without completing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Abandon {
    Cancelled,
    Expired,
    Handoff,
    /// Another of the three flows was started.
    Switched,
    RateLimited,
    /// Goodbye, or anything else that ended it.
    Other,
}

/// Why the dialog itself ends whatever flow is in progress, in precedence order: when a step
/// says two of them (a refusal, then a hand-over), the first in this order is the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Ending {
    Cancelled,
    Expired,
    RateLimited,
    Handoff,
}

impl Ending {
    /// What the dialog says when it ends a flow so.
    pub(super) fn key(self) -> ResponseKey {
        match self {
            Ending::Cancelled => ResponseKey::Cancelled,
            Ending::Expired => ResponseKey::SessionExpired,
            Ending::RateLimited => ResponseKey::RateLimited,
            Ending::Handoff => ResponseKey::Handoff,
        }
    }
}

impl From<Ending> for Abandon {
    fn from(ending: Ending) -> Abandon {
        match ending {
            Ending::Cancelled => Abandon::Cancelled,
            Ending::Expired => Abandon::Expired,
            Ending::RateLimited => Abandon::RateLimited,
            Ending::Handoff => Abandon::Handoff,
        }
    }
}

/// One thing a step did to a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowOutcome {
    Started(Flow),
    Completed(Flow),
    Abandoned(Flow, Abandon),
}

/// What a step that left `before` for `next`, ended flows for `ended` and completed
/// `completed` did to the flows: at most one start, one completion and one abandonment. A
/// flow completed from elsewhere (a balance shown again from idle) counts as started too.
pub(super) fn outcomes(
    before: Option<Flow>,
    next: &State,
    ended: Option<Ending>,
    completed: Option<Flow>,
) -> Vec<FlowOutcome> {
    let after = next.flow();
    let started = match (after, completed) {
        (Some(flow), _) if after != before => Some(flow),
        (_, Some(flow)) if before != Some(flow) => Some(flow),
        _ => None,
    };
    let abandoned = before
        .filter(|&flow| after != Some(flow) && completed != Some(flow))
        .map(|flow| {
            let reason = ended.map_or(
                if started.is_some() {
                    Abandon::Switched
                } else {
                    Abandon::Other
                },
                Abandon::from,
            );
            FlowOutcome::Abandoned(flow, reason)
        });
    started
        .map(FlowOutcome::Started)
        .into_iter()
        .chain(completed.map(FlowOutcome::Completed))
        .chain(abandoned)
        .collect()
}
