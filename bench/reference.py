"""A hand-written reference pipeline, the yardstick of ``bench/full_run.py``.

    .venv/bin/python bench/reference.py --landing FOLDER/landing --as-of 2026-11-01

What an engineer would write without Mailroom, on the same landing folder: plain
DuckDB SQL for the same marts (people joined by email, orders, RFM scores and
segments, consent, engagement, preferred category and picks, a personalization
table), the same scikit-learn fits as Mailroom's ML stage (K-Means over the same
range of k with a silhouette choice; for purchase in 30 days and for churn in 90
days the same two calibrated candidates, chosen on a later snapshot and refitted),
and plain Jinja2 rendering to JSONL. It runs DuckDB with the same memory limit.

It leaves out what makes Mailroom more than this: validation and quarantine,
fuzzy identity and stable ids, tests and checks, BG/NBD and CLV, co-purchase
rules, backtest tables, MJML layouts, block rules, decision audit, experiments,
outbox checksums and diffing. It is a yardstick for speed, not a product.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import orjson
import pandas as pd
from jinja2 import Environment
from sklearn.base import BaseEstimator, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.cluster import MiniBatchKMeans
from sklearn.metrics import roc_auc_score, silhouette_score
from sklearn.model_selection import ShuffleSplit
from sklearn.preprocessing import StandardScaler

from mailroom.settings import duckdb_memory_limit
from ml.clustering import ClusteringConfig
from ml.config import PredictionConfig
from ml.propensity import candidates

READERS = {".csv": "read_csv", ".parquet": "read_parquet", ".jsonl": "read_json"}
SOURCES = (
    "orders",
    "order_items",
    "products",
    "customers",
    "crm_contacts",
    "consents",
    "web_events",
    "email_events",
)

MARTS = """
create table identities as
select 'shop:' || customer_id as source_id, nullif(lower(trim(email)), '') as email,
       first_name, last_name, 1 as source_rank
from raw_customers
union all
select 'crm:' || contact_id, nullif(lower(trim(email)), ''), first_name, last_name, 2
from raw_crm_contacts
union all
select distinct 'guest:' || lower(trim(email)), lower(trim(email)), null, null, 3
from raw_orders
where customer_id is null and email is not null;

create table id_map as
select distinct source_id, coalesce(email, source_id) as person_id from identities;

create table people as
select coalesce(email, source_id) as person_id, any_value(email) as email,
       arg_min(first_name, source_rank) as first_name,
       arg_min(last_name, source_rank) as last_name
from identities
group by 1;

create table orders as
select o.order_id, m.person_id, try_cast(o.ordered_at as timestamptz) as ordered_at,
       try_cast(o.total_amount as decimal(18, 2)) as amount
from raw_orders as o
inner join id_map as m
    on m.source_id
    = coalesce('shop:' || o.customer_id, 'guest:' || lower(trim(o.email)))
where coalesce(o.status, 'placed') = 'placed'
    and try_cast(o.ordered_at as timestamptz) < $as_of
    and try_cast(o.total_amount as decimal(18, 2)) is not null
qualify row_number() over (partition by o.order_id order by o.ordered_at) = 1;

create table products as
select product_id, name, category, try_cast(price as decimal(18, 2)) as price,
       currency, url, image_url,
       coalesce(try_cast(is_active as boolean), true)
       and coalesce(try_cast(in_stock as boolean), true) as sellable
from raw_products;

create table lines as
select o.person_id, o.ordered_at, i.product_id, p.category,
       try_cast(i.quantity as integer) * try_cast(i.unit_price as decimal(18, 2))
           as revenue
from orders as o
inner join raw_order_items as i on i.order_id = o.order_id
left join products as p on p.product_id = i.product_id;

create table rfm as
with totals as (
    select person_id, date_diff('day', max(ordered_at), $as_of) as recency_days,
           count(*) as frequency, sum(amount) as monetary
    from orders
    group by person_id
), scored as (
    select *, ntile(5) over (order by recency_days desc) as r_score,
           ntile(5) over (order by frequency) as f_score,
           ntile(5) over (order by monetary) as m_score
    from totals
)
select *,
    case
        when r_score = 5 and f_score >= 4 then 'champions'
        when r_score = 5 and f_score = 1 then 'new_customers'
        when r_score = 4 and f_score = 1 then 'promising'
        when r_score >= 4 and f_score <= 3 then 'potential_loyalists'
        when r_score >= 3 and f_score >= 4 then 'loyal_customers'
        when r_score = 3 and f_score = 3 then 'need_attention'
        when r_score = 3 then 'about_to_sleep'
        when f_score = 5 then 'cant_lose'
        when f_score >= 3 then 'at_risk'
        else 'hibernating'
    end as segment
from scored;

