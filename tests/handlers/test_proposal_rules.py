"""How a proposal is decided (``handlers.proposals.decide``), against the rules as the issue
states them, written here again without the implementation's help:

- quorum counts the votes cast, abstentions included, over the electorate; nothing is
  decided by no vote at all, whatever the quorum;
- consent passes with quorum and no block;
- majority passes with quorum and more agree than disagree;
- consensus passes with quorum and neither disagree nor block;
- a poll's winner is the option with the most votes (plurality); a tie is reported as a tie.

A family of properties over every kind, count, electorate and quorum from 0 to 100, then a
table of named edge cases.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.proposals import decide

STANCES = ("agree", "abstain", "disagree", "block")
STANCE_KINDS = ("consent", "majority", "consensus")


# --- the rules, restated ---------------------------------------------------------------------


def quorum_reached(cast: int, electorate: int, quorum_pct: int) -> bool:
    """``quorum_pct`` percent of the electorate voted, exactly (no rounding), and someone did."""
    if cast == 0:
        return False
    return Fraction(cast, electorate) >= Fraction(quorum_pct, 100)


def passes(kind: str, n: dict[str, int]) -> bool:
    """A stance kind's rule, once quorum is met."""
    if kind == "consent":
        return n["block"] == 0
    if kind == "majority":
        return n["agree"] > n["disagree"]
    assert kind == "consensus"
    return n["disagree"] == 0 and n["block"] == 0


def plurality(options: list[str], n: dict[str, int]) -> list[str]:
    most = max(n[o] for o in options)
    return [o for o in options if n[o] == most]


# --- strategies ------------------------------------------------------------------------------


@st.composite
def stance_cases(draw: st.DrawFn) -> tuple[str, dict[str, int], int, int]:
    kind = draw(st.sampled_from(STANCE_KINDS))
    counts = {s: draw(st.integers(0, 40)) for s in STANCES}
    electorate = sum(counts.values()) + draw(st.integers(0, 60))
    quorum = draw(st.integers(0, 100))
    return kind, counts, electorate, quorum


OPTION = st.text(st.characters(whitelist_categories=("L", "N")), min_size=1, max_size=8)


@st.composite
def poll_cases(draw: st.DrawFn) -> tuple[list[str], dict[str, int], int, int]:
    options = draw(st.lists(OPTION, min_size=2, max_size=10,
                            unique_by=lambda o: o.lower()))
    # small counts, so that ties are frequent
    counts = {o: draw(st.integers(0, 4)) for o in options}
    electorate = sum(counts.values()) + draw(st.integers(0, 30))
    quorum = draw(st.integers(0, 100))
    return options, counts, electorate, quorum


# --- the family ------------------------------------------------------------------------------


@given(stance_cases())
def test_a_stance_kind_follows_its_rule(case: tuple[str, dict[str, int], int, int]) -> None:
    kind, counts, electorate, quorum = case
    out = decide(kind, (), counts, electorate, quorum)
    cast = sum(counts.values())
    assert out.cast == cast and out.electorate == electorate
    assert out.counts == tuple((s, counts[s]) for s in STANCES)  # every stance, in order
    assert out.quorum_met == quorum_reached(cast, electorate, quorum)
    assert out.winners == ()
    if not quorum_reached(cast, electorate, quorum):
        assert out.result == "no_quorum" and not out.passed
    elif passes(kind, counts):
        assert out.result == "passed" and out.passed
    else:
        assert out.result == "failed" and not out.passed


@given(poll_cases())
def test_a_poll_is_won_by_plurality_and_a_tie_is_reported_as_one(
        case: tuple[list[str], dict[str, int], int, int]) -> None:
    options, counts, electorate, quorum = case
    out = decide("poll", options, counts, electorate, quorum)
    cast = sum(counts.values())
    assert out.cast == cast and out.electorate == electorate
    assert out.counts == tuple((o, counts[o]) for o in options)  # in the order offered
    assert out.quorum_met == quorum_reached(cast, electorate, quorum)
    assert not out.passed  # a poll has a winner, not a pass
    if not quorum_reached(cast, electorate, quorum):
        assert out.result == "no_quorum" and out.winners == ()
        return
    top = plurality(options, counts)
    assert list(out.winners) == top
    assert out.result == ("winner" if len(top) == 1 else "tie")


@given(stance_cases(), st.sampled_from(STANCES))
def test_one_more_vote_moves_the_outcome_only_as_the_rules_say(
        case: tuple[str, dict[str, int], int, int], stance: str) -> None:
    """Metamorphic: one more voter (the electorate grows with them) for ``stance``."""
    kind, counts, electorate, quorum = case
    before = decide(kind, (), counts, electorate, quorum)
    more = dict(counts, **{stance: counts[stance] + 1})
    after = decide(kind, (), more, electorate + 1, quorum)
    assert after.cast == before.cast + 1
    if not (before.quorum_met and after.quorum_met):
        return
    if stance == "abstain":  # counts for quorum only
        assert after.result == before.result
    elif stance == "agree":  # never turns a pass into a failure
        assert before.result != "passed" or after.result == "passed"
    elif stance == "block":  # stops consent and consensus; majority ignores it
        if kind in ("consent", "consensus"):
            assert after.result == "failed"
        else:
            assert after.result == before.result
    else:  # disagree: stops consensus; consent ignores it; majority may tip
        if kind == "consensus":
            assert after.result == "failed"
        elif kind == "consent":
            assert after.result == before.result
        else:
            assert before.result != "failed" or after.result == "failed"


