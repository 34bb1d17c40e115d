"""Taskbot as a Slack app: Bolt's AsyncApp over HTTP (``/slack/events``) or Socket Mode.

Every listener acknowledges and returns at once (Slack gives three seconds), leaving the
work to a task of its own: commands run in the core process (``bot.slack.core_process``),
other store work on a worker thread. Answers: replies for the person and all errors
ephemerally through the ``response_url``; replies the channel should see with
``chat.postMessage``; a reply's posts to other groups' channels go through the shared
Dispatcher, so they reach Matrix too.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import re
import sys
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar, cast

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.container import Container
from bot.conversation import Conversation
from bot.dispatch import Dispatcher
from bot.slack import core_process
from bot.slack.core_process import CoreProcess
from bot.slack.fields import list_field, object_field, text_field, well_formed
from bot.slack.manifest import EVENTS, slash_commands
from bot.slack.render import (
    ACTION_MODAL,
    CHECKIN_MODAL,
    PLATFORM,
    Rendered,
    action_modal,
    answer_digest,
    checkin_answers,
    checkin_modal,
    checkin_slug,
    form_answer,
    home_view,
    modal_command,
    render_blocks,
    unescape,
)
from bot.slack.sender import SlackSender
from bot.slack.state import NameCache, request_key, seen_events
from handlers.checkins import QUESTIONS_MAX, form_for
from handlers.core.i18n import LANGUAGES, _, said
from handlers.core.lookups import group_choices
from handlers.core.messages import Block, File, Reply, Text
from handlers.core.router import Incoming, Router
from handlers.delivery import SendFailed
from handlers.home import home

log = logging.getLogger(__name__)

T = TypeVar("T")

EVENTS_PATH = "/slack/events"
DEFAULT_PORT = 3000
BUTTON_ACTION = re.compile(r"^taskbot:")
ONCE = "taskbot_request_key"  # the Bolt context entry with the request's dedupe key


@dataclass(frozen=True)
class Origin:
    """Where a command came from, and so where its answer goes."""

    user_id: str
    channel_id: str | None
    response_url: str | None = None


class SlackAdapter:
    """The Slack side of ``taskbot run``: ``await start()``, later ``await stop()``."""

    def __init__(
        self,
        router: Router,
        sessions: sessionmaker[Session],
        settings: Settings,
        dispatcher: Dispatcher,
        *,
        host: str = "0.0.0.0",
        workers: int | None = None,
        core_processes: int | None = None,
        extra_routes: list[web.RouteDef] | None = None,
    ) -> None:
        self.router = router
        self.sessions = sessions
        self.settings = settings
        self.dispatcher = dispatcher
        self.host = host
        # other HTTP endpoints of ``taskbot run`` (bot.web) share this server and port
        self.extra_routes = list(extra_routes or ())
        base_url = settings.slack_api_url or AsyncWebClient.BASE_URL
        if not base_url.endswith("/"):
            base_url += "/"
        self.client = AsyncWebClient(token=settings.slack_bot_token, base_url=base_url)
        self.sender = SlackSender(self.client)
        self.names = NameCache(self.client)
        # each request acted on once (bot.seen): its mark goes in the transaction of the
        # work it runs, and every line goes through the one conversation pipeline
        self.seen = seen_events(sessions)
        self.conversation = Conversation(router, dispatcher, self.seen)
        # Every listener below acknowledges and hands its work to a task, so Bolt may answer
        # Slack as soon as the listener returns. (With process_before_response=False Bolt
        # itself runs the listener in a task and polls every 10 ms for its ack: a 10 ms
        # floor under every acknowledgement.)
        self.app = AsyncApp(
            client=self.client,
            signing_secret=settings.slack_signing_secret or "",
            process_before_response=True,
            request_verification_enabled=True,
        )
        self._tasks: set[asyncio.Task[Any]] = set()
        self._runner: web.AppRunner | None = None
        # Store work other than commands (the Home tab, the modal's groups, channel joins)
        # runs here: a SQLite store takes one writer at a time (BEGIN IMMEDIATE), so more
        # threads would only queue inside SQLite's busy handler. PostgreSQL runs
        # transactions side by side.
        bind = sessions.kw.get("bind")
        dialect = getattr(getattr(bind, "dialect", None), "name", "")
        if workers is None:
            workers = 1 if dialect == "sqlite" else 4
        self.workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="slack-core")
        # commands: one process on SQLite (one writer at a time), two on PostgreSQL
        if core_processes is None:
            core_processes = 1 if dialect == "sqlite" else 2
        self.core = CoreProcess(settings, core_processes) if core_processes > 0 else None
        self._core_started = False
        self._http: aiohttp.ClientSession | None = None
        self._socket: Any = None
        self.port: int | None = None
        self._register()

    # --- wiring -----------------------------------------------------------------------------

    def _register(self) -> None:
        app = self.app
        app.middleware(self._once_per_request)
        for slash, noun in slash_commands(self.router.registry).items():
            app.command(slash)(self._slash_listener(noun))
        app.action(BUTTON_ACTION)(self.acking(self._on_button))
        app.view(ACTION_MODAL)(self.acking(self._on_modal))
        app.view(CHECKIN_MODAL)(self.acking(self._on_checkin_modal))
        listeners: dict[str, Callable[..., Awaitable[None]]] = {
            "app_home_opened": self._on_home_opened,
            "member_joined_channel": self._on_member_joined,
            "member_left_channel": self._on_member_left}
        for event in EVENTS:
            app.event(event)(self.acking(listeners[event]))
        from bot.slack import meeting

        meeting.register(self)

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run ``work`` after the listener has returned (and Slack has its answer); the
        set keeps a reference until it is done."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        """A request's work that raised is logged once, here, with its traceback: the
        request had its answer, so nothing else would say it failed."""
        self._tasks.discard(task)
        if not task.cancelled() and (err := task.exception()) is not None:
            log.error("slack: a request's work failed", exc_info=err)

    def acking(self, work: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
        """A listener that acknowledges (events need none: Bolt acks them on return) and
        leaves ``work`` to a task. Bolt passes arguments by name, so the wrapper takes what
        ``work`` takes."""
        names = [n for n in inspect.signature(work).parameters if n != "ack"]

        async def listener(ack: Any, body: dict[str, Any], action: Any = None, view: Any = None,
                           event: Any = None, context: Any = None) -> None:
            await ack()
            given = {"body": body, "action": action, "view": view, "event": event,
                     "context": context, "ack": ack}
            self.spawn(cast(Coroutine[Any, Any, None], work(**{n: given[n] for n in names})))

        return listener

    async def _once_per_request(self, body: dict[str, Any], next: Any, req: Any = None,
                                context: Any = None) -> BoltResponse | None:
        """Answer a request handled already (an event Slack retries, a signed request
        replayed within its five minutes, before or after a restart) with an empty 200 and
        do nothing; otherwise hand its key to the listener, whose work marks it."""
        headers = req.headers if req is not None else {}
        key = request_key(body, headers)
        if key is not None and await asyncio.to_thread(self.seen.seen, key):
            retry = headers.get("x-slack-retry-num")
            log.info("slack request %s handled already (retry %s): skipped", key, retry)
            return BoltResponse(status=200, body="")
        if context is not None:
            context[ONCE] = key
        result: BoltResponse | None = await next()
        return result

    def _slash_listener(self, noun: str) -> Any:
        async def listener(ack: Any, body: dict[str, Any], context: Any = None) -> None:
            await ack()
            key = (context or {}).get(ONCE)
            text = unescape(text_field(body, "text") or "").strip()
            origin = Origin(str(text_field(body, "user_id")), text_field(body, "channel_id"),
                            text_field(body, "response_url"))
            trigger = text_field(body, "trigger_id")
            if noun == "action" and not text and trigger:
                self.spawn(self.open_action_modal(trigger, origin, key))
                return
            self.spawn(self.run_command(f"{noun} {text}".strip(), origin, key))

        return listener

    async def _first_time(self, key: str | None) -> bool:
        """For work that writes nothing to the store: its mark in a transaction of its own,
        taken before the work (a crash in between loses it rather than doing it twice)."""
        return key is None or await asyncio.to_thread(self.seen.mark_alone, key)

    async def _on_button(self, body: dict[str, Any], action: dict[str, Any],
                         context: Any = None) -> None:
        user = str(text_field(object_field(body, "user"), "id"))
        channel = text_field(object_field(body, "channel"), "id")
        origin = Origin(user, channel, text_field(body, "response_url"))
        value = text_field(action, "value") if isinstance(action, dict) else None
        key = (context or {}).get(ONCE)
        # a check-in prompt's Answer: the form with its questions, where a round is open
        slug, trigger = checkin_slug(value), text_field(body, "trigger_id")
        if slug is not None and trigger is not None \
                and await self.open_checkin_form(trigger, origin, slug, key):
            return
        acted = await self.run_command(value or "", origin, key)
        if acted and text_field(object_field(body, "view"), "type") == "home":
            await self.publish_home(user)

    async def _on_modal(self, body: dict[str, Any], view: dict[str, Any],
                        context: Any = None) -> None:
        view = view if isinstance(view, dict) else {}
        try:
            meta = json.loads(text_field(view, "private_metadata") or "{}")
        except ValueError:
            meta = {}
        meta = meta if isinstance(meta, dict) else {}
        user = str(text_field(object_field(body, "user"), "id"))
        values = object_field(object_field(view, "state"), "values")
        origin = Origin(user, text_field(meta, "channel"), text_field(meta, "response_url"))
        await self.run_command(modal_command(values), origin, (context or {}).get(ONCE))

    async def _on_home_opened(self, event: dict[str, Any], context: Any = None) -> None:
        if ((text_field(event, "tab") or "home") == "home" and text_field(event, "user")
                and await self._first_time((context or {}).get(ONCE))):
            await self.publish_home(str(event["user"]))

    async def _on_member_joined(self, event: dict[str, Any], context: Any) -> None:
        await self._membership(event, context, joined=True)

    async def _on_member_left(self, event: dict[str, Any], context: Any) -> None:
        await self._membership(event, context, joined=False)

    async def _membership(self, event: dict[str, Any], context: Any, *, joined: bool) -> None:
        """A join or leave of a bound channel, for groups that follow their channel."""
        user, channel = text_field(event, "user"), text_field(event, "channel")
        if not user or not channel or user == context.get("bot_user_id"):
            return  # the bot itself being invited or removed is no membership
        try:
            name = await self.names.name_of(str(user)) if joined else None
            said = await self._core(self.conversation.presence, Incoming(
                PLATFORM, str(user), "", str(channel), name, once=context.get(ONCE)), joined)
            for line in said:
                log.info("slack: %s", line)
        except Exception:
            log.exception("slack: %s of %s by %s failed", "join" if joined else "leave",
                          channel, user)

    # --- the work ---------------------------------------------------------------------------

    async def _core(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking core work on the adapter's bounded pool."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def _handle(self, incoming: Incoming,
                key: str | None = None) -> tuple[Reply, Rendered | None] | None:
        """Without a core process (``core_processes=0``): the same work on a thread."""
        return core_process.handle(self.conversation, incoming, key)

    async def run_command(self, line: str, origin: Origin, key: str | None = None) -> bool:
        """Run and answer one command; False when its request (``key``) had been handled
        already, and so nothing was done or said."""
        try:
            result = await self.run_line(line, origin, key)
            if result is None:
                log.info("slack request %s handled already: not run again", key)
                return False
            reply, rendered = result
            await self.answer(reply, origin, rendered)
        except Exception:
            log.exception("slack: answering %r failed", line[:80])
        return True

    async def run_line(self, line: str, origin: Origin, key: str | None = None
                       ) -> tuple[Reply, Rendered] | None:
        """Run one command as ``origin``'s person, its posts sent: its reply and the reply
        rendered, or None when its ``key`` had been written already (nothing was done)."""
        name, zone = await self.names.profile_of(origin.user_id)
        incoming = Incoming(PLATFORM, origin.user_id, line, origin.channel_id, name, "/",
                            user_zone=zone)
        if self.core is not None:
            result = await self.core.handle(incoming, key)
        else:
            result = await self._core(self._handle, incoming, key)
        if result is None:
            return None
        reply, rendered = result
        if reply.queued:
            # senders block on their platform's HTTP (and wait out a 429): not on the
            # core's pool, where that would hold up everyone's commands
            answer = await asyncio.to_thread(self.conversation.delivered, reply)
            reply = answer.whole
        return reply, rendered or render_blocks(list(reply.blocks))

    async def answer(self, reply: Reply, origin: Origin,
                     rendered: Rendered | None = None) -> None:
        """Private replies and errors to the person alone; the rest to the channel."""
        if rendered is None:
            rendered = render_blocks(list(reply.blocks))
        public = (not reply.private and not reply.confidential and not reply.error
                  and origin.channel_id is not None)
        if rendered.files:
            names = await self._send_files(rendered.files, origin, public)
            if not public:
                note = Text((said(_("Sent you {files} as a direct message.",
                                    files=", ".join(names)), reply.lang),))
                rendered = render_blocks(
                    [b for b in reply.blocks if not isinstance(b, File)] + [note])
        if not rendered.messages:
            return
        if public:
            assert origin.channel_id is not None
            try:
                await self.sender.post_rendered(origin.channel_id, Rendered(rendered.messages))
                return
            except SendFailed as err:
                if not origin.response_url:
                    raise
                # not in that channel (a private one, a DM) or rate limited for longer than
                # we wait: the command's response_url still reaches the channel
                log.info("slack: %s; answering through response_url", err)
            await self._respond(origin.response_url, rendered, "in_channel")
            return
        if origin.response_url:
            await self._respond(origin.response_url, rendered, "ephemeral")
        elif origin.channel_id and not origin.channel_id.startswith("D"):
            for m in rendered.messages:
                await self.sender.call("chat.postEphemeral", partial(
                    self.client.chat_postEphemeral, channel=origin.channel_id,
                    user=origin.user_id, blocks=m.blocks, text=m.text or " "))
        else:
            target = await self.sender.resolve(f"dm:{origin.user_id}")
            await self.sender.post_rendered(target, Rendered(rendered.messages))

    async def _respond(self, url: str, rendered: Rendered, response_type: str) -> None:
        """POST to the response_url on the pooled session (a webhook client per answer
        cost more than the request: it re-reads the proxy settings from the environment)."""
        http = self._http
        if http is None:
            raise RuntimeError("the Slack adapter is not started")
        for m in rendered.messages:
            async with http.post(url, json={
                "response_type": response_type, "replace_original": False,
                "text": m.text or " ", "blocks": m.blocks,
            }) as resp:
                body = await resp.text()
                if resp.status != 200:
                    log.warning("slack response_url answered %s: %s", resp.status, body[:200])

    async def _send_files(self, files: list[File], origin: Origin, public: bool) -> list[str]:
        """Files for the channel go there; a private file goes to the person's DM."""
        if public and origin.channel_id:
            target = origin.channel_id
        else:
            target = await self.sender.resolve(f"dm:{origin.user_id}")
        for file in files:
            await self.sender.upload(target, file)
        return [f.name for f in files]

    # --- modal and home ---------------------------------------------------------------------

    async def open_action_modal(self, trigger_id: str, origin: Origin,
                                key: str | None = None) -> None:
        if not await self._first_time(key):
            return
        groups, current = await self._core(group_choices, self.sessions, PLATFORM,
                                           origin.channel_id)
        meta = json.dumps({"channel": origin.channel_id, "response_url": origin.response_url})
        try:
            await self.client.views_open(trigger_id=trigger_id,
                                         view=action_modal(groups, meta, current))
        except Exception:
            log.exception("slack: views.open failed")
            lang = self.conversation.router.settings.language
            await self.answer(Reply(error=True, lang=lang).say(said(_(
                "Could not open the form; type {command} instead.",
                command="/action add <text>"), lang)), origin)

    async def open_checkin_form(self, trigger_id: str, origin: Origin, slug: str,
                                key: str | None = None) -> bool:
        """The form of ``slug``'s open check-in, one field per question holding the
        person's answer so far, opened within the click's three seconds. False when there
        is none to fill in (no round open, a group they may not answer for): the button's
        own command then answers, and says why."""
        try:
            form = await self._core(form_for, self.router.deferred, self.router.settings,
                                    PLATFORM, origin.user_id, slug)
        except Exception:  # the store is down: the command answers (with its apology)
            log.exception("slack: reading the check-in form of %s failed", slug)
            return False
        if form is None:
            return False
        if not await self._first_time(key):
            return True
        lang = form.lang
        # what each field showed, so that only what the person changes is saved
        meta = json.dumps({"slug": form.slug, "lang": lang,
                           "was": [answer_digest(a) for a in form.answers]})
        try:
            await self.client.views_open(trigger_id=trigger_id, view=checkin_modal(
                # TRANSLATORS: the buttons of the form with a check-in's questions
                form, meta, said(_("Save"), lang), said(_("Cancel"), lang)))
        except Exception:
            log.exception("slack: views.open failed")
            typed = f"/checkin {form.slug} <answer>"
            await self.answer(Reply(error=True, lang=lang).say(said(_(
                "Could not open the form; type {command} instead.", command=typed), lang)),
                origin)
        return True

    async def _on_checkin_modal(self, body: dict[str, Any], view: dict[str, Any],
                                context: Any = None) -> None:
        """A submitted check-in form: each field changed from what the form showed is
        saved by ``checkin <group> edit <n> <answer>`` as the person, through the one
        pipeline, each with a once-key of its own made from the submission's (so a
        submission delivered twice saves nothing more); then one answer for them all, in
        the person's direct chat (a form may be sent long after its click's response_url
        has expired)."""
        view = view if isinstance(view, dict) else {}
        try:
            meta = json.loads(text_field(view, "private_metadata") or "{}")
        except ValueError:
            meta = {}
        meta = meta if isinstance(meta, dict) else {}
        user = text_field(object_field(body, "user"), "id")
        slug = checkin_slug(f"checkin {text_field(meta, 'slug') or ''}")
        if user is None or slug is None:
            log.warning("slack: a check-in form with no person or group: ignored")
            return
        lang = text_field(meta, "lang") or ""
        lang = lang if lang in LANGUAGES else self.router.settings.language
        was = [w for w in list_field(meta, "was") if isinstance(w, str)][:QUESTIONS_MAX]
        key: str | None = (context or {}).get(ONCE)
        values = object_field(object_field(view, "state"), "values")
        changed = [(n, text) for n, text in checkin_answers(values, len(was)).items()
                   if text and answer_digest(text) != was[n - 1]]
        origin = Origin(user, None)
        try:
            saved: list[Rendered] = []
            refused: list[Rendered] = []
            for n, text in changed:
                result = await self.run_line(f"checkin {slug} edit {n} {text}", origin,
                                             f"{key}:{n}" if key else None)
                if result is None:
                    continue  # saved by an earlier delivery of this submission
                reply, rendered = result
                (refused if reply.error else saved).append(rendered)
            first = key is None or await asyncio.to_thread(self.seen.mark_alone, key)
            message = form_answer(saved, refused)
            if message is None:
                if changed or not first:
                    return  # an earlier delivery did it all, and answered
                message = render_blocks([Text((said(_(
                    "Nothing was changed: every answer is as it was."), lang),))]).messages[0]
            await self.answer(Reply(private=True, lang=lang), origin, Rendered([message]))
        except Exception:
            log.exception("slack: saving the check-in form of %s failed", user)

    def _home_blocks(self, user_id: str, name: str | None) -> list[tuple[str, list[Block]]]:
        """Worker thread: the person's page, as the core builds it."""
        page = self.router.view(Incoming(PLATFORM, user_id, "", None, name, "/"),
                                lambda ctx: home(ctx, "/"))
        if isinstance(page, Reply):  # it failed: the apology, where the page would be
            return [("Taskbot", list(page.blocks))]
        return page

    async def publish_home(self, user_id: str) -> None:
        try:
            name = await self.names.name_of(user_id)
            sections = await self._core(self._home_blocks, user_id, name)
            await self.sender.call("views.publish", partial(
                self.client.views_publish, user_id=user_id, view=home_view(sections)))
        except Exception:
            log.exception("slack: publishing the Home tab for %s failed", user_id)

    # --- life cycle -------------------------------------------------------------------------

    async def start_core(self) -> None:
        """Start the core processes. ``taskbot run`` does this before any thread of its own
        starts (:func:`prepare`): a fork while another thread holds a lock (libc's, or an
        LD_PRELOADed library's) can leave the child stuck before its exec."""
        if self.core is not None and not self._core_started:
            self._core_started = True
            await self.core.start()

    async def start(self) -> None:
        """Register the sender, start the core process (unless started already), then
        listen: Socket Mode with an app token, else HTTP."""
        self.sender.bind(asyncio.get_running_loop())
        await self.start_core()
        # one pooled HTTP session for every Web API and response_url call (without it each
        # call would open a new connection)
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        self.client.session = self._http
        self.dispatcher.register(PLATFORM, self.sender)
        if self.settings.slack_app_token:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            self._socket = AsyncSocketModeHandler(self.app, self.settings.slack_app_token,
                                                  web_client=self.client)
            await self._socket.connect_async()
            print("Slack: connected in Socket Mode", file=sys.stderr)
            return
        web_app = web.Application()

        async def events(request: web.Request) -> web.Response:
            try:
                bolt_req = await to_bolt_request(request)
            except Exception as err:
                # Bolt parses the body before it checks the signature: a body of the wrong
                # shape (``payload=null``), signed or not, raised there and answered 500
                log.warning("slack: a request body that does not parse (%s: %s): 400",
                            type(err).__name__, str(err)[:200])
                return web.Response(status=400, text="bad request")
            if not well_formed(bolt_req.body):
                log.warning("slack: a request body of the wrong shape: 400")
                return web.Response(status=400, text="bad request")
            bolt_resp = await self.app.async_dispatch(bolt_req)
            response: web.Response = await to_aiohttp_response(bolt_resp)
            return response

        async def health(request: web.Request) -> web.Response:
            return web.Response(text="ok")

        web_app.add_routes([web.post(EVENTS_PATH, events), web.get("/healthz", health),
                            *self.extra_routes])
        self._runner = web.AppRunner(web_app, access_log=None)
        await self._runner.setup()
        self.port = self.settings.port or DEFAULT_PORT
        await web.TCPSite(self._runner, self.host, self.port).start()
        print(f"Slack: listening for {EVENTS_PATH} on port {self.port}", file=sys.stderr)

    async def stop(self) -> None:
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        # commands already acknowledged get a few seconds to answer, then are cancelled
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        for task in list(self._tasks):
            task.cancel()
        if self._http is not None:
            await self._http.close()
            self._http = None
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self.core is not None:
            await self.core.close()


async def prepare(box: Container) -> Coroutine[Any, Any, None]:
    """``taskbot run``'s Slack runner, first half: the adapter with its core processes
    started (before the delivery thread exists); returns the second half, which listens,
    serves until cancelled and stops."""
    from bot.web import build_routes

    adapter = SlackAdapter(box.router, box.sessions, box.settings, box.dispatcher,
                           extra_routes=build_routes(box))
    try:
        await adapter.start_core()
    except BaseException:
        await adapter.stop()
        raise
    return _serve(adapter)


async def _serve(adapter: SlackAdapter) -> None:
    try:
        await adapter.start()
        await asyncio.Event().wait()
    finally:
        await adapter.stop()
