"""True people of one chunk, their shop accounts, CRM contacts and consent ledger."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mailroom.simulator import constants as k
from mailroom.simulator import names
from mailroom.simulator.context import Context, DefectLog
from mailroom.simulator.output import prefixed
from mailroom.simulator.timefmt import DAY, iso_date, iso_utc

ARCH = {name: i for i, name in enumerate(k.ARCHETYPE_NAMES)}
_ARCH_PARAMS = np.array([k.ARCHETYPES[a] for a in k.ARCHETYPE_NAMES])
NONE = -1  # "no time" marker in int64 time arrays


@dataclass
class People:
    """Column arrays for the people of one chunk (index = local person index)."""

    n: int
    pid: np.ndarray
    person_id: pa.Array
    arch: np.ndarray
    first: np.ndarray
    last: np.ndarray
    first_slug: np.ndarray
    last_slug: np.ndarray
    email: np.ndarray  # canonical, object array
    country: np.ndarray
    category: np.ndarray
    t0: np.ndarray
    t1: np.ndarray
    n_orders: np.ndarray
    n_sessions: np.ndarray
    has_account: np.ndarray
    customer_id: np.ndarray  # object array, None without account
    in_crm: np.ndarray
    contact_id: np.ndarray
    phone: np.ndarray
    n_devices: np.ndarray
    accepts: np.ndarray  # 1 true, 0 false, -1 empty
    created_in: np.ndarray  # opted in when the account was created
    ledger: np.ndarray  # has consent ledger rows
    newsletter_at: np.ndarray
    optout_at: np.ndarray
    sub_start: np.ndarray
    sub_end: np.ndarray
    engagement: np.ndarray
    apple_mail: np.ndarray

    def email_known(self) -> np.ndarray:
        """People whose email the business has (account, CRM or newsletter)."""
        return self.has_account | self.in_crm | (self.newsletter_at != NONE)


def _uniform(rng: np.random.Generator, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    low = np.asarray(low, dtype=np.int64)
    span = np.maximum(np.asarray(high, dtype=np.int64) - low, 1)
    return low + (rng.random(low.shape[0]) * span).astype(np.int64)


def make_people(
    ctx: Context,
    rng: np.random.Generator,
    pid0: int,
    n: int,
    customer_base: int,
    contact_base: int,
) -> People:
    """Draw ``n`` people starting at global index ``pid0``."""
    pid = np.arange(pid0, pid0 + n, dtype=np.int64)
    shares = _ARCH_PARAMS[:, 0] / _ARCH_PARAMS[:, 0].sum()
    arch = rng.choice(len(shares), size=n, p=shares)
    fi = rng.integers(0, names.FIRST_ARRAY.size, n)
    la = rng.integers(0, names.LAST_ARRAY.size, n)
    country = rng.choice(len(k.COUNTRIES), size=n, p=np.array(k.COUNTRY_SHARES))
    cat_p = np.array(list(k.CATEGORY_SHARES.values()))
    category = rng.choice(cat_p.size, size=n, p=cat_p / cat_p.sum())

    horizon = ctx.as_of - ctx.start
    t0 = ctx.start + (rng.random(n) * np.maximum(horizon - 30 * DAY, DAY)).astype(
        np.int64
    )
    t1 = np.full(n, ctx.as_of, dtype=np.int64)
    loyal = arch == ARCH["loyal_high_value"]
    t0[loyal] = ctx.start + (rng.random(loyal.sum()) * 0.4 * horizon).astype(np.int64)
    lapsed = arch == ARCH["lapsed"]
    t0[lapsed] = ctx.start + (rng.random(lapsed.sum()) * 0.25 * horizon).astype(
        np.int64
    )
    t1[lapsed] = t0[lapsed] + (
        (0.2 + 0.15 * rng.random(lapsed.sum())) * horizon
    ).astype(np.int64)
    new = arch == ARCH["new_customer"]
    span_new = min(60 * DAY, horizon - DAY)
    t0[new] = ctx.as_of - DAY - (rng.random(new.sum()) * span_new).astype(np.int64)

    intensity = rng.lognormal(
        -(k.ORDER_INTENSITY_SIGMA**2) / 2, k.ORDER_INTENSITY_SIGMA, n
    )
    mean_orders = _ARCH_PARAMS[arch, 1]
    n_orders = 1 + rng.poisson(np.maximum(mean_orders - 1, 0) * intensity)
    n_orders[arch == ARCH["one_time_buyer"]] = 1
    n_orders[arch == ARCH["never_buyer"]] = 0
    ws = arch == ARCH["window_shopper"]
    n_orders[ws] = (rng.random(ws.sum()) < mean_orders[ws]).astype(np.int64)
    n_orders[new] = 1 + (rng.random(new.sum()) < 0.3)

    s_int = rng.lognormal(
        -(k.SESSION_INTENSITY_SIGMA**2) / 2, k.SESSION_INTENSITY_SIGMA, n
    )
    window_frac = np.clip((ctx.as_of - t0) / horizon, 0.05, 1.0)
    n_sessions = rng.poisson(_ARCH_PARAMS[arch, 2] * s_int * window_frac)

    buyer = n_orders > 0
    has_account = np.where(
        buyer,
        rng.random(n) < k.SHOP_ACCOUNT_RATE_BUYER,
        rng.random(n) < k.SHOP_ACCOUNT_RATE_NON_BUYER,
    )
    in_crm = rng.random(n) < k.CRM_CONTACT_RATE
    customer_num = customer_base + np.cumsum(has_account)
    contact_num = contact_base + np.cumsum(in_crm)
    customer_id = np.where(
        has_account, np.asarray(prefixed("c-", customer_num, 6), dtype=object), None
    )
    contact_id = np.where(
        in_crm, np.asarray(prefixed("crm-", contact_num, 6), dtype=object), None
    )

    first_slug = names.FIRST_SLUGS[fi]
    last_slug = names.LAST_SLUGS[la]
    pattern = rng.integers(0, 3, n)
    domain = np.array(names.EMAIL_DOMAINS, dtype=object)[
        rng.integers(0, len(names.EMAIL_DOMAINS), n)
    ]
    number = pid + 1
    f_init = np.array([s[:1] for s in first_slug], dtype=object)
    sep = np.array([".", "", "_"], dtype=object)[pattern]
    head = np.where(pattern == 1, f_init, first_slug)
    local = head + sep + last_slug + number.astype(str).astype(object)
    email = local + "@" + domain

    digits = (pid * 7_368_787 + 104_729) % 100_000_000
    cc = np.array([names.PHONE_PREFIX[c] for c in k.COUNTRIES], dtype=object)[country]
    phone = "+" + cc + " 6" + np.char.zfill(digits.astype(str), 8).astype(object)
    n_devices = 1 + np.minimum(rng.poisson(k.DEVICES_MEAN - 1, n), 2)

    # Consent timeline (see module docs of mailroom.simulator.esp for the rules).
    ledger = rng.random(n) >= k.NO_CONSENT_RECORD_RATE
    accepts = np.where(has_account, (rng.random(n) < 0.55).astype(np.int64), -1)
    missing_accepts = has_account & (rng.random(n) < k.ACCEPTS_MARKETING_MISSING_RATE)
    accepts[missing_accepts] = -1
    created_in = has_account & (rng.random(n) < 0.55)
    accepts = np.where(has_account & ~missing_accepts, created_in.astype(np.int64), -1)
    created_in &= (accepts == 1) | ledger  # an opt-in nobody recorded did not happen
    newsletter_rate = np.where(has_account | in_crm, 0.3, 0.5)
    newsletter = ~created_in & ledger & (rng.random(n) < newsletter_rate)
    newsletter_at = np.where(
        newsletter, _uniform(rng, t0 + 60, np.full(n, ctx.as_of)), NONE
    )
    sub_start = np.where(created_in, t0, newsletter_at)
    opted_in = sub_start != NONE
    opt_out = opted_in & ledger & (rng.random(n) < k.CONSENT_OPT_OUT_RATE)
    optout_at = np.where(
        opt_out, _uniform(rng, sub_start + DAY, np.full(n, ctx.as_of)), NONE
    )
    opt_out &= optout_at < ctx.as_of
    optout_at = np.where(opt_out, optout_at, NONE)
    sub_end = np.where(opt_out, optout_at, ctx.as_of)

    return People(
        n=n,
        pid=pid,
        person_id=prefixed("person-", number, 7),
        arch=arch,
        first=names.FIRST_ARRAY[fi],
        last=names.LAST_ARRAY[la],
        first_slug=first_slug,
        last_slug=last_slug,
        email=email,
        country=country,
        category=category,
        t0=t0,
        t1=t1,
        n_orders=n_orders,
        n_sessions=n_sessions,
        has_account=has_account,
        customer_id=customer_id,
        in_crm=in_crm,
        contact_id=contact_id,
        phone=phone,
        n_devices=n_devices,
        accepts=accepts,
        created_in=created_in,
        ledger=ledger,
        newsletter_at=newsletter_at,
        optout_at=optout_at,
        sub_start=sub_start,
        sub_end=sub_end,
        engagement=_ARCH_PARAMS[arch, 3] * rng.lognormal(-0.125, 0.5, n),
        apple_mail=rng.random(n) < k.APPLE_MAIL_RATE,
    )


def invalid_email(rng: np.random.Generator, local: str, domain: str) -> str:
    """One malformed variant of ``local@domain`` (unique to its person)."""
    kind = int(rng.integers(0, 4))
    if kind == 0:
        return f"{local}@"
    if kind == 1:
        return f"{local.replace('.', ' ').replace('_', ' ')} x@{domain}"
    if kind == 2:
        return f"{local}@@{domain}"
    return f"{local}{domain}"


def _invalidate(
    rng: np.random.Generator, values: np.ndarray, rows: np.ndarray
) -> np.ndarray:
    out = values.copy()
    for r in rows:
        local, _, domain = str(values[r]).strip().lower().partition("@")
        out[r] = invalid_email(rng, local, domain)
    return out


def _blank(
    rng: np.random.Generator,
    log: DefectLog,
    source: str,
    columns: dict[str, np.ndarray],
    eligible: np.ndarray,
) -> None:
    for column in k.MISSING_VALUE_COLUMNS[source]:
        rows = np.flatnonzero(
            eligible & (rng.random(eligible.size) < k.MISSING_VALUE_RATE)
        )
        if column in columns and rows.size:
            columns[column] = columns[column].copy()
            columns[column][rows] = None
            log.add(source, rows, column, "missing_value")


def _typo(rng: np.random.Generator, name: str) -> str:
    if len(name) < 3:
        return name + name[-1]
    i = int(rng.integers(1, len(name) - 1))
    if rng.random() < 0.5:
        return name[:i] + name[i + 1 :]
    return name[:i] + name[i + 1] + name[i] + name[i + 2 :]


def _share_emails(
    rng: np.random.Generator, cols: dict[str, np.ndarray], log: DefectLog
) -> None:
    """Give some shop accounts the email of the account before them (a household)."""
    rows = np.flatnonzero(rng.random(cols["email"].size) < k.SHARED_EMAIL_RATE)
    rows = rows[rows > 0]
    cols["email"] = cols["email"].copy()
    cols["email"][rows] = cols["email"][rows - 1]
    log.add("customers", rows, "email", "shared_email", "email of the account before")


def _placeholder_phones(
    rng: np.random.Generator,
    source: str,
    cols: dict[str, np.ndarray],
    log: DefectLog,
) -> None:
    """Type a placeholder (0000000000) into some phone fields."""
    rows = np.flatnonzero(rng.random(cols["phone"].size) < k.PLACEHOLDER_PHONE_RATE)
    values = np.array(k.PLACEHOLDER_PHONES, dtype=object)
    cols["phone"] = cols["phone"].copy()
    cols["phone"][rows] = values[rng.integers(0, values.size, rows.size)]
    log.add(source, rows, "phone", "placeholder_phone")


def accounts_and_contacts(
    ctx: Context, rng: np.random.Generator, people: People, log: DefectLog
) -> tuple[pa.Table, np.ndarray, pa.Table, np.ndarray]:
    """The ``customers`` and ``crm_contacts`` rows (with the person of each row)."""
    acc = np.flatnonzero(people.has_account)
    cols: dict[str, np.ndarray] = {
        "customer_id": people.customer_id[acc],
        "email": people.email[acc].copy(),
        "first_name": people.first[acc],
        "last_name": people.last[acc],
        "phone": people.phone[acc],
        "country": np.array(k.COUNTRIES, dtype=object)[people.country[acc]],
        "postal_code": np.char.zfill(
            rng.integers(1000, 99999, acc.size).astype(str), 5
        ).astype(object),
    }
    bad = np.flatnonzero(rng.random(acc.size) < k.INVALID_EMAIL_RATE)
    cols["email"] = _invalidate(rng, cols["email"], bad)
    log.add("customers", bad, "email", "invalid_email")
    _blank(rng, log, "customers", cols, np.ones(acc.size, dtype=bool))
    junk_rng = rng.spawn(1)[0]
    _share_emails(junk_rng, cols, log)
    _placeholder_phones(junk_rng, "customers", cols, log)
    accepts = people.accepts[acc]
    customers = pa.table(
        {
            **{c: pa.array(v, pa.string()) for c, v in cols.items()},
            "created_at": iso_utc(people.t0[acc]),
            "accepts_marketing": pa.array(
                np.where(accepts == 1, "true", np.where(accepts == 0, "false", None)),
                pa.string(),
            ),
        }
    )

    crm = np.flatnonzero(people.in_crm)
    m = crm.size
    ccols: dict[str, np.ndarray] = {
        "contact_id": people.contact_id[crm],
        "email": people.email[crm].copy(),
        "first_name": people.first[crm].copy(),
        "last_name": people.last[crm].copy(),
        "phone": people.phone[crm].copy(),
        "country": np.array(k.COUNTRIES, dtype=object)[people.country[crm]],
    }
    both = np.flatnonzero(
        people.has_account[crm] & (rng.random(m) < k.DUPLICATE_PERSON_VARIANT_RATE)
    )
    kinds = rng.integers(0, len(k.DUPLICATE_PERSON_VARIANTS), both.size)
    for row, kind in zip(both, kinds, strict=True):
        variant = k.DUPLICATE_PERSON_VARIANTS[kind]
        person = crm[row]
        column = "email"
        if variant == "email_case_whitespace":
            local, _, domain = people.email[person].partition("@")
            pre, post = ((" ", ""), ("", " "), ("  ", " "), ("", ""))[
                int(rng.integers(0, 4))
            ]
            ccols["email"][row] = f"{pre}{local.title()}@{domain.title()}{post}"
        elif variant == "name_typo":
            column = "first_name" if rng.random() < 0.5 else "last_name"
            ccols[column][row] = _typo(rng, str(ccols[column][row]))
        elif variant == "swapped_names":
            column = "first_name,last_name"
            ccols["first_name"][row], ccols["last_name"][row] = (
                people.last[person],
                people.first[person],
            )
        elif variant == "changed_phone":
            column = "phone"
            ccols["phone"][row] = ccols["phone"][row].replace(" 6", " 7", 1)
        else:
            ccols["email"][row] = people.email[person].replace("@", ".new@", 1)
        log.add(
            "crm_contacts", np.array([row]), column, "duplicate_person_variant", variant
        )
    variant_rows = np.zeros(m, dtype=bool)
    variant_rows[both] = True
    bad = np.flatnonzero(~variant_rows & (rng.random(m) < k.INVALID_EMAIL_RATE))
    ccols["email"] = _invalidate(rng, ccols["email"], bad)
    log.add("crm_contacts", bad, "email", "invalid_email")
    _blank(rng, log, "crm_contacts", ccols, ~variant_rows)
    _placeholder_phones(junk_rng, "crm_contacts", ccols, log)

    country = people.country[crm]
    city = np.array(
        [
            names.CITIES[k.COUNTRIES[c]][int(j)]
            for c, j in zip(country, rng.integers(0, 4, m), strict=True)
        ],
        dtype=object,
    )
    ccols["city"] = city
    _blank_city = k.MISSING_VALUE_COLUMNS["crm_contacts"]
    if "city" in _blank_city:
        rows = np.flatnonzero(~variant_rows & (rng.random(m) < k.MISSING_VALUE_RATE))
        ccols["city"][rows] = None
        log.add("crm_contacts", rows, "city", "missing_value")
    created = _uniform(rng, people.t0[crm], np.full(m, ctx.as_of))
    updated = _uniform(rng, created, np.full(m, ctx.as_of))
    birth_days = rng.integers(-7300, 12_800, m)  # 1950 .. 2005
    tier = np.array(["bronze", "silver", "gold", "platinum"], dtype=object)
    tier_index = np.clip(people.n_orders[crm] // 3, 0, 3)
    crm_table = pa.table(
        {
            **{c: pa.array(v, pa.string()) for c, v in ccols.items()},
            "birth_date": iso_date(birth_days),
            "gender": pa.array(
                rng.choice(
                    np.array(["female", "male", "diverse", None]),
                    m,
                    p=[0.48, 0.46, 0.02, 0.04],
                ),
                pa.string(),
            ),
            "street": pa.array(
                np.array(names.STREETS, dtype=object)[
                    rng.integers(0, len(names.STREETS), m)
                ]
                + " "
                + rng.integers(1, 200, m).astype(str).astype(object),
                pa.string(),
            ),
            "postal_code": pa.array(
                np.char.zfill(rng.integers(1000, 99999, m).astype(str), 5), pa.string()
            ),
            "loyalty_tier": pa.array(tier[tier_index], pa.string()),
            "created_at": iso_utc(created),
            "updated_at": iso_utc(updated),
        }
    )
    again, rows = _reregistered_contacts(junk_rng, crm_table, people, crm, log)
    return (
        customers,
        acc,
        pa.concat_tables([crm_table, again]),
        np.concatenate([crm, crm[rows]]),
    )


def _reregistered_contacts(
    rng: np.random.Generator,
    contacts: pa.Table,
    people: People,
    crm: np.ndarray,
    log: DefectLog,
) -> tuple[pa.Table, np.ndarray]:
    """Second CRM contacts of people who registered again, sharing no identifier.

    Name (sometimes with a typo, sometimes swapped), birth date and address are those
    of the first contact; the contact id and email are new and the phone is missing,
    so only fuzzy matching can tell they are one person. Drawn from their own random
    stream (``rng`` is spawned), so the rest of the simulation is unchanged. Returns
    the new rows and the row of ``contacts`` each repeats.
    """
    rows = np.flatnonzero(rng.random(contacts.num_rows) < k.REREGISTERED_CONTACT_RATE)
    again = contacts.take(pa.array(rows, pa.int64())).to_pydict()
    domains = names.EMAIL_DOMAINS
    for i, person in enumerate(crm[rows]):
        first, last = str(people.first[person]), str(people.last[person])
        kind = rng.random()
        if kind < 0.25:
            first = _typo(rng, first)
        elif kind < 0.35:
            first, last = last, first
        local = people.email[person].partition("@")[0]
        again["contact_id"][i] = f"{again['contact_id'][i]}-2"
        again["email"][i] = f"{local}.new@{domains[int(rng.integers(len(domains)))]}"
        again["phone"][i] = None
        again["first_name"][i], again["last_name"][i] = first, last
    firsts = contacts.column("contact_id").take(pa.array(rows, pa.int64()))
    log.add(
        "crm_contacts",
        contacts.num_rows + np.arange(rows.size),
        "contact_id",
        "reregistered_contact",
        np.array([f"second contact of {c}" for c in firsts.to_pylist()], dtype=object),
    )
    return pa.table(again, schema=contacts.schema), rows


def consent_ledger(
    rng: np.random.Generator, people: People, log: DefectLog
) -> tuple[pa.Table, np.ndarray]:
    """The ``consents`` rows (ordered by person, then time) and each row's person."""
    has_acc = people.has_account & people.ledger & (people.accepts != -1)
    has_acc |= people.created_in & people.ledger
    p_acc = np.flatnonzero(has_acc)
    p_news = np.flatnonzero(people.newsletter_at != NONE)
    p_out = np.flatnonzero(people.optout_at != NONE)
    person = np.concatenate([p_acc, p_news, p_out])
    at = np.concatenate(
        [people.t0[p_acc], people.newsletter_at[p_news], people.optout_at[p_out]]
    )
    status = np.concatenate(
        [
            np.where(people.created_in[p_acc], "opted_in", "opted_out"),
            np.full(p_news.size, "opted_in"),
            np.full(p_out.size, "opted_out"),
        ]
    ).astype(object)
    source = np.concatenate(
        [
            np.full(p_acc.size, "checkout"),
            np.full(p_news.size, "newsletter_form"),
            np.full(p_out.size, "preference_center"),
        ]
    ).astype(object)
    order = np.lexsort((at, person))
    person, at, status, source = person[order], at[order], status[order], source[order]
    use_contact = (source == "preference_center") & people.in_crm[person]
    email = np.where(use_contact, None, people.email[person])
    contact = np.where(use_contact, people.contact_id[person], None)
    n = person.size
    table = pa.table(
        {
            "email": pa.array(email, pa.string()),
            "contact_id": pa.array(contact, pa.string()),
            "channel": pa.array(["email"] * n, pa.string()),
            "status": pa.array(status, pa.string()),
            "captured_at": iso_utc(at),
            "purpose": pa.array(["marketing"] * n, pa.string()),
            "source": pa.array(source, pa.string()),
        }
    )
    last_of_person = np.ones(n, dtype=bool)
    if n:
        last_of_person[:-1] = person[:-1] != person[1:]
    rows = np.flatnonzero(last_of_person & (status == "opted_out"))
    log.add("consents", rows, "status", "opted_out", "latest consent is opted_out")
    del rng
    return table, person


def people_truth(people: People, has_consent: np.ndarray, ctx: Context) -> pa.Table:
    """Rows of ``ground_truth/people.parquet`` for this chunk."""
    return pa.table(
        {
            "person_id": people.person_id,
            "archetype": pa.array(
                np.array(k.ARCHETYPE_NAMES)[people.arch], pa.string()
            ),
            "first_name": pa.array(people.first, pa.string()),
            "last_name": pa.array(people.last, pa.string()),
            "email": pa.array(people.email, pa.string()),
            "preferred_category": pa.array(
                np.array(ctx.catalog.categories)[people.category], pa.string()
            ),
            "has_consent": pa.array(has_consent, pa.bool_()),
        }
    )


def lower_strip(values: pa.Array) -> pa.Array:
    """Canonical email form: lower-case, surrounding whitespace removed."""
    return pc.utf8_lower(pc.utf8_trim_whitespace(values))
