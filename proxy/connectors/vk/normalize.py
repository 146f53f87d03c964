"""Turn one VK event object into one domain event.

The input is a Callback API body or one element of a Bots Long Poll ``updates`` list (VK documents
both as the same structure). The output is one of the classes in :mod:`proxy.events`.

:func:`normalize` is total over anything that looks like a VK event: an unknown type, an object of
an unexpected shape, wrong field types or absurd numbers all become an :class:`Unsupported` event
(stored raw, ignored) or a best-effort event with the missing parts set to None. Only input that
is not a VK event at all raises :class:`MalformedEvent`.

VK sample files quoted in comments live in ``tests/fixtures/vk``.
"""

from proxy.connectors.base import MalformedEvent
from proxy.events import DeprecatedVersionWarning, DomainEvent, Unsupported

from .normalize_comments import COMMENT_HANDLERS
from .normalize_community import COMMUNITY_HANDLERS
from .normalize_envelope import _envelope
from .normalize_fields import _Handler, _Skip
from .normalize_messages import MESSAGE_HANDLERS

__all__ = ["HANDLED_TYPES", "INTERNAL_ERROR_PREFIX", "MalformedEvent", "normalize"]

# Marks an Unsupported produced by a bug in this module rather than by VK's input, so that such
# events can be found (and the property tests can assert that none occur).
INTERNAL_ERROR_PREFIX = "normalizer error: "


# One reader per VK event type, each in the module of its object.
_HANDLERS: dict[str, _Handler] = {**MESSAGE_HANDLERS, **COMMENT_HANDLERS, **COMMUNITY_HANDLERS}

HANDLED_TYPES: frozenset[str] = frozenset(_HANDLERS)
"""VK event types that become something other than :class:`Unsupported`."""


def normalize(event: object) -> DomainEvent:
    """Turn one VK event object into one domain event.

    ``event`` is a parsed Callback API body or one element of a Long Poll ``updates`` list.
    Unknown types and known types whose object cannot be understood become
    :class:`~proxy.events.Unsupported`; an object replaced by VK's deprecated-version warning
    becomes :class:`~proxy.events.DeprecatedVersionWarning`.

    Raises :class:`MalformedEvent` (and nothing else) when ``event`` is not a VK event: not a
    dict, no non-empty string ``type``, no positive integer ``group_id``, no ``event_id``, or a
    ``confirmation`` request (which the Callback endpoint answers without normalizing).
    """
    if not isinstance(event, dict):
        raise MalformedEvent("event is not a JSON object")
    env = _envelope(event)
    obj = event.get("object")
    # A server set to a deprecated API version gets {"warning": ...} in place of the real object,
    # whatever the event type (deprecated_version_warning-1.json).
    if isinstance(obj, dict) and isinstance(obj.get("warning"), str):
        return DeprecatedVersionWarning(**env, warning=obj["warning"])
    handler = _HANDLERS.get(env["vk_type"])
    if handler is None:
        return Unsupported(**env, reason="unhandled event type")
    if not isinstance(obj, dict):
        return Unsupported(**env, reason="object is not a JSON object")
    try:
        return handler(env, obj, env["group_id"])
    except _Skip as skip:
        return Unsupported(**env, reason=skip.reason)
    except Exception as exc:
        # A bug here must not lose the event: it is kept raw and can be replayed once fixed.
        return Unsupported(**env, reason=f"{INTERNAL_ERROR_PREFIX}{type(exc).__name__}: {exc}")
