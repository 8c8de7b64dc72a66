"""The product catalog of the simulated sporting-goods shop."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from mailroom.simulator.constants import CATEGORY_SHARES, CURRENCY, SHOP_URL

# category -> subcategory -> (price range in EUR, product nouns)
_SUBCATEGORIES: dict[str, dict[str, tuple[tuple[int, int], tuple[str, ...]]]] = {
    "running": {
        "road_shoes": ((79, 189), ("Road Runner", "Tempo", "Glide", "Pace")),
        "trail_shoes": ((89, 199), ("Trail Runner", "Ridge", "Mud Grip")),
        "running_apparel": ((19, 89), ("Run Tee", "Split Short", "Wind Jacket")),
        "running_gear": ((9, 149), ("Hydration Vest", "Belt", "Headlamp")),
    },
    "yoga": {
        "mats": ((25, 119), ("Studio Mat", "Travel Mat", "Grip Mat")),
        "props": ((8, 49), ("Block", "Strap", "Bolster")),
        "yoga_apparel": ((29, 99), ("Flow Legging", "Bra Top", "Wrap")),
    },
    "hiking": {
        "boots": ((99, 249), ("Summit Boot", "Trek Boot", "Hiker Mid")),
        "backpacks": ((39, 229), ("Daypack", "Trek Pack", "Summit Pack")),
        "outerwear": ((59, 349), ("Shell Jacket", "Down Jacket", "Fleece")),
        "camping": ((15, 299), ("Tent", "Sleeping Bag", "Stove", "Trek Poles")),
    },
    "fitness_apparel": {
        "tops": ((15, 69), ("Training Tee", "Tank", "Long Sleeve")),
        "bottoms": ((25, 89), ("Tight", "Jogger", "Gym Short")),
        "training_shoes": ((59, 149), ("Cross Trainer", "Lift Shoe")),
    },
    "accessories": {
        "bottles": ((9, 39), ("Bottle", "Flask", "Shaker")),
        "socks": ((8, 25), ("Run Sock", "Hiking Sock", "Grip Sock")),
        "electronics": ((49, 399), ("GPS Watch", "Heart Rate Strap", "Earbuds")),
        "bags": ((19, 79), ("Gym Bag", "Waist Pack", "Duffel")),
    },
}
_BRANDS = {
    "running": ("Stridex", "Asphalt", "Northpace", "Veloce"),
    "yoga": ("Lotusline", "Asana Co", "Prana Lab"),
    "hiking": ("Alpenwerk", "Ridgeway", "Fjellgear", "Sierra Nord"),
    "fitness_apparel": ("Corepower", "Ironweave", "Motionwear"),
    "accessories": ("Gearloop", "Hydra", "Pulsetech", "Stridex"),
}
_ADJECTIVES = ("Pro", "Lite", "Max", "Air", "Flex", "Ultra", "Eco", "Classic")
PRODUCTS_PER_SUBCATEGORY = (12, 22)
INACTIVE_RATE = 0.03
OUT_OF_STOCK_RATE = 0.05
POPULARITY_ZIPF = 1.1


@dataclass(frozen=True)
class Catalog:
    """The catalog as arrays, plus the table written to ``landing/products``.

    ``category_cdf`` holds, per product (sorted by category), ``category index +
    cumulative popularity within the category`` so a single ``searchsorted`` picks a
    popular product of a given category.
    """

    table: pa.Table
    product_ids: np.ndarray  # object array of "p-1001"...
    urls: np.ndarray
    category_index: np.ndarray
    price_cents: np.ndarray
    category_cdf: np.ndarray
    categories: tuple[str, ...]

    def pick(self, rng: np.random.Generator, categories: np.ndarray) -> np.ndarray:
        """Pick one product index per element of ``categories`` (by popularity)."""
        u = categories + rng.random(categories.shape[0]) * (1 - 1e-9)
        idx = np.searchsorted(self.category_cdf, u, side="right")
        return np.minimum(idx, self.product_ids.shape[0] - 1)


def build_catalog(rng: np.random.Generator) -> Catalog:
    """Generate the catalog (about 250-350 products) from ``rng``."""
    categories = tuple(CATEGORY_SHARES)
    rows: dict[str, list] = {
        k: []
        for k in ("name", "category", "subcategory", "brand", "price_cents", "cat")
    }
    for cat_index, category in enumerate(categories):
        for subcategory, ((low, high), nouns) in _SUBCATEGORIES[category].items():
            count = int(rng.integers(*PRODUCTS_PER_SUBCATEGORY))
            for _ in range(count):
                brand = _BRANDS[category][int(rng.integers(len(_BRANDS[category])))]
                noun = nouns[int(rng.integers(len(nouns)))]
                adjective = _ADJECTIVES[int(rng.integers(len(_ADJECTIVES)))]
                number = int(rng.integers(1, 6))
                rows["name"].append(f"{brand} {noun} {adjective} {number}")
                rows["category"].append(category)
                rows["subcategory"].append(subcategory)
                rows["brand"].append(brand)
                euros = int(rng.integers(low, high + 1))
                rows["price_cents"].append(
                    euros * 100 + int(rng.choice([0, 50, 95, 99]))
                )
                rows["cat"].append(cat_index)
    n = len(rows["name"])
    ids = np.array([f"p-{1001 + i}" for i in range(n)], dtype=object)
    urls = np.array([f"{SHOP_URL}/p/{pid}" for pid in ids], dtype=object)
    cat = np.array(rows["cat"], dtype=np.int64)
    price = np.array(rows["price_cents"], dtype=np.int64)
    popularity = 1.0 / (rng.permutation(n) % 40 + 1.0) ** POPULARITY_ZIPF
    cdf = np.empty(n)
    for c in range(len(categories)):
        members = np.flatnonzero(cat == c)
        weights = np.cumsum(popularity[members])
        cdf[members] = c + weights / weights[-1]
    active = rng.random(n) >= INACTIVE_RATE
    in_stock = active & (rng.random(n) >= OUT_OF_STOCK_RATE)
    table = pa.table(
        {
            "product_id": pa.array(ids, pa.string()),
            "name": pa.array(rows["name"], pa.string()),
            "category": pa.array(rows["category"], pa.string()),
            "subcategory": pa.array(rows["subcategory"], pa.string()),
            "brand": pa.array(rows["brand"], pa.string()),
            "price": pa.array([f"{p // 100}.{p % 100:02d}" for p in price]),
            "currency": pa.array([CURRENCY] * n, pa.string()),
            "url": pa.array(urls, pa.string()),
            "image_url": pa.array(
                [f"{SHOP_URL}/img/{pid}.jpg" for pid in ids], pa.string()
            ),
            "is_active": pa.array(np.where(active, "true", "false"), pa.string()),
            "in_stock": pa.array(np.where(in_stock, "true", "false"), pa.string()),
        }
    )
    return Catalog(
        table=table,
        product_ids=ids,
        urls=urls,
        category_index=cat,
        price_cents=price,
        category_cdf=cdf,
        categories=categories,
    )
