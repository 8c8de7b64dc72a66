"""The copy table: every word the renderer writes, per RFM segment, in one place.

``SEGMENT_COPY`` has one :class:`SegmentCopy` per value of ``rfm_segment`` in
``marts.personalization``; segments not in the table get ``DEFAULT_COPY``. Subjects
come in two forms: ``subject_named`` (with a ``{first_name}`` placeholder) is used when
the first name is known, ``subject`` otherwise. The placeholder is filled with
``str.replace``, never ``str.format``, so names cannot reach into Python objects.
"""

from __future__ import annotations

from dataclasses import dataclass

FIRST_NAME_PLACEHOLDER = "{first_name}"

GREETING_NAMED = "Hi {first_name},"
GREETING_ANONYMOUS = "Hi there,"
PICKS_HEADLINE = "Picked for you"
PICKS_CTA_LABEL = "Shop now"


@dataclass(frozen=True)
class SegmentCopy:
    """Subject, preheader and the segment block's copy for one segment.

    Attributes
    ----------
    subject
        Subject line when the first name is unknown.
    subject_named
        Subject line with a ``{first_name}`` placeholder.
    preheader
        The inbox preview text shown after the subject.
    headline, body
        The segment block's heading and paragraph.
    cta_label, cta_path
        The call-to-action button text and its path, resolved against the campaign's
        ``shop_url``.
    """

    subject: str
    subject_named: str
    preheader: str
    headline: str
    body: str
    cta_label: str
    cta_path: str = "/"

    def __post_init__(self) -> None:
        if FIRST_NAME_PLACEHOLDER not in self.subject_named:
            raise ValueError(
                f"subject_named {self.subject_named!r} must contain "
                f"{FIRST_NAME_PLACEHOLDER!r}"
            )


SEGMENT_COPY: dict[str, SegmentCopy] = {
    "champions": SegmentCopy(
        subject="A first look, just for our best customers",
        subject_named="{first_name}, a first look just for you",
        preheader="You are one of our best customers: see what's new before anyone.",
        headline="You're one of our best",
        body="Thank you for shopping with us so often. Here is an early look at "
        "what just arrived.",
        cta_label="See what's new",
        cta_path="/new",
    ),
    "loyal_customers": SegmentCopy(
        subject="Picked with you in mind",
        subject_named="{first_name}, picked with you in mind",
        preheader="A few things we think you'll love, based on what you like.",
        headline="Thanks for coming back",
        body="It's always good to see you. We put together a few things that go "
        "well with what you already love.",
        cta_label="Shop your favourites",
    ),
    "potential_loyalists": SegmentCopy(
        subject="More of what you like",
        subject_named="{first_name}, more of what you like",
        preheader="We found a few more things in the style you like.",
        headline="More of what you like",
        body="You have great taste. Here are a few more things in the same spirit.",
        cta_label="Explore more",
    ),
    "new_customers": SegmentCopy(
        subject="Welcome aboard",
        subject_named="Welcome aboard, {first_name}",
        preheader="Thanks for your first order. Here's what to discover next.",
        headline="Welcome aboard",
        body="Thanks for your first order. Here are a few things we think you'll "
        "like next.",
        cta_label="Start exploring",
    ),
    "promising": SegmentCopy(
        subject="We think you'll like these",
        subject_named="{first_name}, we think you'll like these",
        preheader="A short list of things picked for you.",
        headline="We think you'll like these",
        body="Based on your last visit, here are a few things worth a look.",
        cta_label="Take a look",
    ),
    "need_attention": SegmentCopy(
        subject="Something new for you",
        subject_named="{first_name}, something new for you",
        preheader="We've been busy: here's what's new since your last visit.",
        headline="We've been busy",
        body="A lot has changed since your last visit. Here's what's new.",
        cta_label="See what's new",
        cta_path="/new",
    ),
    "about_to_sleep": SegmentCopy(
        subject="We saved you a few favourites",
        subject_named="{first_name}, we saved you a few favourites",
        preheader="A few favourites, set aside for you.",
        headline="Don't miss out",
        body="We set aside a few favourites we think you'll like.",
        cta_label="Browse your picks",
    ),
    "at_risk": SegmentCopy(
        subject="We miss you",
        subject_named="We miss you, {first_name}",
        preheader="It's been a while. Here's what you've missed.",
        headline="It's been a while",
        body="We haven't seen you in some time. Here's what you've missed.",
        cta_label="Come back and see",
    ),
    "cant_lose": SegmentCopy(
        subject="We'd love to have you back",
        subject_named="{first_name}, we'd love to have you back",
        preheader="You were one of our best customers. Come see what's new.",
        headline="We'd love to have you back",
        body="You used to be one of our most loyal customers, and we miss you. "
        "Here's what's new since you last shopped.",
        cta_label="See what's new",
        cta_path="/new",
    ),
    "hibernating": SegmentCopy(
        subject="Here's what you've missed",
        subject_named="{first_name}, here's what you've missed",
        preheader="New arrivals and favourites since your last visit.",
        headline="Here's what you've missed",
        body="Plenty has happened since you were last here. Take a look.",
        cta_label="Catch up",
    ),
    "no_orders": SegmentCopy(
        subject="Ready for your first order?",
        subject_named="{first_name}, ready for your first order?",
        preheader="Find something you'll love.",
        headline="Find something you'll love",
        body="Have a look around: here are a few of our most popular things to "
        "get you started.",
        cta_label="Start shopping",
    ),
}

DEFAULT_COPY_ID = "default"
DEFAULT_COPY = SegmentCopy(
    subject="Picked for you",
    subject_named="{first_name}, picked for you",
    preheader="A few things we think you'll like.",
    headline="Good to see you",
    body="Here are a few things we think you'll like.",
    cta_label="Visit the shop",
)
