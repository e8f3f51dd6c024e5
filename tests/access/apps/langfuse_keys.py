"""Langfuse's Python SDK with its usual two keys, pointed at Threadline: one session of two turns."""

from __future__ import annotations

import sys

from langfuse import Langfuse, propagate_attributes

public_key, secret_key, host, session_id = sys.argv[1:5]
langfuse = Langfuse(public_key=public_key, secret_key=secret_key, host=host)
with propagate_attributes(session_id=session_id, user_id="lf-user"):
    for question, answer in (("Hello?", "Hi."), ("Where is my parcel?", "On its way.")):
        with langfuse.start_as_current_observation(as_type="agent", name="turn", input=question) as turn:
            with langfuse.start_as_current_observation(as_type="generation", name="llm", model="gpt-4o-mini") as llm:
                llm.update(output=answer, usage_details={"input": 12, "output": 4})
            turn.update(output=answer)
langfuse.flush()
langfuse.shutdown()
