"""The fixed failure taxonomy: three classes, stable reason codes, one exception type.

Reason codes come from what happened (a failed check, an exit status, a signal, a timeout),
never from matching words in the engine's stderr.
"""

from __future__ import annotations

from enum import StrEnum


class FailureClass(StrEnum):
    VALIDATION = "VALIDATION"
    EXECUTION = "EXECUTION"
    VERIFICATION = "VERIFICATION"


class Reason(StrEnum):
    # VALIDATION: nothing was encoded; the refusal's record does not spend the job_id.
    SPEC_UNREADABLE = "SPEC_UNREADABLE"
    SPEC_INVALID = "SPEC_INVALID"
    PROFILE_UNKNOWN = "PROFILE_UNKNOWN"
    PROFILE_INVALID = "PROFILE_INVALID"
    SOURCE_MISSING = "SOURCE_MISSING"
    SOURCE_UNREADABLE = "SOURCE_UNREADABLE"
    SOURCE_NOT_MEDIA = "SOURCE_NOT_MEDIA"
    SOURCE_NO_VIDEO = "SOURCE_NO_VIDEO"
    SOURCE_UNSUPPORTED = "SOURCE_UNSUPPORTED"
    SOURCE_ROTATION_UNSUPPORTED = "SOURCE_ROTATION_UNSUPPORTED"
    SOURCE_TIMING_INVALID = "SOURCE_TIMING_INVALID"
    SOURCE_TRUNCATED = "SOURCE_TRUNCATED"
    OUTPUT_DIR_MISSING = "OUTPUT_DIR_MISSING"
    OUTPUT_DIR_NOT_WRITABLE = "OUTPUT_DIR_NOT_WRITABLE"
    NAMING_INVALID = "NAMING_INVALID"
    PATH_ESCAPE = "PATH_ESCAPE"
    OUTPUT_COLLISION = "OUTPUT_COLLISION"
    OUTPUT_EXISTS = "OUTPUT_EXISTS"
    STAGING_EXISTS = "STAGING_EXISTS"
    SOURCE_MHL_MISSING = "SOURCE_MHL_MISSING"
    SOURCE_MHL_MISMATCH = "SOURCE_MHL_MISMATCH"
    ENGINE_UNAVAILABLE = "ENGINE_UNAVAILABLE"
    ENGINE_NOT_FFMPEG = "ENGINE_NOT_FFMPEG"
    ENGINE_MISMATCH = "ENGINE_MISMATCH"
    LOOK_INVALID = "LOOK_INVALID"
    LOOK_SOURCE_MISMATCH = "LOOK_SOURCE_MISMATCH"
    # EXECUTION: the engine or the file system failed while the job ran.
    SOURCE_VANISHED = "SOURCE_VANISHED"
    LOOK_LUT_CHANGED = "LOOK_LUT_CHANGED"
    STAGING_FAILED = "STAGING_FAILED"
    ENGINE_START_FAILED = "ENGINE_START_FAILED"
    NONZERO_EXIT = "NONZERO_EXIT"
    SIGNALED = "SIGNALED"
    TIMEOUT = "TIMEOUT"
    COMMIT_FAILED = "COMMIT_FAILED"
    OUTPUT_DIR_CHANGED = "OUTPUT_DIR_CHANGED"
    OUTPUT_NOT_WRITABLE = "OUTPUT_NOT_WRITABLE"
    DISK_FULL = "DISK_FULL"
    STAGED_OUTPUT_LOST = "STAGED_OUTPUT_LOST"
    # Either class, by when it happened (VALIDATION before the staging folder was claimed, so
    # nothing was written; EXECUTION after): the job stopped for a reason outside the taxonomy.
    INTERNAL_ERROR = "INTERNAL_ERROR"
    INTERRUPTED = "INTERRUPTED"
    # VERIFICATION: the engine finished but its output is not what the profile promises.
    OUTPUT_MISSING = "OUTPUT_MISSING"
    OUTPUT_EMPTY = "OUTPUT_EMPTY"
    OUTPUT_UNREADABLE = "OUTPUT_UNREADABLE"
    CONTAINER_MISMATCH = "CONTAINER_MISMATCH"
    CODEC_MISMATCH = "CODEC_MISMATCH"
    CODEC_PROFILE_MISMATCH = "CODEC_PROFILE_MISMATCH"
    PIXEL_FORMAT_MISMATCH = "PIXEL_FORMAT_MISMATCH"
    DIMENSIONS_MISMATCH = "DIMENSIONS_MISMATCH"
    PIXEL_ASPECT_MISMATCH = "PIXEL_ASPECT_MISMATCH"
    ROTATION_MISMATCH = "ROTATION_MISMATCH"
    FIELD_ORDER_MISMATCH = "FIELD_ORDER_MISMATCH"
    COLOR_TAGS_MISMATCH = "COLOR_TAGS_MISMATCH"
    FRAME_RATE_MISMATCH = "FRAME_RATE_MISMATCH"
    TIMESTAMPS_MISMATCH = "TIMESTAMPS_MISMATCH"
    FRAME_COUNT_MISMATCH = "FRAME_COUNT_MISMATCH"
    AUDIO_MISMATCH = "AUDIO_MISMATCH"
    AUDIO_START_MISMATCH = "AUDIO_START_MISMATCH"
    TIMECODE_MISMATCH = "TIMECODE_MISMATCH"
    REEL_NAME_MISMATCH = "REEL_NAME_MISMATCH"
    DECODE_ERROR = "DECODE_ERROR"
    LOOK_NOT_APPLIED = "LOOK_NOT_APPLIED"


class JobFailure(Exception):
    """Raised inside proxx_exec; turned into a FAILED ExecutionResult at the boundary."""

    def __init__(
        self,
        failure_class: FailureClass,
        reason: Reason,
        message: str,
        *,
        clip_index: int | None = None,
        stderr_tail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.failure_class = failure_class
        self.reason = reason
        self.message = message
        self.clip_index = clip_index
        self.stderr_tail = stderr_tail


def clip_label(index: int) -> str:
    """How people see a clip: numbered from 1, like the progress display and the {index} naming
    token. `clip_index` fields in data count from 0."""
    return f"clip {index + 1}"


def invalid(reason: Reason, message: str, *, clip_index: int | None = None) -> JobFailure:
    return JobFailure(FailureClass.VALIDATION, reason, message, clip_index=clip_index)
