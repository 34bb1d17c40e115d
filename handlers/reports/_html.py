"""The neutral tables as HTML and Markdown, and the one page frame every web page uses.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence

from handlers.core.messages import (
    Block,
    Link,
    Mention,
    Span,
    Table,
    Text,
    When,
    plain_of,
)


def md_cell(value: str) -> str:
    """A Markdown table cell: pipes and backslashes escaped, one line."""
    value = " ".join(value.split())
    return value.replace("\\", "\\\\").replace("|", "\\|")


def html_span(span: Span) -> str:
    if isinstance(span, Link):
        return (f'<a href="{html.escape(span.url, quote=True)}">'
                f"{html.escape(span.label or span.url)}</a>")
    if isinstance(span, When):
        return (f'<time datetime="{span.at.isoformat()}">'
                f"{html.escape(plain_of(span))}</time>")
    if isinstance(span, Mention):
        return html.escape(span.name)
    return html.escape(plain_of(span))


_NUM = ' class="n"'


def html_table(table: Table, *, numeric: Iterable[int] = ()) -> str:
    nums = set(numeric)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.headers)
    body = []
    for row in table.rows:
        cells = "".join(
            f'<td{_NUM if i in nums else ""} '
            f'data-label="{html.escape(table.headers[i])}">'
            f'{"".join(html_span(s) for s in cell)}</td>'
            for i, cell in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return (f"<table><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def md_table(table: Table) -> str:
    lines = ["| " + " | ".join(md_cell(h) for h in table.headers) + " |",
             "|" + "|".join("---" for _ in table.headers) + "|"]
    for row in table.rows:
        lines.append("| " + " | ".join(
            md_cell("".join(plain_of(s) for s in cell)) for cell in row) + " |")
    return "\n".join(lines)


# what Markdown reads as markup inside a line, and at a line's start (a heading, a quote,
# a list item, a rule)
_MD_INLINE = re.compile(r"([\\`*_\[\]<>|&])")
_MD_START = re.compile(r"^(\s*(?:\d+)?)([#>+=~.)-])", re.MULTILINE | re.ASCII)


def md_text(value: str) -> str:
    """Text as Markdown shows it: markup escaped, each line break kept (a hard break)."""
    value = _MD_START.sub(r"\1\\\2", _MD_INLINE.sub(r"\\\1", value))
    return "\\\n".join(line.strip() for line in value.splitlines() if line.strip())


def _headings(blocks: Sequence[Block], level: int) -> Iterable[tuple[Text | Table, int]]:
    """The texts and tables of ``blocks``, each heading with its level: the first at
    ``level`` (the blocks' title), the others one below."""
    first = True
    for b in blocks:
        if isinstance(b, Text | Table):
            heading = isinstance(b, Text) and b.style == "heading"
            yield b, (level if first else level + 1) if heading else 0
            first = False


def md_blocks(blocks: Sequence[Block], level: int) -> str:
    """Neutral paragraphs and tables as Markdown (headings from ``level``)."""
    out: list[str] = []
    for b, heading in _headings(blocks, level):
        if isinstance(b, Table):
            out.append(md_table(b))
            continue
        plain = "".join(plain_of(s) for s in b.spans)
        out.append("#" * heading + " " + md_text(" ".join(plain.split())) if heading
                   else md_text(plain))
    return "\n\n".join(out)


def html_blocks(blocks: Sequence[Block], level: int) -> str:
    """Neutral paragraphs and tables as HTML (headings from ``<h{level}>``), every value
    escaped."""
    out: list[str] = []
    for b, heading in _headings(blocks, level):
        if isinstance(b, Table):
            out.append(html_table(b))
            continue
        inner = "".join(html_span(s) for s in b.spans).replace("\n", "<br>")
        tag = f"h{min(heading, 6)}" if heading else "p"
        out.append(f"<{tag}>{inner}</{tag}>")
    return "".join(out)


PAGE_CSS = """
body{font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;
max-width:72rem;padding:1rem;color:#1b1f24;background:#fff}
h1{font-size:1.5rem;margin:.2rem 0 .6rem}h2{font-size:1.15rem;margin:1.4rem 0 .4rem}
h3{font-size:1.05rem;margin:1.1rem 0 .3rem}h4{font-size:1rem;margin:.9rem 0 .2rem}
table{border-collapse:collapse;width:100%;margin:.4rem 0}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #d8dee4;vertical-align:top}
th{background:#f3f5f7;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.late{color:#b42318;font-weight:600}.muted{color:#57606a}.ok{color:#1a7f37}
form{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end;margin:.5rem 0}
label{display:flex;flex-direction:column;font-size:.85rem}select,button{font:inherit;
padding:.3rem}img{max-width:100%;height:auto}
@media (max-width:40rem){thead{display:none}tr{display:block;border-bottom:2px solid #d8dee4;
padding:.3rem 0}td{display:block;border:0;padding:.1rem .3rem}
td[data-label]:before{content:attr(data-label) ": ";color:#57606a;font-size:.85rem}
td.n{text-align:left}}
"""


def html_page(title: str, body: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<meta name=\"robots\" content=\"noindex\">"
            f"<title>{html.escape(title)}</title><style>{PAGE_CSS}</style></head>"
            f"<body>{body}</body></html>\n")
