"""Parse a served DokuWiki page into a :class:`Page` (pure, no I/O).

Built on lxml's HTML parser (BeautifulSoup only when lxml cannot build a tree), one
tree per page. What is read follows DokuWiki's renderer, not a template, so the same
page gives the same Page under any template or release:

* the article is what the renderer wrote (section headings and ``div.levelN``, the
  footnotes), wherever the template put it, without what the template adds around or
  inside it (page tools, share menus, breadcrumbs, panels, the table of contents);
* the date comes from the page info line wherever the template prints it, an exact
  ``<time datetime>`` first;
* identifiers come from the text a reader sees, a link's target only where its text
  shows none.

``Page.layout`` says how the article was found, so an unknown template shows.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable, Iterable, Iterator
from urllib.parse import parse_qsl, unquote, urljoin, urlsplit

from lxml import etree

from crawler.dates import parse_exact_date, parse_wiki_date
from crawler.dokuwiki import (
    START_PAGE,
    clean_id,
    is_same_site,
    namespace,
    page_id_from_url,
    page_url,
)
from crawler.page import (
    LAYOUT_PARAGRAPHS,
    LAYOUT_RENDERER,
    LAYOUT_UNKNOWN,
    LAYOUT_WIKIPAGE,
    Footnote,
    Link,
    Page,
)
from crawler.requisites import Resource, resources_in_tree

Element = etree._Element


# --------------------------------------------------------------------------- decoding

_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_DOKUWIKI_MARKERS = re.compile(
    r"""<meta\s+name=["']generator["']\s+content=["']DokuWiki|<!--\s*wikipage start|"""
    r"""id=["']dokuwiki__|class=["']dokuwiki\b|\bvar JSINFO\s*=""",
    re.I,
)
_DOKUWIKI_MARKERS_B = re.compile(_DOKUWIKI_MARKERS.pattern.encode(), re.I)


def _decode(html: bytes | str) -> str:
    """Text of *html*: BOM, then <meta charset>, else UTF-8; bad bytes replaced."""
    if isinstance(html, str):
        return html
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                          (codecs.BOM_UTF16_BE, "utf-16")):
        if html.startswith(bom):
            return html.decode(encoding, errors="replace")
    encoding = "utf-8"
    found = _META_CHARSET.search(html, 0, 4096)
    if found:
        try:
            encoding = codecs.lookup(found.group(1).decode("ascii")).name
        except LookupError:
            pass
    # A UTF-16 label in a byte stream without BOM is a lie: the meta was readable as ASCII.
    if encoding.startswith("utf-16") or encoding.startswith("utf-32"):
        encoding = "utf-8"
    return html.decode(encoding, errors="replace")


_PARSER = etree.HTMLParser(remove_pis=True, no_network=True, recover=True, default_doctype=False)


def _tree(text: str) -> Element | None:
    """An lxml tree of *text*, or None when nothing usable can be built."""
    text = _XML_DECL.sub("", text, count=1)
    try:
        return _lxml_tree(text)  # None for an empty document
    except (etree.LxmlError, ValueError):
        return _soup_tree(_CONTROL_CHARS.sub("", text))


def _lxml_tree(text: str) -> Element | None:
    return etree.fromstring(text, _PARSER)


def _soup_tree(text: str) -> Element | None:
    # Fallback only: BeautifulSoup copes with input lxml rejects (e.g. binary garbage).
    try:
        from lxml.html import soupparser

        return soupparser.fromstring(text)
    except Exception:  # noqa: BLE001 - whatever the fallback chokes on, the page is empty
        return None


def is_dokuwiki(html: bytes | str) -> bool:
    """True if the document carries DokuWiki's markers (generator, JSINFO, layout ids)."""
    if isinstance(html, bytes):
        return _DOKUWIKI_MARKERS_B.search(html) is not None
    return _DOKUWIKI_MARKERS.search(html) is not None


# --------------------------------------------------------------------------- helpers


def _classes(el: Element) -> list[str]:
    return (el.get("class") or "").split()


def _collapse(text: str) -> str:
    return " ".join(text.split())


# Text a reader sees: never the code of a script or style, even inside a footnote.
_VISIBLE_TEXT = (
    "descendant-or-self::text()"
    "[not(ancestor::script or ancestor::style or ancestor::noscript or ancestor::template)]"
)
# Plain strings: lxml's "smart" ones, which know their element, cost more to make.
_XP_VISIBLE_TEXT = etree.XPath(_VISIBLE_TEXT, smart_strings=False)
_XP_VISIBLE_TEXT_NODES = etree.XPath(_VISIBLE_TEXT)


