"""The server's secret: keys the hashes of API keys and signs web sessions.

``--secret-key`` (``THREADLINE_SECRET_KEY``) when given; otherwise ``secret.key`` in the data folder,
created once with 256 random bits and readable by its owner only. Servers sharing one store must share
the secret, or each would refuse the others' keys.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

FILENAME = "secret.key"


def server_secret(configured: str, data_dir: Path) -> bytes:
    if configured:
        return configured.encode()
    path = Path(data_dir).expanduser() / FILENAME
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, value.encode())
    except BaseException:
        os.close(fd)
        raise
    os.close(fd)
    return bytes.fromhex(value)
