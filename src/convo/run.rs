//! Playing conversations (SPEC §10) against the real engine: each one on a fresh in-memory demo
//! app with its own manual clock, reporting pass or a readable diff. `tanya test` and
//! `cargo test` both go through [`run_all`].
//!
//! Matching rules: a `#me` block sends one message and starts a new turn (the previous turn's
//! unmatched messages are dropped); each `#bot` block takes the next message of the current
//! turn. Its text is matched against that message; `BUTTONS` looks at that message's buttons;
//! `INTENT`, `RESPONSE` and `ENTITIES` look at the whole turn.

use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::app::{self, App, BuildError};
use crate::clock::{ManualClock, Timestamp};
use crate::config::Config;
use crate::content::{Button, Content};
use crate::convo::parse::{
    Asserter, BotExpectation, Conversation, ConvoError, MeInput, MeTurn, Step, load_path,
};
use crate::convo::wildcard::wildcard_match;
use crate::engine::{HIDDEN_PASSWORD, IncomingMessage, Input, OutgoingMessage, TurnResult};
use crate::nlu::entities::Entity;
use crate::nlu::{IntentScore, Nlu};
use crate::store::SessionKey;

/// Where every conversation's clock starts: 2026-11-25T08:00:00Z, a weekday morning after the
/// demo members' balance date, so dates in replies are stable from run to run.
pub const START: Timestamp = Timestamp(1_795_593_600_000);

/// Session ids for the runner's conversations; unique within the process, so that log lines of
/// conversations running side by side can be told apart.
static NEXT_SESSION: AtomicU64 = AtomicU64::new(1);

/// What every conversation of a run shares: configuration, content and the NLU trained once.
#[derive(Clone)]
pub struct RunnerBase {
    pub config: Config,
    pub content: Arc<Content>,
    pub nlu: Arc<Nlu>,
}

impl RunnerBase {
    /// Loads `intents/` from the configuration and trains the NLU.
    pub fn new(config: Config) -> Result<RunnerBase, BuildError> {
        let content = Arc::new(app::load_content(&config)?);
        let nlu = Arc::new(Nlu::train(&content, config.nlu));
        Ok(RunnerBase {
            config,
            content,
            nlu,
        })
    }
}

/// The result of one conversation.
#[derive(Debug, Clone)]
pub enum Outcome {
    Passed,
    Failed(Box<Failure>),
}

impl Outcome {
    pub fn passed(&self) -> bool {
        matches!(self, Outcome::Passed)
    }
}

/// Why a conversation failed: the step, what it expected, what happened instead, and the turn
/// the step looked at.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The conversation file.
    pub source: PathBuf,
    /// The line of the failing `#me` or `#bot` block.
    pub line: usize,
    /// What the step required, e.g. `RESPONSE otp_sent in the turn`.
    pub expected: String,
    /// What was there instead.
    pub found: String,
    /// The turn the step was checking (for a `#me` step: the turn before it, if any).
    pub turn: Option<TurnReport>,
}

/// One turn as the failure report shows it.
#[derive(Debug, Clone)]
pub struct TurnReport {
    /// Line of the `#me` block that produced the turn.
    pub me_line: usize,
    /// What was sent, as a reader of the file recognises it (`BUTTON …`, `$otp`, the text).
    pub sent: String,
    pub intent: Option<IntentScore>,
    /// The entities found in the message, invalid ones with their problem: `kpj (wrong_length)`.
    pub entities: Vec<String>,
    pub messages: Vec<OutgoingMessage>,
    /// The message the failing step looked at, if it got that far.
    pub checked: Option<usize>,
}

/// One conversation's name, file and outcome.
#[derive(Debug, Clone)]
pub struct ConversationResult {
    pub name: String,
    pub source: PathBuf,
    pub outcome: Outcome,
}

/// The results of a run, in file order.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub results: Vec<ConversationResult>,
}

