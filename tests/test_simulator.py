"""Tests of the demo-data simulator: contract, determinism, defects and ground truth."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from mailroom.contract import SOURCES
from mailroom.simulator import SimulationSummary, generate
from mailroom.simulator import constants as k

AS_OF = date(2026, 11, 1)
AS_OF_TEXT = "2026-11-01T00:00:00Z"
START_TEXT = "2024-11-01T00:00:00Z"  # AS_OF minus 730 days


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _read_file(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pandas()
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return pd.DataFrame(rows)


def _read_source(summary: SimulationSummary, source: str) -> pd.DataFrame:
    frames = []
    for path in sorted((summary.landing_dir / source).iterdir()):
        frame = _read_file(path)
        frame["_file"] = path.name
        frame["_row"] = range(1, len(frame) + 1)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> SimulationSummary:
    return generate(tmp_path_factory.mktemp("sim"), customers=800, seed=7, as_of=AS_OF)


@pytest.fixture(scope="module")
def defects(sim: SimulationSummary) -> pd.DataFrame:
    return pd.read_parquet(sim.ground_truth_dir / "defects.parquet")


def test_same_seed_gives_identical_bytes_and_other_seed_differs(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", customers=300, seed=3)
    second = generate(tmp_path / "b", customers=300, seed=3)
    other = generate(tmp_path / "c", customers=300, seed=4)
    digest_a = _digest(first.out_dir)
    assert digest_a == _digest(second.out_dir)
    digest_c = _digest(other.out_dir)
    assert digest_a.keys() == digest_c.keys()
    assert (
        digest_a["landing/orders/part-00001.csv"]
        != (digest_c["landing/orders/part-00001.csv"])
    )


def test_refuses_non_empty_landing_unless_overwrite(tmp_path: Path) -> None:
    generate(tmp_path, customers=50)
    with pytest.raises(ValueError, match="already holds files"):
        generate(tmp_path, customers=50)
    summary = generate(tmp_path, customers=60, overwrite=True)
    people = pd.read_parquet(summary.ground_truth_dir / "people.parquet")
    assert len(people) == 60


def test_every_source_follows_the_contract(sim: SimulationSummary) -> None:
    suffix = {"csv": ".csv", "parquet": ".parquet", "jsonl": ".jsonl"}
    for name, source in SOURCES.items():
        files = sorted((sim.landing_dir / name).iterdir())
        assert files, name
        assert {f.suffix for f in files} <= set(suffix.values())
        frame = _read_file(files[0])
        assert list(frame.columns) == list(source.column_names), name
        assert source.missing_columns(set(frame.columns)) == []
        assert sim.rows[name] == len(_read_source(sim, name)), name
    assert sim.rows["web_events"] > sim.rows["orders"] > 0


def test_every_defect_points_at_a_row_that_has_it(
    sim: SimulationSummary, defects: pd.DataFrame
) -> None:
    products = set(_read_source(sim, "products")["product_id"])
    expected = {
        "guest_checkout", "invalid_email", "missing_value", "zero_amount",
        "negative_amount", "future_timestamp", "unparsable_timestamp",
        "duplicate_event_id", "unknown_product_id", "duplicate_person_variant",
        "opted_out", "reregistered_contact", "shared_email", "placeholder_phone",
    }  # fmt: skip
    assert set(defects["defect"]) == expected
    for source, group in defects.groupby("source"):
        data = _read_source(sim, source).set_index(["_file", "_row"])
        seen_ids = _read_source(sim, source) if "event_id" in data.columns else None
        for row in group.itertuples():
            value = data.loc[(row.file_name, row.row_number)]
            cell = value[row.column.split(",")[0]] if row.column else None
            if row.defect == "future_timestamp":
                assert cell > AS_OF_TEXT and cell[:2] in {"21", "22"}
            elif row.defect == "unparsable_timestamp":
                with pytest.raises(ValueError):
                    datetime.strptime(cell, "%Y-%m-%dT%H:%M:%SZ")
            elif row.defect in {"missing_value", "guest_checkout"}:
                assert cell in ("", None)
            elif row.defect == "zero_amount":
                assert float(cell) == 0 and value["status"] == "placed"
            elif row.defect == "negative_amount":
                assert float(cell) < 0 and value["status"] == "placed"
            elif row.defect == "invalid_email":
                local, at, domain = cell.partition("@")
                assert (
                    not at
                    or not local
                    or " " in cell
                    or "@" in domain
                    or ("." not in domain)
                )
            elif row.defect == "unknown_product_id":
                assert cell not in products
            elif row.defect == "duplicate_event_id":
                same = seen_ids[seen_ids["event_id"] == cell]
                assert len(same) >= 2
                earlier = same.iloc[0]
                assert (earlier["_file"], earlier["_row"]) < (
                    row.file_name,
                    row.row_number,
                )
            elif row.defect == "opted_out":
                assert cell in {"opted_out", "unsubscribe"}
            elif row.defect == "placeholder_phone":
                assert cell in k.PLACEHOLDER_PHONES
            elif row.defect == "reregistered_contact":
                first = data.loc[data["contact_id"] == cell.removesuffix("-2")]
                assert cell.endswith("-2") and len(first) == 1
                assert value["birth_date"] == first["birth_date"].iloc[0]
                assert value["email"] != first["email"].iloc[0]
            elif row.defect == "shared_email":
                owners = data.loc[data["email"] == cell, "customer_id"]
                assert owners.nunique() >= 2


def test_duplicate_event_rows_are_exact_copies(
    sim: SimulationSummary, defects: pd.DataFrame
) -> None:
    for source in ("web_events", "email_events"):
        data = _read_source(sim, source)
        dups = defects[
            (defects["source"] == source) & (defects["defect"] == "duplicate_event_id")
        ]
        assert len(dups) > 0
        columns = list(SOURCES[source].column_names)
        keyed = data.set_index(["_file", "_row"])
        for row in dups.itertuples():
            copy = keyed.loc[(row.file_name, row.row_number), columns]
            first = data[data["event_id"] == copy["event_id"]].iloc[0][columns]
            assert first.fillna("<null>").tolist() == copy.fillna("<null>").tolist()


def test_no_normal_timestamp_outside_the_history_window(
    sim: SimulationSummary, defects: pd.DataFrame
) -> None:
    columns = {
        "orders": "ordered_at",
        "web_events": "occurred_at",
        "email_events": "occurred_at",
        "customers": "created_at",
        "crm_contacts": "updated_at",
        "consents": "captured_at",
    }
    for source, column in columns.items():
        data = _read_source(sim, source)
        flagged = defects[
            (defects["source"] == source)
            & defects["defect"].isin(["future_timestamp", "unparsable_timestamp"])
        ]
        keys = set(zip(flagged["file_name"], flagged["row_number"], strict=True))
        normal = data[
            [k not in keys for k in zip(data["_file"], data["_row"], strict=True)]
        ]
        assert (normal[column] < AS_OF_TEXT).all(), source
        assert (normal[column] >= START_TEXT).all(), source
        assert normal[column].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").all()


def test_purchases_are_pareto_skewed(sim: SimulationSummary) -> None:
    orders = _read_source(sim, "orders")
    ids = pd.read_parquet(sim.ground_truth_dir / "identifiers.parquet")
    owner = ids[ids["source"] == "orders"]
    owner = owner.set_index(["id_type", "id_value"])["person_id"]
    person = [
        owner[("customer_id", c)] if c else owner[("email", e)]
        for c, e in zip(orders["customer_id"], orders["email"], strict=True)
    ]
    counts = pd.Series(person).value_counts()
    top = counts.iloc[: max(1, len(counts) // 5)].sum()
    assert top / counts.sum() > 0.45


def test_order_lines_sum_to_total_plus_discount(
    sim: SimulationSummary, defects: pd.DataFrame
) -> None:
    orders = _read_source(sim, "orders")
    items = _read_source(sim, "order_items")
    amount_defects = defects[
        (defects["source"] == "orders") & (defects["column"] == "total_amount")
    ]
    bad = set(
        zip(amount_defects["file_name"], amount_defects["row_number"], strict=True)
    )
    clean = orders[
        [k not in bad for k in zip(orders["_file"], orders["_row"], strict=True)]
    ]
    items["line"] = items["quantity"] * items["unit_price"].astype(float)
    sums = items.groupby("order_id")["line"].sum()
    expected = sums[clean["order_id"]].to_numpy() - clean["discount_amount"].astype(
        float
    )
    assert (abs(clean["total_amount"].astype(float) - expected) < 0.005).all()
    line_discounts = items.groupby("order_id")["discount_amount"].sum().astype(float)
    assert (
        abs(
            line_discounts[orders["order_id"]].to_numpy()
            - orders["discount_amount"].astype(float)
        )
        < 0.005
    ).all()


def test_cart_adds_truth_matches_orders(sim: SimulationSummary) -> None:
    carts = pd.read_parquet(sim.ground_truth_dir / "cart_adds.parquet")
    web = _read_source(sim, "web_events").drop_duplicates("event_id")
    adds = web[web["event_type"] == "add_to_cart"]
    assert set(adds["event_id"]) == set(carts["event_id"])
    assert (
        carts["purchased_within_48h"].any() and (~carts["purchased_within_48h"]).any()
    )
    orders = _read_source(sim, "orders")
    items = _read_source(sim, "order_items").merge(orders, on="order_id")
    ids = pd.read_parquet(sim.ground_truth_dir / "identifiers.parquet")
    owner = ids[ids["source"] == "orders"].set_index(["id_type", "id_value"])
    items["person_id"] = [
        owner.loc[("customer_id", c), "person_id"]
        if c
        else owner.loc[("email", e), "person_id"]
        for c, e in zip(items["customer_id"], items["email"], strict=True)
    ]
    items["ordered"] = pd.to_datetime(items["ordered_at"], utc=True, errors="coerce")
    joined = carts.merge(items, on=["person_id", "product_id"], how="left")
    window = (joined["ordered"] >= joined["added_at"]) & (
        joined["ordered"] <= joined["added_at"] + pd.Timedelta(hours=48)
    )
    bought = window.groupby(joined["event_id"]).any()
    truth = carts.set_index("event_id")["purchased_within_48h"]
    assert (bought[truth.index] == truth).all()


def test_ground_truth_people_and_identifiers(sim: SimulationSummary) -> None:
    people = pd.read_parquet(sim.ground_truth_dir / "people.parquet")
    ids = pd.read_parquet(sim.ground_truth_dir / "identifiers.parquet")
    assert len(people) == 800 and people["person_id"].is_unique
    assert people["archetype"].nunique() >= 7
    assert 0.2 < people["has_consent"].mean() < 0.8
    assert not ids.duplicated(["source", "id_type", "id_value"]).any()
    assert set(ids["person_id"]) <= set(people["person_id"])
    emails = ids[ids["id_type"] == "email"]
    assert (
        emails["normalized_value"] == emails["id_value"].str.strip().str.lower()
    ).all()
    customers = _read_source(sim, "customers")
    known = ids[(ids["source"] == "customers") & (ids["id_type"] == "customer_id")]
    assert set(customers["customer_id"]) == set(known["id_value"])
    canon = people.set_index("person_id")["email"]
    ok = emails[emails["normalized_value"] == canon[emails["person_id"]].to_numpy()]
    assert len(ok) > 0.9 * len(emails)
