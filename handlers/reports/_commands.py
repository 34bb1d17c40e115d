"""The chat commands of the workbench: the monthly report, dashboard links and
calendar feeds (under the ``secretariat`` noun).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from handlers.core import params as p
from handlers.core.context import Ctx
from handlers.core.directory import mention, take_group
from handlers.core.grammar import Args, Refused, UserError
from handlers.core.i18n import _
from handlers.core.messages import (
    Reply,
    When,
)
from handlers.core.params import Values
from handlers.core.people import resolve_person
from handlers.core.roles import STAFF, Policy, require_member, staff
from handlers.core.router import Registry
from handlers.reports._links import (
    dashboard_path,
    feed_path,
    link_key,
    may_read_feed,
    reset_link_key,
    say_web_hint,
    web_link,
    web_secret,
)
from handlers.reports._monthly import build_report, parse_month, report_reply
from storage.models import (
    Group,
    Person,
)

DASHBOARD_DAYS = 7
DASHBOARD_MAX_DAYS = 90


def _feed_choice(ctx: Ctx, args: Args) -> Group | None:
    """``all`` (None), a group, or the channel's group."""
    if args.accept("all"):
        args.done()
        return None
    group = take_group(ctx, args, optional=True)
    if group is None and not args.empty():
        take_group(ctx, args)  # reports the unknown group
    args.done()
    group = group or ctx.channel_group
    if group is None:
        raise UserError(_("Name a group, or all: this channel is not linked to one."))
    return group


def _days(_ctx: Ctx, args: Args) -> int:
    raw = args.accept(*(str(n) for n in range(1, DASHBOARD_MAX_DAYS + 1)))
    if raw is None and not args.empty():
        raise UserError(_("<days> is a whole number from 1 to {most}.",
                          most=DASHBOARD_MAX_DAYS))
    args.accept("days", "day")
    return int(raw) if raw else DASHBOARD_DAYS


def _feed(ctx: Ctx, args: Args) -> Group | str | None:
    """``reset``, or the feed's group (None: all)."""
    if args.accept("reset"):
        return "reset"
    return _feed_choice(ctx, args)


def _reset_whom(ctx: Ctx, args: Args) -> Person | None:
    """The person of ``reset <@user>``, or None."""
    if args.accept("reset") is None:
        return None
    return resolve_person(ctx, args.next("<@user>"))


# TRANSLATORS: who may run a command (help shows it): the secretariat and the admins
SECRETARIAT_AND_ADMIN = STAFF.said(_("secretariat, admin"))
MONTH = p.custom("[<month>]", lambda ctx, args: parse_month(
    args.rest_text(required=False), ctx.today))
DAYS = p.custom("[<days>]", _days, rest=False)
FEED = p.custom("[<group>|all|reset]", _feed, rest=False)
RESET_WHOM = p.custom("[reset <@user>]", _reset_whom, rest=False)