impl Summary {
    pub fn passed(&self) -> usize {
        self.results.iter().filter(|r| r.outcome.passed()).count()
    }

    pub fn failed(&self) -> usize {
        self.results.len() - self.passed()
    }

    /// The failed conversations.
    pub fn failures(&self) -> impl Iterator<Item = &ConversationResult> {
        self.results.iter().filter(|r| !r.outcome.passed())
    }

    /// The report `tanya test` prints: `ok   name` / `FAIL name` per conversation, the diff
    /// under each failure, and last `N passed, M failed` alone on its line.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for result in &self.results {
            match &result.outcome {
                Outcome::Passed => {
                    let _ = writeln!(out, "ok   {}", result.name);
                }
                Outcome::Failed(failure) => {
                    let _ = writeln!(out, "FAIL {}", result.name);
                    let _ = write!(out, "{failure}");
                }
            }
        }
        let _ = writeln!(out, "{} passed, {} failed", self.passed(), self.failed());
        out
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "  at {}:{}", self.source.display(), self.line)?;
        writeln!(f, "  expected: {}", self.expected)?;
        writeln!(f, "  found:    {}", self.found)?;
        if let Some(turn) = &self.turn {
            write!(f, "{turn}")?;
        }
        Ok(())
    }
}

impl fmt::Display for TurnReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "  the turn of #me at line {} (sent {:?}):",
            self.me_line, self.sent
        )?;
        match &self.intent {
            Some(intent) => writeln!(
                f,
                "    intent:   {} ({:.2})",
                intent.name, intent.confidence
            )?,
            None => writeln!(f, "    intent:   none (a button press or a password)")?,
        }
        if self.entities.is_empty() {
            writeln!(f, "    entities: none")?;
        } else {
            writeln!(f, "    entities: {}", self.entities.join(", "))?;
        }
        if self.messages.is_empty() {
            writeln!(f, "    messages: none")?;
        }
        for (index, message) in self.messages.iter().enumerate() {
            let marker = if self.checked == Some(index) {
                ">"
            } else {
                " "
            };
            writeln!(f, "  {marker} {}. [{}]", index + 1, message.key)?;
            for line in message.text.lines() {
                writeln!(f, "         | {line}")?;
            }
            if !message.buttons.is_empty() {
                writeln!(
                    f,
                    "         buttons: {}",
                    describe_buttons(&message.buttons)
                )?;
            }
        }
        Ok(())
    }
}

/// Runs every conversation under `paths` (files or directories), at most as many at a time
/// as there are CPUs. Fails only when a file cannot be loaded; failing conversations are in the
/// summary.
pub async fn run_all(paths: &[PathBuf], base: &RunnerBase) -> Result<Summary, ConvoError> {
    let mut conversations = Vec::new();
    for path in paths {
        conversations.extend(load_path(path)?);
    }
    let parallel = std::thread::available_parallelism().map_or(4, std::num::NonZero::get);
    let permits = Arc::new(tokio::sync::Semaphore::new(parallel));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, conversation) in conversations.iter().cloned().enumerate() {
        let base = base.clone();
        let permits = permits.clone();
        tasks.spawn(async move {
            // The semaphore is never closed, so acquiring only waits.
            let _permit = permits.acquire_owned().await;
            (index, run_conversation(&conversation, &base).await)
        });
    }
    let mut outcomes: Vec<Option<Outcome>> = vec![None; conversations.len()];
    // A task that panicked leaves its slot empty: that conversation fails, the run goes on.
    while let Some(joined) = tasks.join_next().await {
        if let Ok((index, outcome)) = joined {
            outcomes[index] = Some(outcome);
        }
    }
    let results = conversations
        .into_iter()
        .zip(outcomes)
        .map(|(conversation, outcome)| ConversationResult {
            outcome: outcome.unwrap_or_else(|| {
                Outcome::Failed(Box::new(Failure {
                    source: conversation.source.clone(),
                    line: 1,
                    expected: "the conversation to run to its end".into(),
                    found: "the engine panicked (see the panic message above)".into(),
                    turn: None,
                }))
            }),
            name: conversation.name,
            source: conversation.source,
        })
        .collect();
    Ok(Summary { results })
}

