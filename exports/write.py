"""Write tables as CSV (RFC 4180, UTF-8) and Parquet with the same rows and types.

Rows are streamed in batches so memory stays flat. Each table is built in a scratch
file and swapped in only when complete and different: a failed export never leaves
half-written tables in place of good ones, and an unchanged table is not rewritten.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from importlib.abc import MetaPathFinder
from operator import itemgetter
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

# Rows held before a batch is written (to CSV at once, to Parquet with the batches that
# follow it, below); a batch is held three times (rows, Arrow, CSV text). Tables whose
# rows carry a whole article or its markup flush by size instead, after about
# WIDE_BATCH_CHARS characters of it: memory stays low whatever the articles' length
# (100 rows of long articles were tens of MB).
BATCH_ROWS = 2_000
WIDE_BATCH_CHARS = 1_000_000
# Batches are held as Arrow data (more compact than their rows) until they make this
# many bytes, then written as one Parquet row group: each column chunk costs about 1 KB
# of footer, held until the file closes, so a row group per batch made the export's
# memory grow with the wiki (5 MB at 20,000 pages, 222 row groups for `pages`).
ROW_GROUP_BYTES = 1024 * 1024
WIDE_COLUMNS = {"body_text", "markup"}
# pyarrow's default pool (mimalloc) keeps what a written batch freed; the system
# allocator hands it back, which keeps the export's peak memory lower. Passed to each
# writer and array; Arrow's C++ code (the Parquet writer's own buffers) takes its default
# from ARROW_DEFAULT_MEMORY_POOL, which the command line sets before Arrow loads.
POOL = pa.system_memory_pool()


def load_arrow() -> None:
    """Load now what writing the first table would, without pandas.

    pyarrow's first array imports pandas when it is installed, only to ask whether it was
    given a pandas object (about 0.2 s and 40 MB; no switch avoids it). The tables never
    are: for a process that writes them and never uses pandas (the archivist, `export`),
    that import fails, which pyarrow remembers as no pandas; later imports work again.
    """
    if "pandas" in sys.modules:
        return
    refuse = _RefusePandas()
    sys.meta_path.insert(0, refuse)
    try:
        pa.array([], pa.string(), memory_pool=POOL)
    finally:
        sys.meta_path.remove(refuse)


class _RefusePandas(MetaPathFinder):
    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name.partition(".")[0] == "pandas":
            raise ModuleNotFoundError("pandas is not loaded to write tables", name=name)


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
    """One table, written to ``NAME.csv`` and ``NAME.parquet`` side by side.

    Both files are written from the same Arrow arrays, so CSV cannot drift from
    Parquet; Arrow's CSV writer quotes every text cell, and leaves a missing value
    unquoted and empty (so ``""`` and null stay apart for readers that care).
    """

    def __init__(self, directory: Path, name: str, schema: pa.Schema, *, safe: bool = False):
        self.schema = schema
        self._wide = [name for name in schema.names if name in WIDE_COLUMNS]
        self._wide_at = [schema.names.index(name) for name in self._wide]
        # A row's cells in the schema's order (itemgetter of one name gives no tuple).
        names = schema.names
        self._cells_of = itemgetter(*names) if len(names) > 1 else lambda r: (r[names[0]],)
        # The batch: rows given as dicts not yet moved into the columns held, which
        # come first (rows given as columns are held as columns: cheaper than dicts for
        # a table of many narrow rows, such as links).
        self._rows: list[dict] = []
        self._columns: list[list] = [[] for _ in names]
        self._held = 0  # rows in the columns held
        self._chars = 0  # of the wide columns, in the batch
        self._group: list[pa.Table] = []  # batches written to CSV, not yet to Parquet
        self.rows = 0
        # Timestamps as ISO 8601 text, and with safe, every text cell checked.
        self._as_text = {
            f.name for f in schema
            if pa.types.is_timestamp(f.type) or (safe and pa.types.is_string(f.type))
        }
        self._cell = (lambda v: excel_safe(csv_value(v))) if safe else csv_value
        self._csv_schema = pa.schema(
            pa.field(f.name, pa.string()) if f.name in self._as_text else f for f in schema
        )
        self._csv = pacsv.CSVWriter(
            str(directory / f"{name}.csv"),
            self._csv_schema,
            write_options=_CSV_OPTIONS,
            memory_pool=POOL,
        )
        self._parquet = pq.ParquetWriter(
            directory / f"{name}.parquet", schema, memory_pool=POOL
        )

    def write(self, rows: Iterable[dict]) -> None:
        """Rows as dicts keyed by column name."""
        for row in rows:
            self._rows.append(row)
            for name in self._wide:
                self._chars += len(row[name] or "")
            if self._held + len(self._rows) >= BATCH_ROWS or self._chars >= WIDE_BATCH_CHARS:
                self._flush()

    def write_columns(self, columns: Sequence[Sequence]) -> None:
        """Rows given as columns: one sequence per column in the schema's order, all of
        one length."""
        if len(columns) != len(self._columns) or len({len(c) for c in columns}) > 1:
            raise ValueError(f"{len(self._columns)} columns of one length expected")
        self._take_rows()
        for held, values in zip(self._columns, columns, strict=True):
            held.extend(values)
        for at in self._wide_at:
            self._chars += sum(map(len, filter(None, columns[at])))
        self._held += len(columns[0])
        if self._held >= BATCH_ROWS or self._chars >= WIDE_BATCH_CHARS:
            self._flush()

    def close(self) -> None:
        self._flush()
        self._write_group()
        self._parquet.close()
        self._csv.close()

    def _take_rows(self) -> None:
        """Move the rows given as dicts into the columns held, transposed in C: a
        field's name is a call into Arrow, too dear to make once per cell."""
        if self._rows:
            cells = zip(*map(self._cells_of, self._rows), strict=True)
            for held, values in zip(self._columns, cells, strict=True):
                held.extend(values)
            self._held += len(self._rows)
            self._rows.clear()

    def _flush(self) -> None:
        self._take_rows()
        if not self._held:
            return
        columns, csv_columns = [], []
        for field, values in zip(self.schema, self._columns, strict=True):
            columns.append(pa.array(values, field.type, memory_pool=POOL))
            if field.name in self._as_text:
                # Python formats these cells: Arrow's own casts would load its compute
                # kernels, tens of MB for a handful of timestamps.
                values = [None if v is None else self._cell(v) for v in values]
                csv_columns.append(pa.array(values, pa.string(), memory_pool=POOL))
            else:
                csv_columns.append(columns[-1])
        self._group.append(pa.Table.from_arrays(columns, schema=self.schema))
        if sum(batch.nbytes for batch in self._group) >= ROW_GROUP_BYTES:
            self._write_group()
        self._csv.write_table(pa.Table.from_arrays(csv_columns, schema=self._csv_schema))
        self.rows += self._held
        self._columns = [[] for _ in self._columns]
        self._held = 0
        self._chars = 0

    def _write_group(self) -> None:
        if self._group:
            group = pa.concat_tables(self._group)
            self._parquet.write_table(group, row_group_size=group.num_rows)
        self._group.clear()


