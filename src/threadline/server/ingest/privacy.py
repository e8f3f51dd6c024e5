"""A project's privacy policy, applied to decoded spans and GenAI log events before anything is written.

Pure: no I/O, no clock. The ingest route builds ``Privacy.of(project, settings)`` and, unless it ``is_noop``,
calls ``protect(spans, privacy)`` and ``protect_log_events(events, privacy)`` on what it decoded, before
normalizing. Records are changed in place, in this order (docs/conventions.md, "Privacy at ingest"):

1. **User ids** (``hash_user_ids``): a value in clear under any ``semconv.USER_ID_KEYS`` key of any attribute map
   (span, event, scope, resource, log event) becomes ``threadline.hash_user_id(value, salt=user_id_salt)``, the
   SDK's HMAC, so SDK users and plain-OpenTelemetry users agree. Values that already look hashed, and values a
   client's scrubber replaced, are left alone.
2. **Content** (``content_policy``): the values of content keys (``semconv.CONTENT_KEYS`` and
   ``CONTENT_KEY_PREFIXES``, except their ``CONTENT_DESCRIPTOR_SUFFIXES``; on ``gen_ai.*`` events and log
   events also ``CONTENT_EVENT_KEYS``), each taken as one text (lists and maps as JSON): ``full`` keeps them,
   ``truncated`` keeps their first ``max_chars`` characters followed by ``TRUNCATED``, ``none`` replaces them
   with ``DROPPED``. Empty values stay empty; every other attribute (tokens, models, costs, names, ids) is kept.
   An unknown policy counts as ``none``.
3. **Redaction** (``redact_secrets``, ``redact_patterns``): in every string stored (attribute values at any
   depth, JSON text included; span names; status messages), each secret found becomes ``[redacted:<kind>]``
   (``SECRET_KINDS``) and each match of a project pattern ``[redacted:pattern]``. Values of identity keys
   (session, user and conversation ids, ``turn.id``) are never redacted: ids must keep grouping.

Nothing here raises on a value: a project pattern that does not compile is skipped (``validate_patterns``
refuses it when the project is configured), and a match of no characters replaces nothing. Compiled patterns
are cached per ``Privacy`` value.

Cost: the built-in rules are gated per string by characters every secret holds (``redact_secrets``), so a
string without them costs a few memchr scans; about 3 µs per span of the benchmark workload (2 KB of text per
span). A project pattern runs on every string: its cost is the project's (one that starts with a literal is
found by a fast scan; one that starts with ``\\b`` or a class is tried at every position; Python's ``re`` has
no time limit, so nested quantifiers can take exponential time on some texts).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from threadline import semconv as sc
from threadline._sdk.ids import hash_user_id, looks_hashed
from threadline.server.ingest.records import Attributes, RawSpan
from threadline.server.ingest.text import as_text

if TYPE_CHECKING:
    from threadline.server.ingest.logs import LogEvent
    from threadline.server.settings import Settings


class ProjectSettings(Protocol):
    """A project's privacy settings, as the store holds them (``store.base.Project``)."""

    @property
    def content_policy(self) -> str: ...
    @property
    def content_max_chars(self) -> int | None: ...
    @property
    def redact_secrets(self) -> bool: ...
    @property
    def redact_patterns(self) -> tuple[str, ...]: ...


DROPPED = "[content not kept by policy]"
TRUNCATED = "…[truncated by policy: {} more characters]"
DEFAULT_MAX_CHARS = 200
"""Characters kept of each text under ``truncated`` when the project names no number."""
PATTERN_MARK = "[redacted:pattern]"
MAX_PATTERNS = 50
MAX_PATTERN_CHARS = 1000
POLICIES = ("full", "truncated", "none")
"""The content policies a project may choose."""

_SCRUBBED_PREFIX = "[Scrubbed due to "
"""A value a client's scrubber replaced is no value (conventions, general rule 6): never hash it."""
_USER_ID_KEYS = frozenset(sc.USER_ID_KEYS)
_IDENTITY_KEYS = frozenset((*sc.SESSION_ID_KEYS, *sc.USER_ID_KEYS, *sc.CONVERSATION_ID_KEYS, sc.TURN_ID))
_EVENT_PREFIX = "gen_ai."