create table consent as
select coalesce(nullif(lower(trim(c.email)), ''), i.email) as email,
       arg_max(c.status, c.captured_at) as status
from raw_consents as c
left join identities as i on i.source_id = 'crm:' || c.contact_id
where c.channel = 'email' and try_cast(c.captured_at as timestamptz) < $as_of
group by 1;

create table suppressed as
select distinct lower(trim(email)) as email
from raw_email_events
where event_type in ('bounce', 'unsubscribe', 'spam_complaint')
    and try_cast(occurred_at as timestamptz) < $as_of;

create table preferred as
select person_id, arg_max(category, revenue) as category
from (
    select person_id, category, sum(revenue) as revenue
    from lines where category is not null group by all
)
group by person_id;

create table popular as
select l.category, l.product_id, row_number() over (
    partition by l.category order by count(*) desc, l.product_id
) as popularity
from lines as l
inner join products as p on p.product_id = l.product_id and p.sellable
where l.ordered_at >= $as_of - interval 90 day
group by l.category, l.product_id
qualify popularity <= 20;

create table personalization as
select p.person_id, p.email, p.first_name, r.segment, r.frequency, r.monetary,
       f.category as preferred_category
from people as p
inner join consent as c on c.email = p.email and c.status = 'opted_in'
left join rfm as r on r.person_id = p.person_id
left join preferred as f on f.person_id = p.person_id
where p.email not in (select email from suppressed);

create table picks as
select z.person_id, pr.name, pr.price, pr.currency, pr.url, pr.image_url,
       row_number() over (partition by z.person_id order by pop.popularity) as pick_rank
from personalization as z
inner join popular as pop on pop.category = z.preferred_category
inner join products as pr on pr.product_id = pop.product_id
where not exists (
    select 1 from lines as l
    where l.person_id = z.person_id and l.product_id = pop.product_id
)
qualify pick_rank <= 3;
"""

FEATURES = """
with bought as (
    select person_id, date_diff('day', max(ordered_at), $cutoff) as recency_days,
           date_diff('day', min(ordered_at), $cutoff) as tenure_days,
           count(*) as frequency, sum(amount)::double as monetary,
           count(*) filter (where ordered_at >= $cutoff - interval 90 day)
               as orders_90d,
           coalesce(sum(amount) filter (
               where ordered_at >= $cutoff - interval 90 day
           ), 0)::double as revenue_90d
    from orders where ordered_at < $cutoff
    group by person_id
), web as (
    select m.person_id,
           count(*) filter (where w.event_type = 'product_view') as views_90d,
           count(*) filter (where w.event_type = 'add_to_cart') as carts_90d
    from raw_web_events as w
    inner join id_map as m on m.source_id = 'shop:' || w.customer_id
    where try_cast(w.occurred_at as timestamptz)
        between $cutoff - interval 90 day and $cutoff - interval 1 microsecond
    group by m.person_id
), mail as (
    select lower(trim(email)) as email,
           count(*) filter (where event_type = 'open') as opens_90d,
           count(*) filter (where event_type = 'click') as clicks_90d
    from raw_email_events
    where try_cast(occurred_at as timestamptz)
        between $cutoff - interval 90 day and $cutoff - interval 1 microsecond
    group by 1
)
select b.*,
       coalesce(w.views_90d, 0) as views_90d, coalesce(w.carts_90d, 0) as carts_90d,
       coalesce(e.opens_90d, 0) as opens_90d, coalesce(e.clicks_90d, 0) as clicks_90d
from bought as b
inner join people as p on p.person_id = b.person_id
left join web as w on w.person_id = b.person_id
left join mail as e on e.email = p.email
order by b.person_id
"""

LABELS = """
select distinct person_id from orders
where ordered_at >= $cutoff and ordered_at < $cutoff + to_days($window)
"""

MODEL_COLUMNS = [
    "recency_days",
    "tenure_days",
    "frequency",
    "monetary",
    "orders_90d",
    "revenue_90d",
    "views_90d",
    "carts_90d",
    "opens_90d",
    "clicks_90d",
]
CLUSTER_COLUMNS = ["recency_days", "frequency", "monetary", "views_90d", "opens_90d"]

HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>{{ subject }}</title></head>
<body style="margin:0;background:#f4f4f4;font-family:Helvetica,Arial,sans-serif">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0">
<tr><td align="center"><table role="presentation" width="600" cellpadding="24"
 style="background:#ffffff">
<tr><td style="font-size:20px;color:#222">Hi {{ first_name or "there" }},</td></tr>
<tr><td style="font-size:16px;color:#444">{{ body }}</td></tr>
{% for pick in picks %}
<tr><td><a href="{{ pick.url }}?{{ utm }}" style="color:#0a58ca">
 <img src="{{ pick.image_url }}" width="160" alt="{{ pick.name }}"
 style="display:block;border:0"> {{ pick.name }}</a>
 <span style="color:#222">{{ pick.price }} {{ pick.currency }}</span></td></tr>
{% endfor %}
<tr><td><a href="https://shop.example.com/?{{ utm }}"
 style="background:#0a58ca;color:#ffffff;padding:12px 20px;text-decoration:none">
 Shop now</a></td></tr>
</table></td></tr></table></body></html>
"""
TEXT = """Hi {{ first_name or "there" }},

{{ body }}
{% for pick in picks %}
- {{ pick.name }}: {{ pick.price }} {{ pick.currency }} {{ pick.url }}
{% endfor %}
"""
BODIES = {
    "champions": "Thank you for being one of our best customers.",
    "at_risk": "It has been a while. Here is what is new.",
    "hibernating": "We miss you. Come back for something new.",
}
DEFAULT_BODY = "Picked for you this week."


