-- Threadline embedded store, version 1: spans, traces, turns, sessions and users, rolled up at ingest.
-- Ids are raw bytes (trace 16, span 8); times are integer nanoseconds since the Unix epoch (UTC).

CREATE TABLE projects (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_ns  INTEGER NOT NULL
);
INSERT INTO projects (id, name, created_ns) VALUES (1, 'default', 0);

-- Exact, current counts per project (GET /api/v1/stats), updated in the same transaction as the data.
CREATE TABLE project_counters (
    project_id          INTEGER PRIMARY KEY,
    span_count          INTEGER NOT NULL DEFAULT 0,
    trace_count         INTEGER NOT NULL DEFAULT 0,
    session_count       INTEGER NOT NULL DEFAULT 0,
    orphan_trace_count  INTEGER NOT NULL DEFAULT 0,
    user_count          INTEGER NOT NULL DEFAULT 0
);
INSERT INTO project_counters (project_id) VALUES (1);

CREATE TABLE resources (
    id          INTEGER PRIMARY KEY,
    digest      BLOB NOT NULL UNIQUE,
    attributes  BLOB NOT NULL            -- JSON object
);

-- One row per trace: where it belongs and its aggregate (the unit turns and sessions fold over).
-- Keys are handed out in arrival order, so inserts append instead of landing on random pages.
CREATE TABLE traces (
    pk                  INTEGER PRIMARY KEY,
    project_id          INTEGER NOT NULL,
    trace_id            BLOB NOT NULL,
    session_pk          INTEGER,             -- NULL: orphan trace (no session id anywhere yet)
    conversation_id     TEXT,
    turn_number         INTEGER,             -- explicit turn number, when a span declared one
    user_id             TEXT,
    root_name           TEXT,
    start_ns            INTEGER NOT NULL,
    end_ns              INTEGER NOT NULL,
    span_count          INTEGER NOT NULL,
    input_text          TEXT,                -- the trace's best candidate for its turn's input
    output_text         TEXT,                -- ... and output
    agg                 BLOB NOT NULL        -- JSON: the rest of the trace aggregate
);
CREATE UNIQUE INDEX traces_by_id ON traces (project_id, trace_id);
CREATE INDEX traces_by_session ON traces (session_pk);
CREATE INDEX traces_orphans ON traces (project_id, start_ns) WHERE session_pk IS NULL;

-- Append-only. `body` is JSON: attributes, events, links, status message, scope.
CREATE TABLE spans (
    pk              INTEGER PRIMARY KEY,
    trace_pk        INTEGER NOT NULL,
    span_id         BLOB NOT NULL,
    parent_span_id  BLOB,
    name            TEXT NOT NULL,
    kind            INTEGER NOT NULL,
    category        TEXT NOT NULL,
    start_ns        INTEGER NOT NULL,
    end_ns          INTEGER NOT NULL,
    status_code     INTEGER NOT NULL,
    cost_usd        REAL,
    cost_source     TEXT,
    resource_id     INTEGER NOT NULL,
    body            BLOB NOT NULL
);
CREATE UNIQUE INDEX spans_by_trace ON spans (trace_pk, span_id);

