"""Jobs persisted in an embedded SQLite file, so accepted jobs survive a restart.

A job row is written (and committed) before `SubmitJob` answers, and every
state change is committed as it happens. WAL journaling keeps committed rows
safe when the server process is killed. On start, `recover` marks the jobs
that were running as INTERRUPTED and returns the queued ones to run again.
"""

from __future__ import annotations

import builtins
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from qsched.v1 import scheduler_pb2

TERMINAL_STATES = frozenset(
    {
        scheduler_pb2.JOB_STATE_SUCCEEDED,
        scheduler_pb2.JOB_STATE_FAILED,
        scheduler_pb2.JOB_STATE_CANCELLED,
        scheduler_pb2.JOB_STATE_INTERRUPTED,
    }
)

INTERRUPTED_MESSAGE = "the server stopped while this job was running"
#: Retention never deletes a job that ended less than this long ago (seconds).
PRUNE_GRACE_SECONDS = 60.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    state INTEGER NOT NULL,
    solver TEXT NOT NULL,
    problem_name TEXT NOT NULL,
    created REAL NOT NULL,
    started REAL,
    ended REAL,
    request BLOB NOT NULL,
    progress BLOB,
    result BLOB,
    error TEXT NOT NULL DEFAULT '',
    tenant TEXT NOT NULL DEFAULT '',
    best BLOB
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, seq);
"""

#: Columns later versions added, with their declarations, for stores written before them.
_ADDED_COLUMNS = {"tenant": "TEXT NOT NULL DEFAULT ''", "best": "BLOB"}

_SUMMARY_COLUMNS = "id, state, solver, problem_name, created, started, ended, progress, error"


def _timestamp(seconds: float | None) -> Timestamp | None:
    if seconds is None:
        return None
    stamp = Timestamp()
    stamp.FromNanoseconds(int(seconds * 1e9))
    return stamp


class JobStore:
    """Thread-safe access to the jobs table of one SQLite file."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(jobs)")}
            for column, declaration in _ADDED_COLUMNS.items():  # a store from an older qsched
                if column not in columns:
                    self._db.execute(f"ALTER TABLE jobs ADD COLUMN {column} {declaration}")
        except sqlite3.Error as error:
            raise OSError(f"cannot open the job store {self.path}: {error}") from None

    def size_bytes(self) -> int:
        """The store's size on disk: the database file and its write-ahead log."""
        files = (self.path, self.path.with_name(self.path.name + "-wal"))
        return sum(f.stat().st_size for f in files if f.exists())

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add(self, request: scheduler_pb2.SolveRequest, tenant: str = "") -> scheduler_pb2.Job:
        """Persist a new QUEUED job of ``tenant``; it is durable when this returns."""
        job_id = uuid.uuid4().hex
        with self._lock:
            self._db.execute(
                "INSERT INTO jobs (id, state, solver, problem_name, created, request, tenant) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    job_id,
                    scheduler_pb2.JOB_STATE_QUEUED,
                    request.solver,
                    request.problem.name,
                    time.time(),
                    request.SerializeToString(),
                    tenant,
                ),
            )
        added = self.get(job_id)
        assert added is not None, "a job is there once added: only ended jobs are pruned"
        return added

    def get(
        self, job_id: str, *, include_request: bool = False, tenant: str | None = None
    ) -> scheduler_pb2.Job | None:
        """The job, or None if there is none (of ``tenant``, when given)."""
        columns = _SUMMARY_COLUMNS + ", result" + (", request" if include_request else "")
        query = f"SELECT {columns} FROM jobs WHERE id = ?"
        params: tuple[str, ...] = (job_id,)
        if tenant is not None:
            query, params = query + " AND tenant = ?", (job_id, tenant)
        with self._lock:
            row = self._db.execute(query, params).fetchone()
        if row is None:
            return None
        job = self._summary(row[:9])
        if row[9] is not None:
            job.result.ParseFromString(row[9])
        if include_request:
            job.request.ParseFromString(row[10])
        return job

    def request(self, job_id: str) -> tuple[scheduler_pb2.SolveRequest, str]:
        """The job's request and its tenant."""
        with self._lock:
            blob, tenant = self._db.execute(
                "SELECT request, tenant FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
        return scheduler_pb2.SolveRequest.FromString(blob), tenant

    def list(
        self,
        state: int,
        limit: int,
        before_seq: int | None,
        tenant: str | None = None,
        max_bytes: int = 1 << 20,
    ) -> tuple[list[scheduler_pb2.Job], int | None]:
        """Newest first (of ``tenant``, when given), at most ``limit`` jobs and about
        ``max_bytes`` (always at least one job); returns the jobs and the ``seq`` to continue
        below (None at the end)."""
        clauses: list[str] = []
        params: list[str | int] = []
        if tenant is not None:
            clauses.append("tenant = ?")
            params.append(tenant)
        if state:
            clauses.append("state = ?")
            params.append(state)
        if before_seq is not None:
            clauses.append("seq < ?")
            params.append(before_seq)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._lock:
            rows = self._db.execute(
                f"SELECT seq, {_SUMMARY_COLUMNS} FROM jobs {where} ORDER BY seq DESC LIMIT ?",
                (*params, limit + 1),
            ).fetchall()
        jobs: list[scheduler_pb2.Job] = []
        size = 0
        for row in rows[:limit]:
            job = self._summary(row[1:])
            size += job.ByteSize()
            if jobs and size > max_bytes:
                return jobs, row[0] + 1  # continue from this job: the page is full
            jobs.append(job)
        next_seq = rows[limit - 1][0] if len(rows) > limit else None
        return jobs, next_seq

    def count(self, state: int) -> int:
        with self._lock:
            (count,) = self._db.execute(
                "SELECT COUNT(*) FROM jobs WHERE state = ?", (state,)
            ).fetchone()
        return int(count)

    def mark_running(self, job_id: str) -> bool:
        """QUEUED -> RUNNING; False if the job is no longer queued (e.g. cancelled)."""
        return self._transition(
            job_id,
            scheduler_pb2.JOB_STATE_RUNNING,
            "started = ?",
            (time.time(),),
            only_from=scheduler_pb2.JOB_STATE_QUEUED,
        )

    def save_progress(
        self,
        job_id: str,
        point: scheduler_pb2.ConvergencePoint,
        best: scheduler_pb2.SolveResponse | None = None,
    ) -> None:
        """Record progress and, when given, the best schedule so far: a job whose worker or
        server dies ends with that schedule (`finish`, `recover`)."""
        with self._lock:
            if best is None:
                self._db.execute(
                    "UPDATE jobs SET progress = ? WHERE id = ?",
                    (point.SerializeToString(), job_id),
                )
            else:
                self._db.execute(
                    "UPDATE jobs SET progress = ?, best = ? WHERE id = ?",
                    (point.SerializeToString(), best.SerializeToString(), job_id),
                )

    def finish(
        self,
        job_id: str,
        state: int,
        *,
        result: scheduler_pb2.SolveResponse | None = None,
        error: str = "",
        only_from: int | None = None,
    ) -> bool:
        """Move a job that has not ended yet (or is in ``only_from``) into a terminal state,
        with ``result``, else its saved best schedule; False if it could not."""
        blob = result.SerializeToString() if result is not None else None
        return self._transition(
            job_id,
            state,
            "ended = ?, result = COALESCE(?, best), best = NULL, error = ?",
            (time.time(), blob, error),
            only_from,
        )

    def _transition(
        self,
        job_id: str,
        state: int,
        assignments: str,
        values: tuple[object, ...],
        only_from: int | None = None,
    ) -> bool:
        allowed = (
            (only_from,)
            if only_from is not None
            else (scheduler_pb2.JOB_STATE_QUEUED, scheduler_pb2.JOB_STATE_RUNNING)
        )
        marks = ", ".join("?" * len(allowed))
        with self._lock:
            cursor = self._db.execute(
                f"UPDATE jobs SET state = ?, {assignments} WHERE id = ? AND state IN ({marks})",
                (state, *values, job_id, *allowed),
            )
        return cursor.rowcount == 1

    def prune(
        self, max_age_seconds: float | None, max_jobs: int | None, now: float | None = None
    ) -> int:
        """Delete ended jobs older than ``max_age_seconds``, and all but the ``max_jobs`` that
        ended last; a job that ended within `PRUNE_GRACE_SECONDS` is kept either way (its
        caller may still be reading it), and queued and running jobs are never touched.
        Returns how many went (SQLite reuses their pages, so the file stops growing)."""
        ended = ", ".join(str(state) for state in sorted(TERMINAL_STATES))
        now = time.time() if now is None else now
        settled = f"state IN ({ended}) AND ended < {now - PRUNE_GRACE_SECONDS!r}"
        deleted = 0
        with self._lock:
            if max_age_seconds is not None:
                deleted += self._db.execute(
                    f"DELETE FROM jobs WHERE {settled} AND ended < ?", (now - max_age_seconds,)
                ).rowcount
            if max_jobs is not None:
                deleted += self._db.execute(
                    f"DELETE FROM jobs WHERE {settled} AND seq NOT IN (SELECT seq FROM jobs "
                    f"WHERE state IN ({ended}) ORDER BY ended DESC, seq DESC LIMIT ?)",
                    (max_jobs,),
                ).rowcount
        return deleted

    def recover(self) -> builtins.list[str]:  # `list` here is the method above
        """After a restart: RUNNING jobs become INTERRUPTED, with the best schedule they had
        saved; returns the QUEUED ids, oldest first."""
        with self._lock:
            self._db.execute(
                "UPDATE jobs SET state = ?, ended = ?, error = ?, result = COALESCE(result, best), "
                "best = NULL "
                "WHERE state = ?",
                (
                    scheduler_pb2.JOB_STATE_INTERRUPTED,
                    time.time(),
                    INTERRUPTED_MESSAGE,
                    scheduler_pb2.JOB_STATE_RUNNING,
                ),
            )
            rows = self._db.execute(
                "SELECT id FROM jobs WHERE state = ? ORDER BY seq",
                (scheduler_pb2.JOB_STATE_QUEUED,),
            ).fetchall()
        return [job_id for (job_id,) in rows]

    @staticmethod
    def _summary(row: tuple[Any, ...]) -> scheduler_pb2.Job:
        job_id, state, solver, problem_name, created, started, ended, progress, error = row
        job = scheduler_pb2.Job(
            id=job_id,
            state=state,
            solver=solver,
            problem_name=problem_name,
            created_time=_timestamp(created),
            start_time=_timestamp(started),
            end_time=_timestamp(ended),
            error=error,
        )
        if progress is not None:
            job.progress.ParseFromString(progress)
        return job
