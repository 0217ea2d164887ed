//! The agency's member directory over HTTP (SPEC §12; the contract is
//! `docs/directory.openapi.yaml`): bearer token, HTTPS with an optional client certificate,
//! a timeout per call, one retry of a call that got no answer, and a circuit breaker, so that
//! a directory that is down costs members a clear `service_unavailable`, never a hang.

mod breaker;
mod wire;

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode, Url};
use secrecy::ExposeSecret;

use crate::config::{DirectoryConfig, Secret};
use crate::identity::{Email, Kpj, Nik};
use crate::members::{Card, DirectoryError, FoundMember, MemberDirectory, MemberId};
use breaker::{Admission, Breaker};

/// Tries of one call that got no answer (a refused connection, a timeout, a 5xx): calls are
/// idempotent (a lookup is a read, a PUT of the same hash changes nothing twice).
const ATTEMPTS: u32 = 2;
/// The wait before the retry.
const RETRY_BACKOFF: Duration = Duration::from_millis(100);
/// The largest answer read: a member or their cards are a few hundred bytes.
const MAX_BODY: usize = 64 * 1024;

/// The contract's calls, named in logs and errors.
#[derive(Debug, Clone, Copy)]
enum Call {
    Lookup,
    Cards,
    SetPassword,
    Health,
}

impl Call {
    fn name(self) -> &'static str {
        match self {
            Call::Lookup => "POST /members/lookup",
            Call::Cards => "GET /members/{id}/cards",
            Call::SetPassword => "PUT /members/{id}/password",
            Call::Health => "GET /health",
        }
    }
}

/// Why the start-up check of the directory failed.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("TANYA_DIRECTORY_CLIENT_CERT {path}: {message}")]
    ClientCert { path: String, message: String },
    #[error("TANYA_DIRECTORY_CA_CERT {path}: {message}")]
    CaCert { path: String, message: String },
    #[error("the HTTP client cannot be built: {0}")]
    Client(String),
}

/// The directory client. Cheap to share: one connection pool, one breaker.
pub struct HttpDirectory {
    client: reqwest::Client,
    base: Url,
    token: Secret,
    breaker: Breaker,
}

impl HttpDirectory {
    /// A client for the directory `config` names (the certificate files are read now).
    pub fn new(config: &DirectoryConfig) -> Result<HttpDirectory, SetupError> {
        let mut builder = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .https_only(config.url.scheme() == "https");
        if let Some(path) = &config.client_cert {
            let identity = read_pem(path, reqwest::Identity::from_pem).map_err(|message| {
                SetupError::ClientCert {
                    path: path.display().to_string(),
                    message,
                }
            })?;
            builder = builder.identity(identity);
        }
        if let Some(path) = &config.ca_cert {
            let certificate =
                read_pem(path, reqwest::Certificate::from_pem).map_err(|message| {
                    SetupError::CaCert {
                        path: path.display().to_string(),
                        message,
                    }
                })?;
            builder = builder.add_root_certificate(certificate);
        }
        Ok(HttpDirectory {
            client: builder
                .build()
                .map_err(|e| SetupError::Client(e.to_string()))?,
            base: with_trailing_slash(config.url.clone()),
            token: config.token.clone(),
            breaker: Breaker::new(config.cooldown),
        })
    }

    /// Whether the directory answers `GET /health` with 200: checked at start-up, so a
    /// wrong URL or token stops production mode before any member meets it.
    pub async fn check(&self) -> Result<(), DirectoryError> {
        let (status, _) = self
            .call(Call::Health, Method::GET, &["health"], None)
            .await?;
        match status {
            StatusCode::OK => Ok(()),
            other => Err(DirectoryError::Contract(format!(
                "{} answered {other}",
                Call::Health.name()
            ))),
        }
    }

    async fn lookup(
        &self,
        request: wire::LookupRequest<'_>,
    ) -> Result<Option<FoundMember>, DirectoryError> {
        let body =
            serde_json::to_vec(&request).map_err(|e| contract(Call::Lookup, &e.to_string()))?;
        let (status, answer) = self
            .call(
                Call::Lookup,
                Method::POST,
                &["members", "lookup"],
                Some(body),
            )
            .await?;
        match status {
            StatusCode::OK => wire::found_member(&answer)
                .map(Some)
                .map_err(|broken| contract(Call::Lookup, &broken)),
            StatusCode::NOT_FOUND => Ok(None),
            other => Err(unexpected(Call::Lookup, other)),
        }
    }

