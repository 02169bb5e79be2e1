"""Where everything lives in an output folder: one place decides it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from archive.catalog import CATALOG_NAME
from archive.index import INDEX_DIR


@dataclass(frozen=True, slots=True)
class Layout:
    """``OUT/warc`` (the WARC files, the source of truth), ``OUT/catalog.sqlite``,
    ``OUT/tables`` and ``OUT/indexes``."""

    root: Path

    @property
    def warc(self) -> Path:
        return self.root / "warc"

    @property
    def catalog(self) -> Path:
        return self.root / CATALOG_NAME

    @property
    def tables(self) -> Path:
        return self.root / "tables"

    @property
    def indexes(self) -> Path:
        return self.root / INDEX_DIR
