"""Writers for landing part files, the defect log and ground-truth Parquet files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from mailroom.contract import SOURCES
from mailroom.simulator.constants import MAX_ROWS_PER_FILE

FORMATS = {
    "orders": "csv",
    "products": "csv",
    "customers": "csv",
    "crm_contacts": "csv",
    "consents": "csv",
    "order_items": "parquet",
    "web_events": "parquet",
    "email_events": "parquet",
    "campaigns": "jsonl",
}
MONEY = pa.decimal128(12, 2)
# Typed Parquet columns; every other column is written as a string.
PARQUET_TYPES = {
    ("order_items", "quantity"): pa.int64(),
    ("order_items", "line_number"): pa.int64(),
    ("order_items", "unit_price"): MONEY,
    ("order_items", "discount_amount"): MONEY,
}


def money_text(cents: np.ndarray) -> pa.StringArray:
    """Format integer cents as ``-12.30`` style decimal strings."""
    cents = np.asarray(cents, dtype=np.int64)
    whole = pc.cast(pa.array(np.abs(cents) // 100), pa.string())
    frac = pc.utf8_lpad(pc.cast(pa.array(np.abs(cents) % 100), pa.string()), 2, "0")
    sign = pa.array(np.where(cents < 0, "-", ""), pa.string())
    return pc.binary_join_element_wise(sign, whole, ".", frac, "")


def money_decimal(cents: np.ndarray) -> pa.Array:
    """Integer cents as an Arrow ``decimal128(12, 2)`` array (no float round trip)."""
    cents = np.asarray(cents, dtype=np.int64)
    words = np.empty((cents.shape[0], 2), dtype=np.int64)
    words[:, 0] = cents
    words[:, 1] = np.where(cents < 0, -1, 0)
    return pa.Array.from_buffers(MONEY, cents.shape[0], [None, pa.py_buffer(words)])


def prefixed(prefix: str, numbers: np.ndarray, width: int = 0) -> pa.StringArray:
    """Build ids like ``c-000123`` from integers, vectorized."""
    text = pc.cast(pa.array(np.asarray(numbers, dtype=np.int64)), pa.string())
    if width:
        text = pc.utf8_lpad(text, width, "0")
    return pc.binary_join_element_wise(prefix, text, "")


class PartWriter:
    """Writes one landing source as ``part-00001.<ext>``, ``part-00002.<ext>``, ...

    Every :meth:`write` starts a new file (and splits past ``MAX_ROWS_PER_FILE``), so
    a row's file and 1-based row number follow from its position in that call.
    """

    def __init__(self, landing: Path, source: str) -> None:
        self.source = source
        self.fmt = FORMATS[source]
        self.folder = landing / source
        self.folder.mkdir(parents=True, exist_ok=True)
        self.columns = SOURCES[source].column_names
        self.schema = pa.schema(
            [(c, PARQUET_TYPES.get((source, c), pa.string())) for c in self.columns]
        )
        self.next_file = 1
        self.rows = 0

    def _file_name(self, index: int) -> str:
        return f"part-{index:05d}.{self.fmt}"

    def write(self, table: pa.Table) -> int:
        """Write ``table`` (any column order); return the index of its first file.

        Optional contract columns the simulation does not model are written empty.
        """
        unknown = set(table.column_names) - set(self.columns)
        missing = set(SOURCES[self.source].missing_columns(set(table.column_names)))
        if unknown or missing:
            raise ValueError(
                f"{self.source}: unknown columns {sorted(unknown)}, "
                f"missing required {sorted(missing)}"
            )
        for column in self.columns:
            if column not in table.column_names:
                table = table.append_column(
                    column, pa.nulls(table.num_rows, pa.string())
                )
        table = table.select(list(self.columns))
        if self.fmt != "parquet":
            table = table.cast(pa.schema([(c, pa.string()) for c in self.columns]))
        else:
            table = table.cast(self.schema)
        first = self.next_file
        for start in range(0, table.num_rows, MAX_ROWS_PER_FILE):
            part = table.slice(start, MAX_ROWS_PER_FILE)
            self._write_file(self.folder / self._file_name(self.next_file), part)
            self.next_file += 1
        self.rows += table.num_rows
        return first

    def finish(self) -> None:
        """Make sure the source has at least one (possibly empty) file."""
        if self.next_file == 1:
            empty = self.schema.empty_table()
            if self.fmt != "parquet":
                empty = empty.cast(pa.schema([(c, pa.string()) for c in self.columns]))
            self._write_file(self.folder / self._file_name(1), empty)
            self.next_file = 2

    def _write_file(self, path: Path, table: pa.Table) -> None:
        if self.fmt == "parquet":
            pq.write_table(table, path, compression="snappy")
        elif self.fmt == "csv":
            options = pacsv.WriteOptions(include_header=True, quoting_style="needed")
            pacsv.write_csv(table, path, options)
        else:
            with path.open("w", encoding="utf-8", newline="\n") as handle:
                for row in table.to_pylist():
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")

    def locate(self, first: int, local: np.ndarray) -> tuple[list[str], np.ndarray]:
        """File names and 1-based row numbers of rows ``local`` of a written table."""
        local = np.asarray(local, dtype=np.int64)
        files = first + local // MAX_ROWS_PER_FILE
        names = [self._file_name(int(f)) for f in files]
        return names, local % MAX_ROWS_PER_FILE + 1


DEFECT_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("file_name", pa.string()),
        ("row_number", pa.int64()),
        ("column", pa.string()),
        ("defect", pa.string()),
        ("detail", pa.string()),
    ]
)
PEOPLE_SCHEMA = pa.schema(
    [
        ("person_id", pa.string()),
        ("archetype", pa.string()),
        ("first_name", pa.string()),
        ("last_name", pa.string()),
        ("email", pa.string()),
        ("preferred_category", pa.string()),
        ("has_consent", pa.bool_()),
    ]
)
IDENTIFIER_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("id_type", pa.string()),
        ("id_value", pa.string()),
        ("normalized_value", pa.string()),
        ("person_id", pa.string()),
    ]
)
CART_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("person_id", pa.string()),
        ("product_id", pa.string()),
        ("added_at", pa.timestamp("s", tz="UTC")),
        ("purchased_within_48h", pa.bool_()),
    ]
)
GROUND_TRUTH = {
    "people": PEOPLE_SCHEMA,
    "identifiers": IDENTIFIER_SCHEMA,
    "defects": DEFECT_SCHEMA,
    "cart_adds": CART_SCHEMA,
}


class TruthWriter:
    """Appends row groups to one ground-truth Parquet file."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self.schema = schema
        self.writer = pq.ParquetWriter(path, schema, compression="snappy")
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        """Append ``table`` (cast to the file's schema)."""
        if table.num_rows:
            table = table.select(self.schema.names).cast(self.schema)
            self.writer.write_table(table)
            self.rows += table.num_rows

    def close(self) -> None:
        """Finish the file (an empty file still carries its schema)."""
        self.writer.close()
