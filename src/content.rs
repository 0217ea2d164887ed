//! Loads and validates `intents/`: intent files (examples, patterns, responses), response files,
//! the slang lexicon and the word lists of real words (`lexicon/*.txt`). The file structs mirror the TOML; the runtime structs are compiled
//! (regexes built, templates split into placeholders) and every error names file and line.

use regex::Regex;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// Longest button title the content may define: WhatsApp's reply-button limit.
pub const MAX_BUTTON_TITLE_CHARS: usize = 20;

// ---------------------------------------------------------------------------------------------
// File shapes (what authors write)

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IntentFile {
    /// How a button offering this request names it ("Lupa password").
    #[serde(default)]
    title: Option<Spanned<String>>,
    #[serde(default)]
    examples: Vec<Spanned<String>>,
    #[serde(default)]
    patterns: Vec<Spanned<String>>,
    #[serde(default)]
    responses: BTreeMap<String, Spanned<ResponseSpec>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResponseFile {
    #[serde(default)]
    responses: BTreeMap<String, Spanned<ResponseSpec>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResponseSpec {
    text: Vec<String>,
    #[serde(default)]
    buttons: Vec<Button>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LexiconFile {
    #[serde(default)]
    words: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    commands: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    concepts: BTreeMap<String, Spanned<Vec<String>>>,
}

// ---------------------------------------------------------------------------------------------
// Runtime shapes (what the engine uses)

/// A quick-reply button: what the member sees and what pressing it sends.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Button {
    pub title: String,
    pub payload: String,
}

/// One intent: its training examples and its high-precision patterns.
#[derive(Debug, Clone)]
pub struct IntentDef {
    pub name: String,
    /// How a button offering this request names it; `None` when the file gives none.
    pub title: Option<String>,
    pub examples: Vec<String>,
    pub patterns: Vec<Regex>,
}

/// A piece of a response template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Placeholder(String),
}

/// A response: its text variants (pre-split into literal text and placeholders) and buttons.
#[derive(Debug, Clone)]
pub struct ResponseTemplate {
    variants: Vec<Vec<Segment>>,
    pub buttons: Vec<Button>,
}

impl ResponseTemplate {
    /// How many text variants there are (at least one).
    pub fn variant_count(&self) -> usize {
        self.variants.len()
    }

    /// Renders variant `pick` (wrapping around) with the given placeholder values; a
    /// placeholder without a value renders empty (validation makes that a content bug).
    pub fn render(&self, pick: usize, values: &[(&str, &str)]) -> String {
        let segments = &self.variants[pick % self.variants.len()];
        let mut out = String::new();
        for segment in segments {
            match segment {
                Segment::Literal(text) => out.push_str(text),
                Segment::Placeholder(name) => {
                    if let Some((_, value)) = values.iter().find(|(n, _)| n == name) {
                        out.push_str(value);
                    }
                }
            }
        }
        out
    }

    fn placeholders(&self) -> impl Iterator<Item = &str> {
        self.variants.iter().flatten().filter_map(|s| match s {
            Segment::Placeholder(name) => Some(name.as_str()),
            Segment::Literal(_) => None,
        })
    }
}

/// All content, loaded and validated.
#[derive(Debug, Clone)]
pub struct Content {
    pub intents: Vec<IntentDef>,
    pub responses: HashMap<String, ResponseTemplate>,
    /// Slang and abbreviations → standard words, phrases of up to three words on the left.
    pub lexicon: Vec<(String, String)>,
    /// Typed phrases that act like a button press ("kirim ulang" → `/resend_otp`).
    pub commands: Vec<(String, String)>,
    /// The dialog readers' words: (concept name, phrase as written), `lexicon/answers.toml`.
    pub concepts: Vec<(String, String)>,
    /// Real words (stems), one a line in `lexicon/*.txt`: the typo corrector leaves them be.
    pub words: Vec<String>,
}

impl Content {
    /// The response for `key`, if the content defines it.
    pub fn response(&self, key: &str) -> Option<&ResponseTemplate> {
        self.responses.get(key)
    }

    /// How a button offering `intent` names it: its title, else its name.
    pub fn intent_title<'a>(&'a self, intent: &'a str) -> &'a str {
        self.intents
            .iter()
            .find(|i| i.name == intent)
            .and_then(|i| i.title.as_deref())
            .unwrap_or(intent)
    }
}

/// A content problem, located in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentError {
    pub file: PathBuf,
    /// 1-based line, or 0 when the problem concerns the file as a whole.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ContentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
        }
    }
}