def _text(el: Element) -> str:
    return _collapse("".join(_XP_VISIBLE_TEXT(el)))


def _has_class(class_name: str) -> str:
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {class_name} ')"


_XP_START = etree.XPath("//comment()[contains(., 'wikipage start')]")
# id() is a lookup in the parser's table of ids; //*[@id=...] would visit every element.
_XP_SCOPE = etree.XPath("id('dokuwiki__content')")
_XP_FALLBACK = tuple(
    etree.XPath(xp)
    for xp in (
        f"//*[@id='dokuwiki__content']//div[{_has_class('page')}]",
        f"//div[{_has_class('page')}]",
        "//*[@id='dokuwiki__content']",
        "//main",
        "//body",
    )
)
_CANONICAL = "link[@rel='canonical']/@href"
_ROBOTS = "meta[translate(@name, 'ROBTS', 'robts')='robots']/@content"
# (in the head, where templates print them; anywhere): a search of the whole document
# costs ten times one of the head's children, so it is done only when the head has none.
_XP_CANONICAL = (etree.XPath(f"/html/head/{_CANONICAL}"), etree.XPath(f"//{_CANONICAL}"))
_XP_ROBOTS = (etree.XPath(f"/html/head/{_ROBOTS}"), etree.XPath(f"//{_ROBOTS}"))
_JSINFO = re.compile(r"\bJSINFO\s*=\s*")

# What DokuWiki's renderer writes, whatever the template: a section is a heading followed by
# <div class="levelN">, the footnotes are one <div class="footnotes">.
_LEVEL_CLASS = re.compile(r"^level[1-6]$")
# A page without headings or footnotes still has the renderer's bare paragraphs.
_XP_PARAGRAPHS = etree.XPath(".//p[not(@class) and not(@id)]")
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
# Blocks the renderer writes at the top of a page, before its first heading.
_PLAIN_BLOCKS = frozenset({"p", "ul", "ol", "dl", "pre", "blockquote", "hr", "table"})
# Classes of the renderer's (and common syntax plugins') top-level divs. A template's own
# divs (clearer, page-content, msg-area, dw-page-icons, ...) are not among them.
_RENDERER_DIV_CLASS = re.compile(
    r"^(?:level[1-6]|table|code|file|footnotes|secedit|sectionedit\d+|editbutton_\w+|"
    r"plugin[_\w-]*|wrap[_\w-]*|box[_\w-]*|note[_\w-]*|dw__toc|toc)$"
)
_INVISIBLE = frozenset({"script", "style", "noscript", "template"})

def _is_block(el: Element) -> int:
    """1 for a section div, 2 for the footnotes div, 0 for anything else."""
    classes = _classes(el)
    if "footnotes" in classes:
        return 2
    return 1 if any(_LEVEL_CLASS.match(c) for c in classes) else 0


def _blocks(scope: Element) -> list[Element]:
    """The section and footnotes divs under *scope*, in document order."""
    # A Python loop over the divs costs less than an XPath testing @class on each.
    found = []
    for div in scope.iter("div"):
        cls = div.get("class")
        if cls and (cls.startswith("level") or "footnotes" in cls) and _is_block(div):
            found.append(div)
    return found


def _renderer_like(el: Element) -> bool | None:
    """True for a block the renderer may write at top level, None for one to step over
    (invisible, a comment), False for template chrome."""
    tag = el.tag
    if not isinstance(tag, str) or tag in _INVISIBLE:
        return None
    if el.get("id") == "dw__toc":
        return True
    if tag in _HEADINGS:  # DokuWiki gives every heading an id (its anchor)
        return el.get("id") is not None
    if el.get("id") is not None:
        return False
    if tag in _PLAIN_BLOCKS:
        return True
    if tag == "div":
        return all(_RENDERER_DIV_CLASS.match(c) for c in _classes(el))
    return False


def _run(container: Element, first: Element, last: Element, *, forward: bool) -> list[Element]:
    """Children of *container* from *first* to *last*, widened over renderer-like blocks
    before *first* (text above the first heading) and, if *forward*, after *last*."""
    children = list(container)
    start, end = children.index(first), children.index(last)
    for i in range(start - 1, -1, -1):
        sibling = children[i]
        if not isinstance(sibling.tag, str) and "wikipage start" in (sibling.text or ""):
            break
        kind = _renderer_like(sibling)
        if kind is False:
            break
        if kind:
            start = i
    if forward:
        for i in range(end + 1, len(children)):
            kind = _renderer_like(children[i])
            if kind is False:
                break
            if kind:
                end = i
    return [el for el in children[start : end + 1] if isinstance(el.tag, str)]