@dataclass(frozen=True, slots=True)
class Privacy:
    """What a project's spans go through before they are stored."""

    hash_user_ids: bool = False
    user_id_salt: str = ""
    content_policy: str = "full"
    """``full``, ``truncated`` or ``none``."""
    content_max_chars: int | None = None
    """For ``truncated``: characters kept of each text (``DEFAULT_MAX_CHARS`` when None)."""
    redact_secrets: bool = True
    redact_patterns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "redact_patterns", tuple(self.redact_patterns))  # a list would not hash

    @classmethod
    def of(cls, project: ProjectSettings, settings: Settings) -> Privacy:
        return cls(
            hash_user_ids=settings.hash_user_ids,
            user_id_salt=settings.user_id_salt,
            content_policy=project.content_policy,
            content_max_chars=project.content_max_chars,
            redact_secrets=project.redact_secrets,
            redact_patterns=tuple(project.redact_patterns),
        )

    @property
    def is_noop(self) -> bool:
        """Nothing to do: callers skip the pass entirely."""
        return (
            not self.hash_user_ids
            and self.content_policy == "full"
            and not self.redact_secrets
            and not self.redact_patterns
        )

    @property
    def max_chars(self) -> int:
        return DEFAULT_MAX_CHARS if self.content_max_chars is None else max(0, self.content_max_chars)


def protect(spans: Iterable[RawSpan], privacy: Privacy) -> None:
    """Apply ``privacy`` to decoded spans in place: attributes, event attributes, names, status messages, and
    the resource and scope attributes (each shared object once)."""
    if privacy.is_noop:
        return
    plan = _plan(privacy)
    shared: set[int] = set()
    for span in spans:
        plan.attributes(span.attributes, events=False)
        for event in span.events:
            plan.attributes(event.attributes, events=event.name.startswith(_EVENT_PREFIX))
        if plan.redact is not None:
            span.name = plan.redact.text(span.name)
            span.status_message = plan.redact.text(span.status_message)
        for attrs in (span.resource.attributes, span.scope.attributes):
            if attrs and id(attrs) not in shared:
                shared.add(id(attrs))
                plan.attributes(attrs, events=False)


def protect_log_events(events: Iterable[LogEvent], privacy: Privacy) -> None:
    """Apply ``privacy`` to GenAI log events in place (their attributes, the record's body merged in)."""
    if privacy.is_noop:
        return
    plan = _plan(privacy)
    for event in events:
        plan.attributes(event.attributes, events=True)


def validate_patterns(patterns: Iterable[Any]) -> list[str]:
    """What is wrong with a project's ``redact_patterns``, one sentence per problem (empty: all usable)."""
    patterns = list(patterns)
    problems = [f"at most {MAX_PATTERNS} patterns (got {len(patterns)})"] if len(patterns) > MAX_PATTERNS else []
    for index, pattern in enumerate(patterns, 1):
        problem = _pattern_problem(pattern)
        if problem:
            problems.append(f"pattern {index} {problem}")
    return problems


def _pattern_problem(pattern: Any) -> str | None:
    if not isinstance(pattern, str) or not pattern:
        return "must be a non-empty string"
    if len(pattern) > MAX_PATTERN_CHARS:
        return f"is longer than {MAX_PATTERN_CHARS} characters"
    try:
        compiled = re.compile(pattern)
    except (re.error, RecursionError, OverflowError, ValueError) as exc:
        return f"{_short(pattern)} is not a valid regular expression: {exc}"
    if compiled.fullmatch("") is not None:
        return f"{_short(pattern)} matches the empty string"
    return None


def _short(pattern: str) -> str:
    return repr(pattern if len(pattern) <= 60 else pattern[:60] + "…")


