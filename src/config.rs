//! Typed configuration from `TANYA_*` environment variables, optionally layered over a TOML
//! file named by `TANYA_CONFIG` (SPEC §9). Secrets are held in `secrecy`'s `SecretString`, whose
//! `Debug` hides them. A setting tanya does not know (a misspelt file key or `TANYA_*` variable)
//! is an error naming it, and production mode reports every missing or unusable setting at once.

use crate::nlu::Thresholds;
use secrecy::ExposeSecret;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A configured secret (token, app secret, a URL with a password): never printed; read with
/// `secrecy::ExposeSecret::expose_secret` in the one place that needs it.
pub type Secret = secrecy::SecretString;

/// Demo (built-in members, codes to the demo outbox) or production.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Demo,
    Production,
}

/// Human-readable or JSON log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

/// Telegram bot settings; present only when both secrets are configured.
#[derive(Debug, Clone)]
pub struct TelegramConfig {
    pub bot_token: Secret,
    pub secret_token: Secret,
    pub api_base: String,
}

/// WhatsApp Cloud API settings; present only when all three secrets are configured.
#[derive(Debug, Clone)]
pub struct WhatsAppConfig {
    pub token: Secret,
    pub app_secret: Secret,
    pub verify_token: Secret,
    pub api_base: String,
    /// `TANYA_WHATSAPP_PHONE_NUMBER_ID`: the business number messages pushed outside a reply
    /// are sent from (a password-page confirmation, an undelivered code). Unset: the number
    /// the latest incoming message used.
    pub phone_number_id: Option<String>,
}

/// LINE Messaging API settings; present only when both secrets are configured.
#[derive(Debug, Clone)]
pub struct LineConfig {
    pub channel_secret: Secret,
    pub channel_access_token: Secret,
    pub api_base: String,
}

/// How the channel delivery worker retries a failed send: exponential backoff from
/// `retry_base`, capped at `retry_max`, given up after `max_attempts` tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryConfig {
    pub retry_base: Duration,
    pub retry_max: Duration,
    pub max_attempts: u32,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(60),
            max_attempts: 10,
        }
    }
}

/// The agency's member directory over HTTP (SPEC §12).
#[derive(Debug, Clone)]
pub struct DirectoryConfig {
    /// `TANYA_DIRECTORY_URL`: HTTPS, or HTTP to a loopback address.
    pub url: reqwest::Url,
    /// `TANYA_DIRECTORY_TOKEN`: the bearer token.
    pub token: Secret,
    /// `TANYA_DIRECTORY_CLIENT_CERT`: a PEM file with a client certificate (chain) and its
    /// private key, for mutual TLS. Unset: no client certificate.
    pub client_cert: Option<PathBuf>,
    /// `TANYA_DIRECTORY_CA_CERT`: a PEM file with the CA that signed the directory's
    /// certificate, when it is a private one (trusted besides the usual roots).
    pub ca_cert: Option<PathBuf>,
    /// `TANYA_DIRECTORY_TIMEOUT_MS`: the longest one call may take.
    pub timeout: Duration,
    /// `TANYA_DIRECTORY_COOLDOWN_MS`: how long the directory is left alone after a run of
    /// failed calls, before one call probes whether it is back.
    pub cooldown: Duration,
}

/// E-mail code delivery over SMTP (SPEC §12).
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// `TANYA_SMTP_URL`: `smtps://user:pass@host:port` (TLS), `smtp://user:pass@host:port`
    /// (STARTTLS required), or plain `smtp://host:port` to a loopback address only.
    pub url: Secret,
    /// `TANYA_SMTP_FROM`: the sender address of code e-mails.
    pub from: String,
}

/// SMS code delivery through an HTTP gateway (SPEC §12): `POST {url}` with `{"to","text"}`.
#[derive(Debug, Clone)]
pub struct SmsConfig {
    /// `TANYA_SMS_URL`: HTTPS, or HTTP to a loopback address.
    pub url: reqwest::Url,
    /// `TANYA_SMS_TOKEN`: the bearer token.
    pub token: Secret,
}

/// What production mode needs besides the common settings; every one is required.
#[derive(Debug, Clone)]
pub struct ProductionConfig {
    pub directory: DirectoryConfig,
    pub smtp: SmtpConfig,
    pub sms: SmsConfig,
}

/// The HTTP server's connection rules (`TANYA_HEADER_TIMEOUT_MS`, `TANYA_IDLE_TIMEOUT_MS`,
/// `TANYA_MAX_CONNECTIONS`), applied by `http::connections`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// From the first byte of a request (or from the opening of the connection, for its first
    /// request) to the end of the request head.
    pub header_timeout: Duration,
    /// From the end of an answer to the first byte of the next request on the same connection.
    pub idle_timeout: Duration,
    /// Connections served at once; more wait in the listen backlog until one closes.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    /// Ten seconds is ample for any client to send a few hundred bytes of headers. The idle
    /// timeout is above the usual reverse proxies' keep-alive to their upstream (nginx: 60 s),
    /// so that a proxy closes first and never reuses a connection tanya is closing.
    fn default() -> Self {
        ConnectionLimits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
            max_connections: 1024,
        }
    }
}

