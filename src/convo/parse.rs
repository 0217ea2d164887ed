//! Parsing of `.convo.txt` conversation files and `.utterances.txt` lists (SPEC §10) into the
//! steps the runner plays against the engine, with file and line in every error.
//!
//! The format is BotiumScript's text format restricted to what tanya can check:
//!
//! ```text
//! lupa password, jalur utama        ← line 1: the name (description lines may follow)
//! #me                               ← a user turn: text (several lines are joined with \n),
//! WAIT 6m                              optionally first `WAIT <n>s|m|h`, or `BUTTON x`, or `$otp`
//!                                      (`$otp`, `$otp_spaced`, `$otp_dashed` may sit in a text)
//! saya lupa password jmo
//!
//! #bot                              ← the next bot message: text lines first (wildcards; a
//! *email*                              line starting with `!` is text the message must not
//! !*budi.santoso@*                     match), or the name of an utterance list (any variant);
//! INTENT forgot_password               then asserters, each negatable: INTENT, RESPONSE,
//!                                      BUTTONS a|b, ENTITIES a|b, and Botium's TEXT_*,
//!                                      BUTTONS_COUNT, INTENT_CONFIDENCE, ENTITY_VALUES
//! ```
//!
//! Decisions beyond Botium: every line is trimmed (indentation and trailing spaces never
//! matter); whole lines starting with `//` are comments; a conversation must start with `#me`
//! because tanya sends no welcome message; `!` on a later text line excludes that line's
//! pattern (Botium would read it as text); BotiumScript keywords tanya cannot check are errors
//! naming the keyword and the reason (see `botium`) rather than text that would silently never
//! match.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::convo::botium::{self, CountCheck, TextAsserter};
use crate::convo::wildcard::wildcard_match;

/// The most conversations one file may expand into through utterance lists; beyond this the
/// file is almost certainly a mistake, and a test run would crawl.
pub const MAX_EXPANSIONS: usize = 1_000;

/// One conversation to run from a fresh store: a name for the report and the steps in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    /// Line 1 of the file (or the file name when line 1 is already `#me`), plus
    /// ` [variant]` for each utterance-list reference it was expanded from.
    pub name: String,
    /// The `.convo.txt` file, for failure reports.
    pub source: PathBuf,
    /// At least one step, and the first is always a [`Step::Me`].
    pub steps: Vec<Step>,
}

/// One block of a conversation file.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// `#me`: send a message (ending the previous turn, whose unmatched messages are dropped).
    Me(MeTurn),
    /// `#bot`: the next bot message of the current turn must meet this expectation.
    Bot(BotExpectation),
}

/// A `#me` block: one message from the user.
#[derive(Debug, Clone, PartialEq)]
pub struct MeTurn {
    /// Line of the `#me` header, for failure reports.
    pub line: usize,
    /// `WAIT 6m`: how far to move the conversation's clock before sending.
    pub wait: Option<Duration>,
    /// What to send.
    pub input: MeInput,
}

/// What a `#me` block sends.
#[derive(Debug, Clone, PartialEq)]
pub enum MeInput {
    /// Text typed by the user; lines of a multi-line block joined with `\n`.
    Text(String),
    /// `BUTTON x`: press the button of the last bot turn whose title or payload matches `x`
    /// (a wildcard pattern).
    Button(String),
    /// `$otp`: the last code delivered to this conversation's member.
    Otp,
    /// A text with the last code in it: `$otp` as delivered ("493817"), `$otp_spaced` with a
    /// space between digits ("4 9 3 8 1 7"), `$otp_dashed` in two halves ("493-817"). Beyond
    /// BotiumScript: members type codes inside sentences and digit by digit.
    TextWithCode(String),
}

/// A `#bot` block: what the next bot message of the current turn must look like.
#[derive(Debug, Clone, PartialEq)]
pub struct BotExpectation {
    /// Line of the `#bot` header, for failure reports.
    pub line: usize,
    /// The expected text; `None` when the block has no text line, meaning "any message".
    pub text: Option<TextExpectation>,
    /// Checks in file order; all must pass.
    pub asserters: Vec<Asserter>,
}

/// The text lines of a `#bot` block.
#[derive(Debug, Clone, PartialEq)]
pub struct TextExpectation {
    /// [`wildcard_match`] patterns the message must match one of: the text lines joined with
    /// `\n`, or each variant of the utterance list the text names. Empty when every text line
    /// starts with `!`.
    pub patterns: Vec<String>,
    /// Botium's `!` before the first (and only negated) text line: the message must match
    /// *none* of `patterns`.
    pub negated: bool,
    /// A `!` on a later text line (SPEC §10): each such line is a pattern the message must
    /// not match, checked besides the other lines.
    pub excluded: Vec<String>,
}

impl TextExpectation {
    /// Whether a bot message's text meets this expectation.
    pub fn matches(&self, text: &str) -> bool {
        let positive = self.patterns.is_empty()
            || self.patterns.iter().any(|p| wildcard_match(p, text)) != self.negated;
        positive && !self.excluded.iter().any(|p| wildcard_match(p, text))
    }

    /// The expectation as a failure report states it.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.patterns.is_empty() {
            let how = if self.negated {
                "not matching"
            } else {
                "matching"
            };
            let alternatives: Vec<String> =
                self.patterns.iter().map(|p| format!("{p:?}")).collect();
            parts.push(format!("{how} {}", alternatives.join(" or ")));
        }
        for pattern in &self.excluded {
            parts.push(format!("not matching {pattern:?}"));
        }
        parts.join(" and ")
    }
}

/// An asserter line of a `#bot` block. `negated` (a `!` prefix) inverts the check.
#[derive(Debug, Clone, PartialEq)]
pub enum Asserter {
    /// `INTENT name`: the NLU intent of the turn.
    Intent { name: String, negated: bool },
    /// `RESPONSE key`: some message of the turn has this response key.
    Response { key: String, negated: bool },
    /// `BUTTONS a|b`: the matched message's button titles, in order, each title a wildcard
    /// pattern. Without titles (Botium's convention): the message has at least one button.
    Buttons { titles: Vec<String>, negated: bool },
    /// `ENTITIES a|b`: the turn's NLU found these entities. Without names: at least one.
    Entities { names: Vec<String>, negated: bool },
    /// Botium's `TEXT_CONTAINS_ANY`, `TEXT_REGEXP_ALL_IC`, … on the matched message's text.
    Text {
        asserter: TextAsserter,
        negated: bool,
    },
    /// Botium's `BUTTONS_COUNT n` (and `BUTTONS_COUNT_REC`: tanya has no cards whose buttons
    /// would count too): how many buttons the matched message has.
    ButtonsCount { check: CountCheck, negated: bool },
    /// Botium's `INTENT_CONFIDENCE n`: the turn's intent has at least `n` % confidence.
    IntentConfidence { min_percent: u32, negated: bool },
    /// Botium's `ENTITY_VALUES a|b`: the turn's NLU found entities with these (normalized)
    /// values.
    EntityValues { values: Vec<String>, negated: bool },
}

/// Why conversation files could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConvoError {
    /// A conversation or utterance file breaks a rule of the format.
    #[error("{}:{line}: {kind}", file.display())]
    Syntax {
        file: PathBuf,
        line: usize,
        kind: SyntaxError,
    },
    /// A file or directory could not be read (missing, unreadable, not UTF-8).
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A directory holds no `*.convo.txt` file: a test run would pass while testing nothing.
    #[error("{}: no *.convo.txt file found", path.display())]
    NoConversations { path: PathBuf },
}

