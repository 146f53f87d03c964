"""What a network does not let the proxy do, or does not tell it: the one place the pages and the actions
ask (proxy/inbox.py offers or explains, proxy/actions.py refuses, by the same rules).

- A private dialog (VK's messages, a Telegram bot's private and business chats) has one peer, whose
  messages the proxy neither deletes nor restores.
- A network may have no way to restore a deleted message (Telegram): its connector names no method for it.
- A network may let a bot delete only recent messages: the connector's `delete_window` (Telegram: 48
  hours; VK: none).
- Telegram tells a bot of deletions in business chats only; in its groups and private chats what is
  deleted stays in the proxy as it was.
"""

from __future__ import annotations

from datetime import datetime

from proxy.connectors.base import ActionKind
from proxy.connectors.registry import connector_for
from proxy.models import Channel, Network

DIALOG_CHANNELS = (Channel.MESSAGE, Channel.BUSINESS)
_UNREPORTED_DELETIONS = {Network.TELEGRAM: (Channel.MESSAGE, Channel.GROUP)}


def past_delete_window(network: Network | str, created_at: datetime, now: datetime) -> bool:
    """Whether the network no longer lets the proxy delete an item written at `created_at`."""
    window = connector_for(network).delete_window
    return window is not None and created_at < now - window


def deletions_unreported(network: Network | str, channel: Channel | str) -> bool:
    """Whether the network keeps a bot unaware of deletions in this channel."""
    return Channel(channel) in _UNREPORTED_DELETIONS.get(Network(network), ())


def can_restore(network: Network | str, channel: Channel | str) -> bool:
    """Whether the proxy can bring a deleted item of this channel back on the network."""
    methods = connector_for(network).methods.get(ActionKind.RESTORE_COMMENT)
    return Channel(channel) not in DIALOG_CHANNELS and bool(methods)
