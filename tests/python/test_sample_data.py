"""The sample-data generator: determinism, true category counts, exact staging predictions, formats, truth.

The manifest's numbers are checked against the written files with DuckDB: the staging rules are
re-implemented here in SQL (independently of the generator's own bookkeeping) and every table's
predicted outcome must match exactly.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from orchestration.contract import CONSENT_EVENT, CONSENT_PURPOSES, TABLES
from orchestration.sample_data import QUARANTINE_REASONS, generate

PEOPLE = 300
END = date(2026, 11, 29)
MESSAGE_TABLES = ("identifies", "tracks", "pages", "screens")
EMAIL_RE = r"^[a-z0-9._%+'-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$"
PHONE_RE = r"^\+[1-9][0-9]{7,14}$"
EMAIL_SQL = EMAIL_RE.replace("'", "''")
KNOWN_CURRENCIES = "('EUR', 'USD', 'GBP', 'SEK', 'NOK', 'DKK', 'CHF', 'PLN')"
ID_TYPES = "('anonymous_id', 'user_id', 'email', 'phone', 'device_id', 'crm_id', 'customer_id')"
SQL_TYPES = {
    "string": "varchar",
    "json": "varchar",
    "timestamp": "timestamptz",
    "decimal": "decimal(18, 4)",
    "integer": "bigint",
}


@pytest.fixture(scope="module")
def parquet_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("parquet")
    generate(out, PEOPLE, seed=7, end_date=END)
    return out


@pytest.fixture(scope="module")
def manifest(parquet_dir: Path) -> dict[str, Any]:
    return json.loads((parquet_dir / "_manifest.json").read_text())


def _connect(folder: Path, file_format: str = "parquet") -> duckdb.DuckDBPyConnection:
    """Views named like the raw tables, typed as the contract says, whatever the file format."""
    con = duckdb.connect()
    con.execute("set timezone = 'UTC'")
    for name, table in TABLES.items():
        path = folder / f"{name}.{file_format}"
        if file_format == "parquet":
            source = f"read_parquet('{path}')"
        elif file_format == "csv":
            source = f"read_csv('{path}', all_varchar = true, header = true)"
        else:
            cols = ", ".join(f"'{c.name}': 'VARCHAR'" for c in table.columns)
            source = f"read_json('{path}', format = 'newline_delimited', columns = {{{cols}}})"
        select = ", ".join(f'cast("{c.name}" as {SQL_TYPES[c.type]}) as "{c.name}"' for c in table.columns)
        con.execute(f"create view {name} as select {select} from {source}")
    return con


def _blank(col: str) -> str:
    return f"coalesce(trim({col}), '') = ''"


def _bad_json(col: str) -> str:
    return f"({col} is not null and coalesce(try(json_type({col})), '') <> 'OBJECT')"


def _message_reason(table: str) -> str:
    json_col = "traits" if table == "identifies" else "properties"
    event = f"when {_blank('event')} then 'missing_event_name'" if table == "tracks" else ""
    event_at = (
        "case when timestamp > received_at + interval 10 minute and sent_at is not null "
        "then received_at - (sent_at - timestamp) else timestamp end"
    )
    return f"""case
        when {_blank("id")} then 'missing_message_id'
        when {_blank("anonymous_id")} and {_blank("user_id")} then 'missing_identity'
        when timestamp is null or received_at is null then 'missing_timestamp'
        when {_bad_json(json_col)} or {_bad_json("context_consent_category_preferences")}
            then 'malformed_json'
        when {event_at} > received_at + interval 10 minute then 'future_timestamp'
        {event}
    end"""


REASON_SQL: dict[str, tuple[str, str, str]] = {
    # table: (quarantine reason expression, dedup partition, dedup order (first row kept))
    **{t: (_message_reason(t), "trim(id)", "received_at") for t in MESSAGE_TABLES},
    "orders": (
        f"""case
        when {_blank("order_id")} then 'missing_order_id'
        when created_at is null or updated_at is null then 'missing_timestamp'
        when {_blank("customer_id")}
            and not coalesce(regexp_full_match(lower(trim(email)), '{EMAIL_SQL}'), false)
            then 'missing_customer'
        when upper(trim(currency)) not in {KNOWN_CURRENCIES} then 'unknown_currency'
        when total_amount is null or total_amount < 0 then 'invalid_amount'
    end""",
        "trim(order_id)",
        "updated_at desc",
    ),
    "order_items": (
        f"""case
        when {_blank("order_item_id")} or {_blank("order_id")} or {_blank("product_id")} then 'missing_id'
        when quantity is null or quantity <= 0 then 'invalid_quantity'
        when unit_price is null or unit_price < 0 then 'invalid_amount'
    end""",
        "trim(order_item_id)",
        "order_item_id",
    ),
    "crm_contacts": (
        f"""case
        when {_blank("contact_id")} then 'missing_contact_id'
        when created_at is null or updated_at is null then 'missing_timestamp'
    end""",
        "trim(contact_id), updated_at",
        "contact_id",
    ),
    "deletion_requests": (
        f"""case
        when {_blank("request_id")} then 'missing_request_id'
        when lower(trim(identifier_type)) not in {ID_TYPES} then 'unknown_identifier_type'
        when {_blank("identifier_value")} then 'missing_identifier_value'
        when requested_at is null then 'missing_timestamp'
    end""",
        "trim(request_id)",
        "request_id",
    ),
}


def _classified(table: str) -> str:
    """Every raw row with its staging outcome: reason (quarantine) or dup = 1 (a duplicate)."""
    reason, partition, order = REASON_SQL[table]
    return f"""
        with r as (select *, {reason} as reason from {table})
        select *, case when reason is null and row_number() over (
            partition by {partition} order by {order}) > 1 then 1 else 0 end as dup
        from r"""


def _staging_outcome(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, Any]:
    rows = con.execute(f"""
        select coalesce(reason, case when dup = 1 then '_duplicate' else '_staged' end), count(*)
        from ({_classified(table)}) group by all""").fetchall()
    counts = dict(rows)
    return {
        "raw_rows": sum(counts.values()),
        "staged_rows": counts.pop("_staged", 0),
        "duplicate_rows": counts.pop("_duplicate", 0),
        "quarantined": {r: counts.pop(r, 0) for r in QUARANTINE_REASONS[table]},
        "unexpected": counts,
    }


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# --------------------------------------------------------------------------------------------------
# Determinism
# --------------------------------------------------------------------------------------------------


def test_same_arguments_give_identical_files(tmp_path: Path, parquet_dir: Path) -> None:
    generate(tmp_path / "again", PEOPLE, seed=7, end_date=END)
    first, second = _hashes(parquet_dir), _hashes(tmp_path / "again")
    assert len(first) == 8 + 3  # 8 tables, manifest, 2 truth files
    assert first == second


def test_different_seed_gives_different_data(tmp_path: Path, parquet_dir: Path) -> None:
    generate(tmp_path / "other", PEOPLE, seed=8, end_date=END)
    first, second = _hashes(parquet_dir), _hashes(tmp_path / "other")
    for name in ("tracks.parquet", "orders.parquet", "_truth/identifiers.parquet"):
        assert first[name] != second[name]


def test_layout_and_progress(tmp_path: Path) -> None:
    calls: list[tuple[str, int, int]] = []
    manifest = generate(tmp_path, 40, seed=1, end_date=END, days=60, progress=lambda *a: calls.append(a))
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {f"{t}.parquet" for t in TABLES} | {"_manifest.json", "_truth"}
    assert {p.name for p in (tmp_path / "_truth").iterdir()} == {"identifiers.parquet", "people.parquet"}
    assert calls == [("people", 40, 40)]  # one call per chunk of people
    assert manifest == json.loads((tmp_path / "_manifest.json").read_text())
    with pytest.raises(ValueError):
        generate(tmp_path / "x", 0)


# --------------------------------------------------------------------------------------------------
# Manifest versus files
# --------------------------------------------------------------------------------------------------


def test_columns_follow_the_contract(parquet_dir: Path) -> None:
    con = duckdb.connect()
    for name, table in TABLES.items():
        described = con.execute(f"describe select * from '{parquet_dir / name}.parquet'").fetchall()
        assert [row[0] for row in described] == [c.name for c in table.columns]
        types = {row[0]: row[1] for row in described}
        for col in table.columns:
            expected = {
                "timestamp": "TIMESTAMP WITH TIME ZONE",
                "decimal": "DECIMAL(18,4)",
                "integer": "BIGINT",
            }.get(col.type, "VARCHAR")
            assert types[col.name] == expected, (name, col.name)


def test_row_counts_and_reconciliation(parquet_dir: Path, manifest: dict[str, Any]) -> None:
    con = _connect(parquet_dir)
    for name in TABLES:
        actual = con.execute(f"select count(*) from {name}").fetchone()[0]
        assert manifest["tables"][name]["rows"] == actual
        expected = manifest["expected_staging"][name]
        assert expected["raw_rows"] == actual
        assert expected["raw_rows"] == (
            expected["staged_rows"] + expected["duplicate_rows"] + sum(expected["quarantined"].values())
        )


def test_expected_staging_matches_the_rules(parquet_dir: Path, manifest: dict[str, Any]) -> None:
    con = _connect(parquet_dir)
    for name in TABLES:
        outcome = _staging_outcome(con, name)
        assert outcome.pop("unexpected") == {}
        expected = {k: v for k, v in manifest["expected_staging"][name].items() if k != "duplicate_reason"}
        assert outcome == expected, name
        # every quarantine reason and the duplicate rule are exercised
        assert outcome["duplicate_rows"] > 0, name
        assert all(v > 0 for v in outcome["quarantined"].values()), (name, outcome["quarantined"])


def test_every_category_is_present(manifest: dict[str, Any]) -> None:
    for name, category in manifest["categories"].items():
        assert category["count"] > 0, name
        assert category["description"], name
        if category["by_table"]:
            assert sum(category["by_table"].values()) == category["count"], name
    for kind in ("consent_grants", "consent_withdrawals"):
        assert set(manifest["categories"][kind]["by_purpose"]) == set(CONSENT_PURPOSES)
        assert all(v > 0 for v in manifest["categories"][kind]["by_purpose"].values()), kind


def test_category_counts_are_true(parquet_dir: Path, manifest: dict[str, Any]) -> None:
    con = _connect(parquet_dir)
    cats = manifest["categories"]

    def one(sql: str) -> Any:
        return con.execute(sql).fetchone()[0]

    for t in MESSAGE_TABLES:
        json_col = "traits" if t == "identifies" else "properties"
        dups = one(f"select count(*) - count(distinct id) from {t} where id is not null and trim(id) <> ''")
        assert dups == cats["duplicate_deliveries"]["by_table"].get(t, 0), t
        malformed = one(f"""select count(*) from {t} where not json_valid({json_col})
            or coalesce(try(json_type({json_col})), '') <> 'OBJECT'
            or not coalesce(json_valid(context_consent_category_preferences), true)""")
        assert malformed == cats["malformed_json"]["by_table"].get(t, 0), t
        late = one(f"""select count(*) from {t} where received_at >= timestamp + interval 1 day
            and received_at - sent_at < interval 2 second""")
        assert late == cats["late_events"]["by_table"].get(t, 0), t
        skewed = one(f"select count(*) from {t} where timestamp > received_at + interval 10 minute")
        assert skewed == cats["clock_skew"]["by_table"].get(t, 0), t
        no_identity = one(f"select count(*) from {t} where {_blank('anonymous_id')} and {_blank('user_id')}")
        no_id = one(f"select count(*) from {t} where {_blank('id')}")
        assert no_identity + no_id == cats["missing_ids"]["by_table"].get(t, 0), t
    skew = cats["clock_skew"]
    uncorrectable = sum(
        one(
            f"select count(*) from {t} where timestamp > received_at + interval 10 minute and sent_at is null"
        )
        for t in MESSAGE_TABLES
    )
    assert uncorrectable == skew["uncorrectable"] and skew["correctable"] == skew["count"] - uncorrectable
    assert one("select count(*) from orders where currency = 'XXX'") == cats["unknown_currency"]["count"]
    assert (
        one("select count(*) from orders where status in ('refunded', 'partially_refunded')")
        == cats["refunds"]["count"]
    )
    assert (
        one("select count(*) from tracks where event is null or trim(event) = ''")
        == cats["missing_event_names"]["count"]
    )
    assert (
        one(f"select count(*) from tracks where event = '{CONSENT_EVENT}'")
        == cats["consent_changes"]["count"]
    )
    junk_anon = one(
        "select count(*) from tracks where anonymous_id in "
        "('00000000-0000-0000-0000-000000000000', 'null', 'undefined')"
    )
    junk_user = one("select count(*) from tracks where user_id in ('null', 'undefined', '0')")
    assert junk_anon + junk_user == cats["junk_identifiers"]["by_table"]["tracks"]
    bad_crm = one(f"""select count(*) from crm_contacts
        where not regexp_full_match(lower(trim(email)), '{EMAIL_SQL}')""")
    assert bad_crm == cats["invalid_emails"]["by_table"]["crm_contacts"]
    variants = one("select count(*) from crm_contacts where email <> lower(trim(email))")
    assert variants == cats["email_variants"]["by_table"]["crm_contacts"] > 0
    guests = one(
        f"select count(*) from ({_classified('orders')}) where reason is null and dup = 0 "
        "and customer_id is null"
    )
    assert guests == cats["guest_checkouts"]["count"]
    # emails: case/whitespace variants, invalid ones (staged anyway) and the junk placeholder
    emails = {
        "identifies": "select traits ->> '$.email' as e from identifies where json_valid(traits)",
        # guest orders with an invalid email are missing_customer, not invalid_emails
        "orders": "select email as e, customer_id is null as guest from orders",
        "crm_contacts": "select email as e from crm_contacts",
    }
    for t, sql in emails.items():
        variants = one(f"select count(*) from ({sql}) where e <> lower(trim(e))")
        assert variants == cats["email_variants"]["by_table"][t] > 0, t
        invalid = one(
            f"select count(*) from ({sql}) where not regexp_full_match(lower(trim(e)), '{EMAIL_SQL}')"
            + (" and not guest" if t == "orders" else "")
        )
        assert invalid == cats["invalid_emails"]["by_table"][t] > 0, t
    junk_emails = one(f"select count(*) from ({emails['identifies']}) where e = 'test@test.com'")
    assert (
        junk_emails
        + one(
            "select count(*) from identifies where user_id in ('null', 'undefined', '0') or anonymous_id in "
            "('00000000-0000-0000-0000-000000000000', 'null', 'undefined')"
        )
        == cats["junk_identifiers"]["by_table"]["identifies"]
    )
    assert (
        one("select count(*) from orders where email = 'test@test.com'")
        == cats["junk_identifiers"]["by_table"]["orders"]
    )
    assert (
        one("select count(*) from order_items where quantity is null or quantity <= 0")
        == cats["invalid_quantities"]["count"]
    )
    assert (
        one("select count(*) from deletion_requests where identifier_type in ('ssn', 'passport_number')")
        == cats["unknown_identifier_types"]["count"]
    )
    # CRM email changes: the new address (a work domain, used nowhere else) belongs to the contact's person
    con.execute(f"create view truth as select * from '{parquet_dir / '_truth' / 'identifiers.parquet'}'")
    changed = con.execute("""
        select count(*), count(*) filter (where e.person_id = c.person_id)
        from crm_contacts m
        join truth e on e.identifier_type = 'email' and e.identifier_value = m.email
        join truth c on c.identifier_type = 'crm_id' and c.identifier_value = m.contact_id
        where m.email similar to '.*@(acme|globex|initech|umbrella)\\.example'""").fetchone()
    assert changed[0] == changed[1] == cats["crm_email_changes"]["count"] > 0


def test_time_window(parquet_dir: Path) -> None:
    """Everything happens in [end_date - days, end_date); only skewed device clocks run ahead."""
    con = _connect(parquet_dir)
    start, end = "timestamptz '2025-11-29 00:00:00+00'", "timestamptz '2026-11-29 00:00:00+00'"
    for t in MESSAGE_TABLES:
        lo, hi = con.execute(
            f"""select min(least(timestamp, received_at)), max(received_at) from {t}"""
        ).fetchone()
        assert lo is not None and hi is not None
        inside = con.execute(f"""select count(*) from {t} where received_at < {start} or received_at >= {end}
            or (timestamp <= received_at and timestamp < {start})""").fetchone()[0]
        assert inside == 0, t
    for t, cols in (
        ("orders", "created_at, updated_at, refunded_at"),
        ("crm_contacts", "created_at, updated_at"),
        ("deletion_requests", "requested_at"),
    ):
        for col in cols.split(", "):
            outside = con.execute(
                f"select count(*) from {t} where {col} < {start} or {col} >= {end}"
            ).fetchone()[0]
            assert outside == 0, (t, col)


def test_deletion_requests_point_at_deleted_people(parquet_dir: Path, manifest: dict[str, Any]) -> None:
    con = _connect(parquet_dir)
    con.execute(f"create view truth as select * from '{parquet_dir / '_truth' / 'identifiers.parquet'}'")
    con.execute(f"create view people as select * from '{parquet_dir / '_truth' / 'people.parquet'}'")
    phone = _phone_sql("d.identifier_value")
    rows = con.execute(f"""
        select d.request_id, t.person_id, p.deleted
        from ({_classified("deletion_requests")}) d
        left join truth t on t.identifier_type = lower(trim(d.identifier_type)) and t.identifier_value =
            case lower(trim(d.identifier_type)) when 'email' then lower(trim(d.identifier_value))
                when 'phone' then {phone} else trim(d.identifier_value) end
        left join people p using (person_id)
        where d.reason is null and d.dup = 0""").fetchall()
    assert rows and all(person is not None and deleted for _, person, deleted in rows)
    deleted = con.execute("select count(*) from people where deleted").fetchone()[0]
    assert (
        deleted
        == len({person for _, person, _ in rows})
        == manifest["categories"]["deletion_requests"]["people"]
    )


def test_consent_grants_and_withdrawals(parquet_dir: Path, manifest: dict[str, Any]) -> None:
    con = _connect(parquet_dir)
    con.execute(f"create view truth as select * from '{parquet_dir / '_truth' / 'identifiers.parquet'}'")
    purposes = ", ".join(
        f"coalesce(json_extract(context_consent_category_preferences, '$.{p}')::boolean, false) as {p}"
        for p in CONSENT_PURPOSES
    )
    con.execute(f"""create view consent as
        select coalesce(u.person_id, a.person_id) as person_id, timestamp, {purposes}
        from tracks t
        left join truth u on u.identifier_type = 'user_id' and u.identifier_value = t.user_id
        left join truth a on a.identifier_type = 'anonymous_id' and a.identifier_value = t.anonymous_id
            and a.role = 'own'
        where event = '{CONSENT_EVENT}'""")
    assert con.execute("select count(*) from consent where person_id is null").fetchone()[0] == 0
    for p in CONSENT_PURPOSES:
        grants, withdrawals = con.execute(f"""
            select count(*) filter (where {p} and not prev), count(*) filter (where prev and not {p})
            from (select {p},
                    coalesce(lag({p}) over (partition by person_id order by timestamp), false) as prev
                  from consent)""").fetchone()
        assert grants == manifest["categories"]["consent_grants"]["by_purpose"][p], p
        assert withdrawals == manifest["categories"]["consent_withdrawals"]["by_purpose"][p], p


# --------------------------------------------------------------------------------------------------
# Formats
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("file_format", ["csv", "jsonl"])
def test_text_formats_hold_the_same_data(
    tmp_path: Path, parquet_dir: Path, manifest: dict[str, Any], file_format: str
) -> None:
    text_manifest = generate(tmp_path, PEOPLE, seed=7, end_date=END, file_format=file_format)
    assert text_manifest["expected_staging"] == manifest["expected_staging"]
    assert text_manifest["categories"] == manifest["categories"]
    left, right = _connect(parquet_dir), _connect(tmp_path, file_format)
    for name in ("identifies", "tracks", "orders", "order_items", "crm_contacts", "deletion_requests"):
        cols = [c.name for c in TABLES[name].columns]
        # CSV cannot tell an empty string from null; compare with blanks folded to null
        select = ", ".join(
            f"nullif(\"{c}\", '')"
            if c in [x.name for x in TABLES[name].columns if x.type in ("string", "json")]
            else f'"{c}"'
            for c in cols
        )
        a = left.execute(f"select {select} from {name}").fetchall()
        b = right.execute(f"select {select} from {name}").fetchall()
        assert a == b, name
        assert (
            _staging_outcome(right, name)["staged_rows"] == manifest["expected_staging"][name]["staged_rows"]
        )


def test_csv_and_jsonl_text_conventions(tmp_path: Path) -> None:
    generate(tmp_path / "csv", 40, seed=3, end_date=END, days=60, file_format="csv")
    generate(tmp_path / "jsonl", 40, seed=3, end_date=END, days=60, file_format="jsonl")
    header, first = (tmp_path / "csv" / "tracks.csv").read_text().splitlines()[:2]
    assert header.split(",")[:4] == ['"id"', '"anonymous_id"', '"user_id"', '"timestamp"']
    assert first.count("Z") >= 3  # ISO 8601 timestamps in UTC
    line = json.loads((tmp_path / "jsonl" / "tracks.jsonl").read_text().splitlines()[0])
    assert list(line) == [c.name for c in TABLES["tracks"].columns]
    assert isinstance(line["properties"], str) and line["timestamp"].endswith("Z")


# --------------------------------------------------------------------------------------------------
# Ground truth
# --------------------------------------------------------------------------------------------------


def _phone_sql(col: str) -> str:
    """The staging phone normalisation: digits only, then '+', '00', 10-digit (NANP) and 11-digit rules."""
    digits = f"regexp_replace({col}, '[^0-9]', '', 'g')"
    return f"""case
    when trim({col}) like '+%' then '+' || {digits}
    when {digits} like '00%' then '+' || {digits}[3:]
    when length({digits}) = 10 then '+1' || {digits}
    when length({digits}) = 11 and {digits} like '1%' then '+' || {digits}
