"""Talking to the HTTP intake: a keep-alive client and a way to start one locally.

Scripts that feed events (the throughput bench, the real-time test, a replay of a
day's web log) share these, so that they all post exactly as a tracker would.
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class IntakeClient:
    """One keep-alive HTTP connection to an intake (use one per thread)."""

    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        self._connection = http.client.HTTPConnection(host, port, timeout=timeout)

    def post(
        self, source: str, events: Mapping[str, Any] | Sequence[Any] | bytes
    ) -> tuple[int, dict[str, Any]]:
        """POST one event or a batch; the status and the decoded JSON answer."""
        body = events if isinstance(events, bytes) else json.dumps(events).encode()
        self._connection.request(
            "POST",
            f"/events/{source}",
            body=body,
            headers={"Content-Type": "application/json"},
        )
        response = self._connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")

    def close(self) -> None:
        self._connection.close()


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_intake(
    home: Path, port: int | None = None, startup_seconds: float = 30.0
) -> Iterator[tuple[str, int]]:
    """Run ``mailroom intake --home HOME`` in a child process; yield (host, port).

    The process is the real command line, so what is measured or tested is what a
    user starts. It is stopped (SIGTERM, then SIGKILL) when the block ends.
    """
    host, port = "127.0.0.1", port or free_port()
    command = [sys.executable, "-m", "orchestration.cli", "intake", "--home"]
    command += [str(home), "--host", host, "--port", str(port)]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        _wait_until_up(process, host, port, startup_seconds)
        yield host, port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_up(
    process: subprocess.Popen, host: str, port: int, seconds: float
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"mailroom intake exited with {process.returncode}: "
                f"{process.stderr.read().decode(errors='replace')}"
            )
        try:
            connection = http.client.HTTPConnection(host, port, timeout=1)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
        finally:
            connection.close()
    raise RuntimeError(f"mailroom intake did not answer on {host}:{port} in {seconds}s")
