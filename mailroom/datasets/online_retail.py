"""Map the UCI Online Retail 2010-11 export onto the landing contract.

The export has one row per invoice line. Invoices become ``orders`` (a leading "C" in
the invoice number marks a cancellation), lines become ``order_items`` and stock codes
become ``products``. Guest lines (no CustomerID) are kept as orders with neither a
customer id nor an email, so the pipeline quarantines them with a reason instead of
this importer dropping them.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from mailroom.datasets import path_literal

CURRENCY = "GBP"


def write_landing(parquet: Path, landing: Path) -> dict[str, int]:
    """Write orders, order_items and products files for the export into ``landing``.

    Returns the number of rows written per source.
    """
    parquet = Path(parquet)
    if not parquet.is_file():
        raise FileNotFoundError(f"Online Retail export not found at {parquet}")
    queries = {
        "orders": f"""
            select
                InvoiceNo as order_id,
                cast(cast(any_value(CustomerID) as bigint) as varchar) as customer_id,
                strftime(min(InvoiceDate), '%Y-%m-%dT%H:%M:%S') as ordered_at,
                cast(round(sum(Quantity * UnitPrice), 2) as varchar) as total_amount,
                '{CURRENCY}' as currency,
                case when InvoiceNo like 'C%' then 'cancelled' else 'placed' end
                    as status,
                any_value(Country) as shipping_country
            from read_parquet(?)
            group by InvoiceNo
            order by min(InvoiceDate), InvoiceNo
        """,
        "order_items": """
            select
                InvoiceNo as order_id,
                StockCode as product_id,
                cast(row_number() over (
                    partition by InvoiceNo order by StockCode, Quantity, UnitPrice
                ) as varchar) as line_number,
                cast(Quantity as varchar) as quantity,
                cast(UnitPrice as varchar) as unit_price
            from read_parquet(?)
            order by InvoiceNo, line_number
        """,
        "products": f"""
            select
                StockCode as product_id,
                mode(Description) as name,
                cast(median(UnitPrice) as varchar) as price,
                '{CURRENCY}' as currency
            from read_parquet(?)
            where UnitPrice > 0
            group by StockCode
            order by StockCode
        """,
    }
    counts = {}
    with duckdb.connect() as con:
        for source, query in queries.items():
            folder = Path(landing) / source
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / f"online_retail_{source}.parquet"
            query = query.replace("?", path_literal(parquet))
            con.execute(f"copy ({query}) to {path_literal(target)} (format parquet)")
            counts[source] = con.execute(
                f"select count(*) from read_parquet({path_literal(target)})"
            ).fetchone()[0]
    return counts
