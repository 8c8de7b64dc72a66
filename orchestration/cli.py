"""The `mailroom` command: generate demo data, run the pipeline, take events over
HTTP, open the UI and the dashboard.

Paths come from flags or environment variables (MAILROOM_HOME, MAILROOM_LANDING,
MAILROOM_WAREHOUSE, MAILROOM_OUTBOX, MAILROOM_AS_OF); see `mailroom --help`.
"""

import argparse
import os
import shutil
import signal
import sys
import time
from contextlib import ExitStack
from datetime import date
from pathlib import Path

from mailroom.settings import (
    DEFAULT_AS_OF,
    Settings,
    SettingsError,
    duckdb_memory_limit,
)

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.command(args)
    # ValueError covers mailroom.privacy.PrivacyError (not imported here: worker
    # processes import this module again, so it loads only what it needs)
    except (SettingsError, FileNotFoundError, ValueError) as error:
        print(f"mailroom: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mailroom",
        description="Warehouse-native email personalization: land, model, predict, "
        "render.",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(name: str, handler, help_: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_, description=help_)
        sub.set_defaults(command=handler)
        sub.add_argument(
            "--home", help="data folder (default: $MAILROOM_HOME or ./.mailroom)"
        )
        return sub

    demo = command("demo", _demo, "generate demo data and run the whole pipeline")
    _simulation_flags(demo)

    generate = command("generate", _generate, "write demo landing files")
    _simulation_flags(generate)

    run = command("run", _run, "load the landing folder and run the whole pipeline")
    run.add_argument("--landing", help="landing folder (default: HOME/landing)")
    run.add_argument("--warehouse", help="DuckDB file (default: HOME/warehouse.duckdb)")
    run.add_argument("--outbox", help="outbox folder (default: HOME/outbox)")
    run.add_argument("--as-of", help="run as of this date, YYYY-MM-DD (default: today)")
    _retention_flag(run)

    ingest = command(
        "ingest", _ingest, "load new landing files into the warehouse's raw tables"
    )
    ingest.add_argument("--landing", help="landing folder (default: HOME/landing)")
    ingest.add_argument(
        "--warehouse", help="DuckDB file (default: HOME/warehouse.duckdb)"
    )
    ingest.add_argument(
        "--postgres",
        action="store_true",
        help="load into PostgreSQL (MAILROOM_PG_HOST, _PORT, _USER, _PASSWORD, "
        "_DBNAME, _SCHEMA) instead of the DuckDB file",
    )

    forget = command(
        "forget",
        _forget,
        "erase people (by email) from the warehouse, outbox, landing and logs, "
        "and keep them suppressed",
    )
    forget.add_argument(
        "--email", action="append", default=[], help="an email (repeat for more)"
    )
    forget.add_argument(
        "--file", help="one email per line, or a CSV with an email column"
    )
    forget.add_argument(
        "--requested-by",
        help="who asked, e.g. a ticket reference (default: the OS user); recorded",
    )
    forget.add_argument(
        "--keep-landing",
        action="store_true",
        help="report landing files holding the people instead of rewriting them",
    )
    forget.add_argument(
        "--postgres",
        action="store_true",
        help="erase them from the PostgreSQL warehouse too (MAILROOM_PG_HOST, _PORT, "
        "_USER, _PASSWORD, _DBNAME), which then keeps them out of ingestion",
    )
    forget.add_argument(
        "--no-compact",
        action="store_true",
        help="skip rewriting the DuckDB file (deleted values then stay in its free "
        "blocks until reused)",
    )

    purge = command(
        "purge",
        _purge,
        "delete raw web and email events older than the retention age",
    )
    purge.add_argument("--as-of", help="count the age from this date (default: today)")
    _retention_flag(purge)
    purge.add_argument(
        "--postgres",
        action="store_true",
        help="purge the PostgreSQL warehouse (MAILROOM_PG_HOST, _PORT, _USER, "
        "_PASSWORD, _DBNAME) instead of the DuckDB file",
    )

    preview = command(
        "preview", _preview, "write one customer's email as HTML and explain its blocks"
    )
    preview.add_argument("--customer-id", required=True)
    preview.add_argument("--as-of", help="campaign date, YYYY-MM-DD (default: today)")
    preview.add_argument("--out", help="HTML file (default: HOME/preview/ID.html)")

    export = command(
        "export", _export, "send the changed payloads of an outbox run to an ESP"
    )
    export.add_argument(
        "--destination",
        required=True,
        choices=["mailchimp", "hubspot", "klaviyo", "braze"],
    )
    export.add_argument(
        "--base-url", required=True, help="the ESP API's base URL (or a test server)"
    )
    export.add_argument("--run-id", help="outbox run (default: the latest)")
    export.add_argument("--list-id", help="Mailchimp audience id")
    export.add_argument(
        "--api-key-env",
        default="MAILROOM_ESP_API_KEY",
        help="environment variable holding the API key (default: %(default)s)",
    )

    intake = command(
        "intake", _intake, "accept web and email events over HTTP into the landing"
    )
    intake.add_argument("--landing", help="landing folder (default: HOME/landing)")
    intake.add_argument(
        "--host", default="127.0.0.1", help="address (default: %(default)s, loopback)"
    )
    intake.add_argument("--port", type=int, default=8787)

    ui = command("ui", _ui, "open the Dagster UI on this project")
    ui.add_argument("--port", type=int, default=3000)
    ui.add_argument("--host", default="127.0.0.1")

    dashboard = command(
        "dashboard", _dashboard, "serve the dashboard over the warehouse (Streamlit)"
    )
    dashboard.add_argument(
        "--warehouse", help="DuckDB file (default: HOME/warehouse.duckdb)"
    )
    dashboard.add_argument("--port", type=int, default=8501)
    dashboard.add_argument(
        "--host", default="127.0.0.1", help="address (default: %(default)s, loopback)"
    )
    return parser


def _retention_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--retention-days",
        help="purge raw web and email events older than this many days before the "
        "as-of date (default: $MAILROOM_RETENTION_DAYS or 730)",
    )