def _densest(
    candidates: list[Element], *, top: bool = False
) -> tuple[Element, Element, Element] | None:
    """(parent, first, last) of the parent holding most *candidates*, first one on ties.

    With *top*, parents inside a section are left out: sections of a page included into a
    section (include plugin) are not the page's own.
    """
    groups: dict[Element, list[Element]] = {}
    for el in candidates:
        parent = el.getparent()
        if parent is not None:
            groups.setdefault(parent, []).append(el)
    if top and len(groups) > 1:
        groups = {
            parent: members for parent, members in groups.items()
            if not any(_is_block(a) == 1 for a in parent.iterancestors("div"))
            and _is_block(parent) != 1
        } or groups
    if not groups:
        return None
    parent, members = max(groups.items(), key=lambda item: len(item[1]))
    return parent, members[0], members[-1]


def _article(root: Element) -> tuple[list[Element], str]:
    """Top-level elements of the rendered wiki page, and how they were found.

    DokuWiki's renderer output is recognised by its own markup (section divs, footnotes),
    wherever the template puts it: inside ``#dokuwiki__content`` when the template has
    one (sidebars and included pages stay outside), the parent holding most sections.
    """
    scopes = _XP_SCOPE(root)
    for scope in (scopes[0], root) if scopes else (root,):
        found = _densest(_blocks(scope), top=True)
        if found:
            return _run(*found, forward=False), LAYOUT_RENDERER
    starts = _XP_START(root)
    if starts:
        nodes = []
        for sibling in starts[0].itersiblings():
            if not isinstance(sibling.tag, str):
                if "wikipage stop" in (sibling.text or ""):
                    break
                continue
            nodes.append(sibling)
        return nodes, LAYOUT_WIKIPAGE
    for scope in (scopes[0], root) if scopes else (root,):
        found = _densest(_XP_PARAGRAPHS(scope))
        if found:
            return _run(*found, forward=True), LAYOUT_PARAGRAPHS
    for xpath in _XP_FALLBACK:
        found = xpath(root)
        if found:
            return [found[0]], LAYOUT_UNKNOWN
    return [root], LAYOUT_UNKNOWN


# --------------------------------------------------------------------------- date

# Where templates print "Last modified": DokuWiki's tpl_pageinfo() writes the page file
# name in a <bdi> ("magnesium.txt", "magnesium.1552558920.txt.gz"), whatever element
# the template wraps it in; templates with a page info of their own mark it with a class.
_XP_PAGEINFO_BDI = etree.XPath("//bdi[contains(., '.txt')]/parent::*")
_XP_PAGEINFO_CLASS = etree.XPath(
    "//*[contains(@class, 'nfo') or contains(@class, 'ooter') or contains(@class, 'odif')]"
)
_PAGEINFO_CLASSES = frozenset({
    "docinfo", "doc-info", "pageinfo", "page-info", "page_info", "page-footer", "pagefooter",
    "page_footer", "lastmod", "last-modified", "lastmodified", "modified",
})
# Looking for those classes visits every element: done only when one is in the text.
_PAGEINFO_HINTS = ("docInfo", "docinfo", "ooter", "nfo", "odif", "astmod")
_XP_TIME = etree.XPath(".//time[@datetime]")
_XP_TITLES = etree.XPath(".//@title")


def _pageinfo(root: Element, text: str) -> list[Element]:
    """The elements holding the page info line, outermost only, in document order."""
    found = _XP_PAGEINFO_BDI(root)
    if not found and any(hint in text for hint in _PAGEINFO_HINTS):
        found = [
            el for el in _XP_PAGEINFO_CLASS(root)
            if not _PAGEINFO_CLASSES.isdisjoint(map(str.lower, _classes(el)))
        ]
    if len(found) > 1:
        chosen = set(found)
        found = [el for el in found if not any(a in chosen for a in el.iterancestors())]
    return found


def _page_date(
    root: Element, text: str, nodes: list[Element], date_format: str | None
) -> tuple[str | None, str | None, str | None, str]:
    """(last modified, as displayed, in UTC, page info text) of the page.

    An exact ``<time datetime>`` in the page info wins over the displayed text; then the
    displayed text (or a ``title`` that holds the date when the text does not); then a
    ``<time datetime>`` anywhere outside the article.
    """
    infos = _pageinfo(root, text)
    texts = [_text(el) for el in infos]
    info_text = " ".join(texts)
    for el in infos:
        for time_el in _XP_TIME(el):
            exact = _exact(time_el)
            if exact:
                return (*exact, info_text)
    fallback: tuple[str | None, str | None] = (None, None)
    for el, shown in zip(infos, texts, strict=True):
        parsed, raw = parse_wiki_date(shown, date_format)
        if parsed:
            return parsed, raw, None, info_text
        for title in _XP_TITLES(el):
            titled, titled_raw = parse_wiki_date(str(title), date_format)
            if titled:
                return titled, titled_raw, None, info_text
        if raw and not fallback[1]:
            fallback = (parsed, raw)
    if fallback[1]:
        return (*fallback, None, info_text)
    inside = set(nodes)
    for time_el in root.iter("time"):
        if time_el.get("datetime") and not any(a in inside for a in time_el.iterancestors()):
            exact = _exact(time_el)
            if exact:
                return (*exact, info_text)
    return None, None, None, info_text