/// Plays one conversation on a fresh in-memory demo app whose clock starts at [`START`].
pub async fn run_conversation(conversation: &Conversation, base: &RunnerBase) -> Outcome {
    match play(conversation, base).await {
        Ok(()) => Outcome::Passed,
        Err(failure) => Outcome::Failed(failure),
    }
}

/// The turn being checked: the engine's answer and how many of its messages `#bot` blocks
/// have taken.
struct Turn {
    me_line: usize,
    sent: String,
    result: TurnResult,
    taken: usize,
}

impl Turn {
    fn report(&self, checked: Option<usize>) -> TurnReport {
        TurnReport {
            me_line: self.me_line,
            sent: self.sent.clone(),
            intent: self.result.intent.clone(),
            entities: entity_labels(&self.result.entities),
            messages: self.result.messages.clone(),
            checked,
        }
    }
}

async fn play(conversation: &Conversation, base: &RunnerBase) -> Result<(), Box<Failure>> {
    let source = conversation.source.as_path();
    let fail = |line: usize, expected: String, found: String, turn: Option<TurnReport>| {
        Box::new(Failure {
            source: source.to_path_buf(),
            line,
            expected,
            found,
            turn,
        })
    };
    let clock = Arc::new(ManualClock::starting_at(START));
    let app = App::in_memory(
        base.config.clone(),
        base.content.clone(),
        base.nlu.clone(),
        clock.clone(),
    )
    .await
    .map_err(|error| {
        fail(
            1,
            "a fresh demo app".into(),
            format!("it could not be built: {error}"),
            None,
        )
    })?;
    let id = NEXT_SESSION.fetch_add(1, Ordering::Relaxed).to_string();
    let session = SessionKey::new("test", &id).expect("a test session key is valid");

    let mut turn: Option<Turn> = None;
    for step in &conversation.steps {
        match step {
            Step::Me(me) => {
                if let Some(wait) = me.wait {
                    clock.advance(wait);
                }
                let (input, sent) = me_input(me, turn.as_ref(), &app, &session, source).await?;
                let result = app
                    .engine
                    .handle(IncomingMessage {
                        session: session.clone(),
                        input,
                        client_message_id: None,
                    })
                    .await
                    .map_err(|error| {
                        fail(
                            me.line,
                            "the engine to answer".into(),
                            format!("the engine failed: {error}"),
                            None,
                        )
                    })?;
                // A password is reported hidden, as the engine's own transcript keeps it.
                let sent = if result.hidden {
                    HIDDEN_PASSWORD.to_string()
                } else {
                    sent
                };
                turn = Some(Turn {
                    me_line: me.line,
                    sent,
                    result,
                    taken: 0,
                });
            }
            Step::Bot(expectation) => {
                // The parser guarantees a conversation starts with #me.
                let Some(turn) = turn.as_mut() else {
                    return Err(fail(
                        expectation.line,
                        "a #me block before the first #bot block".into(),
                        "no message was sent yet".into(),
                        None,
                    ));
                };
                check_bot(expectation, turn).map_err(|(expected, found, checked)| {
                    fail(
                        expectation.line,
                        expected,
                        found,
                        Some(turn.report(checked)),
                    )
                })?;
            }
        }
    }
    Ok(())
}

