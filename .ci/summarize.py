"""Sum the closing lines of every pytest run in a log into one ``N passed, N failed`` line, and
name the nox sessions that failed (lint and types run no pytest, so their failure shows only
there and in the exit code)."""

from __future__ import annotations

import re
import sys
from collections import Counter

SUMMARY = re.compile(r"^=*\s*((?:\d+ \w+(?:, )?)+) in [\d.]+s")
COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected|warnings?)")
SESSION_FAILED = re.compile(r"^nox > \* (.+): failed")


def main(path: str) -> None:
    totals: Counter[str] = Counter()
    failed_sessions: list[str] = []
    with open(path, encoding="utf-8", errors="replace") as log:
        for line in log:
            session = SESSION_FAILED.match(line)
            if session:
                failed_sessions.append(session.group(1))
            match = SUMMARY.match(line.strip())
            if match:
                for number, word in COUNT.findall(match.group(1)):
                    totals[word.rstrip("s") if word.startswith("error") else word] += int(number)
    failed = totals["failed"] + totals["error"]
    print(f"ci: {totals['passed']} passed, {failed} failed, {totals['skipped']} skipped")
    if failed_sessions:
        print(f"ci: nox sessions failed: {', '.join(failed_sessions)}")


if __name__ == "__main__":
    main(sys.argv[1])
