"""Reading the admin pages' forms: strings in, typed values out, or an InputError naming the field.

Only the shape of the input is checked here (a number where a number goes, a time like 09:00); the rules
(what a community or an account may be) are proxy's, in proxy/communities.py and proxy/accounts.py.
The submitted strings are kept in `values`, so that a refused form is shown again as it was typed, except
tokens and passwords, which are never written back into a page.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from functools import cache
from typing import Any

from multidict import MultiDictProxy

from proxy.admin_access import InputError
from proxy.models import Community, CommunityMode, Role
from web import params

Form = MultiDictProxy[Any]
_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")


def text(form: Form, name: str) -> str:
    value = form.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def optional_int(form: Form, name: str, message: str, *, high: int = params.INT64_MAX) -> int | None:
    """An id typed or chosen in a form (1..`high`: web/params.py); `message` names the mistake."""
    raw = text(form, name)
    if not raw:
        return None
    try:
        return params.ids_up_to(high)(raw, name)
    except params.ParamError:
        raise InputError(message, field=name) from None


def int_list(form: Form, name: str, *, high: int = params.INT32_MAX) -> list[int]:
    """The values of checked boxes, each 0..`high` (the page writes them; they are never typed)."""
    parse = params.numbers_between(0, high)
    try:
        return [parse(raw if isinstance(raw, str) else "", name) for raw in form.getall(name, [])]
    except params.ParamError:
        raise InputError("the form was damaged: reload the page and try again", field=name) from None


def role(form: Form) -> Role:
    try:
        return Role(text(form, "role"))
    except ValueError:
        raise InputError("choose a role: operator, manager or admin", field="role") from None


@cache
def timezones() -> list[str]:
    return sorted(zoneinfo.available_timezones())


def sla_minutes_text(seconds: int) -> str:
    minutes = seconds / 60
    return str(int(minutes)) if minutes == int(minutes) else f"{minutes:.2f}".rstrip("0").rstrip(".")


# --- communities --------------------------------------------------------------------------------


@dataclass
class CommunityForm:
    """A community form as submitted: typed values for proxy, and the strings to show it again."""

    values: dict[str, Any]
    vk_group_id: int | None = None
    name: str = ""
    mode: CommunityMode = CommunityMode.CALLBACK
    secret: str = ""
    confirmation: str = ""
    sla_seconds: int = 900
    business_hours: dict[str, Any] | None = None
    admin_vk_user_id: int | None = None
    community_token: str | None = None
    admin_token: str | None = None
    remove_community_token: bool = False
    remove_admin_token: bool = False


def community_values(community: Community | None, default_tz: str, secret: str = "") -> dict[str, Any]:
    """The form's strings for a stored community, or the defaults of a new one."""
    if community is None:
        return {
            "vk_group_id": "",
            "name": "",
            "mode": CommunityMode.CALLBACK.value,
            "secret": secret,
            "confirmation": "",
            "sla_minutes": "15",
            "bh_on": False,
            "bh_tz": default_tz,
            "bh_days": [0, 1, 2, 3, 4],
            "bh_start": "09:00",
            "bh_end": "18:00",
            "admin_vk_user_id": "",
        }
    hours = community.business_hours or {}
    return {
        "vk_group_id": str(community.vk_group_id),
        "name": community.name,
        "mode": str(community.mode),
        "secret": community.callback_secret,
        "confirmation": community.confirmation_code,
        "sla_minutes": sla_minutes_text(community.sla_seconds),
        "bh_on": bool(community.business_hours),
        "bh_tz": hours.get("tz", default_tz),
        "bh_days": list(hours.get("days", [0, 1, 2, 3, 4])),
        "bh_start": hours.get("start", "09:00"),
        "bh_end": hours.get("end", "18:00"),
        "admin_vk_user_id": "" if community.admin_vk_user_id is None else str(community.admin_vk_user_id),
    }


def submitted_values(form: Form) -> dict[str, Any]:
    days = [
        int(d)
        for d in form.getall("bh_days", [])
        if isinstance(d, str) and d in ("0", "1", "2", "3", "4", "5", "6")
    ]
    return {
        "vk_group_id": text(form, "vk_group_id"),
        "name": text(form, "name"),
        "mode": text(form, "mode"),
        "secret": text(form, "secret"),
        "confirmation": text(form, "confirmation"),
        "sla_minutes": text(form, "sla_minutes"),
        "bh_on": bool(form.get("bh_on")),
        "bh_tz": text(form, "bh_tz"),
        "bh_days": days,
        "bh_start": text(form, "bh_start"),
        "bh_end": text(form, "bh_end"),
        "admin_vk_user_id": text(form, "admin_vk_user_id"),
    }