def _exact(time_el: Element) -> tuple[str, str, str | None] | None:
    """(wall-clock time, displayed text, UTC) of a <time datetime> element, or None."""
    exact = parse_exact_date(time_el.get("datetime") or "")
    if exact is None:
        return None
    local, utc = exact
    return local, _text(time_el) or time_el.get("datetime", "").strip(), utc


# --------------------------------------------------------------------------- body text

# 2 = blank line around the block, 1 = own line.
_BREAKS = {
    **dict.fromkeys(("p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "dl", "table",
                     "blockquote", "hr", "address", "figure", "center", "pre"), 2),
    **dict.fromkeys(("div", "li", "dt", "dd", "tr", "br", "caption", "section", "article",
                     "header", "footer", "main", "thead", "tbody", "tfoot", "figcaption",
                     "details", "summary", "nav", "aside"), 1),
}
_SKIP_TAGS = frozenset({"script", "style", "noscript", "form", "button", "input", "select",
                        "textarea", "template", "iframe", "object", "svg", "head", "title"})
_SKIP_CLASSES = frozenset({"secedit", "footnotes", "dw__toc", "toc", "docInfo"})
_CELLS = frozenset({"td", "th"})
_CLOSING = frozenset(".,;:!?)]")
_LISTS = frozenset({"ul", "ol", "dl"})
_LIST_ITEMS = frozenset({"li", "dd"})
# <dl class="code|file"><dt>file name (a download link)</dt>: decoration, not text.
_CODE_LISTS = frozenset({"code", "file"})


class _Pre(str):
    """Text of a pre block: kept as served, not collapsed."""


def _skipped(el: Element, tag: str) -> bool:
    if tag in _SKIP_TAGS or el.get("id") == "dw__toc":
        return True
    cls = el.get("class")
    if cls and not _SKIP_CLASSES.isdisjoint(cls.split()):
        return True
    if tag == "dt":
        parent = el.getparent()
        return parent is not None and not _CODE_LISTS.isdisjoint(_classes(parent))
    # A footnote reference marker: <sup><a class="fn_top">1)</a></sup>.
    return tag == "sup" and len(el) > 0 and "fn_top" in (el[0].get("class") or "")


def _parent_tag(el: Element) -> str | None:
    parent = el.getparent()
    return None if parent is None else parent.tag


def _walk(el: Element, out: list) -> None:
    tag = el.tag
    if not isinstance(tag, str) or _skipped(el, tag):
        tail = el.tail
        if tail:
            # "worldwide <sup>1)</sup>." reads "worldwide." once the marker is gone.
            if tail[0] in _CLOSING and out and out[-1].__class__ is str:
                out[-1] = out[-1].rstrip()
            out.append(tail)
        return
    brk = _BREAKS.get(tag, 0)
    if brk == 2 and tag in _LISTS and _parent_tag(el) in _LIST_ITEMS:
        brk = 1  # a nested list continues its parent list
    if tag == "pre":
        out += (2, _Pre("".join(el.itertext())), 2)
    else:
        if brk:
            out.append(brk)
        if el.text:
            out.append(el.text)
        first_cell = True
        for child in el:
            if child.tag in _CELLS:
                if not first_cell:
                    out.append(" | ")
                first_cell = False
            _walk(child, out)
        if brk:
            out.append(brk)
    if el.tail:
        out.append(el.tail)


def _assemble(parts: Iterable) -> str:
    """Join walker output: blocks on their own lines, blank lines between paragraphs."""
    chunks: list[str] = []
    line: list[str] = []
    pending = 0
    for part in parts:
        kind = part.__class__
        if kind is str:
            line.append(part)
            continue
        if line:  # a break or a pre block ends the current line
            text = " ".join("".join(line).split())
            line.clear()
            if text:
                if chunks:
                    chunks.append("\n\n" if pending >= 2 else "\n")
                chunks.append(text)
                pending = 0
        if kind is int:
            pending = max(pending, part)
        else:  # _Pre: kept as served
            text = part.strip("\n").rstrip()
            if text:
                if chunks:
                    chunks.append("\n\n")
                chunks.append(text)
                pending = 2
    if line:
        text = " ".join("".join(line).split())
        if text:
            if chunks:
                chunks.append("\n\n" if pending >= 2 else "\n")
            chunks.append(text)
    return "".join(chunks)


