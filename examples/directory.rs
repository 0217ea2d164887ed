//! A reference member directory: the HTTP contract of `docs/directory.openapi.yaml` (SPEC §12),
//! served from memory, for tests, local runs of `TANYA_MODE=production`, and the agency's team
//! as a working example. Not a production server: members live in memory, and a password set
//! through it is gone when it stops.
//!
//! ```text
//! cargo run --release --example directory -- --bind 127.0.0.1:8090 --token dev-directory-token
//! ```
//!
//! The first line on stdout is `listening on http://ADDRESS` (the actual port when `--bind` asks
//! for port 0). Members are the SPEC §4 demo members, or `--members FILE.json`: an array of
//! `{"id", "name", "nik", "email"?, "phone"?, "password_phc"?, "cards": [{"kpj",
//! "balance_rupiah", "as_of", "employer", "current"}]}`, primary card first (see
//! `examples/directory-members.json`). Knobs for tests: `--delay-ms N` delays every contract
//! response (a slow directory); `--broken` answers lookups with a body that breaks the contract.
//! Outside the contract, `GET /_reference/members/{id}/password` shows the stored PHC string.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, bail};
use argon2::{ARGON2ID_IDENT, Params, PasswordHash};
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use clap::Parser;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tanya::identity::Email;
use tanya::members::{Member, demo_members};

#[derive(Parser)]
#[command(about = "A reference member directory (docs/directory.openapi.yaml), in memory")]
struct Args {
    /// Address to listen on; port 0 picks a free port (printed on the first stdout line).
    #[arg(long, default_value = "127.0.0.1:8090")]
    bind: String,
    /// The bearer token every request must carry.
    #[arg(long)]
    token: String,
    /// A JSON array of members instead of the SPEC §4 demo members.
    #[arg(long)]
    members: Option<std::path::PathBuf>,
    /// Delays every contract response by this many milliseconds.
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// Answers lookups with a body that breaks the contract (`{"id": 5}`).
    #[arg(long)]
    broken: bool,
}

struct Directory {
    /// SHA-256 of the token: comparing digests in constant time hides the token's length too.
    token_digest: [u8; 32],
    delay: Duration,
    broken: bool,
    members: Mutex<HashMap<String, Member>>,
}

type Shared = Arc<Directory>;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.token.is_empty() {
        bail!("--token must not be empty");
    }
    let members = match &args.members {
        Some(path) => load_members(path)?,
        None => demo_members(),
    };
    let directory = Arc::new(Directory {
        token_digest: Sha256::digest(args.token.as_bytes()).into(),
        delay: Duration::from_millis(args.delay_ms),
        broken: args.broken,
        members: Mutex::new(
            members
                .into_iter()
                .map(|m| (m.id.as_str().to_owned(), m))
                .collect(),
        ),
    });
    let contract = Router::new()
        .route("/health", get(|| async { Json(json!({ "status": "ok" })) }))
        .route("/members/lookup", post(lookup))
        .route("/members/{id}/cards", get(cards))
        .route("/members/{id}/password", put(set_password))
        .layer(middleware::from_fn_with_state(directory.clone(), delay));
    let app = Router::new()
        .merge(contract)
        .route("/_reference/members/{id}/password", get(show_password))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .method_not_allowed_fallback(|| async {
            let message = "the route does not take this method";
            error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                message,
            )
        })
        .layer(middleware::from_fn_with_state(directory.clone(), authorize))
        .with_state(directory);
    let listener = tokio::net::TcpListener::bind(&args.bind)
        .await
        .with_context(|| format!("cannot listen on {}", args.bind))?;
    // Tests wait for this exact line to learn the port: print it first, and flush it.
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening on http://{}", listener.local_addr()?)?;
    stdout.flush()?;
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

/// Reads `--members`, refusing a file in which two members share an id or a card (members are
/// numbered from 0 in the errors).
fn load_members(path: &std::path::Path) -> anyhow::Result<Vec<Member>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let members: Vec<Member> = serde_json::from_str(&text)
        .with_context(|| format!("{} is not an array of members", path.display()))?;
    // Positions, not values, in the errors: ids and card numbers are personal data.
    let (mut ids, mut cards) = (HashSet::new(), HashSet::new());
    for (i, member) in members.iter().enumerate() {
        if member.cards.is_empty() {
            bail!("{}: member {i} has no card", path.display());
        }
        if !ids.insert(member.id.as_str()) {
            bail!(
                "{}: member {i} has the id of an earlier one",
                path.display()
            );
        }
        for (j, card) in member.cards.iter().enumerate() {
            if !cards.insert(card.kpj.as_str()) {
                bail!("{}: card {j} of member {i} is already held", path.display());
            }
        }
    }
    Ok(members)
}

/// Every route needs `Authorization: Bearer <token>`, the inspection route included.
async fn authorize(State(dir): State<Shared>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
    if bool::from(digest.ct_eq(&dir.token_digest)) {
        next.run(request).await
    } else {
        let message = "a valid bearer token is required";
        let challenge = [(header::WWW_AUTHENTICATE, "Bearer")];
        (
            challenge,
            error(StatusCode::UNAUTHORIZED, "unauthorized", message),
        )
            .into_response()
    }
}

