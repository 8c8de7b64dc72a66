"""Emails: a rendered payload per sendable recipient, written to the outbox."""

from collections.abc import Iterator
from datetime import UTC, datetime

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    asset,
    multi_asset_check,
)
from dagster_dbt import get_asset_key_for_model

from mailroom.campaign import render_to_outbox
from mailroom.privacy import erased_recipients
from mailroom.recipients import emails_without_consent
from orchestration.assets.dbt import mailroom_dbt_personalization
from orchestration.assets.ingestion import POOL
from orchestration.metadata import frame_markdown
from orchestration.project import EMAILS_GROUP
from orchestration.resources import MailroomResource
from renderer.outbox import preview_payloads, read_outbox_emails

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
    """One personalized payload per sendable recipient (content blocks chosen by the
    catalog's rules, MJML layout, plain text, picks), written atomically to
    outbox/<run id>/ with a manifest; every decision to emails.decision_audit."""
    settings = mailroom.settings()
    run_id = f"{settings.as_of.isoformat()}_{context.run.run_id[:8]}"
    with mailroom.connect(context) as con:
        report = render_to_outbox(
            con,
            settings.outbox,
            settings.home,
            settings.as_of,
            run_id,
            metadata={
                "created_at": datetime.now(UTC),
                "dagster_run_id": context.run.run_id,
            },
        )
    manifest = report.manifest
    return MaterializeResult(
        metadata={
            "payloads_written": manifest.payload_count,
            "recipients": report.recipients,
            "holdout": report.holdout,
            "refused": MetadataValue.json(dict(report.refused)),
            "variants": MetadataValue.json(dict(report.variants)),
            "decision_audit_rows": report.audit_rows,
            "campaign_id": report.campaign_id,
            "outbox": MetadataValue.path(str(settings.outbox / run_id)),
            "segments": MetadataValue.json(dict(manifest.segment_counts)),
            "sha256": manifest.payloads_sha256,
            "preview": frame_markdown(
                pd.DataFrame(preview_payloads(settings.outbox, run_id))
            ),
        }
    )


CONSENT_CHECK = "outbox_has_consent_for_every_recipient"
ERASURE_CHECK = "no_erased_person_in_personalization_or_outbox"


@multi_asset_check(
    specs=[
        AssetCheckSpec(
            CONSENT_CHECK,
            asset=PAYLOADS_KEY,
            blocking=True,
            description=(
                "Every recipient in the latest outbox has an opt-in as their latest "
                "word and no bounce or complaint, re-checked per address against "
                "int_email_consent_state rather than trusting the personalization "
                "mart that chose them."
            ),
        ),
        AssetCheckSpec(
            ERASURE_CHECK,
            asset=PAYLOADS_KEY,
            blocking=True,
            description=(
                "No address of a person erased with `mailroom forget` is in "
                "marts.personalization or the latest outbox: each address is "
                "hashed with the erasure key and looked up in "
                "privacy.erased_identifiers."
            ),
        ),
    ],
)
def outbox_recipient_checks(
    mailroom: MailroomResource,
) -> Iterator[AssetCheckResult]:
    """The outbox's two blocking checks, on one verified read of its recipients
    (at 1,000,000 customers about 12 GB of payloads, read only up to each email)."""
    settings = mailroom.settings()
    _, recipients = read_outbox_emails(settings.outbox)
    emails = list(recipients)
    with mailroom.connect() as con:
        offending = emails_without_consent(con, emails)
        found = erased_recipients(con, settings.home, emails)
    yield AssetCheckResult(
        asset_key=PAYLOADS_KEY,
        check_name=CONSENT_CHECK,
        passed=not offending,
        metadata={
            "recipients_checked": len(emails),
            "without_consent": len(offending),
        },
    )
    yield AssetCheckResult(
        asset_key=PAYLOADS_KEY,
        check_name=ERASURE_CHECK,
        passed=not any(found.values()),
        metadata={"outbox_checked": len(emails), **found},
    )
