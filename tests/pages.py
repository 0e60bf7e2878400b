"""Reading --html pages in tests: the data marks of each chart, and a headless Chromium."""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

# The attributes that make an element a data mark (as the page's own script counts them).
MARKS = ("data-usd", "data-anomaly", "data-share")


class Marks(HTMLParser):
    """Per `[data-chart]` figure: its attributes and the data marks inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: dict[str, dict[str, str | None]] = {}
        self.marks: dict[str, list[tuple[str, dict[str, str | None]]]] = {}
        self.elements: list[str] = []
        self._chart: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.elements.append(tag)
        if tag == "figure" and found.get("data-chart"):
            self._chart = str(found["data-chart"])
            self.figures[self._chart] = found
            self.marks[self._chart] = []
        elif self._chart and any(k in found for k in MARKS):
            self.marks[self._chart].append((tag, found))

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self._chart = None


def parse(page: str) -> Marks:
    parser = Marks()
    parser.feed(page)
    return parser


def chromium() -> str | None:
    return shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )


def run_chromium(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Headless Chromium on a local file, with console messages logged to stderr."""
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
        "--virtual-time-budget=2000",
    ]  # fmt: skip
    command = [str(chromium()), *flags, *extra, page.as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
