"""Attribute names shared by the SDK (which writes them) and the server (which reads them).

The seed vocabulary below is what Threadline's own SDK emits. The ``*_KEYS`` tuples list, in order of
precedence, every spelling the server accepts for a concept from other instrumentation libraries
(OpenInference, OpenLLMetry / traceloop, the OTel GenAI conventions, Langfuse, Logfire, Vercel AI SDK,
PostHog). The first key present wins.
"""

from __future__ import annotations

from typing import Final

# --- seed vocabulary: session -------------------------------------------------------------------
THREADLINE_SESSION_ID: Final = "threadline.session.id"
SESSION_ID: Final = "session.id"
SESSION_TYPE: Final = "session.type"
SESSION_CHANNEL: Final = "session.channel"
SESSION_CLIENT_VERSION: Final = "session.client_version"
SESSION_LOCALE: Final = "session.locale"
SESSION_START_TIME: Final = "session.start_time"
SESSION_END_TIME: Final = "session.end_time"
SESSION_END_REASON: Final = "session.end_reason"
SESSION_INACTIVE_TIMEOUT: Final = "session.inactive_timeout"
SESSION_IDLE_TIME_MS: Final = "session.idle_time_ms"
SESSION_USER_SATISFACTION: Final = "session.user_satisfaction"

# --- user ---------------------------------------------------------------------------------------
USER_ID: Final = "user.id"
USER_TIER: Final = "user.tier"
USER_ORG_ID: Final = "user.org_id"

# --- conversation -------------------------------------------------------------------------------
CONVERSATION_ID: Final = "conversation.id"
CONVERSATION_SESSION_ID: Final = "conversation.session_id"
CONVERSATION_TOPIC: Final = "conversation.topic"
CONVERSATION_TURN_NUMBER: Final = "conversation.turn_number"
CONVERSATION_TOTAL_TURNS: Final = "conversation.total_turns"
CONVERSATION_MESSAGES_IN_CONTEXT: Final = "conversation.messages_in_context"
CONVERSATION_CONTEXT_TOKENS: Final = "conversation.context_tokens"
CONVERSATION_CONTEXT_WINDOW_PCT: Final = "conversation.context_window_pct"

# --- turn ---------------------------------------------------------------------------------------
TURN_ID: Final = "turn.id"
TURN_NUMBER: Final = "turn.number"
TURN_ROLE: Final = "turn.role"
TURN_INPUT_LENGTH: Final = "turn.input_length"
TURN_INPUT_TYPE: Final = "turn.input_type"
TURN_HAS_ATTACHMENTS: Final = "turn.has_attachments"
TURN_OUTPUT_LENGTH: Final = "turn.output_length"
TURN_OUTPUT_TYPE: Final = "turn.output_type"
TURN_AGENT_RUNS: Final = "turn.agent_runs"
TURN_TOOL_CALLS: Final = "turn.tool_calls"
TURN_LATENCY_MS: Final = "turn.latency_ms"
TURN_FEEDBACK: Final = "turn.feedback"

# --- context window -----------------------------------------------------------------------------
CONTEXT_CURRENT_TOKENS: Final = "context.current_tokens"
CONTEXT_NEW_TOKENS: Final = "context.new_tokens"
CONTEXT_LIMIT: Final = "context.limit"
CONTEXT_PRUNED: Final = "context.pruned"
CONTEXT_MESSAGES_PRUNED: Final = "context.messages_pruned"

# --- journey ------------------------------------------------------------------------------------
JOURNEY_NAME: Final = "journey.name"
JOURNEY_STAGE: Final = "journey.stage"
JOURNEY_STAGE_NUMBER: Final = "journey.stage_number"
JOURNEY_TOTAL_STAGES: Final = "journey.total_stages"
JOURNEY_TIME_IN_STAGE_MS: Final = "journey.time_in_stage_ms"
JOURNEY_CONVERTED: Final = "journey.converted"
JOURNEY_CONVERSION_TURN: Final = "journey.conversion_turn"
JOURNEY_CONVERSION_TIME_MS: Final = "journey.conversion_time_ms"

# --- drop-off -----------------------------------------------------------------------------------
DROPOFF_DETECTED: Final = "dropoff.detected"
DROPOFF_LAST_TURN: Final = "dropoff.last_turn"
DROPOFF_LAST_INTENT: Final = "dropoff.last_intent"
DROPOFF_AGENT_LAST_ACTION: Final = "dropoff.agent_last_action"
DROPOFF_TIME_SINCE_LAST_TURN_MS: Final = "dropoff.time_since_last_turn_ms"

