"""User ids never leave in clear; with content capture off, no prompt or answer text leaves at all."""

from __future__ import annotations

import hashlib
import hmac

import threadline
from threadline.testing import Capture, configured

SECRET = "my IBAN is FR76 3000 6000 0112 3456 7890 189"


def test_hash_user_id_is_a_keyed_hmac_sha256() -> None:
    expected = hmac.new(b"pepper", b"alice@example.com", hashlib.sha256).hexdigest()[:32]
    assert threadline.hash_user_id("alice@example.com", salt="pepper") == expected
    assert threadline.hash_user_id("alice@example.com", salt="other") != expected
    with configured(user_id_salt="pepper"):
        assert threadline.hash_user_id("alice@example.com") == expected
        with threadline.session(user_id="alice@example.com") as session:
            assert session.user_id == expected


def test_new_session_ids_have_the_documented_shape() -> None:
    ids = {threadline.new_session_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) == 21 and i.startswith("sess_") and int(i[5:], 16) >= 0 for i in ids)


def test_user_ids_in_clear_on_other_libraries_spans_are_hashed_at_export(threadline_capture: Capture) -> None:
    tracer = threadline_capture.provider.get_tracer("langfuse-like")
    with tracer.start_as_current_span("generation") as span:
        span.set_attributes({"langfuse.user.id": "ivan", "enduser.id": "ivan", "user.id": 42})
    attributes = threadline_capture.spans[0].attributes
    assert attributes["langfuse.user.id"] == attributes["enduser.id"] == threadline.hash_user_id("ivan")
    assert attributes["user.id"] == threadline.hash_user_id("42")


def test_without_content_capture_no_text_leaves_the_process() -> None:
    with configured(capture_content=False) as capture:
        foreign = capture.provider.get_tracer("openinference-like")
        with threadline.session("sess_private", user_id="judy"), threadline.turn(SECRET, input_type="q") as turn:
            with threadline.llm_call(model="gpt-4o", provider="openai", input=SECRET) as call:
                call.record(
                    input_tokens=50, output_tokens=9, input=[{"role": "user", "content": SECRET}], output=SECRET
                )
            with threadline.tool_call("lookup", {"q": SECRET}) as tool:
                tool.result(SECRET)
            with foreign.start_as_current_span("ChatCompletion") as span:
                span.set_attributes(
                    {
                        "input.value": SECRET,
                        "llm.input_messages.0.message.content": SECRET,
                        "gen_ai.prompt.0.content": SECRET,
                        "llm.token_count.prompt": 50,
                    }
                )
                span.add_event("gen_ai.user.message", {"content": SECRET})
            threadline.feedback(-1, comment=SECRET)
            turn.output(SECRET)
        spans = capture.spans
    text = repr([(dict(s.attributes), [(e.name, dict(e.attributes)) for e in s.events]) for s in spans])
    assert "IBAN" not in text
    root = spans[-1].attributes
    assert root["turn.input_length"] == root["turn.output_length"] == len(SECRET)
    assert spans[0].attributes["gen_ai.usage.input_tokens"] == 50
    assert spans[2].attributes["llm.token_count.prompt"] == 50
    assert root["turn.feedback"] == -1
