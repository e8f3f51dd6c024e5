"""The last agent action of a turn, and drop-off (docs/concepts.md). Pure.

A session dropped off when it ended by inactivity (not by an explicit end), did not convert, and its
last turn left the user with a question, an error or a failed tool; or when the client said so
(``dropoff.detected = true``), in which case the client's ``dropoff.*`` values take precedence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from threadline import semconv as sc
from threadline.server.ingest.normalize import as_float, as_int
from threadline.server.intelligence.rules import (
    ANSWERED,
    ASKED_QUESTION,
    DROPOFF_ACTIONS,
    ERROR,
    TOOL_FAILURE,
)

__all__ = [
    "ANSWERED", "ASKED_QUESTION", "DROPOFF_ACTIONS", "ERROR", "TOOL_FAILURE",
    "Dropoff", "client_dropoff", "dropoff", "ends_with_question", "last_action",
]  # fmt: skip

_TRAILING = " \t\r\n\"'`*_)]}»”’.!…"
_QUESTION_MARKS = ("?", "？", "¿", "؟")


def ends_with_question(text: str | None) -> bool:
    """Does the answer end by asking the user something (``...?``, ``...?"``, ``...? 🙂``)?"""
    if not text:
        return False
    stripped = text.rstrip()
    # Drop trailing emoji and closing punctuation, then look for a question mark.
    while stripped and (stripped[-1] in _TRAILING or _is_emoji(stripped[-1])):
        stripped = stripped[:-1].rstrip()
    return stripped.endswith(_QUESTION_MARKS)


def _is_emoji(char: str) -> bool:
    code = ord(char)
    return code >= 0x1F000 or 0x2600 <= code <= 0x27BF or code == 0xFE0F


def last_action(error: bool, tool_error: bool, output: str | None, attributes: dict[str, Any]) -> str:
    """What the agent last did in a turn: error, tool_failure, asked_question or answered."""
    if error:
        return ERROR
    if tool_error:
        return TOOL_FAILURE
    if attributes.get(sc.TURN_OUTPUT_TYPE) == "question" or ends_with_question(output):
        return ASKED_QUESTION
    return ANSWERED


def client_dropoff(attributes: dict[str, Any]) -> dict[str, Any] | None:
    """The ``dropoff.*`` values a client sent with ``dropoff.detected = true``, if it did."""
    detected = attributes.get(sc.DROPOFF_DETECTED)
    if detected is not True and str(detected).lower() != "true":
        return None
    return {
        "last_turn": as_int(attributes.get(sc.DROPOFF_LAST_TURN)),
        "last_intent": attributes.get(sc.DROPOFF_LAST_INTENT),
        "agent_last_action": attributes.get(sc.DROPOFF_AGENT_LAST_ACTION),
        "time_since_last_turn_ms": as_float(attributes.get(sc.DROPOFF_TIME_SINCE_LAST_TURN_MS)),
    }


@dataclass(frozen=True, slots=True)
class Dropoff:
    detected: bool
    source: str | None
    """``client`` (it said so) or ``derived`` (Threadline's rule), None when not dropped off."""
    last_turn: int | None
    last_intent: str | None
    agent_last_action: str | None
    time_since_last_turn_ms: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "detected": self.detected,
            "source": self.source,
            "last_turn": self.last_turn,
            "last_intent": self.last_intent,
            "agent_last_action": self.agent_last_action,
            "time_since_last_turn_ms": self.time_since_last_turn_ms,
        }


def dropoff(
    *,
    ended_by_inactivity: bool,
    converted: bool,
    last_turn: int | None,
    last_intent: str | None,
    agent_last_action: str | None,
    last_turn_end_ns: int | None,
    now_ns: int,
    client: dict[str, Any] | None,
) -> Dropoff:
    since_ms = (now_ns - last_turn_end_ns) / 1e6 if last_turn_end_ns is not None else None
    if client is not None:
        return Dropoff(
            True,
            "client",
            client.get("last_turn") if client.get("last_turn") is not None else last_turn,
            client.get("last_intent") or last_intent,
            client.get("agent_last_action") or agent_last_action,
            client.get("time_since_last_turn_ms") if client.get("time_since_last_turn_ms") is not None else since_ms,
        )
    detected = ended_by_inactivity and not converted and agent_last_action in DROPOFF_ACTIONS
    return Dropoff(detected, "derived" if detected else None, last_turn, last_intent, agent_last_action, since_ms)
