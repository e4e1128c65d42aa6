"""Sign the plugin's JSON report so the grader can tell it from a file learner code wrote.

The grader writes a random key to a file and names the file in ``KATAS_REPORT_KEY_FILE``.
The plugin reads the key and deletes both the file and the variable at configure time,
before any learner module is imported, so learner code cannot read the key from the
environment or the disk. It signs the report with HMAC-SHA256 when the session ends.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

KEY_FILE_VARIABLE = "KATAS_REPORT_KEY_FILE"
SIGNATURE_FIELD = "signature"


def new_key_file(folder: Path) -> tuple[Path, bytes]:
    """Write a fresh random key to a private file in ``folder`` and return its path and key."""
    key = secrets.token_bytes(32)
    path = folder / f"report-key-{secrets.token_hex(8)}"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key)
    return path, key


def take_key_from_environment() -> bytes | None:
    """Read the key named by the environment, then delete the file and the variable."""
    name = os.environ.pop(KEY_FILE_VARIABLE, None)
    if not name:
        return None
    path = Path(name)
    try:
        key = path.read_bytes()
    except OSError:
        return None
    path.unlink(missing_ok=True)
    return key or None


def sign(document: dict, key: bytes) -> dict:
    """Return a copy of ``document`` with its signature added."""
    body = {name: value for name, value in document.items() if name != SIGNATURE_FIELD}
    return {**body, SIGNATURE_FIELD: _digest(body, key)}


def is_signed_by(document: dict, key: bytes) -> bool:
    """Check that ``document`` carries a valid signature made with ``key``."""
    signature = document.get(SIGNATURE_FIELD)
    if not isinstance(signature, str):
        return False
    body = {name: value for name, value in document.items() if name != SIGNATURE_FIELD}
    return hmac.compare_digest(signature, _digest(body, key))


def _digest(body: dict, key: bytes) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return hmac.new(key, canonical, hashlib.sha256).hexdigest()