end"""


def test_truth_covers_every_identifier(parquet_dir: Path) -> None:
    con = _connect(parquet_dir)
    con.execute(f"create view truth as select * from '{parquet_dir / '_truth' / 'identifiers.parquet'}'")
    con.execute(f"create view people as select * from '{parquet_dir / '_truth' / 'people.parquet'}'")
    ok = "json_valid(traits) and json_type(traits) = 'OBJECT'"
    con.execute(f"""create view seen as
        select 'email' as t, lower(trim(x)) as v from (
            select json_extract_string(traits, '$.email') as x from identifies where {ok}
            union all select email from orders union all select email from crm_contacts
            union all select json_extract_string(properties, '$.email') from tracks
                where event = 'Newsletter Subscribed' and json_valid(properties))
        where regexp_full_match(lower(trim(x)), '{EMAIL_SQL}')
        union all
        select 'phone', v from (select {_phone_sql("x")} as v from (
            select json_extract_string(traits, '$.phone') as x from identifies where {ok}
            union all select phone from orders union all select phone from crm_contacts))
        where regexp_full_match(v, '{PHONE_RE}')
        union all
        select 'user_id', trim(user_id) from (
            select user_id from identifies union all select user_id from tracks
            union all select user_id from pages union all select user_id from screens
            union all select user_id from crm_contacts) where trim(user_id) <> ''
        union all
        select 'anonymous_id', trim(anonymous_id) from (
            select anonymous_id from identifies union all select anonymous_id from tracks
            union all select anonymous_id from pages union all select anonymous_id from screens
            union all select anonymous_id from orders) where trim(anonymous_id) <> ''
        union all select 'device_id', context_device_id from screens where context_device_id is not null
        union all select 'crm_id', contact_id from crm_contacts where contact_id is not null
        union all select 'customer_id', customer_id from orders where customer_id is not null""")
    missing = con.execute("""select t, v from (select distinct t, v from seen) s
        where not exists (
            select 1 from truth where identifier_type = s.t and identifier_value = s.v)""").fetchall()
    assert missing == []
    # a person's own identifiers belong to nobody else; junk ones belong to no one
    shared = con.execute("""select identifier_type, identifier_value from truth where role = 'own'
        group by all having count(distinct person_id) > 1""").fetchall()
    assert shared == []
    assert (
        con.execute("select count(*) from truth where role = 'junk' and person_id is not null").fetchone()[0]
        == 0
    )
    junk = {r[0] for r in con.execute("select identifier_value from truth where role = 'junk'").fetchall()}
    assert "test@test.com" in junk and "00000000-0000-0000-0000-000000000000" in junk
    # shared devices: one install, two people of one household
    pairs = con.execute("""select count(distinct t.person_id), count(distinct p.household_id) from truth t
        join people p using (person_id) where role = 'shared_device' and identifier_type = 'device_id'
        group by identifier_value""").fetchall()
    assert pairs and all(pair == (2, 1) for pair in pairs)
    assert con.execute("select count(*) from people").fetchone()[0] == PEOPLE
