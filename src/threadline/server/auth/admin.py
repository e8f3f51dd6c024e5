"""Creating projects and API keys: one implementation for the command line (on the database) and the API.

A project name is 1 to 64 characters of letters, digits, ``-``, ``_`` and ``.``. A key is shown once, by
whoever creates it; only its HMAC is stored (``keys.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import cast

from threadline.server.auth import keys
from threadline.server.ingest.privacy import POLICIES, validate_patterns
from threadline.server.store.base import Admin, ApiKey, ContentPolicy, KeyScope, Project

PROJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SCOPES: tuple[KeyScope, ...] = ("full", "read", "ingest")


class AdminError(ValueError):
    """A refusal to show the person asking (a bad name, an unknown project or key)."""


@dataclass(frozen=True, slots=True)
class NewKey:
    key: str
    """The whole key: shown once, never stored."""
    record: ApiKey
    project: Project


def create_project(store: Admin, name: str, now_ns: int) -> Project:
    if not PROJECT_NAME.match(name):
        raise AdminError(
            f"{name!r} is not a project name: use 1 to 64 letters, digits, '-', '_' or '.', starting with a letter "
            "or digit"
        )
    try:
        return store.create_project(name, now_ns)
    except ValueError:
        raise AdminError(f"a project named {name!r} exists already") from None


def project_named(store: Admin, name: str) -> Project:
    project = store.project(name)
    if project is None:
        known = ", ".join(p.name for p in store.projects())
        raise AdminError(f"no project named {name!r} (projects: {known}); create it with `threadline projects create`")
    return project


def create_key(store: Admin, secret: bytes, project_name: str, name: str, scope: KeyScope, now_ns: int) -> NewKey:
    if scope not in SCOPES:
        raise AdminError(f"{scope!r} is not a key scope: use one of {', '.join(SCOPES)}")
    project = project_named(store, project_name)
    public, key = keys.generate()
    record = ApiKey(public, project.id, name, scope, now_ns)
    store.add_key(record, keys.digest(secret, key))
    return NewKey(key, record, project)


def revoke_key(store: Admin, key_id: str, now_ns: int, project_id: int | None = None) -> ApiKey:
    """Revoke a key (of ``project_id`` only, when given); its sessions end with it."""
    found = store.key(key_id)
    if found is None or (project_id is not None and found[0].project_id != project_id):
        raise AdminError(f"no key {key_id!r}; list keys with `threadline keys list`")
    if not store.revoke_key(key_id, now_ns):
        raise AdminError(f"the key {key_id!r} was revoked already")
    refreshed = store.key(key_id)
    assert refreshed is not None
    return refreshed[0]


def configure_project(
    store: Admin,
    name: str,
    *,
    content_policy: str | None = None,
    content_max_chars: int | None = None,
    redact_secrets: bool | None = None,
    redact_patterns: tuple[str, ...] | None = None,
    retention_days: int | None = None,
    keep_forever: bool = False,
) -> Project:
    """Change a project's privacy and retention settings (what is not given stays as it is)."""
    project = project_named(store, name)
    if content_policy is not None and content_policy not in POLICIES:
        raise AdminError(f"{content_policy!r} is not a content policy: use one of {', '.join(POLICIES)}")
    if content_max_chars is not None and content_max_chars < 1:
        raise AdminError("the characters kept of a text must be at least 1")
    if retention_days is not None and retention_days < 1:
        raise AdminError("retention is at least 1 day (or keep everything: no retention)")
    if redact_patterns is not None and (problems := validate_patterns(redact_patterns)):
        raise AdminError("; ".join(problems))
    changed = replace(
        project,
        content_policy=cast(ContentPolicy, content_policy or project.content_policy),
        content_max_chars=content_max_chars if content_max_chars is not None else project.content_max_chars,
        redact_secrets=project.redact_secrets if redact_secrets is None else redact_secrets,
        redact_patterns=project.redact_patterns if redact_patterns is None else redact_patterns,
        retention_days=None if keep_forever else (retention_days or project.retention_days),
    )
    store.update_project(changed)
    return changed