def _body_text(nodes: list[Element]) -> str:
    parts: list = []
    try:
        for node in nodes:
            _walk(node, parts)
            parts.append(2)
    except RecursionError:  # absurdly deep markup: plain text is better than nothing
        return _collapse(" ".join(_text(node) for node in nodes))
    return _assemble(parts)


def _drop_revision_notice(nodes: list[Element]) -> list[Element]:
    """Remove DokuWiki's "old revision" notice: <p><strong>…</strong></p><hr/> at the top.

    Its wording is localised, so it is recognised by shape, only on old revisions.
    """
    top = nodes
    if len(nodes) == 1 and len(nodes[0]) >= 2:
        top = list(nodes[0])
    elements = [el for el in top if isinstance(el.tag, str) and el.get("id") != "dw__toc"]
    if len(elements) < 2:
        return nodes
    notice, rule = elements[0], elements[1]
    if (notice.tag == "p" and rule.tag == "hr" and len(notice) == 1
            and notice[0].tag == "strong" and not (notice.text or "").strip()):
        for el in (notice, rule):
            el.tail = None
            el.getparent().remove(el)
        nodes = [el for el in nodes if el is not notice and el is not rule]
    return nodes


# --------------------------------------------------------------------------- title


def _in_toc(el: Element) -> bool:
    return any(anc.get("id") == "dw__toc" for anc in el.iterancestors())


def _title(nodes: list[Element]) -> str:
    for tags in (("h1",), ("h1", "h2", "h3", "h4", "h5", "h6")):
        for node in nodes:
            for heading in node.iter(*tags):
                if not _in_toc(heading):
                    text = _text(heading)
                    if text:
                        return text
    return ""


# --------------------------------------------------------------------------- footnotes

# No leading \b or look-behind: they stop re's fast literal scan (3-10x slower here);
# _search_token() checks the character before the match instead.
_PMID_TEXT = re.compile(r"PMID\s*:?\s*(\d{1,9})(?!\d)", re.I)
_PMID_URL = re.compile(r"(?:pubmed\.ncbi\.nlm\.nih\.gov/|ncbi\.nlm\.nih\.gov/pubmed/)(\d{1,9})\b")
_PMCID_TEXT = re.compile(r"PMC(?:ID\s*:?\s*(?:PMC)?)?(\d{3,9})(?!\d)", re.I)
_PMCID_URL = re.compile(r"/(?:pmc/)?articles/(PMC\d{3,9})\b", re.I)
_DOI_URL = re.compile(r"^https?://(?:dx\.)?doi\.org/(10\.\d{4,9}/\S+)$", re.I)
# A DOI's suffix may hold any printable character, <> of SICI DOIs included; what ends it
# in running text is whitespace, and _trim_doi() drops the sentence's punctuation.
_DOI_TEXT = re.compile(r"(10\.\d{4,9}/[^\s\"]+)")
_FN_NUMBER = re.compile(r"\d+")
_EXTERNAL_CLASSES = frozenset({"urlextern", "interwiki"})
_NOWHERE = 1 << 62  # position of a link whose place in the text is unknown: last


def _search_token(regex: re.Pattern[str], text: str) -> re.Match[str] | None:
    """First match of *regex* in *text* that does not start inside a word or number."""
    for found in regex.finditer(text):
        start = found.start()
        if start == 0 or not (text[start - 1].isalnum() or text[start - 1] in "._"):
            return found
    return None


def _trim_doi(doi: str) -> str:
    """Undo DokuWiki typography in a DOI and drop punctuation that ends the sentence;
    brackets stay when balanced: ``10.1016/S0140-6736(20)32518-6``."""
    doi = doi.replace("\u00d7", "x")  # DokuWiki renders 123x456 as 123×456
    while doi:
        last = doi[-1]
        if last in ".,;:'\"”’»":
            doi = doi[:-1]
        elif last == ")" and doi.count("(") < doi.count(")"):
            doi = doi[:-1]
        elif last == "]" and doi.count("[") < doi.count("]"):
            doi = doi[:-1]
        elif last == ">" and doi.count("<") < doi.count(">"):
            doi = doi[:-1]
        else:
            break
    return doi


# Each identifier read from running text: (position, value), or None.