/// The payload of the choice a member typed instead of pressing it: its number ("2", "2.")
/// or its title, among `buttons` (those of the bot's latest answer). The one home of this rule: the engine applies it to
/// every channel's text.
pub fn typed_choice(buttons: &[Button], text: &str) -> Option<String> {
    let trimmed = text.trim().trim_end_matches(['.', ')']);
    if trimmed.len() <= 2 && !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        let n: usize = trimmed.parse().ok()?;
        return n
            .checked_sub(1)
            .and_then(|i| buttons.get(i))
            .map(|b| b.payload.clone());
    }
    let typed = fold(text);
    buttons
        .iter()
        .find(|button| fold(&button.title) == typed)
        .map(|button| button.payload.clone())
}

/// Lower case with runs of white space made one space, for comparing typed titles.
fn fold(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Every problem found in `intents/` (loading does not stop at the first).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ContentErrors(pub Vec<ContentError>);

impl fmt::Display for ContentErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

/// Whether the dialog understands `payload`, given a test for the intents the content defines.
pub type PayloadCheck = fn(payload: &str, is_intent: &dyn Fn(&str) -> bool) -> bool;

/// What the engine requires of the content: each response key it uses and the placeholders
/// that key may contain.
pub struct Requirements<'a> {
    pub response_keys: &'a [(&'a str, &'a [&'a str])],
    /// Every intent the code acts on by name; the content must define each.
    pub intents: &'a [&'a str],
    /// Every concept the dialog's readers look for; `answers.toml` must define exactly these.
    pub concepts: &'a [&'a str],
    /// Whether the dialog understands a button or command payload, given the intents the
    /// content defines (`/forgot_acount` is a typo, not a payload).
    pub understands_payload: PayloadCheck,
}

/// Loads `dir` and validates it against `requirements`.
pub fn load(dir: &Path, requirements: &Requirements) -> Result<Content, ContentErrors> {
    let mut loader = Loader::default();
    loader.load_dir(dir);
    loader.finish(requirements)
}

// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct Loader {
    errors: Vec<ContentError>,
    intents: Vec<IntentDef>,
    /// key → (template, file, line) so duplicates can name both places.
    responses: HashMap<String, (ResponseTemplate, PathBuf, usize)>,
    lexicon: Vec<(String, String)>,
    commands: Vec<(String, String)>,
    /// Every button and command payload, with where it is written and what holds it.
    payloads: Vec<(String, PathBuf, usize, String)>,
    /// (concept, phrase, file, line) as written.
    concepts: Vec<(String, String, PathBuf, usize)>,
    words: Vec<String>,
    /// normalised example → (intent, file, line)
    seen_examples: HashMap<String, (String, PathBuf, usize)>,
}

impl Loader {
    fn error(&mut self, file: &Path, line: usize, message: impl Into<String>) {
        self.errors.push(ContentError {
            file: file.to_path_buf(),
            line,
            message: message.into(),
        });
    }

    fn load_dir(&mut self, dir: &Path) {
        let intent_files = match toml_files(dir) {
            Ok(files) => files,
            Err(e) => {
                self.error(dir, 0, format!("cannot read the intents directory: {e}"));
                return;
            }
        };
        if intent_files.is_empty() {
            self.error(dir, 0, "no intent files (*.toml) found");
        }
        for path in intent_files {
            self.load_intent_file(&path);
        }
        // Sub-folders are optional: a missing one simply contributes nothing.
        for path in toml_files(&dir.join("responses")).unwrap_or_default() {
            self.load_response_file(&path);
        }
        let lexicon = dir.join("lexicon");
        for path in toml_files(&lexicon).unwrap_or_default() {
            self.load_lexicon_file(&path);
        }
        for path in files_with_extension(&lexicon, "txt").unwrap_or_default() {
            self.load_word_list(&path);
        }
    }

