"""Write tables as CSV (RFC 4180, UTF-8) and Parquet with the same rows and types.

Rows are streamed in batches so memory stays flat, and a whole set of tables is
built in a scratch folder and swapped in at the end: a failed export never
leaves half-written tables in place of good ones.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

# Small batches: a pages row carries a whole article, and memory must stay flat in N.
BATCH_ROWS = 500
# pyarrow's default pool (mimalloc) keeps what a written batch freed; the system
# allocator hands it back, which keeps the export's peak memory lower.
pa.set_memory_pool(pa.system_memory_pool())


# Cells a spreadsheet would run as a formula (CWE-1236).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def excel_safe(value: object) -> object:
    """Defuse a cell that starts like a formula by quoting it with a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_value(value: object) -> object:
    """ISO 8601 for timestamps (UTC as ``Z``); empty for missing values."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        text = value.isoformat()
        return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text
    return value


class TableWriter:
    """One table, written to ``NAME.csv`` and ``NAME.parquet`` side by side."""

    def __init__(self, directory: Path, name: str, schema: pa.Schema, *, safe: bool = False):
        self.schema = schema
        self._cell = (lambda v: excel_safe(csv_value(v))) if safe else csv_value
        self._batch: list[dict] = []
        self.rows = 0
        self._csv_file = open(directory / f"{name}.csv", "w", newline="", encoding="utf-8")  # noqa: SIM115
        self._csv = csv.writer(self._csv_file, lineterminator="\r\n")
        self._csv.writerow(schema.names)
        self._parquet = pq.ParquetWriter(directory / f"{name}.parquet", schema)

    def write(self, rows: Iterable[dict]) -> None:
        for row in rows:
            self._batch.append(row)
            if len(self._batch) >= BATCH_ROWS:
                self._flush()

    def close(self) -> None:
        self._flush()
        self._parquet.close()
        self._csv_file.close()

    def _flush(self) -> None:
        if not self._batch:
            return
        names = self.schema.names
        self._csv.writerows([self._cell(row[n]) for n in names] for row in self._batch)
        self._parquet.write_table(pa.Table.from_pylist(self._batch, schema=self.schema))
        self.rows += len(self._batch)
        self._batch.clear()


class TableSet:
    """All tables of one export, swapped into ``target`` only when complete."""

    def __init__(self, target: Path, schemas: dict[str, pa.Schema], *, excel_safe: bool = False):
        self.target = Path(target)
        self.scratch = self.target.with_name(self.target.name + ".new")
        shutil.rmtree(self.scratch, ignore_errors=True)
        self.scratch.mkdir(parents=True)
        self.writers = {
            name: TableWriter(self.scratch, name, schema, safe=excel_safe)
            for name, schema in schemas.items()
        }

    def __getitem__(self, name: str) -> TableWriter:
        return self.writers[name]

    def commit(self) -> dict[str, int]:
        for writer in self.writers.values():
            writer.close()
        old = self.target.with_name(self.target.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if self.target.exists():
            self.target.rename(old)
        self.scratch.rename(self.target)
        shutil.rmtree(old, ignore_errors=True)
        return {name: w.rows for name, w in self.writers.items()}

    def abort(self) -> None:
        for writer in self.writers.values():
            try:
                writer.close()
            except Exception:  # already failing; the scratch folder goes anyway
                pass
        shutil.rmtree(self.scratch, ignore_errors=True)
