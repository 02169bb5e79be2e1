"""The README's data dictionary, generated from the table definitions.

``python -m exports.docs`` prints it; ``python -m exports.docs README.md`` writes it
between the README's markers; a test keeps README.md in step.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from exports.tables import TABLES

_BLOCK = re.compile(r"(<!-- data dictionary:.*?-->\n)(.*?)(<!-- end of data dictionary -->)", re.S)


def data_dictionary() -> str:
    parts = []
    for name, columns in TABLES.items():
        parts.append(f"#### `{name}`\n\n| column | type | meaning |\n|---|---|---|")
        parts.extend(f"| `{c.name}` | {c.type} | {c.meaning} |" for c in columns)
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"


def update_readme(path: Path) -> None:
    """Replace the data dictionary between the markers of the README at ``path``."""
    text = path.read_text(encoding="utf-8")
    if not _BLOCK.search(text):
        raise SystemExit(f"{path}: no data dictionary markers")
    path.write_text(
        _BLOCK.sub(lambda m: m.group(1) + data_dictionary() + m.group(3), text), encoding="utf-8"
    )


if __name__ == "__main__":
    if len(sys.argv) > 1:
        update_readme(Path(sys.argv[1]))
    else:
        print(data_dictionary(), end="")
