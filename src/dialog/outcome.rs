//! What a step did to the self-service flows (`FlowOutcome`): started, completed, or abandoned
//! and why. The dialog says it, because only the dialog knows; the engine counts it.

use super::keys::ResponseKey;
use super::reply::{Reply, ReplyKey};
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
    // (precedence, reason): the lowest precedence among the replies wins.
    let reason = |reply: &Reply| match reply.key {
        ReplyKey::Fixed(ResponseKey::Cancelled) => Some((0, Abandon::Cancelled)),
        ReplyKey::Fixed(ResponseKey::SessionExpired) => Some((1, Abandon::Expired)),
        ReplyKey::Fixed(ResponseKey::RateLimited) => Some((2, Abandon::RateLimited)),
        ReplyKey::Fixed(ResponseKey::Handoff) => Some((3, Abandon::Handoff)),
        _ => None,
    };
    replies
        .iter()
        .filter_map(reason)
        .min_by_key(|&(precedence, _)| precedence)
        .map(|(_, reason)| reason)
}
