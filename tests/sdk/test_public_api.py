"""The public face: an explicit ``__all__``, documented members, and an import that does nothing else."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import threadline
import threadline.testing

SRC = Path(threadline.__file__).resolve().parent
SDK_FILES = [SRC / "__init__.py", SRC / "semconv.py", *sorted((SRC / "_sdk").glob("*.py"))]


def test_exported_members() -> None:
    assert threadline.__all__ == [
        "AgentRun",
        "Conversation",
        "LLMCall",
        "LLMCallRecord",
        "Session",
        "Stats",
        "ToolCall",
        "ToolCallRecord",
        "Turn",
        "agent_run",
        "configure",
        "context_window",
        "conversation",
        "end_session",
        "feedback",
        "flush",
        "hash_user_id",
        "journey",
        "llm_call",
        "new_session_id",
        "observe",
        "send_run",
        "session",
        "set_session",
        "shutdown",
        "stats",
        "tool_call",
        "turn",
    ]
    public = {
        name
        for name, value in vars(threadline).items()
        if not name.startswith(("_", "@")) and not inspect.ismodule(value) and name != "annotations"
    }
    assert public == set(threadline.__all__)


def test_every_public_member_is_documented_and_typed() -> None:
    for name in threadline.__all__:
        member = getattr(threadline, name)
        assert inspect.getdoc(member), f"threadline.{name} has no docstring"
        if inspect.isfunction(member):
            hints = inspect.signature(member)
            assert hints.return_annotation is not inspect.Signature.empty, name
    for name in threadline.testing.__all__:
        assert hasattr(threadline.testing, name)


def test_importing_threadline_patches_nothing_and_pulls_in_no_server_code() -> None:
    probe = """
import sys, threading
from opentelemetry import trace
before = threading.active_count()
import threadline
assert type(trace.get_tracer_provider()).__name__ == "ProxyTracerProvider", trace.get_tracer_provider()
assert threading.active_count() == before
banned = [m for m in ("fastapi", "orjson", "uvicorn", "starlette", "pytest", "threadline.server", "requests")
          if m in sys.modules]
assert not banned, banned
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def test_the_sdk_imports_only_the_standard_library_and_opentelemetry() -> None:
    allowed = set(sys.stdlib_module_names) | {"opentelemetry", "threadline"}
    for path in SDK_FILES:
        for module in _imports(path):
            top = module.split(".")[0]
            assert top in allowed, f"{path.name} imports {module}"
            assert not module.startswith("threadline.server"), f"{path.name} imports {module}"
    testing = {m.split(".")[0] for m in _imports(SRC / "testing.py")}
    assert testing <= allowed | {"pytest"}
