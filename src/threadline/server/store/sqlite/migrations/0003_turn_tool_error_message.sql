-- Where a turn's tool call failed, what it said: shown beside the turn.
ALTER TABLE turns ADD COLUMN tool_error_message TEXT;
