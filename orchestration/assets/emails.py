"""Emails: a rendered payload per sendable recipient, written to the outbox."""

from datetime import UTC, datetime

from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)
from dagster_dbt import get_asset_key_for_model

from mailroom.recipients import emails_without_consent, iter_recipient_batches
from orchestration.assets.dbt import mailroom_dbt_personalization
from orchestration.assets.ingestion import POOL
from orchestration.project import EMAILS_GROUP
from orchestration.resources import MailroomResource
from renderer.outbox import read_outbox, write_outbox
from renderer.render import Campaign, Renderer

PAYLOADS_KEY = ["outbox", "payloads"]


@asset(
    key=PAYLOADS_KEY,
    deps=[
        get_asset_key_for_model([mailroom_dbt_personalization], "personalization"),
        get_asset_key_for_model(
            [mailroom_dbt_personalization], "personalization_product_picks"
        ),
    ],
    group_name=EMAILS_GROUP,
    kinds={"jinja", "json"},
    owners=["team:crm"],
    pool=POOL,
)
def email_payloads(
    context: AssetExecutionContext, mailroom: MailroomResource
) -> MaterializeResult:
    """One personalized payload (subject, HTML, text, picks) per sendable recipient,
    written atomically to outbox/<run id>/payloads.jsonl with a manifest."""
    settings = mailroom.settings()
    campaign = Campaign(
        campaign_id=f"personalized-{settings.as_of.isoformat()}",
        name=f"Personalized picks, {settings.as_of.isoformat()}",
    )
    renderer = Renderer()
    run_id = f"{settings.as_of.isoformat()}_{context.run.run_id[:8]}"
    with mailroom.connect() as con:
        payloads = (
            payload
            for recipients, picks in iter_recipient_batches(con)
            for payload in renderer.render_many(recipients, picks, campaign)
        )
        manifest = write_outbox(
            payloads,
            settings.outbox,
            run_id,
            metadata={
                "created_at": datetime.now(UTC),
                "as_of": settings.as_of.isoformat(),
                "campaign_id": campaign.campaign_id,
                "dagster_run_id": context.run.run_id,
            },
        )
    return MaterializeResult(
        metadata={
            "payloads_written": manifest.payload_count,
            "outbox": MetadataValue.path(str(settings.outbox / run_id)),
            "segments": MetadataValue.json(dict(manifest.segment_counts)),
            "sha256": manifest.payloads_sha256,
        }
    )


@asset_check(asset=PAYLOADS_KEY, blocking=True)
def outbox_has_consent_for_every_recipient(
    mailroom: MailroomResource,
) -> AssetCheckResult:
    """Every recipient in the latest outbox has an opt-in as their latest word and no
    bounce or complaint, re-checked per address against int_email_consent_state
    rather than trusting the personalization mart that chose them."""
    settings = mailroom.settings()
    _, payloads = read_outbox(settings.outbox)
    emails = [payload["email"] for payload in payloads]
    with mailroom.connect() as con:
        offending = emails_without_consent(con, emails)
    return AssetCheckResult(
        passed=not offending,
        metadata={
            "recipients_checked": len(emails),
            "without_consent": len(offending),
        },
    )
