-- Version 1. Every table is keyed by project first. "-- shard key:" says how cluster mode spreads a table
-- over shards (store/clickhouse/schema.py); rows that are one key's versions always share a shard.

-- Every span and GenAI log event as received. Only ever added to (but for erasure): a retried copy has the
-- same key and replaces itself; a copy with other contents under the same id is kept apart by its digest.
-- shard key: cityHash64(trace_id)
CREATE TABLE IF NOT EXISTS spans (
    project_id      UInt32,
    trace_id        FixedString(16),
    span_id         FixedString(8),
    item            UInt8,                      -- 0: a span; 1: a GenAI log event sent for span_id
    event_time      Int64,                      -- a log event's time and name (0 and '' for a span)
    event_name      String,
    digest          UInt64,                     -- of the contents
    parent_span_id  Nullable(FixedString(8)),
    name            String,
    kind            UInt8,
    start_ns        Int64,
    end_ns          Int64,
    status_code     UInt8,
    session_id      String,                     -- the session the span names ('' none)
    user_id         String,
    category        LowCardinality(String),
    cost_usd        Nullable(Float64),
    cost_source     LowCardinality(Nullable(String)),
    resource        String CODEC(ZSTD(3)),      -- JSON: the resource's attributes
    body            String CODEC(ZSTD(3)),      -- JSON: attributes, events, links, status message, scope
    facts           String CODEC(ZSTD(3))       -- JSON: what ingest made of the span (SpanFacts)
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(fromUnixTimestamp64Nano(greatest(start_ns, 0)))
ORDER BY (project_id, trace_id, span_id, item, event_time, event_name, digest)
-- small granules: a trace look-up decompresses little besides its own bodies
SETTINGS index_granularity = 1024;

-- A trace's fold, once per session any of its spans names: what a session folds over, read in one
-- look-up by session. `home` is the session the trace belongs to in this fold; the row of a session the
-- trace names but does not belong to carries no fold. Versioned by the span and event copies folded.
-- shard key: cityHash64(session_id)
CREATE TABLE IF NOT EXISTS session_traces (
    project_id      UInt32,
    session_id      String,
    trace_id        FixedString(16),
    version         UInt64,
    home            String,
    fold            String CODEC(ZSTD(3))       -- JSON: the TraceAgg ('' when home is another session)
) ENGINE = ReplacingMergeTree(version)
ORDER BY (project_id, session_id, trace_id)
SETTINGS index_granularity = 256;

-- Each trace's latest fold in brief: its session ('' for an orphan), extent and root, for trace look-ups,
-- orphan lists and retention.
-- shard key: cityHash64(trace_id)
CREATE TABLE IF NOT EXISTS traces (
    project_id      UInt32,
    trace_id        FixedString(16),
    version         UInt64,
    session_id      String,
    start_ns        Int64,
    end_ns          Int64,
    span_count      Int64,
    root_name       Nullable(String),
    user_id         Nullable(String)
) ENGINE = ReplacingMergeTree(version)
ORDER BY (project_id, trace_id);

-- One row per session: the summary columns, its turns and journeys, folded from its traces' folds with the
-- same code as the SQLite engine. Versioned by the span and event copies of every trace that names it, so
-- that a fold that saw more wins; `alive` = 0 when no trace belongs to it any more.
-- shard key: cityHash64(session_id)
CREATE TABLE IF NOT EXISTS sessions (
    project_id          UInt32,
    session_id          String,
    version             UInt64,
    alive               UInt8,
    user_id             Nullable(String),
    first_ns            Int64,
    last_ns             Int64,
    duration_ns         Int64,
    turn_count          Int64,
    trace_count         Int64,
    span_count          Int64,
    llm_call_count      Int64,
    tool_call_count     Int64,
    error_count         Int64,
    errored_turn_count  Int64,
    input_tokens        Int64,
    output_tokens       Int64,
    total_tokens        Int64,
    cache_read_tokens   Int64,
    cache_write_tokens  Int64,
    reasoning_tokens    Int64,
    total_cost_usd      Nullable(Float64),
    cost_source         Nullable(String),
    unpriced_calls      Int64,
    first_input         Nullable(String),
    last_output         Nullable(String),
    models              Array(String),
    attributes          String,                 -- JSON
    end_reason          Nullable(String),
    ended_ns            Nullable(Int64),
    reopened_count      Int64,
    last_turn_number    Nullable(Int64),
    last_turn_end_ns    Nullable(Int64),
    last_action         Nullable(String),
    last_intent         Nullable(String),
    converted           UInt8,
    client_dropoff      Nullable(String),       -- JSON
    journeys            String,                 -- JSON
    max_context_pct     Nullable(Float64),
    turn_latencies      Array(Int64),
    turns               String CODEC(ZSTD(3))   -- JSON: the turns, in time order
) ENGINE = ReplacingMergeTree(version)
ORDER BY (project_id, session_id)
-- small granules: a session's detail decompresses few other sessions' turns
SETTINGS index_granularity = 256;

-- shard key: id
CREATE TABLE IF NOT EXISTS projects (
    id                  UInt32,
    name                String,
    created_ns          Int64,
    content_policy      String,
    content_max_chars   Nullable(Int64),
    redact_secrets      UInt8,
    redact_patterns     Array(String),
    retention_days      Nullable(Int64),
    updated             UInt64
) ENGINE = ReplacingMergeTree(updated)
ORDER BY id;

INSERT INTO projects (id, name, created_ns, content_policy, content_max_chars, redact_secrets, redact_patterns,
                      retention_days, updated)
SELECT 1, 'default', 0, 'full', NULL, 1, [], NULL, 0
WHERE (SELECT count() FROM projects WHERE id = 1) = 0;

-- API keys as created (never changed): what a key grants and the HMAC of its secret.
-- shard key: cityHash64(id)
CREATE TABLE IF NOT EXISTS api_keys (
    id              String,
    project_id      UInt32,
    name            String,
    scope           String,
    secret_hash     String,                     -- hex
    created_ns      Int64
) ENGINE = ReplacingMergeTree
ORDER BY id;

-- Revocations apart from the keys, so that nothing written later (a use) can undo one: the first stands.
-- shard key: cityHash64(id)
CREATE TABLE IF NOT EXISTS api_key_revocations (
    id              String,
    revoked_ns      Int64
) ENGINE = ReplacingMergeTree
ORDER BY (id, revoked_ns);

-- When each key was last used (the latest write wins).
-- shard key: cityHash64(id)
CREATE TABLE IF NOT EXISTS api_key_uses (
    id              String,
    last_used_ns    Int64
) ENGINE = ReplacingMergeTree(last_used_ns)
ORDER BY id;

-- Per project settings the servers share (the idle timeout last served).
-- shard key: project_id
CREATE TABLE IF NOT EXISTS settings (
    project_id      UInt32,
    name            String,
    value           String,
    updated         UInt64
) ENGINE = ReplacingMergeTree(updated)
ORDER BY (project_id, name);
