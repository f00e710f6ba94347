"""Structured logs (``qsched serve --log-format json``): one JSON object per line.

Every record carries its time, level, logger and message; records about a job also carry
``job_id``, ``tenant`` and ``solver`` (passed as ``extra``), so a log pipeline can follow one
job or one tenant without parsing messages.
"""

from __future__ import annotations

import json
import logging

#: The ``extra`` fields a record may carry.
FIELDS = ("job_id", "tenant", "solver", "state")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry |= {name: getattr(record, name) for name in FIELDS if hasattr(record, name)}
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def use_json_logs() -> None:
    """Send the root logger's records to stderr as JSON lines."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers = [handler]
