//! Code SMS through the agency's HTTP gateway (SPEC §12): `POST {TANYA_SMS_URL}` with a bearer
//! token and `{"to","text"}`.

use secrecy::ExposeSecret;
use serde::Serialize;
use std::time::Duration;

use super::SendError;
use super::{CodeCall, SetupError};
use crate::config::{Secret, SmsConfig};

/// The longest one gateway call may take.
const SMS_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) struct SmsGateway {
    client: reqwest::Client,
    url: reqwest::Url,
    token: Secret,
}

#[derive(Serialize)]
struct SmsBody<'a> {
    to: &'a str,
    text: &'a str,
}

impl SmsGateway {
    pub(super) fn new(config: &SmsConfig) -> Result<SmsGateway, SetupError> {
        Ok(SmsGateway {
            client: reqwest::Client::builder()
                .timeout(SMS_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| SetupError::Sms(e.to_string()))?,
            url: config.url.clone(),
            token: config.token.clone(),
        })
    }

    pub(super) async fn send(&self, call: &CodeCall) -> Result<(), SendError> {
        let response = self
            .client
            .post(self.url.clone())
            .bearer_auth(self.token.expose_secret())
            .json(&SmsBody {
                to: &call.to,
                text: &call.text,
            })
            .send()
            .await
            .map_err(|e| SendError::Retry {
                after: None,
                reason: if e.is_timeout() {
                    "the SMS gateway timed out".into()
                } else {
                    "the SMS gateway cannot be reached".into()
                },
            })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .map(Duration::from_secs);
            Err(SendError::Retry {
                after,
                reason: format!("the SMS gateway answered {status}"),
            })
        } else {
            Err(SendError::Permanent {
                reason: format!("the SMS gateway refused the message ({status})"),
            })
        }
    }
}
