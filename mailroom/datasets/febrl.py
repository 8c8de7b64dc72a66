"""Map the FEBRL record-linkage benchmark onto the ``crm_contacts`` landing source.

FEBRL dataset 3 (Christen; 5,000 synthetic person records, 2,000 originals and 3,000
corrupted duplicates) has ``rec_id`` values ``rec-N-org`` and ``rec-N-dup-K``: records
with the same N are one person. Each record becomes one CRM contact, so the benchmark
goes through the same landing, staging and identity models as a user's CRM export:

- given_name, surname -> first_name, last_name
- street_number and address_1 -> street; suburb -> city; postcode -> postal_code
- date_of_birth (YYYYMMDD, some impossible) -> birth_date, as delivered
- soc_sec_id -> external_id (a hand-typed id: evidence, never a link on its own)

``address_2`` and ``state`` have no place in the contract and are left out.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from mailroom.datasets import path_literal

COUNTRY = "AU"


def write_landing(csv: Path, landing: Path) -> int:
    """Write ``landing/crm_contacts/febrl.csv`` from the benchmark file.

    Returns the number of contacts written.
    """
    csv = Path(csv)
    if not csv.is_file():
        raise FileNotFoundError(f"FEBRL benchmark file not found at {csv}")
    folder = Path(landing) / "crm_contacts"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "febrl.csv"
    with duckdb.connect() as con:
        con.execute(
            f"""
            copy (
                select
                    trim(rec_id) as contact_id,
                    trim(given_name) as first_name,
                    trim(surname) as last_name,
                    trim(trim(street_number) || ' ' || trim(address_1)) as street,
                    trim(suburb) as city,
                    trim(postcode) as postal_code,
                    '{COUNTRY}' as country,
                    trim(date_of_birth) as birth_date,
                    trim(soc_sec_id) as external_id
                from read_csv(
                    {path_literal(csv)}, all_varchar = true, normalize_names = true
                )
            ) to {path_literal(target)} (header, delimiter ',')
            """
        )
        return con.execute(
            f"select count(*) from read_csv({path_literal(target)})"
        ).fetchone()[0]


def true_person(contact_id: str) -> str:
    """The benchmark's person of a record id: ``rec-17-dup-2`` -> ``17``."""
    return contact_id.split("-")[1]