def load(con: duckdb.DuckDBPyConnection, landing: Path) -> None:
    """Raw tables straight from the landing files, as delivered."""
    for source in SOURCES:
        folder = landing / source
        files = sorted(folder.glob("*.*")) if folder.is_dir() else []
        suffixes = {path.suffix for path in files} & READERS.keys()
        if not suffixes:
            raise FileNotFoundError(f"no landing files for {source} in {folder}")
        reads = []
        for suffix in sorted(suffixes):
            options = ", all_varchar = true" if suffix == ".csv" else ""
            pattern = str(folder / f"*{suffix}")
            reads.append(
                f"select * from {READERS[suffix]}('{pattern}', "
                f"union_by_name = true{options})"
            )
        con.execute(
            f"create table raw_{source} as " + " union all by name ".join(reads)
        )


def build_marts(con: duckdb.DuckDBPyConnection, as_of: date) -> None:
    for statement in MARTS.split(";"):
        if statement.strip():
            con.execute(statement, {"as_of": as_of} if "$as_of" in statement else {})


def features(con: duckdb.DuckDBPyConnection, cutoff: date) -> pd.DataFrame:
    return con.execute(FEATURES, {"cutoff": cutoff}).df()


def labelled(con: duckdb.DuckDBPyConnection, cutoff: date, window: int) -> pd.DataFrame:
    frame = features(con, cutoff)
    buyers = con.execute(LABELS, {"cutoff": cutoff, "window": window}).df()
    frame["label"] = frame["person_id"].isin(buyers["person_id"]).astype(int)
    return frame


def cluster(frame: pd.DataFrame, config: ClusteringConfig) -> np.ndarray:
    """K-Means for each k in the range on a sample; the best silhouette labels all."""
    x = StandardScaler().fit_transform(np.log1p(frame[CLUSTER_COLUMNS].clip(lower=0)))
    rng = np.random.default_rng(config.random_state)
    fit_rows = rng.choice(len(x), min(len(x), config.fit_sample), replace=False)
    score_rows = rng.choice(
        len(x), min(len(x), config.silhouette_sample), replace=False
    )
    best, best_score = None, -2.0
    for k in range(config.k_min, config.k_max + 1):
        model = MiniBatchKMeans(
            n_clusters=k,
            batch_size=config.batch_size,
            n_init=3,
            random_state=config.random_state,
        ).fit(x[fit_rows])
        score = silhouette_score(x[score_rows], model.predict(x[score_rows]))
        if score > best_score:
            best, best_score = model, score
    assert best is not None
    return best.predict(x)


def calibrated(
    estimator: BaseEstimator, rows: int, config: PredictionConfig
) -> CalibratedClassifierCV:
    """Isotonic calibration on three folds, or one split above the same threshold."""
    folds = 3
    if rows >= config.cross_fit_calibration_below:
        split = ShuffleSplit(1, test_size=1 / 3, random_state=0).split(range(rows))
        folds = [next(split)]
    return CalibratedClassifierCV(clone(estimator), method="isotonic", cv=folds)


