-- Version 2: lifecycle, last agent action, drop-off, journeys, context window and user orderings.
-- Status and drop-off depend on the clock, so they are derived at read time from these columns
-- (last_ns is indexed): explicit ends, the last turn's action, conversion and client-sent drop-off.

ALTER TABLE projects ADD COLUMN idle_timeout_ms INTEGER;    -- the project's idle timeout, as last served

ALTER TABLE sessions ADD COLUMN end_reason TEXT;              -- explicit end (session.end_reason), if still ended
ALTER TABLE sessions ADD COLUMN ended_ns INTEGER;             -- when that explicit end happened
ALTER TABLE sessions ADD COLUMN reopened_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN last_turn_number INTEGER;
ALTER TABLE sessions ADD COLUMN last_turn_end_ns INTEGER;
ALTER TABLE sessions ADD COLUMN last_action TEXT;             -- answered / asked_question / error / tool_failure
ALTER TABLE sessions ADD COLUMN last_intent TEXT;             -- turn.input_type of the last turn
ALTER TABLE sessions ADD COLUMN converted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN client_dropoff TEXT;          -- JSON of dropoff.* when the client detected it
ALTER TABLE sessions ADD COLUMN journeys TEXT NOT NULL DEFAULT '[]';
ALTER TABLE sessions ADD COLUMN max_context_pct REAL;
ALTER TABLE sessions ADD COLUMN turn_latencies BLOB;         -- every turn's latency, packed int64 ns (analytics)

CREATE INDEX sessions_open ON sessions (project_id, last_ns) WHERE end_reason IS NULL;

-- Analytics reads every session of a window: a covering index keeps that scan off the wide rows.
-- It starts with (project_id, last_ns), so it also serves what sessions_by_last did.
DROP INDEX sessions_by_last;
CREATE INDEX sessions_analytics ON sessions (
    project_id, last_ns, first_ns, duration_ns, turn_count, total_cost_usd, error_count, end_reason, last_action,
    converted, last_turn_number, client_dropoff, turn_latencies
);

ALTER TABLE turns ADD COLUMN model TEXT;                      -- the model of the turn's last LLM call
ALTER TABLE turns ADD COLUMN last_action TEXT;


CREATE TABLE session_journeys (
    session_pk          INTEGER NOT NULL,
    name                TEXT NOT NULL,
    highest_stage       INTEGER,
    total_stages        INTEGER,
    stages              TEXT NOT NULL,       -- JSON: [{"stage", "stage_number", "turn", "time"}...]
    converted           INTEGER NOT NULL,
    conversion_turn     INTEGER,
    conversion_time_ms  REAL,
    PRIMARY KEY (session_pk, name)
) WITHOUT ROWID;
CREATE INDEX session_journeys_by_name ON session_journeys (name);

CREATE INDEX users_by_last ON users (project_id, last_ns);
CREATE INDEX users_by_first ON users (project_id, first_ns);
CREATE INDEX users_by_sessions ON users (project_id, session_count);
CREATE INDEX users_by_turns ON users (project_id, turn_count);
CREATE INDEX users_by_cost ON users (project_id, ifnull(total_cost_usd, -1.0));