    /// A word list: one lower-case word a line; `#` starts a comment line.
    fn load_word_list(&mut self, path: &Path) {
        let Some(text) = self.read(path) else { return };
        for (index, line) in text.lines().enumerate() {
            let word = line.trim();
            if word.is_empty() || word.starts_with('#') {
                continue;
            }
            if !word.chars().all(|c| c.is_alphabetic() && !c.is_uppercase()) {
                self.error(
                    path,
                    index + 1,
                    format!("word list entry {word:?} must be one lower-case word"),
                );
                continue;
            }
            self.words.push(word.to_string());
        }
    }

    fn read(&mut self, path: &Path) -> Option<String> {
        match std::fs::read_to_string(path) {
            Ok(text) => Some(text),
            Err(e) => {
                self.error(path, 0, format!("cannot read: {e}"));
                None
            }
        }
    }

    fn parse<T: for<'de> Deserialize<'de>>(&mut self, path: &Path, text: &str) -> Option<T> {
        match toml::from_str::<T>(text) {
            Ok(value) => Some(value),
            Err(e) => {
                let line = e.span().map_or(0, |span| line_of(text, span.start));
                self.error(path, line, e.message().trim().to_string());
                None
            }
        }
    }

    fn load_intent_file(&mut self, path: &Path) {
        let Some(text) = self.read(path) else { return };
        let Some(file) = self.parse::<IntentFile>(path, &text) else {
            return;
        };
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        if !is_intent_name(&name) {
            self.error(
                path,
                0,
                format!("intent name {name:?} must be lower_snake_case (it is the file name)"),
            );
            return;
        }
        if file.examples.is_empty() {
            self.error(path, 1, format!("intent {name} has no examples"));
        }
        let mut examples = Vec::with_capacity(file.examples.len());
        for example in &file.examples {
            let line = line_of(&text, example.span().start);
            let trimmed = example.get_ref().trim();
            if trimmed.is_empty() {
                self.error(path, line, "empty example");
                continue;
            }
            let key = dedup_key(trimmed);
            if let Some((other, other_file, other_line)) = self.seen_examples.get(&key) {
                let message = format!(
                    "example {trimmed:?} of {name} duplicates one of {other} at {}:{other_line}",
                    other_file.display()
                );
                self.error(path, line, message);
                continue;
            }
            self.seen_examples
                .insert(key, (name.clone(), path.to_path_buf(), line));
            examples.push(trimmed.to_string());
        }
        let title = file.title.map(|title| {
            let line = line_of(&text, title.span().start);
            let title = title.into_inner().trim().to_string();
            let chars = title.chars().count();
            if chars == 0 || chars > MAX_BUTTON_TITLE_CHARS {
                self.error(
                    path,
                    line,
                    format!("title {title:?} must have 1..={MAX_BUTTON_TITLE_CHARS} characters"),
                );
            }
            title
        });
        let mut patterns = Vec::with_capacity(file.patterns.len());
        for pattern in &file.patterns {
            let line = line_of(&text, pattern.span().start);
            match Regex::new(pattern.get_ref()) {
                Ok(regex) => patterns.push(regex),
                Err(e) => self.error(path, line, format!("pattern does not compile: {e}")),
            }
        }
        self.intents.push(IntentDef {
            name,
            title,
            examples,
            patterns,
        });
        self.add_responses(path, &text, file.responses);
    }

    fn load_response_file(&mut self, path: &Path) {
        let Some(text) = self.read(path) else { return };
        if let Some(file) = self.parse::<ResponseFile>(path, &text) {
            self.add_responses(path, &text, file.responses);
        }
    }

