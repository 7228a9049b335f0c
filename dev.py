#!/usr/bin/env python3
"""Set up and run paydue with nothing but Python 3.11+.

    python3 dev.py demo     # creates .venv, installs paydue, runs `paydue demo` on SQLite
    python3 dev.py test     # creates .venv, installs paydue with its test tools, runs the tests
    python3 dev.py check    # ruff, mypy and the import-layer contracts
    python3 dev.py run ARGS # any other paydue command, e.g. `python3 dev.py run migrate`

The virtual environment is (re)installed whenever pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("PAYDUE_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"


def ensure_environment() -> None:
    if not PYTHON.exists():
        print(f"creating virtual environment in {VENV}", flush=True)
        venv.create(VENV, with_pip=True)
    stamp = VENV / ".paydue-installed"
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted:
        return
    print("installing paydue and its tools (first run takes a minute)", flush=True)
    pip = [str(PYTHON), "-m", "pip", "--disable-pip-version-check", "--quiet"]
    subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "install", "-e", f"{ROOT}[dev]"], check=True)
    stamp.write_text(wanted)


def run(*args: str) -> int:
    return subprocess.run(list(args), cwd=ROOT).returncode


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__)
        return 0
    command, rest = argv[0], argv[1:]
    ensure_environment()
    if command == "demo":
        return run(str(BIN / "paydue"), "demo", *rest)
    if command == "test":
        return run(str(PYTHON), "-m", "pytest", *rest)
    if command == "check":
        for step in (
            [str(BIN / "ruff"), "check", "src", "tests", "bench", "dev.py"],
            [str(BIN / "ruff"), "format", "--check", "src", "tests", "bench", "dev.py"],
            [str(BIN / "mypy")],
            [str(BIN / "lint-imports")],
        ):
            code = run(*step)
            if code:
                return code
        return 0
    if command == "run":
        return run(str(BIN / "paydue"), *rest)
    print(f"unknown command {command!r}\n{__doc__}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
