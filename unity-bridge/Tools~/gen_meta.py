"""Unity .meta files for every asset and folder of the package (a package added by git URL is
read-only, and Unity ignores files without a .meta there).

    python3 unity-bridge/Tools~/gen_meta.py          # adds missing .meta files, removes orphans
    python3 unity-bridge/Tools~/gen_meta.py --check  # exit 1 when one is missing or orphaned

GUIDs are derived from the package name and the path (md5), so a regenerated file gets the
same GUID; existing .meta files are never rewritten. Hidden from Unity, and so skipped: names
ending in '~' or starting with '.', and build/ (git-ignored).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = {"build"}

IMPORTER = {
    ".cs": "MonoImporter:\n  externalObjects: {}\n  serializedVersion: 2\n  defaultReferences: []\n"
           "  executionOrder: 0\n  icon: {instanceID: 0}\n",
    ".asmdef": "AssemblyDefinitionImporter:\n  externalObjects: {}\n",
    ".md": "TextScriptImporter:\n  externalObjects: {}\n",
    ".json": "TextScriptImporter:\n  externalObjects: {}\n",
}
TAIL = "  userData: \n  assetBundleName: \n  assetBundleVariant: \n"


def hidden(rel: Path) -> bool:
    return any(p.endswith("~") or p.startswith(".") for p in rel.parts) or rel.parts[0] in SKIP_DIRS


def assets() -> list[Path]:
    out = []
    for p in sorted(ROOT.rglob("*")):
        rel = p.relative_to(ROOT)
        if hidden(rel) or p.suffix == ".meta":
            continue
        out.append(rel)
    return out


def meta_text(rel: Path, package: str) -> str:
    guid = hashlib.md5(f"{package}/{rel.as_posix()}".encode()).hexdigest()
    head = f"fileFormatVersion: 2\nguid: {guid}\n"
    if (ROOT / rel).is_dir():
        return head + "folderAsset: yes\nDefaultImporter:\n  externalObjects: {}\n" + TAIL
    if rel.as_posix() == "package.json":
        return head + "PackageManifestImporter:\n  externalObjects: {}\n" + TAIL
    return head + IMPORTER.get(rel.suffix, "DefaultImporter:\n  externalObjects: {}\n") + TAIL


def main(argv: list[str]) -> int:
    package = json.loads((ROOT / "package.json").read_text())["name"]
    wanted = {ROOT / (rel.as_posix() + ".meta"): rel for rel in assets()}
    existing = {p for p in ROOT.rglob("*.meta") if not hidden(p.relative_to(ROOT))}
    missing = [m for m in wanted if m not in existing]
    orphans = sorted(existing - set(wanted))
    if "--check" in argv:
        for m in missing:
            print(f"missing {m.relative_to(ROOT)}", file=sys.stderr)
        for o in orphans:
            print(f"orphan {o.relative_to(ROOT)}", file=sys.stderr)
        if missing or orphans:
            print("run: python3 unity-bridge/Tools~/gen_meta.py", file=sys.stderr)
            return 1
        return 0
    for m in missing:
        m.write_text(meta_text(wanted[m], package))
    for o in orphans:
        o.unlink()
    print(f"{len(missing)} .meta written, {len(orphans)} removed, {len(wanted)} assets")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
