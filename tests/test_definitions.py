"""Smoke test: the Dagster definitions load with the expected assets and checks."""

from __future__ import annotations

from dagster import AssetKey

from orchestration.definitions import defs


def test_every_stage_is_an_asset_in_its_group() -> None:
    graph = defs.resolve_asset_graph()
    groups = {key: graph.get(key).group_name for key in graph.get_all_asset_keys()}
    expected = {
        AssetKey(["raw", "orders"]): "ingestion",
        AssetKey(["staging", "stg_shop__orders"]): "staging",
        AssetKey(["intermediate", "int_identity_components"]): "identity",
        AssetKey(["marts", "dim_customers"]): "marts",
        AssetKey(["marts", "fct_customer_rfm"]): "marts",
        AssetKey(["ml", "customer_features"]): "ml",
        AssetKey(["ml", "customer_clusters"]): "ml",
        AssetKey(["marts", "personalization"]): "emails",
        AssetKey(["outbox", "payloads"]): "emails",
        AssetKey(["esp", "sync"]): "export",
    }
    assert {key: groups.get(key) for key in expected} == expected


def test_python_assets_hang_off_the_dbt_graph() -> None:
    graph = defs.resolve_asset_graph()
    features = graph.get(AssetKey(["ml", "customer_features"]))
    assert AssetKey(["marts", "dim_customers"]) in features.parent_keys
    for model in ("customer_clusters", "customer_predictions"):
        # both read the features the features asset stored, not their own
        assert AssetKey(["ml", "customer_features"]) in (
            graph.get(AssetKey(["ml", model])).parent_keys
        )
    personalization = graph.get(AssetKey(["marts", "personalization"]))
    assert AssetKey(["staging", "stg_ml__customer_clusters"]) in (
        personalization.parent_keys
    )


def test_dbt_tests_and_the_consent_check_are_asset_checks() -> None:
    graph = defs.resolve_asset_graph()
    checks = {key.name for key in graph.asset_check_keys}
    assert "outbox_has_consent_for_every_recipient" in checks
    assert "unique_dim_customers_customer_id" in checks


def test_singular_dbt_tests_are_asset_checks_too() -> None:
    graph = defs.resolve_asset_graph()
    checks = {key.name: key.asset_key for key in graph.asset_check_keys}
    assert checks["assert_raw_reconciles_with_staging"] == AssetKey(
        ["quality", "quarantined_rows"]
    )
    assert checks["assert_identity_components_converged"] == AssetKey(
        ["intermediate", "int_identity_exact_components"]
    )
