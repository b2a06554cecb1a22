"""The identity of the library that reads media for the plan: PyAV and the libav it bundles.

Its answers (frame counts, time bases, stream layout, display matrix) go into the engine's argv,
so a result names it beside the engine, and `proxx reproduce` refuses another. The model lives
apart from `media` so that reading a result never loads PyAV; `media.prober_identity` fills it.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer


def _pairs(value: Any) -> Any:
    return tuple(value.items()) if isinstance(value, dict) else value


# A JSON object ({"libavformat": "62.12.102", ...}) held as name-version pairs: the plan holds
# nothing that can change in place after validation, and a dict could.
LibraryVersions = Annotated[
    tuple[tuple[str, str], ...],
    BeforeValidator(_pairs),
    PlainSerializer(dict, return_type=dict[str, str]),
]


class ProberIdentity(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    pyav: str = Field(description="PyAV's version (av.__version__).")
    ffmpeg: str = Field(description="The FFmpeg release PyAV's libav was built from.")
    libraries: LibraryVersions = Field(
        description='Each libav library PyAV loaded, with its version: {"libavformat": '
        '"62.12.102", ...}.'
    )

    def describe(self) -> str:
        libraries = ", ".join(f"{name} {version}" for name, version in self.libraries)
        return f"PyAV {self.pyav} (FFmpeg {self.ffmpeg}: {libraries})"
