"""Expected values for the test corpus, derived from its markup and manifest only.

Never derived from crawler output: tests compare what the crawler extracted against these.
Supports exactly the DokuWiki markup the corpus uses (headings, internal and external links,
bare URLs, footnotes with **bold** and //italic//, code blocks); keep the corpus inside that.
The rules (link resolution, footnote numbering and merging, typography) follow DokuWiki
2022-07-31 "Igor" with default settings; see docs/dokuwiki.md.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

try:  # tests/ is on sys.path under pytest; importing as tests.corpus_expect works too
    from wikibed import clean_id
except ImportError:  # pragma: no cover
    from tests.wikibed import clean_id

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
START_PAGE = "start"


@dataclass(frozen=True)
class ExpectedFootnote:
    numbers: list[int]  # reference numbers; more than one when identical texts were merged
    text: str  # plain text as DokuWiki renders it (typography applied)
    pmid: str | None
    pmcid: str | None
    doi: str | None  # the real DOI from the source (DokuWiki may show 5x7 as 5×7)
    urls: list[str]  # external link targets and bare URLs, in order


@dataclass(frozen=True)
class ExpectedRevision:
    date: str  # "YYYY-MM-DDTHH:MM:SS", UTC
    summary: str
    user: str


@dataclass(frozen=True)
class ExpectedPage:
    page_id: str
    namespace: str
    title: str
    last_modified: str  # "YYYY-MM-DDTHH:MM:SS", UTC, of the last revision
    footnotes: list[ExpectedFootnote]
    links_existing: list[str]  # resolved clean ids of internal links to pages that exist
    links_missing: list[str]  # ... to pages that do not exist (red links)
    revisions: list[ExpectedRevision] = field(default_factory=list)  # oldest first
    media: list[str] = field(default_factory=list)
    file: str = ""

    @property
    def footnote_refs(self) -> int:
        return sum(len(fn.numbers) for fn in self.footnotes)


# --------------------------------------------------------------------------- markup


_UNPARSED = re.compile(
    r"<code\b.*?</code>|<file\b.*?</file>|<nowiki>.*?</nowiki>|%%.*?%%", re.DOTALL
)
_HEADING = re.compile(r"^[ \t]*(={2,6})(.+?)={2,}[ \t]*$", re.MULTILINE)
_LINK = re.compile(r"\[\[(.+?)\]\]")
_FOOTNOTE = re.compile(r"\(\((.*?)\)\)", re.DOTALL)
_MEDIA = re.compile(r"\{\{\s*([^|}?\s]+)")
# DokuWiki's bare-URL pattern (inc/Parsing/ParserMode/Externallink.php), http(s)/ftp only.
_URL_ANY = r"\w/\#~:.?+=&%@!\-\[\].:?\-;,"
_URL_PUNC = r".:?\-;,"
_BARE_URL = re.compile(
    rf"\b(?i:https?|ftp)://[{_URL_ANY}]+?(?=[{_URL_PUNC}]*(?:[^{_URL_ANY}]|$))"
)
_EXTERNAL = re.compile(r"^(?i:[a-z][a-z0-9+.\-]*://|www\.)")
# conf/entities.conf, in file order (the lexer tries alternatives in this order).
_ENTITIES = {
    "<->": "↔", "->": "→", "<-": "←", "<=>": "⇔", "=>": "⇒", "<=": "⇐", ">>": "»", "<<": "«",
    "---": "—", "--": "–", "(c)": "©", "(tm)": "™", "(r)": "®", "...": "…",
}
_ENTITY_RE = re.compile("|".join(re.escape(k) for k in _ENTITIES))
_MULTIPLY_RE = re.compile(r"(?<=\b)((?:[1-9]|\d{2,}))[xX](\d+)(?=\b)")
_FORMATTING = re.compile(r"\*\*|//|__|''")


def parsed_markup(markup: str) -> str:
    """Markup without code/nowiki sections, whose content DokuWiki does not parse."""
    return _UNPARSED.sub(" ", markup)


def namespace_of(page_id: str) -> str:
    return page_id.rpartition(":")[0]


def page_title(markup: str, page_id: str) -> str:
    """First level-1 heading, else the first heading, else the page id."""
    headings = [(7 - len(m.group(1)), m.group(2).strip()) for m in _HEADING.finditer(markup)]
    for level, text in headings:
        if level == 1:
            return text
    return headings[0][1] if headings else page_id


def resolve_page_id(target: str, context_id: str) -> str:
    """DokuWiki's PageResolver: relative ids, ``.:``/``..:`` and ``:`` prefixes, cleanID."""
    target = target.split("#", 1)[0].replace(";", ":")
    if not target:
        return context_id
    context_ns = namespace_of(context_id)
    if target.startswith("~"):
        target = f"{context_id}:{target[1:]}"
    if target.startswith("."):
        target = re.sub(r"^((\.+:)*)(\.+)(?=[^:.])", r"\1\3:", target)
        target = f"{context_ns}:{target}"
    if ":" not in target:  # no namespace given: relative to the current one
        target = f"{context_ns}:{target}"
    parts: list[str] = []
    for part in target.split(":"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    resolved = ":".join(parts)
    if target.endswith(":"):
        resolved += ":" + START_PAGE  # the corpus only links namespaces with a start page
    return clean_id(resolved)


def _split_link(inner: str) -> tuple[str, str | None]:
    target, sep, label = inner.partition("|")
    return target.strip(), (label.strip() if sep else None)


def internal_links(markup: str, context_id: str) -> list[str]:
    """Resolved ids of internal links, in document order (duplicates kept)."""
    ids = []
    for match in _LINK.finditer(parsed_markup(markup)):
        target, _label = _split_link(match.group(1))
        if _EXTERNAL.match(target) or ">" in target or target.startswith(("\\\\", "#")):
            continue
        ids.append(resolve_page_id(target, context_id))
    return ids


def media_ids(markup: str) -> list[str]:
    return [clean_id(m.group(1)) for m in _MEDIA.finditer(parsed_markup(markup))]


def typography(text: str) -> str:
    """DokuWiki's text rewrites (typography=1, no double quotes in the corpus)."""
    text = _ENTITY_RE.sub(lambda m: _ENTITIES[m.group(0)], text)
    return _MULTIPLY_RE.sub(r"\1×\2", text)


def _simple_title(target: str) -> str:
    # Link text of an internal link without label (useheading=0): the id without namespace.
    name, _sep, anchor = target.partition("#")
    if anchor:
        return anchor
    return name.rstrip(":").rpartition(":")[2] or name


def inline_text(markup: str) -> str:
    """Plain text of inline markup as DokuWiki renders it: link labels or URLs, formatting
    stripped, typography applied outside links, whitespace collapsed."""
    out = []
    pos = 0
    token = re.compile(f"{_LINK.pattern}|{_BARE_URL.pattern}")
    for match in token.finditer(markup):
        out.append(typography(_FORMATTING.sub("", markup[pos:match.start()])))
        if match.group(1) is not None:
            target, label = _split_link(match.group(1))
            if label is not None:
                out.append(label)
            elif _EXTERNAL.match(target):
                out.append(target)
            else:
                out.append(_simple_title(target))
        else:
            out.append(match.group(0))
        pos = match.end()
    out.append(typography(_FORMATTING.sub("", markup[pos:])))
    return " ".join("".join(out).split())


def external_urls(markup: str) -> list[str]:
    urls = []
    token = re.compile(f"{_LINK.pattern}|{_BARE_URL.pattern}")
    for match in token.finditer(markup):
        if match.group(1) is not None:
            target, _label = _split_link(match.group(1))
            if _EXTERNAL.match(target):
                urls.append(target)
        else:
            urls.append(match.group(0))
    return urls


def _clean_doi(doi: str) -> str:
    while True:
        stripped = doi.rstrip(".,;:")
        if stripped.endswith(")") and stripped.count("(") < stripped.count(")"):
            stripped = stripped[:-1]
        if stripped == doi:
            return doi
        doi = stripped


def visible_text(markup: str) -> tuple[str, list[tuple[int, str, str]]]:
    """(text a reader sees, without typography; (position, target, label) of each external
    link with a label). A bare URL shows itself, so it is text, whatever DokuWiki links."""
    out: list[str] = []
    links = []
    pos = 0
    token = re.compile(f"{_LINK.pattern}|{_BARE_URL.pattern}")
    for match in token.finditer(markup):
        out.append(_FORMATTING.sub("", markup[pos:match.start()]))
        if match.group(1) is not None:
            target, label = _split_link(match.group(1))
            if label is not None:
                if _EXTERNAL.match(target):
                    links.append((len("".join(out)), target, label))
                out.append(label)
            else:
                out.append(target if _EXTERNAL.match(target) else _simple_title(target))
        else:
            out.append(match.group(0))
        pos = match.end()
    out.append(_FORMATTING.sub("", markup[pos:]))
    return "".join(out), links


# The identifiers a reader sees: (pattern in text, pattern in a link target).
_DOI = (r"(?<![\w.])(10\.\d{4,9}/[^\s|\]]+)", r"^https?://(?:dx\.)?doi\.org/(10\.\d{4,9}/\S+)$")
_PMID = (r"PMID:?\s*(\d+)|pubmed\.ncbi\.nlm\.nih\.gov/(\d+)", r"pubmed\.ncbi\.nlm\.nih\.gov/(\d+)")
_PMCID = (r"\b(PMC\d+)\b", r"/articles/(PMC\d+)")


def _identifier(kinds: tuple[str, str], text: str, links: list[tuple[int, str, str]]) -> str | None:
    """First identifier in the visible text; a labelled link's target counts where its
    label shows none, at the link's place."""
    in_text, in_target = kinds
    found = re.search(in_text, text)
    for position, target, label in links:
        if found and found.start() <= position:
            break
        if not re.search(in_text, label):
            hit = re.search(in_target, target)
            if hit:
                return hit.group(1)
    if not found:
        return None
    return next(group for group in found.groups() if group)


def footnotes(markup: str) -> list[ExpectedFootnote]:
    """Footnote blocks in DokuWiki order: references are numbered 1..n in document order;
    a footnote identical to an earlier one adds its number to the earlier block."""
    blocks: dict[str, list[int]] = {}  # source text -> numbers, insertion order = block order
    for number, match in enumerate(_FOOTNOTE.finditer(parsed_markup(markup)), start=1):
        blocks.setdefault(match.group(1), []).append(number)
    result = []
    for source, numbers in blocks.items():
        text, links = visible_text(source)
        doi = _identifier(_DOI, text, links)
        result.append(
            ExpectedFootnote(
                numbers=numbers,
                text=inline_text(source),
                pmid=_identifier(_PMID, text, links),
                pmcid=_identifier(_PMCID, text, links),
                doi=_clean_doi(doi) if doi else None,
                urls=external_urls(source),
            )
        )
    return result


# --------------------------------------------------------------------------- manifest


def _iso(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%S")


def load_manifest(corpus_dir: Path = CORPUS_DIR) -> list[ExpectedPage]:
    """Expected values for every page of the corpus, in manifest order."""
    with open(Path(corpus_dir) / "manifest.toml", "rb") as fh:
        manifest = tomllib.load(fh)
    existing = {page["id"] for page in manifest["page"]}
    pages = []
    for entry in manifest["page"]:
        page_id = entry["id"]
        markup = (Path(corpus_dir) / entry["file"]).read_text(encoding="utf-8")
        revisions = [
            ExpectedRevision(_iso(r["date"]), r.get("summary", ""), r.get("user", ""))
            for r in sorted(entry["revisions"], key=lambda r: r["date"])
        ]
        links = set(internal_links(markup, page_id))
        pages.append(
            ExpectedPage(
                page_id=page_id,
                namespace=namespace_of(page_id),
                title=page_title(parsed_markup(markup), page_id),
                last_modified=revisions[-1].date,
                footnotes=footnotes(markup),
                links_existing=sorted(links & existing),
                links_missing=sorted(links - existing),
                revisions=revisions,
                media=media_ids(markup),
                file=entry["file"],
            )
        )
    return pages


def expected_by_id(corpus_dir: Path = CORPUS_DIR) -> dict[str, ExpectedPage]:
    return {page.page_id: page for page in load_manifest(corpus_dir)}


def orphan_pages(pages: list[ExpectedPage]) -> list[str]:
    """Pages no other page links to (the start page excluded)."""
    linked = {target for page in pages for target in page.links_existing if target != page.page_id}
    return [p.page_id for p in pages if p.page_id not in linked and p.page_id != START_PAGE]
