"""Deterministic, vectorised sample data for every table of the raw contract.

``generate()`` writes one file per contract table (parquet, csv or jsonl), a ``_manifest.json`` that
counts every injected data-quality category and predicts, exactly, what staging will do with each
row, and a ground truth of who is who (``_truth/identifiers.parquet``, ``_truth/people.parquet``).

How it works: people are generated in chunks (``CHUNK_PEOPLE`` at a time). Each chunk has its own
random generator derived from ``(seed, chunk index)`` with :class:`numpy.random.SeedSequence`, so a
chunk never depends on another one and the output is byte-identical for the same arguments. Inside
a chunk everything is planned with numpy arrays of integers (who, when, which product, which defect)
and rendered to strings at the end with pyarrow compute kernels; there is no Python loop per row or
per person. Chunks are built on a small thread pool and streamed, in order, to one writer per table.

Defects ("categories") are injected into disjoint sets of rows and only clean rows are duplicated,
so each row has exactly one expected staging outcome (staged, duplicate or one quarantine reason);
the manifest's ``expected_staging`` is the tally of those outcomes. See ``docs/sample-data.md``.
"""

from __future__ import annotations

import json
import os
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from orchestration.contract import CONSENT_EVENT, CONSENT_PURPOSES, TABLES

GENERATOR_VERSION = 1
CHUNK_PEOPLE = 25_000
FileFormat = Literal["parquet", "csv", "jsonl"]
ProgressCallback = Callable[[str, int, int], None]

MESSAGE_TABLES: tuple[str, ...] = ("identifies", "tracks", "pages", "screens")
TABLE_ORDER: tuple[str, ...] = tuple(TABLES)
FILE_EXTENSIONS: dict[str, str] = {"parquet": "parquet", "csv": "csv", "jsonl": "jsonl"}

# ---------------------------------------------------------------------------------------------------
# Staging outcomes (the rules live in the dbt staging models; this is the generator's prediction)
# ---------------------------------------------------------------------------------------------------

MESSAGE_REASONS: tuple[str, ...] = (
    "missing_message_id",
    "missing_identity",
    "missing_timestamp",
    "malformed_json",
    "future_timestamp",
    "missing_event_name",
)
QUARANTINE_REASONS: dict[str, tuple[str, ...]] = {
    "identifies": MESSAGE_REASONS[:5],
    "tracks": MESSAGE_REASONS,
    "pages": MESSAGE_REASONS[:5],
    "screens": MESSAGE_REASONS[:5],
    "orders": (
        "missing_order_id",
        "missing_timestamp",
        "missing_customer",
        "unknown_currency",
        "invalid_amount",
    ),
    "order_items": ("missing_id", "invalid_quantity", "invalid_amount"),
    "crm_contacts": ("missing_contact_id", "missing_timestamp"),
    "deletion_requests": (
        "missing_request_id",
        "unknown_identifier_type",
        "missing_identifier_value",
        "missing_timestamp",
    ),
}
DUPLICATE_REASON: dict[str, str] = {
    **{t: "duplicate_message_id" for t in MESSAGE_TABLES},
    "orders": "duplicate_order_id",
    "order_items": "duplicate_order_item_id",
    "crm_contacts": "duplicate_contact_version",
    "deletion_requests": "duplicate_request_id",
}

# ---------------------------------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------------------------------

COUNTRIES: tuple[str, ...] = ("US", "GB", "DE", "SE", "FR", "NL", "ES")
COUNTRY_WEIGHTS: tuple[float, ...] = (0.30, 0.16, 0.16, 0.10, 0.10, 0.10, 0.08)
CALLING_CODES: tuple[str, ...] = ("1", "44", "49", "46", "33", "31", "34")
# National significant number = base + person_id (unique per person; US is special-cased).
# fmt: off
PHONE_BASES: tuple[int, ...] = (0, 2_079_000_000, 3_012_000_000, 812_000_000, 142_000_000, 203_000_000,
                                912_000_000)
# Digit groups of the national number when written with spaces/dashes.
PHONE_GROUPS: tuple[tuple[int, ...], ...] = ((3, 3, 4), (2, 4, 4), (2, 4, 4), (3, 3, 3), (3, 3, 3), (3, 3, 3),
                                             (3, 3, 3))
# fmt: on
US_AREA_CODES: tuple[int, ...] = (201, 212, 305, 312, 415, 503, 617, 702, 713, 808)
CURRENCIES: tuple[str, ...] = ("EUR", "USD", "GBP", "SEK")
FX_RATES: tuple[float, ...] = (1.0, 1.08, 0.86, 11.4)
COUNTRY_CURRENCY: tuple[int, ...] = (1, 2, 0, 3, 0, 0, 0)
UNKNOWN_CURRENCY = "XXX"


def _words(text: str) -> tuple[str, ...]:
    return tuple(w.strip() for w in text.split("|"))


# fmt: off
FIRST_NAMES: dict[str, tuple[str, ...]] = {
    "US": _words("James|Mary|Robert|Patricia|John|Jennifer|Michael|Linda|David|Elizabeth|William|Barbara|"
                 "Richard|Susan|Joseph|Jessica"),
    "GB": _words("Oliver|Amelia|George|Isla|Harry|Ava|Jack|Mia|Noah|Ivy|Leo|Lily|Oscar|Freya|Arthur|Grace"),
    "DE": _words("Ben|Emma|Paul|Mia|Leon|Hannah|Finn|Sophia|Lukas|Lena|Jonas|Marie|Felix|Lea|Maximilian|"
                 "Anna"),
    "SE": _words("William|Alice|Liam|Maja|Noah|Elsa|Hugo|Astrid|Lucas|Wilma|Oscar|Saga|Elias|Ebba|Erik|Åsa"),
    "FR": _words("Gabriel|Louise|Léo|Ambre|Raphaël|Alba|Arthur|Jade|Louis|Emma|Jules|Rose|Adam|Alice|Lucas|"
                 "Chloé"),
    "NL": _words("Noah|Emma|Sem|Julia|Liam|Mila|Lucas|Tess|Daan|Sophie|Finn|Zoë|Levi|Sara|Bram|Anna"),
    "ES": _words("Hugo|Lucía|Martín|Sofía|Lucas|Martina|Mateo|María|Leo|Julia|Daniel|Paula|Alejandro|Valeria|"
                 "Pablo|Emma"),
}
LAST_NAMES: dict[str, tuple[str, ...]] = {
    "US": _words("Smith|Johnson|Williams|Brown|Jones|Garcia|Miller|Davis|Rodriguez|Martinez|Hernandez|Lopez|"
                 "Wilson|Anderson|Taylor|Thomas"),
    "GB": _words("Smith|Jones|Taylor|Brown|Williams|Wilson|Johnson|Davies|Robinson|Wright|Thompson|Evans|"
                 "Walker|White|Roberts|O'Brien"),
    "DE": _words("Müller|Schmidt|Schneider|Fischer|Weber|Meyer|Wagner|Becker|Schulz|Hoffmann|Schäfer|Koch|"
                 "Bauer|Richter|Klein|Wolf"),
    "SE": _words("Andersson|Johansson|Karlsson|Nilsson|Eriksson|Larsson|Olsson|Persson|Svensson|Gustafsson|"
                 "Pettersson|Jonsson|Jansson|Hansson|Bengtsson|Öberg"),
    "FR": _words("Martin|Bernard|Thomas|Petit|Robert|Richard|Durand|Dubois|Moreau|Laurent|Simon|Michel|"
                 "Lefèvre|Leroy|Roux|David"),
    "NL": _words("de Jong|Jansen|de Vries|van den Berg|van Dijk|Bakker|Janssen|Visser|Smit|Meijer|de Boer|"
                 "Mulder|de Groot|Bos|Vos|Peters"),
    "ES": _words("García|Rodríguez|González|Fernández|López|Martínez|Sánchez|Pérez|Gómez|Martín|Jiménez|Ruiz|"
                 "Hernández|Díaz|Moreno|Muñoz"),
}
# fmt: on
NAMES_PER_COUNTRY = 16
EMAIL_DOMAINS: tuple[str, ...] = (
    "example.com",
    "example.net",
    "example.org",
    "mail.example.com",
    "post.example.de",
    "example.co.uk",
    "example.se",
    "example.fr",
)
WORK_DOMAINS: tuple[str, ...] = ("acme.example", "globex.example", "initech.example", "umbrella.example")
JUNK_EMAILS: tuple[str, ...] = ("test@test.com",)
JUNK_USER_IDS: tuple[str, ...] = ("null", "undefined", "0")
JUNK_ANONYMOUS_IDS: tuple[str, ...] = ("00000000-0000-0000-0000-000000000000", "null", "undefined")

# fmt: off
CATEGORIES: dict[str, tuple[tuple[str, ...], tuple[str, ...], int]] = {
    # category: (6 adjectives, 5 nouns -> 30 products, base price in EUR cents)
    "shoes": (_words("Classic|Trail|Urban|Lightweight|Premium|Everyday"),
              _words("Sneaker|Running Shoe|Boot|Loafer|Sandal"), 7_900),
    "outerwear": (_words("Waterproof|Quilted|Wool|Packable|Insulated|Rain"),
                  _words("Jacket|Parka|Coat|Vest|Anorak"), 12_900),
    "accessories": (_words("Leather|Canvas|Minimal|Vintage|Woven|Slim"),
                    _words("Belt|Wallet|Cap|Scarf|Backpack"), 3_900),
    "home": (_words("Linen|Ceramic|Oak|Cotton|Glass|Nordic"), _words("Cushion|Vase|Lamp|Throw|Mug"), 2_900),
    "beauty": (_words("Hydrating|Gentle|Daily|Organic|Repair|Fresh"),
               _words("Serum|Cleanser|Moisturiser|Shampoo|Lip Balm"), 1_900),
    "kids": (_words("Happy|Tiny|Playful|Soft|Bright|Little"),
             _words("Romper|Puzzle|Plush Bear|Rain Boots|Hoodie"), 2_400),
    "sports": (_words("Pro|Flex|Active|Endurance|Core|Aero"),
               _words("Yoga Mat|Water Bottle|Shorts|Leggings|Dumbbell"), 3_400),
    "electronics": (_words("Wireless|Smart|Portable|Noise-Cancelling|Compact|Ultra"),
                    _words("Headphones|Speaker|Charger|Watch|Earbuds"), 8_900),
    "books": (_words("Illustrated|Complete|Pocket|Annotated|Modern|Essential"),
              _words("Cookbook|Novel|Atlas|Guide|Poetry Collection"), 1_800),
    "garden": (_words("Hardy|Compact|Heavy-Duty|Self-Watering|Stackable|Rustic"),
               _words("Planter|Hose|Pruner|Seed Kit|Watering Can"), 2_200),
}
# fmt: on
TRACK_EVENTS: tuple[str, ...] = (
    "Product Viewed",
    "Product Added",
    "Checkout Started",
    "Order Completed",
    "Newsletter Subscribed",
    "Email Opened",
    CONSENT_EVENT,
)
EV_VIEWED, EV_ADDED, EV_CHECKOUT, EV_ORDER, EV_NEWSLETTER, EV_EMAIL, EV_CONSENT = range(7)
PAGES: tuple[tuple[str, str, str], ...] = (
    # (name, path prefix, title prefix)
    ("Home", "/", "Home"),
    ("Category", "/c/", "Shop "),
    ("Product", "/p/", ""),
    ("Search", "/search?q=", "Search results for "),
    ("Cart", "/cart", "Your cart"),
    ("Checkout", "/checkout", "Checkout"),
    ("Blog", "/blog/", "Journal: "),
    ("Account", "/account", "Your account"),
)
PAGE_WEIGHTS: tuple[float, ...] = (0.18, 0.18, 0.36, 0.08, 0.08, 0.04, 0.04, 0.04)
SCREENS: tuple[str, ...] = ("Home", "Category", "Product Detail", "Search", "Cart", "Checkout", "Profile")
SCREEN_WEIGHTS: tuple[float, ...] = (0.22, 0.16, 0.36, 0.08, 0.09, 0.04, 0.05)
SHOP_URL = "https://shop.example.com"
REFERRERS: tuple[str, ...] = (
    "",
    "",
    "https://www.google.com/",
    "https://www.bing.com/",
    "https://www.instagram.com/",
    "https://newsletter.example.com/",
    SHOP_URL + "/",
)
CAMPAIGNS: tuple[tuple[str, str, str], ...] = (
    ("google", "cpc", "spring_sale"),
    ("newsletter", "email", "weekly_digest"),
    ("instagram", "social", "new_arrivals"),
    ("facebook", "paid_social", "black_friday"),
    ("tiktok", "paid_social", "summer_sale"),
)
EMAIL_CAMPAIGNS: tuple[tuple[str, str], ...] = (
    ("weekly_digest", "This week's picks for you"),
    ("spring_sale", "Spring sale: up to 40% off"),
    ("cart_reminder", "You left something in your cart"),
    ("new_arrivals", "Just landed"),
)
WEB_USER_AGENTS: tuple[str, ...] = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 "
    "Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 "
    "Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
)
APP_USER_AGENTS: tuple[str, ...] = (
    "ExampleShop/5.3.1 (iPhone; iOS 17.5; Scale/3.00)",
    "ExampleShop/5.3.1 (iPad; iPadOS 17.5; Scale/2.00)",
    "ExampleShop/5.3.0 (Android 14; Pixel 8)",
    "ExampleShop/5.2.4 (Android 13; SM-S911B)",
)
MALFORMED_CONSENT: tuple[str, ...] = (
    '{"analytics":true,"personalization":false',
    "{'analytics': True, 'advertising': False}",
    "analytics=true;advertising=false",
    '{"analytics":true,"advertising":false}}',
)

# ---------------------------------------------------------------------------------------------------
# Rates (per eligible row or person, per chunk) and the minimum per chunk that makes every category
# appear even for a few hundred people.
# ---------------------------------------------------------------------------------------------------

