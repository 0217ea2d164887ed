-- The password page's links (issue 14): only the keyed hash of each token, bound to one
-- session, member and flow. One live link per session (a new one replaces the old, hence the
-- unique session); expired links are deleted by the sweep, found through their expiry.
CREATE TABLE page_tokens (
    hash bytea PRIMARY KEY,
    session text NOT NULL UNIQUE,
    member text NOT NULL,
    flow text NOT NULL,
    expires_at bigint NOT NULL,
    attempts integer NOT NULL DEFAULT 0
);
CREATE INDEX page_tokens_by_expiry ON page_tokens (expires_at);