/// Everything tanya can be configured with.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    pub data_dir: PathBuf,
    pub intents_dir: PathBuf,
    pub mode: Mode,
    pub log_format: LogFormat,
    pub nlu: Thresholds,
    pub telegram: Option<TelegramConfig>,
    pub whatsapp: Option<WhatsAppConfig>,
    pub line: Option<LineConfig>,
    /// Web origins (`https://example.org`) whose pages may call the chat API from a browser
    /// (`TANYA_CORS_ORIGINS`, comma-separated; `*` allows any). Empty: CORS is off.
    pub cors_origins: Vec<String>,
    /// Retries of the messaging channels' delivery worker (`TANYA_DELIVERY_*`).
    pub delivery: DeliveryConfig,
    /// Rate limits (`TANYA_LIMIT_*`, each `off` or `BURST/PERIOD` such as `30/1m`).
    pub limits: crate::limits::LimitsConfig,
    /// A header set by a trusted reverse proxy that carries the client's address
    /// (`TANYA_CLIENT_IP_HEADER`, e.g. `X-Forwarded-For`: its last address is used). Unset:
    /// the TCP peer's address. Set: an API request without a usable address in it is refused.
    pub client_ip_header: Option<axum::http::HeaderName>,
    /// How long one HTTP request may take before it is answered 503 (`TANYA_REQUEST_TIMEOUT_MS`).
    pub request_timeout: Duration,
    /// Header and idle timeouts, and the cap on open connections (`TANYA_HEADER_TIMEOUT_MS`,
    /// `TANYA_IDLE_TIMEOUT_MS`, `TANYA_MAX_CONNECTIONS`).
    pub connections: ConnectionLimits,
    /// Synthetic demo members seeded besides the four of SPEC §4 (`TANYA_DEMO_EXTRA_MEMBERS`),
    /// for load tests: see `members::synthetic_member`.
    pub demo_extra_members: u32,
    /// The sled page cache, in MiB (`TANYA_DB_CACHE_MB`): bounds the server's memory.
    pub db_cache_mb: u64,
    /// The group-commit delay under load (`TANYA_DB_COMMIT_DELAY_US`, 0 = none); see
    /// `store::EmbeddedOptions::commit_delay`.
    pub db_commit_delay: Duration,
    /// PostgreSQL for every store, shared by several instances (`TANYA_DATABASE_URL`,
    /// `postgres://…`); unset: the embedded database in `data_dir`.
    pub database_url: Option<Secret>,
    /// Connections in each of the PostgreSQL backend's two pools for single statements
    /// (`TANYA_DB_POOL_SIZE`), and the batches of turns whose late turns may still run at
    /// once, each keeping a connection (`store::PostgresBatching::late_turns`).
    pub db_pool_size: usize,
    /// The key codes are derived from (`TANYA_SERVER_KEY`, 64 hex digits); unset: the one
    /// kept in the shared database, or the key file in `data_dir`.
    pub server_key: Option<crate::security::otp::ServerKey>,
    /// Where members reach this server from outside (`TANYA_PUBLIC_URL`, no trailing `/`): the
    /// base of password-page links. Required in production; in demo mode `http://` + the bind
    /// address.
    pub public_url: String,
    /// The member directory and code delivery; `Some` exactly in production mode.
    pub production: Option<ProductionConfig>,
}

/// A setting that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value does not parse as its setting's type.
    #[error("{name}: {message}")]
    Invalid { name: String, message: String },
    /// The TOML file named by TANYA_CONFIG cannot be read or parsed.
    #[error("config file {path}: {message}")]
    File { path: PathBuf, message: String },
    /// Settings tanya does not know (a misspelling is never ignored silently).
    #[error("{}", .0.join("\n"))]
    Unknown(Vec<String>),
    /// Production mode is missing settings or has unusable ones: one line per problem.
    #[error("TANYA_MODE=production cannot start:\n{}", .0.join("\n"))]
    Production(Vec<String>),
}

/// `TANYA_*` variables read by something other than `Config` (the log filter, read by
/// `main.rs` before anything else), so not unknown.
const READ_ELSEWHERE: &[&str] = &["TANYA_LOG"];

impl Config {
    /// Reads the process environment (and the file it may name).
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_vars(std::env::vars_os().filter_map(|(name, value)| {
            Some((name.into_string().ok()?, value.into_string().ok()?))
        }))
    }

    /// Reads settings from environment-like `vars`; a `TANYA_*` name among them that no
    /// setting reads is an error.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .into_iter()
            .filter(|(name, _)| name.starts_with("TANYA_"))
            .collect();
        let names: Vec<String> = vars.keys().cloned().collect();
        Config::read(|name| vars.get(name).cloned(), &names)
    }

    /// Reads settings through `lookup` (a map in tests), which cannot list its names: only
    /// the file's keys are checked for unknown ones.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        Config::read(lookup, &[])
    }

    fn read(
        lookup: impl Fn(&str) -> Option<String>,
        variables: &[String],
    ) -> Result<Config, ConfigError> {
        let file = match lookup("TANYA_CONFIG") {
            Some(path) => read_file(Path::new(&path))?,
            None => HashMap::new(),
        };
        let settings = Settings {
            lookup,
            file,
            asked: RefCell::default(),
        };
        let config = settings.config()?;
        settings.refuse_unknown(variables)?;
        Ok(config)
    }
}

