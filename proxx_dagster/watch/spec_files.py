"""JobSpec files as the schedule, the inbox sensor and the batch see them: listed in name order,
read once, with their exact bytes (`run_requests` turns one into a run request)."""

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from proxx_exec import JobFailure, JobSpec, load_jobspec_bytes
from proxx_exec.jobspec import read_spec_file

SPEC_SUFFIXES = (".json", ".yaml", ".yml")


@dataclass(frozen=True)
class SpecFile:
    path: Path
    raw: bytes
    spec: JobSpec | None  # None: not a valid JobSpec; its run ends in a VALIDATION result
    modified: float  # the file's mtime, taken just before it was read

    @property
    def content_fingerprint(self) -> str:
        """The JobSpec fingerprint when it parses, else the SHA-256 of the bytes."""
        return self.spec.fingerprint if self.spec else hashlib.sha256(self.raw).hexdigest()


def list_spec_files(folder: Path) -> list[Path]:
    """Regular files with a JobSpec suffix, sorted by name; hidden and partial files skipped."""
    if not folder.is_dir():
        return []
    return sorted(
        entry
        for entry in folder.iterdir()
        if entry.suffix.lower() in SPEC_SUFFIXES
        and not entry.name.startswith(".")
        and entry.is_file()
    )


def read_spec(path: Path, substitutions: dict[str, str] | None = None) -> SpecFile:
    """The file read by proxx_exec's own reader. Its mtime is taken first: a file replaced in
    between has a later mtime than the one recorded, so the sensor's look-back (from the oldest
    mtime) can only grow, never miss the run of the bytes it read."""
    modified = path.stat().st_mtime
    raw = read_spec_file(path)
    for token, value in (substitutions or {}).items():
        raw = raw.replace(token.encode(), value.encode())
    try:
        spec: JobSpec | None = load_jobspec_bytes(raw)
    except JobFailure:
        spec = None
    return SpecFile(path=path, raw=raw, spec=spec, modified=modified)


def read_specs(
    folder: Path, log: logging.Logger, substitutions: dict[str, str] | None = None
) -> list[SpecFile]:
    """Every JobSpec file of the folder in name order; a file that vanished or cannot be read
    is left for the next look, with a warning."""
    found = []
    for path in list_spec_files(folder):
        try:
            found.append(read_spec(path, substitutions))
        except OSError as error:
            log.warning(f"{path}: not read ({error}); left for the next look")
    return found
