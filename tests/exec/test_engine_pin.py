"""`engine_sha256`: a JobSpec can pin its engine's SHA-256; a machine whose engine has another is
refused in plain words (ENGINE_MISMATCH), never run with another engine. Unset, nothing changes:
not the canonical form, not the fingerprint."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from proxx_exec import Reason, Status, execute
from proxx_exec.canonical import fingerprint
from proxx_exec.failures import JobFailure
from proxx_exec.jobspec import parse_jobspec
from tests.conftest import SpecFactory
from tests.exec.test_cli import write_spec
from tests.exec.test_validation import run_invalid
from tests.helpers import REAL_ENGINE, Media, engine_calls, proxx, sha256, write_engine_wrapper


def test_unset_pin_keeps_the_canonical_form_and_fingerprint(
    make_spec: SpecFactory, media: Media
) -> None:
    spec = make_spec([media.standard])
    assert "engine_sha256" not in spec.canonical()
    assert "engine_sha256" not in json.loads(spec.model_dump_json())
    # The fingerprint of a JobSpec written before the field existed is unchanged.
    assert spec.fingerprint == fingerprint(
        {k: v for k, v in spec.canonical().items() if k != "engine_sha256"}
    )
    explicit_none = make_spec([media.standard], engine_sha256=None)
    assert explicit_none.fingerprint == spec.fingerprint


def test_pin_is_in_the_fingerprint_and_read_as_sha256sum_prints_it(
    make_spec: SpecFactory, media: Media
) -> None:
    digest = sha256(REAL_ENGINE)
    pinned = make_spec([media.standard], engine_sha256=f"  {digest.upper()}\n")
    assert pinned.engine_sha256 == digest
    assert pinned.canonical()["engine_sha256"] == digest
    assert pinned.fingerprint != make_spec([media.standard]).fingerprint


def test_a_malformed_pin_is_refused_in_words(make_spec: SpecFactory, media: Media) -> None:
    document = make_spec([media.standard]).canonical()
    try:
        parse_jobspec({**document, "engine_sha256": "abc123"})
    except JobFailure as error:
        assert error.reason is Reason.SPEC_INVALID
        assert "`engine_sha256` 'abc123' must be a SHA-256 as `sha256sum` prints it" in (
            error.message
        )
    else:
        raise AssertionError("a 6-digit engine_sha256 was accepted")


def test_the_pinned_engine_runs(make_spec: SpecFactory, media: Media) -> None:
    result = execute(make_spec([media.standard], engine_sha256=sha256(REAL_ENGINE)))
    assert result.status is Status.COMPLETED, result.failure
    assert result.engine is not None and result.engine.sha256 == sha256(REAL_ENGINE)


def test_another_engine_is_refused_naming_both_hashes_and_nothing_is_encoded(
    make_spec: SpecFactory, media: Media, tmp_path: Path
) -> None:
    # A copy of the real FFmpeg with one byte appended: it runs the same, but is another binary.
    other = tmp_path / "ffmpeg-other"
    shutil.copy2(REAL_ENGINE, other)
    with other.open("ab") as handle:
        handle.write(b"\0")
    pin = sha256(REAL_ENGINE)
    run_invalid(
        make_spec([media.standard], engine=str(other), engine_sha256=pin),
        Reason.ENGINE_MISMATCH,
        f"pins engine_sha256 {pin}",
        f"has SHA-256 {sha256(other)}",
        "nothing was run",
    )


def test_the_default_engine_mismatch_says_which_wheel_to_install(
    make_spec: SpecFactory, media: Media
) -> None:
    wrong = "0" * 64
    run_invalid(
        make_spec([media.standard], engine_sha256=wrong),
        Reason.ENGINE_MISMATCH,
        f"has SHA-256 {sha256(REAL_ENGINE)}",
        f"install the imageio-ffmpeg wheel whose FFmpeg has SHA-256 {wrong}",
    )


def test_only_version_runs_on_a_mismatch(
    make_spec: SpecFactory, media: Media, tmp_path: Path
) -> None:
    wrapper = write_engine_wrapper(tmp_path, 'exec "$REAL" "$@"')
    result = execute(make_spec([media.standard], engine=str(wrapper), engine_sha256="1" * 64))
    assert result.failure is not None and result.failure.reason is Reason.ENGINE_MISMATCH
    assert [args for _, args in engine_calls(tmp_path)] == ["-hide_banner -version"]


def test_validate_and_plan_show_the_refusal(tmp_path: Path, media: Media, out_dir: Path) -> None:
    spec = write_spec(tmp_path, media, out_dir, engine_sha256="f" * 64)
    for command in ("validate", "plan"):
        completed = proxx(command, str(spec))
        assert completed.returncode == 1
        assert "ENGINE_MISMATCH" in completed.stderr + completed.stdout
        assert f"pins engine_sha256 {'f' * 64}" in completed.stderr + completed.stdout
        assert "Traceback" not in completed.stderr + completed.stdout
    assert list(out_dir.iterdir()) == []