    fn add_responses(
        &mut self,
        path: &Path,
        text: &str,
        responses: BTreeMap<String, Spanned<ResponseSpec>>,
    ) {
        for (key, spec) in responses {
            let line = line_of(text, spec.span().start);
            let spec = spec.into_inner();
            if let Some((_, other_file, other_line)) = self.responses.get(&key) {
                let message = format!(
                    "response {key} is already defined at {}:{other_line}",
                    other_file.display()
                );
                self.error(path, line, message);
                continue;
            }
            if spec.text.is_empty() {
                self.error(path, line, format!("response {key} has no text variants"));
                continue;
            }
            let mut variants = Vec::with_capacity(spec.text.len());
            for variant in &spec.text {
                match split_template(variant) {
                    Ok(segments) => variants.push(segments),
                    Err(message) => self.error(path, line, format!("response {key}: {message}")),
                }
            }
            for button in &spec.buttons {
                let chars = button.title.chars().count();
                if chars == 0 || chars > MAX_BUTTON_TITLE_CHARS {
                    let message = format!(
                        "response {key}: button title {:?} must have 1..={MAX_BUTTON_TITLE_CHARS} characters",
                        button.title
                    );
                    self.error(path, line, message);
                }
                if button.payload.trim().is_empty() {
                    self.error(
                        path,
                        line,
                        format!("response {key}: button payload is empty"),
                    );
                } else {
                    self.payloads.push((
                        button.payload.clone(),
                        path.to_path_buf(),
                        line,
                        format!("response {key}: button {:?}", button.title),
                    ));
                }
            }
            if variants.is_empty() {
                continue;
            }
            let template = ResponseTemplate {
                variants,
                buttons: spec.buttons,
            };
            self.responses
                .insert(key, (template, path.to_path_buf(), line));
        }
    }

    fn load_lexicon_file(&mut self, path: &Path) {
        let Some(text) = self.read(path) else { return };
        let Some(file) = self.parse::<LexiconFile>(path, &text) else {
            return;
        };
        for (from, to) in file.words {
            let line = line_of(&text, to.span().start);
            let words = from.split_whitespace().count();
            if from != from.to_lowercase() || from.trim() != from || words == 0 || words > 3 {
                self.error(
                    path,
                    line,
                    format!("lexicon key {from:?} must be 1–3 lower-case words"),
                );
                continue;
            }
            let to = to.into_inner().trim().to_lowercase();
            if to.is_empty() {
                self.error(
                    path,
                    line,
                    format!("lexicon entry {from:?} maps to nothing"),
                );
                continue;
            }
            self.lexicon.push((from, to));
        }
        for (phrase, payload) in file.commands {
            let line = line_of(&text, payload.span().start);
            let payload = payload.into_inner();
            if !payload.starts_with('/') {
                self.error(
                    path,
                    line,
                    format!("command {phrase:?} must map to a button payload starting with /"),
                );
                continue;
            }
            self.payloads.push((
                payload.clone(),
                path.to_path_buf(),
                line,
                format!("command {phrase:?}"),
            ));
            self.commands.push((phrase.to_lowercase(), payload));
        }
        for (concept, phrases) in file.concepts {
            let line = line_of(&text, phrases.span().start);
            for phrase in phrases.into_inner() {
                let phrase = phrase.trim().to_lowercase();
                if phrase.is_empty() {
                    self.error(path, line, format!("concept {concept}: empty phrase"));
                    continue;
                }
                self.concepts
                    .push((concept.clone(), phrase, path.to_path_buf(), line));
            }
        }
    }

