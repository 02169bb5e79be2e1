"""What the media corpus (tests/corpus_media) holds, read from its own files.

Expected values for the requisites and media tests come from here: the media files'
bytes and, for images, their width and height as Pillow reads them; which page embeds
or links which file, from the DokuWiki markup the pages are written in; the size
DokuWiki resizes an image to, by its own rule (``media_resize_image``: the height follows
the width unless both are given).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from PIL import Image
from wikibed import DokuWikiBed, load_manifest_toml

MEDIA_CORPUS = Path(__file__).parent / "corpus_media"
EDITED_MEDIA = "imaging:mri_axial.png"
EDITED_FILE = MEDIA_CORPUS / "media" / "mri_axial.r2.png"
MISSING_MEDIA = "imaging:missing_scan.png"
_MEDIA_MARKUP = re.compile(r"\{\{\s*([^}|?\s]+)(?:\?([^}|]*))?\s*(?:\|[^}]*)?\}\}")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif")


@dataclass(frozen=True)
class MediaFile:
    media_id: str
    path: Path

    @property
    def data(self) -> bytes:
        return self.path.read_bytes()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def size(self) -> tuple[int, int] | None:
        if not self.media_id.endswith(IMAGE_SUFFIXES):
            return None
        with Image.open(self.path) as image:
            return image.size


@dataclass(frozen=True)
class Use:
    """One ``{{media}}`` in a page's markup."""

    page_id: str
    media_id: str
    width: int | None
    height: int | None
    nolink: bool
    direct: bool

    @property
    def is_image(self) -> bool:
        return self.media_id.endswith(IMAGE_SUFFIXES)


@cache
def manifest() -> dict:
    return load_manifest_toml(MEDIA_CORPUS)


def media_files() -> dict[str, MediaFile]:
    return {m["id"]: MediaFile(m["id"], MEDIA_CORPUS / m["file"]) for m in manifest()["media"]}


def uses() -> list[Use]:
    """Every media use in the pages' markup, in page order."""
    found = []
    for page in manifest()["page"]:
        text = (MEDIA_CORPUS / page["file"]).read_text(encoding="utf-8")
        for media_id, options in _MEDIA_MARKUP.findall(text):
            words = (options or "").split("&")
            size = next((w for w in words if re.fullmatch(r"\d+(x\d+)?", w)), None)
            width = height = None
            if size:
                width_text, _, height_text = size.partition("x")
                width, height = int(width_text), int(height_text) if height_text else None
            found.append(Use(page["id"], media_id, width, height, "nolink" in words,
                             "direct" in words))
    return found


def resized(use: Use, original: tuple[int, int]) -> tuple[int, int]:
    """The size DokuWiki serves an image at for *use* (its resize rule)."""
    if use.width is None:
        return original
    if use.height is None:
        return use.width, round(use.width * original[1] / original[0])
    return use.width, use.height


def load(bed: DokuWikiBed) -> list[str]:
    return bed.load_corpus(MEDIA_CORPUS)
