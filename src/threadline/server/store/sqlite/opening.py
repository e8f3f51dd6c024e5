"""Why a database could not be opened or written, in one line an operator (or a client) can act on."""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

from threadline.server.ingest.port import StoreWriteRefused
from threadline.server.store.base import StoreUnavailable

_ERRNO_CAUSES = {
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the file system is read-only",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EEXIST: "a file of that name is in the way of the folder",
    errno.ENOSPC: "the disk is full",
}


def unavailable(path: Path, exc: BaseException) -> StoreUnavailable:
    """``exc`` (raised while opening or migrating ``path``) as a ``StoreUnavailable`` with the path and cause."""
    folder = path.parent
    if isinstance(exc, StoreUnavailable):
        return exc if str(path) in str(exc) else StoreUnavailable(f"{path}: {exc}")
    if isinstance(exc, OSError):
        cause = _ERRNO_CAUSES.get(exc.errno or 0, exc.strerror or str(exc))
        if exc.errno == errno.ENOENT:
            cause = _missing_folder_cause(folder)
        return StoreUnavailable(f"cannot use the data folder {folder}: {cause}; pass --data-dir a writable folder")
    if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
        return StoreUnavailable(
            f"{path} is not a readable Threadline database ({exc}); move it away or pass another --data-dir"
        )
    if isinstance(exc, sqlite3.OperationalError):
        return StoreUnavailable(f"cannot open the database {path}: {_operational_cause(folder, exc)}")
    return StoreUnavailable(f"cannot open the database {path}: {exc}")


def _missing_folder_cause(folder: Path) -> str:
    parent = next((p for p in folder.parents if p.exists()), Path("/"))
    if parent == folder.parent:
        return f"{parent} does not accept new folders"
    return f"{parent} exists but a folder between it and the data folder cannot be created"


def _operational_cause(folder: Path, exc: sqlite3.OperationalError) -> str:
    text = str(exc)
    if "readonly" in text or "unable to open" in text:
        if not folder.is_dir():
            return "the data folder is not a folder"
        if not os.access(folder, os.W_OK) or _read_only_mount(folder):
            return "the data folder is not writable (read-only file system or permissions); pass another --data-dir"
    if "disk" in text and "full" in text:
        return "the disk is full"
    return text


def _read_only_mount(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


_RETRYABLE = {
    sqlite3.SQLITE_FULL: "the disk is full",
    sqlite3.SQLITE_IOERR: "the disk reported an I/O error",
    sqlite3.SQLITE_BUSY: "the database is busy",
    sqlite3.SQLITE_LOCKED: "the database is locked",
    sqlite3.SQLITE_NOMEM: "SQLite ran out of memory",
    sqlite3.SQLITE_READONLY: "the database became read-only",
    sqlite3.SQLITE_CANTOPEN: "a database file cannot be opened",
}


def write_refusal(path: Path, exc: sqlite3.Error) -> StoreWriteRefused | None:
    """``exc`` as a ``StoreWriteRefused`` when the same write may succeed later; None for anything else."""
    code = getattr(exc, "sqlite_errorcode", None)
    cause = _RETRYABLE.get(code & 0xFF) if isinstance(code, int) else None
    if cause is None:
        return None
    return StoreWriteRefused(f"{cause} ({path}); nothing was written")
