"""``python -m realtime.characters import DIR [--owner USER] [--dry-run]``

Imports a directory of the seeds' ``public/characters/*.json`` files into the long-term store the
server's settings name (``AVATAR_MONGO_URL``, else SQLite under ``AVATAR_STORAGE_DIR``). The
server need not be stopped; it sees the characters at once.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path


async def _run(args: argparse.Namespace) -> int:
    from realtime.characters.importer import import_dir, read_dir, to_character
    from realtime.config import Settings
    from realtime.store import build_long_term

    directory = Path(args.dir)
    if not directory.is_dir():
        print(f"not a directory: {directory}", file=sys.stderr)
        return 2
    if args.dry_run:
        found, failed = read_dir(directory)
        for cid, item in found:
            try:
                to_character(cid, item, args.owner, 0.0)
            except Exception as exc:  # noqa: BLE001 - reported below
                failed.append((cid, str(exc).splitlines()[0]))
        _print(sorted(c for c, _ in found), [], failed, verb="valid   ")
        return 1 if failed else 0
    store = build_long_term(Settings())
    await store.start()
    try:
        report = await import_dir(store, directory, args.owner)
    finally:
        await store.close()
    _print(report.imported, report.replaced, report.failed)
    return 0 if report.ok else 1


def _print(imported: list[str], replaced: list[str], failed: list[tuple[str, str]],
           verb: str = "imported") -> None:
    for what, why in failed:
        print(f"failed   {what}: {why}", file=sys.stderr)
    if failed:
        print("nothing imported (fix the files above and run again)", file=sys.stderr)
        return
    for cid in imported:
        print(f"{verb} {cid}")
    for cid in replaced:
        print(f"replaced {cid}")
    print(f"{len(imported) + len(replaced)} character(s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m realtime.characters",
                                     description="Manage characters in the long-term store.")
    sub = parser.add_subparsers(dest="command", required=True)
    imp = sub.add_parser("import", help="import a directory of character JSON files "
                                        "(the seeds' public/characters/*.json)")
    imp.add_argument("dir")
    imp.add_argument("--owner", default=None,
                     help="import for this user only (default: shared with every user)")
    imp.add_argument("--dry-run", action="store_true", help="check the files, write nothing")
    args = parser.parse_args(argv)
    return asyncio.run(_run(args))


if __name__ == "__main__":
    sys.exit(main())
