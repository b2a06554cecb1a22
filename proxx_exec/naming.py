"""Every rule about names and paths of what a job writes. Nothing else builds an output path."""

from __future__ import annotations

import string
import unicodedata
from pathlib import PurePosixPath

from proxx_exec.failures import Reason, clip_label, invalid

TOKENS = ("source_stem", "source_name", "index", "job_id")
MAX_NAME_BYTES = 255
STAGING_PREFIX = ".proxx-staging-"
RESULT_SUFFIX = ".proxx-result.json"
REFUSAL_INFIX = ".proxx-refused-"
JOBSPEC_SUFFIX = ".proxx-jobspec.json"  # a JobSpec that proxx_dagster built, kept beside results
POSTERS_SUFFIX = ".proxx-posters"  # a folder: one poster frame per proxy of a COMPLETED job
CONTACT_SHEET_SUFFIX = ".proxx-contact-sheet.html"
NIGHT_REPORT_PREFIX = "proxx-night-"
POSTER_EXTENSION = ".png"
ALE_SUFFIX = ".proxx.ale"  # Avid's bin import of a COMPLETED job's proxies
FCPXML_SUFFIX = ".proxx.fcpxml"  # Final Cut Pro / Resolve import of the same clips
MHL_FOLDER = "ascmhl"  # the ASC MHL history of a proxy folder (one generation per seal)


def staging_dir(output_dir: str, job_id: str) -> str:
    """The job-private folder, inside the output folder, where outputs wait for the commit."""
    return str(PurePosixPath(output_dir) / f"{STAGING_PREFIX}{job_id}")


def result_path(output_dir: str, job_id: str) -> str:
    """The result of a job that ran (COMPLETED or FAILED). Its existence means the job_id is
    spent: a job runs once."""
    return str(PurePosixPath(output_dir) / f"{job_id}{RESULT_SUFFIX}")


def is_record_name(name: str) -> bool:
    """proxx's own files beside the proxies: results, refusals, JobSpecs it was given, poster
    folders, contact sheets, night reports, the editorial hand-off (ALE, FCPXML) and the ASC
    MHL history."""
    if name.startswith("."):
        return False
    return (
        name == MHL_FOLDER
        or name.endswith(
            (
                RESULT_SUFFIX,
                JOBSPEC_SUFFIX,
                POSTERS_SUFFIX,
                CONTACT_SHEET_SUFFIX,
                ALE_SUFFIX,
                FCPXML_SUFFIX,
            )
        )
        or (REFUSAL_INFIX in name and name.endswith(".json"))
        or (name.startswith(NIGHT_REPORT_PREFIX) and name.endswith((".html", ".json")))
    )


def refusal_path(output_dir: str, job_id: str, digest: str) -> str:
    """Where a VALIDATION refusal stays on record. It started nothing, so it does not spend the
    job_id; the same refusal twice has the same digest, hence the same name."""
    return str(PurePosixPath(output_dir) / f"{job_id}{REFUSAL_INFIX}{digest[:16]}.json")


