"""A trace's aggregate: what its spans, folded in any order, contribute to its turn and session. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from threadline import semconv as sc
from threadline.server.ingest.normalize import resolve_texts
from threadline.server.ingest.records import RawSpan, SpanFacts

_NO_RANK: tuple[int, int, str] = (99, 0, "")
_TEXT_RANKS = {"agent": 1, "llm": 2, "other": 3}
"""Where a turn's input and output come from: the root span first, then agents, LLM calls, others."""
_STRUCTURED_PENALTY = 10
"""A JSON object or array (a function's return value, say) loses to any plain-text candidate."""


@dataclass(slots=True)
class TraceAgg:
    """Everything one trace contributes to its turn and session."""

    trace_id: bytes
    pk: int = 0
    """The store's key for this trace (handed out in arrival order)."""
    start_ns: int = 0
    end_ns: int = 0
    span_count: int = 0
    has_root: bool = False
    is_event: bool = False
    root_name: str | None = None
    user_id: str | None = None
    conversation_id: str | None = None
    turn_number: int | None = None
    turn_id: str | None = None
    """The root span's ``turn.id``."""
    marked_turn: bool = False
    """The root span says it is a turn: the SDK's turn span (``threadline.span.kind = turn``) or a ``turn.id``."""
    root_input: bool = False
    """The root span carries the user's input."""
    llm_call_count: int = 0
    tool_call_count: int = 0
    agent_run_count: int = 0
    error_span_count: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0
    priced_given: int = 0
    priced_computed: int = 0
    unpriced_calls: int = 0
    error: bool = False
    error_message: str | None = None
    error_ns: int = 0
    error_span: str = ""
    tool_error: bool = False
    tool_error_message: str | None = None
    """The first failed tool call's message (by start time, then span id)."""
    tool_error_at: tuple[int, str] = (0, "")
    input_text: str | None = None
    input_rank: tuple[int, int, str] = _NO_RANK
    output_text: str | None = None
    output_rank: tuple[int, int, str] = _NO_RANK
    last_llm_input_tokens: int | None = None
    last_llm_end_ns: int = 0
    last_llm_span: str = ""
    last_llm_model: str | None = None
    models: list[str] = field(default_factory=list)
    """Models called, in the order of their first call (ties by name)."""
    model_starts: list[int] = field(default_factory=list)
    """When each of ``models`` was first called."""
    seed: dict[str, Any] = field(default_factory=dict)

    def add(self, span: RawSpan, facts: SpanFacts) -> None:
        """Fold one span into the aggregate (order-independent)."""
        is_root = span.parent_span_id is None
        self._add_extent(span)
        if is_root:
            self.has_root = True
            self.root_name = span.name
            self.is_event = facts.is_event
            self._add_root_marks(span, facts)
        self._add_identity(facts, is_root)
        self._add_usage(span, facts)
        self._add_error(span, facts)
        self._add_text(span, facts, is_root)
        if is_root:
            self.seed.update(facts.seed)
        else:
            for key, value in facts.seed.items():
                self.seed.setdefault(key, value)

    def _add_extent(self, span: RawSpan) -> None:
        self.span_count += 1
        if span.start_ns and (not self.start_ns or span.start_ns < self.start_ns):
            self.start_ns = span.start_ns
        end = max(span.end_ns, span.start_ns)
        if end > self.end_ns:
            self.end_ns = end

    def _add_root_marks(self, span: RawSpan, facts: SpanFacts) -> None:
        """What the root says about opening a turn (``rollup.split_turn``); several roots: any of them."""
        resolve_texts(span, facts)
        turn_id = facts.seed.get(sc.TURN_ID)
        if turn_id not in (None, "") and (self.turn_id is None or str(turn_id) < self.turn_id):
            self.turn_id = str(turn_id)
        kind = span.attributes.get(sc.THREADLINE_SPAN_KIND)
        self.marked_turn = self.marked_turn or kind == sc.SPAN_KIND_TURN or self.turn_id is not None
        self.root_input = self.root_input or bool(facts.input_text)

    @property
    def opens_turn(self) -> bool:
        """The root is present and marked as a turn, or carries the user's input (session events never)."""
        return not self.is_event and (self.marked_turn or self.root_input)

    def _add_identity(self, facts: SpanFacts, is_root: bool) -> None:
        if facts.user_id and (is_root or self.user_id is None):
            self.user_id = facts.user_id
        if facts.conversation_id and (is_root or self.conversation_id is None):
            self.conversation_id = facts.conversation_id
        if facts.turn_number is not None and (is_root or self.turn_number is None):
            self.turn_number = facts.turn_number

    def _add_usage(self, span: RawSpan, facts: SpanFacts) -> None:
        category = facts.category
        if category == "tool" and not facts.is_log:
            self.tool_call_count += 1
            return
        if category == "agent" and not facts.is_log:
            self.agent_run_count += 1
            return
        is_call = category == "llm" and not facts.is_log
        if not is_call and facts.input_tokens is None and facts.output_tokens is None:
            return
        # A log-type span's usage belongs to the call it reports on: counted once, not as a call.
        if is_call:
            self.llm_call_count += 1
            if facts.model:
                self._add_model(facts.model, span.start_ns)
            if facts.input_tokens is not None:
                latest = (span.end_ns, span.span_id.hex())
                if latest > (self.last_llm_end_ns, self.last_llm_span):
                    self.last_llm_input_tokens = facts.input_tokens
                    self.last_llm_model = facts.model
                    self.last_llm_end_ns, self.last_llm_span = latest
        self.input_tokens += facts.input_tokens or 0
        self.output_tokens += facts.output_tokens or 0
        self.cache_read_tokens += facts.cache_read_tokens or 0
        self.cache_write_tokens += facts.cache_write_tokens or 0
        self.reasoning_tokens += facts.reasoning_tokens or 0
        if facts.cost_usd is not None:
            self.cost_usd += facts.cost_usd
            if facts.cost_source == "given":
                self.priced_given += 1
            else:
                self.priced_computed += 1
        elif is_call and (facts.input_tokens is not None or facts.output_tokens is not None):
            self.unpriced_calls += 1  # reported usage, but the model is not in the price data

    def _add_model(self, model: str, start_ns: int) -> None:
        models, starts = self.models, self.model_starts
        if model in models:
            index = models.index(model)
            if start_ns >= starts[index]:
                return
            del models[index], starts[index]
        position = 0
        while position < len(models) and (starts[position], models[position]) <= (start_ns, model):
            position += 1
        models.insert(position, model)
        starts.insert(position, start_ns)

    def _add_error(self, span: RawSpan, facts: SpanFacts) -> None:
        if not facts.error:
            return
        self.error_span_count += 1
        if facts.category == "tool":
            at = (span.start_ns, span.span_id.hex())
            if not self.tool_error or at < self.tool_error_at:
                self.tool_error_message = facts.error_message
                self.tool_error_at = at
            self.tool_error = True
            return
        if not self.error or (span.start_ns, span.span_id.hex()) < (self.error_ns, self.error_span):
            self.error_message = facts.error_message
            self.error_ns = span.start_ns
            self.error_span = span.span_id.hex()
        self.error = True

    def _add_text(self, span: RawSpan, facts: SpanFacts, is_root: bool) -> None:
        if facts.category in ("tool", "retrieval") and not is_root:
            return
        rank = 0 if is_root else _TEXT_RANKS.get(facts.category, 3)
        if facts.texts_pending:
            # Resolving text is costly: only when this span could still beat the current candidates.
            span_hex = span.span_id.hex()
            end = -max(span.end_ns, span.start_ns)
            if (rank, span.start_ns, span_hex) < self.input_rank or (rank, end, span_hex) < self.output_rank:
                resolve_texts(span, facts)
            else:
                return
        value = facts.input_text
        if value:
            candidate = (rank + _structured(value), span.start_ns, span.span_id.hex())
            if candidate < self.input_rank:
                self.input_text, self.input_rank = value, candidate
        value = facts.output_text
        if value:
            candidate = (rank + _structured(value), -max(span.end_ns, span.start_ns), span.span_id.hex())
            if candidate < self.output_rank:
                self.output_text, self.output_rank = value, candidate


def _structured(value: str) -> int:
    return _STRUCTURED_PENALTY if value[:1] in ("{", "[") else 0


def turn_key(agg: TraceAgg) -> str:
    """The key of the turn a trace declares: ``n:<declared number>``, else ``t:<trace id>`` (a turn of its
    own). Traces declaring the same number may still form several turns (``rollup.split_turn``)."""
    return f"n:{agg.turn_number}" if agg.turn_number is not None else f"t:{agg.trace_id.hex()}"


COLLISION_MARK = "/"
"""Separates a declared key from the opening it was split by: ``n:<number>/t:<trace id>`` or
``n:<number>/i:<turn.id>``."""


def collided(key: str) -> bool:
    """Whether a turn key comes from a declared number that several turns share."""
    return COLLISION_MARK in key
