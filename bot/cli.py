"""``taskbot``: the command line (``python -m bot`` is the same program).

Every subcommand reads the settings, builds what it needs through ``bot.container`` and
returns an exit code; a problem is one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import gc
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from bot import container as composition
from bot.config import ConfigError, Settings, load_settings, redact_url
from bot.conversation import Conversation
from bot.governance import outcome_of_file, outcome_of_preset
from bot.logs import setup_logging
from bot.shell import (
    DEFAULT_CHANNEL,
    Shell,
    enable_line_editing,
    os_user,
    parse_channel,
    parse_user,
)
from handlers.core.grammar import UserError
from handlers.governance import describe
from storage.db import make_engine, make_session_factory, upgrade
from storage.models import Outbox

log = logging.getLogger("taskbot")

SHELL_HELP = f"""\
The bot in a terminal, on the same store as Slack and Matrix. On a terminal it prompts;
otherwise it reads commands from stdin, one per line (blank and '#' lines are skipped).
Lines starting with ':' belong to the shell: ':as <user>', ':in <channel>', ':help', ':quit'.

You start as your login name ({os_user()}), who is an admin IN THE SHELL ONLY, on top of
TASKBOT_ADMINS; other users (--as, :as) have only the roles their memberships give them.
Files the bot returns (csv, ics, minutes, reports) are saved in TASKBOT_EXPORT_DIR
(default ./exports), and the shell prints where. A script's exit status is 1 when any of
its lines was refused or failed (the others still ran), else 0."""


# --- platforms -----------------------------------------------------------------------------

Serve = Coroutine[Any, Any, None]
# a platform's runner starts what must exist before ``taskbot run`` starts threads (Slack's
# core processes: a fork beside a running thread can leave the child stuck before its exec)
# and returns the coroutine that serves until cancelled
Runner = Callable[[composition.Container], Coroutine[Any, Any, Serve]]


@dataclass(frozen=True)
class Platform:
    name: str
    configured: Callable[[Settings], bool]
    settings_hint: str
    runner: Runner | None  # None: the adapter is not in this build


async def run_slack(box: composition.Container) -> Serve:
    """Imported on use, so the shell starts without loading Bolt."""
    from bot.slack.app import prepare

    return await prepare(box)


async def run_matrix(box: composition.Container) -> Serve:
    """Imported on use, so the shell starts without loading matrix-nio."""
    from bot.matrix.client import run

    return run(box)


async def run_email(box: composition.Container) -> Serve:
    from bot.email.runner import run

    return await run(box)


async def run_web(box: composition.Container) -> Serve:
    """Calendar feeds and the dashboard on ``PORT`` (Slack in HTTP mode serves them itself)."""
    from bot.web import serve

    return serve(box)


def slack_serves_http(settings: Settings) -> bool:
    """Slack in HTTP mode owns ``PORT``; the web routes are mounted on its server."""
    return settings.slack_configured and not settings.slack_app_token


# One line per platform; an adapter lands by giving its runner here.
PLATFORMS: tuple[Platform, ...] = (
    Platform("Slack", lambda s: s.slack_configured,
             "SLACK_BOT_TOKEN with SLACK_APP_TOKEN or SLACK_SIGNING_SECRET", run_slack),
    Platform("Matrix", lambda s: s.matrix_configured,
             "MATRIX_HOMESERVER, MATRIX_USER_ID and MATRIX_PASSWORD or MATRIX_ACCESS_TOKEN",
             run_matrix),
    Platform("Email", lambda s: s.email_configured, "TASKBOT_SMTP_URL and TASKBOT_MAIL_FROM",
             run_email),
)


# --- subcommands ---------------------------------------------------------------------------


def shell_container(settings: Settings, os_name: str) -> composition.Container:
    core = settings.to_core(extra_admins=frozenset({f"shell:{os_name}"}))
    return composition.build(settings, core=core)


def start_shell(settings: Settings, as_user: str | None, channel: str | None,
                serve_web: bool = False) -> int:
    """The shell; ``serve_web``: the feeds and dashboard on ``PORT`` beside it (``taskbot
    run`` with no chat platform, on a terminal)."""
    me = os_user()
    if sys.stdin.isatty():
        enable_line_editing()  # before the web and delivery threads start
    box = shell_container(settings, me)
    stop_web: Callable[[], None] | None = None
    try:
        if serve_web:
            from bot.web import serve_in_thread

            try:
                stop_web = serve_in_thread(box)
            except OSError as e:
                print(f"taskbot: cannot serve on port {settings.port}: {e.strerror or e}",
                      file=sys.stderr)
                return 1
        if box.preset_changes:
            print(f"First start on an empty store: applied the Scalable Cities preset "
                  f"({len(box.preset_changes)} changes); tg list shows the groups.",
                  file=sys.stderr)
        if hasattr(sys.stdin, "reconfigure"):
            sys.stdin.reconfigure(errors="replace")  # a stray byte is not a reason to stop
        shell = Shell(box.router, user=as_user or me, channel=channel or DEFAULT_CHANNEL,
                      export_dir=Path(box.core.export_dir),
                      conversation=Conversation(box.router, box.dispatcher))
        from bot.scheduler import ShellSender, start_background

        # a command's posts for shell channels, and (interactive) scheduled ones as they
        # fall due, are printed; those for chat platforms wait for taskbot run
        box.dispatcher.register("shell", ShellSender(shell.write))
        from bot.email.runner import register as register_mail

        register_mail(box)  # a post to a group's mail readers goes out from here too
        if sys.stdin.isatty():
            scheduler = start_background(box)
            try:
                return shell.run_interactive()
            finally:
                scheduler.shutdown(wait=False)
        return shell.run_script(sys.stdin)
    finally:
        if stop_web is not None:
            stop_web()
        box.close()


def serve_web_only(settings: Settings) -> int:
    """``taskbot run`` with ``PORT``, no chat platform and no terminal (a host's process
    manager, a container): the feeds and dashboard until stopped."""
    from bot.web import serve

    box = composition.build(settings)
    try:
        asyncio.run(serve(box))
    except KeyboardInterrupt:
        pass
    except OSError as e:
        print(f"taskbot: cannot serve on port {settings.port}: {e.strerror or e}",
              file=sys.stderr)
        return 1
    finally:
        box.close()
    return 0


def cmd_shell(settings: Settings, args: argparse.Namespace) -> int:
    return start_shell(settings, args.as_user, args.channel)


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    configured = [p for p in PLATFORMS if p.configured(settings)]
    if not configured:
        hints = "; ".join(f"{p.name}: {p.settings_hint}" for p in PLATFORMS)
        if settings.port is None:
            print(f"No platform configured ({hints}): starting the shell.", file=sys.stderr)
            return start_shell(settings, None, None)
        if sys.stdin.isatty():
            print(f"No platform configured ({hints}): starting the shell, with the calendar "
                  "feeds and dashboard on PORT.", file=sys.stderr)
            return start_shell(settings, None, None, serve_web=True)
        # no terminal to type in: serve rather than read a script from stdin and exit
        print(f"No platform configured ({hints}) and stdin is not a terminal: serving the "
              "calendar feeds and dashboard on PORT until stopped.", file=sys.stderr)
        return serve_web_only(settings)
    missing = [p for p in configured if p.runner is None]
    if missing:
        for p in missing:
            print(f"taskbot: {p.name} is configured, but the {p.name} adapter is not in this "
                  f"build yet; unset {p.settings_hint} to use the shell.", file=sys.stderr)
        return 1
    box = composition.build(settings)
    # start-up objects (SQLAlchemy's mappers, compiled statements, Bolt, nio) live as long as
    # the process: keep the cyclic collector from walking them in the middle of a command
    gc.collect()
    gc.freeze()
    try:
        runners = [p.runner for p in configured if p.runner is not None]
        if settings.port is not None and not slack_serves_http(settings):
            runners.append(run_web)  # feeds and dashboard on their own server

        async def run_all() -> None:
            from bot.scheduler import start_async

            serving: list[Serve] = []
            try:
                for runner in runners:  # every fork before the first thread
                    serving.append(await runner(box))
            except BaseException:
                for serve in serving:
                    serve.close()
                raise
            scheduler = start_async(box)
            try:
                await asyncio.gather(*serving)
            finally:
                scheduler.shutdown(wait=False)

        run_loop(run_all())
    except KeyboardInterrupt:
        pass
    finally:
        box.close()
    return 0


def run_loop(main: Coroutine[Any, Any, None]) -> None:
    """``asyncio.run`` on uvloop where it is installed: the chat adapters spend most of their
    own time in the loop's socket handling, which uvloop does in C (about an eighth less CPU
    a Slack command in bench/slack_http.py)."""
    try:
        import uvloop
    except ImportError:  # not built for this platform (Windows)
        asyncio.run(main)
        return
    uvloop.run(main)


def parse_iso(raw: str) -> dt.datetime:
    """``--at``: an ISO date and time, with or without an offset."""
    try:
        return dt.datetime.fromisoformat(raw.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{raw!r} is not an ISO date and time (like 2026-12-01T09:00 or "
            "2026-12-01T08:00+00:00)"
        ) from None


def tick_instant(at: dt.datetime | None, settings: Settings) -> dt.datetime:
    """Aware UTC; a naive ``--at`` is wall time in TASKBOT_TIMEZONE."""
    if at is None:
        return settings.clock()()
    if at.tzinfo is None:
        at = at.replace(tzinfo=settings.to_core().zone)
    return at.astimezone(dt.UTC)


def cmd_tick(settings: Settings, args: argparse.Namespace) -> int:
    """One pass of the delivery engine at ``--at`` (default now), printing what it did.

    Shell channels are printed here; rows for a platform this process is not connected
    to stay pending for ``taskbot run`` (they are counted, never dropped).
    """
    from bot.scheduler import ShellSender, delivery_engine

    at = tick_instant(args.at, settings)
    core = dataclasses.replace(settings.to_core(), clock=lambda: at)
    box = composition.build(settings, core=core, preset=False)
    try:
        box.dispatcher.register("shell", ShellSender(print))
        from bot.email.runner import inbox
        from bot.email.runner import register as register_mail

        mail = register_mail(box)  # cron-style deployments send their mail here
        reader = inbox(box)  # and read the replies that came in since the last tick
        if reader is not None:
            handled = reader.check()
            print(f"read {len(handled)} mail(s): "
                  f"{sum(1 for h in handled if not h.ignored)} answered, "
                  f"{sum(1 for h in handled if h.ignored)} run nothing")
        result = delivery_engine(box).tick(at)
        if mail is not None:
            mail.close()
        zone = core.zone
        for d in result.delivered:
            due = d.due_at.astimezone(zone)
            print(f"delivered {d.kind.replace('_', ' ')} to {d.channel.platform}:"
                  f"{d.channel.channel_id} (due {due:%Y-%m-%d %H:%M %Z})")
        for key in result.missed:
            print(f"missed (older than its grace window, not sent): {key}")
        for key in result.failed:
            print(f"failed for good: {key}")
        with box.sessions() as session:
            waiting = dict(session.execute(
                select(Outbox.platform, func.count())
                .where(Outbox.status == "pending", Outbox.due_at <= at)
                .group_by(Outbox.platform)
            ).all())
        print(f"{len(result.delivered)} delivered, {len(result.missed)} missed, "
              f"{len(result.retrying)} to retry, {len(result.failed)} failed at "
              f"{at.astimezone(zone):%Y-%m-%d %H:%M %Z}")
        if waiting:
            print("waiting for a platform this process is not connected to: " + ", ".join(
                f"{platform} {n}" for platform, n in sorted(waiting.items())))
    finally:
        box.close()
    return 0


def cmd_db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            revision = MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
    print(f"Database {redact_url(settings.database_url)} is at revision {revision} (head).")
    return 0


def cmd_governance(settings: Settings, args: argparse.Namespace) -> int:
    """Print the plan first; where it would undo a change made in chat since the last
    apply, name it and write nothing unless ``--force``."""
    box = composition.build(settings, preset=False)
    try:
        with box.sessions() as session:
            trans = session.begin()
            try:
                if args.action == "apply":
                    outcome = outcome_of_file(session, box.core, args.file)
                else:
                    outcome = outcome_of_preset(session, box.core)
            except BaseException:
                trans.rollback()
                raise
            refused = bool(outcome.overrides) and not args.force and not args.dry_run
            if args.dry_run or refused:
                trans.rollback()
            else:
                trans.commit()
    finally:
        box.close()
    report = describe(outcome.changes)
    if args.dry_run:
        report = "Dry run, nothing written. Would apply:\n" + report
    print(report)
    if outcome.overrides:
        lines = "\n".join(f"  - {o}" for o in outcome.overrides)
        if refused:
            print("taskbot: nothing was written: this would undo changes made in chat since "
                  f"the last apply:\n{lines}\nPut them in the file (`taskbot governance "
                  "export` writes the store as it is), or run again with --force to "
                  "override them.", file=sys.stderr)
            return 1
        verb = "would override" if args.dry_run else "overrode (--force)"
        print(f"This {verb} changes made in chat since the last apply:\n{lines}")
    return 0


def cmd_governance_export(settings: Settings, args: argparse.Namespace) -> int:
    """The store as a governance file, to stdout or ``--output``."""
    from handlers.governance import export_governance

    box = composition.build(settings, preset=False)
    try:
        with box.readers() as session:
            text = export_governance(session)
    finally:
        box.close()
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as err:
        raise UserError(f"cannot write {args.output}: {err.strerror or err}") from None
    print(f"Governance written to {args.output}.", file=sys.stderr)
    return 0


# what one ``taskbot report`` writes: (write(out, progress) -> rows, count, what it holds)
ReportPlan = tuple[Callable[[Any, Any], int], Callable[[], int], str]


def run_report(settings: Settings, args: argparse.Namespace,
               plan: Callable[[Any], ReportPlan]) -> int:
    """The one way every ``taskbot report`` runs: a read-only session, streamed to
    ``--output`` (through a ``.part`` file, renamed when complete) or stdout, a progress bar
    on a terminal, and one line on stderr saying what was written where."""
    from handlers.reports import reader_ctx

    box = composition.build(settings, preset=False)
    try:
        with box.readers() as session:
            ctx = reader_ctx(session, box.core, box.core.clock())
            write, count, what = plan(ctx)
            progress = None
            if sys.stderr.isatty():
                progress = ProgressBar(count(), sys.stderr)
            if args.output is None:
                n = write(sys.stdout, progress)
                sys.stdout.flush()
            else:
                tmp = args.output.with_name(args.output.name + ".part")
                try:
                    out = tmp.open("w", encoding="utf-8", newline="")
                except OSError as err:
                    raise UserError(f"cannot write {args.output}: "
                                    f"{err.strerror or err}") from None
                with out:
                    n = write(out, progress)
                tmp.replace(args.output)
            if progress is not None:
                progress.finish()
    finally:
        box.close()
    where = "stdout" if args.output is None else str(args.output)
    print(f"{n} {what} written to {where} ({args.format}).", file=sys.stderr)
    return 0


def _report_group(ctx: Any, name: str | None) -> Any:
    from handlers.core.directory import find_group

    if not name:
        return None
    group = find_group(ctx.session, name)
    if group is None:
        raise UserError(f"Unknown group {name!r}.")
    return group


def cmd_report_actions(settings: Settings, args: argparse.Namespace) -> int:
    """Every matching action, streamed to a file or stdout; a progress bar on a terminal."""
    from handlers.reports import count_actions, export_actions
    from handlers.secretariat import ActionQuery, known_projects

    def plan(ctx: Any) -> ReportPlan:
        q = ActionQuery(status=args.status, group=_report_group(ctx, args.group))
        if args.project:
            q.project = known_projects(ctx).get(args.project.strip().lower())
            if q.project is None:
                raise UserError(f"No one represents a project called {args.project!r}.")
        return (lambda out, progress: export_actions(ctx, q, out, args.format, progress),
                lambda: count_actions(ctx, q), q.describe())

    return run_report(settings, args, plan)


def cmd_report_records(settings: Settings, args: argparse.Namespace) -> int:
    """The decisions register or the meetings held, streamed like the actions report."""
    from handlers import reports

    export, count = {
        "decisions": (reports.export_decisions, reports.count_decisions),
        "meetings": (reports.export_meetings, reports.count_meetings),
    }[args.report]

    def plan(ctx: Any) -> ReportPlan:
        q = reports.RecordQuery(group=_report_group(ctx, args.group), since=args.since)
        return (lambda out, progress: export(ctx, q, out, args.format, progress),
                lambda: count(ctx, q), q.describe(args.report))

    return run_report(settings, args, plan)


def _iso_day(raw: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a date like 2026-11-01") from None


class ProgressBar:
    """``[#####-----] 12000/200000`` redrawn in place on a terminal."""

    def __init__(self, total: int, stream: Any, width: int = 30) -> None:
        self.total, self.stream, self.width = total, stream, width

    def __call__(self, done: int) -> None:
        share = done / self.total if self.total else 1.0
        filled = int(self.width * min(share, 1.0))
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r[{bar}] {done}/{self.total}")
        self.stream.flush()

    def finish(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


# --- parser and entry point ----------------------------------------------------------------


def cmd_matrix(settings: Settings, args: argparse.Namespace) -> int:
    """``taskbot matrix devices|verify``: the bot's view of the devices in its encrypted
    rooms, and the operator's verification of one (MATRIX_TRUST=verified)."""
    import asyncio

    from bot.matrix.trust import open_offline

    if not (settings.matrix_homeserver and settings.matrix_user_id):
        print("taskbot: MATRIX_HOMESERVER and MATRIX_USER_ID are needed.", file=sys.stderr)
        return 2
    engine = make_engine(settings.database_url)
    try:
        offline = open_offline(make_session_factory(engine), settings.matrix_homeserver,
                               settings.matrix_user_id, settings.matrix_store_path)
    except ValueError as err:
        print(f"taskbot: {err}", file=sys.stderr)
        engine.dispose()
        return 1
    status = 0
    try:
        if args.matrix_command == "devices":
            rows = offline.devices()
            if not rows:
                print("No devices known yet: the bot learns those of the people in its "
                      "encrypted rooms.")
            for user, device, fp, trust in rows:
                print(f"{user}  {device}  {fp}  {trust}")
        else:
            try:
                print(offline.verify(args.user, args.device, args.fingerprint))
            except ValueError as err:
                print(f"taskbot: {err}", file=sys.stderr)
                status = 1
    finally:
        asyncio.run(offline.close())
        engine.dispose()
    return status


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="taskbot",
        description="Taskbot: coordinates the task groups of a governance body on Slack, "
        "Matrix and in a terminal. Settings come from the environment and ./.env.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="<command>")

    p = sub.add_parser("run", help="start every configured platform (no platform: the shell)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "shell", help="the bot in a terminal (scriptable through stdin)",
        description=SHELL_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--as", dest="as_user", metavar="<user>", type=_arg(parse_user),
                   help=f"who you are (default: {os_user()}, an admin in the shell only)")
    p.add_argument("--in", dest="channel", metavar="<channel>", type=_arg(parse_channel),
                   help=f"the channel you type in (default: {DEFAULT_CHANNEL})")
    p.set_defaults(func=cmd_shell)

    p = sub.add_parser("tick", help="one pass of the delivery engine")
    p.add_argument("--at", metavar="<ISO datetime>", type=parse_iso,
                   help="the instant to deliver for (naive: in TASKBOT_TIMEZONE; default now)")
    p.set_defaults(func=cmd_tick)

    p = sub.add_parser("db", help="database maintenance")
    db = p.add_subparsers(dest="db_command", required=True, metavar="<db command>")
    up = db.add_parser("upgrade", help="run the migrations up to the newest (Alembic head)")
    up.set_defaults(func=cmd_db_upgrade)

    p = sub.add_parser("governance", help="groups, channels, roles and meetings as code")
    gov = p.add_subparsers(dest="action", required=True, metavar="<governance command>")
    ap = gov.add_parser("apply", help="make the store match a governance file (TOML)")
    ap.add_argument("file", metavar="<file.toml>", type=Path)
    force_help = ("apply even where it undoes changes made in chat since the last apply "
                  "(without it, such an apply writes nothing and names them)")
    ap.add_argument("--dry-run", action="store_true", help="report the changes, write nothing")
    ap.add_argument("--force", action="store_true", help=force_help)
    ap.set_defaults(func=cmd_governance)
    pr = gov.add_parser("preset", help="apply the shipped Scalable Cities preset")
    pr.add_argument("--dry-run", action="store_true", help="report the changes, write nothing")
    pr.add_argument("--force", action="store_true", help=force_help)
    pr.set_defaults(func=cmd_governance)
    ex = gov.add_parser("export", help="write the store's groups, channels, members, meetings "
                        "and admins as a governance file that apply reproduces unchanged")
    ex.add_argument("--output", metavar="<file.toml>", type=Path,
                    help="write here (default: stdout)")
    ex.set_defaults(func=cmd_governance_export)

    p = sub.add_parser("matrix", help="the Matrix device's end-to-end trust")
    mx = p.add_subparsers(dest="matrix_command", required=True, metavar="<matrix command>")
    md = mx.add_parser("devices", help="the devices the bot knows in its encrypted rooms, "
                       "with their fingerprints and trust")
    md.set_defaults(func=cmd_matrix)
    mv = mx.add_parser("verify", help="verify a person's device (MATRIX_TRUST=verified "
                       "gives room keys only to verified devices)")
    mv.add_argument("user", metavar="<@user:server>")
    mv.add_argument("device", metavar="<device id>")
    mv.add_argument("--fingerprint", metavar="<ed25519>", required=True,
                    help="the fingerprint the person's app shows (taskbot matrix devices "
                    "shows the bot's view of it): refused if they differ")
    mv.set_defaults(func=cmd_matrix)

    p = sub.add_parser("report", help="exports for scripts and spreadsheets")
    rep = p.add_subparsers(dest="report", required=True, metavar="<report>")
    ra = rep.add_parser("actions", help="actions across all groups (the chat CSV's columns)")
    ra.add_argument("--format", choices=("csv", "json", "md"), default="csv")
    ra.add_argument("--output", metavar="<file>", type=Path,
                    help="write here (default: stdout)")
    ra.add_argument("--status", choices=("open", "overdue", "all"), default="open")
    ra.add_argument("--group", metavar="<group>", help="one group (slug or name)")
    ra.add_argument("--project", metavar="<project>", help="one project")
    ra.set_defaults(func=cmd_report_actions)
    for name, what, group_help in (
        ("decisions", "the decisions register, oldest first: targets, acknowledgements, "
         "linked actions", "decisions for one target group (slug or name)"),
        ("meetings", "the meetings held (meeting start), oldest first: times, chairs, "
         "attendance, what was captured", "one group's meetings (slug or name)"),
    ):
        rp = rep.add_parser(name, help=what)
        rp.add_argument("--format", choices=("csv", "json", "md"), default="csv")
        rp.add_argument("--output", metavar="<file>", type=Path,
                        help="write here (default: stdout)")
        rp.add_argument("--group", metavar="<group>", help=group_help)
        rp.add_argument("--since", metavar="<YYYY-MM-DD>", type=_iso_day,
                        help="from this day on (in TASKBOT_TIMEZONE)")
        rp.set_defaults(func=cmd_report_records)
    return parser


def _arg(parse: Callable[[str], str]) -> Callable[[str], str]:
    """Turn a parser's ValueError into argparse's usage error."""

    def convert(raw: str) -> str:
        try:
            return parse(raw)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    return convert


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging()
    try:
        settings = load_settings()
        code: int = args.func(settings, args)
        return code
    except ConfigError as err:
        print(f"taskbot: configuration: {err}", file=sys.stderr)
    except UserError as err:
        print(f"taskbot: {err.message}", file=sys.stderr)
    except SQLAlchemyError as err:
        log.debug("database error", exc_info=True)
        cause = getattr(err, "orig", None) or err
        first = str(cause).strip().splitlines()
        print(f"taskbot: database error: {first[0] if first else type(err).__name__}",
              file=sys.stderr)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader went away (``| head``): stop quietly, as Unix tools do
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception:
        log.exception("unexpected error; the traceback is in taskbot.log")
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
