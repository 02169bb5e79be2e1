"""Table files written from one Arrow batch: the CSV shows what the Parquet holds."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

import exports.write as write_module
from exports.write import TableWriter

SCHEMA = pa.schema(
    [
        ("text", pa.string()),
        ("n", pa.int64()),
        ("flag", pa.bool_()),
        ("local", pa.timestamp("ms")),
        ("at", pa.timestamp("us", tz="UTC")),
    ]
)
ROWS = [
    {"text": 'say "hi",\r\nbye', "n": 1, "flag": True,
     "local": datetime(2024, 6, 7, 3, 0), "at": datetime(2026, 1, 2, 3, 4, 5, 600, tzinfo=UTC)},
    {"text": "", "n": None, "flag": False, "local": None,
     "at": datetime(2026, 1, 2, tzinfo=UTC)},
    {"text": None, "n": -3, "flag": None, "local": datetime(2024, 6, 7, 3, 0, 1, 500000),
     "at": None},
]


def write(tmp_path, rows=ROWS):
    writer = TableWriter(tmp_path, "t", SCHEMA)
    writer.write(rows)
    writer.close()
    return (tmp_path / "t.csv").read_bytes()


def test_csv_text_of_each_type(tmp_path):
    raw = write(tmp_path)
    assert raw.split(b"\r\n") == [
        b"text,n,flag,local,at",
        b'"say ""hi"",',  # the cell's own CRLF stays inside its quotes
        b'bye",1,true,"2024-06-07T03:00:00","2026-01-02T03:04:05.000600Z"',
        b'"",,false,,"2026-01-02T00:00:00Z"',
        b',-3,,"2024-06-07T03:00:01.500000",',
        b"",
    ]


def test_csv_reads_back_as_the_parquet(tmp_path):
    write(tmp_path)
    con = duckdb.connect()
    from_csv = con.execute(
        f"SELECT * FROM read_csv('{tmp_path / 't.csv'}', header=true, allow_quoted_nulls=false, "
        "columns={'text':'VARCHAR','n':'BIGINT','flag':'BOOLEAN','local':'TIMESTAMP',"
        "'at':'TIMESTAMPTZ'})"
    ).fetchall()
    from_parquet = con.execute(f"SELECT * FROM '{tmp_path / 't.parquet'}'").fetchall()
    assert from_csv == from_parquet
    assert [row[0] for row in from_csv] == ['say "hi",\r\nbye', "", None]  # "" is not null


def test_batches_are_gathered_into_row_groups_of_a_set_size(tmp_path, monkeypatch):
    monkeypatch.setattr(write_module, "BATCH_ROWS", 100)
    monkeypatch.setattr(write_module, "ROW_GROUP_BYTES", 20_000)
    many = [dict(ROWS[0], n=i) for i in range(5_000)]
    write(tmp_path, many)
    parquet = pq.ParquetFile(tmp_path / "t.parquet")
    sizes = [parquet.metadata.row_group(i).num_rows for i in range(parquet.num_row_groups)]
    assert sum(sizes) == 5_000 and all(size % 100 == 0 for size in sizes)  # whole batches
    assert 1 < len(sizes) < 50  # fewer row groups than batches
    for i in range(len(sizes) - 1):  # each but the last reached the size
        assert parquet.read_row_group(i).nbytes >= 20_000
    assert pq.read_table(tmp_path / "t.parquet").column("n").to_pylist() == list(range(5_000))
    csv = (tmp_path / "t.csv").read_bytes()
    assert csv.count(b"\r\nbye\",") == 5_000  # every row in the CSV too, once


def test_rows_carrying_articles_are_batched_by_size_not_count(tmp_path, monkeypatch):
    monkeypatch.setattr(write_module, "ROW_GROUP_BYTES", 0)  # a row group per batch
    schema = pa.schema([("page_id", pa.string()), ("body_text", pa.string())])
    long = [{"page_id": f"long{i}", "body_text": "x" * 300_000} for i in range(10)]
    short = [{"page_id": f"short{i}", "body_text": "word " * 20} for i in range(3_000)]
    writer = TableWriter(tmp_path, "pages", schema)
    writer.write(long + short)
    writer.close()
    groups = pq.ParquetFile(tmp_path / "pages.parquet").metadata
    sizes = [groups.row_group(i).num_rows for i in range(groups.num_row_groups)]
    # About 1 M characters a group: four long articles each; the last two long ones and
    # the short rows after them then reach the 2,000-row cap long before 1 M characters.
    assert sizes == [4, 4, 2_000, 1_002]
    assert pq.read_table(tmp_path / "pages.parquet").column("page_id").to_pylist() == [
        row["page_id"] for row in long + short
    ]


def test_cells_are_taken_by_name_whatever_the_rows_key_order(tmp_path):
    # Rows are dicts: their keys' order is the builder's, the columns' is the schema's.
    shuffled = [dict(reversed(list(row.items()))) for row in ROWS]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert list(shuffled[0]) != SCHEMA.names
    assert write(tmp_path / "a", shuffled) == write(tmp_path / "b")


def test_a_table_of_one_column(tmp_path):
    writer = TableWriter(tmp_path, "one", pa.schema([("page_id", pa.string())]))
    writer.write([{"page_id": "magnesium"}, {"page_id": "start"}])
    writer.close()
    assert (tmp_path / "one.csv").read_bytes() == b'page_id\r\n"magnesium"\r\n"start"\r\n'
    assert pq.read_table(tmp_path / "one.parquet").column("page_id").to_pylist() == [
        "magnesium", "start"
    ]


def test_a_process_made_ready_to_write_tables_never_loads_pandas(tmp_path):
    # pyarrow's first array would import pandas (0.2 s, 40 MB) in the archivist.
    code = (
        "import sys; from pathlib import Path; from exports.write import TableWriter, "
        "load_arrow; import pyarrow as pa; load_arrow(); "
        f"w = TableWriter(Path({str(tmp_path)!r}), 't', pa.schema([('a', pa.string())])); "
        "w.write([{'a': 'x'}]); w.close(); "
        "print('pandas' in sys.modules); import pandas; print(pandas.DataFrame.__name__)"
    )
    said = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.split()
    assert said == ["False", "DataFrame"]  # not loaded, and still there for who wants it
    assert pq.read_table(tmp_path / "t.parquet").column("a").to_pylist() == ["x"]
