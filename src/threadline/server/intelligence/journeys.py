"""Journeys (docs/concepts.md): stages a session reached, conversion, and per journey a funnel. Pure.

A client marks progress with ``journey.*`` attributes on a turn (or on a session event): the journey's
name, the stage and its number, and ``journey.converted`` when the goal is reached. A session reached
stage *n* of a funnel when its highest stage number is at least *n*.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from threadline import semconv as sc
from threadline.server.ingest.normalize import as_float, as_int


@dataclass(frozen=True, slots=True)
class Mark:
    """One observation of a journey: a turn (or event) that carried ``journey.*`` attributes."""

    name: str
    stage: str | None
    stage_number: int | None
    total_stages: int | None
    converted: bool
    conversion_turn: int | None
    conversion_time_ms: float | None
    turn: int | None
    time_ns: int


def mark(attributes: Mapping[str, Any], turn: int | None, time_ns: int) -> Mark | None:
    name = attributes.get(sc.JOURNEY_NAME)
    if not isinstance(name, str) or not name:
        return None
    converted = attributes.get(sc.JOURNEY_CONVERTED)
    stage = attributes.get(sc.JOURNEY_STAGE)
    return Mark(
        name=name,
        stage=str(stage) if stage not in (None, "") else None,
        stage_number=as_int(attributes.get(sc.JOURNEY_STAGE_NUMBER)),
        total_stages=as_int(attributes.get(sc.JOURNEY_TOTAL_STAGES)),
        converted=converted is True or str(converted).lower() == "true",
        conversion_turn=as_int(attributes.get(sc.JOURNEY_CONVERSION_TURN)),
        conversion_time_ms=as_float(attributes.get(sc.JOURNEY_CONVERSION_TIME_MS)),
        turn=turn,
        time_ns=time_ns,
    )


def session_journeys(marks: Iterable[Mark], session_start_ns: int) -> list[dict[str, Any]]:
    """Per journey name: stages reached, highest stage, conversion turn and time."""
    by_name: dict[str, list[Mark]] = {}
    for m in sorted(marks, key=lambda m: (m.time_ns, m.turn or 0)):
        by_name.setdefault(m.name, []).append(m)
    journeys = []
    for name, observed in sorted(by_name.items()):
        stages: dict[tuple[int | None, str | None], dict[str, Any]] = {}
        for m in observed:
            if m.stage is not None or m.stage_number is not None:
                stages.setdefault(
                    (m.stage_number, m.stage),
                    {"stage": m.stage, "stage_number": m.stage_number, "turn": m.turn, "time_ns": m.time_ns},
                )
        numbers = [m.stage_number for m in observed if m.stage_number is not None]
        conversion = next((m for m in observed if m.converted), None)
        turn = None
        time_ms = None
        if conversion is not None:
            turn = conversion.conversion_turn if conversion.conversion_turn is not None else conversion.turn
            time_ms = conversion.conversion_time_ms
            if time_ms is None:
                time_ms = max(conversion.time_ns - session_start_ns, 0) / 1e6
        journeys.append(
            {
                "name": name,
                "stages": sorted(
                    stages.values(), key=lambda s: (s["stage_number"] is None, s["stage_number"] or 0, s["time_ns"])
                ),
                "highest_stage": max(numbers) if numbers else (len(stages) or None),
                "total_stages": next((m.total_stages for m in reversed(observed) if m.total_stages), None),
                "converted": conversion is not None,
                "conversion_turn": turn,
                "conversion_time_ms": time_ms,
            }
        )
    return journeys


def _stage_order(stage: dict[str, Any]) -> tuple[bool, int, int]:
    return (stage["stage_number"] is None, stage["stage_number"] or 0, stage["time_ns"])


class Progress(Protocol):
    """How far one session went along a journey (``store.records.JourneyProgress``)."""

    @property
    def highest_stage(self) -> int | None: ...
    @property
    def total_stages(self) -> int | None: ...
    @property
    def stages(self) -> Sequence[Mapping[str, Any]]: ...
    @property
    def converted(self) -> bool: ...
    @property
    def conversion_turn(self) -> int | None: ...
    @property
    def conversion_time_ms(self) -> float | None: ...


def funnel(name: str, journeys: Sequence[Progress]) -> dict[str, Any]:
    """A journey's funnel over sessions: how many reached each stage, and converted."""
    highest = [j.highest_stage or 0 for j in journeys]
    top = max([*highest, *(j.total_stages or 0 for j in journeys)], default=0)
    names: dict[int, str] = {}
    for j in journeys:
        for stage in j.stages:
            if stage["stage_number"] is not None and stage["stage"]:
                names.setdefault(stage["stage_number"], stage["stage"])
    converted = [j for j in journeys if j.converted]
    turns = [j.conversion_turn for j in converted if j.conversion_turn is not None]
    times = [j.conversion_time_ms for j in converted if j.conversion_time_ms is not None]
    count = len(journeys)
    return {
        "name": name,
        "session_count": count,
        "converted_count": len(converted),
        "conversion_rate": len(converted) / count if count else None,
        "stages": [
            {
                "stage_number": n,
                "stage": names.get(n),
                "sessions": sum(1 for h in highest if h >= n),
                "rate": sum(1 for h in highest if h >= n) / count if count else None,
            }
            for n in range(1, top + 1)
        ],
        "conversion_turn_p50": statistics.median(turns) if turns else None,
        "conversion_time_p50_ms": statistics.median(times) if times else None,
    }
