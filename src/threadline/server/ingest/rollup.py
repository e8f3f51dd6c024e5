"""Incremental rollups: spans → trace aggregates → turns → sessions. Pure, no I/O.

A ``TraceAgg`` is the unit of accumulation (one per trace; spans add into it in any order). A turn is
the fold of the traces that share a turn key (an explicit turn number, or the trace itself); a
session is the fold of its turns. Folding from trace aggregates keeps rollups exact whatever the
arrival order: a late span changes one trace aggregate, and its turn and session are folded again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from threadline import semconv as sc
from threadline.server.ingest.normalize import as_int, resolve_texts
from threadline.server.ingest.records import RawSpan, SpanFacts

SUMMARY_TEXT_LIMIT = 500
"""Characters of first input / last output kept on the session row (for lists and search)."""

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
    input_text: str | None = None
    input_rank: tuple[int, int, str] = _NO_RANK
    output_text: str | None = None
    output_rank: tuple[int, int, str] = _NO_RANK
    last_llm_input_tokens: int | None = None
    last_llm_end_ns: int = 0
    last_llm_span: str = ""
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
    return f"n:{agg.turn_number}" if agg.turn_number is not None else f"t:{agg.trace_id.hex()}"


@dataclass(slots=True)
class TurnRollup:
    """One turn: the fold of the traces that share its conversation and turn key."""

    conversation_id: str
    key: str
    number: int
    trace_ids: list[bytes]
    start_ns: int
    end_ns: int
    user_id: str | None
    span_count: int
    llm_call_count: int
    tool_call_count: int
    agent_run_count: int
    error_span_count: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    cost_usd: float
    priced_given: int
    priced_computed: int
    unpriced_calls: int
    error: bool
    error_message: str | None
    tool_error: bool
    input_trace_id: bytes | None
    input_text: str | None
    output_trace_id: bytes | None
    output_text: str | None
    context_tokens: int | None
    models: list[str]
    attributes: dict[str, Any]

    @property
    def explicit_number(self) -> bool:
        return self.key.startswith("n:")

    @property
    def latency_ms(self) -> float:
        return max(self.end_ns - self.start_ns, 0) / 1e6

    @property
    def total_cost_usd(self) -> float | None:
        return self.cost_usd if self.priced_given or self.priced_computed else None

    @property
    def cost_source(self) -> str | None:
        return cost_source(self.priced_given, self.priced_computed)


def cost_source(given: int, computed: int) -> str | None:
    if given and computed:
        return "mixed"
    if given:
        return "given"
    return "computed" if computed else None


SUMMED = (
    "span_count",
    "llm_call_count",
    "tool_call_count",
    "agent_run_count",
    "error_span_count",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cost_usd",
    "priced_given",
    "priced_computed",
    "unpriced_calls",
)
"""Counters that traces, turns and sessions share and that add up."""


def _sums(items: Sequence[TraceAgg] | Sequence[TurnRollup]) -> dict[str, Any]:
    totals = {name: getattr(items[0], name) for name in SUMMED}
    for item in items[1:]:
        for name in SUMMED:
            totals[name] += getattr(item, name)
    return totals


def fold_turn(conversation_id: str, key: str, traces: list[TraceAgg], events: Sequence[TraceAgg] = ()) -> TurnRollup:
    """One turn from the traces that make it up, plus the attributes of session events naming it.

    Numbered later, by ``SessionState``.
    """
    ordered = traces if len(traces) == 1 else sorted(traces, key=lambda t: (t.start_ns, t.trace_id))
    best_in = min(ordered, key=lambda t: t.input_rank)
    best_out = min(ordered, key=lambda t: t.output_rank)
    errored = next((t for t in ordered if t.error), None)
    seed: dict[str, Any] = {}
    models: list[str] = []
    for trace in ordered:
        seed.update(trace.seed)
        models.extend(m for m in trace.models if m not in models)
    for event in sorted(events, key=lambda t: t.start_ns):
        seed.update(event.seed)
    last_llm = max(ordered, key=lambda t: (t.last_llm_end_ns, t.last_llm_span))
    context = as_int(seed.get(sc.CONVERSATION_CONTEXT_TOKENS))
    if context is None:
        context = as_int(seed.get(sc.CONTEXT_CURRENT_TOKENS))
    if context is None:
        context = last_llm.last_llm_input_tokens
    return TurnRollup(
        conversation_id=conversation_id,
        key=key,
        number=ordered[0].turn_number or 0,
        trace_ids=[t.trace_id for t in ordered],
        start_ns=min(t.start_ns for t in ordered),
        end_ns=max(t.end_ns for t in ordered),
        user_id=next((t.user_id for t in ordered if t.user_id), None),
        **_sums(ordered),
        error=errored is not None,
        error_message=errored.error_message if errored is not None else None,
        tool_error=any(t.tool_error for t in ordered),
        input_trace_id=best_in.trace_id if best_in.input_text else None,
        input_text=best_in.input_text,
        output_trace_id=best_out.trace_id if best_out.output_text else None,
        output_text=best_out.output_text,
        context_tokens=context,
        models=models,
        attributes=seed,
    )


@dataclass(slots=True)
class SessionRollup:
    """What the sessions row holds (everything but lifecycle, which is derived at read time)."""

    user_id: str | None
    first_ns: int
    last_ns: int
    turn_count: int
    trace_count: int
    span_count: int
    llm_call_count: int
    tool_call_count: int
    error_count: int
    errored_turn_count: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    cost_usd: float | None
    cost_source: str | None
    unpriced_calls: int
    first_input: str | None
    last_output: str | None
    models: list[str]
    attributes: dict[str, Any]

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def duration_ns(self) -> int:
        return max(self.last_ns - self.first_ns, 0)


def fold_session(turns: list[TurnRollup], events: Sequence[TraceAgg]) -> SessionRollup:
    """One session from its turns (ordered by start time) and its session events."""
    models: list[str] = []
    attributes: dict[str, Any] = {}
    first_ns, last_ns = turns[0].start_ns, turns[0].end_ns
    user_id = None
    errored = 0
    for turn in turns:
        if turn.models:
            models.extend(m for m in turn.models if m not in models)
        if turn.attributes:
            attributes.update({k: v for k, v in turn.attributes.items() if k.startswith(_SESSION_SEED)})
        first_ns = min(first_ns, turn.start_ns)
        last_ns = max(last_ns, turn.end_ns)
        user_id = user_id or turn.user_id
        errored += turn.error
    for event in sorted(events, key=lambda t: t.start_ns):
        attributes.update({k: v for k, v in event.seed.items() if k.startswith(_SESSION_SEED)})
        first_ns = min(first_ns, event.start_ns)
        last_ns = max(last_ns, event.end_ns)
        user_id = user_id or event.user_id
    sums = _sums(turns)
    first_turn = min(turns, key=lambda t: (t.number, t.start_ns))
    priced = sums["priced_given"] or sums["priced_computed"]
    return SessionRollup(
        user_id=user_id,
        first_ns=first_ns,
        last_ns=last_ns,
        turn_count=len(turns),
        trace_count=sum(len(t.trace_ids) for t in turns) + len(events),
        span_count=sums["span_count"] + sum(e.span_count for e in events),
        llm_call_count=sums["llm_call_count"],
        tool_call_count=sums["tool_call_count"],
        error_count=sums["error_span_count"],
        errored_turn_count=errored,
        input_tokens=sums["input_tokens"],
        output_tokens=sums["output_tokens"],
        cache_read_tokens=sums["cache_read_tokens"],
        cache_write_tokens=sums["cache_write_tokens"],
        reasoning_tokens=sums["reasoning_tokens"],
        cost_usd=sums["cost_usd"] if priced else None,
        cost_source=cost_source(sums["priced_given"], sums["priced_computed"]),
        unpriced_calls=sums["unpriced_calls"],
        first_input=_summary(first_turn.input_text),
        last_output=_summary(turns[-1].output_text),
        models=models,
        attributes=attributes,
    )


_SESSION_SEED = ("session.", "user.")

TurnId = tuple[str, str]
"""(conversation id, turn key)"""


class SessionState:
    """A session's traces and turns, kept folded as traces change.

    ``update(trace)`` after a trace aggregate changed; ``refresh()`` refolds only the turns whose
    traces changed, renumbers their conversations and returns what to write.
    """

    def __init__(self, pk: int, session_id: str, traces: Iterable[TraceAgg] = ()) -> None:
        self.pk = pk
        self.session_id = session_id
        self.traces: dict[bytes, TraceAgg] = {}
        self._trace_turn: dict[bytes, TurnId] = {}
        self._members: dict[TurnId, dict[bytes, TraceAgg]] = {}
        self.turns: dict[TurnId, TurnRollup] = {}
        self._dirty: set[TurnId] = set()
        self._removed: set[TurnId] = set()
        self.rollup: SessionRollup | None = None
        for trace in traces:
            self.update(trace)

    def turn_id(self, trace: TraceAgg) -> TurnId:
        return (trace.conversation_id or self.session_id, turn_key(trace))

    def update(self, trace: TraceAgg) -> None:
        """Record that ``trace`` is new or changed."""
        self.traces[trace.trace_id] = trace
        new_id = self.turn_id(trace)
        old_id = self._trace_turn.get(trace.trace_id)
        if old_id is not None and old_id != new_id:
            old_members = self._members[old_id]
            del old_members[trace.trace_id]
            self._dirty.add(old_id)
        self._trace_turn[trace.trace_id] = new_id
        self._members.setdefault(new_id, {})[trace.trace_id] = trace
        self._dirty.add(new_id)

    def refresh(self) -> tuple[list[TurnRollup], list[TurnId]]:
        """Refold changed turns; returns (turns to write, turn ids to delete)."""
        removed: list[TurnId] = []
        touched_conversations: set[str] = set()
        for turn_id in self._dirty:
            members = list(self._members.get(turn_id, {}).values())
            touched_conversations.add(turn_id[0])
            traces = [t for t in members if not t.is_event]
            if not traces:  # no trace left, or only session events: not a turn
                if not members:
                    self._members.pop(turn_id, None)
                if self.turns.pop(turn_id, None) is not None:
                    removed.append(turn_id)
                continue
            events = [t for t in members if t.is_event]
            self.turns[turn_id] = fold_turn(turn_id[0], turn_id[1], traces, events)
        changed = set(self._dirty) - set(removed)
        self._dirty.clear()
        changed |= self._renumber(touched_conversations)
        ordered = sorted(self.turns.values(), key=lambda t: (t.start_ns, t.number))
        events = [t for t in self.traces.values() if t.is_event]
        self.rollup = fold_session(ordered, events) if ordered else None
        return [self.turns[t] for t in changed if t in self.turns], removed

    def _renumber(self, conversations: set[str]) -> set[TurnId]:
        """Derived turn numbers: 1-based start-time order per conversation. Returns renumbered ids."""
        changed: set[TurnId] = set()
        for conversation in conversations:
            ids = sorted(
                (tid for tid in self.turns if tid[0] == conversation),
                key=lambda tid: (self.turns[tid].start_ns, tid[1]),
            )
            for position, tid in enumerate(ids, start=1):
                turn = self.turns[tid]
                number = turn.number if turn.explicit_number else position
                if turn.number != number:
                    turn.number = number
                    changed.add(tid)
        return changed


def _summary(value: str | None) -> str | None:
    if value is None or len(value) <= SUMMARY_TEXT_LIMIT:
        return value
    return value[: SUMMARY_TEXT_LIMIT - 1] + "…"
