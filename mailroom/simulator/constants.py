"""Every tunable number of the demo-data simulator, in one place.

Rates are probabilities per eligible row (or per person, where stated). Changing a
value here changes the generated data, but never its determinism.
"""

from __future__ import annotations

# --- sizes and layout -------------------------------------------------------------
PEOPLE_PER_CHUNK = 25_000  # people generated (and held in memory) at a time
MAX_ROWS_PER_FILE = 2_000_000  # landing part files never exceed this many rows
SHOP_URL = "https://shop.example.com"
CURRENCY = "EUR"

# --- people ------------------------------------------------------------------------
# archetype: (share of people, mean orders, mean web sessions, email engagement)
ARCHETYPES: dict[str, tuple[float, float, float, float]] = {
    "loyal_high_value": (0.07, 11.0, 30.0, 0.45),
    "regular": (0.12, 3.0, 14.0, 0.25),
    "discount_hunter": (0.12, 4.0, 18.0, 0.3),
    "window_shopper": (0.14, 0.25, 36.0, 0.2),
    "one_time_buyer": (0.2, 1.0, 6.0, 0.12),
    "lapsed": (0.1, 5.0, 8.0, 0.06),
    "new_customer": (0.07, 1.3, 8.0, 0.3),
    "never_buyer": (0.18, 0.0, 5.0, 0.15),
}
ARCHETYPE_NAMES = tuple(ARCHETYPES)
ORDER_INTENSITY_SIGMA = 0.8  # lognormal spread of personal purchase frequency
SESSION_INTENSITY_SIGMA = 0.7
CATEGORY_SHARES = {
    "running": 0.27,
    "yoga": 0.18,
    "hiking": 0.22,
    "fitness_apparel": 0.2,
    "accessories": 0.13,
}
PREFERRED_CATEGORY_LOYALTY = 0.7  # share of items bought in the preferred category
SPRING_RUNNING_BOOST = 0.2  # extra chance of a running item in March-May
COUNTRIES = ("DE", "FR", "ES", "PT", "NL", "IT", "BE", "AT", "IE", "PL")
COUNTRY_SHARES = (0.25, 0.17, 0.13, 0.08, 0.1, 0.1, 0.05, 0.05, 0.03, 0.04)
SHOP_ACCOUNT_RATE_BUYER = 0.97  # buyers with a shop account (the rest: guests only)
SHOP_ACCOUNT_RATE_NON_BUYER = 0.3
CRM_CONTACT_RATE = 0.6
DEVICES_MEAN = 1.6

# --- orders ------------------------------------------------------------------------
ITEMS_PER_ORDER_P = 0.55  # geometric parameter: 1 + Geometric(p) - 1 items
QUANTITY_WEIGHTS = (0.82, 0.13, 0.05)  # quantity 1, 2, 3
DISCOUNT_ORDER_RATE = {"discount_hunter": 0.75}
DISCOUNT_ORDER_RATE_DEFAULT = 0.12
JANUARY_SALE_DISCOUNT_RATE = 0.45
CANCELLED_RATE = 0.03
REFUNDED_RATE = 0.04
REFUNDED_RATE_DISCOUNT_HUNTER = 0.09
GUEST_ORDER_RATE = 0.01  # account holders checking out as guests

# --- web ---------------------------------------------------------------------------
SESSION_EVENTS_P = 0.28  # geometric number of events per browsing session
BROWSE_EVENT_MIX = {
    "page_view": 0.28,
    "product_view": 0.48,
    "search": 0.13,
    "add_to_cart": 0.07,
    "remove_from_cart": 0.02,
    "checkout_started": 0.02,
}
LOGGED_IN_SESSION_RATE = 0.45
IDENTIFY_SESSION_RATE = 0.15

# --- email -------------------------------------------------------------------------
CAMPAIGN_AUDIENCE_RATE = 0.15  # chance a subscriber is targeted by a campaign
CAMPAIGN_CATEGORY_MATCH_RATE = 0.3  # ... when the campaign is about their category
APPLE_MAIL_RATE = 0.35  # subscribers whose opens include Apple MPP machine opens
MACHINE_OPEN_RATE = 0.9
CLICK_RATE = 0.22  # clicks per human open
UNSUBSCRIBE_RATE = 0.08  # share of subscribers who eventually unsubscribe
BOUNCE_RATE = 0.02
SPAM_COMPLAINT_RATE = 0.004
CONSENT_OPT_OUT_RATE = 0.07  # opted in, then opted out in the preference center
NO_CONSENT_RECORD_RATE = 0.25
ACCEPTS_MARKETING_MISSING_RATE = 0.05

# --- deliberate defects ------------------------------------------------------------
DUPLICATE_PERSON_VARIANT_RATE = 0.02  # of people with a shop account and a CRM contact
DUPLICATE_PERSON_VARIANTS = (
    "email_case_whitespace",
    "name_typo",
    "swapped_names",
    "changed_phone",
    "changed_email",
)
# of CRM contacts: the person registered again (new contact id, a new email at another
# domain, no phone); only name, birth date and address tie the two contacts together.
REREGISTERED_CONTACT_RATE = 0.01
# of shop accounts: the email of another account (a family sharing one address).
SHARED_EMAIL_RATE = 0.005
# of shop accounts and CRM contacts: a placeholder typed in the phone field.
PLACEHOLDER_PHONE_RATE = 0.005
PLACEHOLDER_PHONES = ("0000000000", "1234567890", "+1 234 567 890", "00000000")
INVALID_EMAIL_RATE = 0.01  # customers, crm_contacts
# Guest checkouts type their address with no account to confirm it: more typos.
GUEST_INVALID_EMAIL_RATE = 0.05
MISSING_VALUE_RATE = 0.01  # per column listed below
MISSING_VALUE_COLUMNS = {
    "customers": ("first_name", "last_name", "phone", "country", "postal_code"),
    "crm_contacts": ("first_name", "phone", "country", "city"),
    "orders": ("total_amount", "shipping_country"),
}
ZERO_AMOUNT_RATE = 0.005
NEGATIVE_AMOUNT_RATE = 0.005
FUTURE_TIMESTAMP_RATE = 0.005
FUTURE_YEARS = (80, 100)
UNPARSABLE_TIMESTAMP_RATE = 0.0005
UNPARSABLE_TIMESTAMPS = (
    "31/02/2025 25:61",
    "2025-13-45T99:99:99Z",
    "not a date",
    "05.03.2025 14h12",
)
DUPLICATE_EVENT_RATE = 0.005
UNKNOWN_PRODUCT_RATE = 0.005
