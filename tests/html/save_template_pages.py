"""Save the template samples of tests/html: corpus pages served by each engine and template.

    .venv/bin/python tests/html/save_template_pages.py

Needs ../shared/dokuwiki/ (see tests/wikibed.py). Each page is saved as served, except
that the server's port is written as 37453 (the port of the older samples), so every
sample belongs to the same site, ``http://127.0.0.1:37453/wiki/``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from helpers import corpus_wiki  # noqa: E402 - after the path is set
from wikibed import (  # noqa: E402
    DEBIAN,
    DEFAULT_TEMPLATE,
    UPSTREAM,
    build_engine,
    http_get,
)

PORT = 37453
SHORT = {DEBIAN: "igor", UPSTREAM: "mort"}
TEMPLATES = (DEFAULT_TEMPLATE, "bootstrap3", "sprintdoc")
# (file stem, page id, extra conf, which (engine, template) pairs)
SAMPLES = [
    ("sah_trials", "vascular:subarachnoid_hemorrhage_trials", {}, None),
    ("chiari", "pediatric:chiari_malformation", {}, {(DEBIAN, "sprintdoc")}),
    ("magnesium_us", "magnesium", {"dformat": "%m/%d/%Y %H:%M"},
     {(UPSTREAM, DEFAULT_TEMPLATE), (DEBIAN, DEFAULT_TEMPLATE)}),
]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for engine in (DEBIAN, UPSTREAM):
            engine_dir = build_engine(Path(tmp) / "engines", engine, TEMPLATES[1:])
            for template in TEMPLATES:
                for stem, page_id, conf, pairs in SAMPLES:
                    if pairs is not None and (engine, template) not in pairs:
                        continue
                    root = Path(tmp) / f"{engine}-{template}-{stem}"
                    bed = corpus_wiki(root, engine=engine_dir, template=template, conf=conf)
                    try:
                        html = http_get(bed.page_url(page_id)).body
                        html = html.replace(f"127.0.0.1:{bed.port}".encode(),
                                            f"127.0.0.1:{PORT}".encode())
                    finally:
                        bed.stop()
                    name = f"{SHORT[engine]}-{template}-{stem}.html"
                    (HERE / name).write_bytes(html)
                    print(name, len(html))


if __name__ == "__main__":
    main()
