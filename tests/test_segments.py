"""Segments, history and journeys on generated data, against the simulator's truth."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from mailroom.settings import Settings

pytestmark = pytest.mark.e2e


def test_cart_abandoners_match_the_simulators_truth(
    demo_run: Settings, warehouse: duckdb.DuckDBPyConnection
) -> None:
    truth = demo_run.home / "ground_truth" / "cart_adds.parquet"
    rows = warehouse.execute(
        f"""
        with
        -- A purchase made as a guest with an unusable email links to nobody.
        unlinkable_purchases as (
            select distinct items.product_id, orders.ordered_at
            from staging.base_shop__orders as orders
            inner join staging.stg_shop__order_items as items
                on orders.order_id = items.order_id
            where orders.quarantine_reason in ('invalid_email', 'missing_customer_key')
        ),
        carts as (
            select
                truth.purchased_within_48h,
                carts.is_abandoned,
                exists (
                    select 1 from unlinkable_purchases as purchase
                    where purchase.product_id = truth.product_id
                    and purchase.ordered_at > truth.added_at
                    and purchase.ordered_at <= truth.added_at + interval 48 hour
                ) as bought_unlinkably
            from read_parquet('{truth}') as truth
            inner join intermediate.int_cart_abandonments as carts
                on carts.event_id = truth.event_id
            where carts.is_window_elapsed
        )
        select purchased_within_48h, is_abandoned, bought_unlinkably, count(*)
        from carts group by all
        """
    ).fetchall()
    outcomes = {
        (bought, abandoned, unlinkable): n for bought, abandoned, unlinkable, n in rows
    }
    # Every abandonment the simulator injected is an abandoned cart...
    assert not any(
        n
        for (bought, abandoned, _), n in outcomes.items()
        if not bought and not abandoned
    )
    # ...and nobody who bought within 48 h is, unless the order links to nobody.
    assert not any(
        n
        for (bought, abandoned, unlinkable), n in outcomes.items()
        if bought and abandoned and not unlinkable
    )
    assert sum(n for (bought, _, _), n in outcomes.items() if not bought) > 100


def test_cart_abandoner_segment_holds_recent_abandonments_only(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    segment, recent = warehouse.execute(
        """
        select
            (select count(*) from marts.fct_customer_segments
             where segment = 'cart_abandoner'),
            (select count(distinct customer_id) from intermediate.int_cart_abandonments
             where is_abandoned
             and window_ends_at >= timestamp '2026-11-01' - interval 14 day)
        """
    ).fetchone()
    assert segment == recent > 0


def test_every_segment_states_its_reason(warehouse: duckdb.DuckDBPyConnection) -> None:
    missing, types = warehouse.execute(
        """
        select count(*) filter (where reason is null or member_since is null),
            count(distinct segment_type)
        from marts.fct_customer_segments
        """
    ).fetchone()
    assert missing == 0
    assert types == 4


@pytest.fixture(scope="module")
def week_later(demo_run: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo warehouse rebuilt by dbt a week after the first run."""
    from orchestration.pipeline import STAGES, run_stages

    home = tmp_path_factory.mktemp("week_later")
    shutil.copy(demo_run.warehouse, home / "warehouse.duckdb")
    shutil.copytree(demo_run.landing, home / "landing")
    # A week of new orders from 300 lapsed shop customers lands.
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        con.execute(
            f"""
            copy (
                select
                    'o-new-' || customer_id as order_id,
                    customer_id,
                    '2026-11-03T12:00:00Z' as ordered_at,
                    '80.00' as total_amount,
                    'placed' as status
                from raw.customers
                where customer_id not in (
                    select customer_id from raw.orders
                    where ordered_at >= '2026-08-01' and customer_id is not null
                )
                order by customer_id
                limit 300
            ) to '{home / "landing" / "orders" / "zz-week-2.csv"}' (header)
            """
        )
    settings = Settings.load(home=home, as_of=demo_run.as_of + timedelta(days=7))
    list(run_stages(settings, stages=STAGES[:2], log_path=home / "pipeline.log"))
    # Later tests in the session use the first run's settings again.
    demo_run.export()
    return home / "warehouse.duckdb"


def test_history_keeps_since_and_previous_segment(
    demo_run: Settings, week_later: Path
) -> None:
    first = demo_run.as_of.isoformat()
    with duckdb.connect(str(week_later), read_only=True) as con:
        runs = con.execute(
            "select count(distinct as_of_date) from marts.fct_customer_segment_history"
        ).fetchone()[0]
        stayed, moved, moved_with_previous = con.execute(
            f"""
            select
                count(*) filter (where member_since = date '{first}'),
                count(*) filter (where member_since > date '{first}'),
                count(*) filter (
                    where member_since > date '{first}' and previous_segment is not null
                    and previous_segment != segment
                )
            from marts.fct_customer_segments
            where segment_type = 'rfm'
            """
        ).fetchone()
    assert runs == 2
    assert stayed > 0
    assert moved > 0
    # Everyone who moved to a new RFM segment was in another one a week before.
    assert moved_with_previous == moved


def test_journeys_never_repeat_a_step(demo_run: Settings, week_later: Path) -> None:
    first = demo_run.as_of.isoformat()
    with duckdb.connect(str(week_later), read_only=True) as con:
        repeated, due_now, issued_first = con.execute(
            f"""
            select
                (select count(*) from marts.fct_journeys_due as due
                 inner join marts.fct_journey_steps as steps
                     on due.journey_step_id = steps.journey_step_id
                 where steps.first_due_date = date '{first}'),
                (select count(*) from marts.fct_journeys_due),
                (select count(*) from marts.fct_journey_steps
                 where first_due_date = date '{first}')
            """
        ).fetchone()
    assert issued_first > 0 and due_now > 0
    assert repeated == 0
