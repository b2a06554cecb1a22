"""The identity of the library that reads media for the plan: PyAV and the libav it bundles.

Its answers (frame counts, time bases, stream layout, display matrix) go into the engine's argv,
so a result names it beside the engine, and `proxx reproduce` refuses another. The model lives
apart from `media` so that reading a result never loads PyAV; `media.prober_identity` fills it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ProberIdentity(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    pyav: str = Field(description="PyAV's version (av.__version__).")
    ffmpeg: str = Field(description="The FFmpeg release PyAV's libav was built from.")
    libraries: dict[str, str] = Field(
        description='Each libav library PyAV loaded, with its version: {"libavformat": '
        '"62.12.102", ...}.'
    )

    def describe(self) -> str:
        libraries = ", ".join(f"{name} {version}" for name, version in self.libraries.items())
        return f"PyAV {self.pyav} (FFmpeg {self.ffmpeg}: {libraries})"
