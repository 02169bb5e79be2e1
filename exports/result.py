"""What a writing of the tables found: rows per table, files changed, pages read badly.

Apart from the writing itself, so the crawl process can take it from the archivist (which
writes the tables) and report it without loading Arrow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# What the pages say of how they were read, kept with the tables' notes.
PROBLEM_KINDS = ("unreadable_dates", "undated", "unrecognised")


@dataclass(frozen=True, slots=True)
class ExportResult:
    rows: dict[str, int]  # rows per table
    unreadable_dates: list[str]  # pages whose date was shown but could not be parsed
    # Pages showing no date at all: the template prints it where it is not looked for.
    undated: list[str] = field(default_factory=list)
    # Pages whose body is empty or was not found by DokuWiki's markup: an unknown template.
    unrecognised: list[str] = field(default_factory=list)
    rewritten: list[str] = field(default_factory=list)  # files that changed

    def render(self, tables_dir: Path) -> str:
        """The table counts, then one warning line per kind of page read badly."""
        counts = ", ".join(f"{n} {name}" for name, n in self.rows.items())
        state = "" if self.rewritten else " (unchanged)"
        lines = [f"Tables in {tables_dir}{state}: {counts}"]
        lines += [f"Warning: {warning}" for warning in self.warnings()]
        return "\n".join(lines)

    def warnings(self) -> list[str]:
        """One line per kind of page read badly, with how many and an example page."""
        return [message for message, _ in self.problems()]

    def problems(self) -> list[tuple[str, list[str]]]:
        """(warning, the pages) per kind of page read badly; none when all read well."""
        found = []
        if self.unreadable_dates:
            found.append((
                f"{len(self.unreadable_dates)} pages show a date that could not be read "
                f"(e.g. {self.unreadable_dates[0]}; kept in last_modified_raw); name the "
                "wiki's format with --date-format",
                self.unreadable_dates,
            ))
        if self.undated:
            found.append((
                f"{len(self.undated)} pages show no date where DokuWiki's templates put it "
                f"(e.g. {self.undated[0]}); last_modified is empty for them",
                self.undated,
            ))
        if self.unrecognised:
            found.append((
                f"{len(self.unrecognised)} pages have an empty body or no DokuWiki page "
                f"structure (e.g. {self.unrecognised[0]}); their text may be incomplete or "
                "hold the template's menus",
                self.unrecognised,
            ))
        return found
