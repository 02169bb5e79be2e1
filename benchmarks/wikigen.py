"""Generate a realistic clinical DokuWiki of N pages into a test bed (deterministic).

Pages are shaped like the Neurosurgery Wiki's: a title, a see-also line, a few
paragraphs with links to other pages (some missing), 0-15 PubMed-cited footnotes,
sections, now and then a table; namespaces two levels deep; dates in the past.
"""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import wikibed  # noqa: E402


class DokuWikiBed(wikibed.DokuWikiBed):
    """The test bed as benchmarks use it: PHP's own 2 s between looks at a script's mtime,
    as a deployed wiki has it; no benchmark rewrites the configuration of a running wiki."""

    script_check_seconds = 2


NAMESPACES = ["", "spine", "spine:lumbar", "vascular", "vascular:aneurysm", "oncology",
              "pediatric", "functional", "trauma", "peripheral", "neuroanatomy", "icu"]
WORDS = ("patients outcome surgery aneurysm hemorrhage tumor resection spinal cord cervical "
         "lumbar decompression fusion craniotomy hydrocephalus shunt glioma meningioma "
         "vasospasm ischemia stroke trauma intracranial pressure seizure epilepsy stimulation "
         "randomized trial cohort retrospective analysis complication mortality morbidity "
         "imaging MRI CT angiography endovascular coiling clipping radiosurgery").split()
EPOCH = datetime(2012, 1, 1, tzinfo=UTC)


def page_ids(n: int, rng: random.Random) -> list[str]:
    ids = []
    for i in range(n):
        namespace = rng.choice(NAMESPACES)
        name = f"{rng.choice(WORDS)}_{rng.choice(WORDS)}_{i}".lower()
        ids.append(f"{namespace}:{name}" if namespace else name)
    return ids


def sentence(rng: random.Random, links: list[str], missing: list[str]) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(10, 28))]
    if rng.random() < 0.5:
        words[rng.randrange(len(words))] = f"[[:{rng.choice(links)}]]"
    if rng.random() < 0.1:
        words[rng.randrange(len(words))] = f"[[{rng.choice(missing)}]]"
    return " ".join(words).capitalize() + "."


def footnote(rng: random.Random) -> str:
    authors = ", ".join(f"{rng.choice('ABCDEFGHKLMNPRSTW')}{rng.choice(WORDS)[:6].title()} "
                        f"{rng.choice('ABCDJKLMS')}" for _ in range(rng.randint(1, 4)))
    year = rng.randint(1995, 2024)
    doi = f" doi: 10.{rng.randint(1000, 9999)}/j.{rng.choice(WORDS)}.{year}.{rng.randint(1, 999)}"
    pmid = rng.randint(1_000_000, 39_999_999)
    return (f"(({authors}. {sentence(rng, ['x'], ['y'])[:-1]}. J Neurosurg. {year};"
            f"{rng.randint(1, 140)}:{rng.randint(1, 900)}-{rng.randint(901, 999)}."
            f"{doi if rng.random() < 0.6 else ''} PubMed PMID: {pmid}.))")


def page_text(page_id: str, ids: list[str], rng: random.Random) -> str:
    title = page_id.rsplit(":", 1)[-1].replace("_", " ").title()
    missing = [f"missing_{rng.choice(WORDS)}_{rng.randint(1, 500)}" for _ in range(5)]
    parts = [f"====== {title} ======", f"see also [[:{rng.choice(ids)}]].", ""]
    notes = rng.choice([0, 0, 1, 2, 3, 5, 8, 12, 15])
    for section in range(rng.randint(2, 6)):
        if section:
            parts += [f"===== {rng.choice(WORDS).title()} {rng.choice(WORDS)} =====", ""]
        for _ in range(rng.randint(1, 4)):
            text = " ".join(sentence(rng, ids, missing) for _ in range(rng.randint(3, 9)))
            if notes:
                text += footnote(rng)
                notes -= 1
            parts += [text, ""]
        if rng.random() < 0.15:
            parts += ["^ Grade ^ Finding ^", *[f"| {g} | {rng.choice(WORDS)} |" for g in "IVX"], ""]
    return "\n".join(parts)


def generate(bed: DokuWikiBed, n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    ids = page_ids(n, rng)
    dates = sorted(EPOCH + timedelta(minutes=rng.randint(0, 6_000_000)) for _ in ids)
    for page_id, when in zip(ids, dates, strict=True):
        bed.write_page(page_id, page_text(page_id, ids, rng), when=when, summary="generated")
    text = "====== Neurosurgery Wiki ======\n" + "\n".join(f"  * [[:{p}]]" for p in ids[:50])
    bed.write_page("start", text + "\n", when=dates[-1] + timedelta(minutes=1))
    bed.reindex()
    return ["start", *ids]


def edit_sample(bed: DokuWikiBed, ids: list[str], fraction: float, seed: int = 11) -> list[str]:
    """Append a line to a random *fraction* of the pages (never the start page), dated now,
    as an edit on a live wiki: the configuration is left alone, so the stylesheet keeps
    its seed and the feed and sitemap caches stay. The pages edited."""
    edited = random.Random(seed).sample(ids[1:], max(1, int(len(ids) * fraction)))
    now = datetime.now(UTC)
    for page_id in edited:
        text = bed.page_path(page_id).read_text(encoding="utf-8")
        bed.write_page(page_id, text + "\nEdited for the benchmark.\n", when=now,
                       refresh_caches=False)
    return edited
