-- Every store of tanya (issue 13). Times are unix milliseconds (bigint), as tanya's clock
-- gives them; encoded records (session state, members, queued calls) are tanya's own JSON,
-- which the database never interprets. Plain tables and B-tree indexes only, so the schema
-- also suits PostgreSQL-compatible distributed databases.

-- Sessions: the engine's state, and the transcript lines that left it. Every turn rewrites
-- its session's row, so the idle sweep finds sessions by the hour of their last update, which
-- changes once an hour at most: the other turns change no indexed column and their updates
-- stay on the row's page (HOT, with the room fillfactor leaves), with no index to update.
CREATE TABLE sessions (
    key text PRIMARY KEY,
    updated_at bigint NOT NULL,
    idle_hour bigint NOT NULL,
    data bytea NOT NULL
) WITH (fillfactor = 70);
CREATE INDEX sessions_by_idle_hour ON sessions (idle_hour);

CREATE TABLE transcript_lines (
    key text NOT NULL,
    number bigint NOT NULL,
    line bytea NOT NULL,
    PRIMARY KEY (key, number)
);

-- Per-member limits: when each token bucket is full again (microseconds), and each
-- member's standing (wrong codes, lockout) as JSON.
CREATE TABLE member_buckets (
    bucket bytea PRIMARY KEY,
    full_at bigint NOT NULL
);
CREATE INDEX member_buckets_by_full ON member_buckets (full_at);

CREATE TABLE member_standings (
    member text PRIMARY KEY,
    standing text NOT NULL
);

-- The demo member directory: records by id, and every card's KPJ to its holder.
CREATE TABLE members (
    id text PRIMARY KEY,
    record bytea NOT NULL
);

CREATE TABLE member_cards (
    kpj text PRIMARY KEY,
    member_id text NOT NULL
);

CREATE TABLE directory_meta (
    name text PRIMARY KEY,
    value bigint NOT NULL
);

-- The demo code outbox (what the demo "SMS" and "e-mail" carried), by session.
CREATE TABLE demo_codes (
    id bigserial PRIMARY KEY,
    session text NOT NULL,
    sent_at bigint NOT NULL,
    entry bytea NOT NULL
);
CREATE INDEX demo_codes_by_session ON demo_codes (session, id);
CREATE INDEX demo_codes_by_time ON demo_codes (sent_at);

-- The messaging channels: platform delivery ids (a claim while one instance processes the
-- delivery, then done), and the queue of platform API calls, each leased to the instance
-- sending it.
CREATE TABLE channel_deliveries (
    id text PRIMARY KEY,
    marked_at bigint NOT NULL,
    done boolean NOT NULL,
    claimed_until bigint NOT NULL
);
CREATE INDEX channel_deliveries_by_time ON channel_deliveries (marked_at);

CREATE TABLE channel_calls (
    id bigserial PRIMARY KEY,
    session text NOT NULL,
    item bytea NOT NULL,
    leased_by text,
    lease_until bigint NOT NULL DEFAULT 0
);
CREATE INDEX channel_calls_by_session ON channel_calls (session, id);

-- The server key that codes and keyed hashes are derived from, created once for every
-- instance (unless TANYA_SERVER_KEY gives it).
CREATE TABLE server_key (
    id integer PRIMARY KEY CHECK (id = 1),
    key bytea NOT NULL CHECK (length(key) = 32)
);
