-- Version 4: projects that isolate data, API keys, and each project's privacy settings.

ALTER TABLE projects ADD COLUMN content_policy TEXT NOT NULL DEFAULT 'full';  -- full / truncated / none
ALTER TABLE projects ADD COLUMN content_max_chars INTEGER;                    -- for 'truncated'
ALTER TABLE projects ADD COLUMN redact_secrets INTEGER NOT NULL DEFAULT 1;    -- providers' keys, tokens, e-mails
ALTER TABLE projects ADD COLUMN redact_patterns TEXT NOT NULL DEFAULT '[]';   -- JSON list of regular expressions
ALTER TABLE projects ADD COLUMN retention_days INTEGER;                       -- NULL: kept until erased

-- A key is "tl_<id>_<secret>"; only an HMAC of it (keyed with the server's secret) is stored.
CREATE TABLE api_keys (
    id              TEXT PRIMARY KEY,           -- the public part, "tl_<id>"
    project_id      INTEGER NOT NULL,
    name            TEXT NOT NULL DEFAULT '',
    scope           TEXT NOT NULL,              -- full / read / ingest
    secret_hash     BLOB NOT NULL,
    created_ns      INTEGER NOT NULL,
    revoked_ns      INTEGER,
    last_used_ns    INTEGER
);
CREATE INDEX api_keys_by_project ON api_keys (project_id);

-- The models a session called, now per project (the model filter and its menu stay within a project).
CREATE TABLE session_models_by_project (
    project_id  INTEGER NOT NULL,
    model       TEXT NOT NULL,
    session_pk  INTEGER NOT NULL,
    PRIMARY KEY (project_id, model, session_pk)
) WITHOUT ROWID;
INSERT INTO session_models_by_project (project_id, model, session_pk)
    SELECT s.project_id, m.model, m.session_pk FROM session_models m JOIN sessions s ON s.pk = m.session_pk;
DROP TABLE session_models;
ALTER TABLE session_models_by_project RENAME TO session_models;
CREATE INDEX session_models_by_session ON session_models (session_pk);
