"""User text (file names, job ids, messages, stderr) shown through an interpreter: one escape per
target language, so a clip named `A001 [take 2].mov`, `*B*|C.mov` or `<script>.mov` is shown as
written and never read as markup.

Every place that puts such text into rich markup, Dagster markdown or HTML goes through these.
Characters that are not seen but change what is seen (line breaks, other control characters,
right-to-left and other format marks, lone surrogates from undecodable names) are shown as
escapes (`\\n`, `\\u202e`) everywhere, so a name cannot forge a line or reverse its own text.
"""

from __future__ import annotations

import html
import re
import unicodedata

from rich.markup import escape as _rich_escape

# Unicode categories that are invisible or move text around: control (Cc), format (Cf: bidi
# marks and overrides, zero-width characters), line and paragraph separators, lone surrogates.
_HIDDEN = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# CommonMark lets a backslash escape any ASCII punctuation. Escaped: what makes emphasis, code,
# links, images, HTML, entities, table cells or strike-through anywhere in a line, and what
# starts a heading, list, quote or rule at the start of the text; a path's "/", "." and "-"
# elsewhere stay as they are, so the text reads the same unrendered.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&!])")
_MARKDOWN_LINE_START = re.compile(r"^(\s*)([#+\-=]|\d+(?=[.)]))")


def _escaped(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return (
        f"\\x{code:02x}"
        if code < 0x100
        else f"\\u{code:04x}"
        if code < 0x10000
        else f"\\U{code:08x}"
    )


def visible(value: object, *, keep_line_breaks: bool = False) -> str:
    """Plain text with every hidden or text-moving character shown as an escape.

    `keep_line_breaks` keeps "\\n" for text that has lines of its own (an engine's stderr).
    """
    text = str(value)
    if all(unicodedata.category(char) not in _HIDDEN for char in text):
        return text  # the common case, one pass
    return "".join(
        char
        if unicodedata.category(char) not in _HIDDEN or (keep_line_breaks and char == "\n")
        else _escaped(char)
        for char in text
    )


def rich_text(value: object) -> str:
    """`value` for a rich markup string (console messages, progress bar labels)."""
    return _rich_escape(visible(value))


def markdown_text(value: object) -> str:
    """`value` as literal markdown text: no links, emphasis, HTML or table breaks."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", visible(value))
    start = _MARKDOWN_LINE_START.match(escaped)
    if start is None:
        return escaped
    if start.group(2)[0].isdigit():  # "1." or "1)": escape the mark after the number
        cut = start.end()
        return f"{escaped[:cut]}\\{escaped[cut:]}"
    return f"{start.group(1)}\\{escaped[start.end(1) :]}"


def html_text(value: object) -> str:
    """`value` as HTML text, quotes included (safe in attribute values too). Line breaks are
    kept (HTML shows them as spaces, or as lines inside `<pre>`)."""
    return html.escape(visible(value, keep_line_breaks=True), quote=True)
