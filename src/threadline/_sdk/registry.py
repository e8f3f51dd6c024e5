"""What the process remembers per session: turn counters per conversation, the last turn, journeys.

Bounded (least recently used sessions are forgotten), thread-safe, and reset in a forked child.
Numbering continues across ``with threadline.session(...)`` blocks of the same session in this
process; several processes serving one session should pass ``turn_number=`` explicitly.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from threadline._sdk.turn import Turn


@dataclass(slots=True)
class JourneyState:
    first_ns: int
    stage: str
    stage_ns: int
    converted: bool = False


@dataclass(slots=True)
class SessionRecord:
    numbers: dict[str, int] = field(default_factory=dict)
    """Highest turn number given per conversation id."""
    last_conversation: str | None = None
    last_turn_end_ns: int = 0
    journeys: dict[str, JourneyState] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StageTiming:
    time_in_previous_stage_ms: float | None
    since_first_stage_ms: float
    already_converted: bool


class Registry:
    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        self._records: OrderedDict[str, SessionRecord] = OrderedDict()
        self._lock = threading.Lock()
        self.open_turns: dict[int, Turn] = {}
        """Turns started and not yet ended, by trace id."""

    def _record(self, session_id: str) -> SessionRecord:
        record = self._records.get(session_id)
        if record is None:
            record = self._records[session_id] = SessionRecord()
            if len(self._records) > self.capacity:
                self._records.popitem(last=False)
        else:
            self._records.move_to_end(session_id)
        return record

    def next_turn(self, session_id: str, conversation_id: str, explicit: int | None) -> int:
        """The number of a new turn: ``explicit`` if given, else one more than the last in the conversation."""
        with self._lock:
            record = self._record(session_id)
            last = record.numbers.get(conversation_id, 0)
            number = explicit if explicit is not None else last + 1
            record.numbers[conversation_id] = max(last, number)
            record.last_conversation = conversation_id
            return number

    def turn_ended(self, session_id: str, end_ns: int) -> None:
        with self._lock:
            record = self._record(session_id)
            record.last_turn_end_ns = max(record.last_turn_end_ns, end_ns)

    def last_turn(self, session_id: str, conversation_id: str | None) -> tuple[str | None, int | None, int]:
        """(conversation id, last turn number, end of the last turn in ns) known for the session."""
        with self._lock:
            record = self._records.get(session_id)
            if record is None:
                return conversation_id, None, 0
            conversation = conversation_id or record.last_conversation
            number = record.numbers.get(conversation) if conversation else None
            return conversation, number, record.last_turn_end_ns

    def journey_stage(self, session_id: str, name: str, stage: str, now_ns: int, converted: bool) -> StageTiming:
        """Remember that the session reached ``stage`` of journey ``name``; timings in milliseconds."""
        with self._lock:
            record = self._record(session_id)
            state = record.journeys.get(name)
            if state is None:
                state = record.journeys[name] = JourneyState(first_ns=now_ns, stage=stage, stage_ns=now_ns)
                previous = None
            elif state.stage != stage:
                previous = (now_ns - state.stage_ns) / 1e6
                state.stage, state.stage_ns = stage, now_ns
            else:
                previous = None
            already = state.converted
            state.converted = state.converted or converted
            return StageTiming(previous, (now_ns - state.first_ns) / 1e6, already)

    def reset_after_fork(self) -> None:
        """In a forked child: a fresh lock, and no turns of the parent (they are the parent's to end)."""
        self._lock = threading.Lock()
        self.open_turns = {}
