"""The raw data contract: every table the loader accepts, its columns and their types.

This module is the single source of truth for the shape of the `raw` schema. The loader validates
files against it, the sample-data generator writes files that follow it, and
`docs/data-contract.md` and `models/staging/*/_*__sources.yml` describe the same columns.

Types are logical and portable:
- ``string``: text. Identifiers are strings even when they look numeric.
- ``timestamp``: an instant. Stored as a UTC timestamp without time zone. Files may carry ISO 8601
  text with an offset (converted to UTC), text without an offset (taken as UTC) or a typed timestamp.
- ``decimal``: money, stored as ``decimal(18, 4)``.
- ``integer``: a whole number, stored as ``bigint``.
- ``json``: JSON text (an object). Stored as text and validated in staging, not at load, so that a
  malformed payload quarantines one row instead of refusing a whole file.

``required`` columns must be present in every file of the table (values may still be null; staging
quarantines rows whose required values are missing). Optional columns may be absent from a file and
are loaded as null.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

LogicalType = Literal["string", "timestamp", "decimal", "integer", "json"]

# Columns the loader adds to every raw table, for lineage and idempotency.
LINEAGE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("_load_id", "string"),
    ("_file_name", "string"),
    ("_file_row_number", "integer"),
    ("_loaded_at", "timestamp"),
)


@dataclass(frozen=True)
class Column:
    name: str
    type: LogicalType
    required: bool = False
    pii: bool = False
    description: str = ""


@dataclass(frozen=True)
class Table:
    name: str
    source: str
    grain: str
    columns: tuple[Column, ...]

    @property
    def required_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.name} has no column {name!r}")


def _c(name: str, type_: LogicalType, required: bool = False, pii: bool = False, description: str = "") -> Column:
    return Column(name=name, type=type_, required=required, pii=pii, description=description)


# Columns shared by every Segment/RudderStack message table (identifies, tracks, pages, screens).
_MESSAGE_COLUMNS: tuple[Column, ...] = (
    _c("id", "string", True, description="Message id, unique per message; redeliveries repeat it."),
    _c("anonymous_id", "string", True, pii=True, description="Device/browser-scoped id set by the SDK."),
    _c("user_id", "string", True, pii=True, description="Your id for a known user, null when anonymous."),
    _c("timestamp", "timestamp", True, description="When the event happened (device clock, skew-corrected by "
       "the collector when it can)."),
    _c("sent_at", "timestamp", description="When the device sent the message (device clock)."),
    _c("received_at", "timestamp", True, description="When the collector received the message (server clock)."),
    _c("original_timestamp", "timestamp", description="Device time before any skew correction."),
    _c("context_ip", "string", pii=True, description="Client IP address."),
    _c("context_user_agent", "string", description="Browser or app user agent."),
    _c("context_device_id", "string", pii=True, description="Hardware/advertising device id (apps)."),
    _c("context_page_url", "string", description="Page URL at the time of the event (web)."),
    _c("context_campaign_source", "string", description="utm_source."),
    _c("context_campaign_medium", "string", description="utm_medium."),
    _c("context_campaign_name", "string", description="utm_campaign."),
    _c("context_consent_category_preferences", "json",
       description="Segment consent spec: JSON object of purpose -> true/false at the time of the event."),
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            name="identifies",
            source="segment",
            grain="One row per identify call delivered (redeliveries repeat the id).",
            columns=_MESSAGE_COLUMNS
            + (
                _c("traits", "json", True, pii=True,
                   description="JSON object: email, phone, first_name, last_name, country, crm_id, "
                   "customer_id, ..."),
            ),
        ),
        Table(
            name="tracks",
            source="segment",
            grain="One row per track call delivered.",
            columns=_MESSAGE_COLUMNS
            + (
                _c("event", "string", True, description="Event name, e.g. 'Order Completed'."),
                _c("properties", "json", True, pii=True, description="JSON object of event properties."),
            ),
        ),
        Table(
            name="pages",
            source="segment",
            grain="One row per page call delivered.",
            columns=_MESSAGE_COLUMNS
            + (
                _c("name", "string", description="Page name."),
                _c("properties", "json", True, description="JSON object: path, referrer, title, url, ..."),
            ),
        ),
        Table(
            name="screens",
            source="segment",
            grain="One row per screen call delivered.",
            columns=_MESSAGE_COLUMNS
            + (
                _c("name", "string", description="Screen name."),
                _c("properties", "json", True, description="JSON object of screen properties."),
            ),
        ),
        Table(
            name="orders",
            source="shop",
            grain="One row per order export; a re-export (e.g. after a refund) repeats order_id with a later "
            "updated_at, and the latest wins.",
            columns=(
                _c("order_id", "string", True, description="Shop order id."),
                _c("customer_id", "string", True, pii=True, description="Shop account id; null for guest checkout."),
                _c("email", "string", True, pii=True, description="Checkout email (always set for guests)."),
                _c("phone", "string", pii=True, description="Checkout phone, any format."),
                _c("anonymous_id", "string", pii=True, description="Web anonymous id captured at checkout."),
                _c("currency", "string", True, description="ISO 4217 code of the amounts."),
                _c("subtotal_amount", "decimal", description="Items total before tax and shipping."),
                _c("total_amount", "decimal", True, description="Amount charged."),
                _c("refunded_amount", "decimal", description="Amount refunded so far (0 when none)."),
                _c("status", "string", True, description="placed, fulfilled, refunded, partially_refunded, "
                   "cancelled."),
                _c("billing_country", "string", description="ISO 3166-1 alpha-2 country."),
                _c("created_at", "timestamp", True, description="When the order was placed."),
                _c("updated_at", "timestamp", True, description="When this version of the order was written."),
                _c("refunded_at", "timestamp", description="When the latest refund happened."),
            ),
        ),
        Table(
            name="order_items",
            source="shop",
            grain="One row per order line.",
            columns=(
                _c("order_item_id", "string", True, description="Order line id."),
                _c("order_id", "string", True, description="Order the line belongs to."),
                _c("product_id", "string", True, description="Product id."),
                _c("product_name", "string", description="Product name."),
                _c("category", "string", description="Product category."),
                _c("quantity", "integer", True, description="Units."),
                _c("unit_price", "decimal", True, description="Price per unit in the order's currency."),
            ),
        ),
        Table(
            name="crm_contacts",
            source="crm",
            grain="One row per contact version (contact_id + updated_at); an email change writes a new version.",
            columns=(
                _c("contact_id", "string", True, pii=True, description="CRM contact id (identifier type crm_id)."),
                _c("email", "string", True, pii=True, description="Contact email in this version."),
                _c("phone", "string", pii=True, description="Contact phone, any format."),
                _c("first_name", "string", pii=True, description="Given name."),
                _c("last_name", "string", pii=True, description="Family name."),
                _c("country", "string", description="ISO 3166-1 alpha-2 country."),
                _c("user_id", "string", pii=True, description="The app's user id when the contact has an account."),
                _c("customer_id", "string", pii=True, description="The shop's customer id when known."),
                _c("lifecycle_stage", "string", description="lead, prospect, customer, churned."),
                _c("created_at", "timestamp", True, description="When the contact was created."),
                _c("updated_at", "timestamp", True, description="When this version was written."),
            ),
        ),
        Table(
            name="deletion_requests",
            source="privacy",
            grain="One row per erasure request.",
            columns=(
                _c("request_id", "string", True, description="Request id."),
                _c("identifier_type", "string", True, description="email, phone, user_id, anonymous_id, "
                   "device_id, crm_id or customer_id."),
                _c("identifier_value", "string", True, pii=True, description="The identifier, any casing/format."),
                _c("requested_at", "timestamp", True, description="When the person asked."),
                _c("source", "string", description="Where the request came from (support, web_form, api)."),
            ),
        ),
    )
}

# Identifier types a deletion request (and the identity graph) understands.
IDENTIFIER_TYPES: tuple[str, ...] = (
    "anonymous_id",
    "user_id",
    "email",
    "phone",
    "device_id",
    "crm_id",
    "customer_id",
)

# The event that carries an explicit consent decision (Segment consent spec).
CONSENT_EVENT = "Segment Consent Preference Updated"

# Consent purposes (categories) the project knows.
CONSENT_PURPOSES: tuple[str, ...] = ("analytics", "personalization", "email_marketing", "advertising", "sms")


def table(name: str) -> Table:
    try:
        return TABLES[name]
    except KeyError:
        known = ", ".join(sorted(TABLES))
        raise KeyError(f"unknown raw table {name!r}; the contract knows: {known}") from None