# --- Threadline-specific ------------------------------------------------------------------------
THREADLINE_COST_USD: Final = "threadline.cost.usd"
THREADLINE_SPAN_KIND: Final = "threadline.span.kind"
"""Category the SDK assigns to its spans: ``turn``, ``agent``, ``llm``, ``tool``, ``session_event``."""
SPAN_KIND_TURN: Final = "turn"
SPAN_KIND_AGENT: Final = "agent"
SPAN_KIND_LLM: Final = "llm"
SPAN_KIND_TOOL: Final = "tool"
SPAN_KIND_SPAN: Final = "span"
"""A plain step (``@observe(kind="span")``): the server files it under ``other``."""
SESSION_EVENT: Final = "session_event"
"""A root span that records something about a session (its end, feedback after a turn, a journey stage
outside a turn) without being a turn."""
THREADLINE_TURN_TIMED_OUT: Final = "threadline.turn.timed_out"
"""``true`` on a turn the SDK ended because it was not ended within its timeout."""
TURN_METADATA_PREFIX: Final = "turn.metadata."
"""``turn.set_metadata(key, value)`` writes ``turn.metadata.<key>``."""
TURN_TAG_PREFIX: Final = "turn.tag."
"""``turn.set_tag(key, value)`` writes ``turn.tag.<key>``."""
TURN_FEEDBACK_COMMENT: Final = "turn.feedback_comment"
"""Free text given with ``turn.feedback`` (content: only sent when content capture is on)."""

# --- OTel GenAI conventions used by the SDK -----------------------------------------------------
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_SYSTEM: Final = "gen_ai.system"
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: Final = "gen_ai.usage.cache_creation.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
GEN_AI_SYSTEM_INSTRUCTIONS: Final = "gen_ai.system_instructions"
GEN_AI_TOOL_NAME: Final = "gen_ai.tool.name"
GEN_AI_TOOL_CALL_ID: Final = "gen_ai.tool.call.id"
GEN_AI_TOOL_CALL_ARGUMENTS: Final = "gen_ai.tool.call.arguments"
GEN_AI_TOOL_CALL_RESULT: Final = "gen_ai.tool.call.result"
GEN_AI_AGENT_NAME: Final = "gen_ai.agent.name"
GEN_AI_CONVERSATION_ID: Final = "gen_ai.conversation.id"
INPUT_VALUE: Final = "input.value"
OUTPUT_VALUE: Final = "output.value"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
ERROR_TYPE: Final = "error.type"

# --- content: prompt and answer text, withheld when content capture is off ------------------------
# One list for every convention: the SDK withholds these keys when content capture is off, and the server
# applies a project's content policy to them (docs/conventions.md, "Privacy at ingest").
CONTENT_KEYS: Final = frozenset(
    {
        INPUT_VALUE,
        OUTPUT_VALUE,
        GEN_AI_INPUT_MESSAGES,
        GEN_AI_OUTPUT_MESSAGES,
        GEN_AI_SYSTEM_INSTRUCTIONS,
        GEN_AI_TOOL_CALL_ARGUMENTS,
        GEN_AI_TOOL_CALL_RESULT,
        TURN_FEEDBACK_COMMENT,
        "gen_ai.prompt",
        "gen_ai.completion",
        "traceloop.entity.input",
        "traceloop.entity.output",
        "langfuse.observation.input",
        "langfuse.observation.output",
        "langfuse.trace.input",
        "langfuse.trace.output",
        "tool.result",
        "tool.parameters",  # OpenInference: a tool call's arguments for some clients, its schema for others
        "llm.prompts",
        "llm.prompt_template.variables",
        "reranker.query",
        # Vercel AI SDK
        "ai.prompt",
        "ai.prompt.messages",
        "ai.response.text",
        "ai.response.object",
        "ai.response.toolCalls",
        "ai.response.reasoning",
        "ai.toolCall.args",
        "ai.toolCall.result",
        "ai.value",
        "ai.values",
        # PostHog
        "$ai_input",
        "$ai_output_choices",
        # Logfire
        "request_data",
        "response_data",
        "events",
        "all_messages_events",
    }
)
CONTENT_KEY_PREFIXES: Final = (
    "llm.input_messages.",
    "llm.output_messages.",
    "llm.prompts.",
    "gen_ai.prompt.",
    "gen_ai.completion.",
    "input.",
    "output.",
    "retrieval.documents.",
    "reranker.input_documents.",
    "reranker.output_documents.",
    "embedding.embeddings.",
)
"""Prefixes of flattened content keys (OpenInference ``llm.input_messages.{i}...``, OpenLLMetry
``gen_ai.prompt.{i}...``). ``input.`` / ``output.`` also cover ``input.mime_type``, which is harmless."""
CONTENT_DESCRIPTOR_SUFFIXES: Final = (".role", ".mime_type")
"""Keys under the content prefixes that describe a message instead of holding its text (``...message.role``,
``input.mime_type``): the server's content policy keeps them, so a user message still reads as one."""
CONTENT_EVENT_NAMES: Final = frozenset(
    {
        "gen_ai.client.inference.operation.details",
        "gen_ai.user.message",
        "gen_ai.system.message",
        "gen_ai.assistant.message",
        "gen_ai.tool.message",
        "gen_ai.choice",
        "gen_ai.content.prompt",
        "gen_ai.content.completion",
    }
)
CONTENT_EVENT_KEYS: Final = frozenset({"content", "message", "tool_calls"})
"""Keys that hold text on GenAI events (span events and log records named ``gen_ai.*``; a log record's body
is merged into its attributes), besides ``CONTENT_KEYS``."""


