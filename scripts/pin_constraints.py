"""Rebuild constraints.txt: install the project with every extra in a fresh venv, then freeze.

Usage: python scripts/pin_constraints.py
The result pins every direct and transitive dependency for the Python that runs this script.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import venv
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
HEADER = (
    "# Every direct and transitive dependency, pinned, so a cohort runs the same MLflow.\n"
    "# Regenerate with: python scripts/pin_constraints.py "
    "(a fresh venv, pip install -e '.[all,dev]', pip freeze).\n"
)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="katas-pin-") as folder:
        venv.create(folder, with_pip=True)
        python = str(Path(folder) / "bin" / "python")
        subprocess.run([python, "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
        subprocess.run(
            [python, "-m", "pip", "install", "-q", "-e", f"{REPO_ROOT}[all,dev]"], check=True
        )
        frozen = subprocess.run(
            [python, "-m", "pip", "freeze", "--exclude-editable"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    pins = [line for line in frozen.splitlines() if line and not line.startswith("-e")]
    (REPO_ROOT / "constraints.txt").write_text(HEADER + "\n".join(pins) + "\n", encoding="utf-8")
    print(f"Pinned {len(pins)} packages in constraints.txt.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
