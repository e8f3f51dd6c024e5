"""Projects and API keys over HTTP: /api/v1/projects and /api/v1/keys.

With ``--auth`` a full key manages its own project's keys only (another project's key is a 404), and
projects are created on the server's machine (``threadline projects create --data-dir``). Without
``--auth`` (loopback only) every project is reachable.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from threadline.server.api import params
from threadline.server.api.deps import Runtime, runtime
from threadline.server.api.schemas import ErrorBody
from threadline.server.auth import admin
from threadline.server.auth.access import Access, Forbidden, Principal, principal_of, requires
from threadline.server.auth.secret import server_secret
from threadline.server.errors import BadRequest, NotFound
from threadline.server.ingest.privacy import MAX_PATTERNS
from threadline.server.store.base import ApiKey, ContentPolicy, KeyScope, Project

router = APIRouter(prefix="/api/v1", tags=["access"], dependencies=[Depends(params.known_parameters)])
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody},
    403: {"model": ErrorBody},
    404: {"model": ErrorBody},
}


class ProjectBody(BaseModel):
    name: str
    created_at: float = Field(description="Seconds since the epoch.")
    content_policy: ContentPolicy = Field(description="What is kept of texts: all, their start, or nothing.")
    content_max_chars: int | None = Field(description="Characters kept of each text under 'truncated'.")
    redact_secrets: bool = Field(description="API keys, tokens and e-mail addresses are redacted at ingest.")
    redact_patterns: list[str] = Field(description="The project's own regular expressions, redacted too.")
    retention_days: int | None = Field(description="Sessions quiet this long are removed (null: kept).")


class ProjectChange(BaseModel):
    """Settings to change; those left out stay as they are. ``retention_days: null`` keeps sessions forever."""

    model_config = ConfigDict(extra="forbid")

    content_policy: ContentPolicy | None = None
    content_max_chars: int | None = Field(None, ge=1)
    redact_secrets: bool | None = None
    redact_patterns: list[str] | None = Field(None, max_length=MAX_PATTERNS)
    retention_days: int | None = Field(None, ge=1)


class NewProject(BaseModel):
    name: str


class KeyBody(BaseModel):
    id: str = Field(description="The public part of the key (what Langfuse's SDK calls the public key).")
    project: str
    name: str
    scope: str
    created_at: float
    revoked_at: float | None
    last_used_at: float | None


class KeyRequest(BaseModel):
    project: str | None = Field(None, description="Default: the project of the key asking (or 'default').")
    name: str = ""
    scope: KeyScope = "full"


class CreatedKey(KeyBody):
    key: str = Field(description="The whole key, shown this once: store it now.")


def _project_body(project: Project) -> dict[str, Any]:
    return {
        "name": project.name,
        "created_at": project.created_ns / 1e9,
        "content_policy": project.content_policy,
        "content_max_chars": project.content_max_chars,
        "redact_secrets": project.redact_secrets,
        "redact_patterns": list(project.redact_patterns),
        "retention_days": project.retention_days,
    }


def _key_body(key: ApiKey, project: str) -> dict[str, Any]:
    def seconds(ns: int | None) -> float | None:
        return ns / 1e9 if ns is not None else None

    return {
        "id": key.id,
        "project": project,
        "name": key.name,
        "scope": key.scope,
        "created_at": key.created_ns / 1e9,
        "revoked_at": seconds(key.revoked_ns),
        "last_used_at": seconds(key.last_used_ns),
    }


def _principal(request: Request) -> Principal:
    principal = principal_of(request)
    assert principal is not None  # the route's access check passed
    return principal


def _refusal(error: admin.AdminError) -> BadRequest:
    return BadRequest(str(error).capitalize() + ".", code="bad_request")


@router.get("/projects", response_model=list[ProjectBody], dependencies=[Depends(requires(Access.READ))])
async def list_projects(request: Request, rt: Annotated[Runtime, Depends(runtime)]) -> list[dict[str, Any]]:
    """Without --auth every project; with it, the key's own."""
    principal = _principal(request)
    projects = await run_in_threadpool(rt.store.projects)
    visible = projects if not rt.settings.auth else [p for p in projects if p.id == principal.project_id]
    return [_project_body(p) for p in visible]


