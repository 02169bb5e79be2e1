"""The tables as a Frictionless data package, checked by the real `frictionless` tool.

The `tables/datapackage.json` the session's full crawl wrote beside its CSV files, and the
one `wikiarchive export` writes from the WARC files alone: `frictionless validate` must
accept both, and must reject the same files once corrupted.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import wikiarchive

from exports.datapackage import field_descriptor
from exports.tables import TABLES, Column

FRICTIONLESS = Path(sys.executable).parent / "frictionless"


@pytest.fixture(scope="module")
def tables_dir(full_crawl):
    """The tables folder the session's full crawl wrote, datapackage.json included."""
    return full_crawl.out / "tables"


@pytest.fixture(scope="module")
def exported_dir(full_crawl, tmp_path_factory):
    """The tables `wikiarchive export` writes from the same crawl's WARC files alone."""
    out = tmp_path_factory.mktemp("exported")
    (out / "warc").symlink_to(full_crawl.out / "warc")
    result = wikiarchive("export", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    return out / "tables"


# Table Schema (frictionless specs, "Table Schema": field types) for each Parquet type.
TABLE_SCHEMA_TYPES = {"string": "string", "int64": "integer", "bool": "boolean"}


def validate(tables: Path) -> tuple[int, dict]:
    result = subprocess.run(
        [str(FRICTIONLESS), "validate", "--json", str(tables / "datapackage.json")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.strip(), result.stderr[-2000:]
    return result.returncode, json.loads(result.stdout)


def failures(report: dict) -> dict[str, set[str]]:
    """Resource name -> the error types frictionless found in it."""
    return {
        task["name"]: {error["type"] for error in task["errors"]}
        for task in report["tasks"]
        if not task["valid"]
    }


def read_rows(path: Path) -> list[list[str]]:
    csv.field_size_limit(sys.maxsize)  # page bodies are long cells
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.reader(stream))


def write_rows(path: Path, rows: list[list[str]]) -> None:
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8", newline="")


def test_package_describes_every_table(tables_dir):
    package = json.loads((tables_dir / "datapackage.json").read_text(encoding="utf-8"))
    resources = {r["name"]: r for r in package["resources"]}
    assert list(resources) == list(TABLES)
    for name, columns in TABLES.items():
        resource = resources[name]
        assert resource["path"] == f"{name}.csv"
        assert (tables_dir / resource["path"]).exists()
        dialect = resource["dialect"]
        assert (dialect["header"], dialect["lineTerminator"]) == (True, "\r\n")
        schema = resource["schema"]
        assert schema["missingValues"] == [""]
        header = read_rows(tables_dir / f"{name}.csv")[0]
        assert [f["name"] for f in schema["fields"]] == header == [c.name for c in columns]
        for field, column in zip(schema["fields"], columns, strict=True):
            assert field["description"].startswith(column.meaning), (name, column.name)
    types = {
        (r["name"], f["name"]): f["type"]
        for r in package["resources"]
        for f in r["schema"]["fields"]
    }
    assert types[("pages", "page_id")] == "string"
    assert types[("pages", "word_count")] == "integer"
    assert types[("pages", "fetched_at")] == "datetime"
    assert types[("pages", "last_modified")] == "datetime"
    assert types[("changes", "body_changed")] == "boolean"
    assert resources["pages"]["schema"]["primaryKey"] == ["page_id"]
    assert resources["footnotes"]["schema"]["primaryKey"] == ["page_id", "number"]
    assert resources["crawls"]["schema"]["primaryKey"] == ["crawl_id"]
    to_pages = {"fields": ["page_id"], "reference": {"resource": "pages", "fields": ["page_id"]}}
    for name in ("footnotes", "citations", "links"):
        assert to_pages in resources[name]["schema"]["foreignKeys"], name
    for name in ("page_versions", "changes"):  # removed pages are not in `pages`
        keys = resources[name]["schema"]["foreignKeys"]
        assert all(k["reference"]["resource"] == "crawls" for k in keys), name
    link_keys = resources["links"]["schema"]["foreignKeys"]
    assert not [k for k in link_keys if "target" in k["fields"]]
    crawl_refs = {
        (r["name"], tuple(k["fields"]))
        for r in package["resources"]
        for k in r["schema"].get("foreignKeys", [])
        if k["reference"] == {"resource": "crawls", "fields": ["crawl_id"]}
    }
    assert {("pages", ("crawl_id",)), ("changes", ("to_crawl_id",))} <= crawl_refs
    assert ("page_versions", ("first_crawl_id",)) in crawl_refs


def test_field_types_are_the_parquet_types_in_table_schema_terms(tables_dir):
    """Each field's Table Schema type is the type of that column in the Parquet file the
    crawl wrote beside the CSV (timestamps are datetimes, with `Z` when in UTC)."""
    package = json.loads((tables_dir / "datapackage.json").read_text(encoding="utf-8"))
    for resource in package["resources"]:
        parquet = pq.read_schema(tables_dir / resource["path"].replace(".csv", ".parquet"))
        fields = resource["schema"]["fields"]
        assert [f["name"] for f in fields] == parquet.names, resource["name"]
        for field in fields:
            kind = parquet.field(field["name"]).type
            if pa.types.is_timestamp(kind):
                assert field["type"] == "datetime", (resource["name"], field["name"])
                assert ("`Z`" in field["description"]) == (kind.tz is not None), field
            else:
                assert field["type"] == TABLE_SCHEMA_TYPES[str(kind)], field
        names = {f["name"] for f in fields}
        assert set(resource["schema"].get("primaryKey", [])) <= names, resource["name"]


@pytest.mark.parametrize("written_by", ["crawl", "export"])
def test_frictionless_validates_the_tables(tables_dir, exported_dir, written_by):
    """The datapackage.json a crawl writes, and the one `wikiarchive export` writes."""
    tables_dir = {"crawl": tables_dir, "export": exported_dir}[written_by]
    code, report = validate(tables_dir)
    assert code == 0 and report["valid"], failures(report)
    rows = {task["name"]: task["stats"].get("rows", 0) for task in report["tasks"]}
    for name in TABLES:  # every row was read and checked
        assert rows[name] == pq.read_metadata(tables_dir / f"{name}.parquet").num_rows, name
    assert rows["pages"] > 30 and rows["footnotes"] > 30


def _duplicate_page(rows):
    rows.append(list(rows[3]))


def _non_integer_number(rows):
    rows[1][1] = "one"


def _dangling_page_id(rows):
    rows[1][0] = "no_such_page"


def _unreadable_date(rows):
    rows[1][4] = "7 June 2024"


def _bad_boolean(rows):
    rows[1][4] = "yes"


CORRUPTIONS = [
    ("pages", _duplicate_page, "primary-key"),
    ("footnotes", _non_integer_number, "type-error"),
    ("links", _dangling_page_id, "foreign-key"),
    ("pages", _unreadable_date, "type-error"),
    ("changes", _bad_boolean, "type-error"),
]


@pytest.mark.parametrize(
    ("table", "corrupt", "error"), CORRUPTIONS, ids=[c[1].__name__[1:] for c in CORRUPTIONS]
)
def test_corrupted_csv_is_invalid(tables_dir, tmp_path, table, corrupt, error):
    copy = tmp_path / "tables"
    shutil.copytree(tables_dir, copy)
    path = copy / f"{table}.csv"
    rows = read_rows(path)
    assert len(rows) > 3
    corrupt(rows)
    write_rows(path, rows)
    code, report = validate(copy)
    assert code != 0 and not report["valid"]
    assert error in failures(report).get(table, set()), failures(report)


def test_unmapped_column_type_is_refused():
    with pytest.raises(TypeError, match="no Table Schema type"):
        field_descriptor(Column("ratio", pa.float64(), "A new kind of column"))
