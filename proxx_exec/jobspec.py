"""The JobSpec contract: parsing, validation of its shape, canonical form and fingerprint."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    ValidationError,
    model_validator,
)

from proxx_exec.canonical import fingerprint
from proxx_exec.display import visible
from proxx_exec.failures import Reason, invalid
from proxx_exec.looks.builtin import BUILTIN_LOOKS
from proxx_exec.profiles import Profile
from proxx_exec.refusals import closest, describe, place_in_words

DEFAULT_ENGINE = "imageio-ffmpeg"
MAX_SPEC_BYTES = 16 * 1024 * 1024
JOB_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"


# `D:\Media\...`, `D:/Media/...` or `\\server\share\...`: written on Windows, read here.
_WINDOWS_PATH = re.compile(r"^(?:[A-Za-z]:[\\/]|\\\\)")


def shown_path(value: str) -> str:
    """A path as the person wrote it, in quotes; escaped only if it holds unprintable
    characters (a terminal must not interpret them)."""
    return f'"{value}"' if value.isprintable() else ascii(value)


def relative_path_problem(value: str) -> str | None:
    """Why `value` is not an absolute path on this machine, in words (None if it is one)."""
    if PurePosixPath(value).is_absolute():
        return None
    if _WINDOWS_PATH.match(value):
        parts = [part for part in re.split(r"[\\/]+", value) if part]
        unc = value.startswith("\\\\")
        where, rest = ("share", parts[2:]) if unc else ("drive", parts[1:])
        return (
            f"{shown_path(value)} is a Windows path, but proxx reads files by this machine's "
            f"paths: give the path where this machine mounts that {where}, starting with / "
            f"(e.g. /mnt/<{where}>/{'/'.join(rest)})"
        )
    return (
        f"{shown_path(value)} is a relative path: give the whole path, starting with / "
        "(paths never depend on the folder a command is run from)"
    )


def job_id_from(name: str, fallback: str, max_length: int = 60) -> str:
    """A valid job_id (or the readable start of one) made from any name, e.g. a folder's:
    letters and digits kept, accents dropped, every other run of characters one '-';
    `fallback` when nothing is left (a name in another script, or only punctuation)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9._]+", "-", ascii_name)
    slug = re.sub(r"^[^A-Za-z0-9]+", "", slug)[:max_length].rstrip("-.")
    return slug or fallback


def _absolute_path(value: str) -> str:
    if "\x00" in value or "\n" in value or "\r" in value:
        raise ValueError("a path cannot contain NUL or line breaks")
    problem = relative_path_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def engine_path_problem(value: str) -> str | None:
    """Why `value` cannot name an engine binary here, in words (None if it can: the pinned
    engine's name, or an absolute path). A Windows program cannot run here wherever its drive
    is mounted, so it is not sent to a mount."""
    if value == DEFAULT_ENGINE:
        return None
    if _WINDOWS_PATH.match(value):
        return (
            f"{shown_path(value)} is a Windows path, and a Windows program cannot run here: "
            "give the absolute path of an FFmpeg binary built for this machine"
        )
    return relative_path_problem(value)


def _engine_name(value: str) -> str:
    if value == DEFAULT_ENGINE:
        return value
    if _WINDOWS_PATH.match(value):
        raise ValueError(
            f"{engine_path_problem(value)}, or leave `engine` out for the pinned one "
            f"({DEFAULT_ENGINE})"
        )
    return _absolute_path(value)


AbsolutePath = Annotated[str, AfterValidator(_absolute_path)]


def _stripped_lower(value: Any) -> Any:
    # As `sha256sum` prints it, or copied with a stray space or in capitals: the same hash.
    return value.strip().lower() if isinstance(value, str) else value


Sha256Hex = Annotated[
    str, BeforeValidator(_stripped_lower), StringConstraints(pattern=r"^[0-9a-f]{64}$")
]


def _not_text(data: Any, where: tuple[str | int, ...] = ()) -> str | None:
    """The first name or value in `data` that is not Unicode text (a lone surrogate: a JSON
    `\\udcff` escape, or a file name that is not UTF-8 read with Python's surrogateescape), said
    with that character escaped. Such text cannot be written as UTF-8: neither the JobSpec's
    fingerprint nor its result could be made."""
    if isinstance(data, str):
        return None if is_text(data) else f'{place_in_words(where)} "{visible(data)}"'
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(key, str) and not is_text(key):
                inside = f" in {place_in_words(where)}" if where else ""
                return f'the field name "{visible(key)}"{inside}'
            if found := _not_text(value, (*where, str(key))):
                return found
    if isinstance(data, list | tuple):
        for position, value in enumerate(data):
            if found := _not_text(value, (*where, position)):
                return found
    return None


