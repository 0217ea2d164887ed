//! Code e-mails over SMTP with lettre: implicit TLS (`smtps://`), STARTTLS required for
//! `smtp://` with credentials, plain SMTP only to a loopback server (SPEC §12).

use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use std::time::Duration;

use super::SendError;
use super::{CodeCall, SetupError};
use crate::config::SmtpConfig;

/// The longest one SMTP exchange may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(15);

pub(super) struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Smtp {
    pub(super) fn new(config: &SmtpConfig) -> Result<Smtp, SetupError> {
        let url = with_tls_mode(config.url.expose_secret());
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url)
            // lettre's message may repeat the URL, which holds a password: only its kind.
            .map_err(|_| SetupError::Smtp("not a usable SMTP URL".into()))?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        let from = config
            .from
            .parse()
            .map_err(|e: lettre::address::AddressError| SetupError::From(e.to_string()))?;
        Ok(Smtp { transport, from })
    }

    pub(super) async fn send(&self, call: &CodeCall) -> Result<(), SendError> {
        let to: Mailbox = call.to.parse().map_err(|_| SendError::Permanent {
            reason: "the member's e-mail address is not one SMTP accepts".into(),
        })?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(call.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(call.text.clone())
            .map_err(|e| SendError::Permanent {
                reason: format!("the e-mail cannot be built: {e}"),
            })?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            // A 5xx answer will be the same next time; everything else (4xx, a dropped
            // connection, a timeout) may pass later.
            Err(error) if error.is_permanent() => Err(SendError::Permanent {
                reason: smtp_reason(&error),
            }),
            Err(error) => Err(SendError::Retry {
                after: None,
                reason: smtp_reason(&error),
            }),
        }
    }
}

/// The failure as logs may show it: the server's status code, not its text (which may
/// repeat the address).
fn smtp_reason(error: &lettre::transport::smtp::Error) -> String {
    match error.status() {
        Some(code) => format!("the SMTP server answered {code}"),
        None if error.is_timeout() => "the SMTP server timed out".into(),
        None => "the SMTP exchange failed".into(),
    }
}

/// `smtp://` URLs with credentials require STARTTLS (lettre would otherwise send the
/// password in clear); plain `smtp://` without credentials (loopback only, checked by the
/// configuration) and `smtps://` are taken as they are.
fn with_tls_mode(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed)
            if parsed.scheme() == "smtp"
                && !parsed.username().is_empty()
                && !parsed.query_pairs().any(|(k, _)| k == "tls") =>
        {
            parsed.query_pairs_mut().append_pair("tls", "required");
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_over_plain_smtp_require_starttls() {
        assert_eq!(
            with_tls_mode("smtp://user:pw@mail.example.org:587"),
            "smtp://user:pw@mail.example.org:587?tls=required"
        );
        assert_eq!(
            with_tls_mode("smtp://127.0.0.1:2525"),
            "smtp://127.0.0.1:2525"
        );
        assert_eq!(
            with_tls_mode("smtps://user:pw@mail.example.org"),
            "smtps://user:pw@mail.example.org"
        );
    }
}
