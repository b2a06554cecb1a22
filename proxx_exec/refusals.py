"""Plain-words refusals: pydantic's validation errors turned into one line per problem that names
the field and says what to write instead, for people who think in camera cards, not JSON."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The known name a misspelt one most likely meant, if any is close. Case is ignored:
    `H264_HALF` means `h264_half`."""
    by_folded = {choice.casefold(): choice for choice in choices}
    found = difflib.get_close_matches(word.casefold(), list(by_folded), n=1, cutoff=0.6)
    return by_folded[found[0]] if found else None


def _path(loc: tuple[int | str, ...]) -> tuple[str, tuple[int | str, ...]]:
    """Where a problem is, in words (`profile.crf`, `sources` item 3: items count from 1), and
    the location without pydantic's union tags."""
    # pydantic's union tags: `str`, `function-after[...]`, a model's class name (`CubeLook`)
    parts = tuple(
        p for p in loc if not (isinstance(p, str) and ("[" in p or p == "str" or p[:1].isupper()))
    )
    words: list[str] = []
    names: list[str] = []
    for part in parts:
        if isinstance(part, int):
            if names:
                words.append(f"`{'.'.join(names)}`")
                names = []
            words.append(f"item {part + 1}")
        else:
            names.append(part)
    if names:
        words.append(f"`{'.'.join(names)}`")
    return (" ".join(words) or "the document"), parts


def place_in_words(loc: tuple[int | str, ...]) -> str:
    """A place in a document as refusals name it: `profile.crf`, `sources` item 3."""
    return _path(loc)[0]


@dataclass(frozen=True)
class _Problem:
    item: ErrorDetails
    model: type[BaseModel]
    where: str  # e.g. "`sources` item 3"
    field: str

    @property
    def given(self) -> Any:
        return self.item.get("input")

    @property
    def ctx(self) -> dict[str, Any]:
        return dict(self.item.get("ctx") or {})


def _extra(p: _Problem) -> str:
    guess = closest(p.field, p.model.model_fields)
    if guess:
        return f"{p.where} is not a field here; did you mean `{guess}`?"
    return f"{p.where} is not a field here; the fields are: {', '.join(p.model.model_fields)}"


def _missing(p: _Problem) -> str:
    info = p.model.model_fields.get(p.field)
    return f"{p.where} is missing" + (f" ({info.description})" if info and info.description else "")


def _literal(p: _Problem) -> str:
    expected = str(p.ctx.get("expected", "")).replace("'", '"')
    if isinstance(p.given, int | float) and str(p.given) in expected:
        return f"{p.where} must be the text {expected}: write it in quotes"
    return f"{p.where} must be {expected}, not {p.given!r}"


def _list(p: _Problem) -> str:
    if isinstance(p.given, str):
        return (
            f"{p.where} must be a list, even of one: in YAML put each on its own line "
            f'starting with "- ", in JSON write ["{p.given}"]'
        )
    return f"{p.where} must be a list"


def _pattern(p: _Problem) -> str:
    if p.field in {"job_id", "retried_from"}:
        return (
            f"{p.where} {p.given!r} may hold only letters, digits, '.', '_' and '-', start with "
            "a letter or digit, and be at most 128 characters"
        )
    if p.field == "engine_sha256":
        return (
            f"{p.where} {p.given!r} must be a SHA-256 as `sha256sum` prints it: 64 digits "
            "0-9 and letters a-f"
        )
    return f"{p.where}: {p.item['msg']}"


def _value(p: _Problem) -> str:
    error = p.ctx.get("error")
    return f"{p.where}: {error}" if error is not None else f"{p.where}: {p.item['msg']}"


def _bound(p: _Problem) -> str:
    return f"{p.where} {p.item['msg'].lower().removeprefix('input ')} (you wrote {p.given!r})"


_WORDS: dict[str, Callable[[_Problem], str]] = {
    "extra_forbidden": _extra,
    "missing": _missing,
    "literal_error": _literal,
    "tuple_type": _list,
    "list_type": _list,
    "too_short": lambda p: f"{p.where} is empty: give at least one",
    "too_long": lambda p: f"{p.where} has too many items ({p.item['msg']})",
    "string_pattern_mismatch": _pattern,
    "int_type": lambda p: (
        f"{p.where} must be a whole number, written without quotes (you wrote {p.given!r})"
    ),
    "string_type": lambda p: f"{p.where} must be text, not {p.given!r}",
    "value_error": _value,
    "greater_than": _bound,
    "greater_than_equal": _bound,
    "less_than": _bound,
    "less_than_equal": _bound,
}
_WORDS["int_parsing"] = _WORDS["int_from_float"] = _WORDS["int_type"]


def _sentence(problem: _Problem) -> str:
    words = _WORDS.get(problem.item["type"])
    return words(problem) if words else f"{problem.where}: {problem.item['msg']}"


def describe(error: ValidationError, model: type[BaseModel], data: Any = None) -> str:
    """One line per problem, each naming where it is and what to do.

    A field that takes a name or an object (a JobSpec's `profile`) reports only the errors of
    the form that was given.
    """
    lines: list[str] = []
    items = error.errors(include_url=False)
    for item in items:
        loc = item["loc"]
        if _wrong_branch(loc, data) or _follows_from_an_item(item, items):
            continue
        where, parts = _path(loc)
        field = str(parts[-1]) if parts and isinstance(parts[-1], str) else ""
        nested = _nested_model(model, parts)
        lines.append(_sentence(_Problem(item, nested or model, where, field)))
    return "\n".join(dict.fromkeys(lines))


def _follows_from_an_item(item: ErrorDetails, items: list[ErrorDetails]) -> bool:
    """A list whose only item was refused is also 'too short'; the item's error says it all."""
    loc = item["loc"]
    return item["type"] == "too_short" and any(
        other["loc"][: len(loc)] == loc and len(other["loc"]) > len(loc) for other in items
    )


def _wrong_branch(loc: tuple[int | str, ...], data: Any) -> bool:
    """For `profile: str | Profile` and `look: str | CubeLook`, drop the branch the document
    did not choose."""
    if not isinstance(data, dict) or len(loc) < 2 or loc[0] not in {"profile", "look"}:
        return False
    given_object = isinstance(data.get(loc[0]), dict)
    tag = str(loc[1])
    text_branch = tag == "str" or (tag.startswith("function-after[") and tag.endswith(", str]"))
    return text_branch == given_object


def _nested_model(model: type[BaseModel], parts: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model a nested error's field belongs to (e.g. a custom profile's fields)."""
    current: type[BaseModel] = model
    for part in parts[:-1]:
        if not isinstance(part, str) or part not in current.model_fields:
            return None
        annotation = current.model_fields[part].annotation
        candidates = [
            a for a in getattr(annotation, "__args__", (annotation,)) if isinstance(a, type)
        ]
        nested = next((a for a in candidates if issubclass(a, BaseModel)), None)
        if nested is None:
            return None
        current = nested
    return current if current is not model else None