    /// One call: refused at once while the circuit is open; otherwise tried up to `ATTEMPTS`
    /// times while it gets no answer. Any HTTP answer closes the circuit and is returned
    /// with its body (at most `MAX_BODY`), except a refused token, which is the operator's
    /// problem and reported as such.
    async fn call(
        &self,
        call: Call,
        method: Method,
        path: &[&str],
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, Vec<u8>), DirectoryError> {
        if self.breaker.admit(Instant::now()) == Admission::Refused {
            return Err(DirectoryError::Unavailable(format!(
                "{}: circuit open after repeated failures",
                call.name()
            )));
        }
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| contract(call, "the directory URL cannot take a path"))?
            .pop_if_empty()
            .extend(path);
        let mut failure = String::new();
        for attempt in 1..=ATTEMPTS {
            if attempt > 1 {
                tokio::time::sleep(RETRY_BACKOFF).await;
            }
            match self.attempt(&method, url.clone(), body.clone()).await {
                Ok((status, _)) if status.is_server_error() => {
                    failure = format!("{} answered {status}", call.name());
                }
                Ok((status @ (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN), _)) => {
                    self.breaker.succeeded();
                    tracing::error!(call = call.name(), %status, "the member directory refused TANYA_DIRECTORY_TOKEN");
                    return Err(DirectoryError::Unavailable(format!(
                        "{} refused the token ({status})",
                        call.name()
                    )));
                }
                Ok(answer) => {
                    self.breaker.succeeded();
                    return Ok(answer);
                }
                Err(error) => failure = format!("{}: {error}", call.name()),
            }
        }
        if self.breaker.failed(Instant::now()) {
            tracing::error!(call = call.name(), "member directory down: circuit opened");
        }
        Err(DirectoryError::Unavailable(failure))
    }

    async fn attempt(
        &self,
        method: &Method,
        url: Url,
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, Vec<u8>), String> {
        let mut request = self
            .client
            .request(method.clone(), url)
            .bearer_auth(self.token.expose_secret())
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let mut response = request.send().await.map_err(|e| without_url(&e))?;
        let status = response.status();
        let mut answer = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| without_url(&e))? {
            if answer.len() + chunk.len() > MAX_BODY {
                return Err(format!("answer larger than {MAX_BODY} bytes"));
            }
            answer.extend_from_slice(&chunk);
        }
        Ok((status, answer))
    }
}

#[async_trait::async_trait]
impl MemberDirectory for HttpDirectory {
    async fn find_by_kpj_nik(
        &self,
        kpj: &Kpj,
        nik: &Nik,
    ) -> Result<Option<FoundMember>, DirectoryError> {
        self.lookup(wire::by_kpj_nik(kpj, nik)).await
    }

    async fn find_by_email_kpj(
        &self,
        email: &Email,
        kpj: &Kpj,
    ) -> Result<Option<FoundMember>, DirectoryError> {
        self.lookup(wire::by_email_kpj(email, kpj)).await
    }

    async fn cards(&self, id: &MemberId) -> Result<Vec<Card>, DirectoryError> {
        let (status, answer) = self
            .call(
                Call::Cards,
                Method::GET,
                &["members", id.as_str(), "cards"],
                None,
            )
            .await?;
        match status {
            StatusCode::OK => wire::cards(&answer).map_err(|broken| contract(Call::Cards, &broken)),
            StatusCode::NOT_FOUND => Err(DirectoryError::UnknownMember(id.clone())),
            other => Err(unexpected(Call::Cards, other)),
        }
    }

    async fn set_password(&self, id: &MemberId, phc: &str) -> Result<(), DirectoryError> {
        let body = serde_json::to_vec(&wire::PasswordRequest { password_phc: phc })
            .map_err(|e| contract(Call::SetPassword, &e.to_string()))?;
        let (status, _) = self
            .call(
                Call::SetPassword,
                Method::PUT,
                &["members", id.as_str(), "password"],
                Some(body),
            )
            .await?;
        match status {
            StatusCode::NO_CONTENT | StatusCode::OK => Ok(()),
            StatusCode::NOT_FOUND => Err(DirectoryError::UnknownMember(id.clone())),
            other => Err(unexpected(Call::SetPassword, other)),
        }
    }

    fn is_remote(&self) -> bool {
        true
    }
}

/// The PEM file at `path`, parsed by `parse`; the error says which step failed.
fn read_pem<T>(
    path: &std::path::Path,
    parse: fn(&[u8]) -> reqwest::Result<T>,
) -> Result<T, String> {
    let pem = std::fs::read(path).map_err(|e| e.to_string())?;
    parse(&pem).map_err(|e| format!("not usable PEM: {e}"))
}

/// A contract error, logged once here with the call and the rule (never a value).
fn contract(call: Call, broken: &str) -> DirectoryError {
    tracing::error!(call = call.name(), broken = %broken, "the member directory broke its contract");
    DirectoryError::Contract(format!("{}: {broken}", call.name()))
}

fn unexpected(call: Call, status: StatusCode) -> DirectoryError {
    contract(
        call,
        &format!("answered {status}, which the contract does not allow"),
    )
}

/// A transport error without its URL: a member id in the path is personal data.
fn without_url(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "cannot connect"
    } else if error.is_body() || error.is_decode() {
        "the answer broke off"
    } else {
        "request failed"
    };
    kind.to_string()
}

/// `https://host/api` → `https://host/api/`, so the contract's paths go below it.
fn with_trailing_slash(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}
