//! The `tanya` command: a thin shell that parses the command line, sets up logging and calls
//! into the library.

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use tanya::app::{self, App};
use tanya::config::{Config, LogFormat, Mode};
use tanya::convo::{self, RunnerBase};
use tanya::nlu::{Nlu, eval};
use tanya::store::{self, EmbeddedDatabase};

/// mimalloc instead of glibc's malloc: a turn allocates many small, short-lived objects, and
/// glibc spent a fifth of the server's CPU on them under load and kept more memory (README,
/// "Benchmarks", for the measurements).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its place in `mi_option_e` in mimalloc.h, version 3);
/// libmimalloc-sys does not export the constant. A test checks it still names that option.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Makes mimalloc give freed pages back to the system at once, instead of after mimalloc 3's
/// default delay of one second. Under load the server frees tens of megabytes a second (sled
/// copies a page on every write), and with the delay those pages were still counted in its
/// RSS: under Mix A with 100,000 stored sessions RSS fell from 116 to 99 MB, with no
/// measurable change in CPU per turn (README, "Benchmarks").
#[allow(unsafe_code)] // mimalloc's C API: the one way to set the option.
fn return_freed_memory_promptly() {
    // SAFETY: `mi_option_set` is not thread-safe; this runs first thing in `main`, before
    // any other thread exists.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) }
}

#[derive(Parser)]
#[command(
    name = "tanya",
    version,
    about = "Chatbot for BPJS Ketenagakerjaan members (JMO account, password, JHT balance)"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Validate the content in the intents directory.
    Check,
    /// Chat with the engine in the terminal (demo members, in memory; codes shown inline).
    Chat,
    /// Run conversation test files (*.convo.txt) against the engine.
    Test {
        /// Files or directories of conversations.
        #[arg(default_value = "tests/conversations")]
        paths: Vec<PathBuf>,
    },
    /// Natural-language understanding tools.
    Nlu {
        #[command(subcommand)]
        command: NluCommand,
    },
}

#[derive(Subcommand)]
enum NluCommand {
    /// Print the NLU's reading of TEXT as JSON.
    Parse { text: String },
    /// Score the NLU on a JSONL file of {"text", "intent"} lines.
    Eval {
        file: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    return_freed_memory_promptly();
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("tanya: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    // The test report is the output of `tanya test`, and the terminal is the chat of `tanya
    // chat`: per-turn logs would bury them.
    let default_level = match cli.command {
        Some(Command::Test { .. } | Command::Chat) => "warn",
        _ => "info",
    };
    init_tracing(config.log_format, default_level);
    match run(cli.command.unwrap_or(Command::Serve), config) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tanya: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(format: LogFormat, default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TANYA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn run(command: Command, config: Config) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve => serve(config),
        Command::Check => check(&config),
        Command::Chat => {
            tokio::runtime::Runtime::new()?.block_on(async {
                let app = tanya::cli_chat::build_app(config).await?;
                tanya::cli_chat::run_terminal(app).await?;
                Ok::<_, anyhow::Error>(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Test { paths } => test(config, &paths),
        Command::Nlu { command } => {
            // The NLU tools need the content and the trained model only: no database.
            let content = app::load_content(&config)?;
            let nlu = Nlu::train(&content, config.nlu);
            match command {
                NluCommand::Parse { text } => {
                    println!("{}", serde_json::to_string_pretty(&nlu.parse(&text))?);
                    Ok(ExitCode::SUCCESS)
                }
                NluCommand::Eval { file, json } => {
                    let text = std::fs::read_to_string(&file)
                        .with_context(|| format!("cannot read {}", file.display()))?;
                    let examples = eval::read_examples(&text)
                        .with_context(|| format!("in {}", file.display()))?;
                    let report = eval::evaluate(&nlu, &examples);
                    if json {
                        println!("{}", serde_json::to_string_pretty(&report)?);
                    } else {
                        print!("{}", report.render());
                    }
                    Ok(ExitCode::SUCCESS)
                }
            }
        }
    }
}

fn check(config: &Config) -> anyhow::Result<ExitCode> {
    match app::load_content(config) {
        Ok(content) => {
            let examples: usize = content.intents.iter().map(|i| i.examples.len()).sum();
            println!(
                "ok: {} intents, {examples} examples, {} responses, {} lexicon entries",
                content.intents.len(),
                content.responses.len(),
                content.lexicon.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            for error in &errors.0 {
                eprintln!("{error}");
            }
            eprintln!("{} problem(s) found", errors.0.len());
            Ok(ExitCode::FAILURE)
        }
    }
}

fn test(config: Config, paths: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let base = RunnerBase::new(config)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let summary = runtime.block_on(convo::run_all(paths, &base))?;
    print!("{}", summary.render());
    Ok(if summary.failed() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn serve(config: Config) -> anyhow::Result<ExitCode> {
    let data_dir = config.data_dir.clone();
    let embedded = config.database_url.is_none();
    let runtime = tokio::runtime::Runtime::new()?;
    let exit = runtime.block_on(async {
        let started = std::time::Instant::now();
        if config.mode == Mode::Demo {
            tracing::warn!(
                "DEMO MODE: built-in demo members, codes go to the demo outbox. Never use with real members."
            );
        }
        let bind = config.bind;
        let app = App::build(config).await?;
        let listener =
            tanya::http::listen(bind).with_context(|| format!("cannot listen on {bind}"))?;
        tracing::info!(
            address = %listener.local_addr()?,
            startup_ms = started.elapsed().as_millis() as u64,
            "tanya is listening"
        );
        app.spawn_session_sweeper();
        // Sends channel replies, those left pending by a previous run first; lives until exit.
        let _delivery = app.channels.spawn_worker();
        tanya::http::serve(
            listener,
            app.router(),
            app.config.connections,
            tanya::http::shutdown_signal(),
        )
        .await?;
        // Every acknowledged turn is already durable; this covers the rest (sweeps, channel
        // bookkeeping) before the process exits.
        app.durability.make_durable().await?;
        let flushes = app.embedded.as_ref().map_or(0, EmbeddedDatabase::flush_count);
        tracing::info!(flushes, "tanya stopped");
        Ok::<_, anyhow::Error>(ExitCode::SUCCESS)
    })?;
    // Dropping the runtime ends the sweeper and the delivery worker, the last holders of the
    // database; then it can be opened once more for the next start's sake.
    drop(runtime);
    if embedded {
        prepare_next_start(&data_dir);
    }
    Ok(exit)
}

/// Reopens the closed embedded database once, so that the next start is fast.
fn prepare_next_start(data_dir: &std::path::Path) {
    match store::prepare_next_start(data_dir) {
        Ok(took) => tracing::info!(
            millis = took.as_millis() as u64,
            "database snapshot written for the next start"
        ),
        // Everything was already durable: the next start is only slower.
        Err(error) => tracing::warn!(%error, "database snapshot for the next start failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// mimalloc 3 gives the purge delay a default of 1000 ms, and no other option that
    /// value: this fails if a newer mimalloc moves the option `return_freed_memory_promptly`
    /// sets.
    #[test]
    #[allow(unsafe_code)] // mimalloc's C API: the one way to read the option.
    fn the_option_set_at_start_is_mimallocs_purge_delay() {
        // SAFETY: reading an option has no precondition.
        let default = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(default, 1000);
    }
}
