"""The README's data dictionary, generated from the table definitions.

``python -m exports.docs`` prints it; a test keeps README.md in step.
"""

from __future__ import annotations

from exports.tables import TABLES


def data_dictionary() -> str:
    parts = []
    for name, columns in TABLES.items():
        parts.append(f"#### `{name}`\n\n| column | type | meaning |\n|---|---|---|")
        parts.extend(f"| `{c.name}` | {c.type} | {c.meaning} |" for c in columns)
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"


if __name__ == "__main__":
    print(data_dictionary(), end="")