impl<F: Fn(&str) -> Option<String>> Settings<F> {
    fn config(&self) -> Result<Config, ConfigError> {
        let settings = self;
        settings.get("TANYA_CONFIG");
        let mode = match settings.get("TANYA_MODE").as_deref() {
            None | Some("demo") => Mode::Demo,
            Some("production") => Mode::Production,
            Some(other) => {
                return Err(invalid(
                    "TANYA_MODE",
                    format!("{other:?} is not demo or production"),
                ));
            }
        };
        let log_format = match settings.get("TANYA_LOG_FORMAT").as_deref() {
            None | Some("human") => LogFormat::Human,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(invalid(
                    "TANYA_LOG_FORMAT",
                    format!("{other:?} is not human or json"),
                ));
            }
        };
        let (public_url, production) = settings.public_url_and_production(mode)?;
        // Read whether or not their channel is configured: a channel's optional settings are
        // known names even while its secrets are missing.
        let telegram_api_base =
            settings.base("TANYA_TELEGRAM_API_BASE", "https://api.telegram.org");
        let whatsapp_api_base = settings.base(
            "TANYA_WHATSAPP_API_BASE",
            "https://graph.facebook.com/v21.0",
        );
        let whatsapp_number = settings.get("TANYA_WHATSAPP_PHONE_NUMBER_ID");
        let line_api_base = settings.base("TANYA_LINE_API_BASE", "https://api.line.me");
        let defaults = Thresholds::default();
        Ok(Config {
            bind: settings.parsed(
                "TANYA_BIND",
                "127.0.0.1:8080".parse().expect("valid default"),
            )?,
            data_dir: settings
                .get("TANYA_DATA_DIR")
                .unwrap_or_else(|| "./data".into())
                .into(),
            intents_dir: settings
                .get("TANYA_INTENTS_DIR")
                .unwrap_or_else(|| "./intents".into())
                .into(),
            mode,
            log_format,
            nlu: Thresholds {
                min_confidence: settings
                    .probability("TANYA_NLU_MIN_CONFIDENCE", defaults.min_confidence)?,
                min_margin: settings.probability("TANYA_NLU_MIN_MARGIN", defaults.min_margin)?,
            },
            telegram: match (
                settings.secret("TANYA_TELEGRAM_BOT_TOKEN"),
                settings.secret("TANYA_TELEGRAM_SECRET_TOKEN"),
            ) {
                (Some(bot_token), Some(secret_token)) => Some(TelegramConfig {
                    bot_token,
                    secret_token,
                    api_base: telegram_api_base,
                }),
                _ => None,
            },
            whatsapp: match (
                settings.secret("TANYA_WHATSAPP_TOKEN"),
                settings.secret("TANYA_WHATSAPP_APP_SECRET"),
                settings.secret("TANYA_WHATSAPP_VERIFY_TOKEN"),
            ) {
                (Some(token), Some(app_secret), Some(verify_token)) => Some(WhatsAppConfig {
                    token,
                    app_secret,
                    verify_token,
                    api_base: whatsapp_api_base,
                    phone_number_id: whatsapp_number,
                }),
                _ => None,
            },
            line: match (
                settings.secret("TANYA_LINE_CHANNEL_SECRET"),
                settings.secret("TANYA_LINE_CHANNEL_ACCESS_TOKEN"),
            ) {
                (Some(channel_secret), Some(channel_access_token)) => Some(LineConfig {
                    channel_secret,
                    channel_access_token,
                    api_base: line_api_base,
                }),
                _ => None,
            },
            cors_origins: settings.origins("TANYA_CORS_ORIGINS")?,
            delivery: settings.delivery()?,
            limits: settings.limits()?,
            client_ip_header: settings.header_name("TANYA_CLIENT_IP_HEADER")?,
            request_timeout: Duration::from_millis(settings.parsed(
                "TANYA_REQUEST_TIMEOUT_MS",
                DEFAULT_REQUEST_TIMEOUT.as_millis() as u64,
            )?),
            connections: settings.connections()?,
            demo_extra_members: settings.parsed("TANYA_DEMO_EXTRA_MEMBERS", 0)?,
            db_cache_mb: settings.parsed("TANYA_DB_CACHE_MB", DEFAULT_DB_CACHE_MB)?,
            db_commit_delay: Duration::from_micros(settings.parsed(
                "TANYA_DB_COMMIT_DELAY_US",
                crate::store::EMBEDDED_DEFAULT_COMMIT_DELAY.as_micros() as u64,
            )?),
            database_url: settings.database_url()?,
            db_pool_size: settings.pool_size()?,
            server_key: settings.server_key()?,
            public_url,
            production,
        })
    }
}

/// Longest an HTTP request may take: far above a turn (milliseconds) or an argon2 hash under
/// load (a second or two), short enough that a stuck client does not hold a slot.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The most connections `TANYA_MAX_CONNECTIONS` may allow: each costs a file descriptor and
/// buffers, and a million is beyond any one instance of this service.
pub const MAX_CONNECTIONS: usize = 1_000_000;
/// sled's page cache: the hot part of sessions and members fits, and the process stays small.
pub const DEFAULT_DB_CACHE_MB: u64 = 16;

/// Environment first, then the file (whose keys are the variable names without `TANYA_`,
/// lower-cased: `bind = "0.0.0.0:8080"`).
struct Settings<F> {
    lookup: F,
    file: HashMap<String, String>,
    /// Every name read so far: what is left over in the file or environment is unknown.
    asked: RefCell<HashSet<String>>,
}

