"""Export: the changed payloads of the latest outbox run, synced to the ESP.

The destination comes from the ``esp`` resource, else the ``MAILROOM_ESP_*``
environment variables. With none set, the step runs and materializes nothing, so
"Materialize all" works on a machine that sends nowhere.
"""

import os
from collections.abc import Iterator

from dagster import (
    AssetExecutionContext,
    AssetSpec,
    ConfigurableResource,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from orchestration.assets.emails import PAYLOADS_KEY
from orchestration.project import EXPORT_GROUP
from orchestration.resources import MailroomResource
from renderer.export import sync_outbox
from renderer.export.destinations import DESTINATIONS

ESP_SYNC_KEY = ["esp", "sync"]


class EspResource(ConfigurableResource):
    """Where payloads are sent; empty fields fall back to MAILROOM_ESP_DESTINATION,
    MAILROOM_ESP_BASE_URL and MAILROOM_ESP_LIST_ID. The API key is read from the
    variable named by ``api_key_env``, never stored in run configuration."""

    destination: str = ""
    base_url: str = ""
    list_id: str = ""
    api_key_env: str = "MAILROOM_ESP_API_KEY"

    def target(self) -> tuple[str, str] | None:
        """``(destination, base_url)``, or None when no destination is set."""
        destination = self.destination or os.environ.get("MAILROOM_ESP_DESTINATION")
        if not destination:
            return None
        if destination not in DESTINATIONS:
            raise ValueError(
                f"ESP destination {destination!r} is unknown: set "
                f"MAILROOM_ESP_DESTINATION to one of {', '.join(sorted(DESTINATIONS))}"
            )
        base_url = self.base_url or os.environ.get("MAILROOM_ESP_BASE_URL")
        if not base_url:
            raise ValueError(
                f"ESP destination {destination!r} has no API address: set "
                "MAILROOM_ESP_BASE_URL (for example https://a.klaviyo.com)"
            )
        return destination, base_url

    def options(self) -> dict[str, str]:
        list_id = self.list_id or os.environ.get("MAILROOM_ESP_LIST_ID")
        return {"list_id": list_id} if list_id else {}


@multi_asset(
    specs=[
        AssetSpec(
            ESP_SYNC_KEY,
            deps=[PAYLOADS_KEY],
            description="The payloads of the latest outbox run that changed since "
            "the destination last acknowledged them, sent in its batch format "
            "(Mailchimp, HubSpot, Klaviyo or Braze); rejected recipients are "
            "retried by the next export.",
            group_name=EXPORT_GROUP,
            kinds={"http"},
            owners=["team:crm"],
            skippable=True,
        )
    ],
)
def esp_sync(
    context: AssetExecutionContext, mailroom: MailroomResource, esp: EspResource
) -> Iterator[MaterializeResult]:
    """Send what changed since the last successful export, once per recipient."""
    target = esp.target()
    if target is None:
        context.log.info("no ESP destination set (MAILROOM_ESP_DESTINATION): skipped")
        return
    destination, base_url = target
    report = sync_outbox(
        mailroom.settings().outbox,
        None,
        destination,
        base_url,
        api_key=os.environ.get(esp.api_key_env),
        options=esp.options(),
    )
    yield MaterializeResult(
        asset_key=ESP_SYNC_KEY,
        metadata={
            "destination": destination,
            "outbox_run": report.run_id,
            "payloads_in_run": report.considered,
            "unchanged": report.unchanged,
            "sent": report.sent,
            "accepted": report.accepted,
            "rejected": len(report.rejected),
            "batches": report.batches,
            "http_retries": report.retries,
            "rejections": MetadataValue.md(
                "\n".join(
                    f"- {recipient}: {reason}"
                    for recipient, reason in report.rejected[:20]
                )
                or "none"
            ),
        },
    )