@router.post("/projects", response_model=ProjectBody, responses=_ERRORS, dependencies=[Depends(requires(Access.WRITE))])
async def create_project(body: NewProject, rt: Annotated[Runtime, Depends(runtime)]) -> dict[str, Any]:
    if rt.settings.auth:
        raise Forbidden(
            "Projects are created on the server's machine: threadline projects create NAME --data-dir DIR.",
        )
    try:
        project = await run_in_threadpool(admin.create_project, rt.store, body.name, time.time_ns())
    except admin.AdminError as error:
        raise _refusal(error) from None
    return _project_body(project)


@router.patch(
    "/projects/{name}", response_model=ProjectBody, responses=_ERRORS, dependencies=[Depends(requires(Access.WRITE))]
)
async def change_project(
    request: Request, name: str, body: ProjectChange, rt: Annotated[Runtime, Depends(runtime)]
) -> dict[str, Any]:
    """Change a project's privacy and retention (with --auth, the key's own project only). Privacy settings
    apply to what arrives from then on, within seconds."""
    principal = _principal(request)
    if (rt.settings.auth and name != principal.project_name) or await run_in_threadpool(rt.store.project, name) is None:
        raise NotFound(f"No project {name!r} for this key.", detail={"project": name})
    given = body.model_fields_set
    patterns = tuple(body.redact_patterns) if body.redact_patterns is not None else None
    try:
        project = await run_in_threadpool(
            lambda: admin.configure_project(
                rt.store,
                name,
                content_policy=body.content_policy,
                content_max_chars=body.content_max_chars,
                redact_secrets=body.redact_secrets,
                redact_patterns=patterns,
                retention_days=body.retention_days,
                keep_forever="retention_days" in given and body.retention_days is None,
            )
        )
    except admin.AdminError as error:
        raise _refusal(error) from None
    rt.forget_project(project.id)
    return _project_body(project)


@router.get("/keys", response_model=list[KeyBody], dependencies=[Depends(requires(Access.WRITE))])
async def list_keys(request: Request, rt: Annotated[Runtime, Depends(runtime)]) -> list[dict[str, Any]]:
    """The project's keys (every project's without --auth), revoked ones included."""
    principal = _principal(request)

    def load() -> list[dict[str, Any]]:
        names = {p.id: p.name for p in rt.store.projects()}
        wanted = principal.project_id if rt.settings.auth else None
        return [_key_body(k, names.get(k.project_id, "?")) for k in rt.store.api_keys(wanted)]

    return await run_in_threadpool(load)


@router.post("/keys", response_model=CreatedKey, responses=_ERRORS, dependencies=[Depends(requires(Access.WRITE))])
async def create_key(request: Request, body: KeyRequest, rt: Annotated[Runtime, Depends(runtime)]) -> dict[str, Any]:
    """A new key, shown once in the answer."""
    principal = _principal(request)
    project = body.project or principal.project_name
    if rt.settings.auth and project != principal.project_name:
        raise NotFound(f"No project {project!r} for this key.", detail={"project": project})
    secret = server_secret(rt.settings.secret_key, rt.settings.data_dir)
    try:
        made = await run_in_threadpool(
            admin.create_key, rt.store, secret, project, body.name, body.scope, time.time_ns()
        )
    except admin.AdminError as error:
        raise _refusal(error) from None
    return {**_key_body(made.record, made.project.name), "key": made.key}


@router.delete(
    "/keys/{key_id}", response_model=KeyBody, responses=_ERRORS, dependencies=[Depends(requires(Access.WRITE))]
)
async def revoke_key(request: Request, key_id: str, rt: Annotated[Runtime, Depends(runtime)]) -> dict[str, Any]:
    """Revoke a key: it, and the web sessions signed in with it, stop working within seconds."""
    principal = _principal(request)
    scope = principal.project_id if rt.settings.auth else None
    try:
        revoked = await run_in_threadpool(admin.revoke_key, rt.store, key_id, time.time_ns(), scope)
    except admin.AdminError as error:
        raise NotFound(str(error).capitalize() + ".", detail={"key_id": key_id}) from None
    if rt.authenticator is not None:
        rt.authenticator.forget()
    project = await run_in_threadpool(rt.store.project_by_id, revoked.project_id)
    return _key_body(revoked, project.name if project else "?")
