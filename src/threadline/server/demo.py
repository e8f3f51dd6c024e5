"""Demo traffic for ``threadline serve --demo``: a travel assistant built on the Threadline SDK.

It sends realistic multi-turn sessions through the real SDK and OTLP exporter: several users of
different tiers, sessions of varied length, tool calls, a rate-limited LLM call, a declined payment,
sessions that stop right after the agent asked a question, explicit ends, an onboarding journey that
converts in one session and stalls in another, feedback, and a context window that fills up.

First a day of history, timestamped in the past (the SDK reads a clock the demo moves), then, with
``live=True``, new sessions in real time until ``stop()``. The same ``seed`` gives the same sessions.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

import threadline
from threadline._sdk import runtime
from threadline._sdk.settings import resolve

CONTEXT_LIMIT = 128_000
SYSTEM_PROMPT_TOKENS = 420
USERS = (
    ("maria@example.com", "pro", "org_acme"),
    ("li.wei@example.com", "free", None),
    ("sam@example.com", "enterprise", "org_globex"),
    ("noor@example.com", "free", None),
    ("jonas@example.com", "pro", "org_initech"),
    ("ada@example.com", "enterprise", "org_globex"),
)
MODELS = (("gpt-4o-mini", "openai"), ("gpt-4o", "openai"), ("claude-haiku-4-5", "anthropic"))


@dataclass(frozen=True)
class Step:
    """Something the agent does before answering: call a tool (which may fail), or fail to reach the LLM."""

    tool: str | None = None
    args: Any = None
    result: Any = None
    fails: str | None = None
    llm_error: str | None = None
    size: tuple[int, int] = (300, 2_500)
    """Range of tokens its result adds to the context."""


@dataclass(frozen=True)
class Exchange:
    user: str
    answer: str
    steps: tuple[Step, ...] = ()
    intent: str = "question"
    journey: tuple[str, int, bool] | None = None
    """(stage, stage number, converted) of the ``onboarding`` journey."""
    feedback: int | None = None


@dataclass(frozen=True)
class Script:
    name: str
    exchanges: tuple[Exchange, ...]
    ends: bool
    """``True``: the user says goodbye and the app ends the session; ``False``: the user just stops."""


def _japan_itinerary() -> tuple[Exchange, ...]:
    places = ("Tokyo", "Tokyo", "Nikko", "Hakone", "Kyoto", "Kyoto", "Nara", "Osaka", "Hiroshima", "Miyajima")
    days = tuple(
        Exchange(
            f"Add day {day} to my Japan itinerary",
            f"Day {day}: {place}. Anything to change?",
            (Step("find_places", {"day": day, "city": place}, {"places": 40}, size=(18_000, 24_000)),)
            if day % 2 == 0
            else (),
            "request",
        )
        for day, place in enumerate(places, start=1)
    )
    return (*days, Exchange("Looks great, thank you!", "Enjoy Japan!", (), "goodbye", feedback=1))


def _flight_search() -> Step:
    return Step("search_flights", {"from": "CDG", "to": "LIS"}, [{"flight": "TP433", "eur": 142}])


SCRIPTS = (
    Script(
        "flight_booking",
        (
            Exchange(
                "I need a flight from Paris to Lisbon next Friday",
                "TP433 leaves at 09:05 for 142 EUR. Book it?",
                (_flight_search(),),
                "request",
            ),
            Exchange(
                "Yes, window seat please",
                "Booked TP433, seat 14A. Confirmation ABX42.",
                (Step("book_flight", {"flight": "TP433", "seat": "14A"}, {"confirmation": "ABX42"}),),
                "confirm",
            ),
            Exchange("Thanks, that's all", "Have a great trip!", (), "goodbye", feedback=1),
        ),
        ends=True,
    ),
    Script(
        "onboarding_converted",
        (
            Exchange(
                "Hi, I just created an account",
                "Welcome! Where do you like to travel?",
                (),
                "greeting",
                journey=("account_created", 1, False),
            ),
            Exchange(
                "Mostly city breaks in Europe",
                "Noted: city breaks in Europe. Shall we plan a first trip?",
                (Step("save_preferences", {"style": "city", "region": "EU"}, "ok"),),
                "preference",
                journey=("preferences_set", 2, False),
            ),
            Exchange(
                "Yes, Rome in May",
                "Here is a 3-day Rome plan for May, saved to your trips.",
                (Step("create_trip", {"city": "Rome", "month": 5}, {"trip_id": "t_81"}),),
                "request",
                journey=("first_trip_planned", 3, True),
                feedback=1,
            ),
        ),
        ends=True,
    ),
    Script(
        "onboarding_stalled",
        (
            Exchange(
                "Hello, new here",
                "Welcome! Where do you like to travel?",
                (),
                "greeting",
                journey=("account_created", 1, False),
            ),
            Exchange(
                "Not sure yet",
                "No problem. Would you rather explore beaches or cities?",
                (),
                "preference",
                journey=("preferences_set", 2, False),
            ),
        ),
        ends=False,
    ),
    Script(
        "weather_quick",
        (
            Exchange(
                "What's the weather in Barcelona tomorrow?",
                "Sunny, 24°C, light wind.",
                (Step("get_weather", {"city": "Barcelona"}, {"temp_c": 24, "sky": "sunny"}),),
            ),
        ),
        ends=False,
    ),
    Script(
        "rate_limited",
        (
            Exchange(
                "Find me a hotel in Porto", "", (Step(llm_error="429 Rate limit reached for requests"),), "request"
            ),
            Exchange(
                "Hello? Find me a hotel in Porto",
                "Hotel Infante Sagres has rooms from 180 EUR.",
                (Step("search_hotels", {"city": "Porto"}, [{"hotel": "Infante Sagres", "eur": 180}]),),
                "request",
            ),
            Exchange("Perfect, thanks", "You're welcome!", (), "goodbye", feedback=1),
        ),
        ends=True,
    ),
    Script(
        "payment_declined",
        (
            Exchange(
                "Book the Lisbon flight we discussed",
                "Found TP433 at 142 EUR. Paying with your saved card.",
                (_flight_search(),),
                "request",
            ),
            Exchange(
                "Go ahead",
                "Your card was declined. Would you like to try another card?",
                (Step("charge_card", {"amount_eur": 142}, None, fails="card_declined: insufficient funds"),),
                "confirm",
                feedback=-1,
            ),
        ),
        ends=False,
    ),
    Script(
        "hotel_choice",
        (
            Exchange("Plan 4 days in Nice", "Day 1 old town, day 2 Monaco, day 3 Èze, day 4 beaches.", (), "request"),
            Exchange(
                "Where should I stay?", "Do you prefer a hotel near the old town or by the beach?", (), "question"
            ),
        ),
        ends=False,
    ),
    Script("itinerary_long", _japan_itinerary(), ends=True),
)


class DemoClock:
    """Simulated time for the history, real time once live (the SDK reads it for every timestamp)."""

    def __init__(self, start_ns: int) -> None:
        self.now_ns = start_ns
        self.live = False

    def time_ns(self) -> int:
        return time.time_ns() if self.live else self.now_ns

    def monotonic(self) -> float:
        return self.time_ns() / 1e9


class Demo:
    def __init__(
        self,
        base_url: str,
        *,
        seed: int | None = 7,
        live: bool = True,
        start_ns: int | None = None,
        user_id_salt: str = "threadline-demo",
        api_key: str = "",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.rng = random.Random(seed)
        self.user_id_salt = user_id_salt
        self.api_key = api_key
        self.live = live
        now = time.time_ns()
        self.clock = DemoClock(start_ns if start_ns is not None else now - 30 * 3600 * 10**9)
        self.history_until_ns = (start_ns + 24 * 3600 * 10**9) if start_ns is not None else now - 40 * 60 * 10**9
        self.session_ids: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._provider: TracerProvider | None = None

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Demo:
        self._thread = threading.Thread(target=self.run, name="threadline-demo", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> None:
        """History, then live sessions until ``stop()`` (or 40 of them). Always leaves the SDK shut down."""
        # A private provider: the server in this process traces its own requests with the global one.
        self._provider = TracerProvider(resource=Resource.create({"service.name": "acme-travel-assistant"}))
        settings = resolve(
            {
                "endpoint": self.base_url,
                "user_id_salt": self.user_id_salt,
                "api_key": self.api_key,
                "schedule_delay": 0.2,
            }
        )
        runtime.install(settings, tracer_provider=self._provider, clock=self.clock)
        try:
            for index, script in enumerate(self._history_plan() if not self._has_sessions() else []):
                self._wait(self.rng.uniform(15, 80) * 60)
                if self.clock.now_ns >= self.history_until_ns or self._stop.is_set():
                    break
                self._session(script, USERS[index % len(USERS)] if index < len(USERS) else self.rng.choice(USERS))
            threadline.flush(timeout=30)
            self.clock.live = True
            for _ in range(40 if self.live else 0):
                if self._stop.is_set():
                    break
                self._session(self.rng.choice(SCRIPTS), self.rng.choice(USERS))
                self._wait(self.rng.uniform(3, 8))
        finally:
            # Stopped with the server: what is still queued may have nowhere to go. Drop it quietly.
            quiet = logging.getLogger("opentelemetry.exporter")
            level, quiet.level = quiet.level, logging.CRITICAL
            try:
                threadline.shutdown(timeout=1 if self._stop.is_set() else 10)
                self._provider.shutdown()
            finally:
                quiet.setLevel(level)

    def _has_sessions(self) -> bool:
        """Whether the server already holds sessions (a restart): then only live sessions are added."""
        try:
            headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
            stats = urllib.request.Request(f"{self.base_url}/api/v1/stats", headers=headers)
            with urllib.request.urlopen(stats, timeout=5) as response:
                return int(json.load(response)["session_count"]) > 0
        except (OSError, ValueError, KeyError):
            return False

    def _history_plan(self) -> list[Script]:
        plan = list(SCRIPTS) + [self.rng.choice(SCRIPTS) for _ in range(24)]
        return plan[: len(SCRIPTS)] + sorted(plan[len(SCRIPTS) :], key=lambda _: self.rng.random())

    def _wait(self, seconds: float) -> None:
        if self.clock.live:
            self._stop.wait(min(seconds, 5.0))
        else:
            self.clock.now_ns += int(seconds * 1e9)

    # --- one session -----------------------------------------------------------------------------

    def _session(self, script: Script, user: tuple[str, str, str | None]) -> None:
        session_id = f"sess_{self.rng.getrandbits(64):016x}"
        self.session_ids.append(session_id)
        model, provider = self.rng.choice(MODELS)
        email, tier, org = user
        channel = self.rng.choice(("web", "web", "ios", "android"))
        context = SYSTEM_PROMPT_TOKENS
        with threadline.session(
            session_id,
            user_id=email,
            channel=channel,
            type="chat",
            locale="en-GB",
            client_version="2.14.0",
            user_tier=tier,
            org_id=org,
        ):
            for number, exchange in enumerate(script.exchanges, start=1):
                if number > 1:
                    self._wait(self.rng.uniform(8, 90))
                context = self._turn(exchange, model, provider, context)
            if script.ends:
                self._wait(self.rng.uniform(2, 10))
                threadline.feedback(satisfaction=round(self.rng.uniform(0.6, 1.0), 2))
                threadline.end_session(session_id, "completed")

    def _turn(self, exchange: Exchange, model: str, provider: str, context: int) -> int:
        """One turn; returns the tokens in context afterwards (history, tool results, answers)."""
        asked = _tokens(exchange.user)
        context += asked
        with threadline.turn(exchange.user, input_type=exchange.intent) as turn:
            for step in exchange.steps:
                with threadline.llm_call(model=model, provider=provider) as call:
                    self._wait(self.rng.uniform(0.5, 2.5))
                    if step.llm_error:
                        call.error(step.llm_error)
                        turn.error(step.llm_error)
                        return context
                    call.record(input_tokens=context, output_tokens=18, input=exchange.user, output=f"→ {step.tool}")
                with threadline.tool_call(str(step.tool), step.args) as tool:
                    self._wait(self.rng.uniform(0.1, 1.2))
                    if step.fails:
                        tool.error(step.fails)
                    else:
                        tool.result(step.result)
                context += self.rng.randint(*step.size)
            answered = _tokens(exchange.answer)
            with threadline.llm_call(model=model, provider=provider) as call:
                self._wait(self.rng.uniform(0.6, 3.0))
                call.record(input_tokens=context, output_tokens=answered, input=exchange.user, output=exchange.answer)
            context += answered
            pruned = 0
            if context > 0.6 * CONTEXT_LIMIT:  # the app drops old tool results to stay within the window
                pruned, context = self.rng.randint(6, 14), int(context * 0.4)
            threadline.context_window(
                context, CONTEXT_LIMIT, new_tokens=asked + answered, pruned=bool(pruned), messages_pruned=pruned
            )
            if exchange.journey:
                stage, stage_number, converted = exchange.journey
                threadline.journey(
                    "onboarding", stage, stage_number=stage_number, total_stages=3, converted=converted or None
                )
            if exchange.feedback is not None:
                threadline.feedback(exchange.feedback)
            turn.output(exchange.answer)
        return context


def _tokens(text: str) -> int:
    return max(1, round(len(text.split()) * 1.35))


def start_demo(
    base_url: str, *, seed: int | None = None, live: bool = True, user_id_salt: str = "", api_key: str = ""
) -> Demo:
    """Run the demo in a background thread against the server at ``base_url``; ``.stop()`` ends it.

    Without a ``seed`` each run makes new sessions; a day of history is sent only to a server that holds
    no session yet, so restarting the demo adds live sessions, not another copy of the day. Users are
    hashed with ``user_id_salt`` (the server's, so that ``--user maria@example.com`` finds them).
    """
    return Demo(base_url, seed=seed, live=live, user_id_salt=user_id_salt, api_key=api_key).start()
