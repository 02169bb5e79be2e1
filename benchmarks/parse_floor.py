"""How far below our parse a page can be read at all: the floor under `export` and the
archivist's per-page work.

Usage: python benchmarks/parse_floor.py [--pages 2000] [--rounds 5] [--from OUT]
                                        [--output benchmarks/RESULTS-parse-floor.md]

Crawls a generated wiki once (benchmarks/floor.py's ``crawled_once``: the real DokuWiki on
127.0.0.1), or takes the crawl in ``--from``, then times on one core, per article:

* reading its response back from the WARC (what `export` does first);
* ``parse_capture``, our parse (page and what it loads, one tree);
* lxml's tree alone, from the decoded text (as the parser builds it) and from the bytes;
* lexbor's tree alone (selectolax, when installed: it is no dependency of the project);
* each element of the lxml tree visited once from Python, no work done on it;
* our body-text walk of the article alone, and an XSLT pass (libxslt, C) over the whole
  page with templates for the same block rules, output as text: extraction in C;
* lxml's ``itertext`` over the body (the cheapest text of a page there is).

CPU seconds of the process, best of the rounds. The trees are built before the walks
that need them; nothing is kept between phases.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
from pathlib import Path

from floor import crawled_once
from run import head_revision, log, phases_on_one_core

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# Run on core 0 in the repository with the crawl's folder and the rounds.
TIMED = r"""
import json, sys, time
from pathlib import Path
sys.path.insert(0, ".")
from lxml import etree
from archive.reader import crawl_files, iter_file_records
from archive.ingest import is_article, wants_body
from crawler import parse as P

out, rounds = Path(sys.argv[1]), int(sys.argv[2])
files = [path for group in crawl_files(out / "warc").values() for path in group]

def read():
    return [(item.url, item.body, item.site) for path in files
            for item in iter_file_records(path, want_body=wants_body)
            if not isinstance(item, dict) and is_article(item)]

docs = read()
site = docs[0][2]
BYTES = etree.HTMLParser(remove_pis=True, no_network=True, recover=True,
                         default_doctype=False, encoding="utf-8")
TEXT = etree.XSLT(etree.XML('''
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
<xsl:output method="text"/>
<xsl:template match="head|script|style|noscript|form|button|*[@id='dw__toc']
  |*[contains(concat(' ', @class, ' '), ' secedit ')]
  |*[contains(concat(' ', @class, ' '), ' footnotes ')]"/>
<xsl:template match="p|h1|h2|h3|h4|h5|h6|ul|ol|dl|table|blockquote|hr|pre">
  <xsl:text>&#10;&#10;</xsl:text><xsl:apply-templates/><xsl:text>&#10;&#10;</xsl:text>
</xsl:template>
<xsl:template match="div|li|dt|dd|tr|br">
  <xsl:text>&#10;</xsl:text><xsl:apply-templates/><xsl:text>&#10;</xsl:text>
</xsl:template>
</xsl:stylesheet>'''))

def visit(root):
    for _ in root.iter():
        pass

def best(work, items):
    spent = []
    for _ in range(rounds):
        began = time.process_time()
        for item in items:
            work(item)
        spent.append(time.process_time() - began)
    return min(spent) / len(items) * 1000

texts = [P._decode(body) for _, body, _ in docs]
ms = {
    "read": best(lambda _: read(), [None]) / len(docs),
    "parse_capture": best(lambda d: P.parse_capture(d[0], d[1], site=site), docs),
    "tree_text": best(P._tree, texts),
    "tree_bytes": best(lambda d: etree.fromstring(d[1], BYTES), docs),
}
try:
    from selectolax.lexbor import LexborHTMLParser
    ms["tree_lexbor"] = best(lambda d: LexborHTMLParser(d[1]), docs)
except ImportError:
    ms["tree_lexbor"] = None
roots = [P._tree(text) for text in texts]
articles = [P._article(root)[0] for root in roots]
ms["visit"] = best(visit, roots)
ms["body_walk"] = best(P._body_text, articles)
ms["xslt_text"] = best(lambda root: str(TEXT(root)), roots)
ms["itertext"] = best(lambda root: "".join(root.find("body").itertext()), roots)
elements = sum(1 for root in roots for _ in root.iter()) / len(roots)
size = sum(len(body) for _, body, _ in docs) / len(docs)
print("PHASES " + json.dumps({"ms": ms, "pages": len(docs), "elements": elements,
                              "bytes": size}))
"""

ROWS = (
    ("read", "reading the response back from the WARC"),
    ("parse_capture", "**our parse** (`parse_capture`: page and what it loads)"),
    ("tree_text", "lxml's tree from the decoded text (as the parser builds it)"),
    ("tree_bytes", "lxml's tree from the bytes"),
    ("tree_lexbor", "lexbor's tree from the bytes (selectolax)"),
    ("visit", "every element of the lxml tree visited from Python, nothing done"),
    ("body_walk", "our body-text walk of the article (tree built)"),
    ("xslt_text", "XSLT (libxslt, C) over the page with the block rules, as text"),
    ("itertext", "lxml `itertext` of the body, joined"),
)


def render(result: dict, args: argparse.Namespace, rev: str) -> str:
    ms = result["ms"]
    trees = [value for key, value in ms.items() if key.startswith("tree_") and value]
    floor = ms["read"] + min(trees)
    lines = [
        f"# Below our parse: what reading a page costs at all ({result['pages']} pages)",
        "",
        f"Produced by `python benchmarks/parse_floor.py --pages {args.pages} --rounds "
        f"{args.rounds}` at {rev} on core 0 ({platform.python_implementation()} "
        f"{platform.python_version()}): the generated wiki's articles as crawled from the "
        f"real DokuWiki on 127.0.0.1, {result['bytes'] / 1024:.1f} KiB and "
        f"{result['elements']:.0f} elements a page on average. CPU ms per page, best of "
        f"{args.rounds} rounds.",
        "",
        "| phase | ms per page |",
        "|---|---:|",
    ]
    for key, label in ROWS:
        value = ms.get(key)
        lines.append(f"| {label} | {'not installed' if value is None else f'{value:.3f}'} |")
    lines += [
        "",
        f"Reading a page back and building its tree, the fastest of those measured, is "
        f"{floor:.3f} ms: at most {1000 / floor:.0f} pages/s of one core before anything "
        f"is read from the tree; `export` at 1,000 pages/s has 1 ms a page for all of it.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--from", dest="crawl", metavar="OUT",
                        help="a crawl's output folder, instead of crawling a new wiki")
    parser.add_argument("--output", default=str(HERE / "RESULTS-parse-floor.md"))
    args = parser.parse_args()
    rev = head_revision()
    with tempfile.TemporaryDirectory(prefix="parse-floor-") as tmp:
        out = Path(args.crawl) if args.crawl else crawled_once(args.pages, Path(tmp))
        log("timing")
        result = phases_on_one_core(ROOT, TIMED, str(out.resolve()), str(args.rounds))
    text = render(result, args, rev)
    Path(args.output).write_text(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