def _look_name(value: str) -> str:
    if value == "none" or value in BUILTIN_LOOKS:
        return value
    guess = closest(value, BUILTIN_LOOKS)
    raise ValueError(
        f"unknown look {value!r}"
        + (f"; did you mean {guess}?" if guess else ".")
        + ' A look is "none", a built-in look ('
        + ", ".join(BUILTIN_LOOKS)
        + ') or {"cube": "/absolute/path/to/a.cube"}'
    )


class CubeLook(BaseModel):
    """A look of the user's: a .cube 3D LUT from the source's picture to Rec.709."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cube: AbsolutePath = Field(
        description="Absolute path of a .cube 3D LUT that takes the source's full-range R'G'B' "
        "to Rec.709 (BT.1886); the proxy is tagged BT.709. Read and checked at validation; its "
        "SHA-256 is recorded in the plan and the result."
    )


BurnIn = Literal["timecode", "clip_name", "reel", "frame_number"]


def _unique(items: tuple[str, ...]) -> tuple[str, ...]:
    repeated = sorted({item for item in items if items.count(item) > 1})
    if repeated:
        raise ValueError(f"each burn-in may be named once; repeated: {', '.join(repeated)}")
    return items


def is_text(value: str) -> bool:
    """Unicode text that can be written as UTF-8 (no lone surrogate)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class JobSpec(BaseModel):
    """One proxy job: which sources, which profile, where the proxies go. Immutable."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    spec_version: Literal["1"] = Field(description='JobSpec format version; always "1".')
    job_id: str = Field(
        pattern=JOB_ID_PATTERN,
        description="Unique job name: letters, digits, '.', '_' or '-', at most 128 characters. "
        "Names the staging folder and the result file; a retry is a new job with a new id.",
    )
    sources: tuple[AbsolutePath, ...] = Field(
        min_length=1,
        max_length=100_000,
        description="Absolute paths of the source clips, processed strictly in this order.",
    )
    output_dir: AbsolutePath = Field(
        description="Absolute path of the folder that receives the proxies. If it does not "
        "exist yet, the nearest folder above it must be writable: the job makes it when it "
        "starts (a refused job does not make it)."
    )
    profile: str | Profile = Field(
        description="A built-in profile name (see `proxx profiles`) or a complete custom "
        "profile object."
    )
    naming: str = Field(
        default="{source_stem}",
        min_length=1,
        max_length=200,
        description="Output file name template without extension. Tokens: {source_stem}, "
        "{source_name}, {index} (1-based, zero-padded to 4), {job_id}. The result must be one "
        "file name inside output_dir.",
    )
    clip_timeout_s: StrictInt = Field(
        default=3600,
        gt=0,
        le=7 * 24 * 3600,
        description="Wall-clock limit for one clip's encode; past it the engine's process group "
        "is killed and the job fails with TIMEOUT.",
    )
    engine: Annotated[str, AfterValidator(_engine_name)] = Field(
        default=DEFAULT_ENGINE,
        description='"imageio-ffmpeg" for the FFmpeg pinned by the locked imageio-ffmpeg '
        "package, or the absolute path of another FFmpeg binary. PATH is never consulted.",
    )
    engine_sha256: Sha256Hex | None = Field(
        default=None,
        # Left out of the canonical form when unset, so JobSpecs without a pin keep their
        # fingerprints and results.
        exclude_if=lambda value: value is None,
        description="The SHA-256 of the engine binary this job must run on (64 hexadecimal "
        "digits, as `sha256sum` prints it). When set, a machine whose engine has another "
        "SHA-256 refuses the job (ENGINE_MISMATCH) instead of running another engine.",
    )
    retried_from: str | None = Field(
        default=None,
        pattern=JOB_ID_PATTERN,
        description="job_id of the failed job this job re-runs explicitly, for the audit trail.",
    )
    # Left out of the canonical form when unset, so JobSpecs without a look or burn-ins keep
    # their fingerprints, commands and results.
    look: Annotated[str, AfterValidator(_look_name)] | CubeLook = Field(
        default="none",
        exclude_if=lambda value: value == "none",
        description='What the picture becomes: "none" (the source\'s picture, as it is), a '
        "built-in look by name (a camera log curve and gamut, or an HLG/PQ picture, to "
        'Rec.709; `proxx looks` lists them) or {"cube": "/path/to/a.cube"}. A look gives a '
        "Rec.709 picture, tagged BT.709.",
    )
    burn_ins: Annotated[tuple[BurnIn, ...], AfterValidator(_unique)] = Field(
        default=(),
        exclude_if=lambda value: value == (),
        description="Text burnt into the picture, any of: timecode (the source's, running; "
        "drop-frame when the source's is), clip_name (top left), reel (top right), "
        "frame_number (bottom right, from 0). Drawn with the font shipped in proxx.",
    )

    @model_validator(mode="before")
    @classmethod
    def _unicode_text(cls, data: Any) -> Any:
        if problem := _not_text(data):
            raise ValueError(
                f"{problem} holds a character that is not Unicode text (a file name that is not "
                "UTF-8?); every name and path in a JobSpec must be UTF-8 text: rename the file"
            )
        return data

    def canonical(self) -> dict[str, Any]:
        """The JSON form with every default filled in: what the fingerprint covers."""
        return self.model_dump(mode="json")

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.canonical())


def jobspec_schema() -> dict[str, Any]:
    return JobSpec.model_json_schema()


def parse_jobspec(data: Any) -> JobSpec:
    """Validate already-decoded JSON data; schema errors become SPEC_INVALID in plain words."""
    if not isinstance(data, dict):
        raise invalid(
            Reason.SPEC_INVALID,
            "a JobSpec is a set of fields (spec_version, job_id, sources, output_dir, "
            f"profile, ...), but this document is {_kind(data)}",
        )
    try:
        return JobSpec.model_validate(data)
    except ValidationError as error:
        # A custom profile object whose settings do not go together has its own reason.
        only_profile = all(item["loc"][:1] == ("profile",) for item in error.errors())
        custom = isinstance(data.get("profile"), dict)
        reason = Reason.PROFILE_INVALID if only_profile and custom else Reason.SPEC_INVALID
        raise invalid(reason, describe(error, JobSpec, data)) from None


def _kind(data: Any) -> str:
    if data is None:
        return "empty"
    if isinstance(data, list):
        return "a list"
    return f"a single value ({type(data).__name__})"


class _PlainLoader(yaml.SafeLoader):
    """YAML without anchors and aliases: a JobSpec needs none, and alias bombs need them."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "YAML aliases are not allowed in a JobSpec", event.start_mark
            )
        return super().compose_node(parent, index)


