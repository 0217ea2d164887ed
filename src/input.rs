//! Limits on what members send (SPEC §6, §7): one home for the body size, the text length and
//! the client message id, read by the HTTP API, the messaging webhooks and the CLI chat alike.

/// Largest request body accepted, on the chat API and on every webhook (SPEC §6).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Longest message text accepted (SPEC §6); a webhook's longer text is cut to this.
pub const MAX_TEXT_CHARS: usize = 2000;
/// The longest `client_message_id` accepted, in characters (SPEC §7).
pub const MAX_CLIENT_MESSAGE_ID_CHARS: usize = 64;
