//! A stand-in SMS gateway for trying production mode locally (README, "Production mode"): it
//! accepts SPEC §12's `POST` with a bearer token and `{"to","text"}`, and prints each message
//! on stdout instead of sending it. Not for production: it sends nothing.
//!
//! ```text
//! cargo run --release --example sms_gateway -- --bind 127.0.0.1:8091 --token dev-sms-token
//! ```

use std::io::Write;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use clap::Parser;
use serde::Deserialize;
use subtle::ConstantTimeEq;

#[derive(Parser)]
#[command(about = "Prints the SMS tanya would send")]
struct Args {
    /// The address to listen on (port 0: any free port, printed on the first line).
    #[arg(long, default_value = "127.0.0.1:8091")]
    bind: std::net::SocketAddr,
    /// The bearer token tanya must present (`TANYA_SMS_TOKEN`).
    #[arg(long)]
    token: String,
}

#[derive(Deserialize)]
struct Sms {
    to: String,
    text: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let token = args.token.clone();
    let app = Router::new().fallback(move |headers: HeaderMap, body: axum::body::Bytes| {
        let token = token.clone();
        async move { receive(&token, &headers, &body) }
    });
    let listener = tokio::net::TcpListener::bind(args.bind).await?;
    println!("listening on http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    axum::serve(listener, app).await?;
    Ok(())
}

fn receive(token: &str, headers: &HeaderMap, body: &[u8]) -> StatusCode {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !bool::from(presented.as_bytes().ct_eq(token.as_bytes())) {
        return StatusCode::UNAUTHORIZED;
    }
    match serde_json::from_slice::<Sms>(body) {
        Ok(sms) => {
            println!("SMS to {}: {}", sms.to, sms.text);
            StatusCode::OK
        }
        Err(_) => StatusCode::BAD_REQUEST,
    }
}
