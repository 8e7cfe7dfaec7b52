"""The expectation suites, as code. Each suite validates datasets: a SQL query on the warehouse (the
same portable SQL on every engine) and the expectations its rows must meet. A dataset names its row
key so a failure lists the offending rows by key (profile or activation ids, never raw PII).

The consent guard is critical: when it fails, activation and syncs stop. The other suites warn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import great_expectations.expectations as gxe
from great_expectations.expectations.expectation import Expectation

# Track event names the tracking plan accepts (plus the consent-spec event).
ACCEPTED_EVENTS = (
    "Product Viewed", "Product Added", "Checkout Started", "Order Completed", "Newsletter Subscribed",
    "Email Opened", "Segment Consent Preference Updated",
)
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"
MAX_IDENTIFIERS_PER_PROFILE = 200


# Expectations judged row by row: the outcome over a table is the sum of the outcomes over its loads
# (with `mostly`, the share of each validated window), so they can be validated on new rows only.
ROW_EXPECTATIONS = (
    gxe.ExpectColumnValuesToNotBeNull, gxe.ExpectColumnValuesToBeInSet, gxe.ExpectColumnValuesToBeBetween,
    gxe.ExpectColumnValuesToMatchRegex,
)


@dataclass(frozen=True)
class Dataset:
    name: str
    sql: str
    key: str
    expectations: tuple[Expectation, ...]
    needs_salt: bool = False
    # Large DuckDB datasets are validated in parts split by a hash of this column (default: the key);
    # it must be the column a uniqueness expectation checks, so duplicates meet in one part.
    partition_by: str | None = None
    # Incremental validation (`run_quality(..., incremental=True)`): the table the dataset reads, written
    # `{table}` in `sql`, and its lineage column (or expression) naming the load of each row: raw and
    # staged events by _load_id, identity_map by the run that wrote the row. An incremental run reads
    # the table's rows of loads not validated before, plus every other row sharing the value of a
    # uniqueness-checked column with one of them (that column must be a column of the table, under the
    # same name, or `unique_key` names the columns it is computed from). Datasets without them (the
    # consent guard) are always validated whole.
    table: str | None = None
    incremental_by: str | None = None
    loaded_at_column: str = "_loaded_at"
    # When the uniqueness-checked column is computed in `sql` (a hash), the columns of the table it is
    # computed from: the window then adds the earlier rows sharing all of them with a new row.
    unique_key: tuple[str, ...] | None = None
    # When `sql` aggregates the table by a group (one dataset row per group), the group's columns: the
    # window then holds every row of each group that has a new row, so each group in it is complete. A
    # group with no new row can only have lost rows since it was validated, so only expectations that
    # losing rows cannot break belong on such a dataset (an upper bound on a count, not a lower one).
    group_key: tuple[str, ...] | None = None

    @property
    def partition_column(self) -> str:
        return self.partition_by or self.key

    @property
    def incremental(self) -> bool:
        return self.table is not None and self.incremental_by is not None

    @property
    def unique_columns(self) -> tuple[str, ...]:
        """The columns of the expectations that compare rows with each other (uniqueness)."""
        return tuple(e.column for e in self.expectations if isinstance(e, gxe.ExpectColumnValuesToBeUnique))

    @property
    def window_keys(self) -> tuple[tuple[str, ...], ...]:
        """Per uniqueness expectation, and for the group of an aggregating dataset (`group_key`), the
        table columns an earlier row must share with a new row to join an incremental window."""
        keys = (self.unique_key,) if self.unique_key else tuple((column,) for column in self.unique_columns)
        return keys + ((self.group_key,) if self.group_key else ())

    def __post_init__(self) -> None:
        if not self.incremental:
            return
        if "{table}" not in self.sql:
            raise ValueError(f"dataset {self.name}: an incremental dataset reads its table as {{table}}")
        if self.unique_key and len(self.unique_columns) != 1:
            raise ValueError(f"dataset {self.name}: unique_key names the columns of exactly one uniqueness "
                             f"expectation, found {len(self.unique_columns)}")
        for expectation in self.expectations:
            if not isinstance(expectation, ROW_EXPECTATIONS + (gxe.ExpectColumnValuesToBeUnique,)):
                # An aggregate (a mean, a distinct count, a compound key) over new rows says nothing
                # exact about the whole table: such a dataset must be validated whole.
                raise ValueError(f"dataset {self.name}: {type(expectation).__name__} cannot be validated "
                                 "incrementally; validate the dataset whole (no table/incremental_by)")


@dataclass(frozen=True)
class Suite:
    name: str
    severity: str  # "critical" blocks activation and syncs; "warning" only alerts
    description: str
    datasets: tuple[Dataset, ...] = field(default_factory=tuple)


def _consent_guard_sql() -> str:
    """One row per activation row with what the guard checks: the consent purposes the row needs and
    how many are granted, holdout/priority status, erasure, suppression of its identifiers."""
    return """
    with activation as (
        select 'activation_email' as activation_table, activation_id, segment_name, profile_id,
               'email' as identifier_type, email as identifier_value, 'email_marketing' as destination_purpose,
               cast(null as varchar) as hashed_value
        from activation.activation_email
        union all
        select 'activation_ads', activation_id, segment_name, profile_id, 'email', null, 'advertising', hashed_email
        from activation.activation_ads
        union all
        select 'activation_crm', activation_id, segment_name, profile_id, 'crm_id', crm_id, null, null
        from activation.activation_crm
    ),
    required as (
        select distinct activation.activation_table, activation.activation_id, consent.purpose
        from activation
        inner join segments.segment_catalog as catalog on activation.segment_name = catalog.segment_name
        inner join profiles.profile_consent as consent
            on consent.profile_id = activation.profile_id
            and (
                position(',' || consent.purpose || ',' in ',' || catalog.consent_purposes || ',') > 0
                or consent.purpose = activation.destination_purpose
            )
    ),
    granted as (
        select required.activation_table, required.activation_id,
               count(*) as required_purposes,
               sum(case when consent.is_granted then 1 else 0 end) as granted_purposes
        from required
        inner join activation using (activation_table, activation_id)
        inner join profiles.profile_consent as consent
            on consent.profile_id = activation.profile_id and consent.purpose = required.purpose
        group by required.activation_table, required.activation_id
    )
    select
        activation.activation_table || ':' || activation.activation_id as activation_row,
        activation.profile_id,
        coalesce(granted.required_purposes, 0) > 0
            and granted.granted_purposes = granted.required_purposes as has_required_consent,
        coalesce(memberships.is_activatable, false) as is_activatable_member,
        activation.profile_id in (select profile_id from privacy.privacy_erased_profiles) as is_erased_profile,
        activation.identifier_value is not null and (activation.identifier_type, {salted_hash}) in (
            select identifier_type, identifier_hash from privacy.privacy_suppressions
        ) as is_suppressed_identifier,
        activation.hashed_value
    from activation
    left join granted using (activation_table, activation_id)
    left join segments.segment_memberships as memberships
        on memberships.segment_name = activation.segment_name and memberships.profile_id = activation.profile_id
    """


SUITES: tuple[Suite, ...] = (
    Suite(
        name="raw_and_staging",
        severity="warning",
        description="Raw rows carry their ids; staged events are unique, timely, well-formed and known.",
        datasets=(
            Dataset(
                name="raw_tracks",
                sql="select id, received_at from {table}",
                key="id",
                table="raw.tracks",
                incremental_by="_load_id",
                expectations=(
                    gxe.ExpectColumnValuesToNotBeNull(column="id", mostly=0.99),
                    gxe.ExpectColumnValuesToNotBeNull(column="received_at", mostly=0.99),
                ),
            ),
            Dataset(
                name="stg_segment__tracks",
                sql="select message_id, event_name, event_at from {table}",
                key="message_id",
                table="staging.stg_segment__tracks",
                incremental_by="_load_id",
                expectations=(
                    gxe.ExpectColumnValuesToNotBeNull(column="message_id"),
                    gxe.ExpectColumnValuesToBeUnique(column="message_id"),
                    gxe.ExpectColumnValuesToBeInSet(column="event_name", value_set=list(ACCEPTED_EVENTS)),
                    gxe.ExpectColumnValuesToBeBetween(
                        column="event_at", min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                    ),
                ),
            ),
            Dataset(
                name="stg_segment__identifies",
                sql="select message_id, email from {table}",
                key="message_id",
                table="staging.stg_segment__identifies",
                incremental_by="_load_id",
                expectations=(
                    gxe.ExpectColumnValuesToBeUnique(column="message_id"),
                    gxe.ExpectColumnValuesToMatchRegex(column="email", regex=EMAIL_PATTERN),
                ),
            ),
        ),
    ),
    Suite(
        name="identity",
        severity="warning",
        description="One profile per identifier; no profile above the configured size.",
        datasets=(
            Dataset(
                name="identity_map",
                # The identifier as an MD5 of type and value: a duplicate is reported by its row key
                # and this hash, never by the identifier itself.
                sql="select md5(identifier_type || ':' || identifier_value) as identifier_md5, profile_id, "
                    "identifier_type || ':' || profile_id as row_key from {table}",
                key="row_key",
                partition_by="identifier_md5",
                # Incremental by the run that wrote each row (identity_map rewrites only the identifiers
                # a run changed); a new row's identifier brings its earlier rows into the window.
                table="identity.identity_map",
                incremental_by="cast(_processed_at as varchar)",
                loaded_at_column="_processed_at",
                unique_key=("identifier_type", "identifier_value"),
                expectations=(
                    gxe.ExpectColumnValuesToBeUnique(column="identifier_md5"),
                    gxe.ExpectColumnValuesToNotBeNull(column="profile_id"),
                ),
            ),
            Dataset(
                name="profile_sizes",
                sql="select profile_id, count(*) as identifiers from {table} group by profile_id",
                key="profile_id",
                # By the identity runs that wrote rows, like identity_map, with every row of a profile that
                # has a new row: a profile can only grow through a new row.
                table="identity.identity_map",
                incremental_by="cast(_processed_at as varchar)",
                loaded_at_column="_processed_at",
                group_key=("profile_id",),
                expectations=(
                    gxe.ExpectColumnValuesToBeBetween(
                        column="identifiers", min_value=1, max_value=MAX_IDENTIFIERS_PER_PROFILE),
                ),
            ),
        ),
    ),
    Suite(
        name="profiles",
        severity="warning",
        description="Unique profiles; traits within their ranges.",
        datasets=(
            Dataset(
                name="profile_traits",
                sql="select profile_id, order_count, revenue, engagement_score, recency_score from {table}",
                key="profile_id",
                # profile_traits rewrites the profiles whose inputs changed (every profile when the as-of
                # moves), stamped with the run: the rows of runs not validated yet.
                table="profiles.profile_traits",
                incremental_by="cast(_processed_at as varchar)",
                loaded_at_column="_processed_at",
                expectations=(
                    gxe.ExpectColumnValuesToBeUnique(column="profile_id"),
                    gxe.ExpectColumnValuesToBeBetween(column="order_count", min_value=0),
                    gxe.ExpectColumnValuesToBeBetween(column="revenue", min_value=0),
                    gxe.ExpectColumnValuesToBeBetween(column="engagement_score", min_value=0),
                    gxe.ExpectColumnValuesToBeBetween(column="recency_score", min_value=1, max_value=5),
                ),
            ),
        ),
    ),
    Suite(
        name="consent_guard",
        severity="critical",
        description=(
            "Every activation row has the consent its segment and destination need granted as of the run, "
            "belongs to an activatable member (no holdout, no priority suppression), to no erased profile, "
            "carries no suppressed identifier, and ad hashes are 64 hex characters."
        ),
        datasets=(
            Dataset(
                name="activation_rows",
                sql=_consent_guard_sql(),
                key="activation_row",
                needs_salt=True,
                expectations=(
                    gxe.ExpectColumnValuesToBeInSet(column="has_required_consent", value_set=[True]),
                    gxe.ExpectColumnValuesToBeInSet(column="is_activatable_member", value_set=[True]),
                    gxe.ExpectColumnValuesToBeInSet(column="is_erased_profile", value_set=[False]),
                    gxe.ExpectColumnValuesToBeInSet(column="is_suppressed_identifier", value_set=[False]),
                    gxe.ExpectColumnValuesToMatchRegex(column="hashed_value", regex=SHA256_PATTERN),
                ),
            ),
        ),
    ),
)