# --- the plan: what one Privacy value does, compiled once --------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Plan:
    salt: str | None
    """The salt user ids are hashed with; None: ids are kept as they arrive."""
    content: Callable[[Any], Any] | None
    """What a content value becomes; None: content is kept."""
    redact: _Redactor | None

    def attributes(self, attrs: Attributes, *, events: bool) -> None:
        """Steps 1 to 3 on one attribute map (``events``: a GenAI event's, where ``content`` keys are text)."""
        if self.salt is not None and not attrs.keys().isdisjoint(_USER_ID_KEYS):
            _hash_user_ids(attrs, self.salt)
        if self.content is not None:
            _apply_content(attrs, self.content, events)
        if self.redact is not None:
            self.redact.attributes(attrs)


@functools.lru_cache(maxsize=64)
def _plan(privacy: Privacy) -> _Plan:
    user = _compile_user_patterns(privacy.redact_patterns)
    return _Plan(
        salt=privacy.user_id_salt if privacy.hash_user_ids else None,
        content=_content_rule(privacy),
        redact=_Redactor(privacy.redact_secrets, user) if privacy.redact_secrets or user else None,
    )


# --- 1. user ids ------------------------------------------------------------------------------------------------


def _hash_user_ids(attrs: Attributes, salt: str) -> None:
    for key in sc.USER_ID_KEYS:
        value = attrs.get(key)
        if value is None or value == "":
            continue
        text = as_text(value)
        if text and text.strip() and not looks_hashed(text) and not text.startswith(_SCRUBBED_PREFIX):
            attrs[key] = hash_user_id(text, salt=salt)


# --- 2. content -------------------------------------------------------------------------------------------------


def _is_content(key: str, events: bool) -> bool:
    if key in _CONTENT_KEYS or (events and key in _EVENT_CONTENT_KEYS):
        return True
    return key.startswith(_CONTENT_PREFIXES) and not key.endswith(_DESCRIPTORS)


_CONTENT_KEYS, _EVENT_CONTENT_KEYS = sc.CONTENT_KEYS, sc.CONTENT_EVENT_KEYS
_CONTENT_PREFIXES, _DESCRIPTORS = sc.CONTENT_KEY_PREFIXES, sc.CONTENT_DESCRIPTOR_SUFFIXES


def _apply_content(attrs: Attributes, rule: Callable[[Any], Any], events: bool) -> None:
    for key, value in attrs.items():  # values are replaced, keys never: safe while iterating
        if _is_content(key, events):
            new = rule(value)
            if new is not value:
                attrs[key] = new


def _content_rule(privacy: Privacy) -> Callable[[Any], Any] | None:
    if privacy.content_policy == "full":
        return None
    if privacy.content_policy == "truncated":
        return functools.partial(_truncate, limit=privacy.max_chars)
    return _drop


def _drop(value: Any) -> Any:
    return value if value is None or value == "" else DROPPED


def _truncate(value: Any, limit: int) -> Any:
    if value is None or value == "":
        return value
    text = value if isinstance(value, str) else as_text(value)
    if text is None:  # a value too deep to write as JSON: nothing to cut it from
        return DROPPED
    if len(text) <= limit:
        return value
    return text[:limit] + TRUNCATED.format(len(text) - limit)


# --- 3. redaction -----------------------------------------------------------------------------------------------


