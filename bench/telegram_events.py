"""Telegram webhook bodies for the load: the shapes of the real Bot API samples, each its own update_id."""

from __future__ import annotations

import copy
import json
import time
from functools import cache
from pathlib import Path
from typing import Any

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "telegram"  # the tests' samples
USERS = 5_000  # distinct writers, as many as the VK load's authors
GROUPS = 50  # supergroups the bot is in; their members write there as well as to the bot
FIRST_USER_ID = 600_000_000
FIRST_GROUP_CHAT_ID = -1_001_700_000_000  # supergroup ids are -100 followed by the channel id
FIRST_UPDATE_ID = 800_000_000


@cache
def _sample(name: str) -> dict[str, Any]:
    return json.loads((SAMPLES_DIR / name).read_text())


def telegram_update_body(index: int) -> bytes:
    """Update number `index`: three in five a private message to the bot, two in five a supergroup message.

    update_id is FIRST_UPDATE_ID + index, so distinct indexes are distinct updates (Telegram's own
    redelivery key); the message_id is distinct too, so each update is a message never stored before.
    """
    user_id = FIRST_USER_ID + index % USERS
    if index % 5 < 3:
        update = copy.deepcopy(_sample("message_private_text-1.json"))
        message = update["message"]
        message["chat"].update(
            id=user_id, first_name=f"Покупатель {index % USERS}", username=f"buyer{user_id}"
        )
        message["text"] = f"Сообщение {index}: здравствуйте, где мой заказ?"
    else:
        update = copy.deepcopy(_sample("message_supergroup_url-1.json"))
        message = update["message"]
        message["chat"].update(
            id=FIRST_GROUP_CHAT_ID - index % GROUPS, title=f"Чат покупателей {index % GROUPS}"
        )
        message["text"] = f"Вопрос {index} в чате: когда будет доставка?"
        # The sample's entity marks a link its own text had; this text has none.
        del message["entities"]
    message["from"].update(id=user_id, first_name=f"Покупатель {index % USERS}", username=f"buyer{user_id}")
    message.update(message_id=1_000_000 + index, date=int(time.time()))
    update["update_id"] = FIRST_UPDATE_ID + index
    return json.dumps(update, ensure_ascii=False).encode()
