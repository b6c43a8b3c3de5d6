"""A real ``agentsight serve`` process on a loopback port, for end-to-end tests."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_LISTENING = re.compile(r"listening on (http://\S+)")
_CLI = [sys.executable, "-m", "agentsight._cli"]


def create_key(db: Path, project: str, scope: str = "admin", cwd: Path | None = None) -> str:
    """A new key of *scope* for *project*, made with ``agentsight keys create``
    (of the package in *cwd*, when given: ``-m`` imports from the working directory first)."""
    done = subprocess.run(
        [*_CLI, "keys", "create", "--db", str(db), "--project", project, "--scope", scope],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip().splitlines()[-1]


class CollectorProcess:
    """``agentsight serve`` on port 0 with its own SQLite file; keys per project.

    *args* go to ``agentsight serve`` as they are (``--rate-limit 10``, say).
    *cwd*: a folder holding another ``agentsight`` package to run (an older release).
    """

    def __init__(
        self, db: Path, port: int = 0, args: Sequence[str] = (), cwd: Path | None = None
    ) -> None:
        self.db = db
        self.port = port
        self.args = list(args)
        self.cwd = cwd
        # Admin keys, for the tests' own reads and changes; bots get ingest keys.
        self.keys = {"A": create_key(db, "A", cwd=cwd), "B": create_key(db, "B", cwd=cwd)}
        self._ingest: dict[str, str] = {}
        self.log: list[str] = []
        self.url = ""
        self.start()

    def ingest_key(self, project: str) -> str:
        """A key of scope ingest for *project* (made once), as a bot is given."""
        if project not in self._ingest:
            self._ingest[project] = create_key(self.db, project, "ingest", self.cwd)
        return self._ingest[project]

    def start(self) -> None:
        """Start (or start again, on the same port and database)."""
        self._started = threading.Event()
        self._process = subprocess.Popen(
            [*_CLI, "serve", "--db", str(self.db), "--port", str(self.port), *self.args],
            cwd=self.cwd,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()
        if not self._started.wait(30):
            self.stop()
            raise RuntimeError("the collector did not start:\n" + "".join(self.log))

    def kill(self) -> None:
        """SIGKILL: no graceful anything, as a crash or an OOM kill would do."""
        self._process.kill()
        self._process.wait(30)
        self._reader.join(10)
        assert self._process.stderr is not None
        self._process.stderr.close()

    def _read_log(self) -> None:
        assert self._process.stderr is not None
        for line in self._process.stderr:  # drained to the end, so the pipe never fills
            self.log.append(line)
            match = _LISTENING.search(line)
            if match and not self._started.is_set():
                self.url = match.group(1)
                self._started.set()

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process.poll() is None

    def stop(self) -> int:
        if self._process.stderr is not None and self._process.stderr.closed:
            return self._process.returncode
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
        code = self._process.wait(30)
        self._reader.join(10)
        assert self._process.stderr is not None
        self._process.stderr.close()
        return code

    def request(
        self, method: str, path: str, project: str = "A", body: Any = None, **params: Any
    ) -> tuple[int, Any]:
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}{path}" + (f"?{query}" if query else ""),
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {self.keys[project]}",
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.load(answer)
        except urllib.error.HTTPError as error:
            return error.code, json.load(error)

    def conversation(self, cid: str, project: str = "A") -> dict[str, Any]:
        status, answer = self.request(
            "GET", f"/v1/conversations/{urllib.parse.quote(cid)}", project
        )
        assert status == 200, answer
        result: dict[str, Any] = answer
        return result

    def all_conversations(self, project: str = "A", **filters: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        cursor = None
        while True:
            status, page = self.request(
                "GET", "/v1/conversations", project, limit=500, cursor=cursor, **filters
            )
            assert status == 200, page
            found += page["conversations"]
            cursor = page["next_cursor"]
            if not cursor:
                return found
