"""Plain-text rendering of the neutral reply: the shell's view, and the tests' too."""

from __future__ import annotations

from handlers.messages import Block, Buttons, File, Post, Reply, Table, Text, plain_spans

MAX_CELL = 60


def _cell(value: str) -> str:
    value = value.replace("\n", " ")
    return value if len(value) <= MAX_CELL else value[: MAX_CELL - 1] + "…"


def render_table(table: Table) -> str:
    cells = [[_cell(plain_spans(c)) for c in row] for row in table.rows]
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


def render_blocks(blocks: list[Block]) -> str:
    return "\n".join(render_block(b) for b in blocks)


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
