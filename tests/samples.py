"""Where the shared public sample files live, found relative to the repository root.

The samples (bank statements, e-invoices, QR and webhook vectors written by others) sit in a
``shared/samples`` folder beside the repository. Tests that need them use :func:`sample_path`,
which skips the test with a clear reason where the folder is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLES_DIR = REPO_ROOT.parent / "shared" / "samples"


def samples_available() -> bool:
    return SAMPLES_DIR.is_dir()


def sample_path(*parts: str) -> Path:
    """Path of a shared sample; skips the calling test when the samples folder is absent."""
    if not samples_available():
        pytest.skip(
            f"shared samples folder not found at {SAMPLES_DIR} (it sits beside the repository)"
        )
    path = SAMPLES_DIR.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"expected sample file {path} is missing")
    return path


REJECTED_STATEMENTS = frozenset({("mt940", "oca_test-wrong-file.940")})
"""Sample statement files that are not statements: parsers must refuse them."""


def statement_files() -> list[tuple[str, str]]:
    """(folder, file name) of every bank statement sample; empty where the samples are absent."""
    if not samples_available():
        return []
    return [
        (folder, path.name)
        for folder in ("camt", "mt940")
        for path in sorted((SAMPLES_DIR / folder).iterdir())
        if path.suffix not in (".md", ".json", ".yml")
    ]