def fit_and_score(
    con: duckdb.DuckDBPyConnection,
    current: pd.DataFrame,
    as_of: date,
    window: int,
    config: PredictionConfig,
) -> np.ndarray:
    """Choose a candidate on the latest labelled snapshot, refit, score ``current``."""
    validation = labelled(con, as_of - timedelta(days=window), window)
    older: list[pd.DataFrame] = []
    for step in range(1, config.training_snapshots):
        if sum(map(len, older)) >= config.max_training_rows:
            break
        cutoff = as_of - timedelta(days=window + step * config.step_days)
        older.append(labelled(con, cutoff, window))
    train = pd.concat(older, ignore_index=True)
    if len(train) > config.max_training_rows:
        train = train.sample(config.max_training_rows, random_state=0)
    best, best_auc = "", -1.0
    for name, estimator in candidates(config.random_state).items():
        model = calibrated(estimator, len(train), config)
        model.fit(train[MODEL_COLUMNS].to_numpy(float), train["label"])
        score = model.predict_proba(validation[MODEL_COLUMNS].to_numpy(float))[:, 1]
        auc = roc_auc_score(validation["label"], score)
        if auc > best_auc:
            best, best_auc = name, auc
    everything = pd.concat([validation, *older], ignore_index=True)
    if len(everything) > config.max_training_rows:
        everything = everything.sample(config.max_training_rows, random_state=0)
    model = calibrated(candidates(config.random_state)[best], len(everything), config)
    model.fit(everything[MODEL_COLUMNS].to_numpy(float), everything["label"])
    probability = model.predict_proba(current[MODEL_COLUMNS].to_numpy(float))[:, 1]
    return probability


def predict(con: duckdb.DuckDBPyConnection, as_of: date) -> None:
    config = PredictionConfig()
    current = features(con, as_of)
    current["cluster"] = cluster(current, ClusteringConfig())
    purchase = fit_and_score(con, current, as_of, config.horizon_days, config)
    stays = fit_and_score(con, current, as_of, config.churn_window_days, config)
    scores = current.loc[:, ["person_id", "cluster"]].assign(
        purchase_probability=purchase, churn_probability=1 - stays
    )
    con.register("scores", scores)
    con.execute("create table predictions as select * from scores")
    con.unregister("scores")


def render(con: duckdb.DuckDBPyConnection, outbox: Path, campaign: str) -> int:
    """One JSONL line per recipient: subject, HTML and text from Jinja2 templates."""
    environment = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    html = environment.from_string(HTML)
    text = Environment(trim_blocks=True, lstrip_blocks=True).from_string(TEXT)
    picks: dict[str, list[dict]] = {}
    rows = con.execute("select * from picks order by person_id, pick_rank").fetchall()
    for person_id, name, price, currency, url, image_url, _ in rows:
        picks.setdefault(person_id, []).append(
            {
                "name": name,
                "price": str(price),
                "currency": currency,
                "url": url,
                "image_url": image_url,
            }
        )
    result = con.execute(
        "select person_id, email, first_name, segment from personalization"
    )
    utm = f"utm_source=mailroom&utm_medium=email&utm_campaign={campaign}"
    count = 0
    with outbox.open("wb") as out:
        while batch := result.fetchmany(10_000):
            for person_id, email, first_name, segment in batch:
                context = {
                    "subject": f"{first_name or 'Hello'}, picked for you",
                    "first_name": first_name,
                    "body": BODIES.get(segment, DEFAULT_BODY),
                    "picks": picks.get(person_id, ()),
                    "utm": utm,
                }
                out.write(
                    orjson.dumps(
                        {
                            "recipient_id": person_id,
                            "email": email,
                            "subject": context["subject"],
                            "html": html.render(context),
                            "text": text.render(context),
                        },
                        option=orjson.OPT_APPEND_NEWLINE,
                    )
                )
                count += 1
    return count


def run(landing: Path, folder: Path, as_of: date) -> Iterator[tuple[str, float, str]]:
    """Run the reference in ``folder``; yield (step, seconds, what it produced)."""
    con = duckdb.connect(str(folder / "reference.duckdb"))
    con.execute(f"set memory_limit = '{duckdb_memory_limit()}'")
    try:
        began = time.perf_counter()
        load(con, landing)
        rows = sum(
            con.execute(f"select count(*) from raw_{source}").fetchone()[0]
            for source in SOURCES
        )
        yield "load", time.perf_counter() - began, f"{rows:,} raw rows"
        began = time.perf_counter()
        build_marts(con, as_of)
        sendable = con.execute("select count(*) from personalization").fetchone()[0]
        yield "marts", time.perf_counter() - began, f"{sendable:,} sendable"
        began = time.perf_counter()
        predict(con, as_of)
        scored = con.execute("select count(*) from predictions").fetchone()[0]
        yield "ml", time.perf_counter() - began, f"{scored:,} buyers scored"
        began = time.perf_counter()
        count = render(con, folder / "payloads.jsonl", "reference")
        yield "render", time.perf_counter() - began, f"{count:,} payloads"
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--landing", type=Path, required=True)
    parser.add_argument("--as-of", type=date.fromisoformat, required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        total = 0.0
        for step, seconds, produced in run(args.landing, Path(folder), args.as_of):
            total += seconds
            print(f"{step:<8} {seconds:>8.1f} s  {produced}")
        print(f"{'total':<8} {total:>8.1f} s")


if __name__ == "__main__":
    main()
