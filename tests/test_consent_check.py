"""The outbox consent check (the blocking asset check's query) over generated
populations: every outbox address without a current, unsuppressed opt-in in the
consent state is reported, and no other."""

from __future__ import annotations

from collections.abc import Callable

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailroom.recipients import CONSENT_STATE, emails_without_consent

STATUSES = st.sampled_from(["opted_in", "opted_out", "unknown", "OPTED_IN", "pending"])
# (address number, consent state or None for no row, is_suppressed)
PEOPLE = st.lists(
    st.tuples(st.integers(0, 40), st.one_of(st.none(), STATUSES), st.booleans()),
    max_size=40,
    unique_by=lambda person: person[0],
)
# outbox addresses in any case, padded or not (the renderer refuses control
# characters in an address, so tabs and line breaks never reach the outbox)
SPELLINGS = st.sampled_from([str, str.upper, lambda email: f" {email} "])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    people=PEOPLE,
    outbox=st.lists(st.tuples(st.integers(0, 40), SPELLINGS), max_size=40),
)
def test_every_outbox_address_without_a_valid_opt_in_is_reported(
    people: list[tuple[int, str | None, bool]],
    outbox: list[tuple[int, Callable[[str], str]]],
) -> None:
    state = {
        f"person{number}@example.com": (status, suppressed)
        for number, status, suppressed in people
        if status is not None
    }
    emails = [spelling(f"person{number}@example.com") for number, spelling in outbox]
    with duckdb.connect() as con:
        schema = CONSENT_STATE.split(".")[0]
        con.execute(f"create schema {schema}")
        con.execute(
            f"create table {CONSENT_STATE} "
            "(email varchar, consent_status varchar, is_suppressed boolean)"
        )
        for email, (status, flag) in state.items():
            con.execute(
                f"insert into {CONSENT_STATE} values (?, ?, ?)", [email, status, flag]
            )
        reported = emails_without_consent(con, emails)

    def may_be_mailed(email: str) -> bool:
        status, suppressed = state.get(email.strip().lower(), (None, True))
        return status == "opted_in" and not suppressed

    assert sorted(reported) == sorted(e for e in emails if not may_be_mailed(e))
