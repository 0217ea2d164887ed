//! `tanya chat`: the engine in a terminal. Bot messages are printed with their buttons as
//! numbered choices (typing the number presses the button), and the demo SMS/e-mails a turn
//! "sent" are shown inline, so a whole flow can be tried without the web widget.
//!
//! The chat runs on `App::in_memory` with the system clock, not on `App::build`: it uses the
//! demo members, writes nothing to `TANYA_DATA_DIR`, and so cannot clash with a running
//! server, which holds sled's lock on that directory. A terminal try-out that forgets its
//! session at exit is the right trade for that.

use crate::app::{self, App, BuildError};
use crate::clock::SystemClock;
use crate::config::Config;
use crate::dialog::state::CodeChannel;
use crate::dialog::state::Expects;
use crate::engine::{EngineError, HIDDEN_PASSWORD, IncomingMessage, Input, TurnResult};
use crate::input::MAX_TEXT_CHARS;
use crate::nlu::Nlu;
use crate::outbox::OutboxError;
use crate::store::SessionKey;
use std::io::{self, BufRead, IsTerminal, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;

/// What the member types to leave (end of input works too).
pub const QUIT: &str = "/quit";

/// Why the chat stopped.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    /// Reading the member's input or writing to the terminal failed.
    #[error("terminal: {0}")]
    Io(#[from] io::Error),
    /// The engine could not process a turn.
    #[error("engine: {0}")]
    Engine(#[from] EngineError),
    /// The demo outbox could not be read.
    #[error("demo outbox: {0}")]
    Outbox(#[from] OutboxError),
}

/// The application the chat runs on: demo data in memory, the system clock.
pub async fn build_app(config: Config) -> Result<App, BuildError> {
    let content = Arc::new(app::load_content(&config)?);
    let nlu = Arc::new(Nlu::train(&content, config.nlu));
    App::in_memory(config, content, nlu, Arc::new(SystemClock)).await
}

/// One terminal conversation with the engine.
pub struct Chat {
    app: App,
    session: SessionKey,
    /// Outbox entries of this session already printed.
    codes_shown: usize,
    /// The dialog waits for a password: the next line is sent verbatim and never printed.
    expects_password: bool,
}

impl Chat {
    /// A new conversation (a fresh `cli:` session) on `app`.
    pub fn new(app: App) -> Chat {
        let id = format!("{:032x}", rand::random::<u128>());
        Chat {
            app,
            session: SessionKey::new("cli", &id).expect("a hex id is a valid session key"),
            codes_shown: 0,
            expects_password: false,
        }
    }

    /// This conversation's session key.
    pub fn session(&self) -> &SessionKey {
        &self.session
    }

    /// Whether the bot's last question asked for a password.
    pub fn expects_password(&self) -> bool {
        self.expects_password
    }

    /// Sends one typed line (without its line ending) and writes the answer to `out`.
    pub async fn send<W: Write + ?Sized>(
        &mut self,
        line: &str,
        out: &mut W,
    ) -> Result<(), ChatError> {
        let input = if self.expects_password {
            // A password goes as typed: spaces count, and "1" is not a button.
            Input::Text(line.to_string())
        } else {
            let text = line.trim();
            if text.is_empty() {
                return Ok(());
            }
            if text.chars().count() > MAX_TEXT_CHARS {
                writeln!(
                    out,
                    "(not sent: a message has at most {MAX_TEXT_CHARS} characters)"
                )?;
                return Ok(());
            }
            // A typed number or title is resolved by the engine, as on every channel.
            Input::Text(text.to_string())
        };
        let result = self
            .app
            .engine
            .handle(IncomingMessage {
                session: self.session.clone(),
                input,
                client_message_id: None,
            })
            .await?;
        self.show_turn(&result, out)?;
        self.show_new_codes(out).await?;
        out.flush()?;
        Ok(())
    }

    /// Prints the turn. Only the buttons of its last message that has any are numbered: a
    /// typed number presses one of those, as on every channel (`content::typed_choice`);
    /// earlier buttons are pressed by typing their title.
    fn show_turn<W: Write + ?Sized>(&mut self, result: &TurnResult, out: &mut W) -> io::Result<()> {
        let numbered = result.messages.iter().rposition(|m| !m.buttons.is_empty());
        for (index, message) in result.messages.iter().enumerate() {
            writeln!(out, "{}", message.text)?;
            for (n, button) in message.buttons.iter().enumerate() {
                if Some(index) == numbered {
                    writeln!(out, "  [{}] {}", n + 1, button.title)?;
                } else {
                    writeln!(out, "  - {}", button.title)?;
                }
            }
            writeln!(out)?;
        }
        self.expects_password = result.expects == Expects::Password;
        Ok(())
    }

    /// Prints the demo SMS/e-mails that arrived since the last turn.
    async fn show_new_codes<W: Write + ?Sized>(&mut self, out: &mut W) -> Result<(), ChatError> {
        let Some(outbox) = &self.app.outbox else {
            return Ok(());
        };
        let entries = outbox.entries(&self.session).await?;
        for entry in entries.iter().skip(self.codes_shown) {
            let (icon, medium) = match entry.channel {
                CodeChannel::Sms => ("📱", "SMS"),
                CodeChannel::Email => ("📧", "E-mail"),
            };
            writeln!(out, "{icon} {medium} ke {}: {}", entry.to, entry.text)?;
            writeln!(out)?;
        }
        self.codes_shown = entries.len();
        Ok(())
    }
}

/// Turns the echo of typed characters off while a password is typed.
pub trait EchoControl {
    /// Stops echoing; returns whether typed characters now stay invisible (input that is not
    /// a terminal is never echoed, so that counts as invisible).
    fn hide(&mut self) -> bool;
    /// Echoes again after `hide`.
    fn show(&mut self);
}

/// For input that is not a terminal (pipes, files, tests): nothing to hide.
#[derive(Debug, Default)]
pub struct NoEcho;

impl EchoControl for NoEcho {
    fn hide(&mut self) -> bool {
        true
    }

    fn show(&mut self) {}
}

/// Echo control of the process's terminal through `stty`, which every Unix terminal has, so
/// no extra crate is needed. Restores the echo when dropped.
#[derive(Debug, Default)]
pub struct TerminalEcho {
    hidden: bool,
}

impl EchoControl for TerminalEcho {
    fn hide(&mut self) -> bool {
        if !io::stdin().is_terminal() {
            return true;
        }
        self.hidden = stty("-echo");
        self.hidden
    }

    fn show(&mut self) {
        if self.hidden {
            stty("echo");
            self.hidden = false;
        }
    }
}

impl Drop for TerminalEcho {
    fn drop(&mut self) {
        self.show();
    }
}

/// Runs `stty` on the terminal this process reads; whether it worked.
fn stty(setting: &str) -> bool {
    Command::new("stty")
        .arg(setting)
        .stdin(Stdio::inherit())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// The chat loop: reads lines from `input` until `/quit` or the end of input, answers each
/// on `out`. Generic so that tests drive it with in-memory buffers.
pub async fn run<R: BufRead, W: Write>(
    chat: &mut Chat,
    mut input: R,
    mut out: W,
    echo: &mut dyn EchoControl,
) -> Result<(), ChatError> {
    writeln!(
        out,
        "tanya chat: demo members, nothing is saved. Type a message, a number to press a \
         button, or {QUIT} to leave.\n"
    )?;
    loop {
        let secret = chat.expects_password();
        let hidden = secret && echo.hide();
        if secret && !hidden {
            writeln!(
                out,
                "(warning: this terminal will show the password as you type)"
            )?;
        }
        write!(out, "{}", if hidden { "(hidden) > " } else { "> " })?;
        out.flush()?;
        let mut line = String::new();
        let read = input.read_line(&mut line);
        if hidden {
            echo.show();
            writeln!(out, "{HIDDEN_PASSWORD}")?;
        }
        if read? == 0 {
            writeln!(out)?;
            return Ok(());
        }
        let line = line
            .strip_suffix('\n')
            .map_or(line.as_str(), |l| l.strip_suffix('\r').unwrap_or(l));
        // Even at a password prompt: "/quit" can never pass the password policy anyway.
        if line.trim() == QUIT {
            return Ok(());
        }
        chat.send(line, &mut out).await?;
    }
}

/// `tanya chat` on the process's standard input and output.
pub async fn run_terminal(app: App) -> Result<(), ChatError> {
    // Ctrl-C while a password is typed would otherwise leave the terminal without echo.
    tokio::spawn(async {
        if tokio::signal::ctrl_c().await.is_ok() {
            if io::stdin().is_terminal() {
                stty("echo");
            }
            println!();
            std::process::exit(130);
        }
    });
    let mut chat = Chat::new(app);
    let mut echo = TerminalEcho::default();
    run(
        &mut chat,
        io::stdin().lock(),
        io::stdout().lock(),
        &mut echo,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialog::state::Speaker;

    async fn demo_app() -> App {
        let intents = concat!(env!("CARGO_MANIFEST_DIR"), "/intents").to_string();
        let config =
            Config::from_lookup(|name| (name == "TANYA_INTENTS_DIR").then(|| intents.clone()))
                .expect("config");
        build_app(config).await.expect("app")
    }

    /// Records what the loop asked of the terminal.
    #[derive(Default)]
    struct RecordingEcho {
        calls: Vec<&'static str>,
    }

    impl EchoControl for RecordingEcho {
        fn hide(&mut self) -> bool {
            self.calls.push("hide");
            true
        }

        fn show(&mut self) {
            self.calls.push("show");
        }
    }

    async fn user_lines(chat: &Chat) -> Vec<String> {
        chat.app
            .engine
            .history(chat.session())
            .await
            .expect("history")
            .expect("a session")
            .into_iter()
            .filter(|entry| entry.from == Speaker::User)
            .map(|entry| entry.text)
            .collect()
    }

    #[tokio::test]
    async fn typing_a_number_presses_that_button_and_codes_show_up_inline() {
        let mut chat = Chat::new(demo_app().await);
        let input = "halo\n1\nkpj 12345678901 nik 3174011203880001\n1\n/quit\nhalo\n";
        let mut out = Vec::new();
        run(&mut chat, input.as_bytes(), &mut out, &mut NoEcho)
            .await
            .expect("chat");
        let out = String::from_utf8(out).expect("utf-8");

        assert!(out.contains("  [1] Lupa akun JMO\n"), "{out}");
        assert!(
            out.contains("📱 SMS ke 0812****7890: JMO: kode verifikasi "),
            "{out}"
        );
        assert!(
            !out.contains("081234567890"),
            "the full phone is never shown: {out}"
        );
        // "1" pressed the greeting's first button, then the SMS choice; /quit ended the chat.
        let lines = user_lines(&chat).await;
        assert_eq!(lines[0], "halo");
        assert_eq!(lines[1], "Lupa akun JMO");
        assert!(lines[3].starts_with("SMS"), "{lines:?}");
        assert_eq!(lines.len(), 4, "nothing after /quit is sent: {lines:?}");
        let code = chat.app.outbox.as_ref().expect("demo outbox");
        assert_eq!(code.entries(chat.session()).await.expect("outbox").len(), 1);
    }

    #[tokio::test]
    async fn a_password_is_read_hidden_and_never_printed() {
        let mut chat = Chat::new(demo_app().await);
        let mut out = Vec::new();
        chat.send("lupa password jmo", &mut out)
            .await
            .expect("turn");
        chat.send("budi.santoso@example.com 12345678901", &mut out)
            .await
            .expect("turn");
        let shown = String::from_utf8(out.clone()).expect("utf-8");
        assert!(
            shown.contains("📧 E-mail ke b***@example.com: JMO: kode verifikasi "),
            "{shown}"
        );
        let outbox = chat.app.outbox.clone().expect("demo outbox");
        let code = outbox.entries(chat.session()).await.expect("outbox")[0]
            .code
            .clone();
        chat.send(&code, &mut out).await.expect("turn");
        assert!(chat.expects_password());

        let password = "Sandi#Baru2026";
        let mut out = Vec::new();
        let mut echo = RecordingEcho::default();
        let input = format!("{password}\n");
        run(&mut chat, input.as_bytes(), &mut out, &mut echo)
            .await
            .expect("chat");
        let out = String::from_utf8(out).expect("utf-8");
        assert!(!out.contains(password), "{out}");
        assert!(out.contains("(hidden) > ••••\n"), "{out}");
        assert_eq!(
            echo.calls,
            ["hide", "show"],
            "hidden for the password line only"
        );
        assert!(!chat.expects_password(), "the password was accepted");
        assert_eq!(
            user_lines(&chat).await.last().map(String::as_str),
            Some("••••")
        );
    }

    #[tokio::test]
    async fn the_end_of_input_ends_the_chat_and_blank_lines_are_not_sent() {
        let mut chat = Chat::new(demo_app().await);
        let mut out = Vec::new();
        run(&mut chat, &b"\n   \n"[..], &mut out, &mut NoEcho)
            .await
            .expect("chat");
        assert!(
            chat.app
                .engine
                .history(chat.session())
                .await
                .expect("history")
                .is_none(),
            "no turn was sent"
        );
    }
}
