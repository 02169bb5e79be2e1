"""``wikiarchive report``: one self-contained HTML file about an archive's history.

Crawl history, pages and footnotes per crawl (inline SVG charts drawn here), and the
latest changes: per page its unified diff and the citations (PubMed ids, PMC ids, DOIs)
it gained or lost. No script, no external resource: the file opens anywhere, offline.
Everything that comes from the wiki is untrusted and goes through ``html.escape``.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from urllib.parse import quote

from archive.catalog import CATALOG_NAME, Catalog
from archive.diff import unified_diff
from archive.ingest import PageReader
from archive.media import changed_media
from crawler.page import Page
from exports.change_views import KINDS, WITH_PARTS
from exports.change_views import label as change_label  # "label" names chart labels here

MAX_DIFF_PAGES = 50  # pages whose diff is shown; the others are listed
MAX_DIFF_LINES = 300  # lines of one page's diff
MAX_CITATIONS = 500  # citation rows per table
MAX_REVISION_ROWS = 500  # rows of the wiki revisions table

CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d2433;margin:0;
background:#f4f6f9}
main{max-width:1240px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:20px;margin:32px 0 10px;
border-bottom:2px solid #d6dce6;padding-bottom:4px}h3{font-size:16px;margin:18px 0 6px}
.sub{color:#5b6576;margin:0 0 8px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0}
.card{background:#fff;border:1px solid #d6dce6;border-radius:8px;padding:10px 16px;
min-width:120px}.card b{display:block;font-size:24px}.card span{color:#5b6576;font-size:13px}
table{border-collapse:collapse;background:#fff;width:100%;font-size:14px}
th,td{border:1px solid #d6dce6;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#e9edf3}td.n{text-align:right;font-variant-numeric:tabular-nums}
.charts{display:flex;gap:16px;flex-wrap:wrap}
.chart{background:#fff;border:1px solid #d6dce6;border-radius:8px;padding:8px}
.added{color:#17692d}.removed{color:#a51d2d}.modified{color:#7a4d00}.no_longer_readable{color:#5a5a5a}.readable_again{color:#1f5fbf}
.diff{background:#fff;border:1px solid #d6dce6;border-radius:6px;margin:6px 0 14px;
overflow-x:auto;font:12.5px/1.4 ui-monospace,Menlo,Consolas,monospace}
.diff div{white-space:pre-wrap;padding:0 8px;word-break:break-word}
.diff .a{background:#e6f6ea}.diff .d{background:#fbe9eb}.diff .h{background:#eef1f8;
color:#4a5a80}.diff .f{color:#5b6576}
.more{color:#5b6576;font-style:italic}
a{color:#1f5fbf}
td.nw{white-space:nowrap}.wide{overflow-x:auto}
#crawls{font-size:13px}#crawls th,#crawls td{padding:4px 6px}
"""


@dataclass
class CrawlPoint:
    """One crawl in the history, with the state of the wiki after it."""

    row: dict
    counts: Counter = field(default_factory=Counter)  # change kind -> pages
    pages: int = 0  # pages in the wiki after the crawl
    footnotes: int = 0  # footnote blocks in the wiki after the crawl


@dataclass(frozen=True)
class PageChangeView:
    change: dict
    before: Page | None
    after: Page | None

    @property
    def page(self) -> Page | None:
        return self.after if self.after is not None else self.before


def write_report(out_dir: Path, html_path: Path) -> Path:
    """Write the HTML report of ``out_dir``'s catalog to ``html_path``; return the path."""
    out_dir, html_path = Path(out_dir), Path(html_path)
    catalog_path = out_dir / CATALOG_NAME
    if not catalog_path.exists():
        raise FileNotFoundError(f"{catalog_path} does not exist: crawl first (or run export)")
    catalog = Catalog(catalog_path, readonly=True)
    try:
        html = render_report(catalog, out_dir)
    finally:
        catalog.close()
    html_path.parent.mkdir(parents=True, exist_ok=True)
    scratch = html_path.with_name(html_path.name + ".tmp")
    scratch.write_text(html, encoding="utf-8")
    os.replace(scratch, html_path)
    return html_path


