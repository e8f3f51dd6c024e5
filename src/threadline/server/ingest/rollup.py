"""Turns and sessions as folds of trace aggregates. Pure, no I/O.

A ``TraceAgg`` (``trace_agg.py``) is the unit of accumulation. A turn is the fold of the traces that
share a turn key (a declared turn number, or the trace itself; ``split_turn`` parts traces that declare
the same number but are distinct turns, ``turn_numbers`` numbers them); a session is the fold of its turns,
plus its session events, plus the derived state of docs/concepts.md that does not depend on the clock: reopen
count and explicit end, the last turn's action, journeys, client-sent drop-off, context pressure.
``SessionState`` (``session_state.py``) keeps these folds up to date as traces change.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from threadline import semconv as sc
from threadline.server.ingest.normalize import MAX_TURN_NUMBER, as_count
from threadline.server.ingest.trace_agg import COLLISION_MARK, TraceAgg, collided, turn_key
from threadline.server.intelligence import dropoff, journeys, lifecycle
from threadline.server.intelligence.context import WindowLookup, context_pct

__all__ = [
    "SUMMED",
    "FoldOptions",
    "SessionRollup",
    "TraceAgg",
    "TurnRollup",
    "collided",
    "fold_session",
    "fold_turn",
    "split_turn",
    "turn_key",
    "turn_numbers",
]

INT64_MAX = 2**63 - 1
"""Stored counters saturate here rather than overflow (SQLite would turn them into REALs)."""

SUMMARY_TEXT_LIMIT = 500
"""Characters of first input / last output kept on the session row (for lists and search)."""

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

TurnId = tuple[str, str]
"""(conversation id, turn key)"""


def _no_windows(provider: str | None, model: str | None) -> int | None:
    return None


@dataclass(frozen=True, slots=True)
class FoldOptions:
    """Project settings the session fold depends on."""

    idle_timeout_ns: int = 30 * 60 * 10**9
    windows: WindowLookup = _no_windows
    """The known context window of a model (from the price data)."""
    intelligence: bool = True
    """Fold lifecycle, journeys, drop-off and context pressure (off: rollups only)."""


@dataclass(slots=True)
class TurnRollup:
    """One turn: the fold of the traces that share its conversation and turn key."""

    conversation_id: str
    key: str
    number: int
    declared_number: int | None
    """The number its traces declared (``number`` may differ: see ``turn_numbers``)."""
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
    tool_error_message: str | None
    input_trace_id: bytes | None
    input_text: str | None
    output_trace_id: bytes | None
    output_text: str | None
    context_tokens: int | None
    model: str | None
    """The model of the turn's last LLM call."""
    last_action: str
    """answered / asked_question / error / tool_failure."""
    models: list[str]
    attributes: dict[str, Any]

    @property
    def explicit_number(self) -> bool:
        return self.declared_number is not None

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


def saturate(value: int) -> int:
    """An integer sum as stored: at most ``INT64_MAX``."""
    return value if value <= INT64_MAX else INT64_MAX


_summed = attrgetter(*SUMMED)


def _sums(items: Sequence[TraceAgg] | Sequence[TurnRollup]) -> dict[str, Any]:
    totals = list(_summed(items[0]))
    for item in items[1:]:
        for index, value in enumerate(_summed(item)):
            totals[index] += value
    return {
        name: INT64_MAX if isinstance(total, int) and total > INT64_MAX else total
        for name, total in zip(SUMMED, totals, strict=True)
    }


def split_turn(key: str, traces: Sequence[TraceAgg]) -> dict[str, list[TraceAgg]]:
    """The turns formed by the traces (session events included) that share a conversation and a turn key.

    A trace *opens* a turn when its root span is present and is marked as a turn (the SDK's turn span,
    or a ``turn.id``) or, when none of these traces is marked, carries the user's input. Openers that
    share a ``turn.id`` are one opening; any other opener is an opening of its own. With at most one
    opening the traces form one turn, keyed ``key``. With several, the number collided (two processes
    each numbering their own turns 1, 2, 3): each opening is a turn, keyed ``key/i:<turn.id>`` or
    ``key/t:<trace id>``, and every other trace joins the opening that started most recently at or
    before it (else the first). A function of the set of traces: the same whatever their arrival order.
    """
    openings = _openings(traces) if len(traces) > 1 else {}
    if len(openings) < 2:
        return {key: list(traces)}
    start = {name: min(t.start_ns for t in members) for name, members in openings.items()}
    names = sorted(openings, key=lambda name: (start[name], name))
    starts = [start[name] for name in names]
    keys = [f"{key}{COLLISION_MARK}{name}" for name in names]
    turns = {k: list(openings[name]) for k, name in zip(keys, names, strict=True)}
    opened = {t.trace_id for members in openings.values() for t in members}
    for trace in traces:
        if trace.trace_id not in opened:
            turns[keys[max(bisect_right(starts, trace.start_ns) - 1, 0)]].append(trace)
    return turns