def _simulation_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--as-of",
        default=DEFAULT_AS_OF.isoformat(),
        help="last day of simulated history + 1 (default: %(default)s)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace existing demo landing files and warehouse",
    )


def _generate(args: argparse.Namespace) -> int:
    settings = Settings.load(home=args.home, as_of=args.as_of)
    _simulate(settings, args)
    return 0


def _demo(args: argparse.Namespace) -> int:
    settings = Settings.load(home=args.home, as_of=args.as_of)
    if args.overwrite or not settings.landing.exists():
        for path in (settings.warehouse, settings.outbox, settings.home / "dagster"):
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
        _simulate(settings, args)
    else:
        print(f"using the demo data already in {settings.landing} (--overwrite: new)")
    return _run_pipeline(settings)


def _run(args: argparse.Namespace) -> int:
    settings = Settings.load(
        home=args.home,
        landing=args.landing,
        warehouse=args.warehouse,
        outbox=args.outbox,
        as_of=args.as_of,
        retention_days=args.retention_days,
    )
    return _run_pipeline(settings)


def _ingest(args: argparse.Namespace) -> int:
    from mailroom.ingest import IngestError, ingest_landing

    settings = Settings.load(
        home=args.home, landing=args.landing, warehouse=args.warehouse
    )
    try:
        if args.postgres:
            from mailroom.postgres import PostgresDestination, PostgresSettings

            with PostgresSettings.from_env().connect() as con:
                report = ingest_landing(
                    PostgresDestination(con),
                    settings.landing,
                    progress=print,
                    home=settings.home,
                )
        else:
            import duckdb

            settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
            with duckdb.connect(
                str(settings.warehouse),
                config={"memory_limit": duckdb_memory_limit()},
            ) as con:
                report = ingest_landing(
                    con, settings.landing, progress=print, home=settings.home
                )
    except (IngestError, ConnectionError) as error:
        print(f"mailroom: {error}", file=sys.stderr)
        return 1
    for load in report.refused:
        print(f"refused: {load.message}", file=sys.stderr)
    for issue in report.row_issues:
        print(f"warning: {issue}", file=sys.stderr)
    print(
        f"{report.files('loaded'):,} files loaded ({report.rows_loaded():,} rows), "
        f"{report.files('skipped'):,} skipped, {len(report.refused):,} refused"
    )
    if report.erased_rows():
        print(f"{report.erased_rows():,} rows of erased people left out")
    return 0


def _simulate(settings: Settings, args: argparse.Namespace) -> None:
    from mailroom.simulator import generate

    started = time.perf_counter()
    print(
        f"generating {args.customers:,} customers (seed {args.seed}) "
        f"into {settings.landing} ..."
    )
    summary = generate(
        settings.home,
        customers=args.customers,
        seed=args.seed,
        as_of=date.fromisoformat(args.as_of),
        overwrite=args.overwrite,
        progress=lambda line: print(f"  {line}", flush=True),
    )
    rows = summary.total_rows
    print(f"  {rows:,} rows in {time.perf_counter() - started:.1f} s")