impl<F: Fn(&str) -> Option<String>> Settings<F> {
    fn get(&self, name: &str) -> Option<String> {
        self.asked.borrow_mut().insert(name.to_string());
        (self.lookup)(name)
            .or_else(|| {
                let key = name.trim_start_matches("TANYA_").to_lowercase();
                self.file.get(&key).cloned()
            })
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    fn secret(&self, name: &str) -> Option<Secret> {
        self.get(name).map(Secret::from)
    }

    /// `TANYA_DATABASE_URL`: a `postgres://` or `postgresql://` URL. Errors never repeat the
    /// value, which holds a password.
    fn database_url(&self) -> Result<Option<Secret>, ConfigError> {
        const NAME: &str = "TANYA_DATABASE_URL";
        match self.secret(NAME) {
            Some(url)
                if !["postgres://", "postgresql://"]
                    .iter()
                    .any(|scheme| url.expose_secret().starts_with(scheme)) =>
            {
                Err(invalid(
                    NAME,
                    "must start with postgres:// or postgresql://".into(),
                ))
            }
            url => Ok(url),
        }
    }

    fn pool_size(&self) -> Result<usize, ConfigError> {
        const NAME: &str = "TANYA_DB_POOL_SIZE";
        match self.parsed(NAME, crate::store::POSTGRES_DEFAULT_POOL_SIZE)? {
            0 => Err(invalid(NAME, "must be at least 1".into())),
            size => Ok(size),
        }
    }

    /// `TANYA_SERVER_KEY`: 64 hex digits. Errors never repeat the value.
    fn server_key(&self) -> Result<Option<crate::security::otp::ServerKey>, ConfigError> {
        const NAME: &str = "TANYA_SERVER_KEY";
        self.secret(NAME)
            .map(|key| {
                crate::security::otp::ServerKey::from_hex(key.expose_secret())
                    .ok_or_else(|| invalid(NAME, "must be 64 hex digits (32 bytes)".into()))
            })
            .transpose()
    }

    /// Every file key and `TANYA_*` variable in `variables` that no setting read, one error
    /// line each.
    fn refuse_unknown(&self, variables: &[String]) -> Result<(), ConfigError> {
        let asked = self.asked.borrow();
        let mut unknown: Vec<String> = self
            .file
            .keys()
            .filter(|key| !asked.contains(&format!("TANYA_{}", key.to_uppercase())))
            .map(|key| format!("unknown key {key:?} in the TANYA_CONFIG file"))
            .chain(
                variables
                    .iter()
                    .filter(|name| {
                        !asked.contains(*name) && !READ_ELSEWHERE.contains(&name.as_str())
                    })
                    .map(|name| format!("unknown setting {name} in the environment")),
            )
            .collect();
        unknown.sort();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Unknown(unknown))
        }
    }

    /// `TANYA_PUBLIC_URL` and, in production, everything production needs: one error
    /// listing every problem of both.
    fn public_url_and_production(
        &self,
        mode: Mode,
    ) -> Result<(String, Option<ProductionConfig>), ConfigError> {
        let public_url = self.public_url(mode);
        let production = self.production();
        match (mode, public_url, production) {
            (Mode::Demo, public_url, _) => Ok((public_url?, None)),
            (Mode::Production, Ok(url), Ok(production)) => Ok((url, Some(production))),
            (Mode::Production, public_url, production) => {
                let mut problems = Vec::new();
                for error in [public_url.err(), production.err()].into_iter().flatten() {
                    match error {
                        ConfigError::Production(more) => problems.extend(more),
                        other => problems.push(other.to_string()),
                    }
                }
                Err(ConfigError::Production(problems))
            }
        }
    }

    /// `TANYA_PUBLIC_URL`: HTTPS (HTTP only to a loopback address), required in production.
    fn public_url(&self, mode: Mode) -> Result<String, ConfigError> {
        const NAME: &str = "TANYA_PUBLIC_URL";
        match (self.get(NAME), mode) {
            (Some(url), _) => {
                // A path prefix is fine (a reverse proxy under /tanya); a query is not.
                let parsed = web_url(NAME, &url)?;
                if parsed.query().is_some() || parsed.fragment().is_some() {
                    return Err(invalid(NAME, "must not have a query or fragment".into()));
                }
                Ok(url.trim_end_matches('/').to_string())
            }
            (None, Mode::Demo) => Ok(format!("http://{}", self_address(self.get("TANYA_BIND")))),
            (None, Mode::Production) => Err(ConfigError::Production(vec![format!(
                "{NAME} is not set (the public base URL of the password page, https://…)"
            )])),
        }
    }

    /// Every production setting, with one problem line per missing or unusable one.
    fn production(&self) -> Result<ProductionConfig, ConfigError> {
        let mut problems = Vec::new();
        let mut required = |name: &str, what: &str| {
            let value = self.get(name);
            if value.is_none() {
                problems.push(format!("{name} is not set ({what})"));
            }
            value
        };
        let directory_url = required("TANYA_DIRECTORY_URL", "the member directory, https://…");
        let directory_token = required("TANYA_DIRECTORY_TOKEN", "the directory's bearer token");
        let smtp_url = required("TANYA_SMTP_URL", "the SMTP server for code e-mails");
        let smtp_from = required("TANYA_SMTP_FROM", "the sender address of code e-mails");
        let sms_url = required("TANYA_SMS_URL", "the SMS gateway, https://…");
        let sms_token = required("TANYA_SMS_TOKEN", "the SMS gateway's bearer token");
        let directory_url =
            directory_url.and_then(|url| kept(&mut problems, web_url("TANYA_DIRECTORY_URL", &url)));
        let sms_url = sms_url.and_then(|url| kept(&mut problems, web_url("TANYA_SMS_URL", &url)));
        let smtp_url = smtp_url.and_then(|url| kept(&mut problems, smtp_url_checked(url)));
        let smtp_from = smtp_from.and_then(|from| {
            let checked = match crate::identity::Email::parse(&from) {
                Ok(_) => Ok(from),
                Err(_) => Err(invalid(
                    "TANYA_SMTP_FROM",
                    format!("{from:?} is not an e-mail address"),
                )),
            };
            kept(&mut problems, checked)
        });
        let timeout = kept(
            &mut problems,
            self.parsed(
                "TANYA_DIRECTORY_TIMEOUT_MS",
                DEFAULT_DIRECTORY_TIMEOUT.as_millis() as u64,
            ),
        )
        .map(Duration::from_millis);
        let cooldown = kept(
            &mut problems,
            self.parsed(
                "TANYA_DIRECTORY_COOLDOWN_MS",
                DEFAULT_DIRECTORY_COOLDOWN.as_millis() as u64,
            ),
        )
        .map(Duration::from_millis);
        let client_cert = self.get("TANYA_DIRECTORY_CLIENT_CERT").map(PathBuf::from);
        let ca_cert = self.get("TANYA_DIRECTORY_CA_CERT").map(PathBuf::from);
        match (
            directory_url,
            directory_token,
            smtp_url,
            smtp_from,
            sms_url,
            sms_token,
            timeout.zip(cooldown),
        ) {
            (
                Some(url),
                Some(token),
                Some(smtp),
                Some(from),
                Some(sms),
                Some(sms_token),
                Some((timeout, cooldown)),
            ) if problems.is_empty() => Ok(ProductionConfig {
                directory: DirectoryConfig {
                    url,
                    token: Secret::from(token),
                    client_cert,
                    ca_cert,
                    timeout,
                    cooldown,
                },
                smtp: SmtpConfig { url: smtp, from },
                sms: SmsConfig {
                    url: sms,
                    token: Secret::from(sms_token),
                },
            }),
            _ => Err(ConfigError::Production(problems)),
        }
    }

    fn base(&self, name: &str, default: &str) -> String {
        self.get(name)
            .unwrap_or_else(|| default.to_string())
            .trim_end_matches('/')
            .to_string()
    }

    /// A comma-separated list of web origins: `scheme://host[:port]`, or `*` alone.
    fn origins(&self, name: &str) -> Result<Vec<String>, ConfigError> {
        let Some(list) = self.get(name) else {
            return Ok(Vec::new());
        };
        let origins: Vec<String> = list
            .split(',')
            .map(|origin| origin.trim().trim_end_matches('/').to_string())
            .filter(|origin| !origin.is_empty())
            .collect();
        if origins.iter().any(|origin| origin == "*") {
            return if origins.len() == 1 {
                Ok(origins)
            } else {
                Err(invalid(name, "`*` must be the only origin".into()))
            };
        }
        for origin in &origins {
            if !is_web_origin(origin) {
                return Err(invalid(
                    name,
                    format!(
                        "{origin:?} is not an origin like https://example.org or http://localhost:3000"
                    ),
                ));
            }
        }
        Ok(origins)
    }

    /// `TANYA_DELIVERY_RETRY_BASE_MS`, `TANYA_DELIVERY_RETRY_MAX_MS`,
    /// `TANYA_DELIVERY_MAX_ATTEMPTS` (at least 1).
    fn delivery(&self) -> Result<DeliveryConfig, ConfigError> {
        let defaults = DeliveryConfig::default();
        let millis = |name: &str, default: Duration| -> Result<Duration, ConfigError> {
            Ok(Duration::from_millis(
                self.parsed(name, default.as_millis() as u64)?,
            ))
        };
        let max_attempts = self.parsed("TANYA_DELIVERY_MAX_ATTEMPTS", defaults.max_attempts)?;
        if max_attempts == 0 {
            return Err(invalid(
                "TANYA_DELIVERY_MAX_ATTEMPTS",
                "must be at least 1".into(),
            ));
        }
        Ok(DeliveryConfig {
            retry_base: millis("TANYA_DELIVERY_RETRY_BASE_MS", defaults.retry_base)?,
            retry_max: millis("TANYA_DELIVERY_RETRY_MAX_MS", defaults.retry_max)?,
            max_attempts,
        })
    }

    /// `TANYA_HEADER_TIMEOUT_MS`, `TANYA_IDLE_TIMEOUT_MS` (both positive) and
    /// `TANYA_MAX_CONNECTIONS` (1 to `MAX_CONNECTIONS`).
    fn connections(&self) -> Result<ConnectionLimits, ConfigError> {
        let defaults = ConnectionLimits::default();
        let millis = |name: &str, default: Duration| -> Result<Duration, ConfigError> {
            match self.parsed(name, default.as_millis() as u64)? {
                0 => Err(invalid(name, "must be at least 1 millisecond".into())),
                millis => Ok(Duration::from_millis(millis)),
            }
        };
        let max_connections = self.parsed("TANYA_MAX_CONNECTIONS", defaults.max_connections)?;
        if !(1..=MAX_CONNECTIONS).contains(&max_connections) {
            return Err(invalid(
                "TANYA_MAX_CONNECTIONS",
                format!("{max_connections} is not between 1 and {MAX_CONNECTIONS}"),
            ));
        }
        Ok(ConnectionLimits {
            header_timeout: millis("TANYA_HEADER_TIMEOUT_MS", defaults.header_timeout)?,
            idle_timeout: millis("TANYA_IDLE_TIMEOUT_MS", defaults.idle_timeout)?,
            max_connections,
        })
    }

    /// `TANYA_LIMIT_WEB_SESSION`, `TANYA_LIMIT_CLIENT_IP`, `TANYA_LIMIT_CHANNEL_USER`,
    /// `TANYA_LIMIT_MEMBER_LOOKUPS`, `TANYA_LIMIT_MEMBER_CODES`.
    fn limits(&self) -> Result<crate::limits::LimitsConfig, ConfigError> {
        use crate::limits::LimitSetting;
        let defaults = crate::limits::LimitsConfig::default();
        let limit = |name: &str, default| -> Result<_, ConfigError> {
            Ok(self.parsed(name, LimitSetting(default))?.0)
        };
        Ok(crate::limits::LimitsConfig {
            web_session: limit("TANYA_LIMIT_WEB_SESSION", defaults.web_session)?,
            client_ip: limit("TANYA_LIMIT_CLIENT_IP", defaults.client_ip)?,
            channel_user: limit("TANYA_LIMIT_CHANNEL_USER", defaults.channel_user)?,
            member_lookups: limit("TANYA_LIMIT_MEMBER_LOOKUPS", defaults.member_lookups)?,
            member_codes: limit("TANYA_LIMIT_MEMBER_CODES", defaults.member_codes)?,
        })
    }

    /// An HTTP header name. Refused when it is not one, rather than ignored: an ignored proxy
    /// header would silently limit the proxy's own address instead of the clients'.
    fn header_name(&self, name: &str) -> Result<Option<axum::http::HeaderName>, ConfigError> {
        self.get(name)
            .map(|value| {
                axum::http::HeaderName::try_from(value.as_str())
                    .map_err(|_| invalid(name, format!("{value:?} is not an HTTP header name")))
            })
            .transpose()
    }

    fn parsed<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|e: T::Err| invalid(name, format!("{v:?}: {e}"))),
        }
    }

    fn probability(&self, name: &str, default: f64) -> Result<f64, ConfigError> {
        let value: f64 = self.parsed(name, default)?;
        if (0.0..=1.0).contains(&value) {
            Ok(value)
        } else {
            Err(invalid(name, format!("{value} is not between 0 and 1")))
        }
    }
}

