"""A session's traces and turns, kept folded as its traces change. Pure, no I/O."""

from __future__ import annotations

from collections.abc import Iterable

from threadline.server.ingest.rollup import (
    FoldOptions,
    SessionRollup,
    TurnId,
    TurnRollup,
    fold_session,
    fold_turn,
)
from threadline.server.ingest.trace_agg import TraceAgg, turn_key


class SessionState:
    """``update(trace)`` after a trace aggregate changed; ``refresh()`` refolds only the turns whose
    traces changed, renumbers their conversations, refolds the session and returns what to write.
    """

    def __init__(
        self, pk: int, session_id: str, traces: Iterable[TraceAgg] = (), options: FoldOptions | None = None
    ) -> None:
        self.pk = pk
        self.session_id = session_id
        self.options = options or FoldOptions()
        self.traces: dict[bytes, TraceAgg] = {}
        self._trace_turn: dict[bytes, TurnId] = {}
        self._members: dict[TurnId, dict[bytes, TraceAgg]] = {}
        self.turns: dict[TurnId, TurnRollup] = {}
        self._dirty: set[TurnId] = set()
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
            del self._members[old_id][trace.trace_id]
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
        self.rollup = fold_session(ordered, list(self.traces.values()), self.options) if self.traces else None
        return [self.turns[t] for t in changed if t in self.turns], removed

    def _renumber(self, conversations: set[str]) -> set[TurnId]:
        """Derived turn numbers, per conversation in start-time order: the position, or (when a client
        numbered some turns itself) the next number after the previous turn's that no turn declared.
        Returns the renumbered ids."""
        changed: set[TurnId] = set()
        for conversation in conversations:
            ids = sorted(
                (tid for tid in self.turns if tid[0] == conversation),
                key=lambda tid: (self.turns[tid].start_ns, tid[1]),
            )
            declared = {self.turns[tid].number for tid in ids if self.turns[tid].explicit_number}
            previous = 0
            for position, tid in enumerate(ids, start=1):
                turn = self.turns[tid]
                if turn.explicit_number:
                    previous = turn.number
                    continue
                number = position if not declared else previous + 1
                while number in declared:
                    number += 1
                previous = number
                if turn.number != number:
                    turn.number = number
                    changed.add(tid)
        return changed
