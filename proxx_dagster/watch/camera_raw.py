"""Camera RAW formats a card may hold that the pinned FFmpeg cannot decode, known by their file
name extension, with what to use instead. Such files are never a silent skip: the card's run,
the night report and the night's summary count and name them with this advice."""

from __future__ import annotations

from dataclasses import dataclass

RESOLVE = "DaVinci Resolve"


@dataclass(frozen=True)
class CameraRaw:
    name: str  # the format, as a camera crew calls it
    tools: str  # what transcodes it to a file proxx reads

    @property
    def reason(self) -> str:
        """Why the file was not read, and what to do, in one sentence."""
        return (
            f"camera RAW ({self.name}), which the pinned FFmpeg cannot decode: transcode it to "
            f"ProRes with {self.tools} first, then give proxx the ProRes files"
        )


CAMERA_RAW: dict[str, CameraRaw] = {
    ".braw": CameraRaw("Blackmagic RAW", f"{RESOLVE} or Blackmagic RAW Player"),
    ".r3d": CameraRaw("RED R3D", f"REDCINE-X PRO or {RESOLVE}"),
    ".ari": CameraRaw("ARRIRAW", f"ARRI Reference Tool or {RESOLVE}"),
    ".arx": CameraRaw("ARRIRAW HDE", f"ARRI Reference Tool or {RESOLVE}"),
    ".crm": CameraRaw("Canon Cinema RAW Light", f"Canon's Cinema RAW Development or {RESOLVE}"),
    ".rmf": CameraRaw("Canon RAW", f"Canon's Cinema RAW Development or {RESOLVE}"),
    ".nev": CameraRaw("Nikon N-RAW", f"Nikon NX Studio or {RESOLVE}"),
    ".dng": CameraRaw("CinemaDNG frames", RESOLVE),
}
