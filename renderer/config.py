"""Settings of a personalized send: experiment arms, holdout, frequency cap."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from renderer.outbox import DEFAULT_COMPRESSION, PAYLOADS_FILES


@dataclass(frozen=True)
class SendConfig:
    """How one campaign is sent.

    Parameters
    ----------
    arms
        Variant weights; a ``"holdout"`` entry is the control group's share (it gets
        no email and is recorded in the decision audit).
    frequency_cap
        At most this many marketing emails per person per rolling 7 days; sends
        are what ESPs acknowledged or reported ``sent``, not rendered payloads
        (``mailroom.campaign.sent_history``).
    suppression_file
        Name of the global suppression list in MAILROOM_HOME: one email per line.
    render_processes
        Worker processes that render payloads; ``None`` picks one per CPU for
        large audiences (``mailroom.campaign.render_processes``), 1 renders in the
        calling process.
    outbox_compression
        ``"zstd"``: the outbox's payloads as ``payloads.jsonl.zst`` (about 60
        times smaller); ``"none"``: plain ``payloads.jsonl``.
    """

    arms: dict[str, float] = field(
        default_factory=lambda: {"A": 45.0, "B": 45.0, "holdout": 10.0}
    )
    frequency_cap: int = 3
    suppression_file: str = "suppression.txt"
    render_processes: int | None = None
    outbox_compression: str = DEFAULT_COMPRESSION

    def __post_init__(self) -> None:
        if not self.arms or any(weight < 0 for weight in self.arms.values()):
            raise ValueError(f"arms must be non-negative weights, got {self.arms}")
        if self.frequency_cap < 1:
            raise ValueError(
                f"frequency_cap must be at least 1, got {self.frequency_cap}"
            )

        if self.outbox_compression not in PAYLOADS_FILES:
            raise ValueError(
                f"outbox_compression must be one of {sorted(PAYLOADS_FILES)}, "
                f"got {self.outbox_compression!r}"
            )
        if self.render_processes is not None and self.render_processes < 1:
            raise ValueError(
                f"render_processes must be at least 1, got {self.render_processes}"
            )

    def suppression_path(self, home: Path) -> Path:
        return Path(home) / self.suppression_file
