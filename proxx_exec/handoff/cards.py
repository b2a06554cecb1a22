"""A camera card's own ASC MHL (written when the card was offloaded), verified before a job
reads the card when its JobSpec asks (`verify_source_mhl`): a refusal at validation names the
files that differ."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from proxx_exec.failures import Reason, invalid
from proxx_exec.handoff.mhl import MhlProblem, check_card, history_root
from proxx_exec.naming import MHL_FOLDER

SHOWN = 20  # files named in a refusal; the rest are counted


def _listed(lines: list[str]) -> str:
    shown = "\n".join(f"  {line}" for line in lines[:SHOWN])
    more = f"\n  ... and {len(lines) - SHOWN} more" if len(lines) > SHOWN else ""
    return shown + more


def check_source_mhl(sources: Sequence[str]) -> None:
    """Each card the sources come from, verified once against its MHL history (the nearest
    `ascmhl/` at or above the source's folder). Raises JobFailure(VALIDATION): no history
    (SOURCE_MHL_MISSING), or a damaged history, a file that differs or is missing, a source
    the history does not list (SOURCE_MHL_MISMATCH)."""
    cards: dict[Path, list[str]] = {}
    for index, source in enumerate(sources):
        root = history_root(Path(source).parent)
        if root is None:
            raise invalid(
                Reason.SOURCE_MHL_MISSING,
                f"clip {index + 1}: no {MHL_FOLDER}/ history at or above {source}: the card's "
                "MHL was asked to be verified (verify_source_mhl), but the card has none. "
                "Offload it with an ASC MHL, or launch without verify_source_mhl",
                clip_index=index,
            )
        cards.setdefault(root, []).append(source)
    for root, card_sources in cards.items():
        try:
            check = check_card(root, card_sources)
        except MhlProblem as problem:
            raise invalid(
                Reason.SOURCE_MHL_MISMATCH, f"the card at {root} cannot be verified: {problem}"
            ) from None
        lines = [d.in_words() for d in check.differences]
        lines += [f"{s}: not listed in the card's MHL" for s in check.not_recorded]
        if lines:
            raise invalid(
                Reason.SOURCE_MHL_MISMATCH,
                f"the card at {root} does not verify against its ASC MHL "
                f"({len(lines)} of {check.files_checked} recorded files differ or are not "
                f"listed); nothing was read for proxies:\n{_listed(lines)}",
            )