CREATE TABLE sessions (
    pk                  INTEGER PRIMARY KEY,
    project_id          INTEGER NOT NULL,
    session_id          TEXT NOT NULL,
    user_id             TEXT,
    first_ns            INTEGER NOT NULL,
    last_ns             INTEGER NOT NULL,
    duration_ns         INTEGER NOT NULL,
    turn_count          INTEGER NOT NULL,
    trace_count         INTEGER NOT NULL,
    span_count          INTEGER NOT NULL,
    llm_call_count      INTEGER NOT NULL,
    tool_call_count     INTEGER NOT NULL,
    error_count         INTEGER NOT NULL,
    errored_turn_count  INTEGER NOT NULL,
    input_tokens        INTEGER NOT NULL,
    output_tokens       INTEGER NOT NULL,
    total_tokens        INTEGER NOT NULL,
    cache_read_tokens   INTEGER NOT NULL,
    cache_write_tokens  INTEGER NOT NULL,
    reasoning_tokens    INTEGER NOT NULL,
    total_cost_usd      REAL,                -- NULL when no call could be priced
    cost_source         TEXT,                -- given / computed / mixed
    unpriced_calls      INTEGER NOT NULL,
    first_input         TEXT,
    last_output         TEXT,
    models              TEXT NOT NULL,       -- JSON array
    attributes          TEXT NOT NULL        -- JSON: seed vocabulary (session.type, channel, locale...)
);
CREATE UNIQUE INDEX sessions_by_id ON sessions (project_id, session_id);
CREATE INDEX sessions_by_last ON sessions (project_id, last_ns);
CREATE INDEX sessions_by_first ON sessions (project_id, first_ns);
CREATE INDEX sessions_by_cost ON sessions (project_id, ifnull(total_cost_usd, -1.0));
CREATE INDEX sessions_by_tokens ON sessions (project_id, total_tokens);
CREATE INDEX sessions_by_duration ON sessions (project_id, duration_ns);
CREATE INDEX sessions_by_turns ON sessions (project_id, turn_count);
CREATE INDEX sessions_by_errors ON sessions (project_id, error_count);
CREATE INDEX sessions_by_user ON sessions (project_id, user_id, last_ns);

CREATE TABLE session_models (
    model       TEXT NOT NULL,
    session_pk  INTEGER NOT NULL,
    PRIMARY KEY (model, session_pk)
) WITHOUT ROWID;
CREATE INDEX session_models_by_session ON session_models (session_pk);

CREATE TABLE turns (
    session_pk          INTEGER NOT NULL,
    conversation_id     TEXT NOT NULL,
    turn_key            TEXT NOT NULL,       -- "n:<explicit number>" or "t:<trace id hex>"
    turn_number         INTEGER NOT NULL,
    trace_ids           TEXT NOT NULL,       -- JSON array of hex ids
    start_ns            INTEGER NOT NULL,
    end_ns              INTEGER NOT NULL,
    span_count          INTEGER NOT NULL,
    llm_call_count      INTEGER NOT NULL,
    tool_call_count     INTEGER NOT NULL,
    agent_run_count     INTEGER NOT NULL,
    input_tokens        INTEGER NOT NULL,
    output_tokens       INTEGER NOT NULL,
    total_cost_usd      REAL,
    cost_source         TEXT,
    error               INTEGER NOT NULL,
    error_message       TEXT,
    tool_error          INTEGER NOT NULL,
    input_trace_id      BLOB,                -- which trace's text is the turn's input / output
    output_trace_id     BLOB,
    context_tokens      INTEGER,
    attributes          TEXT NOT NULL,       -- JSON: seed vocabulary seen on the turn
    PRIMARY KEY (session_pk, conversation_id, turn_key)
) WITHOUT ROWID;
CREATE INDEX turns_by_number ON turns (session_pk, turn_number);

CREATE TABLE users (
    project_id          INTEGER NOT NULL,
    user_id             TEXT NOT NULL,
    session_count       INTEGER NOT NULL,
    turn_count          INTEGER NOT NULL,
    trace_count         INTEGER NOT NULL,
    error_count         INTEGER NOT NULL,
    input_tokens        INTEGER NOT NULL,
    output_tokens       INTEGER NOT NULL,
    total_cost_usd      REAL,
    first_ns            INTEGER NOT NULL,
    last_ns             INTEGER NOT NULL,
    PRIMARY KEY (project_id, user_id)
) WITHOUT ROWID;

-- GenAI log records (prompt/answer events some instrumentations send through /v1/logs).
CREATE TABLE span_log_events (
    project_id  INTEGER NOT NULL,
    trace_id    BLOB NOT NULL,
    span_id     BLOB NOT NULL,
    time_ns     INTEGER NOT NULL,
    name        TEXT NOT NULL,
    attributes  BLOB NOT NULL
);
CREATE UNIQUE INDEX span_log_events_by_span ON span_log_events (project_id, trace_id, span_id, time_ns, name);