/// What a `#me` block sends, and how to show it in a report.
async fn me_input(
    me: &MeTurn,
    previous: Option<&Turn>,
    app: &App,
    session: &SessionKey,
    source: &Path,
) -> Result<(Input, String), Box<Failure>> {
    let fail = |expected: String, found: String| {
        Box::new(Failure {
            source: source.to_path_buf(),
            line: me.line,
            expected,
            found,
            turn: previous.map(|turn| turn.report(None)),
        })
    };
    match &me.input {
        MeInput::Text(text) => Ok((Input::Text(text.clone()), text.clone())),
        MeInput::Button(pattern) => {
            let buttons: Vec<&Button> = previous
                .map(|turn| {
                    turn.result
                        .messages
                        .iter()
                        .flat_map(|m| &m.buttons)
                        .collect()
                })
                .unwrap_or_default();
            let pressed = buttons.iter().find(|button| {
                wildcard_match(pattern, &button.title) || wildcard_match(pattern, &button.payload)
            });
            match pressed {
                Some(button) => Ok((
                    Input::Payload(button.payload.clone()),
                    format!("BUTTON {}", button.title),
                )),
                None if buttons.is_empty() => Err(fail(
                    format!("a button matching {pattern:?} in the last bot turn"),
                    "the last bot turn has no buttons".into(),
                )),
                None => Err(fail(
                    format!("a button matching {pattern:?} in the last bot turn"),
                    format!(
                        "none matches; the buttons are: {}",
                        describe_buttons(buttons.iter().copied())
                    ),
                )),
            }
        }
        MeInput::Otp | MeInput::TextWithCode(_) => {
            let expected = || "$otp: a code delivered to this conversation's member".to_string();
            let outbox = app
                .outbox
                .as_ref()
                .ok_or_else(|| fail(expected(), "this app has no demo outbox".into()))?;
            let entries = outbox
                .entries(session)
                .await
                .map_err(|error| fail(expected(), format!("the outbox failed: {error}")))?;
            let Some(entry) = entries.last() else {
                return Err(fail(expected(), "no code has been sent yet".into()));
            };
            match &me.input {
                MeInput::TextWithCode(template) => Ok((
                    Input::Text(with_code(template, &entry.code)),
                    template.clone(),
                )),
                _ => Ok((Input::Text(entry.code.clone()), "$otp".into())),
            }
        }
    }
}

/// `template` with `$otp_spaced`, `$otp_dashed` and `$otp` replaced by the code so written
/// (the longer names first, so `$otp` does not eat their prefix).
fn with_code(template: &str, code: &str) -> String {
    let spaced = code.chars().map(String::from).collect::<Vec<_>>().join(" ");
    let (first, second) = code.split_at(code.len() / 2);
    let dashed = format!("{first}-{second}");
    let text = replace_ignoring_case(template, "$otp_spaced", &spaced);
    let text = replace_ignoring_case(&text, "$otp_dashed", &dashed);
    replace_ignoring_case(&text, "$otp", code)
}

/// `text` with every ASCII-case-insensitive occurrence of `needle` (ASCII) replaced.
fn replace_ignoring_case(text: &str, needle: &str, replacement: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut rest = 0;
    for (at, _) in lower.match_indices(needle) {
        out.push_str(&text[rest..at]);
        out.push_str(replacement);
        rest = at + needle.len();
    }
    out.push_str(&text[rest..]);
    out
}

/// (expected, found, index of the message looked at).
type Mismatch = (String, String, Option<usize>);

