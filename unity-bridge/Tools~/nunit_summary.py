"""Print NUnit 2.6's TestResult.xml as one line: `NUnit: N passed, N failed` (and the names of
failed, errored, ignored or not-run tests). Exit 1 unless every test ran and passed.

    python3 unity-bridge/Tools~/nunit_summary.py build/TestResult.xml
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET


def summarise(path: str) -> tuple[int, int, list[str]]:
    root = ET.parse(path).getroot()
    passed, failed, problems = 0, 0, []
    for case in root.iter("test-case"):
        name = case.get("name", "?")
        executed = case.get("executed") == "True"
        result = case.get("result")
        if executed and case.get("success") == "True":
            passed += 1
            continue
        failed += 1
        msg = case.find("./*/message")
        text = (msg.text or "").strip().splitlines()[0] if msg is not None and msg.text else ""
        problems.append(f"{result or 'NotRun'}: {name}" + (f": {text}" if text else ""))
    return passed, failed, problems


def main(argv: list[str]) -> int:
    passed, failed, problems = summarise(argv[0])
    for p in problems:
        print(f"  {p}")
    print(f"NUnit: {passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
