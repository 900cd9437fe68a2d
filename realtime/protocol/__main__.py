"""Write the protocol's JSON Schema: ``python -m realtime.protocol [OUT]``."""

import sys
from pathlib import Path

import orjson

from realtime.protocol.messages import json_schema


def main() -> None:
    data = orjson.dumps(json_schema(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_bytes(data)
    else:
        sys.stdout.buffer.write(data)


if __name__ == "__main__":
    main()
