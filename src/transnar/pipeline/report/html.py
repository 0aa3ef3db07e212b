"""A self-contained HTML page from the Markdown that transnar writes.

:func:`markdown_to_html` renders the subset of Markdown our reports use:
headings (``#`` to ``####``), bullet lists (``- ``), tables (``| a | b |``
with a ``|---|--:|`` rule), images alone on a line (``![alt](file.png)``,
embedded as base64 so that the page is one file), paragraphs, and inline
``**bold**``, ``code`` spans and ``[links](url)``. Everything else is text,
escaped.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")
_HEADING = re.compile(r"(#{1,6}) +(.*)")
_INLINE = re.compile(r"\*\*(.+?)\*\*|`([^`]+)`|\[([^\]]+)\]\(([^)\s]+)\)")

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 72rem; margin: 2rem auto;
       padding: 0 1rem; color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.6rem; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; }
code { background: #f3f3f3; padding: 0 0.2rem; }
"""


def markdown_to_html(text: str, title: str, images: Path | None = None) -> str:
    """The page for a Markdown document.

    Args:
        text: the Markdown.
        title: the page's title.
        images: the directory image paths are relative to; images found
            there are embedded, others linked.
    """
    body: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if not line:
            i += 1
        elif heading := _HEADING.fullmatch(line):
            level = len(heading.group(1))
            body.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
            i += 1
        elif image := _IMAGE.fullmatch(line):
            body.append(_figure(image.group(1), image.group(2), images))
            i += 1
        else:
            block = _block(lines, i, _kind(line))
            body.append(_render(block, _kind(line)))
            i += len(block)
    return (
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def _kind(line: str) -> str:
    if line.startswith("|"):
        return "table"
    if line.startswith("- "):
        return "list"
    return "paragraph"


def _block(lines: list[str], start: int, kind: str) -> list[str]:
    """The lines from ``start`` that belong to one block of ``kind``."""
    block = []
    for line in lines[start:]:
        line = line.strip()
        if not line or _HEADING.fullmatch(line) or _IMAGE.fullmatch(line):
            break
        if kind == "list" and line.startswith("- "):
            block.append(line[2:])
        elif kind == "list" and block:  # a continued item
            block[-1] += " " + line
        elif kind == _kind(line):
            block.append(line)
        else:
            break
    return block


def _render(block: list[str], kind: str) -> str:
    if kind == "list":
        return "<ul>\n" + "\n".join(f"<li>{_inline(item)}</li>" for item in block) + "\n</ul>"
    if kind == "paragraph":
        return f"<p>{_inline(' '.join(block))}</p>"
    rows = [[cell.strip() for cell in row.strip().strip("|").split("|")] for row in block]
    has_rule = len(rows) > 1 and all(set(c) <= set("-: ") and c for c in rows[1])
    numeric = [c.endswith(":") for c in rows[1]] if has_rule else []
    header, body = (rows[0], rows[2:]) if has_rule else (None, rows)
    out = ["<table>"]
    if header is not None:
        out.append("<tr>" + "".join(f"<th>{_inline(c)}</th>" for c in header) + "</tr>")
    for row in body:
        cells = [
            f"<td class='num'>{_inline(c)}</td>"
            if k < len(numeric) and numeric[k]
            else f"<td>{_inline(c)}</td>"
            for k, c in enumerate(row)
        ]
        out.append("<tr>" + "".join(cells) + "</tr>")
    return "\n".join([*out, "</table>"])


def _inline(text: str) -> str:
    """Escaped text with bold, code spans and links."""
    out, position = [], 0
    for match in _INLINE.finditer(text):
        out.append(html.escape(text[position : match.start()]))
        bold, code, link_text, url = match.groups()
        if bold is not None:
            out.append(f"<strong>{_inline(bold)}</strong>")
        elif code is not None:
            out.append(f"<code>{html.escape(code)}</code>")
        else:
            out.append(f"<a href='{html.escape(url)}'>{html.escape(link_text)}</a>")
        position = match.end()
    out.append(html.escape(text[position:]))
    return "".join(out)


def _figure(alt: str, source: str, images: Path | None) -> str:
    path = None if images is None else images / source
    if path is not None and path.is_file() and path.suffix.lower() == ".png":
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        source = f"data:image/png;base64,{data}"
    return (
        f"<figure><img src='{html.escape(source)}' alt='{html.escape(alt)}'>"
        f"<figcaption>{html.escape(alt)}</figcaption></figure>"
    )


__all__ = ["markdown_to_html"]