/// The rule a line breaks; [`ConvoError::Syntax`] says where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyntaxError {
    /// Nothing but whitespace in the file.
    #[error("the file is empty; line 1 must be the name")]
    EmptyFile,
    /// Line 1 is blank.
    #[error("line 1 must be the name, found a blank line")]
    MissingName,
    /// A conversation without any `#me` block tests nothing.
    #[error("the conversation has no #me block")]
    NoTurns,
    /// The first block is `#bot`.
    #[error("a conversation must start with #me: tanya sends no welcome message")]
    LeadingBot,
    /// `#begin`, `#end`: Botium sections tanya has no equivalent for.
    #[error("`{section}` sections are not supported; use #me and #bot")]
    UnsupportedSection { section: String },
    /// `#me hello` on one line: Botium would read this as a sender name, not as the message.
    #[error("put the text on the line after `{header}`, not on the same line")]
    HeaderWithText { header: String },
    /// A `#me` block without a message (possibly only a `WAIT`).
    #[error("this #me block has no message to send")]
    EmptyMe,
    /// A `#me` block with text and `BUTTON`/`$otp`, or several of them.
    #[error("a #me block sends one message: text, `BUTTON …` or `$otp`, not a mix")]
    MixedMeInput,
    /// `WAIT` after the first line of a `#me` block, where it would be ambiguous.
    #[error("WAIT must be the first line of a #me block")]
    MisplacedWait,
    /// `WAIT` whose duration is not a positive whole number with a unit.
    #[error(
        "invalid WAIT `{value}`: expected a positive whole number and s, m or h, like `WAIT 6m`"
    )]
    InvalidWait { value: String },
    /// `INTENT`, `RESPONSE` or `BUTTON` without its value.
    #[error("`{keyword}` needs a value")]
    MissingArgument { keyword: String },
    /// `INTENT` or `RESPONSE` followed by more than one word.
    #[error("`{keyword}` takes one name, found `{value}`")]
    InvalidArgument { keyword: String, value: String },
    /// `BUTTONS a||b` or a trailing `|`.
    #[error("`{keyword}` has an empty item between `|` separators")]
    EmptyListItem { keyword: String },
    /// An upper-case word where an asserter is expected (after the first asserter).
    #[error(
        "unknown asserter `{keyword}`; tanya supports INTENT, RESPONSE, BUTTONS, ENTITIES and \
         Botium's TEXT_*, BUTTONS_COUNT, INTENT_CONFIDENCE and ENTITY_VALUES"
    )]
    UnknownAsserter { keyword: String },
    /// A built-in BotiumScript asserter, logic hook or user input tanya cannot check.
    #[error("`{keyword}` is a BotiumScript keyword tanya does not support: {reason}")]
    UnsupportedKeyword {
        keyword: String,
        reason: &'static str,
    },
    /// A `TEXT_REGEXP_*` value that is no regular expression.
    #[error("`{keyword}`: `{value}` is no valid regular expression: {error}")]
    InvalidRegex {
        keyword: String,
        value: String,
        error: String,
    },
    /// A `BUTTONS_COUNT` or `INTENT_CONFIDENCE` argument that is no count or percentage.
    #[error("`{keyword}` expects {expected}, found `{value}`")]
    InvalidNumber {
        keyword: String,
        value: String,
        expected: &'static str,
    },
    /// Botium's `?` (an optional step or asserter): tanya's files are one fixed path.
    #[error(
        "optional lines (`?`) are not supported: a conversation file is one fixed path \
         (write `??` for a text starting with `?`)"
    )]
    OptionalLine,
    /// An asserter inside a `#me` block.
    #[error("`{keyword}` is an asserter and belongs in a #bot block")]
    AsserterInMe { keyword: String },
    /// `WAIT` or `BUTTON` inside a `#bot` block.
    #[error("`{keyword}` belongs in a #me block (to check buttons, use `BUTTONS a|b`)")]
    MeKeywordInBot { keyword: String },
    /// A text line after an asserter line in a `#bot` block.
    #[error("the expected text must come before the asserters of a #bot block")]
    TextAfterAsserter,
    /// A line holding only `!`.
    #[error("`!` must be followed by a text or an asserter")]
    BareNegation,
    /// `$otp` in a `#bot` block (it names what the member sends, not what the bot says).
    #[error("`$otp` belongs in a #me block")]
    MisplacedOtp,
    /// A `#me` text shaped like an utterance-list name (`UTT_GREETING`) with no such list.
    #[error(
        "no utterance list named `{name}` in this directory (NAME.utterances.txt, line 1 the name)"
    )]
    UnknownUtteranceList { name: String },
    /// The product of the referenced utterance lists is too large.
    #[error("utterance lists would expand this conversation into more than {MAX_EXPANSIONS} runs")]
    TooManyExpansions,
    /// An utterance list with only a name.
    #[error("utterance list `{name}` has no variants")]
    NoVariants { name: String },
    /// The same variant twice in one list.
    #[error("duplicate variant `{variant}`")]
    DuplicateVariant { variant: String },
    /// Two utterance files of one directory with the same list name.
    #[error("utterance list `{name}` is already defined in {}", first.display())]
    DuplicateUtteranceList { name: String, first: PathBuf },
}

/// A syntax error before the file name is attached.
type LineError = (usize, SyntaxError);

/// Parses one conversation file, expanding utterance-list references (a `#me` text equal to a
/// key of `utterances`) into one conversation per combination of variants.
pub fn parse_conversation(
    source: &Path,
    text: &str,
    utterances: &HashMap<String, Vec<String>>,
) -> Result<Vec<Conversation>, ConvoError> {
    parse_lines(source, text, utterances).map_err(|(line, kind)| ConvoError::Syntax {
        file: source.to_path_buf(),
        line,
        kind,
    })
}

/// Parses one `NAME.utterances.txt` file: line 1 the list name, then one variant per line
/// (blank lines and `//` comments ignored).
pub fn parse_utterances(source: &Path, text: &str) -> Result<(String, Vec<String>), ConvoError> {
    let syntax = |line, kind| ConvoError::Syntax {
        file: source.to_path_buf(),
        line,
        kind,
    };
    let lines = trimmed_lines(text);
    if lines.iter().all(|(_, line)| line.is_empty()) {
        return Err(syntax(1, SyntaxError::EmptyFile));
    }
    let name = match lines[0] {
        (_, "") => return Err(syntax(1, SyntaxError::MissingName)),
        (_, name) => name.to_string(),
    };
    let mut variants: Vec<String> = Vec::new();
    for &(number, line) in &lines[1..] {
        if line.is_empty() || is_comment(line) {
            continue;
        }
        if variants.iter().any(|v| v == line) {
            let variant = line.to_string();
            return Err(syntax(number, SyntaxError::DuplicateVariant { variant }));
        }
        variants.push(line.to_string());
    }
    if variants.is_empty() {
        return Err(syntax(1, SyntaxError::NoVariants { name }));
    }
    Ok((name, variants))
}

/// Loads a `.convo.txt` file, or every `*.convo.txt` under a directory (recursively, sorted by
/// path; symbolic links to directories are not followed, so links cannot loop). Each file sees
/// the utterance lists of its own directory.
pub fn load_path(path: &Path) -> Result<Vec<Conversation>, ConvoError> {
    let metadata = fs::metadata(path).map_err(io_error(path))?;
    if !metadata.is_dir() {
        let utterances = load_utterances(directory_of(path))?;
        return load_file(path, &utterances);
    }
    let mut files = Vec::new();
    collect_convo_files(path, &mut files)?;
    if files.is_empty() {
        return Err(ConvoError::NoConversations {
            path: path.to_path_buf(),
        });
    }
    files.sort();
    let mut utterances_by_dir: HashMap<PathBuf, HashMap<String, Vec<String>>> = HashMap::new();
    let mut conversations = Vec::new();
    for file in files {
        let dir = directory_of(&file).to_path_buf();
        if !utterances_by_dir.contains_key(&dir) {
            let loaded = load_utterances(&dir)?;
            utterances_by_dir.insert(dir.clone(), loaded);
        }
        conversations.extend(load_file(&file, &utterances_by_dir[&dir])?);
    }
    Ok(conversations)
}

fn load_file(
    path: &Path,
    utterances: &HashMap<String, Vec<String>>,
) -> Result<Vec<Conversation>, ConvoError> {
    let text = fs::read_to_string(path).map_err(io_error(path))?;
    parse_conversation(path, &text, utterances)
}

