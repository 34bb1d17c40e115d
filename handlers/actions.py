"""Placeholder until this command family lands."""

from handlers.router import Registry


def register(reg: Registry) -> None:
    pass
