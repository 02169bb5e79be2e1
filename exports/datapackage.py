"""``tables/datapackage.json``: the tables as a Frictionless (Table Schema) data package.

Every table's CSV file is a resource whose schema is derived from ``exports.tables``:
field types from the pyarrow types, descriptions from ``Column.meaning``, and the keys
that hold by construction (page ids of current pages, crawl ids). Tools such as
``frictionless validate tables/datapackage.json`` then check the files against it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa

from exports.tables import TABLES, Column

PACKAGE_NAME = "datapackage.json"

# The CSV files as exports.write.TableWriter writes them (RFC 4180).
DIALECT = {
    "header": True,
    "delimiter": ",",
    "lineTerminator": "\r\n",
    "quoteChar": '"',
    "doubleQuote": True,
}
# exports.write.csv_value writes a missing value (None) as an empty cell.
MISSING_VALUES = [""]

TABLE_DESCRIPTIONS = {
    "pages": "One row per page that exists in the wiki, at its latest readable capture",
    "footnotes": "Footnote blocks of the pages in `pages`",
    "citations": "PubMed ids, PMC ids, DOIs and URLs found in the footnotes",
    "links": "Links in the pages' text; `target` is not a key (it may be a URL or a red link)",
    "page_versions": "Every distinct version of every page the crawls saw, removed pages too",
    "changes": "Pages added, removed, modified, no longer readable or readable again, per crawl, "
    "and between consecutive wiki revisions (history crawls)",
    "revisions": "Every revision the wiki lists for a page (history crawls), archived or not",
    "sources": "Pages' wiki markup (`--source`)",
    "crawls": "Crawls that archived a page, met errors or did not finish, oldest first",
    "errors": "Requests that failed after retries",
    "access_denied": "Pages whose latest answer was DokuWiki's Permission Denied",
    "media": "One row per media file URL (an image at a page's size, its original, a "
    "download) at its latest capture",
    "page_media": "Which page, at its latest capture, shows or links which media file",
}

PRIMARY_KEYS: dict[str, list[str]] = {
    "pages": ["page_id"],
    "footnotes": ["page_id", "number"],
    "page_versions": ["version_id"],
    "revisions": ["page_id", "revision"],
    "crawls": ["crawl_id"],
    "access_denied": ["page_id"],
    "media": ["url"],
    "page_media": ["page_id", "url", "relation"],
}

# (fields, referenced table, referenced fields). Only links that hold by construction:
# `pages` lists the pages that exist now, so tables about removed pages (page_versions,
# changes) do not point at it, and a link's target is a page id, a URL or a red link.
FOREIGN_KEYS: dict[str, list[tuple[list[str], str, list[str]]]] = {
    "pages": [(["crawl_id"], "crawls", ["crawl_id"])],
    "footnotes": [
        (["page_id"], "pages", ["page_id"]),
        (["crawl_id"], "crawls", ["crawl_id"]),
    ],
    "citations": [
        (["page_id", "footnote_number"], "footnotes", ["page_id", "number"]),
        (["page_id"], "pages", ["page_id"]),
        (["crawl_id"], "crawls", ["crawl_id"]),
    ],
    "links": [
        (["page_id"], "pages", ["page_id"]),
        (["crawl_id"], "crawls", ["crawl_id"]),
    ],
    "page_versions": [
        (["first_crawl_id"], "crawls", ["crawl_id"]),
        (["last_crawl_id"], "crawls", ["crawl_id"]),
    ],
    "changes": [
        (["from_crawl_id"], "crawls", ["crawl_id"]),
        (["to_crawl_id"], "crawls", ["crawl_id"]),
    ],
    "revisions": [(["listed_crawl_id"], "crawls", ["crawl_id"])],
    "sources": [(["crawl_id"], "crawls", ["crawl_id"])],
    "errors": [(["crawl_id"], "crawls", ["crawl_id"])],
    "access_denied": [
        (["since_crawl_id"], "crawls", ["crawl_id"]),
        (["crawl_id"], "crawls", ["crawl_id"]),
        (["readable_crawl_id"], "crawls", ["crawl_id"]),
    ],
    "page_media": [
        (["page_id"], "pages", ["page_id"]),
        (["crawl_id"], "crawls", ["crawl_id"]),
    ],
}


def field_descriptor(column: Column) -> dict:
    """A Table Schema field for a column: its frictionless type and meaning."""
    field: dict = {"name": column.name, "description": column.meaning}
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        field["type"] = "string"
    elif pa.types.is_integer(kind):
        field["type"] = "integer"
    elif pa.types.is_boolean(kind):
        field.update(type="boolean", trueValues=["true"], falseValues=["false"])
    elif pa.types.is_timestamp(kind):
        # ISO 8601 as datetime.isoformat() writes it (fractional seconds only when
        # non-zero); "default" is ISO 8601, which accepts both forms.
        field.update(type="datetime", format="default")
        if kind.tz is not None:
            field["description"] += " (ISO 8601 in UTC, ending in `Z`)"
        else:
            field["description"] += " (ISO 8601 local time, no offset)"
    else:  # a new column type must be mapped here on purpose
        raise TypeError(f"no Table Schema type for {column.name}: {kind}")
    return field


def table_schema(name: str) -> dict:
    schema: dict = {
        "fields": [field_descriptor(c) for c in TABLES[name]],
        "missingValues": MISSING_VALUES,
    }
    if name in PRIMARY_KEYS:
        schema["primaryKey"] = PRIMARY_KEYS[name]
    keys = FOREIGN_KEYS.get(name, [])
    if keys:
        schema["foreignKeys"] = [
            {"fields": fields, "reference": {"resource": table, "fields": ref_fields}}
            for fields, table, ref_fields in keys
        ]
    return schema


def package_descriptor() -> dict:
    return {
        "profile": "tabular-data-package",
        "name": "wikiarchive-tables",
        "title": "wikiarchive tables",
        "description": (
            "A DokuWiki archived by wikiarchive: pages, footnotes, citations, links, media "
            "files and the crawl history. Each table is also in NAME.parquet beside its CSV "
            "file, with the same rows (empty strings are kept there; in the CSV an empty cell "
            "is missing)."
        ),
        "resources": [
            {
                "name": name,
                "path": f"{name}.csv",
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "description": TABLE_DESCRIPTIONS[name],
                "dialect": dict(DIALECT),
                "schema": table_schema(name),
            }
            for name in TABLES
        ],
    }


def write_datapackage(tables_dir: Path) -> Path:
    """Write ``tables_dir/datapackage.json`` describing every table; return its path."""
    tables_dir = Path(tables_dir)
    path = tables_dir / PACKAGE_NAME
    text = json.dumps(package_descriptor(), indent=2, ensure_ascii=False) + "\n"
    scratch = path.with_name(path.name + ".tmp")
    scratch.write_text(text, encoding="utf-8")
    os.replace(scratch, path)
    return path