/// All lists of one directory, keyed by list name.
fn load_utterances(dir: &Path) -> Result<HashMap<String, Vec<String>>, ConvoError> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_error(dir))? {
        let path = entry.map_err(io_error(dir))?.path();
        if has_suffix(&path, ".utterances.txt") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    let mut lists = HashMap::new();
    let mut defined_in: HashMap<String, PathBuf> = HashMap::new();
    for file in files {
        let text = fs::read_to_string(&file).map_err(io_error(&file))?;
        let (name, variants) = parse_utterances(&file, &text)?;
        if let Some(first) = defined_in.get(&name) {
            return Err(ConvoError::Syntax {
                file,
                line: 1,
                kind: SyntaxError::DuplicateUtteranceList {
                    name,
                    first: first.clone(),
                },
            });
        }
        defined_in.insert(name.clone(), file);
        lists.insert(name, variants);
    }
    Ok(lists)
}

fn collect_convo_files(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), ConvoError> {
    for entry in fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        let path = entry.path();
        let file_type = entry.file_type().map_err(io_error(&path))?;
        if file_type.is_dir() {
            collect_convo_files(&path, files)?;
        } else if has_suffix(&path, ".convo.txt") && path.is_file() {
            files.push(path);
        }
    }
    Ok(())
}

/// The directory a file lives in; `.` for a bare file name, whose parent is the empty path.
fn directory_of(file: &Path) -> &Path {
    match file.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

fn has_suffix(path: &Path, suffix: &str) -> bool {
    path.file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name.ends_with(suffix))
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> ConvoError + '_ {
    move |source| ConvoError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Lines numbered from 1 and trimmed, after dropping a byte-order mark (Windows editors add one).
/// `str::lines` already accepts both `\n` and `\r\n`.
fn trimmed_lines(text: &str) -> Vec<(usize, &str)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line.trim()))
        .collect()
}

fn is_comment(line: &str) -> bool {
    line.starts_with("//")
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum BlockKind {
    Me,
    Bot,
}

/// A block's header line and its non-comment lines (blank ones included: they may separate
/// paragraphs of a text).
struct Block<'a> {
    kind: BlockKind,
    line: usize,
    body: Vec<(usize, &'a str)>,
}

fn parse_lines(
    source: &Path,
    text: &str,
    utterances: &HashMap<String, Vec<String>>,
) -> Result<Vec<Conversation>, LineError> {
    let lines = trimmed_lines(text);
    if lines.iter().all(|(_, line)| line.is_empty()) {
        return Err((1, SyntaxError::EmptyFile));
    }
    let (name, rest) = match lines[0] {
        (_, "") => return Err((1, SyntaxError::MissingName)),
        // Botium names a conversation after its file when line 1 is already a block.
        (number, first) if header(first).map_err(|kind| (number, kind))?.is_some() => {
            (file_stem(source), &lines[..])
        }
        (_, first) => (first.to_string(), &lines[1..]),
    };

    // Lines before the first block are the description, which Botium ignores too.
    let mut blocks: Vec<Block> = Vec::new();
    for &(number, line) in rest {
        if let Some(kind) = header(line).map_err(|kind| (number, kind))? {
            blocks.push(Block {
                kind,
                line: number,
                body: Vec::new(),
            });
        } else if let Some(block) = blocks.last_mut()
            && !is_comment(line)
        {
            block.body.push((number, line));
        }
    }

    match blocks.first() {
        None => return Err((lines.len(), SyntaxError::NoTurns)),
        Some(first) if first.kind == BlockKind::Bot => {
            return Err((first.line, SyntaxError::LeadingBot));
        }
        Some(_) => {}
    }

    let mut steps = Vec::with_capacity(blocks.len());
    // Where each block's message ends: an utterance-list name is a one-line text, so this is the
    // line to blame when the reference is wrong.
    let mut last_lines = Vec::with_capacity(blocks.len());
    for block in &blocks {
        let body = trim_blank_lines(&block.body);
        steps.push(match block.kind {
            BlockKind::Me => Step::Me(parse_me(block.line, body)?),
            BlockKind::Bot => Step::Bot(parse_bot(block.line, body, utterances)?),
        });
        last_lines.push(body.last().map_or(block.line, |&(number, _)| number));
    }
    let conversation = Conversation {
        name,
        source: source.to_path_buf(),
        steps,
    };
    expand_utterances(conversation, &last_lines, utterances)
}

/// `#me` / `#bot` (any case) alone on a line; `None` for any other line.
fn header(line: &str) -> Result<Option<BlockKind>, SyntaxError> {
    if !line.starts_with('#') {
        return Ok(None);
    }
    let (word, rest) = split_keyword(line);
    let kind = match word.to_lowercase().as_str() {
        "#me" => BlockKind::Me,
        "#bot" => BlockKind::Bot,
        "#begin" | "#end" => {
            let section = word.to_string();
            return Err(SyntaxError::UnsupportedSection { section });
        }
        _ => return Ok(None),
    };
    if !rest.is_empty() {
        let header = word.to_string();
        return Err(SyntaxError::HeaderWithText { header });
    }
    Ok(Some(kind))
}

fn file_stem(source: &Path) -> String {
    let name = source
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    match name.strip_suffix(".convo.txt") {
        Some(stem) => stem.to_string(),
        None => name,
    }
}

fn trim_blank_lines<'a, 'b>(body: &'b [(usize, &'a str)]) -> &'b [(usize, &'a str)] {
    let start = body.iter().position(|(_, line)| !line.is_empty());
    let end = body.iter().rposition(|(_, line)| !line.is_empty());
    match (start, end) {
        (Some(start), Some(end)) => &body[start..=end],
        _ => &[],
    }
}

/// The first whitespace-separated word of a line and the trimmed rest.
fn split_keyword(line: &str) -> (&str, &str) {
    match line.split_once(char::is_whitespace) {
        Some((word, rest)) => (word, rest.trim()),
        None => (line, ""),
    }
}

const ASSERTERS: [&str; 4] = ["INTENT", "RESPONSE", "BUTTONS", "ENTITIES"];

/// Botium's own asserters that tanya checks with Botium's meaning, besides [`ASSERTERS`].
fn is_botium_asserter(word: &str) -> bool {
    matches!(
        word,
        "BUTTONS_COUNT" | "BUTTONS_COUNT_REC" | "INTENT_CONFIDENCE" | "ENTITY_VALUES"
    ) || TextAsserter::parse(word, &[]).is_some()
}

