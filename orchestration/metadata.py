"""Materialization metadata: figures of the tables a step built, as Dagster shows
them (row counts, markdown tables, charts inline)."""

from __future__ import annotations

import base64
from collections.abc import Iterator, Sequence
from typing import Any

import pandas as pd
from dagster import AssetExecutionContext, AssetMaterialization, MetadataValue, Output

from mailroom.table_figures import TableFigures, table_figures
from orchestration.resources import MailroomResource, WarehouseBusy


def png_markdown(title: str, png: bytes) -> MetadataValue:
    """A PNG chart shown inline in the asset's metadata."""
    encoded = base64.b64encode(png).decode()
    return MetadataValue.md(f"![{title}](data:image/png;base64,{encoded})")


def frame_markdown(frame: pd.DataFrame) -> MetadataValue:
    return MetadataValue.md(frame.to_markdown(index=False))


def figures_metadata(figures: TableFigures) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    if figures.row_count is not None:
        metadata["dagster/row_count"] = figures.row_count
    for title, frame in figures.tables.items():
        metadata[title] = frame_markdown(frame)
    for title, png in figures.charts.items():
        metadata[title] = png_markdown(title.replace("_", " "), png)
    return metadata


def _asset_key(context: AssetExecutionContext, event: Any) -> tuple[str, ...] | None:
    if isinstance(event, Output):
        return tuple(context.asset_key_for_output(event.output_name).path)
    if isinstance(event, AssetMaterialization):
        return tuple(event.asset_key.path)
    return None


def with_table_figures(
    context: AssetExecutionContext,
    mailroom: MailroomResource,
    events: Sequence[Any],
) -> Iterator[Any]:
    """``events`` of a dbt build, each materialization with its table's figures.

    The figures are a courtesy: when the warehouse cannot be opened now, the
    events pass unchanged and the step still succeeds.
    """
    keyed = [(event, _asset_key(context, event)) for event in events]
    relations = [key for _, key in keyed if key is not None and len(key) == 2]
    figures: dict[tuple[str, ...], TableFigures] = {}
    try:
        with mailroom.connect() as con:
            figures = dict(table_figures(con, relations))
    except WarehouseBusy as busy:
        context.log.warning(f"tables not counted: {busy}")
    for event, key in keyed:
        found = figures.get(key) if key is not None else None
        if found is None:
            yield event
        else:
            yield event.with_metadata({**event.metadata, **figures_metadata(found)})