async fn delay(State(dir): State<Shared>, request: Request, next: Next) -> Response {
    tokio::time::sleep(dir.delay).await;
    next.run(request).await
}

/// The two lookups of the contract, as sent; unknown fields make the body malformed.
#[derive(Deserialize)]
#[serde(untagged, deny_unknown_fields)]
enum LookupBody {
    KpjNik { kpj: String, nik: String },
    EmailKpj { email: String, kpj: String },
}

/// What, besides a card, identifies the member asked for.
enum Proof {
    Nik(String),
    Email(Email),
}

/// The card and the proof of a lookup body, or why the body is malformed.
fn parse_lookup(body: &[u8]) -> Result<(String, Proof), &'static str> {
    let body = serde_json::from_slice::<LookupBody>(body)
        .map_err(|_| "expected {\"kpj\",\"nik\"} or {\"email\",\"kpj\"}")?;
    let (kpj, proof) = match body {
        LookupBody::KpjNik { kpj, nik } if is_digits(&nik, 16) => (kpj, Proof::Nik(nik)),
        LookupBody::KpjNik { .. } => return Err("nik must be 16 digits"),
        LookupBody::EmailKpj { email, kpj } => {
            // Email::parse lower-cases: a client that forgot to normalize still finds the member.
            let email = Email::parse(&email).map_err(|_| "email is not an e-mail address")?;
            (kpj, Proof::Email(email))
        }
    };
    if !is_digits(&kpj, 11) {
        return Err("kpj must be 11 digits");
    }
    Ok((kpj, proof))
}

async fn lookup(State(dir): State<Shared>, body: Bytes) -> Response {
    let (kpj, proof) = match parse_lookup(&body) {
        Ok(lookup) => lookup,
        Err(message) => return bad_request(message),
    };
    if dir.broken {
        return Json(json!({ "id": 5 })).into_response();
    }
    let members = dir.members.lock().unwrap_or_else(PoisonError::into_inner);
    // Any of the member's cards matches; the 404 never says which field did not.
    let found = members.values().find(|m| {
        m.cards.iter().any(|c| c.kpj.as_str() == kpj)
            && match &proof {
                Proof::Nik(nik) => m.nik.as_str() == nik,
                Proof::Email(email) => m.email.as_ref() == Some(email),
            }
    });
    let Some(member) = found else {
        return unknown_member();
    };
    let mut body =
        json!({ "id": member.id.as_str(), "name": member.name, "login": member.login() });
    if let Some(email) = &member.email {
        body["email"] = json!(email.as_str());
    }
    if let Some(phone) = &member.phone {
        body["phone"] = json!(phone.as_str());
    }
    Json(body).into_response()
}

async fn cards(State(dir): State<Shared>, Path(id): Path<String>) -> Response {
    let members = dir.members.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(member) = members.get(&id) else {
        return unknown_member();
    };
    let cards: Vec<Value> = member
        .cards
        .iter()
        .map(|c| {
            json!({ "kpj": c.kpj.as_str(), "employer": c.employer, "current": c.current,
                    "balance": c.balance_rupiah, "as_of": c.as_of })
        })
        .collect();
    Json(cards).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordChange {
    password_phc: String,
}

async fn set_password(State(dir): State<Shared>, Path(id): Path<String>, body: Bytes) -> Response {
    let Ok(change) = serde_json::from_slice::<PasswordChange>(&body) else {
        return bad_request("expected {\"password_phc\": string}");
    };
    let mut members = dir.members.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(member) = members.get_mut(&id) else {
        return unknown_member();
    };
    if !is_argon2id_phc(&change.password_phc) {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_password_phc",
            "password_phc must be an argon2id PHC string",
        );
    }
    // Storing the same value twice leaves the same state: the PUT may be retried.
    member.password_phc = Some(change.password_phc);
    StatusCode::NO_CONTENT.into_response()
}

async fn show_password(State(dir): State<Shared>, Path(id): Path<String>) -> Response {
    let members = dir.members.lock().unwrap_or_else(PoisonError::into_inner);
    match members.get(&id) {
        Some(member) => Json(json!({ "password_phc": member.password_phc })).into_response(),
        None => unknown_member(),
    }
}

/// `$argon2id$v=19$m=…,t=…,p=…$salt$hash`, with parameters argon2 accepts.
fn is_argon2id_phc(value: &str) -> bool {
    let Ok(hash) = PasswordHash::new(value) else {
        return false;
    };
    hash.algorithm == ARGON2ID_IDENT
        && hash.version == Some(19)
        && ["m", "t", "p"]
            .iter()
            .all(|&name| hash.params.get_decimal(name).is_some())
        && Params::try_from(&hash).is_ok()
        && hash.salt.is_some()
        && hash.hash.is_some()
}

/// Exactly `count` ASCII digits: the contract's values arrive normalized, without separators.
fn is_digits(value: &str, count: usize) -> bool {
    value.len() == count && value.bytes().all(|b| b.is_ascii_digit())
}

fn unknown_member() -> Response {
    error(StatusCode::NOT_FOUND, "not_found", "no such member")
}

fn bad_request(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "bad_request", message)
}

/// The contract's error body; messages never repeat the values that were sent.
fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({ "error": { "code": code, "message": message } })),
    )
        .into_response()
}
