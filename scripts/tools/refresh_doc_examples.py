"""Rerun the console examples of README.md and docs/getting-started.md and write
their real output into the pages (tests/test_docs_examples.py checks they match).

    python -m scripts.tools.refresh_doc_examples
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from scripts import ROOT

PAGES = ["README.md", "docs/getting-started.md"]


def refresh(page: Path, workdir: Path) -> None:
    def block(match: re.Match) -> str:
        # commands shown with output get their real output; commands shown alone stay alone
        groups: list[tuple[str, list[str]]] = []
        for line in match.group(1).splitlines():
            if line.startswith("$ "):
                groups.append((line, []))
            elif groups:
                groups[-1][1].append(line)
        out = []
        for line, shown in groups:
            out.append(line)
            if any(s.strip() for s in shown):
                command = line[2:]
                proc = subprocess.run(f"{sys.executable} {command[len('python '):]}", shell=True, cwd=workdir,
                                      capture_output=True, text=True, timeout=300)
                out.extend(proc.stdout.rstrip("\n").splitlines())
                out.append("")
        return "```console\n" + "\n".join(out).rstrip("\n") + "\n```"

    text = page.read_text(encoding="utf-8")
    page.write_text(re.sub(r"```console\n(.*?)```", block, text, flags=re.S), encoding="utf-8")


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    with tempfile.TemporaryDirectory() as tmp:  # examples write files; keep them out of the repository
        (Path(tmp) / "tests").symlink_to(ROOT / "tests")
        for name in PAGES:
            refresh(ROOT / name, Path(tmp))
            print(f"refreshed {name}")


if __name__ == "__main__":
    main()