def _run_pipeline(settings: Settings) -> int:
    from mailroom.summary import print_summary
    from orchestration.pipeline import STAGES, StageFailed, run_stages

    log_path = settings.home / "logs" / "pipeline.log"
    print(f"running the pipeline as of {settings.as_of} (log: {log_path})")
    started = time.perf_counter()

    def announce(index: int, stage) -> None:
        print(
            f"  [{index}/{len(STAGES)}] {stage.name}: {stage.description} ...",
            flush=True,
        )

    try:
        for result in run_stages(settings, on_start=announce, log_path=log_path):
            print(f"        done in {result.seconds:.1f} s", flush=True)
    except StageFailed as failure:
        print(f"mailroom: {failure}", file=sys.stderr)
        print(f"mailroom: details in {log_path}", file=sys.stderr)
        return 1
    print(f"finished in {time.perf_counter() - started:.1f} s\n")
    print_summary(settings)
    return 0


def _forget(args: argparse.Namespace) -> int:
    import duckdb

    from mailroom.forget import counts_by_schema, forget, read_emails_file

    emails = list(args.email)
    via = "mailroom forget --email" if emails else "mailroom forget"
    if args.file:
        emails += read_emails_file(Path(args.file))
        via = "mailroom forget --file" + (" --email" if args.email else "")
    settings = Settings.load(home=args.home)
    with ExitStack() as stack:
        postgres = None
        try:
            if args.postgres:
                from mailroom.postgres import PostgresDestination, PostgresSettings

                postgres = PostgresDestination(
                    stack.enter_context(PostgresSettings.from_env().connect())
                )
            report = forget(
                settings,
                emails,
                via=via + (" --postgres" if args.postgres else ""),
                requested_by=args.requested_by,
                keep_landing=args.keep_landing,
                compact=not args.no_compact,
                postgres=postgres,
            )
        except duckdb.IOException as error:
            return _warehouse_busy(settings, error)
        except ConnectionError as error:
            print(f"mailroom: {error}", file=sys.stderr)
            return 1

    def removed(per_table: dict[str, int]) -> str:
        by_schema = ", ".join(
            f"{schema} {count:,}"
            for schema, count in sorted(counts_by_schema(per_table).items())
        )
        return f"{sum(per_table.values()):,} ({by_schema or 'none'})"

    postgres_rows = (
        f", PostgreSQL rows removed {removed(report.postgres_per_table)}"
        if args.postgres
        else ""
    )
    print(
        f"erasure {report.request_id}: {report.people:,} people, "
        f"{report.emails:,} emails, warehouse rows removed "
        f"{removed(report.per_table)}{postgres_rows}, "
        f"{len(report.per_file):,} files rewritten, "
        f"{report.identifiers_suppressed:,} identifiers suppressed (keyed hashes)"
    )
    for path, count in sorted(report.per_file.items()):
        print(f"  {path}: {count:,} removed")
    for path, count in sorted(report.landing_kept.items()):
        print(f"  kept (--keep-landing): {path} holds {count:,} of their rows")
    if report.esp_destinations:
        print(
            "  these ESPs received them and keep their own copy; ask each to delete "
            f"the contact: {', '.join(report.esp_destinations)}"
        )
    return 0


def _purge(args: argparse.Namespace) -> int:
    import duckdb

    from mailroom.privacy import purge_expired_events

    settings = Settings.load(
        home=args.home, as_of=args.as_of, retention_days=args.retention_days
    )
    try:
        if args.postgres:
            from mailroom.postgres import PostgresDestination, PostgresSettings

            with PostgresSettings.from_env().connect() as con:
                report = purge_expired_events(
                    PostgresDestination(con),
                    settings.as_of,
                    settings.retention_days,
                    settings.landing,
                )
        else:
            with duckdb.connect(
                str(settings.warehouse),
                config={"memory_limit": duckdb_memory_limit()},
            ) as con:
                report = purge_expired_events(
                    con, settings.as_of, settings.retention_days, settings.landing
                )
    except duckdb.IOException as error:
        return _warehouse_busy(settings, error)
    except ConnectionError as error:
        print(f"mailroom: {error}", file=sys.stderr)
        return 1
    print(
        f"purged {report.rows:,} rows of events before {report.cutoff:%Y-%m-%d} "
        f"({settings.retention_days} days before {settings.as_of}), "
        f"{len(report.files_deleted):,} intake files deleted"
    )
    for table, count in sorted(report.per_table.items()):
        print(f"  {table}: {count:,}")
    return 0


