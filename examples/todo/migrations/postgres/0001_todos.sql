CREATE TABLE IF NOT EXISTS todos (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id    TEXT    NOT NULL,
    title       TEXT    NOT NULL,
    description TEXT,
    is_complete BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS todos_owner ON todos (owner_id);

-- Authentication state (refresh-token families, ...): the store seam's
-- key-value table with expiry. A value is bytes, a counter an integer.
CREATE TABLE IF NOT EXISTS auth_state (
    state_key   TEXT    PRIMARY KEY,
    state_value BYTEA,
    counter     BIGINT,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS auth_state_expires_at ON auth_state (expires_at);

-- The store seam's sets (an owner's tokens and API keys): a row per member.
CREATE TABLE IF NOT EXISTS auth_state_members (
    set_key    TEXT    NOT NULL,
    member     TEXT    NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (set_key, member)
);
CREATE INDEX IF NOT EXISTS auth_state_members_expires_at ON auth_state_members (expires_at);
