"""A session's traces and turns, kept folded as its traces change. Pure, no I/O."""

from __future__ import annotations

from collections.abc import Iterable

from threadline.server.ingest.rollup import (
    FoldOptions,
    SessionRollup,
    TurnId,
    TurnRollup,
    collided,
    fold_session,
    fold_turn,
    split_turn,
    turn_key,
    turn_numbers,
)
from threadline.server.ingest.trace_agg import TraceAgg

Slot = tuple[str, str]
"""(conversation id, ``turn_key`` of a trace): the traces that may form one turn, or several on a collision."""


class SessionState:
    """``update(trace)`` after a trace aggregate changed; ``refresh()`` refolds only the turns of the
    slots whose traces changed, renumbers their conversations, refolds the session and returns what to
    write. The turns are a function of the set of traces, whatever the order they changed in.
    """

    def __init__(
        self, pk: int, session_id: str, traces: Iterable[TraceAgg] = (), options: FoldOptions | None = None
    ) -> None:
        self.pk = pk
        self.session_id = session_id
        self.options = options or FoldOptions()
        self.traces: dict[bytes, TraceAgg] = {}
        self._trace_slot: dict[bytes, Slot] = {}
        self._members: dict[Slot, dict[bytes, TraceAgg]] = {}
        self._slot_turns: dict[Slot, list[TurnId]] = {}
        self.turns: dict[TurnId, TurnRollup] = {}
        self._dirty: set[Slot] = set()
        self.rollup: SessionRollup | None = None
        for trace in traces:
            self.update(trace)

    def slot(self, trace: TraceAgg) -> Slot:
        return (trace.conversation_id or self.session_id, turn_key(trace))

    @property
    def rederived(self) -> set[str]:
        """The conversations whose declared turn numbers collided, numbered by start time instead."""
        return {conversation for conversation, key in self.turns if collided(key)}

    def update(self, trace: TraceAgg) -> None:
        """Record that ``trace`` is new or changed."""
        self.traces[trace.trace_id] = trace
        new_slot = self.slot(trace)
        old_slot = self._trace_slot.get(trace.trace_id)
        if old_slot is not None and old_slot != new_slot:
            del self._members[old_slot][trace.trace_id]
            self._dirty.add(old_slot)
        self._trace_slot[trace.trace_id] = new_slot
        self._members.setdefault(new_slot, {})[trace.trace_id] = trace
        self._dirty.add(new_slot)

    def refresh(self) -> tuple[list[TurnRollup], list[TurnId]]:
        """Refold changed turns; returns (turns to write, turn ids to delete)."""
        changed: set[TurnId] = set()
        removed: list[TurnId] = []
        for slot in self._dirty:
            folded = self._fold_slot(slot)
            for tid in self._slot_turns.pop(slot, ()):
                if tid not in folded:
                    del self.turns[tid]
                    removed.append(tid)
            self.turns.update(folded)
            if folded:
                self._slot_turns[slot] = list(folded)
            changed.update(folded)
        conversations = {conversation for conversation, _ in self._dirty}
        self._dirty.clear()
        changed |= self._renumber(conversations)
        ordered = sorted(self.turns.values(), key=lambda t: (t.start_ns, t.number))
        self.rollup = fold_session(ordered, list(self.traces.values()), self.options) if self.traces else None
        return [self.turns[t] for t in changed], removed

    def _fold_slot(self, slot: Slot) -> dict[TurnId, TurnRollup]:
        """The turns a slot's traces form now (none when it holds no trace, or only session events)."""
        members = self._members.get(slot)
        if not members:
            self._members.pop(slot, None)
            return {}
        conversation = slot[0]
        folded: dict[TurnId, TurnRollup] = {}
        for key, group in split_turn(slot[1], list(members.values())).items():
            traces = [t for t in group if not t.is_event]
            if traces:
                folded[(conversation, key)] = fold_turn(conversation, key, traces, [t for t in group if t.is_event])
        return folded

    def _renumber(self, conversations: set[str]) -> set[TurnId]:
        """Numbers the turns of ``conversations`` (``rollup.turn_numbers``); returns the renumbered ids."""
        changed: set[TurnId] = set()
        for conversation in conversations:
            ids = sorted(
                (tid for tid in self.turns if tid[0] == conversation),
                key=lambda tid: (self.turns[tid].start_ns, tid[1]),
            )
            for tid, number in zip(ids, turn_numbers([self.turns[tid] for tid in ids]), strict=True):
                turn = self.turns[tid]
                if turn.number != number:
                    turn.number = number
                    changed.add(tid)
        return changed
