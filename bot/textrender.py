"""Plain-text rendering of the neutral reply: the shell's view, and the tests' too."""

from __future__ import annotations

from collections.abc import Sequence

from handlers.core.messages import (
    Block,
    Buttons,
    File,
    Post,
    Reply,
    Table,
    Text,
    plain_spans,
    shown,
)

MAX_CELL = 60


def _records(headers: tuple[str, ...], rows: list[list[str]]) -> str:
    """A table too wide for columns, one row after another: the first cell on a line of
    its own, whole (a terminal wraps it, nothing is cut), the others indented below."""
    lines: list[str] = []
    for row in rows:
        lines.append(row[0] if row else "")
        lines.extend(f"    {h}: {c}" for h, c in zip(headers[1:], row[1:], strict=False) if c)
    return "\n".join(lines)


def render_table(table: Table) -> str:
    cells = [[plain_spans(c).replace("\n", " ") for c in row] for row in table.rows]
    if any(len(c) > MAX_CELL for row in cells for c in row):
        return _records(table.headers, cells)
    widths = [len(h) for h in table.headers]
    for row in cells:
        for i, c in enumerate(row):
            widths[i] = max(widths[i], len(c))
    lines = ["  ".join(h.ljust(w) for h, w in zip(table.headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def render_block(block: Block) -> str:
    if isinstance(block, Text):
        body = plain_spans(block.spans)
        if block.style == "heading":
            return f"== {body} =="
        if block.style == "quote":
            return "\n".join(f"> {line}" for line in body.splitlines())
        return body
    if isinstance(block, Table):
        return render_table(block)
    if isinstance(block, Buttons):
        return "  ".join(f"[{b.label}: {b.command}]" for b in block.buttons)
    assert isinstance(block, File)
    return f"[file {block.name}, {len(block.content)} bytes]"


def render_blocks(blocks: Sequence[Block]) -> str:
    return "\n".join(render_block(b) for b in shown(blocks))


def render_post(post: Post) -> str:
    where = ", ".join(f"{c.platform}:{c.channel_id}" for c in post.channels) or (
        f"{post.group_slug} (no channel linked)"
    )
    body = render_blocks(post.blocks)
    return "\n".join(f"[{where}] {line}" for line in body.splitlines())


def render_reply(reply: Reply) -> str:
    parts = [render_blocks(reply.blocks)] if reply.blocks else []
    parts.extend(render_post(p) for p in reply.posts)
    return "\n".join(parts)