def decode_jobspec_text(raw: bytes) -> Any:
    """Decode JSON or YAML bytes (JSON is YAML, but JSON first gives better messages)."""
    if len(raw) > MAX_SPEC_BYTES:
        raise invalid(
            Reason.SPEC_UNREADABLE,
            f"JobSpec is larger than {MAX_SPEC_BYTES >> 20} MiB, the limit for a JobSpec: "
            "it names clips by their paths, it does not hold them",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise invalid(
            Reason.SPEC_UNREADABLE,
            f"JobSpec is not UTF-8 text ({error.reason} at byte {error.start}). A JobSpec is a "
            "JSON or YAML text file that names the clips; if this is a clip, give a JobSpec "
            "that lists it instead (`proxx samples FOLDER` writes an example one)",
        ) from None
    if text.lstrip().startswith(("{", "[")):
        try:
            return json.loads(text)
        except (json.JSONDecodeError, RecursionError) as error:
            raise invalid(Reason.SPEC_UNREADABLE, f"JobSpec is not valid JSON: {error}") from None
    try:
        return yaml.load(text, Loader=_PlainLoader)  # noqa: S506 - a SafeLoader without aliases
    except (yaml.YAMLError, RecursionError) as error:
        raise invalid(Reason.SPEC_UNREADABLE, f"JobSpec is not valid YAML: {error}") from None


def load_jobspec_bytes(raw: bytes) -> JobSpec:
    return parse_jobspec(decode_jobspec_text(raw))


def load_jobspec(path: Path) -> JobSpec:
    try:
        raw = read_spec_file(path)
    except OSError as error:
        raise invalid(Reason.SPEC_UNREADABLE, unreadable_spec_file(path, error)) from None
    return load_jobspec_bytes(raw)


def unreadable_spec_file(path: Path, error: OSError) -> str:
    """Why the JobSpec file `path` could not be read, in words."""
    if isinstance(error, IsADirectoryError):
        return (
            f"{path} is a folder, not a JobSpec file: give the JSON or YAML file that names "
            "the clips (proxx_folder_job in Dagster takes a whole folder)"
        )
    return f"cannot read JobSpec {path}: {error.strerror or error}"


def read_spec_file(path: Path) -> bytes:
    """Read at most one byte past the limit, so a huge file is refused without loading it."""
    with path.open("rb") as handle:
        return handle.read(MAX_SPEC_BYTES + 1)