RATES: dict[str, float] = {
    "registered": 0.55,
    "uses_web": 0.85,
    "uses_app": 0.35,
    "newsletter": 0.20,
    "buyer_registered": 0.35,
    "buyer_guest": 0.12,
    "crm_registered": 0.45,
    "crm_other": 0.12,
    "has_phone": 0.50,
    "consent": 0.70,
    "shared_device": 0.04,
    "cookie_churn": 0.04,
    "email_variant_people": 0.03,
    "crm_email_change": 0.04,
    "deletion": 0.003,
    "late": 0.02,
    "skew": 0.008,
    "malformed_json": 0.003,
    "malformed_consent": 0.0005,
    "missing_message_id": 0.001,
    "missing_identity": 0.002,
    "missing_timestamp": 0.0008,
    "missing_event_name": 0.001,
    "junk_user_id": 0.003,
    "junk_anonymous_id": 0.002,
    "identify_invalid_email": 0.01,
    "identify_junk_email": 0.01,
    "message_duplicate": 0.01,
    "order_invalid_email": 0.01,
    "order_junk_email": 0.005,
    "missing_order_id": 0.001,
    "order_missing_timestamp": 0.001,
    "missing_customer": 0.01,
    "unknown_currency": 0.003,
    "invalid_order_amount": 0.001,
    "lowercase_currency": 0.005,
    "refund": 0.02,
    "order_duplicate": 0.01,
    "guest_order_of_registered": 0.05,
    "item_missing_id": 0.001,
    "invalid_quantity": 0.001,
    "invalid_unit_price": 0.001,
    "item_duplicate": 0.005,
    "crm_invalid_email": 0.01,
    "missing_contact_id": 0.002,
    "crm_missing_timestamp": 0.002,
    "crm_duplicate": 0.01,
    "deletion_noise": 0.0003,
    "deletion_duplicate": 0.05,
}

# Message row categories (exactly one per row).
(
    M_CLEAN,
    M_LATE,
    M_SKEW_OK,
    M_SKEW_BAD,
    M_BAD_JSON,
    M_BAD_CONSENT,
    M_NO_MSG_ID,
    M_NO_IDENTITY,
    M_NO_TS,
    M_NO_EVENT,
    M_JUNK_USER,
    M_JUNK_ANON,
    M_EMAIL_VARIANT,
    M_BAD_EMAIL,
    M_JUNK_EMAIL,
    M_DUP,
) = range(16)
MESSAGE_FATE: dict[int, str] = {
    M_SKEW_BAD: "future_timestamp",
    M_BAD_JSON: "malformed_json",
    M_BAD_CONSENT: "malformed_json",
    M_NO_MSG_ID: "missing_message_id",
    M_NO_IDENTITY: "missing_identity",
    M_NO_TS: "missing_timestamp",
    M_NO_EVENT: "missing_event_name",
    M_DUP: "duplicate",
}
# Order row categories.
(
    O_CLEAN,
    O_EMAIL_VARIANT,
    O_BAD_EMAIL,
    O_JUNK_EMAIL,
    O_NO_ID,
    O_NO_TS,
    O_NO_CUSTOMER,
    O_UNKNOWN_CUR,
    O_BAD_AMOUNT,
    O_LOWER_CUR,
    O_REFUND,
    O_DUP,
    O_SUPERSEDED,
) = range(13)
ORDER_FATE: dict[int, str] = {
    O_NO_ID: "missing_order_id",
    O_NO_TS: "missing_timestamp",
    O_NO_CUSTOMER: "missing_customer",
    O_UNKNOWN_CUR: "unknown_currency",
    O_BAD_AMOUNT: "invalid_amount",
    O_DUP: "duplicate",
    O_SUPERSEDED: "duplicate",
}
I_CLEAN, I_NO_ID, I_BAD_QTY, I_BAD_PRICE, I_DUP = range(5)
ITEM_FATE: dict[int, str] = {
    I_NO_ID: "missing_id",
    I_BAD_QTY: "invalid_quantity",
    I_BAD_PRICE: "invalid_amount",
    I_DUP: "duplicate",
}
C_CLEAN, C_EMAIL_VARIANT, C_BAD_EMAIL, C_NO_ID, C_NO_TS, C_DUP, C_CHANGE = range(7)
CRM_FATE: dict[int, str] = {C_NO_ID: "missing_contact_id", C_NO_TS: "missing_timestamp", C_DUP: "duplicate"}
D_VALID, D_UNKNOWN_TYPE, D_NO_VALUE, D_NO_TS, D_NO_ID, D_DUP = range(6)
DELETION_FATE: dict[int, str] = {
    D_UNKNOWN_TYPE: "unknown_identifier_type",
    D_NO_VALUE: "missing_identifier_value",
    D_NO_TS: "missing_timestamp",
    D_NO_ID: "missing_request_id",
    D_DUP: "duplicate",
}

MS_SECOND = 1000
MS_MINUTE = 60 * MS_SECOND
MS_HOUR = 60 * MS_MINUTE
MS_DAY = 24 * MS_HOUR

# ---------------------------------------------------------------------------------------------------
# Small vectorised helpers
# ---------------------------------------------------------------------------------------------------


def _slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(ch for ch in ascii_name.lower() if ch.isalnum())


_FIRST_DISPLAY = [n for c in COUNTRIES for n in FIRST_NAMES[c]]
_LAST_DISPLAY = [n for c in COUNTRIES for n in LAST_NAMES[c]]
_FIRST_SLUG = [_slug(n) for n in _FIRST_DISPLAY]
_LAST_SLUG = [_slug(n) for n in _LAST_DISPLAY]
_CATEGORY_NAMES = tuple(CATEGORIES)
_PRODUCT_CATEGORY = np.repeat(np.arange(len(CATEGORIES)), 30)
_PRODUCT_NAMES = [f"{adj} {noun}" for c in CATEGORIES.values() for adj in c[0] for noun in c[1]]
_PRODUCT_IDS = [f"p_{i:04d}" for i in range(len(_PRODUCT_NAMES))]
_PRODUCT_PRICE_CENTS = np.array(
    [
        int(c[2] * (0.6 + 0.9 * ((i * 37) % 30) / 29)) // 100 * 100 - 5
        for c in CATEGORIES.values()
        for i in range(30)
    ],
    dtype=np.int64,
)
_PRODUCT_WEIGHTS = 1.0 / (np.arange(len(_PRODUCT_NAMES)) % 30 + 3.0)
_PRODUCT_WEIGHTS /= _PRODUCT_WEIGHTS.sum()
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_HEX_UPPER = np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8)
_UUID_HEX_POS = np.array([i for i in range(36) if i not in (8, 13, 18, 23)])
_ISO_TEMPLATE = np.frombuffer(b"0000-00-00T00:00:00.000Z", dtype=np.uint8)


def _consent_json(state: int) -> str:
    return json.dumps(
        {p: bool(state >> i & 1) for i, p in enumerate(CONSENT_PURPOSES)}, separators=(",", ":")
    )


_CONSENT_DICT = pa.array(
    [_consent_json(s) for s in range(1 << len(CONSENT_PURPOSES))] + list(MALFORMED_CONSENT)
)


def _u(salt: np.ndarray, j: int) -> np.ndarray:
    """A uniform [0, 1) number per row derived from the row's salt (splitmix64), so that a re-delivered
    copy of a row renders exactly like the original."""
    z = salt.astype(np.uint64) + np.uint64((0x9E3779B97F4A7C15 * (j + 1)) % (1 << 64))
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _ui(salt: np.ndarray, j: int, k: int) -> np.ndarray:
    """An integer in [0, k) per row derived from the row's salt."""
    return (_u(salt, j) * k).astype(np.int64)


def _salt(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, np.iinfo(np.int64).max, n, dtype=np.int64).astype(np.uint64)


def _chunk_rng(seed: int, index: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(index,))))


def _pick(rng: np.random.Generator, eligible: np.ndarray, rate: float, min_k: int) -> np.ndarray:
    """Choose about ``rate`` of the eligible positions, but at least ``min_k`` (when there are enough)."""
    cand = np.flatnonzero(eligible)
    if cand.size == 0:
        return cand
    k = min(max(int(rng.binomial(cand.size, rate)), min_k), cand.size)
    return np.sort(rng.choice(cand, size=k, replace=False))


def _validity(null: np.ndarray | None) -> pa.Buffer | None:
    if null is None or not null.any():
        return None
    return pa.py_buffer(np.packbits(~null, bitorder="little"))