@given(st.sampled_from(("consent", "majority", "consensus", "poll")),
       st.integers(0, 1000), st.integers(0, 100))
def test_nothing_is_decided_without_a_vote(kind: str, electorate: int, quorum: int) -> None:
    options = ["a", "b"] if kind == "poll" else []
    out = decide(kind, options, {}, electorate, quorum)
    assert out.result == "no_quorum" and not out.quorum_met and not out.passed
    assert out.cast == 0 and out.winners == ()


@given(st.integers(1, 1000), st.integers(0, 100), st.data())
def test_quorum_is_votes_cast_over_the_electorate_exactly(
        electorate: int, quorum: int, data: st.DataObject) -> None:
    """The smallest turnout that meets quorum is the ceiling of quorum% of the electorate
    (one vote at least); one fewer does not."""
    need = max(1, -(-quorum * electorate // 100))
    assert decide("consent", (), {"abstain": need}, electorate, quorum).quorum_met
    if need > 1:
        assert not decide("consent", (), {"abstain": need - 1}, electorate, quorum).quorum_met
    # the same whichever stances the votes are
    split = data.draw(st.integers(0, need))
    assert decide("majority", (), {"agree": split, "block": need - split}, electorate,
                  quorum).quorum_met


# --- named edge cases ------------------------------------------------------------------------

A, AB, D, B = "agree", "abstain", "disagree", "block"

CASES = [
    # (name, kind, options, counts, electorate, quorum, result, winners)
    ("exact quorum boundary: 2 of 4 at 50%", "consent", [], {A: 2}, 4, 50, "passed", ()),
    ("just under quorum: 1 of 4 at 50%", "consent", [], {A: 1}, 4, 50, "no_quorum", ()),
    ("no rounding down: 1 of 3 is under 50%", "consent", [], {A: 1}, 3, 50, "no_quorum", ()),
    ("no rounding: 2 of 3 (66.7%) is under 67%", "consent", [], {A: 2}, 3, 67,
     "no_quorum", ()),
    ("2 of 3 meets 66%", "consent", [], {A: 2}, 3, 66, "passed", ()),
    ("exact boundary: 3 of 5 at 60%", "majority", [], {A: 2, D: 1}, 5, 60, "passed", ()),
    ("abstentions make the quorum", "consent", [], {A: 1, AB: 2}, 4, 75, "passed", ()),
    ("only abstentions: consent has no block", "consent", [], {AB: 3}, 3, 50, "passed", ()),
    ("only abstentions: majority needs more agree", "majority", [], {AB: 3}, 3, 50,
     "failed", ()),
    ("quorum 0% still needs a vote", "consent", [], {}, 10, 0, "no_quorum", ()),
    ("quorum 0%: one vote decides", "consent", [], {A: 1}, 10, 0, "passed", ()),
    ("quorum 100%: one missing", "consensus", [], {A: 4}, 5, 100, "no_quorum", ()),
    ("quorum 100%: everyone", "consensus", [], {A: 5}, 5, 100, "passed", ()),
    ("no electorate", "consent", [], {}, 0, 50, "no_quorum", ()),
    ("majority tie is not more agree", "majority", [], {A: 2, D: 2}, 4, 50, "failed", ()),
    ("majority by one", "majority", [], {A: 3, D: 2}, 5, 50, "passed", ()),
    ("majority ignores a block", "majority", [], {A: 2, D: 1, B: 1}, 4, 50, "passed", ()),
    ("a block stops consent", "consent", [], {A: 9, B: 1}, 10, 50, "failed", ()),
    ("consent ignores disagree", "consent", [], {A: 1, D: 3}, 4, 50, "passed", ()),
    ("a block stops consensus", "consensus", [], {A: 9, B: 1}, 10, 50, "failed", ()),
    ("a disagree stops consensus", "consensus", [], {A: 9, D: 1}, 10, 50, "failed", ()),
    ("consensus with an abstention", "consensus", [], {A: 4, AB: 1}, 5, 50, "passed", ()),
    ("a block without quorum is no quorum", "consent", [], {B: 1}, 10, 50, "no_quorum", ()),
    ("poll winner", "poll", ["Lisbon", "Oslo", "Riga"], {"Oslo": 3, "Riga": 1}, 5, 50,
     "winner", ("Oslo",)),
    ("poll tie of two", "poll", ["Lisbon", "Oslo", "Riga"],
     {"Lisbon": 2, "Oslo": 2, "Riga": 1}, 5, 50, "tie", ("Lisbon", "Oslo")),
    ("poll tie of all", "poll", ["Lisbon", "Oslo", "Riga"],
     {"Lisbon": 1, "Oslo": 1, "Riga": 1}, 3, 50, "tie", ("Lisbon", "Oslo", "Riga")),
    ("poll without quorum names no winner", "poll", ["Lisbon", "Oslo"], {"Oslo": 1}, 5, 50,
     "no_quorum", ()),
]


@pytest.mark.parametrize(("kind", "options", "counts", "electorate", "quorum", "result",
                          "winners"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_edge_cases(kind: str, options: list[str], counts: dict[str, int], electorate: int,
                    quorum: int, result: str, winners: tuple[str, ...]) -> None:
    out = decide(kind, options, counts, electorate, quorum)
    assert (out.result, out.winners) == (result, winners)
    assert out.passed == (result == "passed")
    assert out.quorum_met == (result != "no_quorum")
