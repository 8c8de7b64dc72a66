"""Ingestion: every new landing file, loaded once into raw.<source>, and raw events
older than the retention age purged."""

from collections.abc import Iterator

from dagster import (
    AssetExecutionContext,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from mailroom.contract import SOURCES
from mailroom.ingest import RAW_SCHEMA, ingest_landing
from mailroom.privacy import EVENT_SOURCES, purge_expired_events
from orchestration.project import INGESTION_GROUP
from orchestration.resources import MailroomResource

POOL = "duckdb_warehouse"

RAW_SPECS = [
    AssetSpec(
        key=[RAW_SCHEMA, source.name],
        description=f"{source.description} Landing files as delivered, as text.",
        group_name=INGESTION_GROUP,
        kinds={"python", "duckdb"},
        owners=["team:data-engineering"],
    )
    for source in SOURCES.values()
]


@multi_asset(specs=RAW_SPECS, pool=POOL)
def raw_tables(
    context: AssetExecutionContext, mailroom: MailroomResource
) -> Iterator[MaterializeResult]:
    """Load new files from the landing folder (refused files are reported, not
    fatal; rows of erased people are left out), then purge web and email events
    older than the retention age (MAILROOM_RETENTION_DAYS) from raw and the
    incremental event models."""
    settings = mailroom.settings()
    with mailroom.connect(context) as con:
        report = ingest_landing(
            con, settings.landing, progress=context.log.info, home=settings.home
        )
        purge = purge_expired_events(
            con, settings.as_of, settings.retention_days, settings.landing
        )
        totals = dict(
            con.execute(
                " union all ".join(
                    f"select '{name}', count(*) from {RAW_SCHEMA}.{name}"
                    for name in SOURCES
                )
            ).fetchall()
        )
    for load in report.refused:
        context.log.error(load.message)
    for issue in report.row_issues:
        context.log.warning(str(issue))
    for name in SOURCES:
        refused = [load.message for load in report.refused if load.source == name]
        yield MaterializeResult(
            asset_key=[RAW_SCHEMA, name],
            metadata={
                "dagster/row_count": totals[name],
                "rows_loaded_this_run": report.rows_loaded(name),
                "files_loaded_this_run": sum(
                    load.status == "loaded" and load.source == name
                    for load in report.loads
                ),
                "files_refused": MetadataValue.md(
                    "\n".join(f"- {message}" for message in refused) or "none"
                ),
                "rows_of_erased_people_left_out": report.erased_rows(name),
                **(
                    {
                        "rows_purged_by_retention": purge.per_table.get(
                            f"{RAW_SCHEMA}.{name}", 0
                        ),
                        "retention_days": settings.retention_days,
                    }
                    if name in EVENT_SOURCES
                    else {}
                ),
            },
        )