def _warehouse_busy(settings: Settings, error: Exception) -> int:
    """DuckDB admits one process: say so instead of a traceback."""
    print(
        f"mailroom: cannot open {settings.warehouse} ({str(error).splitlines()[0]}); "
        "if a run, the UI or another tool holds it, retry when it ends",
        file=sys.stderr,
    )
    return 1


def _preview(args: argparse.Namespace) -> int:
    import duckdb

    from mailroom.campaign import NotSendable, preview_customer

    settings = Settings.load(home=args.home, as_of=args.as_of)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        try:
            html, decisions = preview_customer(con, args.customer_id, settings.as_of)
        except NotSendable as reason:
            print(f"mailroom: {reason}", file=sys.stderr)
            return 1
    out = Path(args.out or settings.home / "preview" / f"{args.customer_id}.html")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    print(f"wrote {out}")
    for decision in decisions:
        mark = "fired  " if decision["fired"] else "skipped"
        values = ", ".join(f"{k}={v!r}" for k, v in decision["values"].items())
        print(
            f"  {mark} {decision['slot']:<16} {decision['block_id']:<18} "
            f"{decision['rule']}  [{values}]"
        )
    return 0


def _export(args: argparse.Namespace) -> int:
    from renderer.export import sync_outbox

    settings = Settings.load(home=args.home)
    report = sync_outbox(
        settings.outbox,
        args.run_id,
        args.destination,
        args.base_url,
        api_key=os.environ.get(args.api_key_env),
        options={"list_id": args.list_id} if args.list_id else None,
    )
    print(
        f"{report.destination} run {report.run_id}: {report.considered:,} payloads, "
        f"{report.unchanged:,} unchanged, {report.accepted:,} accepted, "
        f"{len(report.rejected):,} rejected (retried next export), "
        f"{report.batches:,} batches"
    )
    for recipient_id, reason in report.rejected[:10]:
        print(f"  rejected {recipient_id}: {reason}")
    return 0 if not report.rejected else 1


def _intake(args: argparse.Namespace) -> int:
    from mailroom.intake_server import serve

    settings = Settings.load(home=args.home, landing=args.landing)
    print(
        f"intake on http://{args.host}:{args.port}/events/<web_events|email_events> "
        f"-> {settings.landing} (Ctrl+C stops it)",
        flush=True,
    )
    serve(settings.landing, host=args.host, port=args.port)
    return 0


def _ui(args: argparse.Namespace) -> int:
    from orchestration.pipeline import prepare_dagster_home
    from orchestration.project import PYTHON_BIN

    settings = Settings.load(home=args.home)
    settings.export()
    prepare_dagster_home(settings)
    # Under `dagster dev`, dagster-dbt re-parses the project with the `dbt` it finds
    # on PATH: make it the one installed beside this Python.
    os.environ["PATH"] = f"{PYTHON_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    dagster = PYTHON_BIN / "dagster"
    command = [
        str(dagster),
        "dev",
        "-m",
        "orchestration.definitions",
        "--host",
        args.host,
        "--port",
        str(args.port),
    ]
    print(f"Dagster UI on http://{args.host}:{args.port} (Ctrl+C stops it)")
    os.chdir(REPOSITORY_ROOT)
    # Default signal handling, so that Ctrl+C and SIGTERM stop `dagster dev`.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.execv(command[0], command)
    return 0  # pragma: no cover - execv does not return


def _dashboard(args: argparse.Namespace) -> int:
    from mailroom.dashboard import APP

    settings = Settings.load(home=args.home, warehouse=args.warehouse)
    settings.export()
    if not settings.warehouse.exists():
        print(
            f"mailroom: no warehouse at {settings.warehouse} yet: the dashboard will "
            "say so until `mailroom demo` or `mailroom run` has built it",
            file=sys.stderr,
        )
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address",
        args.host,
        "--server.port",
        str(args.port),
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
        "--global.developmentMode",
        "false",
        "--client.toolbarMode",
        "viewer",
    ]
    print(
        f"Dashboard on http://{args.host}:{args.port} over {settings.warehouse} "
        "(Ctrl+C stops it)",
        flush=True,
    )
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.execv(command[0], command)
    return 0  # pragma: no cover - execv does not return


if __name__ == "__main__":
    sys.exit(main())
