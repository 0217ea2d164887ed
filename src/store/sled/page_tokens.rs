//! The sled `PageTokenStore`: links in "page_tokens" (token hash → JSON record) and each
//! session's live link in "page_token_sessions" (session key → token hash), changed together in
//! one transaction. Made durable with the turn that issued or withdrew them (`Durability`).

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::Database;
use crate::clock::Timestamp;
use crate::security::page_token::PageTokenHash;
use crate::store::page_tokens::{PageGrant, PageTokenStore, TokenRecord};
use crate::store::{SessionKey, StoreError};

const TOKENS_TREE: &str = "page_tokens";
const SESSIONS_TREE: &str = "page_token_sessions";

/// The password page's links in sled.
#[derive(Debug, Clone)]
pub struct SledPageTokens {
    tokens: sled::Tree,
    sessions: sled::Tree,
}

impl SledPageTokens {
    pub fn new(db: &Database) -> Result<SledPageTokens, StoreError> {
        Ok(SledPageTokens {
            tokens: db.tree(TOKENS_TREE)?,
            sessions: db.tree(SESSIONS_TREE)?,
        })
    }
}

/// A record as stored; one that does not decode opens nothing (it can only come from another
/// version or a bad disk).
fn decode(bytes: &[u8]) -> Option<TokenRecord> {
    serde_json::from_slice(bytes).ok()
}

fn encode(record: &TokenRecord) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(record).map_err(|error| StoreError::Corrupt {
        key: format!("page token not encodable: {error}"),
    })
}

/// A transaction's outcome as the store's error.
fn finished<T>(outcome: Result<T, TransactionError<StoreError>>) -> Result<T, StoreError> {
    outcome.map_err(|error| match error {
        TransactionError::Storage(error) => StoreError::from(error),
        TransactionError::Abort(error) => error,
    })
}

#[async_trait::async_trait]
impl PageTokenStore for SledPageTokens {
    async fn issue(&self, hash: &PageTokenHash, grant: &PageGrant) -> Result<(), StoreError> {
        let record = encode(&TokenRecord::new(grant))?;
        let session = grant.session.as_str().as_bytes();
        finished(
            (&self.tokens, &self.sessions).transaction(|(tokens, sessions)| {
                if let Some(old) = sessions.insert(session, &hash.0[..])? {
                    tokens.remove(old)?;
                }
                tokens.insert(&hash.0[..], record.as_slice())?;
                Ok::<(), ConflictableTransactionError<StoreError>>(())
            }),
        )
    }

    async fn find(
        &self,
        hash: &PageTokenHash,
        now: Timestamp,
    ) -> Result<Option<PageGrant>, StoreError> {
        Ok(self
            .tokens
            .get(hash.0)?
            .and_then(|bytes| decode(&bytes))
            .filter(|record| record.works_at(now))
            .and_then(|record| record.grant()))
    }

    async fn attempt(
        &self,
        hash: &PageTokenHash,
        max: u32,
        now: Timestamp,
    ) -> Result<Option<PageGrant>, StoreError> {
        // One transaction: two submissions at once are both counted, and the one over the
        // limit removes the link and its session entry together.
        finished(
            (&self.tokens, &self.sessions).transaction(|(tokens, sessions)| {
                let Some(mut record) = tokens
                    .get(hash.0)?
                    .and_then(|bytes| decode(&bytes))
                    .filter(|record| record.works_at(now))
                else {
                    return Ok(None);
                };
                record.attempts += 1;
                if record.attempts > max {
                    tokens.remove(&hash.0[..])?;
                    let session = record.session.as_bytes();
                    if sessions.get(session)?.as_deref() == Some(&hash.0[..]) {
                        sessions.remove(session)?;
                    }
                    return Ok(None);
                }
                let encoded = encode(&record).map_err(ConflictableTransactionError::Abort)?;
                tokens.insert(&hash.0[..], encoded)?;
                Ok(record.grant())
            }),
        )
    }

    async fn withdraw(&self, session: &SessionKey) -> Result<(), StoreError> {
        let session = session.as_str().as_bytes();
        finished(
            (&self.tokens, &self.sessions).transaction(|(tokens, sessions)| {
                if let Some(hash) = sessions.remove(session)? {
                    tokens.remove(hash)?;
                }
                Ok::<(), ConflictableTransactionError<StoreError>>(())
            }),
        )
    }

    async fn sweep(&self, now: Timestamp) -> Result<usize, StoreError> {
        let this = self.clone();
        super::off_the_executor(move || {
            let mut removed = 0;
            for entry in &this.tokens {
                let (hash, bytes) = entry?;
                let record = decode(&bytes);
                if record.as_ref().is_some_and(|r| r.works_at(now)) {
                    continue;
                }
                // Unless it changed meanwhile (a submission counted: still expired, swept next
                // time); a session entry left pointing at nothing opens nothing.
                if this
                    .tokens
                    .compare_and_swap(&hash, Some(bytes), None::<&[u8]>)?
                    .is_ok()
                {
                    removed += 1;
                    if let Some(record) = record {
                        let _ = this.sessions.compare_and_swap(
                            record.session.as_bytes(),
                            Some(&hash),
                            None::<&[u8]>,
                        )?;
                    }
                }
            }
            Ok(removed)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_sled_store_meets_the_page_token_contract() {
        let db = Database::temporary().expect("db");
        crate::store::page_tokens::tests::contract(&SledPageTokens::new(&db).expect("store")).await;
    }

    #[tokio::test]
    async fn links_outlive_the_process() {
        let dir = tempfile::tempdir().expect("dir");
        let now = Timestamp(1_800_000_000_000);
        let grant = PageGrant {
            session: SessionKey::new("line", "U1").expect("key"),
            member: crate::members::MemberId::from_stored("12345678901".into()),
            flow: crate::dialog::Flow::ForgotAccount,
            expires_at: now.plus(std::time::Duration::from_secs(600)),
        };
        let hash = PageTokenHash([7; 32]);
        {
            let db = Database::open(dir.path()).expect("open");
            let store = SledPageTokens::new(&db).expect("store");
            store.issue(&hash, &grant).await.expect("issue");
            db.make_durable().await.expect("durable");
        }
        let db = Database::reopen(dir.path());
        let store = SledPageTokens::new(&db).expect("store");
        assert_eq!(store.find(&hash, now).await.expect("find"), Some(grant));
    }
}
