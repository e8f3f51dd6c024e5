"""Refresh the third-party files the web pages use, pinned, into ``src/threadline/server/web/static/vendor``.

    python scripts/refresh_web_vendor.py            fetch the pinned versions (needs npm), record their hashes
    python scripts/refresh_web_vendor.py --check    verify the files on disk against the recorded hashes

To move to a new release, change its version in ``PINNED``, run the script, look at the diff, run the
browser tests. Each package's licence is copied beside its files.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VENDOR = Path(__file__).resolve().parents[1] / "src" / "threadline" / "server" / "web" / "static" / "vendor"
MANIFEST = VENDOR / "manifest.json"

PINNED: dict[str, tuple[str, dict[str, str]]] = {
    # package: (version, {file in the package tarball: file name under vendor/})
    "uplot": ("1.6.32", {"dist/uPlot.iife.min.js": "uPlot.iife.min.js", "dist/uPlot.min.css": "uPlot.min.css",
                         "LICENSE": "uPlot.LICENSE"}),
}  # fmt: skip


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch(package: str, version: str, files: dict[str, str], work: Path) -> dict[str, str]:
    """Unpack ``package@version`` (``npm pack``) and copy ``files``; returns {vendored name: sha256}."""
    subprocess.run(["npm", "pack", f"{package}@{version}", "--silent"], cwd=work, check=True, capture_output=True)
    (tarball,) = work.glob(f"{package}-{version}.tgz")
    with tarfile.open(tarball) as archive:
        archive.extractall(work / package, filter="data")
    hashes = {}
    for inside, name in files.items():
        target = VENDOR / name
        shutil.copyfile(work / package / "package" / inside, target)
        hashes[name] = sha256(target)
    return hashes


def refresh() -> None:
    VENDOR.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for package, (version, files) in PINNED.items():
            manifest[package] = {"version": version, "files": fetch(package, version, files, Path(tmp))}
    MANIFEST.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"vendored {', '.join(f'{p}@{v}' for p, (v, _) in PINNED.items())} into {VENDOR}")


def check() -> int:
    """Non-zero when a vendored file is missing or differs from the manifest."""
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    problems = [
        f"{name} ({package}) differs from the manifest"
        for package, entry in manifest.items()
        for name, digest in entry["files"].items()
        if not (VENDOR / name).is_file() or sha256(VENDOR / name) != digest
    ]
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify instead of fetching")
    if parser.parse_args().check:
        sys.exit(check())
    refresh()
