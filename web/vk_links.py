"""The templates' side of proxy/emulation.py: links to VK only for real communities, and the demo banner.

Globals every template (and every pushed partial, rendered without a request) may use:

- `vk_url(community, path)`: `https://vk.com/{path}` for a real VK community, None for an emulated one
  (then show the id as text): `{% set url = vk_url(c.community, "wall-1_2") %}`;
- `vk_author_path(vk_id)`: the path of a user's (`id…`) or community's (`club…`) page;
- `profile_url(community, author)`: the author's page on the community's network (vk.com, or t.me for a
  Telegram person with a username), None when there is none to link;
- `emulated(community)`: whether the community's VK is an emulator (admin pages mark it);
- `vk_demo`: the service runs the demo's emulated VK (PROXY_DEMO): base.html shows a banner on every page.
"""

from __future__ import annotations

from functools import partial

import jinja2

from proxy.emulation import author_path, is_emulated, profile_url, vk_url
from proxy.models import Community
from proxy.settings import Settings


def install(env: jinja2.Environment, settings: Settings) -> None:
    """Register the globals above, bound to this service's settings."""
    env.globals["vk_url"] = partial(vk_url, settings)
    env.globals["vk_author_path"] = author_path
    env.globals["profile_url"] = partial(profile_url, settings)
    env.globals["emulated"] = lambda community: (
        isinstance(community, Community) and is_emulated(settings, community)
    )
    env.globals["vk_demo"] = settings.demo