class _Redactor:
    """Secrets and project patterns in strings, at any depth of a value."""

    __slots__ = ("text",)

    def __init__(self, secrets: bool, user: tuple[re.Pattern[str], ...]) -> None:
        self.text: Callable[[str], str] = redact_secrets if not user else functools.partial(_redact, secrets, user)

    def attributes(self, attrs: Attributes) -> None:
        """Every value of ``attrs`` but identity keys' (most are strings: tested first, inline)."""
        text = self.text
        for key, value in attrs.items():  # values are replaced, keys never: safe while iterating
            if type(value) is str:
                new = text(value) if value and key not in _IDENTITY_KEYS else value
            elif isinstance(value, list | dict) and key not in _IDENTITY_KEYS:
                new = self.value(value)
            else:
                continue
            if new is not value:
                attrs[key] = new

    def value(self, value: Any) -> Any:
        """``value`` with its strings redacted; the same object when nothing changed."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            items = [self.value(item) for item in value]
            return items if any(new is not old for new, old in zip(items, value, strict=True)) else value
        if isinstance(value, dict):
            entries = {key: self.value(item) for key, item in value.items()}
            return entries if any(entries[key] is not item for key, item in value.items()) else value
        return value


def _redact(secrets: bool, user: tuple[re.Pattern[str], ...], text: str) -> str:
    if secrets:
        text = redact_secrets(text)
    for pattern in user:
        text = pattern.sub(_pattern_mark, text)
    return text


def _pattern_mark(match: re.Match[str]) -> str:
    return PATTERN_MARK if match.end() > match.start() else ""


def _compile_user_patterns(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    """The usable patterns: one alternation when they allow it (no groups to renumber), else one each."""
    valid = [p for p in patterns[:MAX_PATTERNS] if _pattern_problem(p) is None]
    compiled = tuple(re.compile(p) for p in valid)
    if len(compiled) > 1 and all(p.groups == 0 for p in compiled):
        try:
            return (re.compile("|".join(f"(?:{p})" for p in valid)),)
        except re.error:  # inline global flags, for one, must start the whole expression
            pass
    return compiled


def _bounded(head: str) -> str:
    """``head`` (a regex of fixed width) not glued to a preceding token character; a JSON escape before it
    (``\\n``, ``\\u00e9``) counts as a boundary, since messages often arrive as JSON text."""
    return rf"{head}(?:(?<![A-Za-z0-9_\\-]{head})|(?<=\\[nrtbf]{head})|(?<=\\u[0-9A-Fa-f]{{4}}{head}))"


_K = r"[A-Za-z0-9_-]"
_AWS_SECRET = r"[\"']?\s*[:=]\s*[\"']?(?P<aws_secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])"
_BEARER = r"[ \t]+(?P<bearer_token>[A-Za-z0-9._~+/-]{16,}=*)"
_Family = tuple[str, int, str | None, tuple[str, ...]]
_SECRETS: tuple[_Family, ...] = (
    (
        "-",
        15,
        r"-(?:----BEGIN|(?<=sk-)|(?<=xox[abposr]-)|(?<=glpat-))",
        (
            r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----(?:[A-Za-z0-9+/=,\r\n-]|: ?|\\[nr])*?"
            r"(?:-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----|(?![A-Za-z0-9+/=,:\r\n-]|\\[nr]))(?P<private_key>)",
            _bounded("sk-") + rf"(?:ant-{_K}{{20,}}(?P<anthropic_key>)|(?!ant-){_K}{{20,}}(?P<openai_key>))",
            _bounded("xox") + r"[abposr]-[A-Za-z0-9-]{10,}(?P<slack_token>)",
            _bounded("glpat-") + rf"{_K}{{20,}}(?P<gitlab_token>)",
        ),
    ),
    (
        "_",
        24,
        r"_(?:(?<=gh[pousr]_)|(?<=github_pat_)|(?<=[rs]k_live_)|(?<=hf_)|access_key|ACCESS_KEY)",
        (
            _bounded("gh") + r"[pousr]_[A-Za-z0-9]{36,255}(?P<github_token>)",
            _bounded("github_pat_") + r"[A-Za-z0-9_]{22,255}(?P<github_token>)",
            _bounded("[rs]k_live_") + r"[A-Za-z0-9]{16,}(?P<stripe_key>)",
            _bounded("hf_") + r"[A-Za-z]{34}(?![A-Za-z0-9])(?P<huggingface_token>)",
            r"_(?:access_key|ACCESS_KEY)(?<=[Ss]ecret_access_key|SECRET_ACCESS_KEY)" + _AWS_SECRET,
        ),
    ),
    (
        "A",
        20,
        None,
        (
            _bounded("A")
            + r"(?:(?:KIA|SIA|BIA|CCA)[A-Z0-9]{16}(?![A-Za-z0-9])(?P<aws_key>)"
            + rf"|Iza{_K}{{35}}(?!{_K})(?P<google_api_key>))"
            + r"|AccessKey(?<=[Ss]ecretAccessKey)"
            + _AWS_SECRET,
        ),
    ),
    ("J", 30, None, (_bounded("eyJ") + r"[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*(?P<jwt>)",)),
    ("B", 23, None, (_bounded("Bearer") + _BEARER,)),
    ("z", 35, None, (r"uthorization[\"']?\s*[:=]\s*[\"']?(?i:bearer)" + _BEARER,)),
)
"""The built-in secrets, in families: (a character every match holds, the shortest match, a pattern that must
find something for the family's patterns to run (None: they run), the patterns).

Every pattern starts with a literal, which Python's ``re`` finds by a fast scan (an alternation of different
first characters is tried at every position: about 40 times slower). The named group that matched last is the
secret: an empty group closing the match means the whole match; otherwise what precedes the group in the match
(a key name, ``Bearer ``) stays in front of the marker."""
_KINDS = {"aws_secret": "aws_key"}
_COMPILED = tuple(
    (gate, shortest, re.compile(detector) if detector else None, tuple(re.compile(p) for p in patterns))
    for gate, shortest, detector, patterns in _SECRETS
)
SECRET_KINDS = (
    "email",
    *dict.fromkeys(_KINDS.get(g, g) for *_, patterns in _COMPILED for p in patterns for g in p.groupindex),
)
"""Every ``[redacted:<kind>]`` the built-in rules write."""
_SHORTEST_TOKEN = min(shortest for _, shortest, _, _ in _SECRETS)


def redact_secrets(text: str) -> str:
    """``text`` with the secrets of the built-in rules replaced by ``[redacted:<kind>]``.

    A family runs only on a text long enough that holds its character (``in`` on a string is a memchr) and in
    which its detector finds something: most texts cost a few scans in C.
    """
    if "@" in text:
        text = _redact_emails(text)
    size = len(text)
    if size < _SHORTEST_TOKEN:
        return text
    for gate, shortest, detector, patterns in _COMPILED:
        if size >= shortest and gate in text and (detector is None or detector.search(text)):
            for pattern in patterns:
                text = pattern.sub(_secret_mark, text)
    return text


def _secret_mark(match: re.Match[str]) -> str:
    name = match.lastgroup or "secret"
    start = match.start(name)
    keep = match.string[match.start() : start] if start < match.end(name) else ""
    return f"{keep}[redacted:{_KINDS.get(name, name)}]"


# E-mail addresses are found from their "@" (a regular expression that starts with the local part would try
# every position of every text): the domain is matched forward, the local part read backward.
_EMAIL_MARK = "[redacted:email]"
_LOCAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
_DOMAIN = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}(?![A-Za-z0-9-])")
_HEX = frozenset("0123456789abcdefABCDEF")
_AT = re.compile(r"@(?<=[A-Za-z0-9._%+-]@)(?=[A-Za-z0-9])")
"""An "@" between a local-part character and a domain character."""


def _redact_emails(text: str) -> str:
    parts: list[str] = []
    done = 0
    for found in _AT.finditer(text):
        at = found.start()
        if at < done:  # inside the address just replaced
            continue
        start = _local_part_start(text, at, done)
        domain = _DOMAIN.match(text, at + 1) if start < at else None
        if domain is not None:
            parts += (text[done:start], _EMAIL_MARK)
            done = domain.end()
    if not parts:
        return text
    parts.append(text[done:])
    return "".join(parts)


def _local_part_start(text: str, at: int, floor: int) -> int:
    """Where the local part before ``text[at] == "@"`` starts (``at``: there is none), not before ``floor``."""
    start = at
    limit = max(floor, at - 64)
    while start > limit and text[start - 1] in _LOCAL_CHARS:
        start -= 1
    if start > floor and text[start - 1] == "\\" and start < at:  # a JSON escape's letters are not the address
        escaped = text[start : start + 5]
        start += 5 if escaped[0] == "u" and len(escaped) == 5 and all(c in _HEX for c in escaped[1:]) else 1
    return min(start, at)
