"""Reading Slack's request bodies without trusting their shape.

A signed body is Slack's, but its fields are still data: a ``user`` that is a string where
an object was expected, or a list where a string was, must be read as absent, not raise in
the middle of a request whose answer Slack already has.
"""

from __future__ import annotations

from typing import Any


def object_field(body: Any, name: str) -> dict[str, Any]:
    """``body[name]`` if it is an object, else an empty one."""
    value = body.get(name) if isinstance(body, dict) else None
    return value if isinstance(value, dict) else {}


def text_field(body: Any, name: str) -> str | None:
    """``body[name]`` if it is a non-empty string, else None."""
    value = body.get(name) if isinstance(body, dict) else None
    return value if isinstance(value, str) and value else None


def list_field(body: Any, name: str) -> list[Any]:
    """``body[name]`` if it is a list, else an empty one."""
    value = body.get(name) if isinstance(body, dict) else None
    return value if isinstance(value, list) else []



# the fields Bolt's own middleware reads as objects before any listener of ours runs
_OBJECTS = ("event", "user", "team", "enterprise", "channel", "container", "view", "message")
_INTERACTIONS = ("block_actions", "interactive_message", "attachment_action",
                 "view_submission", "view_closed", "shortcut", "message_action",
                 "block_suggestion", "dialog_submission", "dialog_cancellation",
                 "dialog_suggestion", "workflow_step_edit")


def well_formed(body: Any) -> bool:
    """Whether Bolt can route ``body`` at all. Bolt reads these fields without checking
    them (``"event": null``, an empty ``actions`` list or an action with no ``action_id``
    raised in its middleware and answered 500), so a body it would trip on is refused
    before it reaches Bolt."""
    if not isinstance(body, dict):
        return False
    if any(name in body and not isinstance(body[name], dict)
           for name in _OBJECTS if name not in ("team", "enterprise", "channel")):
        return False
    if any(body.get(name) is not None and not isinstance(body[name], dict)
           for name in ("team", "enterprise", "channel")):
        return False
    kind = body.get("type")
    if kind in _INTERACTIONS and not isinstance(body.get("user"), dict):
        return False
    if kind in ("block_actions", "interactive_message", "attachment_action"):
        actions = body.get("actions")
        if not isinstance(actions, list) or not actions or not all(
                isinstance(a, dict) and isinstance(a.get("action_id" if kind == "block_actions"
                                                         else "name", ""), str)
                for a in actions):
            return False
        if kind == "block_actions" and not all("action_id" in a for a in actions):
            return False
    if kind in ("view_submission", "view_closed"):
        view = body.get("view")
        if not isinstance(view, dict) or not isinstance(view.get("callback_id"), str):
            return False
    shortcut = kind in ("shortcut", "message_action")
    return not shortcut or isinstance(body.get("callback_id"), str)