_CSV_OPTIONS = pacsv.WriteOptions(eol="\r\n", quoting_header="none", batch_size=100)


class TableSet:
    """The tables of one export, each written beside its files and swapped in alone.

    Each table goes to scratch files in ``target``; on commit, a file whose bytes equal
    the one in place is dropped (the old file, and its mtime, stay), any other replaces
    it with ``os.replace``: a reader never sees half a table, and a table that did not
    change is not rewritten.
    """

    def __init__(
        self,
        target: Path,
        schemas: dict[str, pa.Schema],
        *,
        excel_safe: bool = False,
        only: set[str] | None = None,
    ):
        self.target = Path(target)
        self.target.mkdir(parents=True, exist_ok=True)
        self.scratch = self.target / ".scratch"
        shutil.rmtree(self.scratch, ignore_errors=True)
        self.scratch.mkdir()
        self.writers = {
            name: TableWriter(self.scratch, name, schema, safe=excel_safe)
            for name, schema in schemas.items()
            if only is None or name in only
        }
        self.replaced: list[str] = []  # file names that changed

    def __contains__(self, name: str) -> bool:
        return name in self.writers

    def __getitem__(self, name: str) -> TableWriter:
        return self.writers[name]

    def commit(self) -> dict[str, int]:
        """Close every table, swap in the files that changed; rows per table written."""
        for writer in self.writers.values():
            writer.close()
        for written in sorted(self.scratch.iterdir()):
            if replace_if_changed(written, self.target / written.name):
                self.replaced.append(written.name)
        shutil.rmtree(self.scratch, ignore_errors=True)
        return {name: w.rows for name, w in self.writers.items()}

    def abort(self) -> None:
        for writer in self.writers.values():
            try:
                writer.close()
            except Exception:  # already failing; the scratch folder goes anyway
                pass
        shutil.rmtree(self.scratch, ignore_errors=True)


def replace_if_changed(new: Path, target: Path) -> bool:
    """Move ``new`` over ``target`` unless their bytes are equal (then ``new`` goes and
    ``target`` keeps its mtime); True when ``target`` changed."""
    if target.exists() and _same_bytes(new, target):
        new.unlink()
        return False
    os.chmod(new, 0o644)
    os.replace(new, target)
    return True


def _same_bytes(a: Path, b: Path, chunk: int = 1 << 20) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    with open(a, "rb") as one, open(b, "rb") as other:
        while True:
            left, right = one.read(chunk), other.read(chunk)
            if left != right:
                return False
            if not left:
                return True
