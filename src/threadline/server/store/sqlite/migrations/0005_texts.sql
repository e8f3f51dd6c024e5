-- Version 5: long texts stored once per session, values compressed.
-- Rows written before stay as they were and are read as they are (uncompressed JSON, plain texts).

-- A span's long strings (and the long elements of its JSON message arrays) live here, once per scope:
-- the session's pk, or minus the trace's pk for spans stored while their trace had no session. Span
-- bodies and trace folds refer to a text by id; erasing a session or a trace deletes its scope's texts.
CREATE TABLE texts (
    id          INTEGER PRIMARY KEY,
    scope       INTEGER NOT NULL,
    digest      INTEGER NOT NULL,        -- CRC-32 of the text (UTF-8): found by it, then compared whole
    body        BLOB NOT NULL            -- TEXT as is, or BLOB: compressed (compress.py)
);
CREATE INDEX texts_by_scope ON texts (scope, digest);
