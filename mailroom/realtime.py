"""When carts posted through the HTTP intake become abandoned: the real-time trigger.

The intake lands add-to-cart events as ``landing/web_events/intake-*.jsonl``. A cart
becomes abandoned when its window (the dbt var ``abandonment_window_hours``) has
elapsed with no order of the product, so the time to refresh is the end of that
window, not the moment the event arrives. :class:`CartWindows` reads only the intake
files it has not seen (named in arrival order) and keeps the windows still open;
the ``elapsed_cart_windows`` sensor asks it what is due and starts a run as of now.
No warehouse access: the sensor must never contend for the DuckDB file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from mailroom.intake import parse_timestamp

ENV_WINDOW_HOURS = "MAILROOM_ABANDONMENT_WINDOW_HOURS"
DEFAULT_WINDOW_HOURS = 48.0
"""The default of the dbt var ``abandonment_window_hours`` (dbt_project.yml reads the
same environment variable with the same default; a test keeps the two equal)."""

INTAKE_PATTERN = "intake-*.jsonl"


def abandonment_window() -> timedelta:
    """The cart-abandonment window dbt will use in a run started from here."""
    hours = float(os.environ.get(ENV_WINDOW_HOURS) or DEFAULT_WINDOW_HOURS)
    return timedelta(seconds=round(hours * 3600))


@dataclass
class CartWindows:
    """Open cart windows (their end, naive UTC) and the last intake file read."""

    last_file: str = ""
    window_ends: list[datetime] = field(default_factory=list)

    @classmethod
    def from_cursor(cls, cursor: str | None) -> CartWindows:
        if not cursor:
            return cls()
        state = json.loads(cursor)
        ends = [datetime.fromisoformat(value) for value in state["window_ends"]]
        return cls(state["last_file"], ends)

    def to_cursor(self) -> str:
        ends = [end.isoformat() for end in sorted(self.window_ends)]
        return json.dumps({"last_file": self.last_file, "window_ends": ends})

    def read_new_intake_files(self, landing: Path, window: timedelta) -> int:
        """Add the windows of add-to-carts in intake files after ``last_file``."""
        folder = Path(landing) / "web_events"
        names = sorted(path.name for path in folder.glob(INTAKE_PATTERN))
        new = [name for name in names if name > self.last_file]
        for name in new:
            self.window_ends += [
                added_at + window for added_at in _cart_adds(folder / name)
            ]
        if new:
            self.last_file = new[-1]
        return len(new)

    def pop_elapsed(self, now: datetime) -> list[datetime]:
        """Remove and return the windows that have ended by ``now``."""
        elapsed = sorted(end for end in self.window_ends if end <= now)
        self.window_ends = [end for end in self.window_ends if end > now]
        return elapsed


def _cart_adds(path: Path) -> list[datetime]:
    """When each add-to-cart in one intake file happened (naive UTC)."""
    times = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            event = json.loads(line)
            if event.get("event_type") != "add_to_cart":
                continue
            occurred = parse_timestamp(event.get("occurred_at", ""))
            if occurred is not None:
                times.append(occurred.replace(tzinfo=None))
    return times
