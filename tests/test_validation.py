"""Email and phone validation at load time: verdicts per distinct value, written once
to the lookups that dbt staging joins."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from mailroom.ingest import ingest_landing
from mailroom.validation import Validator, check_email, check_phone


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [
        ("ana@gmial.com", "ana@gmail.com"),
        ("ana@hotmial.com", "ana@hotmail.com"),
        ("ana@yaho.com", "ana@yahoo.com"),
        ("ana@gmail.con", "ana@gmail.com"),
    ],
)
def test_a_misspelt_common_domain_is_flagged_with_a_suggestion_not_rewritten(
    typo: str, suggestion: str
) -> None:
    check = check_email(typo)
    assert check.is_valid
    assert check.email_normalized == typo
    assert check.problem == "email_domain_typo"
    assert check.suggested_email == suggestion


@pytest.mark.parametrize(
    "email", ["ana@gmail.com", "ana@ymail.com", "ana@example.com", "ana@web.de"]
)
def test_real_domains_are_not_typos(email: str) -> None:
    check = check_email(email)
    assert (check.is_valid, check.problem, check.suggested_email) == (True, None, None)


def test_emails_are_trimmed_and_lower_cased() -> None:
    check = check_email("  Ana.Silva@Example.COM\t")
    assert check.is_valid and check.email_normalized == "ana.silva@example.com"
    assert check.email_raw == "  Ana.Silva@Example.COM\t"


@pytest.mark.parametrize(
    "email", ["ana@", "ana silva x@example.com", "ana@@example.com", "anaexample.com"]
)
def test_malformed_emails_are_invalid_with_the_librarys_reason(email: str) -> None:
    check = check_email(email)
    assert not check.is_valid and check.email_normalized is None
    assert check.problem == "invalid_email" and check.detail


@pytest.mark.parametrize(
    ("phone", "country", "e164"),
    [
        ("06 12 34 56 78", "FR", "+33612345678"),
        ("0151 23456789", "de", "+4915123456789"),
        ("(202) 555-0143", "US", "+12025550143"),
        ("07911 123456", "UK", "+447911123456"),
        ("+351 912 345 678", None, "+351912345678"),
    ],
)
def test_phones_become_e164_in_their_country(
    phone: str, country: str | None, e164: str
) -> None:
    check = check_phone(phone, country)
    assert (check.phone_e164, check.is_valid, check.problem) == (e164, True, None)


@pytest.mark.parametrize(
    ("phone", "country", "problem"),
    [
        ("0612345678", None, "phone_without_country"),
        ("0612345678", "XX", "phone_without_country"),
        ("call me", "FR", "unparsable_phone"),
        ("0000000000", "FR", "invalid_phone"),
        ("+33 1 23", None, "invalid_phone"),
    ],
)
def test_invalid_phones_have_no_e164_and_a_problem(
    phone: str, country: str | None, problem: str
) -> None:
    check = check_phone(phone, country)
    assert (check.phone_e164, check.is_valid, check.problem) == (None, False, problem)


def _write(landing: Path, source: str, name: str, text: str) -> None:
    path = landing / source / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_ingestion_checks_each_distinct_value_once(tmp_path: Path) -> None:
    header = "customer_id,email,phone,country\n"
    _write(
        tmp_path,
        "customers",
        "a.csv",
        header
        + "c1,ana@gmial.com,06 12 34 56 78,FR\n"
        + "c2,ana@gmial.com,06 12 34 56 78,FR\n"
        + "c3,bad@,06 12 34 56 78,BE\n",
    )
    orders = "order_id,email,ordered_at,total_amount\n"
    _write(tmp_path, "orders", "a.csv", orders + "o1,ana@gmial.com,2024-01-02,9\n")
    _write(tmp_path, "orders", "b.csv", orders + "o2,bad@,2024-01-02,9\n")
    _write(tmp_path, "consents", "a.csv", "email,channel,status,captured_at\nbad@,,,\n")
    with duckdb.connect() as con:
        ingest_landing(con, tmp_path)
        _write(tmp_path, "customers", "b.csv", header + "c4,new@example.com,,\n")
        ingest_landing(con, tmp_path)
        emails = con.execute(
            "select email_raw, is_valid, problem, suggested_email "
            "from raw._email_checks order by email_raw"
        ).fetchall()
        phones = con.execute(
            "select phone_raw, country_raw, phone_e164, problem "
            "from raw._phone_checks order by country_raw"
        ).fetchall()
    assert emails == [
        ("ana@gmial.com", True, "email_domain_typo", "ana@gmail.com"),
        ("bad@", False, "invalid_email", None),
        ("new@example.com", True, None, None),
    ]
    assert phones == [
        ("06 12 34 56 78", "BE", None, "invalid_phone"),
        ("06 12 34 56 78", "FR", "+33612345678", None),
    ]


def test_a_warehouse_loaded_before_the_lookups_existed_is_checked(
    tmp_path: Path,
) -> None:
    _write(tmp_path, "orders", "a.csv", "order_id,email,ordered_at,total_amount\n")
    _write(tmp_path, "customers", "a.csv", "customer_id,email\nc1,ana@example.com\n")
    with duckdb.connect() as con:
        ingest_landing(con, tmp_path, require_orders=False)
        con.execute("drop table raw._email_checks")
        ingest_landing(con, tmp_path, require_orders=False)
        assert con.execute("select email_raw from raw._email_checks").fetchall() == [
            ("ana@example.com",)
        ]


def test_worker_processes_give_the_same_verdicts_in_the_same_order() -> None:
    emails = ["ana@gmial.com", "bad@", " Ana@Example.COM", "x y@example.com"] * 3
    emails += [f"person{index}@example.net" for index in range(40)]
    pairs = [("06 12 34 56 78", "FR"), ("0612345678", None), ("call me", "FR")] * 3
    pairs += [(f"+33 6 12 34 56 {index:02d}", None) for index in range(40)]
    with Validator(processes=2, parallel_from=10) as validator:
        assert validator.emails(emails) == [check_email(email) for email in emails]
        assert validator.phones(pairs) == [check_phone(*pair) for pair in pairs]
        assert validator.emails(emails[:5]) == [check_email(e) for e in emails[:5]]
