"""Cost of load-time email and phone validation, per distinct value.

    .venv/bin/python bench/validation_bench.py --values 200000

Prints values per second for ``check_email`` and ``check_phone`` alone (wall time
and CPU time of this process, which is what the wall figure would be on an idle
core: the machine this runs on is often shared), then the whole lookup step of
ingestion on a customers file of that many rows in DuckDB: the warehouse finds the
distinct unchecked values, Python validates them, the verdicts are appended. The
projection to 1,000,000 customers assumes every email and phone is distinct, the
worst case.

Last, the lookup for one more file of 1,000 new rows once the warehouse holds
``--verdicts`` verdicts of each kind (every loaded file pays it, so a cost that
grows with the verdicts makes a large load quadratic): seconds per file, the best
of three.
"""

from __future__ import annotations

import argparse
import csv
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from mailroom.ingest import DuckDBDestination, check_new_values, ingest_landing
from mailroom.validation import check_email, check_phone

DOMAINS = ("gmail.com", "example.com", "web.de", "orange.fr", "gmial.com", "yaho.com")
COUNTRIES = (("FR", "06"), ("DE", "0151 "), ("ES", "6"), ("PT", "91"), ("NL", "06"))


def synthetic_contacts(count: int, seed: int = 1) -> list[tuple[str, str, str]]:
    """(email, phone, country) rows, all distinct; about 2 % malformed emails."""
    rng = random.Random(seed)
    rows = []
    for n in range(count):
        email = f"Person.{n}@{rng.choice(DOMAINS)}"
        if rng.random() < 0.02:
            email = email.replace("@", "@@")
        country, prefix = rng.choice(COUNTRIES)
        rows.append((email, f"{prefix}{rng.randrange(10**7, 10**8)}", country))
    return rows


def rate(label: str, count: int, work: Callable[[], object]) -> float:
    """Run ``work``, print its throughput, return the CPU seconds it took."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"{label:<34} {count / wall:>10,.0f} values/s wall "
        f"{count / cpu:>10,.0f} values/s CPU ({wall:.2f} s)"
    )
    return cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=200_000)
    parser.add_argument("--verdicts", type=int, default=5_000_000)
    args = parser.parse_args()
    count = args.values
    rows = synthetic_contacts(count)
    print(f"{count:,} distinct emails and (phone, country) pairs")
    email_cpu = rate("check_email", count, lambda: [check_email(r[0]) for r in rows])
    phone_cpu = rate(
        "check_phone", count, lambda: [check_phone(r[1], r[2]) for r in rows]
    )
    with tempfile.TemporaryDirectory() as folder:
        landing = Path(folder)
        (landing / "customers").mkdir()
        with (landing / "customers" / "a.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["customer_id", "email", "phone", "country"])
            writer.writerows((f"c{n}", *row) for n, row in enumerate(rows))
        with duckdb.connect() as con:
            ingest_landing(con, landing, require_orders=False)
            con.execute("delete from raw._email_checks")
            con.execute("delete from raw._phone_checks")
            rate(
                "lookup step (email + phone a row)",
                2 * count,
                lambda: check_new_values(DuckDBDestination(con), "customers"),
            )
            rate(
                "same file again (all checked)",
                2 * count,
                lambda: check_new_values(DuckDBDestination(con), "customers"),
            )
            per_file = _one_more_file(con, landing, args.verdicts)
    per_million = (email_cpu + phone_cpu) * 1_000_000 / count
    print(f"projected validation CPU for 1,000,000 customers: {per_million:.0f} s")
    print(
        f"lookup for a file of 1,000 new rows with {args.verdicts:,} verdicts "
        f"of each kind held: {per_file:.3f} s"
    )


def _one_more_file(
    con: duckdb.DuckDBPyConnection, landing: Path, verdicts: int
) -> float:
    """Seconds to look up one more 1,000-row file's values among ``verdicts``."""
    con.execute(
        "insert into raw._email_checks (email_raw, is_valid) "
        "select 'held.' || range || '@example.com', true from range(?)",
        [verdicts],
    )
    con.execute(
        "insert into raw._phone_checks (phone_raw, country_raw, is_valid) "
        "select '+3361' || lpad(range::varchar, 8, '0'), 'FR', true from range(?)",
        [verdicts],
    )
    con.execute("checkpoint")
    rows = synthetic_contacts(1_000, seed=2)
    best = float("inf")
    for attempt in range(3):
        name = f"new-{attempt}.csv"
        with (landing / "customers" / name).open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["customer_id", "email", "phone", "country"])
            writer.writerows(
                (f"n{attempt}-{n}", f"new{attempt}.{email}", phone, country)
                for n, (email, phone, country) in enumerate(rows)
            )
        con.execute(
            "insert into raw.customers (customer_id, email, phone, country, "
            "_file_name) select customer_id, email, phone, country, ? "
            "from read_csv(?, all_varchar = true)",
            [name, str(landing / "customers" / name)],
        )
        started = time.perf_counter()
        check_new_values(DuckDBDestination(con), "customers", name)
        best = min(best, time.perf_counter() - started)
    return best


if __name__ == "__main__":
    main()
