"""How a proposal is decided: each kind's rule, the quorum, and the outcome they give.

Quorum counts the votes cast (abstentions included) over the electorate frozen at opening,
and needs one vote at least.
Consent passes with quorum and no block; majority with quorum and more agree than disagree;
consensus with quorum and neither disagree nor block; a poll's winner is the option with the
most votes (a tie is reported as one), once quorum is met.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from handlers.core.i18n import Msg, _

AGREE, ABSTAIN, DISAGREE, BLOCK = "agree", "abstain", "disagree", "block"
STANCES = (AGREE, ABSTAIN, DISAGREE, BLOCK)
CONSENT, MAJORITY, CONSENSUS, POLL = "consent", "majority", "consensus", "poll"
KINDS = (CONSENT, MAJORITY, CONSENSUS, POLL)
PASSED, FAILED, NO_QUORUM, WINNER, TIE = "passed", "failed", "no_quorum", "winner", "tie"


def rule_of(kind: str) -> Msg:
    """The kind's rule, as help, the opening post and the closing post state it."""
    if kind == CONSENT:
        return _("consent: passes with quorum and no block")
    if kind == MAJORITY:
        return _("majority: passes with quorum and more agree than disagree")
    if kind == CONSENSUS:
        return _("consensus: passes with quorum and no disagree or block")
    return _("poll: the option with the most votes wins, once quorum is met; a tie is "
             "reported as a tie")


def choices_of(kind: str, options: Sequence[str]) -> tuple[str, ...]:
    """What a voter may answer."""
    return tuple(options) if kind == POLL else STANCES


@dataclass(frozen=True)
class Outcome:
    result: str  # passed | failed | no_quorum | winner | tie
    cast: int
    electorate: int
    quorum_met: bool
    counts: tuple[tuple[str, int], ...]  # every choice, in the order they are offered
    winners: tuple[str, ...] = ()  # a poll's (several: a tie)

    @property
    def passed(self) -> bool:
        return self.result == PASSED


def quorum_met(cast: int, electorate: int, quorum_pct: int) -> bool:
    """At least ``quorum_pct`` percent of the electorate voted (exact in integers), and at
    least one person: nothing is decided by nobody, whatever the quorum."""
    return cast > 0 and cast * 100 >= quorum_pct * electorate


def decide(kind: str, options: Sequence[str], counts: Mapping[str, int], electorate: int,
           quorum_pct: int) -> Outcome:
    choices = choices_of(kind, options)
    shown = tuple((c, int(counts.get(c, 0))) for c in choices)
    cast = sum(n for _c, n in shown)
    met = quorum_met(cast, electorate, quorum_pct)

    def out(result: str, winners: tuple[str, ...] = ()) -> Outcome:
        return Outcome(result, cast, electorate, met, shown, winners)

    if not met:
        return out(NO_QUORUM)
    n = dict(shown)
    if kind == POLL:
        top = max((count for _c, count in shown), default=0)
        winners = tuple(c for c, count in shown if count == top and top > 0)
        if len(winners) == 1:
            return out(WINNER, winners)
        return out(TIE, winners)
    if kind == CONSENT:
        return out(PASSED if n[BLOCK] == 0 else FAILED)
    if kind == MAJORITY:
        return out(PASSED if n[AGREE] > n[DISAGREE] else FAILED)
    return out(PASSED if n[DISAGREE] == 0 and n[BLOCK] == 0 else FAILED)
