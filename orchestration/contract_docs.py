"""Render the raw data contract into the dbt sources YAML and the contract doc's column tables.

`orchestration/contract.py` is the single source of truth; `segmentation contract --write` regenerates
`models/staging/<source>/_<source>__sources.yml` and the generated part of `docs/data-contract.md`,
and a test fails when the committed files drift from the contract.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from orchestration.contract import LINEAGE_COLUMNS, TABLES, Table

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DOC_PATH = PROJECT_ROOT / "docs" / "data-contract.md"
BEGIN_MARKER = "<!-- BEGIN GENERATED: contract tables (segmentation contract --write) -->"
END_MARKER = "<!-- END GENERATED: contract tables -->"

SOURCE_DESCRIPTIONS = {
    "segment": "Segment/RudderStack warehouse-schema message tables (identifies, tracks, pages, screens).",
    "shop": "The shop's orders and order lines (guest checkout by email allowed).",
    "crm": "CRM contacts, one row per contact version.",
    "privacy": "Erasure (deletion) requests keyed by any identifier type.",
}

LINEAGE_DESCRIPTIONS = {
    "_load_id": "Id of the loader call that inserted the row.",
    "_file_name": "File the row came from, relative to the loaded folder.",
    "_file_row_number": "1-based row number within that file.",
    "_loaded_at": "When the loader inserted the row (UTC).",
}


def sources_path(source: str) -> Path:
    return PROJECT_ROOT / "models" / "staging" / source / f"_{source}__sources.yml"


def _column_entry(name: str, type_: str, description: str, pii: bool, required: bool) -> dict:
    entry: dict = {"name": name, "description": description}
    meta: dict = {"contract_type": type_, "required": required}
    if pii:
        meta["pii"] = True
    entry["config"] = {"meta": meta}
    return entry


def render_sources(source: str) -> str:
    tables: list[Table] = [t for t in TABLES.values() if t.source == source]
    doc = {
        "version": 2,
        "sources": [
            {
                "name": source,
                "description": SOURCE_DESCRIPTIONS[source],
                "schema": "{{ var('raw_schema') }}",
                "tables": [
                    {
                        "name": t.name,
                        "description": t.grain,
                        "columns": [
                            _column_entry(c.name, c.type, c.description, c.pii, c.required) for c in t.columns
                        ]
                        + [
                            _column_entry(name, type_, LINEAGE_DESCRIPTIONS[name], False, True)
                            for name, type_ in LINEAGE_COLUMNS
                        ],
                    }
                    for t in tables
                ],
            }
        ],
    }
    header = "# Generated from orchestration/contract.py by `segmentation contract --write`; do not edit.\n"
    return header + yaml.safe_dump(doc, sort_keys=False, width=120, allow_unicode=True)


def render_doc_tables() -> str:
    lines: list[str] = [BEGIN_MARKER, ""]
    for t in TABLES.values():
        lines += [
            f"### `{t.name}` (source `{t.source}`)",
            "",
            t.grain,
            "",
            "| column | type | required | PII | description |",
            "|---|---|---|---|---|",
        ]
        for c in t.columns:
            lines.append(
                f"| `{c.name}` | {c.type} | {'yes' if c.required else ''} | {'yes' if c.pii else ''} "
                f"| {c.description} |"
            )
        lines.append("")
    lines.append(END_MARKER)
    return "\n".join(lines)


def render_doc(current: str) -> str:
    start = current.index(BEGIN_MARKER)
    end = current.index(END_MARKER) + len(END_MARKER)
    return current[:start] + render_doc_tables() + current[end:]


def drift() -> list[Path]:
    """Files whose committed content differs from what the contract renders."""
    stale = [
        sources_path(s)
        for s in SOURCE_DESCRIPTIONS
        if not sources_path(s).exists() or sources_path(s).read_text() != render_sources(s)
    ]
    doc = DOC_PATH.read_text() if DOC_PATH.exists() else ""
    if BEGIN_MARKER not in doc or render_doc(doc) != doc:
        stale.append(DOC_PATH)
    return stale


def write() -> list[Path]:
    written = []
    for source in SOURCE_DESCRIPTIONS:
        path = sources_path(source)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_sources(source))
        written.append(path)
    doc = DOC_PATH.read_text()
    DOC_PATH.write_text(render_doc(doc))
    written.append(DOC_PATH)
    return written