def render_report(catalog: Catalog, out_dir: Path) -> str:
    crawls = [dict(row) for row in catalog.crawls()]
    media = changed_media(catalog.db)
    every = [
        {**row, "media_ids": media.get((row["to_crawl_id"], row["page_id"]), [])}
        for row in map(dict, catalog.changes())
    ]
    # Changes between two crawls drive the history; those between wiki revisions
    # (history crawls) are listed on their own.
    changes = [c for c in every if c["revision_after"] is None]
    revisions = [c for c in every if c["revision_after"] is not None]
    points = history(crawls, changes)
    site = crawls[-1]["site"] if crawls else ""
    latest_id = _latest_with_changes(points)
    latest = [c for c in changes if c["to_crawl_id"] == latest_id]
    views = _views(catalog, out_dir, latest)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        # Nothing may load or run: the file only shows (links still open on click).
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>wikiarchive report: {escape(site)}</title>",
        f"<style>{CSS}</style></head><body><main>",
        "<h1>wikiarchive report</h1>",
        f'<p class="sub">Site <a href="{escape(site)}">{escape(site)}</a> · archive '
        f"{escape(str(out_dir))} · written {escape(_now())}</p>",
        _cards(points),
        _crawl_table(points),
        _charts(points),
        _changes_section(points, latest_id, views, site),
        _revisions_section(catalog, revisions, site),
        "</main></body></html>",
    ]
    return "\n".join(parts) + "\n"


def history(crawls: list[dict], changes: list[dict]) -> list[CrawlPoint]:
    """Each crawl with its change counts and the wiki's page and footnote counts after it."""
    points = {row["crawl_id"]: CrawlPoint(row) for row in crawls}
    for change in changes:
        point = points.get(change["to_crawl_id"])
        if point is not None:
            point.counts[change["change"]] += 1
            point.pages += _presence(change)
            point.footnotes += change["footnotes_added"] - change["footnotes_removed"]
    pages = footnotes = 0
    for point in points.values():  # running totals, in crawl order
        pages += point.pages
        footnotes += point.footnotes
        point.pages, point.footnotes = pages, footnotes
    return list(points.values())


def _presence(change: dict) -> int:
    """How a change moves the count of pages in the wiki: a page readable for the first
    time counts as added; one no longer readable is still there."""
    kind = change["change"]
    if kind == "readable_again" and change["before_version_id"] is None:
        return 1
    return {"added": 1, "removed": -1}.get(kind, 0)


def _latest_with_changes(points: list[CrawlPoint]) -> str | None:
    for point in reversed(points):
        if point.counts:
            return point.row["crawl_id"]
    return None


def _views(catalog: Catalog, out_dir: Path, changes: list[dict]) -> list[PageChangeView]:
    reader = PageReader(out_dir / "warc")
    views = []
    for change in sorted(changes, key=lambda c: (_ORDER[c["change"]], c["page_id"])):
        pages = []
        for key in ("before_version_id", "after_version_id"):
            version = catalog.version(change[key])
            page = None
            if version is not None:
                page = reader.at(version.warc_filename, version.warc_offset)
            pages.append(page)
        views.append(PageChangeView(change, *pages))
    return views


_ORDER = {"modified": 0, "readable_again": 1, "added": 2, "no_longer_readable": 3, "removed": 4}


# --------------------------------------------------------------------------- sections


def _cards(points: list[CrawlPoint]) -> str:
    last = points[-1] if points else None
    cards = [
        (len(points), "crawls"),
        (last.pages if last else 0, "pages now"),
        (last.footnotes if last else 0, "footnotes now"),
        (sum(p.counts["modified"] for p in points[1:]), "page edits seen"),
    ]
    body = "".join(f'<div class="card"><b>{n}</b><span>{escape(label)}</span></div>'
                   for n, label in cards)
    return f'<div class="cards">{body}</div>'