/// `UPPER_CASE` words: what an asserter (or an utterance-list name) looks like.
fn is_upper_identifier(word: &str) -> bool {
    word.starts_with(|c: char| c.is_ascii_uppercase())
        && word
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

fn is_otp(line: &str) -> bool {
    line.eq_ignore_ascii_case("$otp")
}

fn mentions_otp(line: &str) -> bool {
    line.to_ascii_lowercase().contains("$otp")
}

fn parse_me(header_line: usize, body: &[(usize, &str)]) -> Result<MeTurn, LineError> {
    let (wait, body) = match body.split_first() {
        Some(((number, line), rest)) if split_keyword(line).0 == "WAIT" => {
            let wait = parse_wait(split_keyword(line).1).map_err(|kind| (*number, kind))?;
            (Some(wait), trim_blank_lines(rest))
        }
        _ => (None, body),
    };
    if body.is_empty() {
        return Err((header_line, SyntaxError::EmptyMe));
    }

    for &(number, line) in body {
        let word = split_keyword(line).0;
        let asserter = word.strip_prefix('!').unwrap_or(word);
        if word == "WAIT" {
            return Err((number, SyntaxError::MisplacedWait));
        }
        if ASSERTERS.contains(&asserter) || is_botium_asserter(asserter) {
            let keyword = asserter.to_string();
            return Err((number, SyntaxError::AsserterInMe { keyword }));
        }
        if let Some(kind) = botium::refused(word) {
            return Err((number, kind));
        }
    }

    let input = match body {
        [(number, line)] if split_keyword(line).0 == "BUTTON" => match split_keyword(line).1 {
            "" => {
                let keyword = "BUTTON".to_string();
                return Err((*number, SyntaxError::MissingArgument { keyword }));
            }
            button => MeInput::Button(button.to_string()),
        },
        [(_, line)] if is_otp(line) => MeInput::Otp,
        _ => {
            for &(number, line) in body {
                if split_keyword(line).0 == "BUTTON" || is_otp(line) {
                    return Err((number, SyntaxError::MixedMeInput));
                }
            }
            let text = join_lines(body);
            if mentions_otp(&text) {
                MeInput::TextWithCode(text)
            } else {
                MeInput::Text(text)
            }
        }
    };
    Ok(MeTurn {
        line: header_line,
        wait,
        input,
    })
}

/// `6m`: a positive whole number and a unit, s, m or h.
fn parse_wait(value: &str) -> Result<Duration, SyntaxError> {
    let invalid = || SyntaxError::InvalidWait {
        value: value.to_string(),
    };
    let (digits, seconds_per_unit) = match value.char_indices().last() {
        Some((at, 's')) => (&value[..at], 1),
        Some((at, 'm')) => (&value[..at], 60),
        Some((at, 'h')) => (&value[..at], 3600),
        _ => return Err(invalid()),
    };
    // `u64::from_str` alone would also accept a leading `+`.
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let count: u64 = digits.parse().map_err(|_| invalid())?;
    match count.checked_mul(seconds_per_unit) {
        Some(seconds) if seconds > 0 => Ok(Duration::from_secs(seconds)),
        _ => Err(invalid()),
    }
}

fn parse_bot(
    header_line: usize,
    body: &[(usize, &str)],
    utterances: &HashMap<String, Vec<String>>,
) -> Result<BotExpectation, LineError> {
    // (line number, text, whether it starts with `!`)
    let mut text_lines: Vec<(usize, &str, bool)> = Vec::new();
    let mut asserters = Vec::new();
    for &(number, line) in body {
        if line.is_empty() {
            // Kept inside a text (paragraphs); meaningless among asserters.
            if asserters.is_empty() {
                text_lines.push((number, line, false));
            }
            continue;
        }
        // Botium's escapes: `??` and `!!` stand for a literal `?` and `!`.
        let (negated, unnegated) = if line.starts_with("??") || line.starts_with("!!") {
            (false, &line[1..])
        } else if line.starts_with('?') {
            return Err((number, SyntaxError::OptionalLine));
        } else {
            match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim_start()),
                None => (false, line),
            }
        };
        if negated && unnegated.is_empty() {
            return Err((number, SyntaxError::BareNegation));
        }
        let (word, argument) = split_keyword(unnegated);
        if let Some(asserter) = parse_asserter(word, argument, negated) {
            asserters.push(asserter.map_err(|kind| (number, kind))?);
            continue;
        }
        if word == "WAIT" || word == "BUTTON" {
            let keyword = word.to_string();
            return Err((number, SyntaxError::MeKeywordInBot { keyword }));
        }
        if let Some(kind) = botium::refused(word) {
            return Err((number, kind));
        }
        if !asserters.is_empty() {
            let kind = if is_upper_identifier(word) {
                SyntaxError::UnknownAsserter {
                    keyword: word.to_string(),
                }
            } else {
                SyntaxError::TextAfterAsserter
            };
            return Err((number, kind));
        }
        if mentions_otp(unnegated) {
            return Err((number, SyntaxError::MisplacedOtp));
        }
        text_lines.push((number, unnegated, negated));
    }
    let text = text_expectation(trim_blank_text(&text_lines), utterances)?;
    Ok(BotExpectation {
        line: header_line,
        text,
        asserters,
    })
}

/// The text lines of a `#bot` block as an expectation. A `!` on the first line alone negates
/// the whole text (Botium's meaning); otherwise every `!` line is a pattern of its own that the
/// message must not match, and the other lines form the text it must match. A text that is
/// one line naming an utterance list matches any of its variants.
fn text_expectation(
    lines: &[(usize, &str, bool)],
    utterances: &HashMap<String, Vec<String>>,
) -> Result<Option<TextExpectation>, LineError> {
    if lines.is_empty() {
        return Ok(None);
    }
    let negated_lines = lines.iter().filter(|(_, _, negated)| *negated).count();
    let whole_text_negated = negated_lines == 1 && lines[0].2;
    let (positive, excluded): (Vec<_>, Vec<_>) = if whole_text_negated {
        (lines.to_vec(), Vec::new())
    } else {
        lines.iter().partition(|(_, _, negated)| !*negated)
    };
    let positive = trim_blank_text(&positive);
    let patterns = match positive {
        [] => Vec::new(),
        [(number, line, _)] => match utterances.get(*line) {
            Some(variants) => variants.clone(),
            None if is_upper_identifier(line) && line.contains('_') => {
                let name = line.to_string();
                return Err((*number, SyntaxError::UnknownUtteranceList { name }));
            }
            None => vec![line.to_string()],
        },
        _ => vec![
            positive
                .iter()
                .map(|(_, line, _)| *line)
                .collect::<Vec<_>>()
                .join("\n"),
        ],
    };
    Ok(Some(TextExpectation {
        patterns,
        negated: whole_text_negated,
        excluded: excluded
            .iter()
            .map(|(_, line, _)| line.to_string())
            .collect(),
    }))
}

/// Drops blank lines around a text (between it and the first asserter, and around the lines
/// a `!` took out).
fn trim_blank_text<'a, 'b>(lines: &'b [(usize, &'a str, bool)]) -> &'b [(usize, &'a str, bool)] {
    let start = lines.iter().position(|(_, line, _)| !line.is_empty());
    let end = lines.iter().rposition(|(_, line, _)| !line.is_empty());
    match (start, end) {
        (Some(start), Some(end)) => &lines[start..=end],
        _ => &[],
    }
}

/// The asserter a line starting with `keyword` stands for; `None` when `keyword` is no asserter.
fn parse_asserter(
    keyword: &str,
    argument: &str,
    negated: bool,
) -> Option<Result<Asserter, SyntaxError>> {
    let single_name = || {
        if argument.is_empty() {
            Err(SyntaxError::MissingArgument {
                keyword: keyword.to_string(),
            })
        } else if argument.contains(char::is_whitespace) {
            Err(SyntaxError::InvalidArgument {
                keyword: keyword.to_string(),
                value: argument.to_string(),
            })
        } else {
            Ok(argument.to_string())
        }
    };
    let list = || {
        if argument.is_empty() {
            return Ok(Vec::new());
        }
        let items = split_arguments(argument);
        if items.iter().any(String::is_empty) {
            return Err(SyntaxError::EmptyListItem {
                keyword: keyword.to_string(),
            });
        }
        Ok(items)
    };
    Some(match keyword {
        "INTENT" => single_name().map(|name| Asserter::Intent { name, negated }),
        "RESPONSE" => single_name().map(|key| Asserter::Response { key, negated }),
        "BUTTONS" => list().map(|titles| Asserter::Buttons { titles, negated }),
        "ENTITIES" => list().map(|names| Asserter::Entities { names, negated }),
        "BUTTONS_COUNT" | "BUTTONS_COUNT_REC" => match CountCheck::parse(argument) {
            Some(check) => Ok(Asserter::ButtonsCount { check, negated }),
            None => Err(SyntaxError::InvalidNumber {
                keyword: keyword.to_string(),
                value: argument.to_string(),
                expected: "a count like `2`, `>=1` or `<3`",
            }),
        },
        "INTENT_CONFIDENCE" => match argument.parse::<u32>() {
            Ok(min_percent) if min_percent <= 100 && !argument.starts_with('+') => {
                Ok(Asserter::IntentConfidence {
                    min_percent,
                    negated,
                })
            }
            _ => Err(SyntaxError::InvalidNumber {
                keyword: keyword.to_string(),
                value: argument.to_string(),
                expected: "a whole percentage from 0 to 100",
            }),
        },
        "ENTITY_VALUES" => list().and_then(|values| {
            if values.is_empty() {
                let keyword = keyword.to_string();
                return Err(SyntaxError::MissingArgument { keyword });
            }
            Ok(Asserter::EntityValues { values, negated })
        }),
        _ => {
            let values = split_arguments(argument);
            let values = if argument.is_empty() {
                Vec::new()
            } else {
                values
            };
            return TextAsserter::parse(keyword, &values)
                .map(|parsed| parsed.map(|asserter| Asserter::Text { asserter, negated }));
        }
    })
}

/// Botium's argument list: items separated by `|`, a literal `|` written `\|`, each trimmed.
fn split_arguments(argument: &str) -> Vec<String> {
    let mut items = vec![String::new()];
    let mut chars = argument.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                chars.next();
                items.last_mut().expect("never empty").push('|');
            }
            '|' => items.push(String::new()),
            c => items.last_mut().expect("never empty").push(c),
        }
    }
    items
        .into_iter()
        .map(|item| item.trim().to_string())
        .collect()
}