def check_template(template: str) -> None:
    """Refuse templates with unknown tokens, format specs or path syntax of their own."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:
        raise invalid(Reason.NAMING_INVALID, f"naming template {template!r}: {error}") from None
    for literal, field, spec, conversion in parsed:
        if "/" in literal or "\\" in literal:
            raise invalid(
                Reason.PATH_ESCAPE,
                f"naming template {template!r} contains a path "
                "separator; outputs must stay directly inside output_dir",
            )
        if field is None:
            continue
        if field not in TOKENS:
            raise invalid(
                Reason.NAMING_INVALID,
                f"naming template {template!r} uses unknown "
                f"token {{{field}}}; known tokens: " + ", ".join("{" + t + "}" for t in TOKENS),
            )
        if spec or conversion:
            raise invalid(
                Reason.NAMING_INVALID,
                f"naming template {template!r}: token "
                f"{{{field}}} takes no format spec or conversion",
            )


def output_name(template: str, *, source: str, index: int, job_id: str, extension: str) -> str:
    """Render one output file name and refuse anything that is not a plain name in the folder."""
    source_path = PurePosixPath(source)
    values = {
        "source_stem": source_path.stem,
        "source_name": source_path.name,
        "index": f"{index + 1:04d}",
        "job_id": job_id,
    }
    name = template.format_map(values) + extension
    problem = _name_problem(name)
    if problem:
        reason, words = problem
        raise invalid(
            reason, f"{clip_label(index)}: output name {name!r} {words}", clip_index=index
        )
    return name


def _name_problem(name: str) -> tuple[Reason, str] | None:
    if name in {".", ".."} or name.startswith("."):
        return Reason.PATH_ESCAPE, "would be hidden or point outside output_dir"
    if "/" in name or "\x00" in name:
        return Reason.PATH_ESCAPE, "contains a path separator or NUL"
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        return Reason.NAMING_INVALID, "contains a control character"
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        return Reason.NAMING_INVALID, f"is longer than {MAX_NAME_BYTES} bytes"
    return None


def collision_key(name: str) -> str:
    """Names that a case-insensitive or normalising volume would store as one file."""
    return unicodedata.normalize("NFC", name).casefold()


def final_path(output_dir: str, name: str) -> str:
    return str(PurePosixPath(output_dir) / name)


def staged_path(output_dir: str, job_id: str, name: str) -> str:
    return str(PurePosixPath(staging_dir(output_dir, job_id)) / name)


def posters_dir(output_dir: str, job_id: str) -> str:
    """The folder of a job's poster frames, beside its proxies and its result."""
    return str(PurePosixPath(output_dir) / f"{job_id}{POSTERS_SUFFIX}")


def poster_path(output_dir: str, job_id: str, index: int, output: str) -> str:
    """One proxy's poster: its clip number and the proxy's name, kept within a file name's
    length (the number alone keeps it unique in the folder)."""
    prefix = f"{index + 1:04d}_"
    room = MAX_NAME_BYTES - len(prefix) - len(POSTER_EXTENSION)
    stem = PurePosixPath(output).name.encode("utf-8")[:room].decode("utf-8", "ignore")
    return str(PurePosixPath(posters_dir(output_dir, job_id)) / f"{prefix}{stem}{POSTER_EXTENSION}")


def jobspec_path(output_dir: str, job_id: str) -> str:
    """A JobSpec that proxx_dagster built for a folder, kept beside the job's result."""
    return str(PurePosixPath(output_dir) / f"{job_id}{JOBSPEC_SUFFIX}")


def contact_sheet_path(output_dir: str, job_id: str) -> str:
    """One page of all the posters of a job, beside its result."""
    return str(PurePosixPath(output_dir) / f"{job_id}{CONTACT_SHEET_SUFFIX}")


def ale_path(output_dir: str, job_id: str) -> str:
    """The Avid ALE of a COMPLETED job's proxies, beside its result."""
    return str(PurePosixPath(output_dir) / f"{job_id}{ALE_SUFFIX}")


def fcpxml_path(output_dir: str, job_id: str) -> str:
    """The FCPXML of a COMPLETED job's proxies, beside its result."""
    return str(PurePosixPath(output_dir) / f"{job_id}{FCPXML_SUFFIX}")


def night_report_path(folder: str, night: str) -> str:
    """The report of one night's jobs (`night` is its date, YYYY-MM-DD)."""
    return str(PurePosixPath(folder) / f"{NIGHT_REPORT_PREFIX}{night}.html")


def night_summary_path(folder: str, night: str) -> str:
    """The record of the night's summary, sent once: whoever creates it sends it."""
    return str(PurePosixPath(folder) / f"{NIGHT_REPORT_PREFIX}{night}.summary.json")


def failure_alert_path(folder: str, night: str, run_id: str) -> str:
    """The record of the alert sent for a failed run of the night: whoever creates it sends it."""
    return str(PurePosixPath(folder) / f"{NIGHT_REPORT_PREFIX}{night}.alert-{run_id}.json")