def _group_id(raw: str) -> int:
    # People paste what they see in VK: "club123456", "public123456", or the address with it.
    match = re.fullmatch(r"(?:https?://)?(?:(?:m\.)?vk\.(?:com|ru)/)?(?:club|public)?([0-9]{1,18})/?", raw)
    if not match or int(match.group(1)) <= 0:
        raise InputError(
            "the VK group id is a positive number (the digits of club123456)", field="vk_group_id"
        )
    return int(match.group(1))


def _sla_seconds(raw: str) -> int:
    try:
        minutes = float(raw.replace(",", "."))
    except ValueError:
        minutes = -1.0
    if not raw or minutes != minutes or minutes <= 0 or minutes > 1e7:  # minutes != minutes: NaN
        raise InputError("the SLA target is a number of minutes, such as 15", field="sla")
    return round(minutes * 60)


def _business_hours(values: dict[str, Any], form: Form) -> dict[str, Any] | None:
    if not values["bh_on"]:
        return None
    if values["bh_tz"] not in timezones():
        raise InputError("choose a time zone from the list", field="business_hours")
    days = int_list(form, "bh_days", high=6)
    if not days or any(d > 6 for d in days):
        raise InputError("choose at least one working day", field="business_hours")
    start, end = values["bh_start"], values["bh_end"]
    if not _CLOCK.match(start) or not _CLOCK.match(end) or start == "24:00":
        raise InputError(
            "working hours look like 09:00 and 18:00 (the end may be 24:00)", field="business_hours"
        )
    if start == end:
        raise InputError(
            "the working day cannot start and end at the same time (00:00 to 24:00 is all day)",
            field="business_hours",
        )
    return {"tz": values["bh_tz"], "days": sorted(set(days)), "start": start, "end": end}


def _token(form: Form, name: str) -> str | None:
    value = form.get(name, "")
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


def tokens_entered(form: Form) -> bool:
    return bool(_token(form, "community_token") or _token(form, "admin_token"))


def parse_community_form(form: Form, values: dict[str, Any], *, new: bool) -> CommunityForm:
    """Read a community form (`values` = submitted_values(form)); InputError when a field is malformed."""
    parsed = CommunityForm(values=values)
    if new:
        parsed.vk_group_id = _group_id(values["vk_group_id"])
    parsed.name = values["name"]
    try:
        parsed.mode = CommunityMode(values["mode"])
    except ValueError:
        raise InputError("choose how VK delivers events: callback or long poll", field="mode") from None
    parsed.secret = values["secret"]
    parsed.confirmation = values["confirmation"]
    parsed.sla_seconds = _sla_seconds(values["sla_minutes"])
    parsed.business_hours = _business_hours(values, form)
    parsed.admin_vk_user_id = optional_int(form, "admin_vk_user_id", "a VK user id is a positive number")
    parsed.community_token = _token(form, "community_token")
    parsed.admin_token = _token(form, "admin_token")
    parsed.remove_community_token = bool(form.get("remove_community_token"))
    parsed.remove_admin_token = bool(form.get("remove_admin_token"))
    return parsed


# --- Telegram bots ----------------------------------------------------------------------------------


_HOURS_FIELDS = ("bh_on", "bh_tz", "bh_days", "bh_start", "bh_end")


@dataclass
class BotForm:
    """A Telegram bot's form as submitted (the mode's values are CommunityMode's: callback is the
    webhook, longpoll is getUpdates)."""

    values: dict[str, Any]
    name: str = ""
    mode: CommunityMode = CommunityMode.CALLBACK
    secret: str = ""
    sla_seconds: int = 900
    business_hours: dict[str, Any] | None = None
    bot_token: str | None = None


def bot_values(community: Community | None, default_tz: str, secret: str = "") -> dict[str, Any]:
    """The form's strings for a stored bot, or the defaults of a new one (the token is never among them)."""
    values = community_values(community, default_tz, secret)
    return {k: values[k] for k in ("name", "mode", "secret", "sla_minutes", *_HOURS_FIELDS)}


def parse_bot_form(form: Form, values: dict[str, Any]) -> BotForm:
    """Read a bot's form (`values` = submitted_values(form)); InputError when a field is malformed."""
    parsed = BotForm(values=values)
    parsed.name = values["name"]
    try:
        parsed.mode = CommunityMode(values["mode"])
    except ValueError:
        raise InputError("choose how Telegram delivers updates: webhook or polling", field="mode") from None
    parsed.secret = values["secret"]
    parsed.sla_seconds = _sla_seconds(values["sla_minutes"])
    parsed.business_hours = _business_hours(values, form)
    parsed.bot_token = _token(form, "bot_token")
    return parsed
