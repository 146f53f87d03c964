"""The demo community's moderation rules: a few a community would start with, in dry run.

`make run` shows the rules at work at once: the emulated spammers (vk_emulator/demo_traffic.py,
`DEMO_RULE_SPAM`) post what these rules catch, and the rules page shows what each would have done,
without the demo deleting or banning anything by itself. Created by the proxy itself (no admin), once:
a rule is found again by its name on every later start, whatever an admin has since made of it (another
mode, other words, archived), so a restart never undoes an admin's change or adds a second copy.
"""

from __future__ import annotations

from typing import Any

from proxy.events import Channel
from proxy.models import Community, ModerationRule, RuleMode
from proxy.rules.store import create_rule

_COMMENTS = [c.value for c in Channel if c != Channel.MESSAGE]

# VK's own domains (and its link shortener): a link anywhere else in a comment is worth a look.
DEMO_ALLOWED_DOMAINS = ["vk.com", "vk.ru", "vk.cc", "vk.me", "vkvideo.ru"]
# Every condition of a rule must hold, so the phrase is one of the "words" (any of them will do): a
# "phrases" condition beside them would ask for both.
DEMO_SPAM_WORDS = ["заработок", "без вложений", "казино", "крипта", "подписывайтесь", "casino", "crypto"]

DEMO_RULES: tuple[dict[str, Any], ...] = (
    {
        "name": "Ссылки на посторонние сайты",
        "conditions": {"domains_allow": DEMO_ALLOWED_DOMAINS, "channels": _COMMENTS},
        "actions": [{"do": "delete"}],
    },
    {
        "name": "Спам-фразы",
        "conditions": {"words": DEMO_SPAM_WORDS},
        "actions": [{"do": "delete"}, {"do": "ban", "days": 7, "reason": 1, "comment": "Спам"}],
    },
    {
        "name": "Телефоны в комментариях",
        "conditions": {"phone": True, "channels": _COMMENTS},
        "actions": [{"do": "flag"}],
    },
    {
        "name": "Повтор одного текста",
        "conditions": {"repeated": {"count": 3, "window_minutes": 10}, "channels": _COMMENTS},
        "actions": [{"do": "delete"}],
    },
)


async def ensure_demo_rules(community: Community) -> list[ModerationRule]:
    """The demo's rules for this community, created in dry run the first time; the stored ones after."""
    rules = []
    for spec in DEMO_RULES:
        rule = (
            await ModerationRule.filter(community_id=community.id, name=spec["name"]).order_by("id").first()
        )
        if rule is None:
            rule = await create_rule(
                None,
                name=spec["name"],
                community_id=community.id,
                mode=RuleMode.DRY_RUN.value,
                conditions=spec["conditions"],
                actions=spec["actions"],
            )
        rules.append(rule)
    return rules
