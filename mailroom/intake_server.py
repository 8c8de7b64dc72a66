"""The HTTP intake: an ASGI app that lands web and email events as they happen.

``POST /events/web_events`` or ``/events/email_events`` with one event (a JSON
object) or a batch (an array). The answer is 202 once the events are durably in a new
landing file, 4xx with a message naming the event and field when anything is wrong
(nothing is written then), 404 for another source. ``GET /health`` answers 200.

Writes are group-committed: requests that arrive while a file is being fsynced wait
and go into the next file together, so a burst of small requests costs a few fsyncs
rather than one each, and every request is still answered only after its events are
on disk. Start it with ``mailroom intake`` (loopback by default).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mailroom.intake import EVENT_TYPES, InvalidEvents, land_events, validate_events

MAX_BODY_BYTES = 32 * 1024 * 1024


@dataclass
class _Pending:
    rows: list[dict[str, str]]
    done: asyncio.Future[str] = field(repr=False)


class GroupCommitter:
    """Lands the batches of concurrent requests together, one file per source."""

    def __init__(self, landing: Path) -> None:
        self.landing = landing
        self._queue: asyncio.Queue[tuple[str, _Pending]] = asyncio.Queue()

    async def land(self, source: str, rows: list[dict[str, str]]) -> str:
        """Wait until ``rows`` are durably landed; the landing file's name."""
        pending = _Pending(rows, asyncio.get_running_loop().create_future())
        await self._queue.put((source, pending))
        return await pending.done

    async def run(self) -> None:
        """Write whatever has queued up, one file per source, until cancelled."""
        while True:
            groups: dict[str, list[_Pending]] = {}
            source, pending = await self._queue.get()
            groups.setdefault(source, []).append(pending)
            while not self._queue.empty():
                source, pending = self._queue.get_nowait()
                groups.setdefault(source, []).append(pending)
            for source, batch in groups.items():
                await self._write(source, batch)

    async def _write(self, source: str, batch: list[_Pending]) -> None:
        rows = [row for pending in batch for row in pending.rows]
        try:
            path = await asyncio.to_thread(land_events, self.landing, source, rows)
        except Exception as error:
            # Nothing was renamed into place: every request of the group gets the
            # error and can resend, and the writer goes on with the next group.
            for pending in batch:
                pending.done.set_exception(error)
            return
        for pending in batch:
            pending.done.set_result(f"{source}/{path.name}")


def create_app(landing: Path) -> Starlette:
    """The intake app writing into ``landing``."""
    committer = GroupCommitter(Path(landing))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        writer = asyncio.create_task(committer.run())
        try:
            yield
        finally:
            writer.cancel()

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "sources": list(EVENT_TYPES)})

    async def post_events(request: Request) -> JSONResponse:
        source = request.path_params["source"]
        if source not in EVENT_TYPES:
            return _error(
                404,
                f"unknown source {source!r}: post to "
                f"{' or '.join(f'/events/{name}' for name in EVENT_TYPES)}",
            )
        try:
            payload = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            return _error(400, f"the body is not valid JSON: {error}")
        try:
            rows = validate_events(source, payload)
        except InvalidEvents as invalid:
            return _error(
                422,
                "no event was written",
                problems=invalid.problems,
                problem_count=invalid.total,
            )
        try:
            file_name = await committer.land(source, rows)
        except OSError as error:
            return _error(503, f"the events could not be written, resend them: {error}")
        return JSONResponse({"accepted": len(rows), "file": file_name}, status_code=202)

    return Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/events/{source}", post_events, methods=["POST"]),
        ],
        lifespan=lifespan,
        max_body_size=MAX_BODY_BYTES,
    )


def _error(status: int, message: str, **details: object) -> JSONResponse:
    return JSONResponse({"error": message, **details}, status_code=status)


def serve(landing: Path, host: str = "127.0.0.1", port: int = 8787) -> None:
    """Run the intake until interrupted."""
    import uvicorn

    uvicorn.run(
        create_app(landing),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
    )