/// The value of `result`, or `None` with its error added to `problems`.
fn kept<T>(problems: &mut Vec<String>, result: Result<T, ConfigError>) -> Option<T> {
    result
        .map_err(|error| problems.push(error.to_string()))
        .ok()
}

/// How long the directory is left alone after a run of failures: long enough not to hammer
/// a directory that is restarting, short enough that members notice little of its return.
pub const DEFAULT_DIRECTORY_COOLDOWN: Duration = Duration::from_secs(10);

/// The longest one directory call may take: a look-up is a key read on the agency's side.
pub const DEFAULT_DIRECTORY_TIMEOUT: Duration = Duration::from_secs(3);

/// The bind address as a client reaches it: an unspecified address (`0.0.0.0`) becomes the
/// loopback one.
fn self_address(bind: Option<String>) -> String {
    match bind.and_then(|b| b.parse::<SocketAddr>().ok()) {
        Some(addr) if addr.ip().is_unspecified() => format!("127.0.0.1:{}", addr.port()),
        Some(addr) => addr.to_string(),
        None => "127.0.0.1:8080".into(),
    }
}

/// Whether `url` names this machine (tests and the example directory run there).
pub fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

/// An `https://` URL, or `http://` to a loopback address (SPEC §12).
fn web_url(name: &str, value: &str) -> Result<reqwest::Url, ConfigError> {
    let url = reqwest::Url::parse(value)
        .map_err(|e| invalid(name, format!("{value:?} is not a URL: {e}")))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(invalid(
            name,
            "must be https:// (plain http:// only to a loopback address)".into(),
        )),
        other => Err(invalid(name, format!("{other}:// is not http(s)://"))),
    }
}