def _fixed_strings(mat: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    """A (n, width) uint8 matrix of ASCII bytes -> a pyarrow string array."""
    n, width = mat.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    data = np.ascontiguousarray(mat)
    return pa.Array.from_buffers(pa.string(), n, [_validity(null), pa.py_buffer(offsets), pa.py_buffer(data)])


def _uuid_matrix(raw: np.ndarray, upper: bool = False) -> np.ndarray:
    """(n, 16) random bytes -> (n, 36) ASCII uuid4 text."""
    b = raw.copy()
    b[:, 6] = (b[:, 6] & 0x0F) | 0x40
    b[:, 8] = (b[:, 8] & 0x3F) | 0x80
    table = _HEX_UPPER if upper else _HEX
    out = np.full((len(b), 36), ord("-"), dtype=np.uint8)
    nibbles = np.empty((len(b), 32), dtype=np.uint8)
    nibbles[:, 0::2] = table[b >> 4]
    nibbles[:, 1::2] = table[b & 0x0F]
    out[:, _UUID_HEX_POS] = nibbles
    return out


def _hex_matrix(raw: np.ndarray) -> np.ndarray:
    out = np.empty((len(raw), raw.shape[1] * 2), dtype=np.uint8)
    out[:, 0::2] = _HEX[raw >> 4]
    out[:, 1::2] = _HEX[raw & 0x0F]
    return out


def _put_digits(out: np.ndarray, col: int, values: np.ndarray, width: int) -> None:
    v = values.copy()
    for j in range(width - 1, -1, -1):
        out[:, col + j] = 48 + v % 10
        v //= 10


def _iso(ms: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    """Epoch milliseconds -> ``YYYY-MM-DDTHH:MM:SS.mmmZ`` strings (vectorised civil-from-days)."""
    ms = np.asarray(ms, dtype=np.int64)
    days = ms // MS_DAY
    rem = ms - days * MS_DAY
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1_460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    out = np.empty((len(ms), 24), dtype=np.uint8)
    out[:] = _ISO_TEMPLATE
    _put_digits(out, 0, year, 4)
    _put_digits(out, 5, month, 2)
    _put_digits(out, 8, day, 2)
    _put_digits(out, 11, rem // MS_HOUR, 2)
    _put_digits(out, 14, rem // MS_MINUTE % 60, 2)
    _put_digits(out, 17, rem // MS_SECOND % 60, 2)
    _put_digits(out, 20, rem % MS_SECOND, 3)
    return _fixed_strings(out, null)


def _ts(ms: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    us = np.asarray(ms, dtype=np.int64) * 1000
    return pa.Array.from_buffers(pa.timestamp("us", tz="UTC"), len(us), [_validity(null), pa.py_buffer(us)])


def _decimal(cents: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    """Integer cents -> decimal128(18, 4)."""
    v = np.asarray(cents, dtype=np.int64) * 100
    buf = np.empty((len(v), 2), dtype=np.int64)
    buf[:, 0] = v
    buf[:, 1] = v >> 63
    return pa.Array.from_buffers(pa.decimal128(18, 4), len(v), [_validity(null), pa.py_buffer(buf)])


def _int64(values: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    v = np.ascontiguousarray(values, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(v), [_validity(null), pa.py_buffer(v)])


def _dict(values: Sequence[str] | pa.Array, idx: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    """A dictionary-encoded string column (cheap to build and to write for low-cardinality text)."""
    idx = np.asarray(idx, dtype=np.int32)
    if isinstance(values, pa.Array):
        dictionary = values
    else:
        # The parquet writer needs unique dictionary values (duplicates make it write garbage bytes).
        unique = list(dict.fromkeys(values))
        idx = np.array([unique.index(v) for v in values], dtype=np.int32)[idx]
        dictionary = pa.array(unique, pa.string())
    indices = pa.array(idx, pa.int32(), mask=null)
    return pa.DictionaryArray.from_arrays(indices, dictionary)


def _take(values: Sequence[str] | pa.Array, idx: np.ndarray) -> pa.Array:
    arr = values if isinstance(values, pa.Array) else pa.array(list(values), pa.string())
    if len(arr) == 0:  # nothing to look up (tiny chunks): every row is masked out by the caller
        return pa.nulls(len(idx), arr.type)
    return arr.take(pa.array(np.asarray(idx, dtype=np.int64)))


def _str(values: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(values, dtype=np.int64)).cast(pa.string())


def _padded(values: np.ndarray, width: int) -> pa.Array:
    return pc.utf8_lpad(_str(values), width, "0")


def _cat(*parts: Any) -> pa.Array:
    """Element-wise concatenation; a null part makes the result null."""
    return pc.binary_join_element_wise(*parts, "")


def _cat_opt(*parts: Any) -> pa.Array:
    """Element-wise concatenation; null parts are skipped (used for optional JSON members)."""
    return pc.binary_join_element_wise(*parts, "", null_handling="replace", null_replacement="")


def _money(cents: np.ndarray) -> pa.Array:
    c = np.asarray(cents, dtype=np.int64)
    return _cat(_str(c // 100), ".", _padded(c % 100, 2))


def _null_unless(arr: pa.Array, keep: np.ndarray) -> pa.Array:
    return pc.if_else(pa.array(keep), arr, pa.scalar(None, arr.type))


def _replace(arr: pa.Array, mask: np.ndarray, replacements: pa.Array | Sequence[Any]) -> pa.Array:
    if not mask.any():
        return arr
    if not isinstance(replacements, pa.Array):
        replacements = pa.array(list(replacements), arr.type)
    return pc.replace_with_mask(arr, pa.array(mask), replacements.cast(arr.type))


def _assemble(n: int, parts: list[tuple[np.ndarray, pa.Array]]) -> pa.Array:
    """Scatter string arrays computed for subsets of rows back into one array of length n."""
    parts = [(i, a) for i, a in parts if len(i)]
    if not parts:
        return pa.nulls(n, pa.string())
    idx = np.concatenate([i for i, _ in parts])
    if len(idx) != n:
        raise AssertionError("row subsets do not cover the table")
    values = pa.concat_arrays([a.cast(pa.string()) for _, a in parts])
    return values.take(pa.array(np.argsort(idx, kind="stable")))


def _break_json(rng: np.random.Generator, arr: pa.Array) -> pa.Array:
    """Turn valid JSON objects into malformed text (or, rarely, valid JSON that is not an object)."""
    n = len(arr)
    if n == 0:
        return arr
    kind = rng.choice(6, size=n, p=(0.3, 0.25, 0.15, 0.1, 0.1, 0.1))
    return pc.choose(
        pa.array(kind.astype(np.int8)),
        pc.utf8_slice_codeunits(arr, 0, -1),  # truncated: closing brace lost
        pc.utf8_slice_codeunits(arr, 0, 12),  # truncated early
        pc.replace_substring(arr, '"', "'"),  # python repr style quotes
        pa.scalar("[object Object]"),
        _cat(arr, "}"),  # trailing garbage
        pa.scalar("[]"),  # valid JSON but not an object
    )


def _segment_bounds(
    first: np.ndarray, last: np.ndarray, k: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """(n, 3) sorted change points inside [first, last] for people with k segments (int64 max = none)."""
    n = len(first)
    u = np.sort(rng.random((n, 3)), axis=1)
    bnd = first[:, None] + (u * (last - first)[:, None]).astype(np.int64)
    bnd[np.arange(3)[None, :] >= (k - 1)[:, None]] = np.iinfo(np.int64).max
    return bnd


# ---------------------------------------------------------------------------------------------------
# One chunk of people
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Config:
    seed: int
    people: int
    start_ms: int
    end_ms: int


@dataclass
class _ChunkResult:
    tables: dict[str, pa.Table]
    identifiers: pa.Table
    people: pa.Table
    stats: Counter[tuple[str, ...]]
    junk: set[tuple[str, str]]


class _Chunk:
    def __init__(self, cfg: _Config, index: int, pid0: int, n: int) -> None:
        self.cfg = cfg
        self.n = n
        self.rng = _chunk_rng(cfg.seed, index)
        self.pid = np.arange(pid0 + 1, pid0 + n + 1, dtype=np.int64)
        self.stats: Counter[tuple[str, ...]] = Counter()
        self.junk: set[tuple[str, str]] = set()
        self.min_k = 2

    # -- people ---------------------------------------------------------------------------------
    def _people(self) -> None:
        rng, n, cfg = self.rng, self.n, self.cfg
        sizes = rng.choice(4, size=n, p=(0.45, 0.30, 0.15, 0.10)) + 1
        starts = np.cumsum(sizes) - sizes
        starts = starts[starts < n]
        head = np.zeros(n, dtype=bool)
        head[starts] = True
        hh = np.cumsum(head) - 1
        hh_size = np.bincount(hh, minlength=len(starts))
        self.household = self.pid[starts][hh]
        country = rng.choice(len(COUNTRIES), size=len(starts), p=COUNTRY_WEIGHTS)[hh]
        self.country = country
        self.first_name = country * NAMES_PER_COUNTRY + rng.integers(0, NAMES_PER_COUNTRY, n)
        family = rng.integers(0, NAMES_PER_COUNTRY, len(starts))[hh]
        own = rng.integers(0, NAMES_PER_COUNTRY, n)
        self.last_name = country * NAMES_PER_COUNTRY + np.where(rng.random(n) < 0.8, family, own)

        registered = rng.random(n) < RATES["registered"]
        web = rng.random(n) < RATES["uses_web"]
        app = rng.random(n) < RATES["uses_app"]
        # Shared devices: the first two members of some multi-person households share one app install.
        multi = np.flatnonzero(hh_size >= 2)
        chosen = multi[_pick(rng, np.ones(len(multi), dtype=bool), RATES["shared_device"], self.min_k)]
        self.share_a = starts[chosen]
        self.share_b = self.share_a + 1
        for idx in (self.share_a, self.share_b):
            registered[idx] = True
            app[idx] = True
        web |= ~app
        is_b = np.zeros(n, dtype=bool)
        is_b[self.share_b] = True
        self.shared = np.zeros(n, dtype=bool)
        self.shared[self.share_a] = True
        self.shared[self.share_b] = True

        churn = _pick(rng, registered & web, RATES["cookie_churn"], self.min_k + 1)
        self.churn_k = np.ones(n, dtype=np.int64)
        self.churn_k[churn] = rng.integers(2, 5, len(churn))

        guests = _pick(rng, ~registered, RATES["buyer_guest"], self.min_k + 1)
        buyer = registered & (rng.random(n) < RATES["buyer_registered"])
        buyer[guests] = True
        has_crm = np.where(
            registered, rng.random(n) < RATES["crm_registered"], rng.random(n) < RATES["crm_other"]
        )
        newsletter = ~registered & (rng.random(n) < RATES["newsletter"])
        has_email = registered | newsletter | buyer | has_crm
        has_phone = has_email & (rng.random(n) < RATES["has_phone"])
        self.email_variant = np.zeros(n, dtype=bool)
        # Some of them in every table that carries emails (identify traits, CRM, orders).
        for pool in (registered | newsletter, has_crm, buyer):
            self.email_variant[_pick(rng, pool, RATES["email_variant_people"], 1)] = True
        self.crm_change = np.zeros(n, dtype=bool)
        self.crm_change[_pick(rng, has_crm, RATES["crm_email_change"], self.min_k)] = True
        self.consent = rng.random(n) < RATES["consent"]
        self.consent_forced = _pick(rng, self.consent & ~is_b, 0.01, self.min_k)

        self.registered, self.web, self.app, self.is_b = registered, web, app, is_b
        self.buyer, self.has_crm, self.newsletter = buyer, has_crm, newsletter
        self.has_email, self.has_phone = has_email, has_phone

        span = cfg.end_ms - cfg.start_ms
        first = cfg.start_ms + (rng.random(n) * 0.85 * span).astype(np.int64)
        active = (rng.exponential(0.4 * span, n) + 2 * MS_DAY).astype(np.int64)
        self.first = first
        self.last = np.minimum(first + active, cfg.end_ms - 2 * MS_HOUR)
        self.bnd = _segment_bounds(self.first, self.last, self.churn_k, rng)
        self.activity = np.minimum(np.floor(rng.lognormal(2.5, 1.2, n)).astype(np.int64) + 1, 5_000)
        self.web_ua = rng.integers(0, len(WEB_USER_AGENTS), n)
        self.app_ua = rng.integers(0, len(APP_USER_AGENTS), n)
        ips = rng.integers(1, 255, (len(starts), 4))
        ips[:, 0] = rng.integers(11, 223, len(starts))
        self.home_ip = self._ip(ips).take(pa.array(hh))
        self._identity_strings()

    def _ip(self, octets: np.ndarray) -> pa.Array:
        return _cat(
            _str(octets[:, 0]), ".", _str(octets[:, 1]), ".", _str(octets[:, 2]), ".", _str(octets[:, 3])
        )

    def _identity_strings(self) -> None:
        rng, n, pid = self.rng, self.n, self.pid
        self.user_id = _cat("u_", _padded(pid, 6))
        self.contact_id = _cat("C", _padded(pid, 6))
        self.customer_id = _cat("cust_", _padded(pid, 6))
        self.first_display = _take(_FIRST_DISPLAY, self.first_name)
        self.last_display = _take(_LAST_DISPLAY, self.last_name)
        fs = _take(_FIRST_SLUG, self.first_name)
        ls = _take(_LAST_SLUG, self.last_name)
        pid_s = _str(pid)
        pattern = rng.choice(3, size=n, p=(0.6, 0.25, 0.15))
        local = pc.choose(
            pa.array(pattern.astype(np.int8)),
            _cat(fs, ".", ls, pid_s),
            _cat(fs, ls, pid_s),
            _cat(pc.utf8_slice_codeunits(fs, 0, 1), ".", ls, pid_s),
        )
        domain = _take(EMAIL_DOMAINS, rng.integers(0, len(EMAIL_DOMAINS), n))
        self.email = _cat(local, "@", domain)
        self.email2 = _cat(
            fs, ".", ls, pid_s, "@", _take(WORK_DOMAINS, rng.integers(0, len(WORK_DOMAINS), n))
        )
        # Per person: 0 normal, 1-3 case/whitespace variants, 4-7 invalid.
        variants = [
            self.email,
            _cat("  ", pc.utf8_title(self.email), " "),
            pc.utf8_upper(self.email),
            _cat(" ", pc.utf8_capitalize(self.email)),
            _cat(local, "@"),
            _cat(local, ".", domain),
            _cat(pc.utf8_slice_codeunits(local, 0, 2), "@@", domain),
            _cat(fs, " ", ls, pid_s, "@", domain),
        ]
        self.email_table = pa.concat_arrays(variants)  # index = variant * n + person
        # Phones.
        cc = self.country
        us = cc == 0
        area = np.array(US_AREA_CODES)[pid % len(US_AREA_CODES)]
        national = np.where(us, area * 10_000_000 + 5_000_000 + pid // 10, np.array(PHONE_BASES)[cc] + pid)
        nat_s = _str(national)
        code_s = _take(CALLING_CODES, cc)
        patterns = sorted(set(PHONE_GROUPS))
        group = np.array([patterns.index(g) for g in PHONE_GROUPS])[cc]
        pieces = []
        for j in range(3):
            options = []
            for g in patterns:
                start = sum(g[:j])
                options.append(pc.utf8_slice_codeunits(nat_s, start, start + g[j]))
            pieces.append(pc.choose(pa.array(group.astype(np.int8)), *options))
        a, b, c = pieces
        self.phone_e164 = _cat("+", code_s, nat_s)
        phone_variants = [
            self.phone_e164,
            _cat("+", code_s, " ", a, " ", b, " ", c),
            _cat("00", code_s, " ", a, " ", b, " ", c),
            _cat("+1-", a, "-", b, "-", c),
            _cat("(", a, ") ", b, "-", c),
            _cat(a, ".", b, ".", c),
            _cat("1-", a, "-", b, "-", c),
        ]
        self.phone_table = pa.concat_arrays(phone_variants)  # index = format * n + person

    def _phone_format(self, person: np.ndarray, u: np.ndarray) -> np.ndarray:
        """A phone format per row from uniform u: US numbers use all 7 formats, others the 3 international."""
        us = self.country[person] == 0
        return np.where(us, (u * 7).astype(np.int64), (u * 3).astype(np.int64))

    def _phones(self, person: np.ndarray, fmt: np.ndarray) -> pa.Array:
        return _take(self.phone_table, fmt * self.n + person)

    def _emails(self, person: np.ndarray, variant: np.ndarray) -> pa.Array:
        return _take(self.email_table, variant * self.n + person)

    # -- anonymous ids and devices -----------------------------------------------------------------
    def _slots(self) -> None:
        rng, n = self.rng, self.n
        n_web = np.where(self.web, self.churn_k, 0)
        self.web_slot0 = np.cumsum(n_web) - n_web
        n_web_total = int(n_web.sum())
        web_owner = np.repeat(np.arange(n), n_web)
        web_seg = np.arange(n_web_total) - self.web_slot0[web_owner]
        own_app = self.app & ~self.is_b
        app_owner = np.flatnonzero(own_app)
        self.app_slot = np.full(n, -1, dtype=np.int64)
        self.app_slot[app_owner] = n_web_total + np.arange(len(app_owner))
        self.app_slot[self.share_b] = self.app_slot[self.share_a]
        total = n_web_total + len(app_owner)
        self.slot_owner = np.concatenate([web_owner, app_owner])
        seg_start = np.where(
            web_seg == 0, self.first[web_owner], self.bnd[web_owner, np.maximum(web_seg - 1, 0)]
        )
        seg_end = np.where(
            web_seg == self.churn_k[web_owner] - 1,
            self.last[web_owner],
            self.bnd[web_owner, np.minimum(web_seg, 2)],
        )
        self.web_seg_start, self.web_seg_end = seg_start, seg_end
        self.slot_uuid = _fixed_strings(
            _uuid_matrix(np.frombuffer(rng.bytes(16 * total), np.uint8).reshape(-1, 16))
        )
        ios = rng.random(len(app_owner)) < 0.55
        dev_raw = np.frombuffer(rng.bytes(16 * len(app_owner)), np.uint8).reshape(-1, 16)
        ios_ids = _fixed_strings(_uuid_matrix(dev_raw, upper=True))
        android_ids = _fixed_strings(_hex_matrix(dev_raw[:, :8]))
        self.app_device = pc.if_else(pa.array(ios), ios_ids, android_ids)  # index = slot - n_web_total
        self.n_web_slots = n_web_total

    def _web_slot_at(self, person: np.ndarray, t: np.ndarray) -> np.ndarray:
        b = self.bnd[person]
        return self.web_slot0[person] + (t[:, None] > b).sum(axis=1)

    def _slot_for(self, person: np.ndarray, t: np.ndarray, app: np.ndarray) -> np.ndarray:
        return np.where(app, self.app_slot[person], self._web_slot_at(person, t))

    def _channel(self, person: np.ndarray, p_app: float = 0.5) -> np.ndarray:
        """True = app, for people using both a random choice."""
        both = self.web[person] & self.app[person]
        return np.where(both, self.rng.random(len(person)) < p_app, self.app[person])

    def _uniform_time(self, person: np.ndarray) -> np.ndarray:
        f, la = self.first[person], self.last[person]
        return f + (self.rng.random(len(person)) * (la - f)).astype(np.int64)

    # -- orders ---------------------------------------------------------------------------------------
    def _orders(self) -> None:
        rng, cfg = self.rng, self.cfg
        buyers = np.flatnonzero(self.buyer)
        n_ord = np.minimum(rng.geometric(0.5, len(buyers)), 16)
        person = np.repeat(buyers, n_ord)
        m = len(person)
        k = np.arange(m) - np.repeat(np.cumsum(n_ord) - n_ord, n_ord) + 1
        created = self._uniform_time(person)
        guest = ~self.registered[person] | (rng.random(m) < RATES["guest_order_of_registered"])
        app = self._channel(person, 0.35)
        cur = np.array(COUNTRY_CURRENCY)[self.country[person]]
        cur = np.where(rng.random(m) < 0.05, rng.integers(0, len(CURRENCIES), m), cur)
        n_items = rng.choice(4, size=m, p=(0.5, 0.3, 0.15, 0.05)) + 1
        item_order = np.repeat(np.arange(m), n_items)
        line = np.arange(len(item_order)) - np.repeat(np.cumsum(n_items) - n_items, n_items) + 1
        prod = rng.choice(len(_PRODUCT_IDS), size=len(item_order), p=_PRODUCT_WEIGHTS)
        qty = rng.choice(3, size=len(item_order), p=(0.8, 0.15, 0.05)) + 1
        fx = np.array(FX_RATES)[cur[item_order]]
        unit = np.round(_PRODUCT_PRICE_CENTS[prod] * fx).astype(np.int64)
        subtotal = np.bincount(item_order, weights=unit * qty, minlength=m).astype(np.int64)
        fx_o = np.array(FX_RATES)[cur]
        shipping = np.where(subtotal / fx_o < 5_000, np.round(495 * fx_o), 0).astype(np.int64)
        total = subtotal + shipping
        status = np.where(created < cfg.end_ms - 3 * MS_DAY, 1, 0)  # 0 placed, 1 fulfilled, 2 cancelled
        status = np.where(rng.random(m) < 0.03, 2, status)
        delay = np.select(
            [status == 1, status == 2],
            [rng.integers(6 * MS_HOUR, 72 * MS_HOUR, m), rng.integers(MS_HOUR, 24 * MS_HOUR, m)],
            rng.integers(0, MS_MINUTE, m),
        )
        updated = np.minimum(created + delay, cfg.end_ms - MS_SECOND)
        has_account = np.zeros(self.n, dtype=bool)
        has_account[person[~guest]] = True
        self.is_customer = has_account
        self.o_person, self.o_created, self.o_updated = person, created, updated
        self.o_guest, self.o_app, self.o_cur, self.o_status = guest, app, cur, status
        self.o_subtotal, self.o_total, self.o_items = subtotal, total, n_items
        anon = np.where(app, -1, self._web_slot_at(person, created))
        self.o_anon = np.where(~app & (rng.random(m) < 0.8), anon, -1)
        self.o_id = _cat("ord_", _padded(self.pid[person], 7), "_", _padded(k, 2))
        self.i_order, self.i_line, self.i_prod, self.i_qty, self.i_unit = item_order, line, prod, qty, unit

    def _render_orders(self) -> None:
        rng, cfg = self.rng, self.cfg
        m = len(self.o_person)
        person = self.o_person
        cat = np.zeros(m, dtype=np.int64)
        sub = rng.integers(0, 4, m)
        salt = _salt(rng, m)

        def assign(code: int, eligible: np.ndarray, rate: float, min_k: int) -> np.ndarray:
            idx = _pick(rng, eligible & (cat == O_CLEAN), rate, min_k)
            cat[idx] = code
            return idx

        account = ~self.o_guest
        assign(O_EMAIL_VARIANT, self.email_variant[person], 0.5, self.min_k)
        assign(O_BAD_EMAIL, account, RATES["order_invalid_email"], self.min_k)
        assign(O_JUNK_EMAIL, account, RATES["order_junk_email"], 1)
        assign(O_NO_ID, np.ones(m, bool), RATES["missing_order_id"], 1)
        assign(O_NO_TS, np.ones(m, bool), RATES["order_missing_timestamp"], 1)
        assign(O_NO_CUSTOMER, self.o_guest, RATES["missing_customer"], 1)
        assign(O_UNKNOWN_CUR, np.ones(m, bool), RATES["unknown_currency"], self.min_k)
        assign(O_BAD_AMOUNT, np.ones(m, bool), RATES["invalid_order_amount"], 1)
        assign(O_LOWER_CUR, np.ones(m, bool), RATES["lowercase_currency"], 1)
        refund_src = _pick(
            rng,
            (cat == O_CLEAN) & (self.o_status == 1) & (self.o_updated < cfg.end_ms - 21 * MS_DAY),
            RATES["refund"],
            self.min_k,
        )
        cat[refund_src] = O_SUPERSEDED
        dup_src = _pick(rng, cat == O_CLEAN, RATES["order_duplicate"], self.min_k)
        src = np.concatenate([np.arange(m), refund_src, dup_src])
        rcat = np.concatenate([cat, np.full(len(refund_src), O_REFUND), np.full(len(dup_src), O_DUP)])
        rsub = sub[src]
        p = person[src]
        total = self.o_total[src]
        updated = self.o_updated[src].copy()
        status = self.o_status[src].copy()
        refunded = np.zeros(len(src), dtype=np.int64)
        refunded_at = np.zeros(len(src), dtype=np.int64)
        is_refund = rcat == O_REFUND
        r = np.flatnonzero(is_refund)
        full = rng.random(len(r)) < 0.6
        refunded[r] = np.where(
            full, total[r], np.maximum(total[r] * rng.uniform(0.15, 0.7, len(r)), 100).astype(np.int64)
        )
        refunded_at[r] = updated[r] + rng.integers(2 * MS_DAY, 20 * MS_DAY, len(r))
        updated[r] = refunded_at[r] + rng.integers(MS_MINUTE, MS_HOUR, len(r))
        status[r] = np.where(full, 3, 4)
        # Sort by updated_at (rows without one last).
        order = np.lexsort((np.arange(len(src)), np.where(rcat == O_NO_TS, np.iinfo(np.int64).max, updated)))
        src, rcat, rsub, p, total, updated, status, refunded, refunded_at, is_refund = (
            a[order] for a in (src, rcat, rsub, p, total, updated, status, refunded, refunded_at, is_refund)
        )
        nrow = len(src)
        guest = self.o_guest[src]
        order_id = _take(self.o_id, src)
        order_id = _null_unless(order_id, rcat != O_NO_ID)
        customer = _null_unless(_take(self.customer_id, p), ~guest)
        variant = np.zeros(nrow, dtype=np.int64)
        variant[rcat == O_EMAIL_VARIANT] = 1 + rsub[rcat == O_EMAIL_VARIANT] % 3
        variant[rcat == O_BAD_EMAIL] = 4 + rsub[rcat == O_BAD_EMAIL]
        no_cust = rcat == O_NO_CUSTOMER
        variant[no_cust] = 4 + rsub[no_cust]
        email = self._emails(p, variant)
        email = _replace(email, rcat == O_JUNK_EMAIL, [JUNK_EMAILS[0]] * int((rcat == O_JUNK_EMAIL).sum()))
        email = _null_unless(email, ~(no_cust & (rsub < 2)))  # half of them: no email at all
        if (rcat == O_JUNK_EMAIL).any():
            self.junk.add(("email", JUNK_EMAILS[0]))
        rsalt = salt[src]
        with_phone = self.has_phone[p] & (_u(rsalt, 1) < 0.5)
        phone_fmt = self._phone_format(p, _u(rsalt, 2))
        phone = _null_unless(self._phones(p, phone_fmt), with_phone)
        anon_slot = self.o_anon[src]
        anon = _null_unless(_take(self.slot_uuid, np.maximum(anon_slot, 0)), anon_slot >= 0)
        cur_idx = self.o_cur[src]
        currency = _take(CURRENCIES, cur_idx)
        currency = _replace(
            currency, rcat == O_UNKNOWN_CUR, [UNKNOWN_CURRENCY] * int((rcat == O_UNKNOWN_CUR).sum())
        )
        lower = rcat == O_LOWER_CUR
        currency = _replace(currency, lower, pc.utf8_lower(currency.filter(pa.array(lower))))
        bad_amount = rcat == O_BAD_AMOUNT
        total_null = bad_amount & (rsub < 2)
        total = np.where(bad_amount & ~total_null, -total, total)
        statuses = ("placed", "fulfilled", "cancelled", "refunded", "partially_refunded")
        no_ts = rcat == O_NO_TS
        self.tables_out["orders"] = pa.table(
            {
                "order_id": order_id,
                "customer_id": customer,
                "email": email,
                "phone": phone,
                "anonymous_id": anon,
                "currency": currency,
                "subtotal_amount": _decimal(self.o_subtotal[src]),
                "total_amount": _decimal(total, total_null),
                "refunded_amount": _decimal(refunded),
                "status": _take(statuses, status),
                "billing_country": _take(COUNTRIES, self.country[p]),
                "created_at": _ts(self.o_created[src]),
                "updated_at": _ts(updated, no_ts),
                "refunded_at": _ts(refunded_at, ~is_refund),
            }
        )
        self._fates("orders", rcat, ORDER_FATE)
        st = self.stats
        st["cat", "duplicate_deliveries", "orders"] += int((rcat == O_DUP).sum())
        st["cat", "email_variants", "orders"] += int((rcat == O_EMAIL_VARIANT).sum())
        st["cat", "invalid_emails", "orders"] += int((rcat == O_BAD_EMAIL).sum())
        st["cat", "junk_identifiers", "orders"] += int((rcat == O_JUNK_EMAIL).sum())
        st["junk_value", "email", JUNK_EMAILS[0]] += int((rcat == O_JUNK_EMAIL).sum())
        st["cat", "missing_ids", "orders"] += int((rcat == O_NO_ID).sum())
        st["reason_detail", "missing_ids", "orders.order_id"] += int((rcat == O_NO_ID).sum())
        st["cat", "missing_timestamps", "orders"] += int(no_ts.sum())
        st["cat", "missing_customers", "orders"] += int(no_cust.sum())
        st["cat", "invalid_amounts", "orders"] += int(bad_amount.sum())
        st["cat", "refunds", "orders"] += int(is_refund.sum())
        st["refund_status", statuses[3]] += int((is_refund & (status == 3)).sum())
        st["refund_status", statuses[4]] += int((is_refund & (status == 4)).sum())
        guest_ok = guest & ~np.isin(rcat, list(ORDER_FATE))
        st["cat", "guest_checkouts", "orders"] += int(guest_ok.sum())
        st["cat", "phone_format_variants", "orders"] += int((with_phone & (phone_fmt > 0)).sum())
        cur_names = np.array(CURRENCIES + (UNKNOWN_CURRENCY,))
        cur_code = np.where(rcat == O_UNKNOWN_CUR, len(CURRENCIES), cur_idx)
        for ci, cname in enumerate(cur_names):
            st["currency", str(cname)] += int((cur_code == ci).sum())
        st["currency_lowercase",] += int(lower.sum())
        st["cat", "currencies", "orders"] += nrow
        st["cat", "unknown_currency", "orders"] += int((rcat == O_UNKNOWN_CUR).sum())

    def _render_items(self) -> None:
        rng = self.rng
        k = len(self.i_order)
        cat = np.zeros(k, dtype=np.int64)
        sub = rng.integers(0, 3, k)
        for code, rate in (
            (I_NO_ID, "item_missing_id"),
            (I_BAD_QTY, "invalid_quantity"),
            (I_BAD_PRICE, "invalid_unit_price"),
        ):
            cat[_pick(rng, cat == I_CLEAN, RATES[rate], 1)] = code
        dup = _pick(rng, cat == I_CLEAN, RATES["item_duplicate"], 1)
        src = np.concatenate([np.arange(k), dup])
        rcat = np.concatenate([cat, np.full(len(dup), I_DUP)])
        rsub = sub[src]
        order = self.i_order[src]
        order_id = _take(self.o_id, order)
        item_id = _cat(order_id, "-", _str(self.i_line[src]))
        prod = self.i_prod[src]
        product_id = _take(_PRODUCT_IDS, prod)
        no_id = rcat == I_NO_ID
        item_id = _null_unless(item_id, ~(no_id & (rsub == 0)))
        product_id = _null_unless(product_id, ~(no_id & (rsub == 1)))
        product_id = _replace(product_id, no_id & (rsub == 2), ["  "] * int((no_id & (rsub == 2)).sum()))
        qty = self.i_qty[src].copy()
        bad_qty = rcat == I_BAD_QTY
        qty[bad_qty] = np.where(rsub[bad_qty] == 0, 0, -1)
        qty_null = bad_qty & (rsub == 2)
        unit = self.i_unit[src].copy()
        bad_price = rcat == I_BAD_PRICE
        unit[bad_price] = -unit[bad_price]
        unit_null = bad_price & (rsub == 2)
        self.tables_out["order_items"] = pa.table(
            {
                "order_item_id": item_id,
                "order_id": order_id,
                "product_id": product_id,
                "product_name": _take(_PRODUCT_NAMES, prod),
                "category": _take(_CATEGORY_NAMES, _PRODUCT_CATEGORY[prod]),
                "quantity": _int64(qty, qty_null),
                "unit_price": _decimal(unit, unit_null),
            }
        )
        self._fates("order_items", rcat, ITEM_FATE)
        st = self.stats
        st["cat", "duplicate_deliveries", "order_items"] += len(dup)
        st["cat", "missing_ids", "order_items"] += int(no_id.sum())
        st["reason_detail", "missing_ids", "order_items"] += int(no_id.sum())
        st["cat", "invalid_quantities", "order_items"] += int(bad_qty.sum())
        st["cat", "invalid_amounts", "order_items"] += int(bad_price.sum())

    # -- CRM --------------------------------------------------------------------------------------------
    def _render_crm(self) -> None:
        rng, cfg = self.rng, self.cfg
        contacts = np.flatnonzero(self.has_crm)
        n_ver = np.minimum(rng.poisson(0.6, len(contacts)), 3) + 1 + self.crm_change[contacts]
        person = np.repeat(contacts, n_ver)
        k = len(person)
        ver = np.arange(k) - np.repeat(np.cumsum(n_ver) - n_ver, n_ver)
        nv = np.repeat(n_ver, n_ver)
        created_c = self.first[contacts] + (
            rng.random(len(contacts)) * 0.2 * (self.last[contacts] - self.first[contacts])
        ).astype(np.int64)
        created = np.repeat(created_c, n_ver)
        room = cfg.end_ms - MS_HOUR - created
        u = rng.random(k)
        # Strictly increasing version times: sorted fractions within each contact.
        frac = np.where(ver == 0, 0.0, u)
        key = np.lexsort((frac, np.repeat(np.arange(len(contacts)), n_ver)))
        frac_sorted = frac[key]
        updated = created + (frac_sorted * 0.9 * room).astype(np.int64) + ver * MS_SECOND
        is_change = self.crm_change[person] & (ver == nv - 1)
        cat = np.where(is_change, C_CHANGE, C_CLEAN)
        sub = rng.integers(0, 4, k)
        salt = _salt(rng, k)

        def assign(code: int, eligible: np.ndarray, rate: float, min_k: int) -> None:
            cat[_pick(rng, eligible & (cat == C_CLEAN), rate, min_k)] = code

        assign(C_EMAIL_VARIANT, self.email_variant[person], 0.5, 1)
        assign(C_BAD_EMAIL, np.ones(k, bool), RATES["crm_invalid_email"], self.min_k)
        assign(C_NO_ID, np.ones(k, bool), RATES["missing_contact_id"], 1)
        assign(C_NO_TS, np.ones(k, bool), RATES["crm_missing_timestamp"], 1)
        dup = _pick(rng, cat == C_CLEAN, RATES["crm_duplicate"], 1)
        src = np.concatenate([np.arange(k), dup])
        rcat = np.concatenate([cat, np.full(len(dup), C_DUP)])
        rsub, p, rver, rupd = sub[src], person[src], ver[src], updated[src]
        order = np.lexsort((np.arange(len(src)), rupd))
        src, rcat, rsub, p, rver, rupd = (a[order] for a in (src, rcat, rsub, p, rver, rupd))
        nrow = len(src)
        variant = np.zeros(nrow, dtype=np.int64)
        ev = rcat == C_EMAIL_VARIANT
        variant[ev] = 1 + rsub[ev] % 3
        bad = rcat == C_BAD_EMAIL
        variant[bad] = 4 + rsub[bad]
        email = self._emails(p, variant)
        change = rcat == C_CHANGE
        email = _replace(email, change, _take(self.email2, p[change]))
        rsalt = salt[src]
        with_phone = self.has_phone[p] & (_u(rsalt, 1) < 0.6)
        fmt = self._phone_format(p, _u(rsalt, 2))
        stage = np.where(self.buyer[p], np.minimum(rver, 2), np.minimum(rver, 1))
        stage = np.where(_u(rsalt, 3) < 0.03, 3, stage)
        no_id = rcat == C_NO_ID
        no_ts = rcat == C_NO_TS
        self.tables_out["crm_contacts"] = pa.table(
            {
                "contact_id": _null_unless(_take(self.contact_id, p), ~no_id),
                "email": email,
                "phone": _null_unless(self._phones(p, fmt), with_phone),
                "first_name": _take(self.first_display, p),
                "last_name": _take(self.last_display, p),
                "country": _take(COUNTRIES, self.country[p]),
                "user_id": _null_unless(_take(self.user_id, p), self.registered[p]),
                "customer_id": _null_unless(_take(self.customer_id, p), self.is_customer[p]),
                "lifecycle_stage": _take(("lead", "prospect", "customer", "churned"), stage),
                "created_at": _ts(created[src], no_ts & (rsub == 0)),
                "updated_at": _ts(rupd, no_ts & (rsub != 0)),
            }
        )
        self._fates("crm_contacts", rcat, CRM_FATE)
        st = self.stats
        st["cat", "duplicate_deliveries", "crm_contacts"] += len(dup)
        st["cat", "email_variants", "crm_contacts"] += int(ev.sum())
        st["cat", "invalid_emails", "crm_contacts"] += int(bad.sum())
        st["cat", "missing_ids", "crm_contacts"] += int(no_id.sum())
        st["reason_detail", "missing_ids", "crm_contacts.contact_id"] += int(no_id.sum())
        st["cat", "missing_timestamps", "crm_contacts"] += int(no_ts.sum())
        st["cat", "crm_email_changes", "crm_contacts"] += int(change.sum())
        st["cat", "phone_format_variants", "crm_contacts"] += int((with_phone & (fmt > 0)).sum())

    # -- deletion requests ------------------------------------------------------------------------------
    def _render_deletions(self) -> None:
        rng, cfg, n = self.rng, self.cfg, self.n
        # identifier type: 0 email, 1 user_id, 2 phone, 3 anonymous_id. One request of each of the first three
        # kinds per chunk (when someone has that identifier), the rest weighted by what the person has.
        self.deleted = np.zeros(n, dtype=bool)
        forced_people, forced_types = [], []
        for kind, pool in ((0, self.has_email), (1, self.registered), (2, self.has_phone)):
            chosen = _pick(rng, pool & ~self.deleted, 0.0, 1)
            self.deleted[chosen] = True
            forced_people.append(chosen)
            forced_types.append(np.full(len(chosen), kind))
        rest = _pick(rng, ~self.deleted, RATES["deletion"], 0)
        self.deleted[rest] = True
        w = np.stack(
            [
                self.has_email[rest] * 3.0,
                self.registered[rest] * 2.0,
                self.has_phone[rest] * 1.0,
                np.full(len(rest), 0.01),
            ],
            axis=1,
        )
        w /= w.sum(axis=1, keepdims=True)
        rest_type = np.minimum((rng.random(len(rest))[:, None] > np.cumsum(w, axis=1)).sum(axis=1), 3)
        people = np.concatenate([*forced_people, rest])
        itype = np.concatenate([*forced_types, rest_type]).astype(np.int64)
        # Defective requests, not tied to an actual erasure: their people are not marked deleted.
        noise_n = [max(int(rng.binomial(n, RATES["deletion_noise"])), 1) for _ in range(4)]
        noise_kind = np.repeat(np.array([D_UNKNOWN_TYPE, D_NO_VALUE, D_NO_TS, D_NO_ID]), noise_n)
        with_email = np.flatnonzero(self.has_email)
        pool = with_email if len(with_email) else np.arange(n)
        noise_person = pool[rng.integers(0, len(pool), len(noise_kind))]
        person = np.concatenate([people, noise_person])
        kind = np.concatenate([np.full(len(people), D_VALID), noise_kind])
        itype = np.concatenate([itype, np.zeros(len(noise_kind), dtype=np.int64)])
        total = len(person)
        seq = np.arange(total)
        requested = cfg.end_ms - rng.integers(MS_HOUR, 30 * MS_DAY, total)
        type_variant = np.where(rng.random(total) < 0.25, rng.integers(1, 4, total), 0)
        email_variant = rng.integers(1, 4, total)
        phone_u = rng.random(total)
        source = rng.integers(0, 3, total)
        unknown_name = rng.integers(0, 2, total)
        ssn_parts = (
            rng.integers(100, 900, total),
            rng.integers(1, 100, total),
            rng.integers(1, 10_000, total),
        )
        blank_value = rng.random(total) < 0.5
        dup = _pick(rng, kind == D_VALID, RATES["deletion_duplicate"], 1)
        src = np.concatenate([seq, dup])
        rkind = np.concatenate([kind, np.full(len(dup), D_DUP)])
        order = np.lexsort(
            (np.arange(len(src)), np.where(rkind == D_NO_TS, np.iinfo(np.int64).max, requested[src]))
        )
        src, rkind = src[order], rkind[order]
        p, it, req = person[src], itype[src], requested[src]
        nrow = len(src)
        pid7 = _padded(self.pid[p], 7)
        request_id = pc.if_else(
            pa.array(src < len(people)),
            _cat("DSR-", pid7),
            _cat("DSR-", pid7, "-", _str(src - len(people) + 1)),
        )
        type_names = ("email", "user_id", "phone", "anonymous_id")
        type_variants = (
            ("email", "Email", " EMAIL", "email "),
            ("user_id", "User_ID", "user_id ", "USER_ID"),
            ("phone", "Phone", "PHONE ", " phone"),
            ("anonymous_id", "Anonymous_Id", "anonymous_id ", "ANONYMOUS_ID"),
        )
        id_type = _take([v for vs in type_variants for v in vs], it * 4 + type_variant[src])
        unknown = rkind == D_UNKNOWN_TYPE
        id_type = _replace(id_type, unknown, _take(("ssn", "passport_number"), unknown_name[src][unknown]))
        a, b, c = (x[src] for x in ssn_parts)
        ssn = _cat(_padded(a, 3), "-", _padded(b, 2), "-", _padded(c, 4))
        email_v = self._emails(p, email_variant[src])
        phone_v = self._phones(p, np.maximum(self._phone_format(p, phone_u[src]), 1))
        anon_slot = np.where(self.web[p], self.web_slot0[p], self.app_slot[p])
        anon_v = _take(self.slot_uuid, np.maximum(anon_slot, 0))
        value = pc.choose(pa.array(it.astype(np.int8)), email_v, _take(self.user_id, p), phone_v, anon_v)
        value = pc.if_else(pa.array(unknown), ssn, value)
        no_value = rkind == D_NO_VALUE
        blank = no_value & blank_value[src]
        value = _replace(value, blank, ["  "] * int(blank.sum()))
        value = _null_unless(value, ~(no_value & ~blank))
        no_ts = rkind == D_NO_TS
        self.tables_out["deletion_requests"] = pa.table(
            {
                "request_id": _null_unless(request_id, rkind != D_NO_ID),
                "identifier_type": id_type,
                "identifier_value": value,
                "requested_at": _ts(req, no_ts),
                "source": _take(("support", "web_form", "api"), source[src]),
            }
        )
        self._fates("deletion_requests", rkind, DELETION_FATE)
        st = self.stats
        st["cat", "deletion_requests", "deletion_requests"] += nrow
        valid = rkind == D_VALID
        for ti, tname in enumerate(type_names):
            st["deletion_type", tname] += int((valid & (it == ti)).sum())
        st["deletion_people",] += len(people)
        st["cat", "unknown_identifier_types", "deletion_requests"] += int(unknown.sum())
        st["cat", "duplicate_deliveries", "deletion_requests"] += len(dup)
        st["cat", "missing_ids", "deletion_requests"] += int((rkind == D_NO_ID).sum() + no_value.sum())
        st["reason_detail", "missing_ids", "deletion_requests.request_id"] += int((rkind == D_NO_ID).sum())
        st["reason_detail", "missing_ids", "deletion_requests.identifier_value"] += int(no_value.sum())
        st["cat", "missing_timestamps", "deletion_requests"] += int(no_ts.sum())

    # -- messages --------------------------------------------------------------------------------------
    def _messages(self) -> None:
        rng, cfg, n = self.rng, self.cfg, self.n
        segs: list[dict[str, np.ndarray]] = []

        def seg(
            person: np.ndarray,
            kind: int,
            t: np.ndarray,
            app: np.ndarray,
            ev: np.ndarray | int = 0,
            prod: np.ndarray | int = -1,
            order: np.ndarray | int = -1,
            cstate: np.ndarray | int = -1,
            item: np.ndarray | int = -1,
            anchor: bool = False,
            slot: np.ndarray | None = None,
            user: np.ndarray | None = None,
        ) -> None:
            m = len(person)
            if m == 0:
                return
            if slot is None:
                slot = self._slot_for(person, t, app)
            if user is None:
                user = self.registered[person] & (rng.random(m) < 0.7)
            segs.append(
                {
                    "person": person.astype(np.int64),
                    "kind": np.full(m, kind, np.int8),
                    "ts": t.astype(np.int64),
                    "app": app.astype(bool),
                    "ev": np.broadcast_to(np.asarray(ev, np.int64), (m,)).copy(),
                    "prod": np.broadcast_to(np.asarray(prod, np.int64), (m,)).copy(),
                    "order": np.broadcast_to(np.asarray(order, np.int64), (m,)).copy(),
                    "cstate": np.broadcast_to(np.asarray(cstate, np.int64), (m,)).copy(),
                    "item": np.broadcast_to(np.asarray(item, np.int64), (m,)).copy(),
                    "anchor": np.full(m, anchor),
                    "slot": slot.astype(np.int64),
                    "user": user.astype(bool),
                }
            )

        reg = self.registered
        # Identify anchors: one per web anonymous id (cookie) and per app install of registered people,
        # so every anonymous id is linked to its user_id; one per unregistered person who gave an email.
        web_slots = np.arange(self.n_web_slots)
        ws = web_slots[reg[self.slot_owner[web_slots]]]
        owner = self.slot_owner[ws]
        t = self.web_seg_start[ws] + (
            rng.random(len(ws)) * (self.web_seg_end[ws] - self.web_seg_start[ws])
        ).astype(np.int64)
        seg(owner, 0, t, np.zeros(len(ws), bool), anchor=True, slot=ws, user=np.ones(len(ws), bool))
        app_people = np.flatnonzero(reg & self.app)
        seg(
            app_people,
            0,
            self._uniform_time(app_people),
            np.ones(len(app_people), bool),
            anchor=True,
            user=np.ones(len(app_people), bool),
        )
        other = np.flatnonzero(~reg & self.has_email)
        seg(
            other,
            0,
            self._uniform_time(other),
            ~self.web[other],
            anchor=True,
            user=np.zeros(len(other), bool),
        )
        extra = np.repeat(np.arange(n), np.where(reg, rng.poisson(0.8, n), 0))
        seg(extra, 0, self._uniform_time(extra), self._channel(extra), user=np.ones(len(extra), bool))

        # Consent decisions: full state per event, distinct increasing times per person.
        cp = np.flatnonzero(self.consent)
        n_c = np.minimum(rng.poisson(0.35, len(cp)), 3) + 1
        forced = np.isin(cp, self.consent_forced)
        n_c = np.where(forced, 3, n_c)
        c_person = np.repeat(cp, n_c)
        c_idx = np.arange(len(c_person)) - np.repeat(np.cumsum(n_c) - n_c, n_c)
        f, la = self.first[c_person], self.last[c_person]
        frac = np.where(c_idx == 0, 0.0, rng.random(len(c_person)))
        key = np.lexsort((frac, np.repeat(np.arange(len(cp)), n_c)))
        c_t = f + (frac[key] * (la - f)).astype(np.int64) + c_idx * MS_SECOND
        probs = np.array([0.85, 0.6, 0.4, 0.35, 0.15])
        initial = (rng.random((len(c_person), 5)) < probs) @ (1 << np.arange(5))
        flips = (rng.random((len(c_person), 5)) < 0.3) @ (1 << np.arange(5))
        c_state = np.empty(len(c_person), dtype=np.int64)
        first_pos = np.cumsum(n_c) - n_c
        for j in range(4):  # sequential over the event index, vectorised over people
            at = first_pos[n_c > j] + j
            c_state[at] = initial[at] if j == 0 else c_state[at - 1] ^ flips[at]
        fpos = first_pos[forced]
        c_state[fpos], c_state[fpos + 1], c_state[fpos + 2] = 31, 1, 0
        self._consent_stats(c_state, c_idx)
        seg(
            c_person,
            1,
            c_t,
            self._channel(c_person, 0.3),
            ev=EV_CONSENT,
            cstate=c_state,
            anchor=True,
            user=reg[c_person],
        )

        # Order funnel tracks.
        o = np.arange(len(self.o_person))
        op, oapp, created = self.o_person, self.o_app, self.o_created
        acct = ~self.o_guest
        lo = cfg.start_ms
        seg(
            op,
            1,
            np.maximum(created - rng.integers(2 * MS_MINUTE, 20 * MS_MINUTE, len(o)), lo),
            oapp,
            ev=EV_CHECKOUT,
            order=o,
            user=acct,
        )
        seg(
            op,
            1,
            created + rng.integers(MS_SECOND, 5 * MS_SECOND, len(o)),
            oapp,
            ev=EV_ORDER,
            order=o,
            user=acct,
            slot=np.where(oapp | (self.o_anon < 0), self._slot_for(op, created, oapp), self.o_anon),
        )
        io = self.i_order
        seg(
            op[io],
            1,
            np.maximum(created[io] - rng.integers(5 * MS_MINUTE, 60 * MS_MINUTE, len(io)), lo),
            oapp[io],
            ev=EV_ADDED,
            prod=self.i_prod,
            order=io,
            item=np.arange(len(io)),
            user=acct[io],
        )
        # Newsletter sign-ups.
        nl = np.flatnonzero(self.newsletter | (reg & (rng.random(n) < 0.15)))
        seg(nl, 1, self._uniform_time(nl), self._channel(nl, 0.2), ev=EV_NEWSLETTER)

        # Browsing: pages, screens and product/email tracks, heavy-tailed per person.
        gp = np.repeat(np.arange(n), self.activity)
        g = len(gp)
        g_app = self._channel(gp, 0.45)
        g_t = self._uniform_time(gp)
        is_track = rng.random(g) < np.where(g_app, 0.45, 0.38)
        g_ev = rng.choice(4, size=g, p=(0.6, 0.18, 0.08, 0.14))
        g_ev = np.array([EV_VIEWED, EV_ADDED, EV_CHECKOUT, EV_EMAIL])[g_ev]
        page = rng.choice(len(PAGES), size=g, p=PAGE_WEIGHTS)
        screen = rng.choice(len(SCREENS), size=g, p=SCREEN_WEIGHTS)
        g_prod = rng.choice(len(_PRODUCT_IDS), size=g, p=_PRODUCT_WEIGHTS)
        kind = np.where(is_track, 1, np.where(g_app, 3, 2))
        code = np.where(is_track, g_ev, np.where(g_app, screen, page))
        g_prod = np.where(is_track & (g_ev != EV_VIEWED) & (g_ev != EV_ADDED), -1, g_prod)
        for kk in (1, 2, 3):
            sel = kind == kk
            seg(gp[sel], kk, g_t[sel], g_app[sel], ev=code[sel], prod=g_prod[sel])

        cols = {key: np.concatenate([s[key] for s in segs]) for key in segs[0]}
        self._finish_messages(cols)

    def _consent_stats(self, state: np.ndarray, idx: np.ndarray) -> None:
        prev = np.where(idx == 0, 0, np.roll(state, 1))
        st = self.stats
        st["cat", "consent_changes", "tracks"] += len(state)
        for i, purpose in enumerate(CONSENT_PURPOSES):
            now = state >> i & 1
            before = prev >> i & 1
            st["consent_grant", purpose] += int(((now == 1) & (before == 0)).sum())
            st["consent_withdrawal", purpose] += int(((now == 0) & (before == 1)).sum())

    def _finish_messages(self, c: dict[str, np.ndarray]) -> None:
        rng, cfg = self.rng, self.cfg
        m = len(c["person"])
        person, kind, ts = c["person"], c["kind"], c["ts"]
        is_consent = (kind == 1) & (c["ev"] == EV_CONSENT)
        # Current consent state carried in context by every later event of the person.
        order = np.lexsort((~is_consent, ts, person))
        pos = np.where(is_consent[order], np.arange(m), -1)
        last = np.maximum.accumulate(pos)
        ok = (last >= 0) & (person[order][np.maximum(last, 0)] == person[order])
        ctx = np.full(m, -1, dtype=np.int64)
        ctx[order] = np.where(ok, c["cstate"][order][np.maximum(last, 0)], -1)
        c["ctx"] = ctx

        delay = np.minimum(rng.exponential(1_500, m), 600_000).astype(np.int64) + 5
        sent = ts + delay
        recv = sent + rng.integers(20, 1_500, m)

        cat = np.zeros(m, dtype=np.int64)
        sub = rng.integers(0, 6, m)
        protected = c["anchor"]
        has_email = (kind == 0) & self.has_email[person]
        for k, table in enumerate(MESSAGE_TABLES):
            mine = kind == k

            def assign(
                code: int, eligible: np.ndarray, rate: float, min_k: int, mine: np.ndarray = mine
            ) -> None:
                cat[_pick(rng, mine & eligible & (cat == M_CLEAN), rate, min_k)] = code

            free = ~protected
            assign(M_LATE, free & (ts < cfg.end_ms - 10 * MS_DAY - 2 * MS_HOUR), RATES["late"], self.min_k)
            assign(M_SKEW_OK, free, RATES["skew"] * 0.8, self.min_k)
            assign(M_SKEW_BAD, free, RATES["skew"] * 0.2, 1)
            assign(M_BAD_JSON, free, RATES["malformed_json"], 1)
            assign(M_BAD_CONSENT, free, RATES["malformed_consent"], 1 if k == 1 else 0)
            assign(M_NO_MSG_ID, free, RATES["missing_message_id"], 1)
            assign(M_NO_IDENTITY, free, RATES["missing_identity"], 1)
            assign(M_NO_TS, free, RATES["missing_timestamp"], 1)
            if table == "tracks":
                assign(M_NO_EVENT, free, RATES["missing_event_name"], 1)
            assign(M_JUNK_USER, free, RATES["junk_user_id"], 1)
            assign(M_JUNK_ANON, free & c["user"], RATES["junk_anonymous_id"], 1)
            if table == "identifies":
                assign(M_EMAIL_VARIANT, has_email & self.email_variant[person], 0.5, self.min_k)
                assign(M_BAD_EMAIL, has_email, RATES["identify_invalid_email"], self.min_k)
                assign(M_JUNK_EMAIL, has_email, RATES["identify_junk_email"], self.min_k)

        late = cat == M_LATE
        recv = np.where(late, ts + rng.integers(MS_DAY, 10 * MS_DAY, m), recv)
        sent = np.where(late, recv - rng.integers(20, 1_500, m), sent)
        skew = (cat == M_SKEW_OK) | (cat == M_SKEW_BAD)
        shift = np.where(skew, rng.integers(MS_HOUR, 3 * MS_DAY, m), 0)
        dev_ts = ts + shift
        sent = sent + shift

        # Re-deliveries of clean rows: same message id, received seconds to hours later.
        dup_src = _pick(
            rng,
            (cat == M_CLEAN) & ~is_consent & (recv < cfg.end_ms - 7 * MS_HOUR),
            RATES["message_duplicate"],
            0,
        )
        for k in range(4):  # at least a couple per table
            have = int((kind[dup_src] == k).sum())
            if have < self.min_k:
                more = _pick(
                    rng,
                    (kind == k)
                    & (cat == M_CLEAN)
                    & ~is_consent
                    & (recv < cfg.end_ms - 7 * MS_HOUR)
                    & ~np.isin(np.arange(m), dup_src),
                    0.0,
                    self.min_k - have,
                )
                dup_src = np.sort(np.concatenate([dup_src, more]))
        src = np.concatenate([np.arange(m), dup_src])
        rcat = np.concatenate([cat, np.full(len(dup_src), M_DUP)])
        rrecv = np.concatenate([recv, recv[dup_src] + rng.integers(MS_SECOND, 6 * MS_HOUR, len(dup_src))])
        msg_raw = np.frombuffer(rng.bytes(16 * m), np.uint8).reshape(-1, 16)
        self.msg_ids = msg_raw
        rows = {key: v[src] for key, v in c.items()}
        salt = _salt(rng, m)
        rows.update(
            cat=rcat, sub=sub[src], recv=rrecv, sent=sent[src], dev_ts=dev_ts[src], src=src, salt=salt[src]
        )
        for k, table in enumerate(MESSAGE_TABLES):
            sel = np.flatnonzero(rows["kind"] == k)
            sel = sel[np.argsort(rows["recv"][sel], kind="stable")]
            sub_rows = {key: v[sel] for key, v in rows.items()}
            self.tables_out[table] = self._render_message_table(table, sub_rows)
            self._message_stats(table, sub_rows)

    def _message_stats(self, table: str, r: dict[str, np.ndarray]) -> None:
        st, cat = self.stats, r["cat"]
        self._fates(table, cat, MESSAGE_FATE)

        def count(name: str, mask: np.ndarray) -> None:
            st["cat", name, table] += int(mask.sum())

        count("duplicate_deliveries", cat == M_DUP)
        count("late_events", cat == M_LATE)
        count("clock_skew", (cat == M_SKEW_OK) | (cat == M_SKEW_BAD))
        st["skew", "correctable"] += int((cat == M_SKEW_OK).sum())
        st["skew", "uncorrectable"] += int((cat == M_SKEW_BAD).sum())
        count("malformed_json", (cat == M_BAD_JSON) | (cat == M_BAD_CONSENT))
        col = "traits" if table == "identifies" else "properties"
        st["json_column", col] += int((cat == M_BAD_JSON).sum())
        st["json_column", "context_consent_category_preferences"] += int((cat == M_BAD_CONSENT).sum())
        count("missing_ids", (cat == M_NO_MSG_ID) | (cat == M_NO_IDENTITY))
        st["reason_detail", "missing_ids", f"{table}.id"] += int((cat == M_NO_MSG_ID).sum())
        st["reason_detail", "missing_ids", f"{table}.anonymous_id+user_id"] += int(
            (cat == M_NO_IDENTITY).sum()
        )
        count("missing_timestamps", cat == M_NO_TS)
        count("missing_event_names", cat == M_NO_EVENT)
        count("junk_identifiers", (cat == M_JUNK_USER) | (cat == M_JUNK_ANON) | (cat == M_JUNK_EMAIL))
        count("email_variants", cat == M_EMAIL_VARIANT)
        count("invalid_emails", cat == M_BAD_EMAIL)
        if table == "identifies":
            count("cookie_churn", r["anchor"] & ~r["app"] & self.churn_web[r["slot"]] & (cat != M_DUP))
        count("shared_devices", r["app"] & self.shared_slot[r["slot"]])

    def _render_message_table(self, table: str, r: dict[str, np.ndarray]) -> pa.Table:
        rng = self.rng
        p, cat, sub, app, slot = r["person"], r["cat"], r["sub"], r["app"], r["slot"]
        salt = r["salt"]
        ids = _fixed_strings(_uuid_matrix(self.msg_ids[r["src"]]))
        no_id = cat == M_NO_MSG_ID
        ids = _replace(ids, no_id & (sub % 2 == 1), ["  "] * int((no_id & (sub % 2 == 1)).sum()))
        ids = _null_unless(ids, ~(no_id & (sub % 2 == 0)))
        anon = _take(self.slot_uuid, slot)
        no_identity = cat == M_NO_IDENTITY
        junk_anon = cat == M_JUNK_ANON
        junk_a_values = np.array(JUNK_ANONYMOUS_IDS)[sub[junk_anon] % len(JUNK_ANONYMOUS_IDS)]
        anon = _replace(anon, junk_anon, junk_a_values.tolist())
        anon = _null_unless(anon, ~no_identity)
        has_user = r["user"] & self.registered[p]
        user = _null_unless(_take(self.user_id, p), has_user)
        junk_user = cat == M_JUNK_USER
        junk_u_values = np.array(JUNK_USER_IDS)[sub[junk_user] % len(JUNK_USER_IDS)]
        user = _replace(user, junk_user, junk_u_values.tolist())
        blank_user = no_identity & (sub % 3 != 0)
        user = _replace(user, blank_user, np.where(sub[blank_user] % 3 == 1, " ", "   ").tolist())
        user = _null_unless(user, ~(no_identity & (sub % 3 == 0)))
        for value in junk_a_values.tolist():
            self.junk.add(("anonymous_id", value))
            self.stats["junk_value", "anonymous_id", value] += 1
        for value in junk_u_values.tolist():
            self.junk.add(("user_id", value))
            self.stats["junk_value", "user_id", value] += 1

        no_ts = cat == M_NO_TS
        ts_null = no_ts & (sub % 3 != 2)
        recv_null = no_ts & (sub % 3 == 2)
        skew_bad = cat == M_SKEW_BAD
        household_ip = _take(self.home_ip, p)
        rand_ip = self._ip(
            np.stack(
                [11 + _ui(salt, 1, 212), _ui(salt, 2, 256), _ui(salt, 3, 256), 1 + _ui(salt, 4, 254)], axis=1
            )
        )
        ip = pc.if_else(pa.array(_u(salt, 5) < 0.85), household_ip, rand_ip)
        ua_idx = np.where(app, len(WEB_USER_AGENTS) + self.app_ua[p], self.web_ua[p])
        ua = _dict(WEB_USER_AGENTS + APP_USER_AGENTS, ua_idx)
        device = _null_unless(_take(self.app_device, np.maximum(slot - self.n_web_slots, 0)), app)
        campaign = np.where(~app & (_u(salt, 6) < 0.12), _ui(salt, 7, len(CAMPAIGNS)), -1)
        no_campaign = campaign < 0
        cidx = np.maximum(campaign, 0)
        ctx = r["ctx"]
        bad_consent = cat == M_BAD_CONSENT
        consent_idx = np.where(bad_consent, 32 + sub % len(MALFORMED_CONSENT), ctx)
        consent = _dict(_CONSENT_DICT, np.maximum(consent_idx, 0), consent_idx < 0)
        page_parts = self._page_parts(r) if table == "pages" else None
        url = page_parts[1] if page_parts is not None else self._context_url(table, r)
        columns: dict[str, pa.Array] = {
            "id": ids,
            "anonymous_id": anon,
            "user_id": user,
            "timestamp": _ts(r["dev_ts"], ts_null),
            "sent_at": _ts(r["sent"], skew_bad),
            "received_at": _ts(r["recv"], recv_null),
            "original_timestamp": _ts(r["dev_ts"]),
            "context_ip": ip,
            "context_user_agent": ua,
            "context_device_id": device,
            "context_page_url": _null_unless(url, ~app),
            "context_campaign_source": _dict([c[0] for c in CAMPAIGNS], cidx, no_campaign),
            "context_campaign_medium": _dict([c[1] for c in CAMPAIGNS], cidx, no_campaign),
            "context_campaign_name": _dict([c[2] for c in CAMPAIGNS], cidx, no_campaign),
            "context_consent_category_preferences": consent,
        }
        bad_json = cat == M_BAD_JSON
        if table == "identifies":
            body = self._traits(r)
            columns["traits"] = _replace(body, bad_json, _break_json(rng, body.filter(pa.array(bad_json))))
        elif table == "tracks":
            body = self._track_properties(r)
            no_event = cat == M_NO_EVENT
            ev = np.where(no_event, 0, r["ev"])
            columns["event"] = _dict(
                TRACK_EVENTS + ("  ",),
                np.where(no_event & (sub % 2 == 1), len(TRACK_EVENTS), ev),
                no_event & (sub % 2 == 0),
            )
            columns["properties"] = _replace(
                body, bad_json, _break_json(rng, body.filter(pa.array(bad_json)))
            )
        else:
            names = [pg[0] for pg in PAGES] if table == "pages" else list(SCREENS)
            columns["name"] = _dict(names, r["ev"])
            body = (
                self._page_properties(r, page_parts) if page_parts is not None else self._screen_properties(r)
            )
            columns["properties"] = _replace(
                body, bad_json, _break_json(rng, body.filter(pa.array(bad_json)))
            )
        return pa.table(columns)

    def _context_url(self, table: str, r: dict[str, np.ndarray]) -> pa.Array:
        prod = r["prod"]
        product_url = _cat(SHOP_URL + "/p/", _take(_PRODUCT_IDS, np.maximum(prod, 0)))
        if table == "identifies":
            return pa.array([SHOP_URL + "/account/login"] * len(prod), pa.string())
        fallback = _take(
            [
                SHOP_URL + u
                for u in ("/", "/", "/checkout", "/checkout/confirmation", "/newsletter", "/", "/")
            ],
            np.clip(r["ev"], 0, 6),
        )
        return pc.if_else(pa.array(prod >= 0), product_url, fallback)

    def _traits(self, r: dict[str, np.ndarray]) -> pa.Array:
        p, cat, sub, salt = r["person"], r["cat"], r["sub"], r["salt"]
        m = len(p)
        variant = np.zeros(m, dtype=np.int64)
        ev = cat == M_EMAIL_VARIANT
        variant[ev] = 1 + sub[ev] % 3
        bad = cat == M_BAD_EMAIL
        variant[bad] = 4 + sub[bad] % 4
        email = self._emails(p, variant)
        junk = cat == M_JUNK_EMAIL
        email = _replace(email, junk, [JUNK_EMAILS[0]] * int(junk.sum()))
        if junk.any():
            self.junk.add(("email", JUNK_EMAILS[0]))
            self.stats["junk_value", "email", JUNK_EMAILS[0]] += int(junk.sum())
        with_phone = self.has_phone[p] & (_u(salt, 10) < 0.6)
        fmt = self._phone_format(p, _u(salt, 11))
        self.stats["cat", "phone_format_variants", "identifies"] += int(
            (with_phone & (fmt > 0) & (cat != M_BAD_JSON)).sum()
        )
        phone = _null_unless(self._phones(p, fmt), with_phone)
        crm = _null_unless(_take(self.contact_id, p), self.has_crm[p] & (_u(salt, 12) < 0.4))
        cust = _null_unless(_take(self.customer_id, p), self.is_customer[p] & (_u(salt, 13) < 0.5))
        return _cat_opt(
            '{"first_name":"',
            _take(self.first_display, p),
            '","last_name":"',
            _take(self.last_display, p),
            '","country":"',
            _take(COUNTRIES, self.country[p]),
            '"',
            _cat(',"email":"', email, '"'),
            _cat(',"phone":"', phone, '"'),
            _cat(',"crm_id":"', crm, '"'),
            _cat(',"customer_id":"', cust, '"'),
            "}",
        )

    def _track_properties(self, r: dict[str, np.ndarray]) -> pa.Array:
        p, ev, prod, order, salt = r["person"], r["ev"], r["prod"], r["order"], r["salt"]
        m = len(p)
        parts: list[tuple[np.ndarray, pa.Array]] = []
        cur_person = np.array(COUNTRY_CURRENCY)[self.country[p]]
        cur = np.where(order >= 0, self.o_cur[np.maximum(order, 0)], cur_person)
        # Product events.
        sel = np.flatnonzero(prod >= 0)
        if len(sel):
            pr, cu = prod[sel], cur[sel]
            price = np.round(_PRODUCT_PRICE_CENTS[pr] * np.array(FX_RATES)[cu]).astype(np.int64)
            item = r["item"][sel]
            qty = np.where(item >= 0, self.i_qty[np.maximum(item, 0)], 1)
            body = _cat(
                '{"product_id":"',
                _take(_PRODUCT_IDS, pr),
                '","name":"',
                _take(_PRODUCT_NAMES, pr),
                '","category":"',
                _take(_CATEGORY_NAMES, _PRODUCT_CATEGORY[pr]),
                '","price":',
                _money(price),
                ',"currency":"',
                _take(CURRENCIES, cu),
                '"',
            )
            tail = pc.if_else(
                pa.array(ev[sel] == EV_ADDED), _cat(',"quantity":', _str(qty), "}"), pa.scalar("}")
            )
            parts.append((sel, _cat(body, tail)))
        # Order events.
        sel = np.flatnonzero((prod < 0) & ((ev == EV_CHECKOUT) | (ev == EV_ORDER)) & (order >= 0))
        if len(sel):
            o = order[sel]
            key = pc.if_else(
                pa.array(ev[sel] == EV_ORDER), pa.scalar('","revenue":'), pa.scalar('","value":')
            )
            parts.append(
                (
                    sel,
                    _cat(
                        '{"order_id":"',
                        _take(self.o_id, o),
                        key,
                        _money(self.o_total[o]),
                        ',"currency":"',
                        _take(CURRENCIES, self.o_cur[o]),
                        '","products":',
                        _str(self.o_items[o]),
                        "}",
                    ),
                )
            )
        sel = np.flatnonzero((prod < 0) & (ev == EV_CHECKOUT) & (order < 0))
        if len(sel):
            value = np.round(2_000 + _u(salt[sel], 20) * 20_000).astype(np.int64)
            parts.append(
                (sel, _cat('{"value":', _money(value), ',"currency":"', _take(CURRENCIES, cur[sel]), '"}'))
            )
        sel = np.flatnonzero(ev == EV_NEWSLETTER)
        if len(sel):
            parts.append((sel, _cat('{"email":"', _take(self.email, p[sel]), '","list":"weekly"}')))
        sel = np.flatnonzero(ev == EV_EMAIL)
        if len(sel):
            ci = _ui(salt[sel], 21, len(EMAIL_CAMPAIGNS))
            parts.append(
                (
                    sel,
                    _cat(
                        '{"campaign_name":"',
                        _take([c[0] for c in EMAIL_CAMPAIGNS], ci),
                        '","subject":"',
                        _take([c[1] for c in EMAIL_CAMPAIGNS], ci),
                        '"}',
                    ),
                )
            )
        sel = np.flatnonzero(ev == EV_CONSENT)
        if len(sel):
            first = r["cstate"][sel] >= 0  # every consent event; the source is just flavour
            src = _take(
                ('{"source":"banner"}', '{"source":"preference_center"}'),
                (first & (_u(salt[sel], 22) < 0.3)).astype(np.int64),
            )
            parts.append((sel, src))
        return _assemble(m, parts)

    def _page_parts(self, r: dict[str, np.ndarray]) -> tuple[pa.Array, pa.Array, pa.Array]:
        code, prod = r["ev"], r["prod"]
        catname = _take(_CATEGORY_NAMES, _PRODUCT_CATEGORY[prod])
        pid = _take(_PRODUCT_IDS, prod)
        empty = pa.scalar("")
        is_product = pa.array(code == 2)
        with_cat = pa.array(np.isin(code, (1, 3, 6)))
        suffix = pc.if_else(is_product, pid, pc.if_else(with_cat, catname, empty))
        tail = pc.if_else(pa.array(code == 6), pa.scalar("-guide"), empty)
        path = _cat(_take([pg[1] for pg in PAGES], code), suffix, tail)
        url = _cat(SHOP_URL, path)
        title_subject = pc.if_else(
            is_product, _take(_PRODUCT_NAMES, prod), pc.if_else(with_cat, pc.utf8_capitalize(catname), empty)
        )
        title = _cat(_take([pg[2] for pg in PAGES], code), title_subject, " | Example Shop")
        return path, url, title

    def _page_properties(
        self, r: dict[str, np.ndarray], parts: tuple[pa.Array, pa.Array, pa.Array]
    ) -> pa.Array:
        path, url, title = parts
        ref = _take(REFERRERS, _ui(r["salt"], 23, len(REFERRERS)))
        return _cat('{"path":"', path, '","url":"', url, '","title":"', title, '","referrer":"', ref, '"}')

    def _screen_properties(self, r: dict[str, np.ndarray]) -> pa.Array:
        code, prod = r["ev"], r["prod"]
        name = _take(SCREENS, code)
        product = _cat(
            ',"product_id":"',
            _take(_PRODUCT_IDS, prod),
            '","category":"',
            _take(_CATEGORY_NAMES, _PRODUCT_CATEGORY[prod]),
            '"',
        )
        product = _null_unless(product, code == 2)
        return _cat_opt('{"name":"', name, '"', product, "}")

    # -- bookkeeping ------------------------------------------------------------------------------------
    def _fates(self, table: str, cat: np.ndarray, fate: dict[int, str]) -> None:
        st = self.stats
        st["raw", table] += len(cat)
        for code, reason in fate.items():
            k = int((cat == code).sum())
            if reason == "duplicate":
                st["duplicate", table] += k
            else:
                st["quarantined", table, reason] += k
        st["staged", table] += int((~np.isin(cat, list(fate))).sum())

    def _truth(self) -> tuple[pa.Table, pa.Table]:
        n = self.n
        types: list[pa.Array] = []
        values: list[pa.Array] = []
        persons: list[np.ndarray] = []
        roles: list[np.ndarray] = []

        def add(kind: str, vals: pa.Array, who: np.ndarray, role: np.ndarray | str = "own") -> None:
            types.append(pa.array([kind] * len(who), pa.string()))
            values.append(vals)
            persons.append(who)
            roles.append(np.broadcast_to(np.asarray(role, dtype=object), (len(who),)))

        web_slots = np.arange(self.n_web_slots)
        add("anonymous_id", self.slot_uuid.take(pa.array(web_slots)), self.slot_owner[web_slots])
        app_people = np.flatnonzero(self.app)
        app_slots = self.app_slot[app_people]
        role = np.where(self.shared[app_people], "shared_device", "own").astype(object)
        add("anonymous_id", _take(self.slot_uuid, app_slots), app_people, role)
        add("device_id", _take(self.app_device, app_slots - self.n_web_slots), app_people, role)
        reg = np.flatnonzero(self.registered)
        add("user_id", _take(self.user_id, reg), reg)
        em = np.flatnonzero(self.has_email)
        add("email", _take(self.email, em), em)
        ch = np.flatnonzero(self.crm_change)
        add("email", _take(self.email2, ch), ch)
        ph = np.flatnonzero(self.has_phone)
        add("phone", _take(self.phone_e164, ph), ph)
        crm = np.flatnonzero(self.has_crm)
        add("crm_id", _take(self.contact_id, crm), crm)
        cust = np.flatnonzero(self.is_customer)
        add("customer_id", _take(self.customer_id, cust), cust)
        identifiers = pa.table(
            {
                "identifier_type": pa.concat_arrays(types),
                "identifier_value": pa.concat_arrays([v.cast(pa.string()) for v in values]),
                "person_id": _int64(self.pid[np.concatenate(persons)]),
                "role": pa.array(np.concatenate(roles).tolist(), pa.string()),
            }
        )
        n_anon = np.bincount(self.slot_owner, minlength=n) + self.is_b.astype(np.int64)
        people = pa.table(
            {
                "person_id": _int64(self.pid),
                "household_id": _int64(self.household),
                "first_name": self.first_display,
                "last_name": self.last_display,
                "country": _take(COUNTRIES, self.country),
                "is_registered": pa.array(self.registered),
                "uses_web": pa.array(self.web),
                "uses_app": pa.array(self.app),
                "has_email": pa.array(self.has_email),
                "has_phone": pa.array(self.has_phone),
                "has_crm": pa.array(self.has_crm),
                "is_buyer": pa.array(self.buyer),
                "is_customer": pa.array(self.is_customer),
                "newsletter": pa.array(self.newsletter),
                "n_anonymous_ids": _int64(n_anon),
                "cookie_churn": pa.array(self.churn_k > 1),
                "shared_device": pa.array(self.shared),
                "email_variant": pa.array(self.email_variant),
                "crm_email_change": pa.array(self.crm_change),
                "deleted": pa.array(self.deleted),
                "first_seen_at": _ts(self.first),
                "last_seen_at": _ts(self.last),
            }
        )
        return identifiers, people

    def build(self) -> _ChunkResult:
        self.tables_out: dict[str, pa.Table] = {}
        self._people()
        self._slots()
        self.churn_web = np.zeros(len(self.slot_owner), dtype=bool)
        self.churn_web[: self.n_web_slots] = self.churn_k[self.slot_owner[: self.n_web_slots]] > 1
        self.shared_slot = np.zeros(len(self.slot_owner), dtype=bool)
        self.shared_slot[self.app_slot[self.share_a]] = True
        self._orders()
        self._render_orders()
        self._render_items()
        self._render_crm()
        self._render_deletions()
        self._messages()
        st = self.stats
        st["people", "cookie_churn"] += int((self.churn_k > 1).sum())
        st["people", "cookie_churn_anonymous_ids"] += int(self.churn_k[self.churn_k > 1].sum())
        st["people", "shared_devices"] += len(self.share_a)
        st["people", "crm_email_changes"] += int(self.crm_change.sum())
        st["people", "email_variants"] += int(self.email_variant.sum())
        st["people", "guest_checkouts"] += int(np.unique(self.o_person[self.o_guest]).size)
        st["people", "deleted"] += int(self.deleted.sum())
        identifiers, people = self._truth()
        tables = {name: self.tables_out[name] for name in TABLE_ORDER}
        return _ChunkResult(tables, identifiers, people, self.stats, self.junk)


# ---------------------------------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------------------------------


def _plain(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    return arr


def _text(arr: pa.Array) -> pa.Array:
    """A column as text the way CSV and JSONL carry it (timestamps as ISO 8601 with Z)."""
    if pa.types.is_timestamp(arr.type):
        ms = np.asarray(arr.cast(pa.int64()).fill_null(0)) // 1000
        return _iso(ms, np.asarray(arr.is_null()))
    return arr


def _json_value(arr: pa.Array) -> pa.Array:
    if pa.types.is_string(arr.type):
        esc = pc.replace_substring(pc.replace_substring(arr, "\\", "\\\\"), '"', '\\"')
        return pc.fill_null(_cat('"', esc, '"'), "null")
    if pa.types.is_timestamp(arr.type):
        return pc.fill_null(_cat('"', _text(arr), '"'), "null")
    return pc.fill_null(arr.cast(pa.string()), "null")


class _TableWriter:
    def __init__(self, path: Path, file_format: FileFormat, schema: pa.Schema) -> None:
        self.path = path
        self.format = file_format
        self.rows = 0
        self._parquet: pq.ParquetWriter | None = None
        self._csv: pacsv.CSVWriter | None = None
        self._file: BinaryIO | None = None
        if file_format == "parquet":
            self._parquet = pq.ParquetWriter(path, schema, store_schema=False, compression="snappy")
        elif file_format == "csv":
            fields = [
                pa.field(
                    f.name,
                    pa.string()
                    if pa.types.is_timestamp(f.type) or pa.types.is_dictionary(f.type)
                    else f.type,
                )
                for f in schema
            ]
            self._csv = pacsv.CSVWriter(path, pa.schema(fields))
        else:
            self._file = path.open("wb")
        self.schema = schema

    def write(self, table: pa.Table) -> None:
        self.rows += table.num_rows
        if table.num_rows == 0:
            return
        if self._parquet is not None:
            self._parquet.write_table(table.cast(self.schema), row_group_size=1 << 20)
        elif self._csv is not None:
            cols = [_text(_plain(c)) for c in table.columns]
            self._csv.write_table(pa.table(cols, names=table.column_names))
        else:
            assert self._file is not None
            parts: list[Any] = []
            for i, name in enumerate(table.column_names):
                parts.append(("{" if i == 0 else ",") + json.dumps(name) + ":")
                parts.append(_json_value(_plain(table.column(i))))
            parts.append("}\n")
            lines = _cat(*parts)
            offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[
                lines.offset : lines.offset + len(lines) + 1
            ]
            data = lines.buffers()[2]
            self._file.write(data.slice(int(offsets[0]), int(offsets[-1] - offsets[0])))

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        if self._csv is not None:
            self._csv.close()
        if self._file is not None:
            self._file.close()


def _schema(name: str) -> pa.Schema:
    kinds = {
        "string": pa.string(),
        "json": pa.string(),
        "timestamp": pa.timestamp("us", tz="UTC"),
        "decimal": pa.decimal128(18, 4),
        "integer": pa.int64(),
    }
    return pa.schema([pa.field(c.name, kinds[c.type]) for c in TABLES[name].columns])


def _chunk_schema(table: pa.Table, name: str) -> pa.Schema:
    """The contract schema, keeping dictionary encoding where a chunk uses it (cheaper to write)."""
    base = _schema(name)
    fields = []
    for f in base:
        t = table.schema.field(f.name).type
        fields.append(pa.field(f.name, t if pa.types.is_dictionary(t) else f.type))
    return pa.schema(fields)


# ---------------------------------------------------------------------------------------------------
# Manifest
# ---------------------------------------------------------------------------------------------------

CATEGORY_DESCRIPTIONS: dict[str, str] = {
    "duplicate_deliveries": "A clean row delivered again: messages repeat their id with a later received_at "
    "(seconds to hours later); orders, order lines, CRM versions and deletion requests are re-exported "
    "identically. Staging keeps one copy; the others are duplicates.",
    "late_events": "Mobile offline: received_at 1-10 days after timestamp, sent_at just before received_at. "
    "Staged.",
    "clock_skew": "Device clock ahead by 1 hour to 3 days: timestamp, sent_at and original_timestamp shifted "
    "by the same skew, received_at real. With sent_at the event time is corrected and the row staged; "
    "without sent_at it is quarantined as future_timestamp.",
    "malformed_json": "traits / properties (or context_consent_category_preferences) that are not a JSON "
    "object: truncated, python-quoted, trailing garbage, '[object Object]' or a JSON array. Quarantined.",
    "missing_ids": "Messages with a null/blank id or with both anonymous_id and user_id null/blank, orders "
    "without order_id, order lines without order_item_id/product_id, CRM rows without contact_id, deletion "
    "requests without request_id or identifier_value. Quarantined.",
    "email_variants": "A person's email written with other casing and surrounding spaces in some rows "
    "(identify traits, orders, CRM); lower(trim()) gives the same email. Staged.",
    "invalid_emails": "Emails like 'john.doe@', 'john.doe.example.com', 'jo@@example.com', "
    "'john doe@example.com' in identify traits, CRM contacts and orders with a customer_id. The rows are "
    "staged with email null.",
    "junk_identifiers": "Placeholder values used by many people: email test@test.com, user_id "
    "'null'/'undefined'/'0', anonymous_id '00000000-0000-0000-0000-000000000000'/'null'/'undefined'. "
    "Staged; the identity layer must blocklist them.",
    "shared_devices": "Two people of one household share an app install (same anonymous_id and "
    "context_device_id) and each logs in with their own user_id. Count = message rows from shared installs.",
    "cookie_churn": "People with 2-4 web anonymous ids over time (cookies cleared), each one linked to the "
    "user_id by an identify call. Count = those identify rows.",
    "guest_checkouts": "Staged orders with customer_id null and a valid email (some with an anonymous_id).",
    "crm_email_changes": "A CRM contact whose latest version has a different email; both emails belong to "
    "the person. Count = versions with the new email.",
    "currencies": "Orders in EUR, USD, GBP and SEK (a few in lowercase, which staging upper-cases) and a "
    "few in the unknown currency XXX (quarantined unknown_currency). Count = all order rows.",
    "unknown_currency": "Orders in currency XXX. Quarantined unknown_currency.",
    "refunds": "A fulfilled order re-exported later as refunded / partially_refunded with refunded_amount, "
    "refunded_at and a later updated_at; the older export becomes duplicate_order_id.",
    "consent_changes": "'Segment Consent Preference Updated' tracks whose "
    "context_consent_category_preferences holds the full state; later events of the person carry the "
    "current state too. Count = consent events.",
    "consent_grants": "Per person and purpose, consent events (in time order) where the purpose is true and "
    "was not true before (the first event counts every true purpose).",
    "consent_withdrawals": "Per person and purpose, consent events where the purpose goes from true to "
    "false.",
    "deletion_requests": "Erasure requests (about 0.3% of people) by email (case variant), user_id, phone "
    "(format variant) or anonymous_id, with identifier_type casing variants; plus a few defective ones.",
    "unknown_identifier_types": "Deletion requests with identifier_type 'ssn' or 'passport_number'. "
    "Quarantined unknown_identifier_type.",
    "missing_timestamps": "Rows with a null timestamp/received_at, created_at/updated_at or requested_at. "
    "Quarantined missing_timestamp.",
    "missing_event_names": "Track calls with a null or blank event. Quarantined missing_event_name.",
    "missing_customers": "Guest orders without a usable email (null or invalid). Quarantined "
    "missing_customer.",
    "invalid_amounts": "Orders with a null or negative total_amount and order lines with a null or negative "
    "unit_price. Quarantined invalid_amount.",
    "invalid_quantities": "Order lines with quantity 0, negative or null. Quarantined invalid_quantity.",
    "phone_format_variants": "Phones written in another format than compact E.164 ('+44 20 7946 0958', "
    "'0044 20 7946 0958', '+1-415-555-0132', '(415) 555-0132', '415.555.0132', '1-415-555-0132'). Staged; "
    "they normalise to the E.164 number in the truth.",
}


def _build_manifest(
    stats: Counter[tuple[str, ...]], cfg_info: dict[str, Any], files: dict[str, tuple[str, int]]
) -> dict[str, Any]:
    categories: dict[str, dict[str, Any]] = {}
    for name, desc in CATEGORY_DESCRIPTIONS.items():
        by_table = {t: stats["cat", name, t] for t in TABLE_ORDER if stats["cat", name, t]}
        categories[name] = {"count": sum(by_table.values()), "by_table": by_table, "description": desc}
    categories["clock_skew"]["correctable"] = stats["skew", "correctable"]
    categories["clock_skew"]["uncorrectable"] = stats["skew", "uncorrectable"]
    categories["malformed_json"]["by_column"] = {
        col: stats["json_column", col]
        for col in ("traits", "properties", "context_consent_category_preferences")
    }
    categories["missing_ids"]["by_field"] = {
        key[2]: v for key, v in sorted(stats.items()) if key[:2] == ("reason_detail", "missing_ids") and v
    }
    categories["junk_identifiers"]["by_value"] = {
        f"{key[1]}:{key[2]}": v for key, v in sorted(stats.items()) if key[0] == "junk_value" and v
    }
    categories["currencies"]["by_currency"] = {
        c: stats["currency", c] for c in CURRENCIES + (UNKNOWN_CURRENCY,)
    }
    categories["currencies"]["lowercase_rows"] = stats["currency_lowercase",]
    categories["refunds"]["by_status"] = {
        s: stats["refund_status", s] for s in ("refunded", "partially_refunded")
    }
    for key, kind in (("consent_grants", "consent_grant"), ("consent_withdrawals", "consent_withdrawal")):
        by_purpose = {p: stats[kind, p] for p in CONSENT_PURPOSES}
        categories[key].update(count=sum(by_purpose.values()), by_table={}, by_purpose=by_purpose)
    categories["deletion_requests"]["by_identifier_type"] = {
        t: stats["deletion_type", t] for t in ("email", "user_id", "phone", "anonymous_id")
    }
    categories["deletion_requests"]["people"] = stats["deletion_people",]
    for key in ("cookie_churn", "shared_devices", "crm_email_changes", "email_variants", "guest_checkouts"):
        categories[key]["people"] = stats["people", key]
    categories["cookie_churn"]["anonymous_ids"] = stats["people", "cookie_churn_anonymous_ids"]
    categories["shared_devices"]["installs"] = stats["people", "shared_devices"]

    expected: dict[str, Any] = {}
    for t in TABLE_ORDER:
        quarantined = {r: stats["quarantined", t, r] for r in QUARANTINE_REASONS[t]}
        expected[t] = {
            "raw_rows": stats["raw", t],
            "staged_rows": stats["staged", t],
            "duplicate_rows": stats["duplicate", t],
            "duplicate_reason": DUPLICATE_REASON[t],
            "quarantined": quarantined,
        }
        if expected[t]["raw_rows"] != expected[t]["staged_rows"] + expected[t]["duplicate_rows"] + sum(
            quarantined.values()
        ):
            raise AssertionError(f"expected staging for {t} does not reconcile")
    return {
        "generator_version": GENERATOR_VERSION,
        **cfg_info,
        "tables": {t: {"rows": files[t][1], "file": files[t][0]} for t in TABLE_ORDER},
        "truth": {"identifiers": "_truth/identifiers.parquet", "people": "_truth/people.parquet"},
        "categories": categories,
        "expected_staging": expected,
    }


# ---------------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------------


def generate(
    out_dir: Path,
    people: int,
    seed: int = 42,
    end_date: date | None = None,
    days: int = 365,
    file_format: FileFormat = "parquet",
    progress: ProgressCallback | None = None,
) -> dict:
    """Write sample raw data for ``people`` people into ``out_dir`` and return the manifest.

    Events fall in ``[end_date - days, end_date)`` (UTC midnight); the output is byte-identical for the
    same ``(seed, people, end_date, days, file_format)``.
    """
    if people < 1:
        raise ValueError("people must be at least 1")
    if days < 30:
        raise ValueError("days must be at least 30 (late events arrive up to 10 days after the event)")
    if file_format not in FILE_EXTENSIONS:
        raise ValueError(f"unknown file format {file_format!r}; expected parquet, csv or jsonl")
    if end_date is None:
        end_date = datetime.now(UTC).date()
    end = datetime(end_date.year, end_date.month, end_date.day, tzinfo=UTC)
    start = end - timedelta(days=days)
    cfg = _Config(
        seed=seed, people=people, start_ms=int(start.timestamp() * 1000), end_ms=int(end.timestamp() * 1000)
    )
    out_dir = Path(out_dir)
    (out_dir / "_truth").mkdir(parents=True, exist_ok=True)
    ext = FILE_EXTENSIONS[file_format]
    files = {t: f"{t}.{ext}" for t in TABLE_ORDER}
    # A previous run in another format would leave files the loader also picks up.
    for other in set(FILE_EXTENSIONS.values()) - {ext}:
        for t in TABLE_ORDER:
            (out_dir / f"{t}.{other}").unlink(missing_ok=True)

    bounds = [(i, s, min(CHUNK_PEOPLE, people - s)) for i, s in enumerate(range(0, people, CHUNK_PEOPLE))]
    stats: Counter[tuple[str, ...]] = Counter()
    junk: set[tuple[str, str]] = set()
    writers: dict[str, _TableWriter] = {}
    truth_writers: dict[str, pq.ParquetWriter] = {}
    workers = max(1, min(2, os.cpu_count() or 1))

    def build(args: tuple[int, int, int]) -> _ChunkResult:
        return _Chunk(cfg, *args).build()

    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            pending: list[Future[_ChunkResult]] = []
            next_chunk = 0
            done_people = 0
            while next_chunk < len(bounds) or pending:
                while next_chunk < len(bounds) and len(pending) < workers:
                    pending.append(pool.submit(build, bounds[next_chunk]))
                    next_chunk += 1
                result = pending.pop(0).result()
                for name, table in result.tables.items():
                    if name not in writers:
                        schema = _chunk_schema(table, name) if file_format == "parquet" else _schema(name)
                        writers[name] = _TableWriter(out_dir / files[name], file_format, schema)
                    writers[name].write(table)
                for name, table in (("identifiers", result.identifiers), ("people", result.people)):
                    if name not in truth_writers:
                        truth_writers[name] = pq.ParquetWriter(
                            out_dir / "_truth" / f"{name}.parquet", table.schema, store_schema=False
                        )
                    truth_writers[name].write_table(table)
                stats.update(result.stats)
                junk |= result.junk
                done_people += result.people.num_rows
                if progress is not None:
                    progress("people", done_people, people)
        junk_rows = sorted(junk)
        truth_writers["identifiers"].write_table(
            pa.table(
                {
                    "identifier_type": pa.array([j[0] for j in junk_rows], pa.string()),
                    "identifier_value": pa.array([j[1] for j in junk_rows], pa.string()),
                    "person_id": pa.nulls(len(junk_rows), pa.int64()),
                    "role": pa.array(["junk"] * len(junk_rows), pa.string()),
                }
            )
        )
    finally:
        for w in writers.values():
            w.close()
        for tw in truth_writers.values():
            tw.close()

    row_counts = {t: (files[t], writers[t].rows) for t in TABLE_ORDER}
    manifest = _build_manifest(
        stats,
        {
            "seed": seed,
            "people": people,
            "end_date": end_date.isoformat(),
            "days": days,
            "format": file_format,
        },
        row_counts,
    )
    (out_dir / "_manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    return manifest