/// Checks one `#bot` block against the next message of the turn, and takes that message.
fn check_bot(expectation: &BotExpectation, turn: &mut Turn) -> Result<(), Mismatch> {
    let index = turn.taken;
    let messages = &turn.result.messages;
    let Some(message) = messages.get(index) else {
        return Err((
            format!("bot message {} of the turn", index + 1),
            format!(
                "the turn has only {} message(s): {}",
                messages.len(),
                keys_of(messages)
            ),
            None,
        ));
    };
    turn.taken += 1;
    let at = Some(index);

    if let Some(text) = &expectation.text
        && !text.matches(&message.text)
    {
        return Err((
            format!("message {} with text {}", index + 1, text.describe()),
            format!(
                "message {} [{}] is {:?}",
                index + 1,
                message.key,
                message.text
            ),
            at,
        ));
    }

    for asserter in &expectation.asserters {
        match asserter {
            Asserter::Intent { name, negated } => {
                let actual = turn.result.intent.as_ref().map(|i| i.name.as_str());
                if (actual == Some(name.as_str())) == *negated {
                    return Err((
                        format!("{}INTENT {name}", bang(*negated)),
                        format!("the intent is {}", actual.unwrap_or("none")),
                        at,
                    ));
                }
            }
            Asserter::Response { key, negated } => {
                let present = messages.iter().any(|m| &m.key == key);
                if present == *negated {
                    let place = if *negated {
                        "in no message"
                    } else {
                        "in some message"
                    };
                    return Err((
                        format!("{}RESPONSE {key} ({place} of the turn)", bang(*negated)),
                        format!("the turn's keys are {}", keys_of(messages)),
                        at,
                    ));
                }
            }
            Asserter::Buttons { titles, negated } => {
                let actual: Vec<&str> = message.buttons.iter().map(|b| b.title.as_str()).collect();
                let holds = if titles.is_empty() {
                    !actual.is_empty()
                } else {
                    titles.len() == actual.len()
                        && titles
                            .iter()
                            .zip(&actual)
                            .all(|(p, t)| wildcard_match(p, t))
                };
                if holds == *negated {
                    let wanted = if titles.is_empty() {
                        "at least one button".to_string()
                    } else {
                        titles.join(" | ")
                    };
                    return Err((
                        format!(
                            "{}BUTTONS on message {}: {wanted}",
                            bang(*negated),
                            index + 1
                        ),
                        format!(
                            "message {} [{}] has buttons: {}",
                            index + 1,
                            message.key,
                            or_none(&actual, " | ")
                        ),
                        at,
                    ));
                }
            }
            Asserter::Text { asserter, negated } => {
                if asserter.holds(&message.text) == *negated {
                    let values: Vec<&str> =
                        asserter.patterns.iter().map(regex::Regex::as_str).collect();
                    return Err((
                        format!(
                            "{}{} on message {} (as expressions: {})",
                            bang(*negated),
                            asserter.keyword,
                            index + 1,
                            values.join(" | ")
                        ),
                        format!(
                            "message {} [{}] is {:?}",
                            index + 1,
                            message.key,
                            message.text
                        ),
                        at,
                    ));
                }
            }
            Asserter::ButtonsCount { check, negated } => {
                let count = message.buttons.len();
                if check.holds(count) == *negated {
                    return Err((
                        format!(
                            "{}BUTTONS_COUNT on message {}: {check}",
                            bang(*negated),
                            index + 1
                        ),
                        format!(
                            "message {} [{}] has {count} button(s)",
                            index + 1,
                            message.key
                        ),
                        at,
                    ));
                }
            }
            Asserter::IntentConfidence {
                min_percent,
                negated,
            } => {
                let confidence = turn.result.intent.as_ref().map(|i| i.confidence);
                let holds = confidence.is_some_and(|c| c * 100.0 >= f64::from(*min_percent));
                if holds == *negated {
                    return Err((
                        format!("{}INTENT_CONFIDENCE {min_percent}", bang(*negated)),
                        match confidence {
                            Some(c) => format!("the intent's confidence is {:.1} %", c * 100.0),
                            None => "the turn has no intent".to_string(),
                        },
                        at,
                    ));
                }
            }
            Asserter::EntityValues { values, negated } => {
                let found = entity_values(&turn.result.entities);
                let holds = if *negated {
                    !values.iter().any(|v| found.contains(v))
                } else {
                    values.iter().all(|v| found.contains(v))
                };
                if !holds {
                    return Err((
                        format!("{}ENTITY_VALUES {}", bang(*negated), values.join(" | ")),
                        format!(
                            "the message's valid entity values are {}",
                            or_none(&found, ", ")
                        ),
                        at,
                    ));
                }
            }
            Asserter::Entities { names, negated } => {
                let found = entity_names(&turn.result.entities);
                let holds = match (names.is_empty(), *negated) {
                    (true, false) => !found.is_empty(),
                    (true, true) => found.is_empty(),
                    (false, false) => names.iter().all(|n| found.contains(n)),
                    // `!ENTITIES a|b`: none of them was found.
                    (false, true) => !names.iter().any(|n| found.contains(n)),
                };
                if !holds {
                    let wanted = if names.is_empty() {
                        "at least one entity".to_string()
                    } else {
                        names.join(" | ")
                    };
                    return Err((
                        format!("{}ENTITIES {wanted}", bang(*negated)),
                        format!("the message's valid entities are {}", or_none(&found, ", ")),
                        at,
                    ));
                }
            }
        }
    }
    Ok(())
}