fn join_lines(lines: &[(usize, &str)]) -> String {
    lines
        .iter()
        .map(|(_, line)| *line)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Replaces each `#me` text naming an utterance list by each of its variants, one conversation
/// per combination; every reference varies independently, the first one slowest.
fn expand_utterances(
    conversation: Conversation,
    last_lines: &[usize],
    utterances: &HashMap<String, Vec<String>>,
) -> Result<Vec<Conversation>, LineError> {
    let mut references: Vec<(usize, &[String])> = Vec::new();
    let mut combinations: usize = 1;
    for (index, (step, line)) in conversation.steps.iter().zip(last_lines).enumerate() {
        let Step::Me(MeTurn {
            input: MeInput::Text(text),
            ..
        }) = step
        else {
            continue;
        };
        match utterances.get(text) {
            Some(variants) => {
                combinations = combinations.saturating_mul(variants.len());
                if combinations > MAX_EXPANSIONS {
                    return Err((*line, SyntaxError::TooManyExpansions));
                }
                references.push((index, variants));
            }
            // Only names with an underscore: a member may well type a plain upper-case word.
            None if is_upper_identifier(text) && text.contains('_') => {
                let name = text.clone();
                return Err((*line, SyntaxError::UnknownUtteranceList { name }));
            }
            None => {}
        }
    }

    let mut expanded = vec![conversation];
    for (index, variants) in references {
        expanded = expanded
            .into_iter()
            .flat_map(|conversation| {
                variants.iter().map(move |variant| {
                    let mut conversation = conversation.clone();
                    conversation.name = format!("{} [{variant}]", conversation.name);
                    if let Step::Me(turn) = &mut conversation.steps[index] {
                        turn.input = MeInput::Text(variant.clone());
                    }
                    conversation
                })
            })
            .collect();
    }
    Ok(expanded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Conversation>, ConvoError> {
        parse_with(text, &HashMap::new())
    }

    fn parse_with(
        text: &str,
        utterances: &HashMap<String, Vec<String>>,
    ) -> Result<Vec<Conversation>, ConvoError> {
        parse_conversation(Path::new("tests/x.convo.txt"), text, utterances)
    }

    fn parse_one(text: &str) -> Conversation {
        let mut conversations = parse(text).expect("parses");
        assert_eq!(conversations.len(), 1);
        conversations.remove(0)
    }

    /// The line and rule of a syntax error.
    fn syntax_error(text: &str) -> (usize, SyntaxError) {
        match parse(text) {
            Err(ConvoError::Syntax { line, kind, .. }) => (line, kind),
            other => panic!("expected a syntax error, got {other:?}"),
        }
    }

    fn me(line: usize, input: MeInput) -> Step {
        Step::Me(MeTurn {
            line,
            wait: None,
            input,
        })
    }

    fn text(s: &str) -> MeInput {
        MeInput::Text(s.to_string())
    }

    fn lists(entries: &[(&str, &[&str])]) -> HashMap<String, Vec<String>> {
        entries
            .iter()
            .map(|(name, variants)| {
                let variants = variants.iter().map(ToString::to_string).collect();
                (name.to_string(), variants)
            })
            .collect()
    }

    const SPEC_EXAMPLE: &str = "lupa password, jalur utama
#me
saya lupa password jmo

#bot
*email*
INTENT forgot_password
RESPONSE ask_email_kpj

#me
budi.santoso@example.com 12345678901

#bot
RESPONSE otp_sent

#me
$otp
";

    #[test]
    fn the_spec_example_parses_into_its_steps() {
        let conversation = parse_one(SPEC_EXAMPLE);
        assert_eq!(conversation.name, "lupa password, jalur utama");
        assert_eq!(conversation.source, Path::new("tests/x.convo.txt"));
        assert_eq!(
            conversation.steps,
            vec![
                me(2, text("saya lupa password jmo")),
                Step::Bot(BotExpectation {
                    line: 5,
                    text: Some(TextExpectation {
                        patterns: vec!["*email*".to_string()],
                        negated: false,
                        excluded: Vec::new(),
                    }),
                    asserters: vec![
                        Asserter::Intent {
                            name: "forgot_password".to_string(),
                            negated: false,
                        },
                        Asserter::Response {
                            key: "ask_email_kpj".to_string(),
                            negated: false,
                        },
                    ],
                }),
                me(10, text("budi.santoso@example.com 12345678901")),
                Step::Bot(BotExpectation {
                    line: 13,
                    text: None,
                    asserters: vec![Asserter::Response {
                        key: "otp_sent".to_string(),
                        negated: false,
                    }],
                }),
                me(16, MeInput::Otp),
            ]
        );
    }

    #[test]
    fn a_bang_negates_the_text_and_each_asserter() {
        let conversation = parse_one(
            "n\n#me\nhalo\n\n#bot\n!*error*\n!INTENT out_of_scope\n! RESPONSE fallback\n!BUTTONS\n!ENTITIES nik|kpj\n",
        );
        let Step::Bot(bot) = &conversation.steps[1] else {
            panic!("expected a #bot step");
        };
        assert_eq!(
            bot.text,
            Some(TextExpectation {
                patterns: vec!["*error*".to_string()],
                negated: true,
                excluded: Vec::new(),
            })
        );
        assert_eq!(
            bot.asserters,
            vec![
                Asserter::Intent {
                    name: "out_of_scope".to_string(),
                    negated: true,
                },
                Asserter::Response {
                    key: "fallback".to_string(),
                    negated: true,
                },
                Asserter::Buttons {
                    titles: vec![],
                    negated: true,
                },
                Asserter::Entities {
                    names: vec!["nik".to_string(), "kpj".to_string()],
                    negated: true,
                },
            ]
        );
    }

    fn bot_of(conversation: &Conversation) -> &BotExpectation {
        match &conversation.steps[1] {
            Step::Bot(bot) => bot,
            other @ Step::Me(_) => panic!("expected a #bot step, got {other:?}"),
        }
    }

    /// The README's example (SPEC §10): the masked address must show, the full one must not.
    #[test]
    fn a_bang_on_a_later_text_line_excludes_that_pattern() {
        let conversation = parse_one(
            "n\n#me\nhalo\n\n#bot\n*b***@example.com*\n!*budi.santoso@example.com*\nRESPONSE otp_sent\n",
        );
        let text = bot_of(&conversation).text.clone().expect("a text");
        assert_eq!(
            text,
            TextExpectation {
                patterns: vec!["*b***@example.com*".into()],
                negated: false,
                excluded: vec!["*budi.santoso@example.com*".into()],
            }
        );
        assert!(text.matches("Kode dikirim ke b***@example.com"));
        assert!(!text.matches("Kode dikirim ke budi.santoso@example.com (b***@example.com)"));
        assert!(!text.matches("Kode dikirim lewat SMS"));
    }

    #[test]
    fn a_bang_on_the_first_line_alone_negates_the_whole_text_as_in_botium() {
        let conversation = parse_one("n\n#me\nhalo\n#bot\n!Maaf*\n*ulangi*\n");
        let text = bot_of(&conversation).text.clone().expect("a text");
        assert_eq!(text.patterns, ["Maaf*\n*ulangi*"]);
        assert!(text.negated && text.excluded.is_empty());
        assert!(text.matches("Maaf, coba lagi"));
        assert!(!text.matches("Maaf\nmohon ulangi"));
    }

    #[test]
    fn several_bang_lines_each_exclude_their_own_pattern() {
        let conversation = parse_one("n\n#me\nhalo\n#bot\n!*error*\n!*gagal*\n");
        let text = bot_of(&conversation).text.clone().expect("a text");
        assert!(text.patterns.is_empty() && !text.negated);
        assert_eq!(text.excluded, ["*error*", "*gagal*"]);
        assert!(text.matches("Berhasil"));
        assert!(!text.matches("Gagal dikirim"));
    }

    #[test]
    fn doubled_marks_are_literal_and_optional_lines_are_refused() {
        let conversation = parse_one("n\n#me\nhalo\n#bot\n!!Penting*\n");
        let text = bot_of(&conversation).text.clone().expect("a text");
        assert_eq!(
            (text.patterns, text.negated),
            (vec!["!Penting*".to_string()], false)
        );
        let conversation = parse_one("n\n#me\nhalo\n#bot\n??*\n");
        assert_eq!(bot_of(&conversation).text.clone().unwrap().patterns, ["?*"]);
        assert_eq!(
            syntax_error("n\n#me\nhalo\n#bot\n?Halo*\n"),
            (5, SyntaxError::OptionalLine)
        );
        assert_eq!(
            syntax_error("n\n#me\nhalo\n#bot\nhalo\n?INTENT greet\n"),
            (6, SyntaxError::OptionalLine)
        );
    }

    #[test]
    fn a_bot_text_naming_an_utterance_list_matches_any_variant() {
        let utterances = lists(&[("BOT_SALAM", &["Halo*", "Selamat datang*"])]);
        let conversations =
            parse_with("n\n#me\nhalo\n#bot\nBOT_SALAM\n", &utterances).expect("parses");
        assert_eq!(
            conversations.len(),
            1,
            "bot-side lists do not multiply runs"
        );
        let text = bot_of(&conversations[0]).text.clone().expect("a text");
        assert_eq!(text.patterns, ["Halo*", "Selamat datang*"]);
        assert!(text.matches("Selamat datang di JMO"));
        assert!(!text.matches("Sampai jumpa"));
        let negated = parse_with("n\n#me\nhalo\n#bot\n!BOT_SALAM\n", &utterances).unwrap();
        let text = bot_of(&negated[0]).text.clone().expect("a text");
        assert!(text.negated && !text.matches("Halo Kak") && text.matches("Sampai jumpa"));
        assert_eq!(
            syntax_error("n\n#me\nhalo\n#bot\nBOT_SALM\n"),
            (
                5,
                SyntaxError::UnknownUtteranceList {
                    name: "BOT_SALM".into()
                }
            )
        );
    }

    #[test]
    fn botium_asserters_tanya_checks_are_parsed_with_their_arguments() {
        let conversation = parse_one(
            "n\n#me\nhalo\n#bot\nTEXT_CONTAINS_ANY_IC kode|code \\| kata\nBUTTONS_COUNT >=2\n!BUTTONS_COUNT_REC 0\nINTENT_CONFIDENCE 80\nENTITY_VALUES 12345678901\n",
        );
        let asserters = &bot_of(&conversation).asserters;
        let Asserter::Text {
            asserter,
            negated: false,
        } = &asserters[0]
        else {
            panic!("expected a text asserter, got {:?}", asserters[0]);
        };
        assert_eq!(asserter.keyword, "TEXT_CONTAINS_ANY_IC");
        let values: Vec<&str> = asserter.patterns.iter().map(regex::Regex::as_str).collect();
        assert_eq!(values, ["kode", r"code \| kata"]);
        assert!(asserter.holds("Kirim CODE | KATA"));
        assert_eq!(
            asserters[1..],
            [
                Asserter::ButtonsCount {
                    check: CountCheck::AtLeast(2),
                    negated: false
                },
                Asserter::ButtonsCount {
                    check: CountCheck::Equal(0),
                    negated: true
                },
                Asserter::IntentConfidence {
                    min_percent: 80,
                    negated: false
                },
                Asserter::EntityValues {
                    values: vec!["12345678901".into()],
                    negated: false
                },
            ]
        );
        assert_eq!(
            syntax_error("n\n#me\nhalo\n#bot\nINTENT_CONFIDENCE 120\n").1,
            SyntaxError::InvalidNumber {
                keyword: "INTENT_CONFIDENCE".into(),
                value: "120".into(),
                expected: "a whole percentage from 0 to 100",
            }
        );
        assert!(matches!(
            syntax_error("n\n#me\nhalo\n#bot\nBUTTONS_COUNT dua\n"),
            (5, SyntaxError::InvalidNumber { .. })
        ));
        assert!(matches!(
            syntax_error("n\n#me\nhalo\n#bot\nTEXT_REGEXP_ANY (\n"),
            (5, SyntaxError::InvalidRegex { .. })
        ));
        assert_eq!(
            syntax_error("n\n#me\nTEXT_EQUALS halo\n"),
            (
                3,
                SyntaxError::AsserterInMe {
                    keyword: "TEXT_EQUALS".into()
                }
            )
        );
    }

    /// Every keyword botium-core 1.15 registers is either checked by tanya or refused with an
    /// error that names it: none is read as text.
    #[test]
    fn every_built_in_botium_keyword_is_supported_or_refused_by_name() {
        for keyword in botium::BUILT_IN_KEYWORDS {
            let (block, line) = if keyword == "BUTTON" || keyword == "FORM" {
                ("#me", format!("{keyword} Lupa akun"))
            } else {
                ("#bot", format!("{keyword} 1"))
            };
            let file = format!("n\n#me\nhalo\n{block}\n{line}\n");
            match parse(&file) {
                Ok(conversations) => {
                    let last = conversations[0].steps.last().unwrap();
                    let supported = match last {
                        Step::Bot(bot) => bot.text.is_none() && bot.asserters.len() == 1,
                        Step::Me(me) => matches!(me.input, MeInput::Button(_)),
                    };
                    assert!(supported, "{keyword} was read as text: {last:?}");
                }
                Err(ConvoError::Syntax {
                    kind:
                        SyntaxError::UnsupportedKeyword {
                            keyword: named,
                            reason,
                        },
                    ..
                }) => {
                    assert_eq!(named, keyword);
                    assert!(!reason.is_empty());
                }
                Err(other) => panic!("{keyword}: unexpected error {other}"),
            }
        }
        let message = parse("n\n#me\nhalo\n#bot\nhalo\nTEXT_WER 0.1\n")
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("`TEXT_WER` is a BotiumScript keyword"),
            "{message}"
        );
    }

    #[test]
    fn a_negated_text_expectation_matches_what_the_pattern_does_not() {
        let expectation = TextExpectation {
            patterns: vec!["*error*".to_string()],
            negated: true,
            excluded: Vec::new(),
        };
        assert!(expectation.matches("Kode terkirim"));
        assert!(!expectation.matches("Terjadi ERROR"));
    }

    #[test]
    fn buttons_are_split_on_bars_and_trimmed() {
        let conversation = parse_one("n\n#me\nhalo\n#bot\nBUTTONS  SMS | E-mail |Batal\n");
        let Step::Bot(bot) = &conversation.steps[1] else {
            panic!("expected a #bot step");
        };
        assert_eq!(
            bot.asserters,
            vec![Asserter::Buttons {
                titles: vec!["SMS".into(), "E-mail".into(), "Batal".into()],
                negated: false,
            }]
        );
    }

    #[test]
    fn multi_line_texts_are_joined_with_newlines() {
        let conversation = parse_one(
            "n\n#me\nbaris satu\nbaris dua\n\nbaris empat\n\n#bot\nHalo*\n*Tanya\nINTENT greet\n",
        );
        assert_eq!(
            conversation.steps[0],
            me(2, text("baris satu\nbaris dua\n\nbaris empat"))
        );
        let Step::Bot(bot) = &conversation.steps[1] else {
            panic!("expected a #bot step");
        };
        assert_eq!(bot.text.as_ref().unwrap().patterns, ["Halo*\n*Tanya"]);
    }

    #[test]
    fn a_bot_block_without_text_expects_any_message() {
        let conversation = parse_one("n\n#me\nhalo\n\n#bot\n\n#bot\nINTENT greet\n");
        assert_eq!(
            conversation.steps[1],
            Step::Bot(BotExpectation {
                line: 5,
                text: None,
                asserters: vec![],
            })
        );
        let Step::Bot(second) = &conversation.steps[2] else {
            panic!("expected a #bot step");
        };
        assert_eq!(second.text, None);
    }

    #[test]
    fn wait_moves_the_clock_before_the_message() {
        for (wait, seconds) in [("30s", 30), ("6m", 360), ("2h", 7200)] {
            let conversation = parse_one(&format!("n\n#me\nWAIT {wait}\n$otp\n"));
            assert_eq!(
                conversation.steps[0],
                Step::Me(MeTurn {
                    line: 2,
                    wait: Some(Duration::from_secs(seconds)),
                    input: MeInput::Otp,
                })
            );
        }
    }

    #[test]
    fn a_wait_that_is_not_a_positive_whole_number_with_a_unit_is_rejected() {
        for wait in [
            "",
            "0m",
            "6",
            "6d",
            "6M",
            "-1m",
            "+1m",
            "1.5h",
            "6 m",
            "m",
            "6mm",
            "é",
            "99999999999999999999h",
            "9999999999999999999h",
        ] {
            let (line, kind) = syntax_error(&format!("n\n#me\nWAIT {wait}\nhalo\n"));
            assert_eq!(line, 3, "WAIT {wait}");
            assert!(
                matches!(kind, SyntaxError::InvalidWait { .. }),
                "WAIT {wait}: {kind:?}"
            );
        }
    }

    #[test]
    fn wait_must_be_the_first_line_and_be_followed_by_a_message() {
        assert_eq!(
            syntax_error("n\n#me\nhalo\nWAIT 6m\n"),
            (4, SyntaxError::MisplacedWait)
        );
        assert_eq!(
            syntax_error("n\n#me\nWAIT 6m\n\n#bot\n"),
            (2, SyntaxError::EmptyMe)
        );
    }

    #[test]
    fn button_presses_and_codes_are_recognised() {
        let conversation = parse_one("n\n#me\nhalo\n#me\nWAIT 1m\nBUTTON E-mail\n#me\n$OTP\n");
        assert_eq!(
            conversation.steps[1],
            Step::Me(MeTurn {
                line: 4,
                wait: Some(Duration::from_secs(60)),
                input: MeInput::Button("E-mail".to_string()),
            })
        );
        assert_eq!(conversation.steps[2], me(7, MeInput::Otp));
    }

    #[test]
    fn a_me_block_sends_exactly_one_kind_of_message() {
        assert_eq!(
            syntax_error("n\n#me\nhalo\nBUTTON SMS\n"),
            (4, SyntaxError::MixedMeInput)
        );
        assert_eq!(
            syntax_error("n\n#me\n$otp\nhalo\n"),
            (3, SyntaxError::MixedMeInput)
        );
        assert_eq!(
            parse_one("n\n#me\nkodenya $otp_spaced ya\n").steps[0],
            Step::Me(MeTurn {
                line: 2,
                wait: None,
                input: MeInput::TextWithCode("kodenya $otp_spaced ya".into())
            })
        );
        assert_eq!(syntax_error("n\n#me\n\n#bot\n"), (2, SyntaxError::EmptyMe));
        assert_eq!(
            syntax_error("n\n#me\nBUTTON\n"),
            (
                3,
                SyntaxError::MissingArgument {
                    keyword: "BUTTON".into()
                }
            )
        );
    }

    #[test]
    fn misplaced_keywords_are_rejected_with_their_line() {
        assert_eq!(
            syntax_error("n\n#me\nINTENT greet\n"),
            (
                3,
                SyntaxError::AsserterInMe {
                    keyword: "INTENT".into()
                }
            )
        );
        assert_eq!(
            syntax_error("n\n#me\nhalo\n#bot\nBUTTON SMS\n"),
            (
                5,
                SyntaxError::MeKeywordInBot {
                    keyword: "BUTTON".into()
                }
            )
        );
        assert_eq!(
            syntax_error("n\n#me\nhalo\n#bot\nINTENT greet\nhalo juga\n"),
            (6, SyntaxError::TextAfterAsserter)
        );
        assert_eq!(
            syntax_error("n\n#me\nhalo\n#bot\nINTENT greet\nINTENTS greet\n"),
            (
                6,
                SyntaxError::UnknownAsserter {
                    keyword: "INTENTS".into()
                }
            )
        );
        assert_eq!(
            syntax_error("n\n#me\nhalo\n#bot\nhalo\nJSON_PATH $.x\n"),
            (
                6,
                SyntaxError::UnsupportedKeyword {
                    keyword: "JSON_PATH".into(),
                    reason: botium::refusal("JSON_PATH").unwrap(),
                }
            )
        );
        assert_eq!(
            syntax_error("n\n#me\nhalo\n#bot\n!\n"),
            (5, SyntaxError::BareNegation)
        );
        assert_eq!(
            syntax_error("n\n#me\nhalo\n#bot\nINTENT\n"),
            (
                5,
                SyntaxError::MissingArgument {
                    keyword: "INTENT".into()
                }
            )
        );
        assert_eq!(
            syntax_error("n\n#me\nhalo\n#bot\nRESPONSE otp sent\n"),
            (
                5,
                SyntaxError::InvalidArgument {
                    keyword: "RESPONSE".into(),
                    value: "otp sent".into()
                }
            )
        );
        assert_eq!(
            syntax_error("n\n#me\nhalo\n#bot\nBUTTONS SMS||Batal\n"),
            (
                5,
                SyntaxError::EmptyListItem {
                    keyword: "BUTTONS".into()
                }
            )
        );
        assert_eq!(
            syntax_error("n\n#me hai\n"),
            (
                2,
                SyntaxError::HeaderWithText {
                    header: "#me".into()
                }
            )
        );
        assert_eq!(
            syntax_error("n\n#begin\n#me\nhalo\n"),
            (
                2,
                SyntaxError::UnsupportedSection {
                    section: "#begin".into()
                }
            )
        );
    }

    #[test]
    fn a_conversation_must_start_with_the_user() {
        assert_eq!(
            syntax_error("n\n\n#bot\nhalo\n\n#me\nhalo\n"),
            (3, SyntaxError::LeadingBot)
        );
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let error = parse("n\n#me\nhalo\n\n#bot\nSLOT x\nINTENT greet\nFOO bar\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "tests/x.convo.txt:8: unknown asserter `FOO`; tanya supports INTENT, RESPONSE, \
             BUTTONS, ENTITIES and Botium's TEXT_*, BUTTONS_COUNT, INTENT_CONFIDENCE and \
             ENTITY_VALUES"
        );
    }

    #[test]
    fn description_lines_comments_and_header_case_are_tolerated() {
        let conversation = parse_one(
            "nama\nbaris deskripsi\nINTENT ini bukan asserter\n\n#ME  \n// komentar\nhalo\n\n\t#Bot\t\n  Halo*  \n// INTENT x\n\tINTENT greet\n",
        );
        assert_eq!(conversation.name, "nama");
        assert_eq!(conversation.steps.len(), 2);
        assert_eq!(conversation.steps[0], me(5, text("halo")));
        let Step::Bot(bot) = &conversation.steps[1] else {
            panic!("expected a #bot step");
        };
        assert_eq!(bot.text.as_ref().unwrap().patterns, ["Halo*"]);
        assert_eq!(bot.asserters.len(), 1);
    }

    #[test]
    fn crlf_line_endings_and_a_byte_order_mark_are_ignored() {
        let windows = format!("\u{feff}{}", SPEC_EXAMPLE.replace('\n', "\r\n"));
        assert_eq!(parse_one(&windows), parse_one(SPEC_EXAMPLE));
    }

    #[test]
    fn a_file_starting_with_a_block_is_named_after_the_file() {
        let conversation = parse_one("#me\nhalo\n");
        assert_eq!(conversation.name, "x");
        assert_eq!(conversation.steps, vec![me(1, text("halo"))]);
    }

    #[test]
    fn empty_and_nameless_files_are_rejected() {
        assert_eq!(syntax_error(""), (1, SyntaxError::EmptyFile));
        assert_eq!(
            syntax_error("\u{feff} \r\n\t\n"),
            (1, SyntaxError::EmptyFile)
        );
        assert_eq!(syntax_error("\n#me\nhalo\n"), (1, SyntaxError::MissingName));
        assert_eq!(syntax_error("hanya nama\n"), (1, SyntaxError::NoTurns));
        assert_eq!(syntax_error("nama\ndeskripsi\n"), (2, SyntaxError::NoTurns));
    }

    #[test]
    fn an_utterance_list_reference_runs_once_per_variant() {
        let utterances = lists(&[("UTT_GREET", &["halo", "selamat pagi"])]);
        let conversations =
            parse_with("sapa\n#me\nUTT_GREET\n#bot\nINTENT greet\n", &utterances).expect("parses");
        let names: Vec<_> = conversations.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["sapa [halo]", "sapa [selamat pagi]"]);
        assert_eq!(conversations[1].steps[0], me(2, text("selamat pagi")));
        assert_eq!(conversations[0].steps[1], conversations[1].steps[1]);
    }

    #[test]
    fn several_references_expand_to_every_combination() {
        let utterances = lists(&[
            ("SAPA", &["halo", "hai"]),
            ("TERIMA_KASIH", &["makasih", "tq", "thx"]),
        ]);
        let conversations = parse_with("n\n#me\nSAPA\n#me\nTERIMA_KASIH\n#me\nSAPA\n", &utterances)
            .expect("parses");
        assert_eq!(conversations.len(), 12);
        assert_eq!(conversations[0].name, "n [halo] [makasih] [halo]");
        assert_eq!(conversations[1].name, "n [halo] [makasih] [hai]");
        assert_eq!(conversations[11].name, "n [hai] [thx] [hai]");
        assert_eq!(
            conversations[11].steps,
            vec![me(2, text("hai")), me(4, text("thx")), me(6, text("hai"))]
        );
    }

    #[test]
    fn expansions_beyond_the_limit_are_rejected() {
        let ten: Vec<String> = (0..10).map(|i| format!("v{i}")).collect();
        let utterances = HashMap::from([("DIGITS".to_string(), ten)]);
        let at_limit = "n\n#me\nDIGITS\n#me\nDIGITS\n#me\nDIGITS\n";
        assert_eq!(parse_with(at_limit, &utterances).unwrap().len(), 1_000);
        let beyond = format!("{at_limit}#me\nDIGITS\n");
        match parse_with(&beyond, &utterances) {
            Err(ConvoError::Syntax {
                line: 9,
                kind: SyntaxError::TooManyExpansions,
                ..
            }) => {}
            other => panic!("expected too many expansions, got {other:?}"),
        }
    }

    #[test]
    fn an_unknown_utterance_list_name_is_an_error_but_shouting_is_not() {
        assert_eq!(
            syntax_error("n\n#me\nUTT_GRET\n"),
            (
                3,
                SyntaxError::UnknownUtteranceList {
                    name: "UTT_GRET".into()
                }
            )
        );
        assert_eq!(parse_one("n\n#me\nHALO\n").steps[0], me(2, text("HALO")));
    }

    #[test]
    fn utterance_files_give_a_name_and_variants() {
        let parsed = parse_utterances(
            Path::new("UTT_GREET.utterances.txt"),
            "\u{feff}UTT_GREET\r\nhalo\r\n\r\n  selamat pagi \r\n// komentar\r\n",
        )
        .expect("parses");
        assert_eq!(
            parsed,
            (
                "UTT_GREET".to_string(),
                vec!["halo".into(), "selamat pagi".into()]
            )
        );
    }

    #[test]
    fn broken_utterance_files_are_rejected_with_their_line() {
        let error = |text| match parse_utterances(Path::new("u.utterances.txt"), text) {
            Err(ConvoError::Syntax { line, kind, .. }) => (line, kind),
            other => panic!("expected a syntax error, got {other:?}"),
        };
        assert_eq!(error(""), (1, SyntaxError::EmptyFile));
        assert_eq!(error("\nhalo\n"), (1, SyntaxError::MissingName));
        assert_eq!(
            error("SAPA\n\n"),
            (
                1,
                SyntaxError::NoVariants {
                    name: "SAPA".into()
                }
            )
        );
        assert_eq!(
            error("SAPA\nhalo\nhai\nhalo\n"),
            (
                4,
                SyntaxError::DuplicateVariant {
                    variant: "halo".into()
                }
            )
        );
    }

    #[test]
    fn weird_input_never_panics() {
        let fragments = [
            "",
            "\n",
            "\r\n",
            "\u{feff}",
            "#me",
            "#BOT",
            "#bot x",
            "!",
            "! ",
            "\t",
            "WAIT",
            "WAIT 6m",
            "WAIT 0s",
            "BUTTON",
            "$otp",
            "*",
            "INTENT",
            "BUTTONS |",
            "ENTITIES a|",
            "é",
            "#begin",
            "//",
            "UTT_X",
            "L",
        ];
        let utterances = lists(&[("UTT_X", &["a", "b"]), ("L", &["x"])]);
        let mut text = String::new();
        for a in fragments {
            for b in fragments {
                for c in fragments {
                    for d in ["\n", " ", "\r"] {
                        text.clear();
                        for part in [a, d, b, "\n", c, d, a] {
                            text.push_str(part);
                        }
                        let _ = parse_with(&text, &utterances);
                        let _ = parse_utterances(Path::new("u.utterances.txt"), &text);
                    }
                }
            }
        }
    }

    mod files {
        use super::super::*;
        use std::fs;

        fn write(path: &Path, text: &str) {
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }

        #[test]
        fn a_directory_loads_every_conversation_sorted_by_path_with_its_own_utterances() {
            let root = tempfile::tempdir().unwrap();
            let dir = root.path();
            write(&dir.join("b.convo.txt"), "b\n#me\nSAPA\n");
            write(&dir.join("a.convo.txt"), "a\n#me\nhalo\n");
            write(&dir.join("sapa.utterances.txt"), "SAPA\nhalo\nhai\n");
            write(&dir.join("notes.txt"), "not a conversation");
            write(&dir.join("flows/c.convo.txt"), "c\n#me\nSAPA\n");
            write(&dir.join("flows/sapa.utterances.txt"), "SAPA\npagi\n");

            let conversations = load_path(dir).expect("loads");
            let names: Vec<_> = conversations.iter().map(|c| c.name.as_str()).collect();
            assert_eq!(names, ["a", "b [halo]", "b [hai]", "c [pagi]"]);
            assert_eq!(conversations[3].source, dir.join("flows/c.convo.txt"));
        }

        #[test]
        fn a_single_file_sees_the_utterances_of_its_directory() {
            let root = tempfile::tempdir().unwrap();
            let file = root.path().join("sapa.convo.txt");
            write(&file, "sapa\n#me\nSAPA\n");
            write(&root.path().join("sapa.utterances.txt"), "SAPA\nhalo\n");
            let conversations = load_path(&file).expect("loads");
            assert_eq!(conversations[0].name, "sapa [halo]");
        }

        #[test]
        fn two_lists_with_one_name_in_a_directory_are_rejected() {
            let root = tempfile::tempdir().unwrap();
            write(&root.path().join("a.convo.txt"), "a\n#me\nhalo\n");
            write(&root.path().join("a.utterances.txt"), "SAPA\nhalo\n");
            write(&root.path().join("b.utterances.txt"), "SAPA\nhai\n");
            match load_path(root.path()) {
                Err(ConvoError::Syntax {
                    file,
                    line: 1,
                    kind: SyntaxError::DuplicateUtteranceList { first, .. },
                }) => {
                    assert_eq!(file, root.path().join("b.utterances.txt"));
                    assert_eq!(first, root.path().join("a.utterances.txt"));
                }
                other => panic!("expected a duplicate list, got {other:?}"),
            }
        }

        #[test]
        fn a_missing_path_is_an_io_error_naming_it() {
            let root = tempfile::tempdir().unwrap();
            let missing = root.path().join("nope");
            let error = load_path(&missing).unwrap_err();
            assert!(matches!(&error, ConvoError::Io { path, .. } if *path == missing));
            assert!(
                error
                    .to_string()
                    .starts_with(&missing.display().to_string())
            );
        }

        #[test]
        fn a_directory_without_conversations_is_an_error() {
            let root = tempfile::tempdir().unwrap();
            write(&root.path().join("sapa.utterances.txt"), "SAPA\nhalo\n");
            assert!(matches!(
                load_path(root.path()),
                Err(ConvoError::NoConversations { .. })
            ));
        }

        #[test]
        fn a_syntax_error_in_a_loaded_file_names_that_file() {
            let root = tempfile::tempdir().unwrap();
            let file = root.path().join("rusak.convo.txt");
            write(&file, "rusak\n#bot\nhalo\n");
            let message = load_path(root.path()).unwrap_err().to_string();
            assert_eq!(
                message,
                format!("{}:2: {}", file.display(), SyntaxError::LeadingBot)
            );
        }
    }
}