    fn finish(mut self, requirements: &Requirements) -> Result<Content, ContentErrors> {
        let allowed: HashMap<&str, &[&str]> = requirements.response_keys.iter().copied().collect();
        let mut missing = Vec::new();
        for (key, _) in requirements.response_keys {
            if !self.responses.contains_key(*key) {
                missing.push(*key);
            }
        }
        let faq_without_answer: Vec<String> = self
            .intents
            .iter()
            .filter(|i| i.name.starts_with("faq_") && !self.responses.contains_key(&i.name))
            .map(|i| i.name.clone())
            .collect();
        let mut placeholder_errors = Vec::new();
        for (key, (template, file, line)) in &self.responses {
            // FAQ answers and unknown keys allow no placeholders.
            let permitted = allowed.get(key.as_str()).copied().unwrap_or(&[]);
            for name in template.placeholders() {
                if !permitted.contains(&name) {
                    placeholder_errors.push(ContentError {
                        file: file.clone(),
                        line: *line,
                        message: format!("response {key} may not use the placeholder {{{name}}}"),
                    });
                }
            }
        }
        self.errors.extend(placeholder_errors);
        let intent_names: std::collections::HashSet<&str> =
            self.intents.iter().map(|i| i.name.as_str()).collect();
        let is_intent = |name: &str| intent_names.contains(name);
        let unknown_payloads: Vec<ContentError> = self
            .payloads
            .iter()
            .filter(|(payload, ..)| !(requirements.understands_payload)(payload, &is_intent))
            .map(|(payload, file, line, holder)| ContentError {
                file: file.clone(),
                line: *line,
                message: format!(
                    "{holder}: the payload {payload:?} is no command the dialog knows (an intent's /name, /otp_channel sms|email, /card N, /resend_otp, /other_card)"
                ),
            })
            .collect();
        self.errors.extend(unknown_payloads);
        for (concept, _, file, line) in &self.concepts {
            if !requirements.concepts.contains(&concept.as_str()) {
                self.errors.push(ContentError {
                    file: file.clone(),
                    line: *line,
                    message: format!(
                        "unknown concept {concept}: the readers know {}",
                        requirements.concepts.join(", ")
                    ),
                });
            }
        }
        for name in requirements.intents {
            if !is_intent(name) {
                self.errors.push(ContentError {
                    file: PathBuf::from(format!("intents/{name}.toml")),
                    line: 0,
                    message: format!("the code acts on the intent {name}, which no file defines"),
                });
            }
        }
        for concept in requirements.concepts {
            if !self.concepts.iter().any(|(c, ..)| c == concept) {
                self.errors.push(ContentError {
                    file: PathBuf::from("intents/lexicon/"),
                    line: 0,
                    message: format!(
                        "the dialog reads the concept {concept}, which no file defines"
                    ),
                });
            }
        }
        for name in faq_without_answer {
            self.errors.push(ContentError {
                file: PathBuf::from(format!("{name}.toml")),
                line: 0,
                message: format!("FAQ intent {name} needs a response named {name}"),
            });
        }
        for key in missing {
            self.errors.push(ContentError {
                file: PathBuf::from("intents/"),
                line: 0,
                message: format!("the engine uses the response {key}, which no file defines"),
            });
        }
        if !self.errors.is_empty() {
            self.errors
                .sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
            return Err(ContentErrors(self.errors));
        }
        self.intents.sort_by(|a, b| a.name.cmp(&b.name));
        // Longest phrases first so "kata sandi" wins over "sandi".
        self.lexicon.sort_by(|a, b| {
            let words = |s: &str| s.split(' ').count();
            words(&b.0).cmp(&words(&a.0)).then_with(|| a.0.cmp(&b.0))
        });
        Ok(Content {
            intents: self.intents,
            responses: self
                .responses
                .into_iter()
                .map(|(key, (template, _, _))| (key, template))
                .collect(),
            lexicon: self.lexicon,
            commands: self.commands,
            concepts: self
                .concepts
                .into_iter()
                .map(|(concept, phrase, _, _)| (concept, phrase))
                .collect(),
            words: self.words,
        })
    }
}

/// The `*.toml` files directly in `dir`, sorted, so loading order (and errors) are stable.
fn toml_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    files_with_extension(dir, "toml")
}

/// The files directly in `dir` whose name ends in `.{extension}`, sorted.
fn files_with_extension(dir: &Path, extension: &str) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == extension))
        .collect();
    files.sort();
    Ok(files)
}