def _crawl_table(points: list[CrawlPoint]) -> str:
    head = ("crawl", "mode", "started (UTC)", "took", "outcome", "fetched", "requests",
            "errors", "not readable", "added", "removed", "modified", "pages", "footnotes")
    rows = []
    for point in reversed(points):
        row = point.row
        cells = [
            f"<td class=\"nw\"><code>{escape(row['crawl_id'])}</code></td>",
            f"<td>{escape(row['mode'])}</td>",
            f"<td class=\"nw\">{escape(_when(row['started_at']))}</td>",
            f"<td>{escape(_duration(row['started_at'], row['finished_at']))}</td>",
            f"<td>{escape(row['outcome'])}</td>",
            *(_num(row[k]) for k in ("pages", "requests", "errors", "not_readable")),
            *(_num(point.counts[k]) for k in ("added", "removed", "modified")),
            _num(point.pages),
            _num(point.footnotes),
        ]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    return (
        "<h2>Crawl history</h2><p class=\"sub\">Newest first. <i>Fetched</i>: article pages "
        "requested; <i>not readable</i>: pages the wiki refused to show it (Permission "
        "Denied); <i>added, removed, modified</i>: pages that changed since the crawl "
        "before; <i>pages, footnotes</i>: in the wiki after the crawl.</p>"
        f'<div class="wide"><table id="crawls"><thead><tr>{header}</tr></thead><tbody>'
        + "".join(rows)
        + "</tbody></table></div>"
    )


def _charts(points: list[CrawlPoint]) -> str:
    labels = [_when(p.row["started_at"])[:16] for p in points]
    charts = [
        line_chart("Pages in the wiki", labels, [p.pages for p in points], "#1f5fbf"),
        line_chart("Footnotes", labels, [p.footnotes for p in points], "#8a3ffc"),
        bar_chart(
            "Pages changed per crawl",
            labels,
            [
                ("added", [p.counts["added"] for p in points], "#2e9e4f"),
                ("modified", [p.counts["modified"] for p in points], "#d69200"),
                ("removed", [p.counts["removed"] for p in points], "#c0392b"),
            ],
        ),
    ]
    return "<h2>Over time</h2>" + '<div class="charts">' + "".join(
        f'<div class="chart">{c}</div>' for c in charts
    ) + "</div>"


def _changes_section(
    points: list[CrawlPoint], crawl_id: str | None, views: list[PageChangeView], site: str
) -> str:
    out = ["<h2>Latest changes</h2>"]
    if crawl_id is None:
        return out[0] + '<p class="sub">No crawl has recorded a change yet.</p>'
    point = next(p for p in points if p.row["crawl_id"] == crawl_id)
    summary = ", ".join(f"{point.counts[k]} {change_label(k)}" for k in KINDS if point.counts[k])
    since = views[0].change["from_crawl_id"] if views else None
    out.append(
        f'<p class="sub">Crawl <code>{escape(crawl_id)}</code> '
        f"({escape(_when(point.row['started_at']))}), since "
        f"{'<code>' + escape(since) + '</code>' if since else 'nothing (first crawl)'}: "
        f"{escape(summary)}.</p>"
    )
    if points[-1].row["crawl_id"] != crawl_id:
        out.append(
            f'<p class="sub">The latest crawl, <code>{escape(points[-1].row["crawl_id"])}'
            "</code>, found no change.</p>"
        )
    out.append(_change_table(views, site))
    out.append(_citation_section(views))
    out.append(_diffs(views))
    return "\n".join(out)