def _openings(traces: Sequence[TraceAgg]) -> dict[str, list[TraceAgg]]:
    """The openers among ``traces``, by opening: ``i:<turn.id>``, else ``t:<trace id>``."""
    openers = [t for t in traces if t.opens_turn and t.marked_turn]
    if not openers:
        openers = [t for t in traces if t.opens_turn]
    openings: dict[str, list[TraceAgg]] = {}
    for trace in openers:
        name = f"i:{trace.turn_id}" if trace.turn_id is not None else f"t:{trace.trace_id.hex()}"
        openings.setdefault(name, []).append(trace)
    return openings


def turn_numbers(turns: Sequence[TurnRollup]) -> list[int]:
    """The numbers of one conversation's turns, given in start-time order.

    Declared numbers are kept, unless a declared number collided (``split_turn``): then the whole
    conversation is numbered 1..n in time order. A turn that declared none takes its position, or (when
    some turns declared theirs) the next number after the previous turn's that no turn declared.
    """
    if any(collided(t.key) for t in turns):
        return list(range(1, len(turns) + 1))
    declared = {t.declared_number for t in turns if t.declared_number is not None}
    numbers: list[int] = []
    previous = 0
    for position, turn in enumerate(turns, start=1):
        if turn.declared_number is not None:
            previous = turn.declared_number
        else:
            previous = position if not declared else previous + 1
            while previous in declared:
                previous += 1
        numbers.append(previous)
    return numbers


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
    context = as_count(seed.get(sc.CONVERSATION_CONTEXT_TOKENS))
    if context is None:
        context = as_count(seed.get(sc.CONTEXT_CURRENT_TOKENS))
    if context is None:
        context = last_llm.last_llm_input_tokens
    tool_failed = min((t for t in ordered if t.tool_error), key=lambda t: t.tool_error_at, default=None)
    tool_error = tool_failed is not None
    return TurnRollup(
        conversation_id=conversation_id,
        key=key,
        number=ordered[0].turn_number or 0,
        declared_number=ordered[0].turn_number,
        trace_ids=[t.trace_id for t in ordered],
        start_ns=min(t.start_ns for t in ordered),
        end_ns=max(t.end_ns for t in ordered),
        user_id=next((t.user_id for t in ordered if t.user_id), None),
        **_sums(ordered),
        error=errored is not None,
        error_message=errored.error_message if errored is not None else None,
        tool_error=tool_error,
        tool_error_message=tool_failed.tool_error_message if tool_failed is not None else None,
        input_trace_id=best_in.trace_id if best_in.input_text else None,
        input_text=best_in.input_text,
        output_trace_id=best_out.trace_id if best_out.output_text else None,
        output_text=best_out.output_text,
        context_tokens=context,
        model=last_llm.last_llm_model or (models[-1] if models else None),
        last_action=dropoff.last_action(errored is not None, tool_error, best_out.output_text, seed),
        models=models,
        attributes=seed,
    )


@dataclass(slots=True)
class SessionRollup:
    """What the sessions row holds. Status and drop-off, which depend on the clock, are derived at read
    time from these values (``intelligence.lifecycle`` and ``intelligence.dropoff``)."""

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
    end_reason: str | None
    ended_ns: int | None
    reopened_count: int
    last_turn_number: int | None
    last_turn_end_ns: int | None
    last_action: str | None
    last_intent: str | None
    converted: bool
    client_dropoff: dict[str, Any] | None
    journeys: list[dict[str, Any]]
    max_context_pct: float | None
    turn_latencies: tuple[int, ...]
    """Every turn's latency in ns, in time order (analytics reads them without the turns)."""

    @property
    def total_tokens(self) -> int:
        return saturate(self.input_tokens + self.output_tokens)

    @property
    def duration_ns(self) -> int:
        return max(self.last_ns - self.first_ns, 0)


_SESSION_SEED = ("session.", "user.")


