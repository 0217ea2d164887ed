//! Building the application from configuration: one function used by the server, the CLI
//! chat, the conversation runner and the tests, so they all run the same thing.

use crate::config::Config;
use crate::content::{self, Content, ContentErrors};
use crate::dialog::keys;
use crate::nlu::Nlu;
use std::sync::Arc;

/// Why the application could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// `intents/` has problems (each names its file and line).
    #[error("invalid content in the intents directory:\n{0}")]
    Content(#[from] ContentErrors),
}

/// The assembled application.
#[derive(Clone)]
pub struct App {
    pub config: Config,
    pub content: Arc<Content>,
    pub nlu: Arc<Nlu>,
}

impl App {
    /// Loads and validates the content and trains the NLU.
    pub fn build(config: Config) -> Result<App, BuildError> {
        let content = load_content(&config)?;
        let nlu = Nlu::train(&content, config.nlu);
        Ok(App {
            config,
            content: Arc::new(content),
            nlu: Arc::new(nlu),
        })
    }

    /// The HTTP router for this application.
    pub fn router(&self) -> axum::Router {
        crate::http::router(crate::http::AppState {
            nlu: self.nlu.clone(),
        })
    }
}

/// Loads `intents/` and checks it against what this engine needs (`tanya check`).
pub fn load_content(config: &Config) -> Result<Content, ContentErrors> {
    content::load(&config.intents_dir, &keys::requirements())
}
