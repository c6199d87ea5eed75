CREATE TABLE IF NOT EXISTS todos (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id    TEXT    NOT NULL,
    title       TEXT    NOT NULL,
    description TEXT,
    is_complete INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS todos_owner ON todos (owner_id);

-- Refresh tokens: only their SHA-256 is stored.
CREATE TABLE IF NOT EXISTS refresh_tokens (
    token_hash TEXT    PRIMARY KEY,
    family     TEXT    NOT NULL,
    profile    TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    used       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS refresh_tokens_family ON refresh_tokens (family);
CREATE TABLE IF NOT EXISTS revoked_families (
    family TEXT PRIMARY KEY
);