def fold_session(turns: list[TurnRollup], traces: Sequence[TraceAgg], options: FoldOptions) -> SessionRollup:
    """One session from its turns (ordered by start time) and all its traces (session events included).

    A session may have no turn yet (an ``end_session`` sent before anything else): it still exists.
    """
    events = sorted((t for t in traces if t.is_event), key=lambda t: t.start_ns)
    models: list[str] = []
    attributes: dict[str, Any] = {}
    dropoff_attributes: dict[str, Any] = {}
    first_ns = min([t.start_ns for t in turns] + [e.start_ns for e in events])
    last_ns = max([t.end_ns for t in turns] + [e.end_ns for e in events])
    user_id = None
    errored = 0
    max_pct: float | None = None
    for turn in turns:
        if turn.models:
            models.extend(m for m in turn.models if m not in models)
        _seed_into(turn.attributes, attributes, dropoff_attributes)
        user_id = user_id or turn.user_id
        errored += turn.error
        if options.intelligence:
            pct = context_pct(turn.context_tokens, turn.attributes, turn.model, options.windows)
            if pct is not None and (max_pct is None or pct > max_pct):
                max_pct = pct
    for event in events:
        _seed_into(event.seed, attributes, dropoff_attributes)
        user_id = user_id or event.user_id
    sums = _sums(turns) if turns else dict.fromkeys(SUMMED, 0)
    first_turn = min(turns, key=lambda t: (t.number, t.start_ns)) if turns else None
    last_turn = turns[-1] if turns else None
    priced = sums["priced_given"] or sums["priced_computed"]
    if options.intelligence:
        timeline = lifecycle.timeline(
            (lifecycle.Activity(t.start_ns, t.end_ns, _end_reason(t.seed)) for t in traces), options.idle_timeout_ns
        )
        session_journeys = journeys.session_journeys(_journey_marks(turns, traces), first_ns)
    else:
        timeline, session_journeys = lifecycle.Timeline(0, None, None), []
    return SessionRollup(
        user_id=user_id,
        first_ns=first_ns,
        last_ns=last_ns,
        turn_count=len(turns),
        trace_count=sum(len(t.trace_ids) for t in turns) + len(events),
        span_count=saturate(sums["span_count"] + sum(e.span_count for e in events)),
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
        first_input=_summary(first_turn.input_text) if first_turn else None,
        last_output=_summary(last_turn.output_text) if last_turn else None,
        models=models,
        attributes=attributes,
        end_reason=timeline.end_reason,
        ended_ns=timeline.ended_ns,
        reopened_count=timeline.reopened_count,
        last_turn_number=last_turn.number if last_turn else None,
        last_turn_end_ns=last_turn.end_ns if last_turn else None,
        last_action=last_turn.last_action if last_turn else None,
        last_intent=_text(last_turn.attributes.get(sc.TURN_INPUT_TYPE)) if last_turn else None,
        converted=any(j["converted"] for j in session_journeys),
        client_dropoff=dropoff.client_dropoff(dropoff_attributes),
        journeys=session_journeys,
        max_context_pct=max_pct,
        turn_latencies=tuple(max(t.end_ns - t.start_ns, 0) for t in turns),
    )


def _seed_into(seed: dict[str, Any], session: dict[str, Any], dropoff_seed: dict[str, Any]) -> None:
    """A turn's or session event's session vocabulary (``session.*``, ``user.*``) and drop-off marks
    (``dropoff.*``), added to the session's in order (later values win)."""
    for key, value in seed.items():
        if key.startswith(_SESSION_SEED):
            session[key] = value
        elif key.startswith("dropoff."):
            dropoff_seed[key] = value


def _end_reason(seed: dict[str, Any]) -> str | None:
    return _text(seed.get(sc.SESSION_END_REASON))


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _journey_marks(turns: list[TurnRollup], traces: Sequence[TraceAgg]) -> list[journeys.Mark]:
    number_of = {trace_id: turn.number for turn in turns for trace_id in turn.trace_ids}
    marks = []
    for trace in traces:
        if sc.JOURNEY_NAME not in trace.seed:
            continue
        turn = number_of.get(trace.trace_id)
        if turn is None:  # a session event: the turn it names, if any
            turn = as_count(trace.seed.get(sc.CONVERSATION_TURN_NUMBER), MAX_TURN_NUMBER)
        found = journeys.mark(trace.seed, turn, trace.end_ns)
        if found is not None:
            marks.append(found)
    return marks


def _summary(value: str | None) -> str | None:
    if value is None or len(value) <= SUMMARY_TEXT_LIMIT:
        return value
    return value[: SUMMARY_TEXT_LIMIT - 1] + "…"
