//! What a step did to the self-service flows (`FlowOutcome`): started, completed, or abandoned
//! and why. The dialog says it, because only the dialog knows; the engine counts it.

use super::reply::Reply;
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

/// One thing a step did to a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowOutcome {
    Started(Flow),
    Completed(Flow),
    Abandoned(Flow, Abandon),
}

/// What a step that left `before` for `next`, said `replies` and completed `completed` did to
/// the flows: at most one start, one completion and one abandonment. A flow completed from
/// elsewhere (a balance shown again from idle) counts as started too.
pub(super) fn outcomes(
    before: Option<Flow>,
    next: &State,
    replies: &[Reply],
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
            let reason = ending(replies).unwrap_or(if started.is_some() {
                Abandon::Switched
            } else {
                Abandon::Other
            });
            FlowOutcome::Abandoned(flow, reason)
        });
    started
        .map(FlowOutcome::Started)
        .into_iter()
        .chain(completed.map(FlowOutcome::Completed))
        .chain(abandoned)
        .collect()
}

/// Why the step's own words end a flow, the first that applies: a cancel, an expiry, a refusal
/// by the limits, a hand-over.
fn ending(replies: &[Reply]) -> Option<Abandon> {
    let said = |key: &str| replies.iter().any(|reply| reply.key == key);
    [
        ("cancelled", Abandon::Cancelled),
        ("session_expired", Abandon::Expired),
        ("rate_limited", Abandon::RateLimited),
        ("handoff", Abandon::Handoff),
    ]
    .into_iter()
    .find_map(|(key, reason)| said(key).then_some(reason))
}
