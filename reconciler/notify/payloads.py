"""Each target type's message body for one event, in the form its service documents.

- Slack incoming webhook: ``text`` (the notification and fallback text) and ``blocks`` (a
  header, a section with the text, a section of fields), each within Slack's block limits.
- Discord webhook: ``content`` (one line) and one of ``embeds`` (title, description, colour,
  inline fields), within Discord's length limits; ``allowed_mentions`` is empty so no text
  from a run can ping anyone.
- Generic webhook: the event itself as JSON (``schema_version``, ``key``, ``kind``, ...),
  signed by ``delivery`` when the target names a signing secret.
"""

from __future__ import annotations

from typing import Any

from reconciler.transitions import Event

SCHEMA_VERSION = 1
COLOURS = {  # Discord embed colours by event kind
    "failed": 0xD73A49,
    "stalled": 0xD73A49,
    "bad_commit": 0xE36209,
    "recovered": 0x28A745,
    "succeeded": 0x28A745,
}
ICONS = {
    "failed": ":x:",
    "stalled": ":octagonal_sign:",
    "bad_commit": ":warning:",
    "recovered": ":white_check_mark:",
    "succeeded": ":white_check_mark:",
}


def payload(kind: str, event: Event) -> dict[str, Any]:
    """The JSON body for a target of type ``kind`` (slack, discord or webhook)."""
    if kind == "slack":
        return slack(event)
    if kind == "discord":
        return discord(event)
    return webhook(event)


def slack(event: Event) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(event.title, 150)}},
    ]
    if event.text:
        blocks.append({"type": "section", "text": _mrkdwn(_cut(_slack_escape(event.text), 3000))})
    if event.fields:
        blocks.append(
            {
                "type": "section",
                "fields": [
                    _mrkdwn(_cut(f"*{name}*\n{_slack_escape(value)}", 2000))
                    for name, value in event.fields[:10]
                ],
            }
        )
    text = f"{ICONS.get(event.kind, '')} {event.title}".strip()
    return {"text": _slack_escape(_cut(text, 3000)), "blocks": blocks}


def discord(event: Event) -> dict[str, Any]:
    embed: dict[str, Any] = {
        "title": _cut(event.title, 256),
        "color": COLOURS.get(event.kind, 0x6A737D),
        "fields": [
            {"name": _cut(name, 256), "value": _cut(value or "-", 1024), "inline": True}
            for name, value in event.fields[:25]
        ],
    }
    if event.text:
        embed["description"] = _cut(event.text, 4096)
    return {
        "content": _cut(event.title, 2000),
        "embeds": [embed],
        "allowed_mentions": {"parse": []},
    }


def webhook(event: Event) -> dict[str, Any]:
    body = event.to_dict()
    body.pop("targets")
    body["fields"] = dict(event.fields)
    return {"schema_version": SCHEMA_VERSION, **body}


def _mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def _slack_escape(text: str) -> str:
    """Slack reads ``<``, ``>`` and ``&`` as markup (links, mentions): escape them."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
