"""Importers that map public datasets onto the landing contract."""

from __future__ import annotations

from pathlib import Path


def path_literal(path: Path) -> str:
    """``path`` as a quoted SQL string literal (for DuckDB's file readers)."""
    return "'" + str(path).replace("'", "''") + "'"
