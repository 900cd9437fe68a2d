"""Turn a seed example (``examples.py``) into the HTTP request it describes."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from tests.seed_examples.examples import Example

REPO = Path(__file__).resolve().parents[2]
# where the design documents are: shared/ beside the clone (CI, the developers' checkouts)
SEEDS_DIRS = (REPO.parent / "shared" / "seeds", REPO.parent.parent / "shared" / "seeds")


@dataclass
class SeedRequest:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: dict | None = None
    output: str | None = None  # curl --output: the answer is a file (bytes, not JSON)


def strip_comments(text: str) -> str:
    """The seeds annotate JSON with ``// ...`` comments; drop them (outside strings)."""
    out, in_str, esc, i = [], False, False, 0
    while i < len(text):
        ch = text[i]
        if in_str:
            out.append(ch)
            esc = ch == "\\" and not esc
            if ch == '"' and not esc:
                in_str = False
        elif ch == '"':
            in_str = True
            out.append(ch)
        elif text.startswith("//", i):
            while i < len(text) and text[i] != "\n":
                i += 1
            continue
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def parse(example: Example) -> SeedRequest:
    if example.kind == "curl":
        return _curl(example.text)
    if example.kind.startswith("json "):
        _, method, path = example.kind.split()
        return SeedRequest(method, path, {"Content-Type": "application/json"},
                           json.loads(strip_comments(example.text)))
    if example.kind == "line":
        m = re.search(r"`(GET|POST|PUT|DELETE) (/[^`\s]*)`", example.text)
        assert m, example.text
        return SeedRequest(m.group(1), m.group(2))
    raise ValueError(example.kind)


def _curl(text: str) -> SeedRequest:
    args = shlex.split(text.replace("\\\n", " "))
    assert args[0] == "curl", text
    req = SeedRequest("GET", "")
    it = iter(args[1:])
    for arg in it:
        if arg == "-X":
            req.method = next(it)
        elif arg == "-H":
            name, _, value = next(it).partition(":")
            req.headers[name.strip()] = value.strip()
        elif arg == "--cookie":
            req.headers["Cookie"] = next(it)
        elif arg == "-d":
            req.body = json.loads(next(it))
            if req.method == "GET":
                req.method = "POST"
        elif arg == "--output":
            req.output = next(it)
        elif arg.startswith("http"):
            req.path = urlsplit(arg).path
        else:
            raise ValueError(f"curl option not handled: {arg}")
    return req


def seed_lines(example: Example) -> str | None:
    """The example's lines as the seed files hold them, or None where they are not at hand."""
    for directory in SEEDS_DIRS:
        files = sorted(directory.glob(f"{example.file}_*.txt")) if directory.is_dir() else []
        if files:
            lines = files[0].read_text(encoding="utf-8").splitlines()
            first, last = example.lines
            return "\n".join(lines[first - 1:last])
    return None