def _doi_in_text(text: str) -> tuple[int, str] | None:
    found = _search_token(_DOI_TEXT, text)
    if found is None:
        return None
    doi = found.group(1)
    start = found.start()
    if text[max(0, start - 8) : start].lower() == "doi.org/":  # a doi.org URL written out
        doi = unquote(doi).split("#")[0]
    doi = _trim_doi(doi)
    return (start, doi) if doi else None


def _pmid_in_text(text: str) -> tuple[int, str] | None:
    # "PMID: 123" or a PubMed URL written out (its host's dots make it no token).
    found = _search_token(_PMID_TEXT, text)
    if "nih.gov/" in text:  # the URL pattern has no literal start: only where it can be
        in_url = _PMID_URL.search(text)
        if in_url and (found is None or in_url.start() < found.start()):
            found = in_url
    return (found.start(), found.group(1)) if found else None


def _pmcid_in_text(text: str) -> tuple[int, str] | None:
    found = _search_token(_PMCID_TEXT, text)
    return (found.start(), "PMC" + found.group(1)) if found else None


def _doi_in_href(href: str) -> str | None:
    found = _DOI_URL.match(href)
    return _trim_doi(unquote(found.group(1)).split("#")[0]) or None if found else None


def _pmid_in_href(href: str) -> str | None:
    found = _PMID_URL.search(href)
    return found.group(1) if found else None


def _pmcid_in_href(href: str) -> str | None:
    found = _PMCID_URL.search(href)
    return found.group(1).upper() if found else None


_IDENTIFIERS = (
    (_pmid_in_text, _pmid_in_href),
    (_pmcid_in_text, _pmcid_in_href),
    (_doi_in_text, _doi_in_href),
)


def _identifier(
    read_text: Callable[[str], tuple[int, str] | None],
    read_href: Callable[[str], str | None],
    text: str,
    links: list[tuple[Element, str]],
    where: Callable[[Element], int],
) -> str | None:
    """The first identifier of a kind in a footnote, as a reader sees it.

    Read from the visible text, where a link's text is followed by what comes after it
    (DokuWiki's autolinker stops a URL at "(", so the href of
    ``https://doi.org/10.1016/S0140-6736(20)32518-6`` lacks its end). A link's href
    counts only where its own text shows no such identifier (a label such as "full
    text"), at the link's place in the text (*where*).
    """
    best = read_text(text)
    for a, href in links:
        value = read_href(href)
        if value is None or read_text(_link_text(a)) is not None:
            continue
        # The first labelled link decides: before the text's identifier, it wins.
        return value if best is None or where(a) < best[0] else best[1]
    return best[1] if best else None


def _link_text(a: Element) -> str:
    return a.text or "" if len(a) == 0 else _text(a)


def _link_positions(content: Element) -> dict[Element, int]:
    """Where each link's text starts in the visible text of *content*."""
    starts: dict[Element, int] = {}
    size = 0
    for piece in _XP_VISIBLE_TEXT_NODES(content):
        owner = piece.getparent()
        if piece.is_tail:
            owner = owner.getparent()
        while owner is not None and owner is not content:
            if owner.tag == "a":
                starts.setdefault(owner, size)
                break
            owner = owner.getparent()
        size += len(piece)
    return starts


def _footnote(fn: Element, site: str) -> Footnote | None:
    numbers = tuple(
        int(number)
        for a in fn.iter("a")
        if "fn_bot" in (a.get("class") or "")
        for number in _FN_NUMBER.findall(a.text or "")
    )
    content = next((div for div in fn.iter("div") if "content" in _classes(div)), None)
    if content is None:  # another template: the block minus its backlinks
        raw = "".join(_fn_text_without_sup(fn))
        content = fn
        positions: dict[Element, int] | None = {}  # unknown: links count after the text
    else:
        raw = "".join(_XP_VISIBLE_TEXT(content))
        positions = None  # worked out when first needed (rarely)

    def where(a: Element) -> int:
        nonlocal positions
        if positions is None:
            positions = _link_positions(content)
        return positions.get(a, _NOWHERE)

    urls: list[str] = []
    links: list[tuple[Element, str]] = []
    for a in content.iter("a"):
        href = (a.get("href") or "").strip()
        if href and _is_external(a, href, site):
            links.append((a, href))
            if href not in urls:
                urls.append(href)
    text = _collapse(raw)
    if not numbers and not text:
        return None
    pmid, pmcid, doi = (_identifier(*kind, raw, links, where) for kind in _IDENTIFIERS)
    return Footnote(
        number=numbers[0] if numbers else 0,
        numbers=numbers,
        text=text,
        pmid=pmid,
        pmcid=pmcid,
        doi=doi,
        urls=tuple(urls),
    )


