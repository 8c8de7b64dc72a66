"""The landing-file contract: which sources exist, their columns and their types.

This module is the single source of truth for the contract described in
``shared/ARCHITECTURE.md``. Ingestion validates files against it, the simulator writes
files that follow it, and the README documents it from the same table.

Column names are case-insensitive in landing files; they are lower-cased on load.
Values are kept exactly as delivered in ``raw.<source>`` (as text); typing happens in
the dbt staging models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ColumnType = Literal["text", "integer", "decimal", "timestamp", "date", "boolean"]

FILE_SUFFIXES = (".csv", ".parquet", ".jsonl")


@dataclass(frozen=True)
class Column:
    """One column of a landing source."""

    name: str
    type: ColumnType = "text"
    description: str = ""


@dataclass(frozen=True)
class Source:
    """One landing source: a folder under the landing directory, a ``raw`` table."""

    name: str
    description: str
    required: tuple[Column, ...]
    optional: tuple[Column, ...] = ()
    # Groups of columns of which at least one must be present ("customer_id or email").
    one_of: tuple[tuple[Column, ...], ...] = ()
    example: dict[str, str] = field(default_factory=dict)

    @property
    def columns(self) -> tuple[Column, ...]:
        grouped = tuple(column for group in self.one_of for column in group)
        return self.required + grouped + self.optional

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def missing_columns(self, present: set[str]) -> list[str]:
        """Names of required columns (or one-of groups) absent from ``present``."""
        missing = [c.name for c in self.required if c.name not in present]
        for group in self.one_of:
            if not any(c.name in present for c in group):
                missing.append(" or ".join(c.name for c in group))
        return missing


def _cols(*specs: Column | tuple[str, ColumnType] | str) -> tuple[Column, ...]:
    return tuple(
        spec
        if isinstance(spec, Column)
        else Column(spec)
        if isinstance(spec, str)
        else Column(*spec)
        for spec in specs
    )


WEB_EVENT_TYPES = (
    "page_view",
    "product_view",
    "add_to_cart",
    "remove_from_cart",
    "checkout_started",
    "search",
    "identify",
)
EMAIL_EVENT_TYPES = (
    "sent",
    "delivered",
    "open",
    "click",
    "bounce",
    "unsubscribe",
    "spam_complaint",
)
ORDER_STATUSES = ("placed", "cancelled", "refunded")
CONSENT_STATUSES = ("opted_in", "opted_out")

SOURCES: dict[str, Source] = {
    source.name: source
    for source in (
        Source(
            name="orders",
            description="Shop orders, one row per order.",
            required=_cols(
                "order_id", ("ordered_at", "timestamp"), ("total_amount", "decimal")
            ),
            one_of=(_cols("customer_id", "email"),),
            optional=_cols(
                "currency",
                "status",
                ("discount_amount", "decimal"),
                "shipping_country",
            ),
            example={
                "order_id": "o-1001",
                "customer_id": "c-17",
                "email": "ana@example.com",
                "ordered_at": "2024-03-05T14:12:00Z",
                "total_amount": "89.90",
                "currency": "EUR",
                "status": "placed",
            },
        ),
        Source(
            name="order_items",
            description="Order lines, one row per product in an order.",
            required=_cols(
                "order_id",
                "product_id",
                ("quantity", "integer"),
                ("unit_price", "decimal"),
            ),
            optional=_cols(("line_number", "integer"), ("discount_amount", "decimal")),
            example={
                "order_id": "o-1001",
                "product_id": "p-42",
                "quantity": "2",
                "unit_price": "44.95",
            },
        ),
        Source(
            name="products",
            description="The product catalog, one row per product.",
            required=_cols("product_id"),
            optional=_cols(
                "name",
                "category",
                "subcategory",
                "brand",
                ("price", "decimal"),
                "currency",
                "url",
                "image_url",
                ("is_active", "boolean"),
                ("in_stock", "boolean"),
            ),
            example={
                "product_id": "p-42",
                "name": "Trail Runner 2",
                "category": "running",
                "price": "44.95",
                "is_active": "true",
            },
        ),
        Source(
            name="customers",
            description="Shop accounts, one row per account.",
            required=_cols("customer_id"),
            optional=_cols(
                "email",
                "first_name",
                "last_name",
                "phone",
                ("created_at", "timestamp"),
                ("accepts_marketing", "boolean"),
                "country",
                "postal_code",
            ),
            example={
                "customer_id": "c-17",
                "email": "ana@example.com",
                "first_name": "Ana",
                "last_name": "Silva",
                "accepts_marketing": "true",
            },
        ),
        Source(
            name="crm_contacts",
            description="CRM contacts, one row per contact.",
            required=_cols("contact_id"),
            optional=_cols(
                "email",
                "first_name",
                "last_name",
                "phone",
                ("birth_date", "date"),
                "gender",
                "street",
                "city",
                "postal_code",
                "country",
                "loyalty_tier",
                ("created_at", "timestamp"),
                ("updated_at", "timestamp"),
                Column(
                    "external_id",
                    description=(
                        "an id the person carries across systems (membership or "
                        "loyalty number); typed by hand, so identity resolution "
                        "weighs it as evidence and never links on it alone"
                    ),
                ),
            ),
            example={
                "contact_id": "crm-9",
                "email": "Ana@Example.com ",
                "first_name": "Ana",
                "last_name": "Silva",
                "country": "PT",
            },
        ),
        Source(
            name="consents",
            description="The consent ledger, one row per consent event.",
            required=_cols("channel", "status", ("captured_at", "timestamp")),
            one_of=(_cols("email", "contact_id"),),
            optional=_cols("purpose", "source"),
            example={
                "email": "ana@example.com",
                "channel": "email",
                "status": "opted_in",
                "captured_at": "2023-11-02T09:00:00Z",
            },
        ),
        Source(
            name="web_events",
            description="Web analytics events, one row per event.",
            required=_cols("event_id", ("occurred_at", "timestamp"), "event_type"),
            one_of=(_cols("anonymous_id", "customer_id", "email", "device_id"),),
            optional=_cols(
                "product_id",
                "page_url",
                "referrer",
                "search_query",
                "utm_source",
                "utm_medium",
                "utm_campaign",
            ),
            example={
                "event_id": "w-1",
                "occurred_at": "2024-03-05T14:02:11Z",
                "event_type": "add_to_cart",
                "anonymous_id": "anon-5f2",
                "product_id": "p-42",
            },
        ),
        Source(
            name="email_events",
            description="ESP events, one row per event.",
            required=_cols(
                "event_id", ("occurred_at", "timestamp"), "event_type", "email"
            ),
            optional=_cols(
                "campaign_id",
                "message_id",
                "variant",
                "link_url",
                "user_agent",
                ("is_machine_open", "boolean"),
            ),
            example={
                "event_id": "e-1",
                "occurred_at": "2024-03-01T08:00:03Z",
                "event_type": "open",
                "email": "ana@example.com",
                "campaign_id": "spring-24",
                "is_machine_open": "false",
            },
        ),
        Source(
            name="campaigns",
            description="ESP campaigns, one row per campaign.",
            required=_cols("campaign_id"),
            optional=_cols("name", ("sent_at", "timestamp"), "subject", "channel"),
            example={
                "campaign_id": "spring-24",
                "name": "Spring running",
                "sent_at": "2024-03-01T08:00:00Z",
                "channel": "email",
            },
        ),
    )
}

REQUIRED_SOURCES = ("orders",)
