"""Which network a community is on, in the reader's words: the one rule every page and sentence follows.

A Telegram "community" is a bot (proxy/events.py `Network`): what its admins do outside the proxy is
done "in Telegram", not "in VK", an unnamed person of it is a Telegram user, and its private chat is the
private chat with the bot. Templates reach the same rule through the globals `installed` here, so a
sentence of the journal and a label of the inbox never disagree on the network.
"""

from __future__ import annotations

import jinja2

from proxy.action_methods import UNBAN_METHODS
from proxy.models import Community, Network
from web.i18n import gettext as _
from web.params import N_

# "in VK" / "in Telegram": where something was done outside the proxy.
IN_NETWORK = {Network.VK: N_("in VK"), Network.TELEGRAM: N_("in Telegram")}
NETWORK_NAMES = {Network.VK: N_("VK"), Network.TELEGRAM: N_("Telegram")}


def network_of(community: Community | str | None) -> Network:
    """The network of a community (or of a stored network value); VK when there is none: every entry
    written before a second network existed is VK's."""
    if community is None:
        return Network.VK
    value = community.network if isinstance(community, Community) else community
    try:
        return Network(value)
    except ValueError:
        return Network.VK


def in_network(community: Community | str | None) -> str:
    """ "in VK" or "in Telegram", in the reader's language."""
    return _(IN_NETWORK[network_of(community)])


def network_name(community: Community | str | None) -> str:
    return _(NETWORK_NAMES[network_of(community)])


def unnamed_person(vk_id: int, network: Community | str | None) -> str:
    """A person (or, on VK, a community: negative id) whose name is not known yet."""
    if network_of(network) is Network.TELEGRAM:
        return _("Telegram user %(id)s", id=vk_id)
    return _("VK community %(id)s", id=-vk_id) if vk_id < 0 else _("VK user %(id)s", id=vk_id)


def install(env: jinja2.Environment) -> None:
    env.globals["network_of"] = lambda community: network_of(community).value
    env.globals["in_network"] = in_network
    env.globals["network_name"] = network_name
    env.globals["unnamed_person"] = unnamed_person
    # An outbox row's method on either network (groups.unban, unbanChatMember) tells an unban apart.
    env.globals["unban_methods"] = UNBAN_METHODS