fn line_of(text: &str, byte_offset: usize) -> usize {
    let end = byte_offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Whether `name` can be an intent's name: lower_snake_case ASCII. The one home of the rule:
/// content files are checked with it, and the dialog takes a `/name` payload for an intent
/// only when it passes.
pub fn is_intent_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Examples compare equal when they differ only in case, punctuation and spacing.
fn dedup_key(example: &str) -> String {
    example
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Splits "Kode dikirim ke {destination}." into literal and placeholder segments; `{{` and
/// `}}` are literal braces.
fn split_template(text: &str) -> Result<Vec<Segment>, String> {
    let mut segments = Vec::new();
    let mut literal = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                literal.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                literal.push('}');
            }
            '{' => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) if c.is_ascii_lowercase() || c == '_' => name.push(c),
                        _ => return Err(format!("unclosed or invalid placeholder in {text:?}")),
                    }
                }
                if name.is_empty() {
                    return Err(format!("empty placeholder {{}} in {text:?}"));
                }
                if !literal.is_empty() {
                    segments.push(Segment::Literal(std::mem::take(&mut literal)));
                }
                segments.push(Segment::Placeholder(name));
            }
            c => literal.push(c),
        }
    }
    if !literal.is_empty() {
        segments.push(Segment::Literal(literal));
    }
    Ok(segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_REQUIREMENTS: Requirements = Requirements {
        response_keys: &[],
        intents: &[],
        concepts: &[],
        understands_payload: any_payload,
    };

    fn any_payload(_: &str, _: &dyn Fn(&str) -> bool) -> bool {
        true
    }

    fn write(dir: &Path, name: &str, text: &str) {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn a_valid_directory_loads_intents_responses_and_lexicon() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "faq_housing.toml",
            "examples = [\"kpr pekerja\", \"uang muka rumah\"]\npatterns = ['^kpr$']\n\n[responses.faq_housing]\ntext = [\"Ada program MLT.\"]\nbuttons = [{ title = \"Menu\", payload = \"/help\" }]\n",
        );
        write(
            dir.path(),
            "responses/otp.toml",
            "[responses.otp_sent]\ntext = [\"Kode ke {destination}, {{rahasia}}.\"]\n",
        );
        write(
            dir.path(),
            "lexicon/slang.toml",
            "[words]\nyg = \"yang\"\n\"kata sandi\" = \"password\"\n[commands]\n\"kirim ulang\" = \"/resend_otp\"\n",
        );
        let requirements = Requirements {
            response_keys: &[("otp_sent", &["destination"])],
            intents: &[],
            concepts: &[],
            understands_payload: any_payload,
        };
        let content = load(dir.path(), &requirements).unwrap();
        assert_eq!(content.intents.len(), 1);
        assert_eq!(content.intents[0].patterns.len(), 1);
        let otp = content.response("otp_sent").unwrap();
        assert_eq!(
            otp.render(0, &[("destination", "b***@example.com")]),
            "Kode ke b***@example.com, {rahasia}."
        );
        assert_eq!(content.lexicon[0].0, "kata sandi", "phrases come first");
        assert_eq!(
            content.commands,
            vec![("kirim ulang".into(), "/resend_otp".into())]
        );
    }

    #[test]
    fn a_word_list_loads_its_words_and_names_a_bad_line() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "greet.toml",
            "examples = [\"halo\"]\n\n[responses.greet]\ntext = [\"Halo!\"]\n",
        );
        write(
            dir.path(),
            "lexicon/words.txt",
            "# stems\nsedang\n\nbiasa\n",
        );
        let content = load(dir.path(), &NO_REQUIREMENTS).unwrap();
        assert_eq!(content.words, vec!["sedang", "biasa"]);
        write(dir.path(), "lexicon/words.txt", "sedang\nDua Kata\n");
        let errors = load(dir.path(), &NO_REQUIREMENTS).unwrap_err();
        assert_eq!(errors.0.len(), 1, "{errors:?}");
        assert_eq!(errors.0[0].line, 2);
    }

    #[test]
    fn a_syntax_error_is_reported_with_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "greet.toml",
            "examples = [\"halo\"]\n\npatterns = [\n",
        );
        let errors = load(dir.path(), &NO_REQUIREMENTS).unwrap_err();
        let shown = errors.to_string();
        assert!(shown.contains("greet.toml:"), "{shown}");
        assert!(errors.0[0].line >= 3, "{shown}");
    }

    #[test]
    fn unknown_fields_bad_regexes_and_duplicates_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "greet.toml",
            "examples = [\"Halo!\"]\nexmaples = []\n",
        );
        write(
            dir.path(),
            "thanks.toml",
            "examples = [\n  \"makasih\",\n  \"halo\",\n]\npatterns = ['(unclosed']\n",
        );
        let errors = load(dir.path(), &NO_REQUIREMENTS).unwrap_err().0;
        let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(
            messages.iter().any(|m| m.contains("greet.toml:2")),
            "{messages:?}"
        );
        assert!(
            messages
                .iter()
                .any(|m| m.contains("thanks.toml:5") && m.contains("pattern")),
            "{messages:?}"
        );
    }

    #[test]
    fn a_duplicate_example_across_intents_names_both_places() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "greet.toml", "examples = [\"halo kak\"]\n");
        write(
            dir.path(),
            "thanks.toml",
            "examples = [\n  \"Halo, kak!\"]\n",
        );
        let errors = load(dir.path(), &NO_REQUIREMENTS).unwrap_err().0;
        assert_eq!(errors.len(), 1);
        assert!(errors[0].to_string().contains("thanks.toml:2"));
        assert!(errors[0].message.contains("greet.toml:1"));
    }

    #[test]
    fn missing_keys_and_intents_foreign_placeholders_and_faq_without_answer_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "faq_x.toml",
            "examples = [\"x\"]\n[responses.otp_sent]\ntext = [\"{code}\"]\n",
        );
        let requirements = Requirements {
            response_keys: &[("otp_sent", &["destination"]), ("greet", &[])],
            intents: &["faq_x", "cancel"],
            concepts: &[],
            understands_payload: any_payload,
        };
        let shown = load(dir.path(), &requirements).unwrap_err().to_string();
        assert!(
            shown.contains("the intent cancel, which no file defines"),
            "{shown}"
        );
        assert!(!shown.contains("the intent faq_x"), "{shown}");
        assert!(shown.contains("placeholder {code}"), "{shown}");
        assert!(shown.contains("response named faq_x"), "{shown}");
        assert!(shown.contains("the response greet"), "{shown}");
    }

    #[test]
    fn long_button_titles_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "greet.toml",
            "examples = [\"halo\"]\n[responses.greet]\ntext = [\"Halo\"]\nbuttons = [{ title = \"Judul tombol yang terlalu panjang\", payload = \"/help\" }]\n",
        );
        let shown = load(dir.path(), &NO_REQUIREMENTS).unwrap_err().to_string();
        assert!(shown.contains("greet.toml:2"), "{shown}");
    }

    #[test]
    fn template_splitting_handles_escapes_and_rejects_broken_braces() {
        assert_eq!(
            split_template("a {x} {{b}}").unwrap(),
            vec![
                Segment::Literal("a ".into()),
                Segment::Placeholder("x".into()),
                Segment::Literal(" {b}".into()),
            ]
        );
        assert!(split_template("a {x").is_err());
        assert!(split_template("a {}").is_err());
        assert!(split_template("a {X Y}").is_err());
    }

    #[test]
    fn a_typed_number_or_title_picks_one_of_the_offered_buttons() {
        let offered = [
            Button {
                title: "Lupa akun JMO".into(),
                payload: "/forgot_account".into(),
            },
            Button {
                title: "Cek saldo JHT".into(),
                payload: "/check_jht_balance".into(),
            },
        ];
        assert_eq!(
            typed_choice(&offered, " 2 ").as_deref(),
            Some("/check_jht_balance")
        );
        assert_eq!(
            typed_choice(&offered, "1.").as_deref(),
            Some("/forgot_account")
        );
        assert_eq!(
            typed_choice(&offered, "cek  SALDO jht").as_deref(),
            Some("/check_jht_balance")
        );
        assert_eq!(typed_choice(&offered, "3"), None, "no third choice");
        assert_eq!(typed_choice(&offered, "0"), None);
        assert_eq!(
            typed_choice(&offered, "123456"),
            None,
            "a code is not a choice"
        );
        assert_eq!(typed_choice(&[], "1"), None);
    }
}