/// `TANYA_SMTP_URL` (SPEC §12): `smtps://` or `smtp://`; without credentials only to a
/// loopback host. Errors never repeat the value, which holds a password.
fn smtp_url_checked(value: String) -> Result<Secret, ConfigError> {
    const NAME: &str = "TANYA_SMTP_URL";
    let url = reqwest::Url::parse(&value)
        .map_err(|_| invalid(NAME, "is not a URL like smtps://user:pass@host:465".into()))?;
    if !matches!(url.scheme(), "smtp" | "smtps") || url.host().is_none() {
        return Err(invalid(
            NAME,
            "must be smtps://user:pass@host:port or smtp://…".into(),
        ));
    }
    if url.scheme() == "smtp" && url.username().is_empty() && !is_loopback(&url) {
        return Err(invalid(
            NAME,
            "a plain smtp:// URL without credentials is accepted only for a loopback host".into(),
        ));
    }
    Ok(Secret::from(value))
}

fn invalid(name: &str, message: String) -> ConfigError {
    ConfigError::Invalid {
        name: name.to_string(),
        message,
    }
}

/// `http(s)://host[:port]` with nothing after it: what a browser sends as `Origin`.
fn is_web_origin(origin: &str) -> bool {
    let Some(authority) = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
    else {
        return false;
    };
    // An IPv6 literal keeps its colons inside brackets: `[::1]:8080`.
    let (host, port) = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => (&authority[..i], Some(&authority[i + 1..])),
        _ => (authority, None),
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.[]:".contains(&b));
    host_ok
        && port.is_none_or(|p| p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok())
}

