"""Looks and burn-ins: what the picture becomes, decided in the plan.

`PICTURE_DATA` is the folder that holds what this package ships for the picture (the baked LUTs
in `luts/`, the font in `fonts/`). The engine always runs with it as its working folder and the
plan names those files relative to it, so the commands are the same wherever proxx is installed.
"""

from pathlib import Path

PICTURE_DATA = Path(__file__).resolve().parent


def shipped_file(name: str) -> Path:
    """Where a file the plan names is read: a shipped file's name (relative) is found in
    `PICTURE_DATA`, as the engine finds it; a user's absolute path stays as it is."""
    return PICTURE_DATA / name