def _fn_text_without_sup(fn: Element) -> Iterator[str]:
    if fn.text:
        yield fn.text
    for child in fn:
        if isinstance(child.tag, str) and child.tag != "sup":
            yield from child.itertext()
        if child.tail:
            yield child.tail


def _footnotes(nodes: list[Element], site: str) -> tuple[Footnote, ...]:
    found = []
    for node in nodes:
        for div in node.iter("div"):
            if "fn" in _classes(div):
                footnote = _footnote(div, site)
                if footnote is not None:
                    found.append(footnote)
    return tuple(found)


# --------------------------------------------------------------------------- links


def _is_external(a: Element, href: str, site: str) -> bool:
    if not _EXTERNAL_CLASSES.isdisjoint(_classes(a)):
        return True
    return href.startswith(("http://", "https://")) and not is_same_site(href, site)


def _media_id(href: str) -> str | None:
    """Media id of a fetch.php / detail.php / _media / _detail URL, else None."""
    parts = urlsplit(href)
    path = parts.path
    if path.endswith(("lib/exe/fetch.php", "lib/exe/detail.php")):
        for key, value in parse_qsl(parts.query):
            if key == "media" and value:
                return value if "://" in value else clean_id(value)
        return None
    for marker in ("/_media/", "/_detail/"):
        if marker in path:
            media = unquote(path.split(marker, 1)[1]).replace("/", ":")
            return clean_id(media) or None
    return None


def _link(a: Element, base_url: str, site: str) -> Link | None:
    href = (a.get("href") or "").strip()
    if not href or href.startswith("#"):
        return None
    classes = _classes(a)
    if "fn_top" in classes or "fn_bot" in classes:
        return None
    text = _collapse(a.text or "") if len(a) == 0 else _text(a)
    missing = "wikilink2" in classes
    wiki_id = a.get("data-wiki-id")
    if wiki_id is not None:
        target = wiki_id.split("#", 1)[0] or page_id_from_url(urljoin(base_url, href), site)
        if target:
            return Link(target, "missing_page" if missing else "page", text)
    media = _media_id(href)
    if media is None and "media" in classes:
        img = next(a.iter("img"), None)
        media = _media_id(img.get("src") or "") if img is not None else None
    if media:
        return Link(media, "media", text or _image_text(a))
    if "wikilink1" in classes or missing:
        target = page_id_from_url(urljoin(base_url, href), site)
        if target:
            return Link(target, "missing_page" if missing else "page", text)
        return None
    if "mail" in classes or href.lower().startswith("mailto:"):
        return Link(href, "external", text)
    if _is_external(a, href, site):
        return Link(href, "external", text)
    target = page_id_from_url(urljoin(base_url, href), site)
    return Link(target, "page", text) if target else None


def _image_text(el: Element) -> str:
    img = el if el.tag == "img" else next(el.iter("img"), None)
    if img is None:
        return ""
    return _collapse(img.get("title") or img.get("alt") or "")


def _links(nodes: list[Element], base_url: str, site: str) -> tuple[Link, ...]:
    links = []
    for node in nodes:
        for el in node.iter("a", "img"):
            if el.tag == "a":
                link = _link(el, base_url, site)
            elif next(el.iterancestors("a"), None) is None:  # an image without a link
                media = _media_id(el.get("src") or "")
                link = Link(media, "media", _image_text(el)) if media else None
            else:
                continue
            if link is not None:
                links.append(link)
    return tuple(links)


# --------------------------------------------------------------------------- page identity


def _jsinfo_id(text: str) -> str | None:
    """DokuWiki's $ID as printed in ``var JSINFO = {...}`` by every template."""
    found = _JSINFO.search(text)
    if not found:
        return None
    try:
        info, _ = json.JSONDecoder().raw_decode(text, found.end())
    except ValueError:
        return None
    page_id = info.get("id") if isinstance(info, dict) else None
    return clean_id(page_id) if isinstance(page_id, str) and page_id else None


def _canonical_id(canonical: str, site: str) -> str | None:
    page_id = page_id_from_url(canonical, site)
    if page_id is None:
        # The wiki may know itself under another scheme or host (proxy, http vs https).
        parts, base = urlsplit(canonical), urlsplit(site)
        if parts.path.startswith(base.path):
            page_id = page_id_from_url(parts._replace(scheme=base.scheme, netloc=base.netloc)
                                       .geturl(), site)
    return page_id


def _url_id(url: str, site: str) -> str | None:
    """The id a URL asks for, action or not (old revisions have no canonical link)."""
    page_id = page_id_from_url(url, site)
    if page_id is None:
        for key, value in parse_qsl(urlsplit(url).query):
            if key == "id":
                return clean_id(value) or None
    return page_id


