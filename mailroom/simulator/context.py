"""Per-run state (time window, catalog, campaigns) and the per-chunk defect log."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from mailroom.simulator.catalog import Catalog
from mailroom.simulator.output import DEFECT_SCHEMA, PartWriter
from mailroom.simulator.timefmt import Season


def make_rng(seed: int, *keys: int) -> np.random.Generator:
    """A PCG64 generator for one independent stream of the run (seed + keys)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, *keys])))


@dataclass(frozen=True)
class Campaigns:
    """Campaign arrays used to generate email events."""

    table: pa.Table
    ids: np.ndarray  # object array of campaign ids
    sent_at: np.ndarray  # int64 seconds
    category: np.ndarray  # category index, -1 for all-audience campaigns


@dataclass(frozen=True)
class Context:
    """Everything a chunk needs besides its own people."""

    seed: int
    as_of: int  # seconds, midnight UTC of the as-of date (exclusive upper bound)
    start: int  # seconds, first instant of the history window
    season: Season
    catalog: Catalog
    campaigns: Campaigns


@dataclass
class DefectLog:
    """Defects of one chunk, by local row index, resolved to files once written."""

    items: list[tuple[str, np.ndarray, str | None, str, object]] = field(
        default_factory=list
    )

    def add(
        self,
        source: str,
        rows: np.ndarray,
        column: str | None,
        defect: str,
        detail: object = None,
    ) -> None:
        """Record ``defect`` at local rows ``rows`` (detail: a string or an array)."""
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size:
            self.items.append((source, rows, column, defect, detail))

    def resolve(self, source: str, writer: PartWriter, first: int) -> pa.Table:
        """The defect rows of ``source`` located in the files just written."""
        tables = []
        for name, rows, column, defect, detail in self.items:
            if name != source:
                continue
            files, numbers = writer.locate(first, rows)
            if detail is None or isinstance(detail, str):
                details = pa.array([detail] * rows.size, pa.string())
            else:
                details = pa.array(detail, pa.string())
            tables.append(
                pa.table(
                    {
                        "source": pa.array([source] * rows.size, pa.string()),
                        "file_name": pa.array(files, pa.string()),
                        "row_number": pa.array(numbers, pa.int64()),
                        "column": pa.array([column] * rows.size, pa.string()),
                        "defect": pa.array([defect] * rows.size, pa.string()),
                        "detail": details,
                    },
                    schema=DEFECT_SCHEMA,
                )
            )
        if not tables:
            return DEFECT_SCHEMA.empty_table()
        return pa.concat_tables(tables)