def _revisions_section(catalog: Catalog, revisions: list[dict], site: str) -> str:
    """The wiki revisions the latest history crawl archived, each with what it changed."""
    if not revisions:
        return ""
    crawl_id = revisions[-1]["to_crawl_id"]
    mine = [c for c in revisions if c["to_crawl_id"] == crawl_id]
    listed = {}
    rows = []
    for change in sorted(mine, key=lambda c: (c["page_id"], c["revision_after"])):
        page_id = change["page_id"]
        if page_id not in listed:
            listed[page_id] = {r["revision"]: r for r in catalog.revisions_of(page_id)}
        rev = listed[page_id].get(change["revision_after"])
        parts = []
        if change["change"] == "modified":
            parts.append(f"text +{change['chars_added']}/−{change['chars_removed']} chars")
            if change["footnotes_added"] or change["footnotes_removed"]:
                parts.append(
                    f"footnotes +{change['footnotes_added']}/−{change['footnotes_removed']}"
                )
        when = datetime.fromtimestamp(change["revision_after"], UTC)
        rows.append(
            f'<tr><td class="nw">{escape(f"{when:%Y-%m-%d %H:%M}")}</td>'
            f"<td>{_page_link(site, page_id)}</td>"
            f'<td class="{escape(change["change"])}">{escape(change["change"])}</td>'
            f"<td>{escape(rev['author'] if rev else '')}</td>"
            f"<td>{escape(rev['summary'] if rev else '')}</td>"
            f"<td>{escape('; '.join(parts))}</td></tr>"
        )
    shown = rows[:MAX_REVISION_ROWS]
    more = (f'<p class="more">… and {len(rows) - len(shown)} more</p>'
            if len(rows) > len(shown) else "")
    return (
        "<h2>Wiki revisions</h2>"
        f'<p class="sub">Revisions archived by history crawl <code>{escape(crawl_id)}</code>, '
        "each against the revision before it (UTC times; <code>wikiarchive changes DIR --diff "
        "PAGE --rev B</code> shows its diff).</p>"
        '<div class="wide"><table id="revisions"><thead><tr><th>revision (UTC)</th>'
        "<th>page</th><th>change</th><th>author</th><th>summary</th><th>what</th></tr>"
        "</thead><tbody>" + "".join(shown) + "</tbody></table></div>" + more
    )


