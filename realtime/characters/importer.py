"""Import a character set: a directory of the seeds' ``public/characters/*.json`` files.

Each file holds one character object (or a list of them) with the seeds' fields (``name``,
``personality``, ``likes``, ..., ``worldview``, ``sample_dialogue``; 000:67-104). The id is the
object's ``id``, else the file name (``hermione.json`` -> ``hermione``), so a migrated set keeps
its ids. Imported characters are shared (every user sees them, like the presets) unless an owner
is given; importing again replaces them (keeping ``created_at``). A preset's id is refused.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from realtime.characters.model import SLUG, Character, CharacterIn, load_presets

MAX_FILE_BYTES = 1_000_000


@dataclass
class ImportReport:
    imported: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file or id, why)

    @property
    def ok(self) -> bool:
        return not self.failed


def read_dir(directory: Path) -> tuple[list[tuple[str, dict]], list[tuple[str, str]]]:
    """-> ([(id, object)], [(file, error)]) for every ``*.json`` in ``directory``."""
    found, failed = [], []
    for path in sorted(directory.glob("*.json")):
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise ValueError(f"over {MAX_FILE_BYTES} bytes")
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, ValueError) as exc:
            failed.append((path.name, f"not readable JSON: {exc}"))
            continue
        items = data if isinstance(data, list) else [data]
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                failed.append((path.name, "not a JSON object"))
                continue
            cid = str(item.get("id") or (path.stem if len(items) == 1 else f"{path.stem}-{i}"))
            found.append((cid, item))
    return found, failed


def to_character(cid: str, item: dict, owner: str | None, now: float,
                 created_at: float | None = None) -> Character:
    if not re.match(SLUG, cid):
        raise ValueError(f"id {cid!r} is not a slug (letters, digits, - and _; up to 64)")
    body = CharacterIn.model_validate({k: v for k, v in item.items() if k != "id"})
    return Character(**body.model_dump(), id=cid, owner=owner,
                     created_at=created_at if created_at is not None else now, updated_at=now)


async def import_dir(store, directory: Path, owner: str | None = None) -> ImportReport:
    """Validate every file first, then write: a set with a bad file is not half imported."""
    report = ImportReport()
    found, report.failed = read_dir(directory)
    presets = load_presets()
    now = time.time()
    ready: list[tuple[Character, bool]] = []
    seen: set[str] = set()
    for cid, item in found:
        try:
            if cid in presets:
                raise ValueError("is a preset's id")
            if cid in seen:
                raise ValueError("appears twice")
            seen.add(cid)
            old = await store.get_character(cid)
            if old is not None and old.get("owner") != owner:
                raise ValueError("is taken by another owner's character")
            c = to_character(cid, item, owner, now, (old or {}).get("created_at"))
            ready.append((c, old is not None))
        except (ValueError, ValidationError) as exc:
            report.failed.append((cid, _short(exc)))
    if report.failed:
        return report
    for c, replaced in ready:
        await store.put_character(c.to_doc())
        (report.replaced if replaced else report.imported).append(c.id)
    return report


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
    return str(exc)
