"""Placeholder until this command family lands."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from handlers.context import Ctx
from handlers.router import Registry
from storage.models import Group


@dataclass(frozen=True)
class Occurrence:
    start: dt.datetime
    zone: str
    original_date: dt.date


def next_meeting(ctx: Ctx, group: Group) -> Occurrence | None:
    return None


def register(reg: Registry) -> None:
    pass