fn read_file(path: &Path) -> Result<HashMap<String, String>, ConfigError> {
    let fail = |message: String| ConfigError::File {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| fail(e.to_string()))?;
    table
        .into_iter()
        .map(|(key, value)| match value {
            toml::Value::String(s) => Ok((key, s)),
            toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_) => {
                Ok((key, value.to_string()))
            }
            _ => Err(fail(format!("{key}: expected a string or number"))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_follow_the_spec() {
        let c = config(&[]).unwrap();
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        assert_eq!(c.mode, Mode::Demo);
        assert!(c.telegram.is_none() && c.whatsapp.is_none() && c.line.is_none());
        assert!(c.cors_origins.is_empty(), "CORS is off by default");
    }

    #[test]
    fn cors_origins_are_a_comma_separated_list_of_origins() {
        let c = config(&[(
            "TANYA_CORS_ORIGINS",
            " https://www.example.org/, http://localhost:3000 ,,",
        )])
        .unwrap();
        assert_eq!(
            c.cors_origins,
            ["https://www.example.org", "http://localhost:3000"]
        );
        assert_eq!(
            config(&[("TANYA_CORS_ORIGINS", "*")]).unwrap().cors_origins,
            ["*"]
        );
        for bad in [
            "example.org",
            "https://example.org/path",
            "ftp://example.org",
            "https://example.org:port",
            "*, https://example.org",
        ] {
            let err = config(&[("TANYA_CORS_ORIGINS", bad)]).unwrap_err();
            assert!(
                err.to_string().starts_with("TANYA_CORS_ORIGINS"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn a_channel_needs_all_its_secrets() {
        let c = config(&[("TANYA_TELEGRAM_BOT_TOKEN", "123:fake")]).unwrap();
        assert!(c.telegram.is_none());
        let c = config(&[
            ("TANYA_TELEGRAM_BOT_TOKEN", "123:fake"),
            ("TANYA_TELEGRAM_SECRET_TOKEN", "fake-secret"),
            ("TANYA_TELEGRAM_API_BASE", "http://127.0.0.1:9/"),
        ])
        .unwrap();
        let telegram = c.telegram.unwrap();
        assert_eq!(telegram.api_base, "http://127.0.0.1:9");
        assert_eq!(format!("{telegram:?}").matches("REDACTED").count(), 2);
        assert!(!format!("{telegram:?}").contains("fake"));
    }

    #[test]
    fn limits_default_on_and_can_be_set_or_turned_off() {
        let c = config(&[]).unwrap();
        assert_eq!(c.limits, crate::limits::LimitsConfig::default());
        let c = config(&[
            ("TANYA_LIMIT_WEB_SESSION", "off"),
            ("TANYA_LIMIT_MEMBER_CODES", "3/15m"),
        ])
        .unwrap();
        assert_eq!(c.limits.web_session, None);
        assert_eq!(
            c.limits.member_codes,
            Some(crate::limits::Rate::new(3, Duration::from_secs(900)))
        );
        let err = config(&[("TANYA_LIMIT_CLIENT_IP", "lots")]).unwrap_err();
        assert!(
            err.to_string().starts_with("TANYA_LIMIT_CLIENT_IP"),
            "{err}"
        );
    }

    #[test]
    fn the_client_ip_header_must_be_a_header_name() {
        let c = config(&[("TANYA_CLIENT_IP_HEADER", "X-Forwarded-For")]).unwrap();
        assert_eq!(c.client_ip_header.unwrap().as_str(), "x-forwarded-for");
        let err = config(&[("TANYA_CLIENT_IP_HEADER", "X Forwarded For")]).unwrap_err();
        assert!(
            err.to_string().starts_with("TANYA_CLIENT_IP_HEADER"),
            "{err}"
        );
    }

    #[test]
    fn connection_limits_default_and_refuse_zero() {
        let c = config(&[]).unwrap();
        assert_eq!(c.connections, ConnectionLimits::default());
        let c = config(&[
            ("TANYA_HEADER_TIMEOUT_MS", "500"),
            ("TANYA_IDLE_TIMEOUT_MS", "2000"),
            ("TANYA_MAX_CONNECTIONS", "3"),
        ])
        .unwrap();
        assert_eq!(c.connections.header_timeout, Duration::from_millis(500));
        assert_eq!(c.connections.idle_timeout, Duration::from_secs(2));
        assert_eq!(c.connections.max_connections, 3);
        for (name, value) in [
            ("TANYA_HEADER_TIMEOUT_MS", "0"),
            ("TANYA_IDLE_TIMEOUT_MS", "0"),
            ("TANYA_MAX_CONNECTIONS", "0"),
            ("TANYA_MAX_CONNECTIONS", "many"),
        ] {
            let err = config(&[(name, value)]).unwrap_err();
            assert!(err.to_string().starts_with(name), "{err}");
        }
    }

    #[test]
    fn bad_values_name_the_setting() {
        let err = config(&[("TANYA_BIND", "not an address")]).unwrap_err();
        assert!(err.to_string().starts_with("TANYA_BIND"), "{err}");
        let err = config(&[("TANYA_MODE", "staging")]).unwrap_err();
        assert!(err.to_string().contains("staging"), "{err}");
        let err = config(&[("TANYA_NLU_MIN_CONFIDENCE", "2")]).unwrap_err();
        assert!(err.to_string().contains("between 0 and 1"), "{err}");
    }

    #[test]
    fn delivery_retries_are_configurable_and_need_one_attempt() {
        assert_eq!(config(&[]).unwrap().delivery, DeliveryConfig::default());
        let c = config(&[
            ("TANYA_DELIVERY_RETRY_BASE_MS", "20"),
            ("TANYA_DELIVERY_RETRY_MAX_MS", "200"),
            ("TANYA_DELIVERY_MAX_ATTEMPTS", "3"),
        ])
        .unwrap();
        assert_eq!(c.delivery.retry_base, Duration::from_millis(20));
        assert_eq!(c.delivery.retry_max, Duration::from_millis(200));
        assert_eq!(c.delivery.max_attempts, 3);
        let err = config(&[("TANYA_DELIVERY_MAX_ATTEMPTS", "0")]).unwrap_err();
        assert!(
            err.to_string().starts_with("TANYA_DELIVERY_MAX_ATTEMPTS"),
            "{err}"
        );
    }

    #[test]
    fn the_environment_overrides_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tanya.toml");
        std::fs::write(&path, "bind = \"127.0.0.1:9999\"\nmode = \"production\"\n").unwrap();
        let path = path.to_str().unwrap().to_string();
        let c = config(&[("TANYA_CONFIG", &path), ("TANYA_MODE", "demo")]).unwrap();
        assert_eq!(c.bind.port(), 9999);
        assert_eq!(c.mode, Mode::Demo);
    }

    fn vars(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    /// A complete production configuration against loopback services, with `changes`.
    fn production(changes: &[(&'static str, &'static str)]) -> Result<Config, ConfigError> {
        let mut pairs: Vec<(&str, &str)> = vec![
            ("TANYA_MODE", "production"),
            ("TANYA_PUBLIC_URL", "https://tanya.example.org/"),
            ("TANYA_DIRECTORY_URL", "http://127.0.0.1:8090"),
            ("TANYA_DIRECTORY_TOKEN", "fake-directory-token"),
            ("TANYA_SMTP_URL", "smtp://127.0.0.1:2525"),
            ("TANYA_SMTP_FROM", "noreply@example.org"),
            ("TANYA_SMS_URL", "http://localhost:9000/sms"),
            ("TANYA_SMS_TOKEN", "fake-sms-token"),
        ];
        for (name, value) in changes {
            pairs.retain(|(n, _)| n != name);
            if !value.is_empty() {
                pairs.push((name, value));
            }
        }
        vars(&pairs)
    }

    #[test]
    fn unknown_variables_and_file_keys_are_errors_naming_them() {
        let err = vars(&[("TANYA_BNID", "127.0.0.1:1"), ("HOME", "/root")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown setting TANYA_BNID in the environment"
        );
        assert!(vars(&[("TANYA_LOG", "debug"), ("PATH", "/bin")]).is_ok());
        assert!(
            vars(&[("TANYA_TELEGRAM_API_BASE", "http://127.0.0.1:9")]).is_ok(),
            "a disabled channel's optional setting is still a known name"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tanya.toml");
        std::fs::write(&path, "bind = \"127.0.0.1:9999\"\ndata_dri = \"/tmp/x\"\n").unwrap();
        let path = path.to_str().unwrap().to_string();
        let err = config(&[("TANYA_CONFIG", &path)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown key \"data_dri\" in the TANYA_CONFIG file"
        );
    }

    #[test]
    fn production_settings_are_read_and_checked() {
        let c = production(&[]).unwrap();
        assert_eq!(c.public_url, "https://tanya.example.org");
        let p = c.production.expect("production settings");
        assert_eq!(p.directory.url.as_str(), "http://127.0.0.1:8090/");
        assert_eq!(p.directory.timeout, DEFAULT_DIRECTORY_TIMEOUT);
        assert_eq!(p.smtp.from, "noreply@example.org");
        assert!(
            !format!("{:?}", p.sms).contains("fake-sms-token"),
            "secrets never print"
        );
        assert!(config(&[]).unwrap().production.is_none(), "demo mode");
        assert_eq!(config(&[]).unwrap().public_url, "http://127.0.0.1:8080");
    }

    #[test]
    fn production_reports_every_problem_at_once() {
        let err = production(&[
            ("TANYA_DIRECTORY_TOKEN", ""),
            ("TANYA_SMS_URL", "http://sms.example.org/send"),
            ("TANYA_SMTP_FROM", "not an address"),
        ])
        .unwrap_err();
        let message = err.to_string();
        let lines: Vec<&str> = message.lines().collect();
        assert_eq!(lines.len(), 4, "{message}");
        assert!(lines[0].starts_with("TANYA_MODE=production cannot start"));
        assert!(
            message.contains("TANYA_DIRECTORY_TOKEN is not set"),
            "{message}"
        );
        assert!(
            message.contains("TANYA_SMS_URL: must be https://"),
            "{message}"
        );
        assert!(message.contains("TANYA_SMTP_FROM: "), "{message}");
        let err = production(&[("TANYA_PUBLIC_URL", "")]).unwrap_err();
        assert!(
            err.to_string().contains("TANYA_PUBLIC_URL is not set"),
            "{err}"
        );
    }

    #[test]
    fn smtp_urls_follow_spec_12_and_never_echo_the_password() {
        for good in [
            "smtp://127.0.0.1:2525",
            "smtps://user:pa55@mail.example.org:465",
            "smtp://user:pa55@mail.example.org:587",
        ] {
            assert!(smtp_url_checked(good.into()).is_ok(), "{good}");
        }
        for bad in [
            "smtp://mail.example.org:25",
            "http://user:pa55@mail.example.org",
            "smtps//user:pa55@mail",
        ] {
            let err = smtp_url_checked(bad.into()).unwrap_err().to_string();
            assert!(!err.contains("pa55"), "{err}");
            assert!(err.starts_with("TANYA_SMTP_URL"), "{err}");
        }
    }
}
