"""An OpenAI client instrumented by OpenInference, inside Threadline sessions and turns.

OpenInference makes the LLM spans (model, tokens, messages); Threadline says which session, user and
turn they belong to. No trace join is needed: Threadline's span processor stamps the session id and
the hashed user id on every span OpenInference starts inside ``threadline.session(...)``.

    python examples/openinference_openai.py --openai https://api.openai.com/v1 --threadline http://127.0.0.1:4318

Needs ``pip install openai openinference-instrumentation-openai``.
"""

from __future__ import annotations

import argparse
from typing import Any

import openai
from openinference.instrumentation.openai import OpenAIInstrumentor

import threadline


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description="OpenInference-instrumented OpenAI client in a session")
    parser.add_argument("--openai", default=None, help="OpenAI-compatible base URL")
    parser.add_argument("--threadline", default="http://127.0.0.1:4318", help="Threadline URL")
    args = parser.parse_args(argv)

    # configure() creates the global TracerProvider (or joins the application's); instrument after it.
    threadline.configure(endpoint=args.threadline, service_name="openinference-example")
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    client = openai.OpenAI(base_url=args.openai, max_retries=0)

    history: list[dict[str, Any]] = [{"role": "system", "content": "You are a concise travel assistant."}]
    with threadline.session(user_id="ana@example.com", channel="web", type="chat") as session:
        for question in ("Plan a weekend in Lisbon", "What about the food?", "[error500] And the weather?"):
            history.append({"role": "user", "content": question})
            with threadline.turn(question, input_type="question") as turn:
                try:
                    response = client.chat.completions.create(model="gpt-4o-mini", messages=history)  # type: ignore[arg-type]
                except openai.APIError as exc:
                    turn.error(exc)
                    continue
                answer = response.choices[0].message.content or ""
                history.append({"role": "assistant", "content": answer})
                turn.output(answer)
            print(f"> {question}\n{answer}")
    instrumentor.uninstrument()
    threadline.shutdown()
    print(session.id)
    return session.id


if __name__ == "__main__":
    main()
