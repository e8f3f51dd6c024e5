"""Erasure (privacy requests, retention): delete everything stored for sessions or orphan traces.

Deletes are lightweight ``DELETE``s that return once applied, so every later read is exact: stats count
what is stored, users are aggregated from the sessions left. A trace whose spans also named another
session leaves that session's candidates: it is refolded from what remains (its rows replaced, since
its version may now be lower). ``repair`` does this for any sessions and traces; the writer runs it again
for an erasure's sessions and traces a while later, to undo rows that a server which read before the
delete wrote after it.
"""

from __future__ import annotations

from collections.abc import Sequence

from threadline.server.ingest.port import Erased
from threadline.server.store.base import chunks
from threadline.server.store.clickhouse.connection import Connection
from threadline.server.store.clickhouse.refold import IN_CHUNK, Refolder
from threadline.server.store.clickhouse.schema import Schema
from threadline.server.store.clickhouse.sql import literal, values

DELETE_SETTINGS = {"lightweight_deletes_sync": 2, "mutations_sync": 2}


class Eraser:
    def __init__(self, conn: Connection, schema: Schema, refolder: Refolder) -> None:
        self.conn = conn
        self.schema = schema
        self.refolder = refolder
        self.rechecks: list[tuple[int, list[str], list[bytes]]] = []
        """What to ``repair`` again a while after the erasures made since last taken."""

    def live_sessions(self, project_id: int, condition: str) -> list[str]:
        rows = self.conn.query(
            f"SELECT session_id FROM sessions FINAL WHERE project_id = {project_id} AND alive = 1 AND {condition}"
        )
        return sorted(r[0] for r in rows)

    def erase_sessions(self, project_id: int, session_ids: Sequence[str]) -> Erased:
        """Remove these sessions, their traces, spans and log events; sessions those traces also named are
        folded again without them."""
        erased = Erased()
        if not session_ids:
            return erased
        traces: list[bytes] = []
        for chunk in chunks(session_ids, IN_CHUNK):
            traces += [
                r[0]
                for r in self.conn.query(
                    f"SELECT trace_id FROM session_traces FINAL WHERE project_id = {project_id} "
                    f"AND session_id IN {values(chunk)} AND home = session_id"
                )
            ]
        named = set(session_ids)
        for chunk in chunks(traces, IN_CHUNK):
            named |= {
                r[0]
                for r in self.conn.query(
                    f"SELECT DISTINCT session_id FROM spans WHERE project_id = {project_id} "
                    f"AND trace_id IN {values(chunk)} AND session_id != ''"
                )
            }
        erased.add(self.delete_traces(project_id, traces))
        for chunk in chunks(session_ids, IN_CHUNK):
            self._delete("session_traces", f"project_id = {project_id} AND session_id IN {values(chunk)}")
        self.repair(project_id, sorted(named), traces)
        self.rechecks.append((project_id, sorted(named), traces))
        erased.sessions = list(session_ids)
        return erased

    def repair(self, project_id: int, session_ids: Sequence[str], trace_ids: Sequence[bytes]) -> None:
        """Make the rows of these sessions and traces what the copies stored now give: their rows are deleted,
        then what is still stored is folded again. Run after a delete, and once more a while later
        (``writer.RECHECK_S``): a server that read before the delete may have written rows since."""
        for chunk in chunks(trace_ids, IN_CHUNK):
            self._delete("traces", f"project_id = {project_id} AND trace_id IN {values(chunk)}")
            for sessions in chunks(session_ids, IN_CHUNK):
                self._delete(
                    "session_traces",
                    f"project_id = {project_id} AND session_id IN {values(sessions)} AND trace_id IN {values(chunk)}",
                )
        for chunk in chunks(session_ids, IN_CHUNK):
            self._delete("sessions", f"project_id = {project_id} AND session_id IN {values(chunk)}")
        self.refolder.sessions.forget(project_id, session_ids)
        stored = self.refolder.read_items(project_id, trace_ids)
        folds = self.refolder.refold_traces(project_id, stored)
        named = set(session_ids) | {s for fold in folds.values() for s in fold.named}
        self.refolder.refold_sessions(project_id, sorted(named))

    def delete_orphans(self, project_id: int, trace_ids: Sequence[bytes]) -> Erased:
        erased = self.delete_traces(project_id, trace_ids)
        if trace_ids:
            self.rechecks.append((project_id, [], list(trace_ids)))
        return erased

    def delete_traces(self, project_id: int, trace_ids: Sequence[bytes]) -> Erased:
        """Remove traces' spans, log events and rows; counts the spans removed."""
        erased = Erased(trace_ids=list(trace_ids))
        for chunk in chunks(trace_ids, IN_CHUNK):
            where = f"project_id = {project_id} AND trace_id IN {values(chunk)}"
            rows = self.conn.query(f"SELECT uniqExact(trace_id, span_id) FROM spans WHERE {where} AND item = 0")
            erased.spans += int(rows[0][0]) if rows else 0
            self._delete("spans", where)
            self._delete("traces", where)
        return erased

    def orphan_traces(self, project_id: int, condition: str) -> list[bytes]:
        rows = self.conn.query(
            f"SELECT trace_id FROM traces FINAL WHERE project_id = {project_id} AND session_id = '' AND {condition} "
            "ORDER BY trace_id"
        )
        return [r[0] for r in rows]

    def erase_user(self, project_id: int, user_ids: Sequence[str]) -> Erased:
        users = values(user_ids)
        erased = self.erase_sessions(project_id, self.live_sessions(project_id, f"user_id IN {users}"))
        erased.add(self.delete_orphans(project_id, self.orphan_traces(project_id, f"user_id IN {users}")))
        return erased

    def expire_sessions(self, project_id: int, session_ids: Sequence[str], before_ns: int) -> Erased:
        quiet: list[str] = []
        for chunk in chunks(session_ids, IN_CHUNK):
            quiet += self.live_sessions(project_id, f"session_id IN {values(chunk)} AND last_ns < {literal(before_ns)}")
        return self.erase_sessions(project_id, quiet)

    def expire_orphan_traces(self, project_id: int, trace_ids: Sequence[bytes], before_ns: int) -> Erased:
        old: list[bytes] = []
        for chunk in chunks(trace_ids, IN_CHUNK):
            old += self.orphan_traces(project_id, f"trace_id IN {values(chunk)} AND start_ns < {literal(before_ns)}")
        return self.delete_orphans(project_id, old)

    def _delete(self, table: str, where: str) -> None:
        self.conn.write(f"DELETE FROM {self.schema.deletable(table)} WHERE {where}", DELETE_SETTINGS)
