#!/usr/bin/env python3
"""Fail if any log line the test suite produced carries personal data or secrets.

Scans every file under the given folder (the servers and Lambdas started by the tests write their
logs there, KENPO_LOG_DIR) for: birth-date-like 8-digit dates, e-mail addresses, JWTs, session
cookies and the development keys. Prints only where (file, line number, kind), never the match.
"""
import pathlib
import re
import sys

PATTERNS = {
    "birth date": re.compile(r"(?<![0-9])(19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])(?![0-9])"),
    "birth date (separated)": re.compile(r"(?<![0-9T:.])(19[0-9]{2}|200[0-9])[/-](0[1-9]|1[0-2])[/-](0[1-9]|[12][0-9]|3[01])(?![0-9T])"),
    "e-mail address": re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
    "JWT": re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    "session cookie": re.compile(r"kenpo_session="),
    "development key": re.compile(r"do-not-use-in-production"),
}


def main() -> int:
    folder = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "artifacts/logs")
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    lines = 0
    findings = []
    for path in files:
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            lines += 1
            for kind, pattern in PATTERNS.items():
                if pattern.search(line):
                    findings.append(f"{path.name}:{number}: {kind}")
    print(f"log scan: {len(files)} files, {lines} lines, {len(findings)} findings")
    for f in findings[:50]:
        print("  " + f)
    if not files:
        print("log scan: no logs were written (KENPO_LOG_DIR not used?)")
        return 1
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