def _change_table(views: list[PageChangeView], site: str) -> str:
    rows = []
    for view in views:
        change, page = view.change, view.page
        parts = []
        if change["change"] in WITH_PARTS:
            if change["title_changed"]:
                parts.append("title")
            if change["body_changed"]:
                parts.append(f"text +{change['chars_added']}/−{change['chars_removed']} chars")
            if change["footnotes_added"] or change["footnotes_removed"]:
                parts.append(
                    f"footnotes +{change['footnotes_added']}/−{change['footnotes_removed']}"
                )
            if change.get("media_changed"):
                names = ", ".join(change.get("media_ids") or []) or str(change["media_changed"])
                parts.append(f"media files changed: {names}")
        title = page.title if page is not None else ""
        kind = change["change"]
        rows.append(
            f'<tr><td class="{escape(kind)}">{escape(change_label(kind))}</td>'
            f"<td>{_page_link(site, change['page_id'])}</td><td>{escape(title)}</td>"
            f"<td>{escape('; '.join(parts))}</td></tr>"
        )
    return (
        '<table id="changes"><thead><tr><th>change</th><th>page</th><th>title</th>'
        "<th>what</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def citation_delta(before: Page | None, after: Page | None) -> tuple[set, set]:
    """(kind, value) citations the page gained and lost: PubMed ids, PMC ids and DOIs."""
    def found(page: Page | None) -> set[tuple[str, str]]:
        if page is None or not page.exists:
            return set()
        return {
            (kind, value)
            for note in page.footnotes
            for kind, value in (("pmid", note.pmid), ("pmcid", note.pmcid), ("doi", note.doi))
            if value
        }

    old, new = found(before), found(after)
    return new - old, old - new


def _citation_section(views: list[PageChangeView]) -> str:
    rows: dict[str, list[str]] = {"added": [], "removed": []}
    for view in views:
        gained, lost = citation_delta(view.before, view.after)
        for label, found in (("added", gained), ("removed", lost)):
            for kind, value in sorted(found):
                rows[label].append(
                    f"<tr><td>{escape(view.change['page_id'])}</td><td>{escape(kind)}</td>"
                    f"<td>{citation_link(kind, value)}</td></tr>"
                )
    out = []
    for label, found in rows.items():
        out.append(f"<h3>Citations {label} ({len(found)})</h3>")
        if not found:
            out.append('<p class="sub">None.</p>')
            continue
        shown = found[:MAX_CITATIONS]
        out.append(
            f'<table id="citations-{label}"><thead><tr><th>page</th><th>kind</th>'
            "<th>identifier</th></tr></thead><tbody>" + "".join(shown) + "</tbody></table>"
        )
        if len(found) > len(shown):
            out.append(f'<p class="more">… and {len(found) - len(shown)} more</p>')
    return "\n".join(out)


def citation_link(kind: str, value: str) -> str:
    """An identifier as a link to where it resolves (PubMed, PMC, doi.org)."""
    if kind == "pmid" and value.isdigit():
        url = f"https://pubmed.ncbi.nlm.nih.gov/{value}/"
    elif kind == "pmcid" and value[3:].isdigit():
        url = f"https://pmc.ncbi.nlm.nih.gov/articles/{value}/"
    elif kind == "doi":
        url = "https://doi.org/" + quote(value, safe="/:;()._-")
    else:
        return escape(value)
    return f'<a href="{escape(url)}">{escape(value)}</a>'


def _diffs(views: list[PageChangeView]) -> str:
    modified = [v for v in views if v.change["change"] == "modified"]
    if not modified:
        return ""
    out = ["<h3>Text differences</h3>"]
    for view in modified[:MAX_DIFF_PAGES]:
        text = unified_diff(view.before, view.after)
        lines = text.splitlines()
        out.append(f"<h3><code>{escape(view.change['page_id'])}</code></h3>")
        if not lines:
            out.append('<p class="sub">Only the last-update date changed.</p>')
            continue
        body = []
        for line in lines[:MAX_DIFF_LINES]:
            kind = _line_kind(line)
            body.append(f'<div class="{kind}">{escape(line) or " "}</div>')
        if len(lines) > MAX_DIFF_LINES:
            body.append(f'<div class="f">… {len(lines) - MAX_DIFF_LINES} more lines</div>')
        out.append('<div class="diff">' + "".join(body) + "</div>")
    rest = modified[MAX_DIFF_PAGES:]
    if rest:
        names = ", ".join(escape(v.change["page_id"]) for v in rest)
        out.append(f'<p class="more">Diffs not shown for {len(rest)} more pages: {names}</p>')
    return "\n".join(out)


def _line_kind(line: str) -> str:
    if line.startswith(("---", "+++")):
        return "f"
    if line.startswith("@@"):
        return "h"
    if line.startswith("+"):
        return "a"
    if line.startswith("-"):
        return "d"
    return "c"


# --------------------------------------------------------------------------- charts

CHART_W, CHART_H = 360, 220
PAD_L, PAD_R, PAD_T, PAD_B = 44, 14, 44, 46


def _scale(values: list[int]) -> int:
    """A round top for the y axis (four equal whole-number steps), at least the largest value."""
    top = max([*values, 1])
    step = 1
    while True:
        for factor in (1, 2, 5):
            if 4 * factor * step >= top:
                return 4 * factor * step
        step *= 10


def _frame(title: str, labels: list[str], top: int) -> tuple[list[str], list[float]]:
    """SVG header, title, y grid and x labels; returns the parts and each label's x."""
    inner_w = CHART_W - PAD_L - PAD_R
    inner_h = CHART_H - PAD_T - PAD_B
    n = max(len(labels), 1)
    xs = [PAD_L + inner_w * (i + 0.5) / n for i in range(len(labels))]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{CHART_W}" height="{CHART_H}" '
        f'viewBox="0 0 {CHART_W} {CHART_H}" role="img" aria-label="{escape(title)}" '
        'font-family="system-ui,sans-serif" font-size="11">',
        f'<text x="{PAD_L}" y="18" font-size="13" font-weight="600" fill="#1d2433">'
        f"{escape(title)}</text>",
    ]
    for i in range(5):
        value = top * i / 4
        y = PAD_T + inner_h * (1 - i / 4)
        parts.append(
            f'<line x1="{PAD_L}" x2="{CHART_W - PAD_R}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#e1e6ee"/><text x="{PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end" '
            f'fill="#5b6576">{value:g}</text>'
        )
    every = max(1, -(-len(labels) // 6))  # at most about six labels
    for i, (x, label) in enumerate(zip(xs, labels, strict=True)):
        if i % every == 0 or i == len(labels) - 1:
            parts.append(
                f'<text x="{x:.1f}" y="{CHART_H - PAD_B + 16}" text-anchor="middle" '
                f'fill="#5b6576">{escape(label[5:10])}</text>'
                f'<text x="{x:.1f}" y="{CHART_H - PAD_B + 29}" text-anchor="middle" '
                f'fill="#5b6576">{escape(label[11:16])}</text>'
            )
    return parts, xs


def _y(value: float, top: int) -> float:
    inner_h = CHART_H - PAD_T - PAD_B
    return PAD_T + inner_h * (1 - value / top)


def line_chart(title: str, labels: list[str], values: list[int], color: str) -> str:
    """A line with a dot and value per crawl."""
    top = _scale(values)
    parts, xs = _frame(title, labels, top)
    points = [(x, _y(v, top)) for x, v in zip(xs, values, strict=True)]
    if len(points) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
    for (x, y), value, label in zip(points, values, labels, strict=True):
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{color}">'
            f"<title>{escape(label)}: {value}</title></circle>"
            f'<text x="{x:.1f}" y="{y - 7:.1f}" text-anchor="middle" fill="#1d2433">'
            f"{value}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(title: str, labels: list[str], series: list[tuple[str, list[int], str]]) -> str:
    """Stacked bars per crawl, with a legend."""
    totals = [sum(values[i] for _, values, _ in series) for i in range(len(labels))]
    top = _scale(totals)
    parts, xs = _frame(title, labels, top)
    inner_w = CHART_W - PAD_L - PAD_R
    width = min(36.0, inner_w / max(len(labels), 1) * 0.6)
    for i, x in enumerate(xs):
        base = 0
        for name, values, color in series:
            value = values[i]
            if value:
                y0, y1 = _y(base, top), _y(base + value, top)
                parts.append(
                    f'<rect x="{x - width / 2:.1f}" y="{y1:.1f}" width="{width:.1f}" '
                    f'height="{y0 - y1:.1f}" fill="{color}"><title>{escape(labels[i])}: '
                    f"{value} {escape(name)}</title></rect>"
                )
            base += value
        parts.append(
            f'<text x="{x:.1f}" y="{_y(base, top) - 5:.1f}" text-anchor="middle" '
            f'fill="#1d2433">{totals[i]}</text>'
        )
    legend_x = CHART_W - PAD_R
    for name, _, color in reversed(series):
        legend_x -= 8 + 7 * len(name) + 14
        parts.append(
            f'<rect x="{legend_x}" y="25" width="10" height="10" fill="{color}"/>'
            f'<text x="{legend_x + 14}" y="34" fill="#1d2433">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


# --------------------------------------------------------------------------- helpers


def _page_link(site: str, page_id: str) -> str:
    url = f"{site}doku.php?id={quote(page_id, safe=':')}"
    return f'<a href="{escape(url)}"><code>{escape(page_id)}</code></a>'


def _num(value: object) -> str:
    return f'<td class="n">{"" if value is None else escape(str(value))}</td>'


def _when(value: str | None) -> str:
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _duration(start: str | None, end: str | None) -> str:
    try:
        seconds = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    except (TypeError, ValueError):
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {seconds:02d} s"


def _now() -> str:
    return datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