/// `items` joined by `separator`, or `none` when there are none (for failure messages).
fn or_none<S: AsRef<str>>(items: &[S], separator: &str) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items
            .iter()
            .map(AsRef::as_ref)
            .collect::<Vec<_>>()
            .join(separator)
    }
}

fn bang(negated: bool) -> &'static str {
    if negated { "!" } else { "" }
}

/// The names (as in `tanya nlu parse`) of the valid entities, in text order.
fn entity_names(entities: &[Entity]) -> Vec<String> {
    entities
        .iter()
        .filter(|e| e.is_valid())
        .map(|e| json_name(&e.kind()))
        .collect()
}

/// The normalized values of the valid entities, in text order.
fn entity_values(entities: &[Entity]) -> Vec<String> {
    entities
        .iter()
        .filter(|e| e.is_valid())
        .map(|e| e.value.as_str().to_owned())
        .collect()
}

/// Every entity found, for reports: the name, and the problem of an invalid one.
fn entity_labels(entities: &[Entity]) -> Vec<String> {
    entities
        .iter()
        .map(|e| {
            let name = json_name(&e.kind());
            match &e.problem() {
                Some(problem) => format!("{name} ({})", json_name(problem)),
                None => name,
            }
        })
        .collect()
}

/// A unit enum's serde name (`Kpj` → `kpj`), the spelling of `tanya nlu parse`.
fn json_name(value: &impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => String::from("?"),
    }
}

