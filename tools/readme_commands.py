"""Print one of the two set-up commands that the README starts with.

``--run`` prints the first (install and run against the built-in simulator), ``--test`` the second
(install what the tests need and run the whole suite). ``.ci/run`` executes the second one, so
what CI runs is exactly what the README tells a newcomer to type.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
_BLOCK = re.compile(r"^```(?:sh|bash|shell)\n(.*?)\n```$", re.MULTILINE | re.DOTALL)


def commands(text: str) -> tuple[str, str]:
    """The first two shell blocks of the README, each a single command line."""
    blocks = _BLOCK.findall(text)
    if len(blocks) < 2:
        raise ValueError("README.md must start with two ```sh blocks")
    first, second = (b.strip() for b in blocks[:2])
    for block in (first, second):
        if "\n" in block:
            raise ValueError(f"a set-up block must be one command line, got:\n{block}")
    return first, second


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--run", action="store_true", help="print the first command")
    which.add_argument("--test", action="store_true", help="print the second command")
    args = parser.parse_args()
    try:
        first, second = commands(README.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"readme_commands: {exc}", file=sys.stderr)
        return 1
    print(first if args.run else second)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
