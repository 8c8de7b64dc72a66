"""Personal data is tagged where it lives, and BI sees none of it in the clear.

Every column that holds personal data carries ``meta: {pii: <class>}`` in the dbt
YAML, in sources and in models alike (the README's "Personal data" section states the
taxonomy). These tests read the manifest that ``dbt parse`` writes
(``target/manifest.json``, made by ``make setup``) and, for columns nobody declared,
the tables a real pipeline run built.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import duckdb
import pytest

from mailroom.settings import Settings
from tests.conftest import REPOSITORY

MANIFEST = REPOSITORY / "target" / "manifest.json"
PII_CLASSES = ("direct_identifier", "contact", "quasi_identifier")
# How a bi column may hold a direct identifier or contact value: never in the clear.
MASKINGS = ("sha256", "initial", "last_two_digits")
BI_SCHEMA = "bi"

# Column names that mark personal data, and the class such a column carries. A
# column that mixes identifiers (identity keys such as "email:a@b.c") takes
# direct_identifier, as do the ids of the systems that sent the data.
PERSONAL_COLUMNS: dict[str, str] = {
    r"(checked_|suggested_)?email(_raw|_normalized)?": "contact",
    r"phone(_raw|_e164|_key)?": "contact",
    r"street(_key)?|house_number": "contact",
    r"(first|last)_name(_key)?": "direct_identifier",
    r"external_id|shop_customer_id|contact_id|anonymous_id|device_id|message_id": (
        "direct_identifier"
    ),
    r"id_value|identifier_key|record_id|record_[ab]|visitor_key|session_id": (
        "direct_identifier"
    ),
    r"(exact_)?component_id|component_[ab]": "direct_identifier",
    r"birth_date(_key)?|postal_code(_key)?|gender|city(_key)?": "quasi_identifier",
    r"(shipping_)?country(_raw)?|user_agent": "quasi_identifier",
}
# Landing files name the shop's own account id customer_id; in models customer_id is
# Mailroom's pseudonymous person id (cus_...), which identifies no one outside it.
LANDING_COLUMNS: dict[str, str] = {r"customer_id": "direct_identifier"}
# Columns whose name says nothing but whose values are personal data.
ALSO_PERSONAL: dict[tuple[str, str], str] = {
    # A quarantined account or contact is reported by its shop or CRM id.
    ("quarantined_rows", "record_key"): "direct_identifier",
}


def expected_class(table: str, column: str, landing: bool = False) -> str | None:
    """The class a column must carry, from its name; None when it names no one.
    ``landing``: a raw table of the landing contract."""
    rules = dict(PERSONAL_COLUMNS)
    if landing:
        rules.update(LANDING_COLUMNS)
    for pattern, pii in rules.items():
        if re.fullmatch(pattern, column.lower()):
            return pii
    return ALSO_PERSONAL.get((table, column.lower()))


@dataclass(frozen=True)
class Relation:
    """A model or source of the manifest with the columns its YAML declares."""

    unique_id: str
    resource_type: str
    schema: str
    name: str
    columns: dict[str, dict[str, Any]]
    node: dict[str, Any]

    @property
    def is_landing(self) -> bool:
        return self.resource_type == "source" and self.node["source_name"] == "raw"

    @property
    def table(self) -> str:
        return self.node.get("alias") or self.node.get("identifier") or self.name


def load_relations() -> list[Relation]:
    if not MANIFEST.exists():
        pytest.fail(f"{MANIFEST} is missing: run `make setup` (dbt parse) first")
    manifest = json.loads(MANIFEST.read_text())
    nodes = [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["package_name"] == "mailroom"
    ]
    nodes += list(manifest["sources"].values())
    return [
        Relation(
            node["unique_id"],
            node["resource_type"],
            node["schema"],
            node["name"],
            {name.lower(): column for name, column in node["columns"].items()},
            node,
        )
        for node in nodes
    ]


RELATIONS = load_relations()


def pii_of(column: dict[str, Any]) -> Any:
    return (column.get("meta") or {}).get("pii") or (
        column.get("config", {}).get("meta") or {}
    ).get("pii")


def masking_of(column: dict[str, Any]) -> Any:
    return (column.get("meta") or {}).get("masking") or (
        column.get("config", {}).get("meta") or {}
    ).get("masking")


def test_every_pii_tag_names_a_known_class() -> None:
    unknown = [
        f"{relation.unique_id}.{name}: pii {pii_of(column)!r}"
        for relation in RELATIONS
        for name, column in relation.columns.items()
        if pii_of(column) is not None and pii_of(column) not in PII_CLASSES
    ]
    assert not unknown, f"pii must be one of {PII_CLASSES}: {unknown}"


def test_declared_personal_columns_carry_their_class() -> None:
    wrong = []
    for relation in RELATIONS:
        for name, column in relation.columns.items():
            expected = expected_class(relation.name, name, relation.is_landing)
            if expected is not None and pii_of(column) != expected:
                wrong.append(
                    f"{relation.unique_id}.{name}: pii {pii_of(column)!r}, "
                    f"expected {expected!r}"
                )
    assert not wrong, wrong


def test_the_rules_recognize_personal_names_and_leave_flags_alone() -> None:
    assert expected_class("dim_customers", "email") == "contact"
    assert expected_class("x", "suggested_email") == "contact"
    assert expected_class("x", "birth_date_key") == "quasi_identifier"
    assert expected_class("x", "street") == "contact"
    assert expected_class("orders", "customer_id", landing=True) == "direct_identifier"
    assert expected_class("quarantined_rows", "record_key") == "direct_identifier"
    for harmless in (
        "customer_id",
        "is_email_sendable",
        "email_count",
        "phone_problem",
    ):
        assert expected_class("dim_customers", harmless) is None


BI_RELATIONS = [relation for relation in RELATIONS if relation.schema == BI_SCHEMA]


def test_there_are_bi_models_and_each_is_contracted_and_scanned_for_emails() -> None:
    assert {relation.table for relation in BI_RELATIONS} >= {
        "dim_customers",
        "fct_orders",
        "fct_customer_rfm",
        "fct_customer_segments",
        "fct_campaign_variants",
    }
    manifest = json.loads(MANIFEST.read_text())
    scanned = {
        node["attached_node"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test"
        and node.get("test_metadata", {}).get("name") == "holds_no_email_address"
    }
    for relation in BI_RELATIONS:
        assert relation.node["config"]["contract"]["enforced"], relation.unique_id
        assert relation.unique_id in scanned, f"{relation.unique_id}: no email scan"


def test_bi_exposes_direct_identifiers_and_contacts_only_masked() -> None:
    exposed = []
    for relation in BI_RELATIONS:
        for name, column in relation.columns.items():
            pii = pii_of(column)
            if pii in ("direct_identifier", "contact") and (
                masking_of(column) not in MASKINGS
            ):
                exposed.append(f"{relation.table}.{name} ({pii})")
    assert not exposed, f"bi columns in the clear: {exposed}"


def test_masked_bi_columns_are_tested_for_their_form() -> None:
    manifest = json.loads(MANIFEST.read_text())
    tested = {
        (node["attached_node"], node.get("column_name"))
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test"
        and node.get("test_metadata", {}).get("name") in ("is_sha256_hex", "is_masked")
    }
    for relation in BI_RELATIONS:
        for name, column in relation.columns.items():
            if masking_of(column):
                assert (relation.unique_id, name) in tested, f"{relation.table}.{name}"


# What the pipeline really built: columns nobody declared in YAML must be caught too.


@pytest.fixture(scope="module")
def built_columns(demo_run: Settings) -> Iterator[dict[tuple[str, str], list[str]]]:
    with duckdb.connect(str(demo_run.warehouse), read_only=True) as con:
        rows = con.execute(
            "select table_schema, table_name, column_name "
            "from information_schema.columns where table_catalog = current_database()"
        ).fetchall()
    columns: dict[tuple[str, str], list[str]] = {}
    for schema, table, column in rows:
        columns.setdefault((schema, table), []).append(column.lower())
    yield columns


@pytest.mark.e2e
def test_every_built_personal_column_is_declared_with_its_class(
    built_columns: dict[tuple[str, str], list[str]],
) -> None:
    missing = []
    checked = 0
    for relation in RELATIONS:
        built = built_columns.get((relation.schema, relation.table))
        if built is None:
            continue
        checked += 1
        for name in built:
            expected = expected_class(relation.name, name, relation.is_landing)
            if expected is None:
                continue
            declared = relation.columns.get(name)
            if declared is None or pii_of(declared) != expected:
                missing.append(f"{relation.schema}.{relation.table}.{name}: {expected}")
    assert checked > 50, "the pipeline built fewer relations than the manifest holds"
    assert not missing, "declare these columns with meta: {pii: ...}: " + ", ".join(
        missing
    )


# Contracts: what Python code and dashboards read has a fixed shape on every engine.

CONTRACTED = {
    "dim_customers",
    "customer_identity_map",
    "fct_orders",
    "fct_customer_rfm",
    "fct_customer_segments",
    "fct_campaign_variants",
    "personalization",
    "personalization_product_picks",
}


def test_public_marts_and_bi_models_enforce_contracts_with_every_type() -> None:
    contracted = {
        relation.name: relation
        for relation in RELATIONS
        if relation.resource_type == "model"
        and relation.node["config"]["contract"]["enforced"]
    }
    assert set(contracted) >= CONTRACTED, CONTRACTED - set(contracted)
    assert {relation.name for relation in BI_RELATIONS} <= set(contracted)
    for name, relation in contracted.items():
        untyped = [
            column for column, spec in relation.columns.items() if not spec["data_type"]
        ]
        assert not untyped, f"{name}: no data_type for {untyped}"
        if relation.node["config"]["materialized"] == "incremental":
            assert relation.node["config"]["on_schema_change"] in (
                "append_new_columns",
                "fail",
            ), name
