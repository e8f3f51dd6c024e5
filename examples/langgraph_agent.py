"""A LangGraph ``StateGraph`` agent instrumented with Threadline.

The graph's state carries the Threadline session id and the turn number, so numbering stays right
whichever process serves the next message (the checkpointer, not the process, remembers the
conversation). Each ``chat()`` call is one turn: the model node records an LLM call, the tool node a
tool call, and the answer becomes the turn's output.

    python examples/langgraph_agent.py --openai https://api.openai.com/v1 --threadline http://127.0.0.1:4318

Needs ``pip install langgraph openai``; ``OPENAI_API_KEY`` is read by the OpenAI client.
"""

from __future__ import annotations

import argparse
import json
import operator
from typing import Annotated, Any, TypedDict

import openai
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph

import threadline

MODEL = "gpt-4o-mini"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    }
]


def get_weather(city: str) -> str:
    return {"Paris": "18°C and cloudy"}.get(city, "20°C and sunny")


class AgentState(TypedDict):
    session_id: str
    user_id: str
    turn_number: int
    messages: Annotated[list[dict[str, Any]], operator.add]


def build_graph(client: openai.OpenAI, model: str = MODEL) -> Any:
    """agent → (tools → agent)* → end, with a checkpointer keyed by the session id."""

    def call_model(state: AgentState) -> dict[str, Any]:
        with threadline.llm_call(model=model, provider="openai") as call:
            response = client.chat.completions.create(model=model, messages=state["messages"], tools=TOOLS)  # type: ignore[arg-type]
            message = response.choices[0].message
            usage = response.usage
            call.record(
                input_tokens=usage.prompt_tokens if usage else None,
                output_tokens=usage.completion_tokens if usage else None,
                input=state["messages"],
                output=message.content or "",
                response_model=response.model,
                finish_reason=response.choices[0].finish_reason,
            )
        return {"messages": [message.model_dump(exclude_none=True)]}

    def run_tools(state: AgentState) -> dict[str, Any]:
        results = []
        for request in state["messages"][-1].get("tool_calls", []):
            name, arguments = request["function"]["name"], request["function"]["arguments"]
            with threadline.tool_call(name, arguments, call_id=request["id"]) as tool:
                result = get_weather(**json.loads(arguments))
                tool.result(result)
            results.append({"role": "tool", "tool_call_id": request["id"], "content": result})
        return {"messages": results}

    def route(state: AgentState) -> str:
        return "tools" if state["messages"][-1].get("tool_calls") else END

    graph = StateGraph(AgentState)
    graph.add_node("agent", call_model)
    graph.add_node("tools", run_tools)
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", route, ["tools", END])
    graph.add_edge("tools", "agent")
    return graph.compile(checkpointer=InMemorySaver())


def chat(graph: Any, session_id: str, user_id: str, text: str) -> str:
    """One turn: the next turn number comes from the graph's saved state, not from this process."""
    config = {"configurable": {"thread_id": session_id}}
    number = graph.get_state(config).values.get("turn_number", 0) + 1
    with threadline.session(session_id, user_id=user_id), threadline.turn(text, turn_number=number) as turn:
        state = graph.invoke(
            {
                "session_id": session_id,
                "user_id": user_id,
                "turn_number": number,
                "messages": [{"role": "user", "content": text}],
            },
            config,
        )
        answer = str(state["messages"][-1].get("content") or "")
        turn.output(answer)
    return answer


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description="LangGraph agent instrumented with Threadline")
    parser.add_argument("--openai", default=None, help="OpenAI-compatible base URL")
    parser.add_argument("--threadline", default="http://127.0.0.1:4318", help="Threadline URL")
    parser.add_argument("--session-id", default=None)
    args = parser.parse_args(argv)

    threadline.configure(endpoint=args.threadline, service_name="langgraph-example")
    graph = build_graph(openai.OpenAI(base_url=args.openai, max_retries=0))
    session_id = args.session_id or threadline.new_session_id()
    for text in ("What's the weather in Paris?", "Should I take an umbrella?", "Thanks!"):
        print(f"> {text}\n{chat(graph, session_id, 'ana@example.com', text)}")
    threadline.shutdown()
    print(session_id)
    return session_id


if __name__ == "__main__":
    main()
