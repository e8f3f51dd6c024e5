"""The fake provider answers the real ``openai`` client like OpenAI does, deterministically."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from support.fake_openai import FakeOpenAI, cached_tokens, count_tokens

pytestmark = pytest.mark.slow

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is the weather in Paris?"}]
TOOLS: list[Any] = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]


@pytest.fixture
def client(fake_openai: FakeOpenAI) -> openai.OpenAI:
    return openai.OpenAI(base_url=fake_openai.base_url, api_key="sk-test", max_retries=0)


def test_completion_with_usage_is_deterministic(client: openai.OpenAI, fake_openai: FakeOpenAI) -> None:
    first = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
    second = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
    assert first.choices[0].message.content == second.choices[0].message.content
    assert first.model == "gpt-4o-mini-2024-07-18"
    assert first.usage is not None
    assert first.usage.prompt_tokens == count_tokens(MESSAGES, None) == 19  # 3 + (4 + 2) + (4 + 6)
    assert first.usage.completion_tokens == len(str(first.choices[0].message.content).split())
    assert [(c.prompt_tokens, c.stream, c.status) for c in fake_openai.calls] == [(19, False, 200)] * 2


def test_tool_call_then_answer_from_the_tool_result(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, tools=TOOLS)  # type: ignore[arg-type]
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls or []
    assert (call.function.name, call.function.arguments) == ("get_weather", '{"city": "Paris"}')
    followup = [
        *MESSAGES,
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "rainy"},
    ]
    answer = client.chat.completions.create(model="gpt-4o-mini", messages=followup, tools=TOOLS)  # type: ignore[arg-type]
    assert answer.choices[0].message.content == "It is rainy in Paris right now."


def test_no_tool_call_without_tools(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
    assert response.choices[0].message.tool_calls is None


@pytest.mark.parametrize("include_usage", [True, False])
def test_streaming(client: openai.OpenAI, fake_openai: FakeOpenAI, include_usage: bool) -> None:
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,  # type: ignore[arg-type]
        stream=True,
        stream_options={"include_usage": include_usage},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    (call,) = fake_openai.calls
    assert text == call.answer
    if not include_usage:
        assert all(c.usage is None for c in chunks)
    else:
        assert chunks[-1].choices == []
        assert chunks[-1].usage is not None
        assert chunks[-1].usage.prompt_tokens == call.prompt_tokens
    assert call.usage_reported == include_usage


@pytest.mark.parametrize(
    ("marker", "error", "status"),
    [("[error400]", openai.BadRequestError, 400), ("[error500]", openai.InternalServerError, 500)],
)
def test_errors(
    client: openai.OpenAI, fake_openai: FakeOpenAI, marker: str, error: type[Exception], status: int
) -> None:
    with pytest.raises(error, match=f"Simulated {status} error"):
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": f"please fail {marker}"}],
        )
    assert [(c.status, c.prompt_tokens) for c in fake_openai.calls] == [(status, 0)]


@pytest.mark.parametrize(("prompt", "cached"), [(1, 0), (64, 0), (65, 64), (200, 192)])
def test_cached_tokens_in_64_token_blocks(prompt: int, cached: int) -> None:
    assert cached_tokens(prompt) == cached