def register(reg: Registry) -> None:
    """``secretariat report|dashboard|feeds`` and ``meeting feed``."""

    @reg.command(
        "secretariat", "report", p.spec(MONTH),
        # TRANSLATORS: 2026-10, october, last month and meeting start are typed as they are
        _("the monthly report for the BoC (this month to date, or 2026-10, october, last month):"
          " numbers per group (meetings held: run with meeting start), a chart, Markdown and"
          " HTML files"),
        SECRETARIAT_AND_ADMIN,
    )
    def secretariat_report(ctx: Ctx, v: Values) -> Reply:
        return report_reply(ctx, build_report(ctx, v[MONTH]))

    @reg.command(
        "secretariat", "dashboard", p.spec(DAYS),
        _("a private link to the read-only web dashboard, valid {days} days "
          "(or <days>, at most {most})", days=DASHBOARD_DAYS, most=DASHBOARD_MAX_DAYS),
        SECRETARIAT_AND_ADMIN,
    )
    def secretariat_dashboard(ctx: Ctx, v: Values) -> Reply:
        days = v[DAYS]
        secret = web_secret(ctx.session, create=True)
        assert secret is not None
        key = link_key(ctx.session, ctx.actor.id, ctx.now, create=True) or ""
        expires = int((ctx.now + dt.timedelta(days=days)).timestamp())
        path = dashboard_path(secret, ctx.actor.id, key, expires)
        ctx.audit("link", "dashboard", None, expires=expires)
        reply = Reply(private=True, secret=True)
        until = When(dt.datetime.fromtimestamp(expires, dt.UTC), ctx.settings.timezone)
        reply = reply.say(_("Your dashboard link (keep it to yourself; it works until {time}):",
                            time=until))
        reply = reply.say(web_link(ctx.settings, path, _("Taskbot dashboard")))
        return say_web_hint(reply, ctx.settings)

    @reg.command(
        "meeting", "feed", p.spec(FEED),
        # TRANSLATORS: meeting calendar, all and reset are typed as they are
        _("your private calendar subscription link (updates itself, unlike meeting calendar); "
          "all: the meetings of every group you are in; "
          "reset: a new one, and your old feed and dashboard links stop working"),
        # TRANSLATORS: who may run meeting feed (all and reset are typed as they are)
        Policy(_("members of the group; all: anyone in a group; reset: anyone")),
    )
    def meeting_feed(ctx: Ctx, v: Values) -> Reply:
        group = v[FEED]
        if group == "reset":
            reset_link_key(ctx.session, ctx.actor.id, ctx.now)
            ctx.audit("link", "link_key", ctx.actor.id, reset="self")
            return Reply(private=True).say(_(
                "Done: your old calendar feed and dashboard links no longer work. "
                "`meeting feed` gives you the new ones."))
        if isinstance(group, Group):
            require_member(ctx, group, f"meeting feed {group.slug}")
            feed, title = group.slug, _("{group} meetings", group=group.name)
        else:
            if not may_read_feed(ctx, None):
                raise Refused(_("a member of a group (or the secretariat)"), "meeting feed all")
            feed, title = "all", _("All group meetings")
        key = link_key(ctx.session, ctx.actor.id, ctx.now, create=True) or ""
        reply = Reply(private=True, secret=True)
        if group is not None:
            said = _("{title}: subscribe to this address in Outlook, Google Calendar or "
                     "Thunderbird (add calendar from URL); it is yours alone, works while you "
                     "are in the group, and `meeting feed reset` revokes it.", title=title)
        elif staff(ctx):
            said = _("{title}: subscribe to this address in Outlook, Google Calendar or "
                     "Thunderbird (add calendar from URL); it is yours alone, shows every "
                     "group's meetings, and `meeting feed reset` revokes it.", title=title)
        else:
            said = _("{title}: subscribe to this address in Outlook, Google Calendar or "
                     "Thunderbird (add calendar from URL); it is yours alone, shows the "
                     "meetings of the groups you are in, and `meeting feed reset` revokes it.",
                     title=title)
        reply = reply.say(said)
        reply = reply.say(web_link(ctx.settings, feed_path(key, feed)))
        return say_web_hint(reply, ctx.settings)

    @reg.command(
        "secretariat", "feeds", p.spec(RESET_WHOM),
        # TRANSLATORS: reset is typed as it is
        _("your calendar subscription links for every group; reset <@user>: revoke that "
          "person's feed and dashboard links"), SECRETARIAT_AND_ADMIN,
    )
    def secretariat_feeds(ctx: Ctx, v: Values) -> Reply:
        person = v[RESET_WHOM]
        if person is not None:
            reset_link_key(ctx.session, person.id, ctx.now)
            ctx.audit("link", "link_key", person.id, reset="secretariat")
            return Reply(private=True).say(_(
                "Done: {who}'s calendar feed and dashboard links no longer work; "
                "`meeting feed` gives them new ones.", who=mention(person)))
        key = link_key(ctx.session, ctx.actor.id, ctx.now, create=True) or ""
        reply = Reply(private=True, secret=True)
        reply = reply.say(_("Your calendar feeds (read-only; yours alone: each member gets their "
                            "own with meeting feed)"), style="heading")
        feeds = ["all", *ctx.session.scalars(select(Group.slug).order_by(Group.slug))]
        for feed in feeds:
            reply = reply.say(f"{feed}: ", web_link(ctx.settings, feed_path(key, feed)))
        return say_web_hint(reply, ctx.settings)