fn keys_of(messages: &[OutgoingMessage]) -> String {
    if messages.is_empty() {
        return "none".into();
    }
    messages
        .iter()
        .map(|m| m.key.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe_buttons<'a>(buttons: impl IntoIterator<Item = &'a Button>) -> String {
    buttons
        .into_iter()
        .map(|b| format!("{} ({})", b.title, b.payload))
        .collect::<Vec<_>>()
        .join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_written_into_texts_spaced_dashed_or_as_sent() {
        assert_eq!(
            with_code("kodenya $OTP kak", "493817"),
            "kodenya 493817 kak"
        );
        assert_eq!(with_code("$otp_spaced", "493817"), "4 9 3 8 1 7");
        assert_eq!(with_code("ini $otp_dashed ya", "493817"), "ini 493-817 ya");
    }

    fn message(key: &str, text: &str, buttons: &[(&str, &str)]) -> OutgoingMessage {
        OutgoingMessage {
            key: key.into(),
            text: text.into(),
            buttons: buttons
                .iter()
                .map(|(title, payload)| Button {
                    title: (*title).into(),
                    payload: (*payload).into(),
                })
                .collect(),
        }
    }

    fn turn(messages: Vec<OutgoingMessage>) -> Turn {
        Turn {
            me_line: 2,
            sent: "halo".into(),
            result: TurnResult {
                messages,
                intent: Some(IntentScore {
                    name: "greet".into(),
                    confidence: 1.0,
                }),
                entities: Vec::new(),
                hidden: false,
                state: crate::dialog::state::StateName::Idle,
                expects: crate::dialog::state::Expects::Text,
            },
            taken: 0,
        }
    }

    fn bot(text: Option<(&str, bool)>, asserters: Vec<Asserter>) -> BotExpectation {
        BotExpectation {
            line: 5,
            text: text.map(|(pattern, negated)| crate::convo::TextExpectation {
                patterns: vec![pattern.into()],
                negated,
                excluded: Vec::new(),
            }),
            asserters,
        }
    }

    #[test]
    fn each_bot_block_takes_the_next_message_of_the_turn() {
        let mut t = turn(vec![
            message("faq_housing", "KPR", &[]),
            message("ask_otp", "kode?", &[]),
        ]);
        assert!(check_bot(&bot(Some(("kpr", false)), vec![]), &mut t).is_ok());
        assert!(check_bot(&bot(Some(("kpr", false)), vec![]), &mut t).is_err());
        let (_, found, _) = check_bot(&bot(None, vec![]), &mut t).unwrap_err();
        assert!(found.contains("only 2 message(s)"), "{found}");
    }

    #[test]
    fn buttons_must_match_in_order_and_number() {
        let buttons = [
            ("SMS 0812****7890", "/otp_channel sms"),
            ("E-mail b***@x.com", "/otp_channel email"),
        ];
        let check = |titles: &[&str], negated: bool| {
            let mut t = turn(vec![message("ask_otp_channel", "pilih", &buttons)]);
            let titles = titles.iter().map(ToString::to_string).collect();
            check_bot(
                &bot(None, vec![Asserter::Buttons { titles, negated }]),
                &mut t,
            )
            .is_ok()
        };
        assert!(check(&["SMS *", "E-mail *"], false));
        assert!(!check(&["E-mail *", "SMS *"], false));
        assert!(!check(&["SMS *"], false));
        assert!(check(&["SMS *"], true));
        assert!(check(&[], false));
    }

    #[test]
    fn negated_asserters_invert_the_check() {
        let intent = |name: &str, negated| Asserter::Intent {
            name: name.into(),
            negated,
        };
        let response = |key: &str, negated| Asserter::Response {
            key: key.into(),
            negated,
        };
        let ok = |a: Asserter| {
            check_bot(
                &bot(None, vec![a]),
                &mut turn(vec![message("greet", "Halo", &[])]),
            )
            .is_ok()
        };
        assert!(ok(intent("greet", false)));
        assert!(!ok(intent("greet", true)));
        assert!(ok(intent("thanks", true)));
        assert!(ok(response("greet", false)));
        assert!(!ok(response("fallback", false)));
        assert!(ok(response("fallback", true)));
    }

    #[test]
    fn a_failure_report_names_the_line_and_shows_the_turn() {
        let mut t = turn(vec![message(
            "greet",
            "Halo Kak\nApa kabar?",
            &[("Menu", "/help")],
        )]);
        let (expected, found, checked) = check_bot(
            &bot(
                None,
                vec![Asserter::Response {
                    key: "goodbye".into(),
                    negated: false,
                }],
            ),
            &mut t,
        )
        .unwrap_err();
        let failure = Failure {
            source: "tests/conversations/x.convo.txt".into(),
            line: 5,
            expected,
            found,
            turn: Some(t.report(checked)),
        };
        let summary = Summary {
            results: vec![ConversationResult {
                name: "salam".into(),
                source: failure.source.clone(),
                outcome: Outcome::Failed(Box::new(failure)),
            }],
        };
        let text = summary.render();
        assert!(text.starts_with("FAIL salam\n"), "{text}");
        assert!(text.contains("tests/conversations/x.convo.txt:5"), "{text}");
        assert!(text.contains("RESPONSE goodbye"), "{text}");
        assert!(text.contains("> 1. [greet]"), "{text}");
        assert!(text.contains("| Apa kabar?"), "{text}");
        assert!(text.contains("Menu (/help)"), "{text}");
        assert!(text.ends_with("\n0 passed, 1 failed\n"), "{text}");
    }
}
