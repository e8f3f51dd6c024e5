"""The session rules that depend on the clock, stated once: when a session has ended, and when it dropped off.

Each rule is a small expression over a session's stored values and ``cutoff`` (now minus the idle
timeout). It is rendered to SQL for each engine (``sql(rule, cutoff, dialect)``: filters, analytics) and
compiled to Python (``ENDED_BY``, ``DROPPED_OFF_BY``: the API's fields, ``lifecycle``, ``dropoff``), so
that a filter and the field it filters on cannot disagree.

- ended: an explicit end, or no activity since the cutoff (``last_ns <= cutoff``);
- dropped off: the client said so, or ended by inactivity without converting, after the agent asked a
  question, failed, or a tool failed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

ANSWERED = "answered"
ASKED_QUESTION = "asked_question"
ERROR = "error"
TOOL_FAILURE = "tool_failure"
DROPOFF_ACTIONS = (ASKED_QUESTION, ERROR, TOOL_FAILURE)
"""The agent's last actions after which a session that goes quiet dropped off."""

Dialect = Literal["sqlite", "clickhouse"]
COLUMNS = ("end_reason", "last_ns", "converted", "last_action", "client_dropoff")
"""The stored values the rules read, under these names in every engine."""


@dataclass(frozen=True, slots=True)
class Column:
    name: str


@dataclass(frozen=True, slots=True)
class Cutoff:
    """Now minus the idle timeout, in ns."""


@dataclass(frozen=True, slots=True)
class IsNull:
    value: Column


@dataclass(frozen=True, slots=True)
class AtMost:
    left: Column
    right: Cutoff


@dataclass(frozen=True, slots=True)
class OneOf:
    value: Column
    choices: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Not:
    value: Expr


@dataclass(frozen=True, slots=True)
class All:
    parts: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Any_:
    parts: tuple[Expr, ...]


Expr = Column | IsNull | AtMost | OneOf | Not | All | Any_

_end_reason, _last_ns = Column("end_reason"), Column("last_ns")
_quiet = AtMost(_last_ns, Cutoff())

ENDED_BY_INACTIVITY: Expr = All((IsNull(_end_reason), _quiet))
ENDED: Expr = Any_((Not(IsNull(_end_reason)), _quiet))
ACTIVE: Expr = Not(ENDED)
DROPPED_OFF: Expr = Any_(
    (
        Not(IsNull(Column("client_dropoff"))),
        All((ENDED_BY_INACTIVITY, Not(Column("converted")), OneOf(Column("last_action"), DROPOFF_ACTIONS))),
    )
)


def sql(rule: Expr, cutoff: int, dialect: Dialect, prefix: str = "") -> str:
    """``rule`` as a SQL condition with ``cutoff`` inlined (an integer: nothing to escape); ``prefix``
    qualifies the columns (``"s."``). Both engines store "no value" as NULL and booleans as 0/1."""
    del dialect  # the two engines read these conditions alike; the parameter keeps call sites explicit
    return _sql(rule, int(cutoff), prefix)


def lifecycle_filters(status: str | None, dropped_off: bool | None, cutoff: int, dialect: Dialect) -> list[str]:
    """The WHERE clauses of a session list's ``status`` (active / ended) and ``dropped_off`` filters."""
    clauses = []
    if status is not None:
        clauses.append(sql(ACTIVE if status == "active" else ENDED, cutoff, dialect))
    if dropped_off is not None:
        dropped = sql(DROPPED_OFF, cutoff, dialect)
        clauses.append(dropped if dropped_off else f"NOT {dropped}")
    return clauses


def _sql(rule: Expr, cutoff: int, prefix: str) -> str:
    match rule:
        case Column(name):
            return f"{prefix}{name}"
        case IsNull(value):
            return f"{_sql(value, cutoff, prefix)} IS NULL"
        case AtMost(left, _):
            return f"{_sql(left, cutoff, prefix)} <= {cutoff}"
        case OneOf(value, choices):
            quoted = ", ".join("'" + choice.replace("'", "''") + "'" for choice in choices)
            return f"{_sql(value, cutoff, prefix)} IN ({quoted})"
        case Not(value):
            return f"NOT ({_sql(value, cutoff, prefix)})"
        case All(parts):
            return "(" + " AND ".join(_sql(p, cutoff, prefix) for p in parts) + ")"
        case Any_(parts):
            return "(" + " OR ".join(_sql(p, cutoff, prefix) for p in parts) + ")"
    raise TypeError(rule)


def _python(rule: Expr) -> str:
    match rule:
        case Column(name):
            return name
        case IsNull(value):
            return f"{_python(value)} is None"
        case AtMost(left, _):
            return f"{_python(left)} <= cutoff"
        case OneOf(value, choices):
            return f"{_python(value)} in {choices!r}"
        case Not(value):
            return f"not ({_python(value)})"
        case All(parts):
            return "(" + " and ".join(_python(p) for p in parts) + ")"
        case Any_(parts):
            return "(" + " or ".join(_python(p) for p in parts) + ")"
    raise TypeError(rule)


Predicate = Callable[..., bool]
"""Called as ``(end_reason, last_ns, converted, last_action, client_dropoff, cutoff)``."""


def compile_rule(rule: Expr) -> Predicate:
    """``rule`` as a Python function of ``COLUMNS`` then ``cutoff``, positionally (fast in a loop)."""
    source = f"lambda {', '.join(COLUMNS)}, cutoff: bool({_python(rule)})"
    function: Predicate = eval(source, {"__builtins__": {"bool": bool}})
    return function


ENDED_BY = compile_rule(ENDED)
ENDED_BY_INACTIVITY_BY = compile_rule(ENDED_BY_INACTIVITY)
DROPPED_OFF_BY = compile_rule(DROPPED_OFF)