# --- what the server accepts, in order of precedence (docs/conventions.md "Concepts") ---------------------
SESSION_ID_KEYS: Final = (
    THREADLINE_SESSION_ID,
    SESSION_ID,
    "langfuse.session.id",
    GEN_AI_CONVERSATION_ID,
    "ag.session.id",
    "traceloop.association.properties.session_id",
    CONVERSATION_SESSION_ID,
    "session_id",
    "langfuse.trace.metadata.langfuse_session_id",
    "langfuse.observation.metadata.langfuse_session_id",
    "ai.telemetry.metadata.sessionId",
    "$ai_session_id",
)
RESOURCE_SESSION_ID_KEYS: Final = (SESSION_ID,)

USER_ID_KEYS: Final = (
    USER_ID,
    "langfuse.user.id",
    "enduser.id",
    "traceloop.association.properties.user_id",
    "user_id",
    "langfuse.trace.metadata.langfuse_user_id",
    "ai.telemetry.metadata.userId",
)

CONVERSATION_ID_KEYS: Final = (CONVERSATION_ID, GEN_AI_CONVERSATION_ID)
TURN_NUMBER_KEYS: Final = (CONVERSATION_TURN_NUMBER, TURN_NUMBER)

RESPONSE_MODEL_KEYS: Final = ("gen_ai.response.model", "llm.response.model_name")
REQUEST_MODEL_KEYS: Final = (
    "gen_ai.request.model",
    "llm.model_name",
    "llm.request.model_name",
    "langfuse.observation.model.name",
    "embedding.model_name",
    "ai.model.id",
    "model",
)
PROVIDER_KEYS: Final = ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system")

INPUT_TOKEN_KEYS: Final = (
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",
    "llm.token_count.prompt",
    "llm.usage.prompt_tokens",
)
OUTPUT_TOKEN_KEYS: Final = (
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
    "llm.token_count.completion",
    "llm.usage.completion_tokens",
)
CACHE_READ_TOKEN_KEYS: Final = (
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_read_input_tokens",
    "llm.token_count.prompt_details.cache_read",
)
CACHE_WRITE_TOKEN_KEYS: Final = (
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
    "llm.token_count.prompt_details.cache_write",
)
REASONING_TOKEN_KEYS: Final = (
    "gen_ai.usage.reasoning.output_tokens",
    "gen_ai.usage.reasoning_tokens",
    "llm.token_count.completion_details.reasoning",
)
LANGFUSE_USAGE_DETAILS: Final = "langfuse.observation.usage_details"
LANGFUSE_COST_DETAILS: Final = "langfuse.observation.cost_details"
COST_KEYS: Final = (
    THREADLINE_COST_USD,
    "llm.cost.total",
    LANGFUSE_COST_DETAILS,
    "gen_ai.usage.cost",
    "operation.cost",
)

TOOL_NAME_KEYS: Final = (GEN_AI_TOOL_NAME, "tool.name", "traceloop.entity.name")