def _is_old_revision(url: str, docinfo: str) -> bool:
    query_keys = {key for key, _ in parse_qsl(urlsplit(url).query)}
    return bool(query_keys & {"rev", "at"}) or re.search(r"\.\d{6,}\.txt", docinfo) is not None


# --------------------------------------------------------------------------- public


def parse_page(url: str, html: bytes | str, *, site: str, date_format: str | None = None) -> Page:
    """Parse one served page view of the wiki at *site* (a ``site_root()`` URL)."""
    return _parse(url, html, site, date_format)[0]


def parse_capture(
    url: str, html: bytes | str, *, site: str, date_format: str | None = None
) -> tuple[Page, tuple[Resource, ...]]:
    """The page, and what it loads and links on the wiki (its requisites, media files and
    images' detail pages, crawler.requisites), read from the one tree of the page."""
    page, root, text = _parse(url, html, site, date_format)
    return page, (() if root is None else resources_in_tree(root, url or site, site, text))


def parse_resources(url: str, html: bytes | str, *, site: str) -> tuple[Resource, ...]:
    """What an HTML document of the wiki that is no article (an image's detail page)
    loads and links on the wiki."""
    text = _decode(html)
    root = _tree(text)
    return () if root is None else resources_in_tree(root, url or site, site, text)


def _parse(
    url: str, html: bytes | str, site: str, date_format: str | None
) -> tuple[Page, Element | None, str]:
    """The page, the tree it was read from (None when no tree could be built) and the
    decoded text."""
    text = _decode(html)
    root = _tree(text)
    if root is None:
        page_id = _url_id(url, site) or START_PAGE
        return _empty_page(site, page_id), None, text

    canonical = _first(_XP_CANONICAL, root).strip()
    page_id = (
        (_canonical_id(canonical, site) if canonical else None)
        or _jsinfo_id(text)
        or _url_id(url, site)
        or START_PAGE
    )
    robots = _collapse(_first(_XP_ROBOTS, root)).replace(" ", "").lower()
    nodes, layout = _article(root)
    # Missing and removed pages: DokuWiki sends robots "noindex,follow", no canonical
    # link and an empty docInfo (whatever the language of the stub text). They have no
    # date to look for.
    missing = robots == "noindex,follow"
    last_modified, last_modified_raw, last_modified_utc, docinfo = (
        (None, None, None, "") if missing else _page_date(root, text, nodes, date_format)
    )
    if _is_old_revision(url, docinfo):
        nodes = _drop_revision_notice(nodes)
    exists = not missing and bool(canonical or last_modified_raw)
    # The body text walk detaches nothing, so the tree stays whole for the requisites.
    page = Page(
        page_id=page_id,
        url=page_url(site, page_id),
        title=_title(nodes) or page_id,
        namespace=namespace(page_id),
        exists=exists,
        body_text=_body_text(nodes),
        last_modified=last_modified,
        last_modified_raw=last_modified_raw,
        footnotes=_footnotes(nodes, site),
        links=_links(nodes, url or site, site),
        last_modified_utc=last_modified_utc,
        layout=layout,
    )
    return page, root, text


def _first(xpaths: tuple[etree.XPath, ...], root: Element) -> str:
    """The first value the first XPath finding any finds, else ""."""
    for xpath in xpaths:
        found = xpath(root)
        if found:
            return found[0]
    return ""


def _empty_page(site: str, page_id: str) -> Page:
    return Page(page_id, page_url(site, page_id), page_id, namespace(page_id), False, "",
                None, None, (), (), None, LAYOUT_UNKNOWN)


def parse_index(html: bytes | str, *, site: str) -> tuple[list[str], list[str]]:
    """(page ids, namespace ids) listed by a ``do=index`` / ``idx=`` page, in order."""
    root = _tree(_decode(html))
    if root is None:
        return [], []
    scope = root.xpath("//*[@id='index__tree']") or [root]
    pages: list[str] = []
    spaces: list[str] = []
    for el in scope[0].iter("a"):
        classes = _classes(el)
        if "idx_dir" in classes:
            ns = _index_namespace(el, site)
            if ns and ns not in spaces:
                spaces.append(ns)
        elif "wikilink1" in classes or "wikilink2" in classes:
            page_id = clean_id(el.get("data-wiki-id") or "") or page_id_from_url(
                el.get("href") or "", site
            )
            if page_id and page_id not in pages:
                pages.append(page_id)
    return pages, spaces


def _index_namespace(a: Element, site: str) -> str | None:
    title = a.get("title")
    if title:
        return clean_id(title) or None
    for key, value in parse_qsl(urlsplit(a.get("href") or "").query):
        if key == "idx":
            return clean_id(value) or None
    return None
