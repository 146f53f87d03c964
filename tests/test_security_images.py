"""Attachment images load only from VK's image servers (PROXY_IMAGE_HOSTS): a photo pointing anywhere else is
shown as a link, and the Content-Security-Policy's img-src names the same hosts, so a crafted payload
cannot make an operator's browser fetch an outside image (which tells its host who looked, and when).
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestClient

from proxy.models import Community, Conversation, Operator
from proxy.settings import DEFAULT_IMAGE_HOSTS, Settings, SettingsError
from tests.browser_fixtures import *  # noqa: F403
from tests.security_fixtures import deliver, message_new
from web.attachments import attachment_views, host_allowed

TRACKER = "tracker.example"
VK_THUMB = "https://sun9-27.userapi.com/thumb.jpg"


def photo(*urls: str) -> dict:
    sizes = [{"type": t, "url": url, "width": 100 * n, "height": 100 * n} for n, (t, url) in enumerate(zip("sx", urls, strict=False), 1)]
    return {"type": "photo", "photo": {"sizes": sizes, "text": ""}}


def test_an_outside_image_becomes_a_link_and_a_vk_one_stays_an_image() -> None:
    outside, vk, sticker = attachment_views(
        [
            photo(f"https://{TRACKER}/small.gif", f"https://{TRACKER}/pixel.gif"),
            photo("https://sun9-13.userapi.com/small.jpg", VK_THUMB),
            {"type": "sticker", "sticker": {"images": [{"url": f"https://{TRACKER}/sticker.png"}]}},
        ]
    )
    assert outside.image is None and outside.url == f"https://{TRACKER}/pixel.gif"
    assert vk.image == VK_THUMB
    assert sticker.image is None and sticker.url == f"https://{TRACKER}/sticker.png"


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://sun9-27.userapi.com/a.jpg", True),
        ("https://vk.com/sticker/1-2-3", True),
        ("https://userapi.com/a.jpg", False),  # *.userapi.com: hosts under it, as CSP reads it
        ("https://sun9-27.userapi.com.tracker.example/a.jpg", False),
        ("https://evil-userapi.com/a.jpg", False),
        ("https://tracker.example/vk.com", False),
    ],
)
def test_image_hosts_are_matched_as_csp_matches_them(url: str, allowed: bool) -> None:
    assert host_allowed(url, DEFAULT_IMAGE_HOSTS) is allowed


def test_image_hosts_are_configurable() -> None:
    hosts = Settings.from_env({"PROXY_IMAGE_HOSTS": "images.example.org, *.cdn.example.org"}).image_hosts
    assert hosts == ("images.example.org", "*.cdn.example.org")
    with pytest.raises(SettingsError, match="PROXY_IMAGE_HOSTS"):
        Settings.from_env({"PROXY_IMAGE_HOSTS": "https://images.example.org/"})


async def test_pages_show_outside_images_as_links_and_csp_names_only_vk(
    inbox_client: TestClient, community: Community, world
) -> None:  # type: ignore[no-untyped-def]
    attachments = [photo(f"https://{TRACKER}/small.gif", f"https://{TRACKER}/pixel.gif"), photo(VK_THUMB, VK_THUMB)]
    await deliver(inbox_client, message_new(world.group.id, world.members[0].id, "look", cmid=1, attachments=attachments))
    conversation = await Conversation.get(community_id=community.id)
    response = await inbox_client.get(f"/conversations/{conversation.id}")
    html = await response.text()
    assert f'src="https://{TRACKER}' not in html
    assert f'href="https://{TRACKER}/pixel.gif"' in html
    assert f'src="{VK_THUMB}"' in html
    policy = dict(
        part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";")
    )
    sources = policy["img-src"].split()
    assert "https:" not in sources and "*" not in sources
    assert sources == ["'self'", "data:", *(f"https://{host}" for host in DEFAULT_IMAGE_HOSTS)]


async def test_chromium_fetches_no_outside_image(
    browser, live_server, operator: Operator, community: Community, world
) -> None:  # type: ignore[no-untyped-def]
    from tests.browser_fixtures import log_in_page

    world.scenario.member_writes_message(
        world.group,
        world.members[0],
        "see attached",
        attachments=[photo(f"https://{TRACKER}/small.gif", f"https://{TRACKER}/pixel.gif")],
    )
    base_url = str(live_server.make_url("/"))
    page = await browser.new_page()
    hosts: list[str] = []
    page.on("request", lambda request: hosts.append(urlsplit(request.url).hostname or ""))
    try:
        await log_in_page(page, base_url, operator)
        await page.wait_for_selector("#conversation-list a[href^='/conversations/']", timeout=20_000)
        await page.click("#conversation-list a[href^='/conversations/']")
        await page.wait_for_selector(".attachments")
        await page.wait_for_load_state("networkidle")
        assert await page.locator(f".attachments a[href='https://{TRACKER}/pixel.gif']").count() == 1
    finally:
        await page.close()
    await asyncio.sleep(0)
    assert TRACKER not in hosts, sorted(set(hosts))
