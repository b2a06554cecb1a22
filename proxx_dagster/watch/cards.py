"""Camera-card and day folders as the watch sensor and the folder launchpad see them.

A card folder is one job. Every video file below it becomes a clip, in name order of its path
inside the folder (sub-folders included, so a card's CLIP/ or PRIVATE/M4ROOT/CLIP/ clips are
found); everything else is listed as skipped with the reason (camera RAW files with what to use
instead: camera_raw.py). Never read: a folder named `Proxy` (in any letter case; it holds
proxies, ours or the camera's). Never followed: symbolic links.
"""

from __future__ import annotations

import hashlib
import os
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from proxx_dagster.watch.camera_raw import CAMERA_RAW

PROXY_FOLDER = "Proxy"
# Containers the pinned FFmpeg reads, with the first bytes each must start with. Anything else
# (sidecar XML, thumbnails, audio-only WAV, RAW formats FFmpeg cannot decode) is skipped.
_QUICKTIME_ATOMS = frozenset({b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"})
MEDIA_EXTENSIONS: dict[str, str] = {
    ".mov": "QuickTime/MP4",
    ".mp4": "QuickTime/MP4",
    ".m4v": "QuickTime/MP4",
    ".mxf": "MXF",
    ".mts": "AVCHD (MPEG-TS)",
    ".m2ts": "AVCHD (MPEG-TS)",
    ".avi": "AVI",
    ".mkv": "Matroska",
}
_HEAD_BYTES = 12


@dataclass(frozen=True)
class MediaFile:
    path: Path
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Skipped:
    path: str  # inside the folder, with / between parts
    reason: str
    camera_raw: str | None = None  # the camera RAW format (camera_raw.py), if it is one


@dataclass(frozen=True)
class FolderContents:
    folder: Path
    media: tuple[MediaFile, ...]  # in name order of the path inside the folder
    skipped: tuple[Skipped, ...]


def is_proxy_folder(name: str) -> bool:
    return name.casefold() == PROXY_FOLDER.casefold()


def _looks_like(head: bytes, extension: str) -> bool:
    """A cheap look at the first bytes: does the file start the way its container does?"""
    family = MEDIA_EXTENSIONS[extension]
    if family == "QuickTime/MP4":
        return head[4:8] in _QUICKTIME_ATOMS
    if family == "MXF":
        return head.startswith(b"\x06\x0e\x2b\x34")  # the SMPTE universal label
    if family == "AVCHD (MPEG-TS)":
        return len(head) > 4 and head[4] == 0x47  # 192-byte packets: 4-byte time code, sync
    if family == "AVI":
        return head[:4] == b"RIFF" and head[8:12] == b"AVI "
    return head.startswith(b"\x1a\x45\xdf\xa3")  # Matroska's EBML header


def _name_problem(name: str) -> str | None:
    """Names a JobSpec cannot carry, or that are not meant to be seen."""
    if name.startswith("."):
        return "hidden"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "name is not valid UTF-8"
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        return "name contains a control character"
    return None


def _shown(relative: str) -> str:
    return os.fsencode(relative).decode("utf-8", "backslashreplace")


def _classify(entry: os.DirEntry[str], relative: str) -> Skipped | MediaFile | None:
    """One file: a clip, a skipped entry, or None for a folder to enter."""
    problem = _name_problem(entry.name)
    if problem:
        return Skipped(_shown(relative), problem)
    if entry.is_symlink():
        return Skipped(relative, "symbolic link (never followed)")
    if entry.is_dir(follow_symlinks=False):
        return None
    info = entry.stat(follow_symlinks=False)
    if not stat.S_ISREG(info.st_mode):
        return Skipped(relative, "not a regular file")
    extension = Path(entry.name).suffix.lower()
    if raw := CAMERA_RAW.get(extension):
        return Skipped(relative, raw.reason, camera_raw=raw.name)
    if extension not in MEDIA_EXTENSIONS:
        return Skipped(relative, "not a video file")
    if info.st_size == 0:
        return Skipped(relative, "empty file")
    with open(entry.path, "rb") as handle:  # noqa: PTH123 - a DirEntry path, read once
        head = handle.read(_HEAD_BYTES)
    if not _looks_like(head, extension):
        family = MEDIA_EXTENSIONS[extension]
        return Skipped(relative, f"named {extension} but does not start like a {family} file")
    return MediaFile(Path(entry.path), info.st_size, info.st_mtime_ns)


def scan_folder(folder: Path) -> FolderContents:
    """Every clip below the folder in name order, and what was skipped and why.

    Raises OSError when a part of the folder cannot be read.
    """
    media: list[tuple[str, MediaFile]] = []
    skipped: list[Skipped] = []
    todo = [(folder, "")]
    while todo:
        current, prefix = todo.pop()
        with os.scandir(current) as entries:
            for entry in entries:
                relative = f"{prefix}{entry.name}"
                if entry.is_dir(follow_symlinks=False) and is_proxy_folder(entry.name):
                    continue
                found = _classify(entry, relative)
                if found is None:
                    todo.append((Path(entry.path), f"{relative}/"))
                elif isinstance(found, Skipped):
                    skipped.append(found)
                else:
                    media.append((relative, found))
    media.sort(key=lambda item: item[0])
    skipped.sort(key=lambda item: item.path)
    return FolderContents(folder, tuple(m for _, m in media), tuple(skipped))


def observe(folder: Path) -> str:
    """A digest of everything in the folder that a copy changes: every entry's path, kind, size
    and modification time, hidden ones included (copy tools write to hidden temporary names).
    Proxy folders are left out, so writing proxies beside the clips does not change it.

    Raises OSError when a part of the folder cannot be read (e.g. it is being removed).
    """
    rows: list[bytes] = []
    todo = [(folder, b"")]
    while todo:
        current, prefix = todo.pop()
        with os.scandir(current) as entries:
            for entry in entries:
                relative = prefix + os.fsencode(entry.name)
                info = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(info.st_mode):
                    if not is_proxy_folder(entry.name):
                        todo.append((Path(entry.path), relative + b"/"))
                    continue
                rows.append(
                    b"%s\0%o\0%d\0%d" % (relative, info.st_mode, info.st_size, info.st_mtime_ns)
                )
    digest = hashlib.sha256()
    for row in sorted(rows):
        digest.update(row + b"\n")
    return digest.hexdigest()


def card_folders(root: Path, depth: int) -> list[Path]:
    """The card folders `depth` levels below a watch root: real folders, not hidden, not Proxy.

    Missing or unreadable levels give no cards (the next look tries again).
    """
    level = [root]
    for _ in range(depth):
        below: list[Path] = []
        for folder in level:
            try:
                with os.scandir(folder) as entries:
                    below.extend(
                        Path(entry.path)
                        for entry in entries
                        if entry.is_dir(follow_symlinks=False)
                        and _name_problem(entry.name) is None
                        and not is_proxy_folder(entry.name)
                    )
            except OSError:
                continue
        level = below
    return sorted(level)
