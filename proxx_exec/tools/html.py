"""HTML page helpers: a page with the shared style, and links relative to the page.

Every string that comes from a user goes through `html_text` (`proxx_exec.display`) or `link`,
so a clip named `<script>…` is shown, never run. Links are relative to the page, so a proxy tree
moved or mounted elsewhere keeps its pages working.
"""

from __future__ import annotations

import os
import string
from pathlib import PurePosixPath

from proxx_exec.display import html_text

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d1d1f; background: #fafafa; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 28px 0 6px; }
.facts { color: #555; margin: 0 0 16px; }
.sheet { display: flex; flex-wrap: wrap; gap: 12px; }
figure { margin: 0; width: 320px; background: #fff; border: 1px solid #ddd; padding: 6px; }
figure img { display: block; max-width: 100%; height: auto; background: #222; }
figure.missing div { height: 90px; display: flex; align-items: center; justify-content: center;
  background: #eee; color: #a00; padding: 4px; text-align: center; }
figcaption { font-size: 12px; margin-top: 4px; overflow-wrap: anywhere; }
table { border-collapse: collapse; background: #fff; }
td, th { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
td img { display: block; width: 160px; height: auto; }
.COMPLETED { color: #0a6b2d; font-weight: 600; } .FAILED { color: #b00020; font-weight: 600; }
.problem { color: #a00; }
"""


# Characters a relative URL path keeps as they are (RFC 3986 unreserved, and the separator).
_URL_SAFE = frozenset(string.ascii_letters + string.digits + "-._~/")


def link(page: str, target: str) -> str:
    """`target` as an escaped, percent-encoded href from the page `page` (absolute paths)."""
    relative = os.path.relpath(target, PurePosixPath(page).parent)
    encoded = "".join(
        ch if ch in _URL_SAFE else "".join(f"%{byte:02X}" for byte in ch.encode("utf-8"))
        for ch in relative
    )
    return html_text(encoded)


def page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html_text(title)}</title><style>{STYLE}</style></head>\n"
        f"<body>\n{body}\n</body></html>\n"
    )
