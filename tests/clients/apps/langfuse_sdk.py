"""Langfuse's Python SDK (OTel-based, v3+), pointed at Threadline as its host.

Each turn is an ``agent`` observation with the user's message as input and the answer as output;
``propagate_attributes`` gives every observation of the turn its session and user ids. By default the
LLM calls go through Langfuse's OpenAI integration (``langfuse.openai``, which patches the ``openai``
module: generations with OpenAI's usage dict as ``usage_details``). With ``--by-hand`` the app records
its generations itself, with Langfuse's own ``input``/``output`` usage keys and a ``cost_details``
total, as an app calling a provider without an integration would.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import openai
from langfuse import Langfuse, propagate_attributes
from scenario import Hooks, LlmSpan, Session, ToolSpan, TurnSpan, main

PRICES = {"input": 0.15e-6, "input_cached_tokens": 0.075e-6, "output": 0.60e-6}
"""What Bob's app believes gpt-4o-mini costs per token (it reports the cost itself)."""


class _Output(TurnSpan, ToolSpan):
    def __init__(self, observation: Any) -> None:
        self.observation = observation

    def done(self, value: str) -> None:
        self.observation.update(output=value)


class _Generation(LlmSpan):
    def __init__(self, generation: Any) -> None:
        self.generation = generation

    def done(self, text: str | None, tool_calls: list[Any], usage: Any, model: str | None) -> None:
        cached = usage.prompt_tokens_details.cached_tokens
        # Langfuse's "input" is the uncached input; cached tokens are a usage type of their own.
        usage_details = {
            "input": usage.prompt_tokens - cached,
            "input_cached_tokens": cached,
            "output": usage.completion_tokens,
        }
        cost = {k: usage_details[k] * PRICES[k] for k in PRICES}
        self.generation.update(
            model=model,
            output={"role": "assistant", "content": text},
            usage_details=usage_details,
            cost_details={**cost, "total": sum(cost.values())},
        )


class LangfuseHooks(Hooks):
    def __init__(self, langfuse: Langfuse, *, by_hand: bool) -> None:
        self.langfuse = langfuse
        self.by_hand = by_hand

    @contextmanager
    def turn(self, session: Session, number: int, message: str) -> Iterator[TurnSpan]:
        with (
            self.langfuse.start_as_current_observation(name="travel-assistant", as_type="agent", input=message) as root,
            propagate_attributes(session_id=session.session_id, user_id=session.user_id),
        ):
            yield _Output(root)

    @contextmanager
    def llm(self, request: dict[str, Any]) -> Iterator[LlmSpan]:
        if not self.by_hand:  # langfuse.openai makes the generation
            yield LlmSpan()
            return
        with self.langfuse.start_as_current_observation(
            name="chat", as_type="generation", model=request["model"], input=request["messages"]
        ) as generation:
            try:
                yield _Generation(generation)
            except openai.APIStatusError as error:
                generation.update(level="ERROR", status_message=str(error))
                raise

    @contextmanager
    def tool(self, name: str, call_id: str, arguments: str) -> Iterator[ToolSpan]:
        with self.langfuse.start_as_current_observation(
            name=name, as_type="tool", input=json.loads(arguments)
        ) as observation:
            yield _Output(observation)


def setup(args: argparse.Namespace) -> tuple[Any, Hooks, Callable[[], None]]:
    langfuse = Langfuse(public_key="pk-lf-test", secret_key="sk-lf-test", host=args.threadline)
    by_hand = "--by-hand" in sys.argv
    if by_hand:
        client = openai.OpenAI(base_url=args.openai, api_key="sk-test", max_retries=0)
    else:
        from langfuse.openai import OpenAI

        client = OpenAI(base_url=args.openai, api_key="sk-test", max_retries=0)

    def flush() -> None:
        langfuse.flush()
        langfuse.shutdown()

    return client, LangfuseHooks(langfuse, by_hand=by_hand), flush


if __name__ == "__main__":
    main(setup)
