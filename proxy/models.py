"""The data model: what the proxy mirrors, who acted, and what it measured.

Words follow docs/architecture.md ("Domain words"). Every timestamp is stored in UTC.
Text is never erased: an edit adds an ItemVersion, a delete adds an ItemTombstone.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

# One definition of where an item lives in VK, for the domain events and the tables alike.
from proxy.events import Channel, Network  # noqa: F401 (re-exported: migrations and queries name them here)
from proxy.search_terms import search_terms


class Role(StrEnum):
    OPERATOR = "operator"
    MANAGER = "manager"
    ADMIN = "admin"


class CommunityMode(StrEnum):
    CALLBACK = "callback"
    LONGPOLL = "longpoll"


class ConversationStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class ClosingKind(StrEnum):
    WITH_REPLY = "with_reply"
    WITHOUT_REPLY = "without_reply"


class Direction(StrEnum):
    IN = "in"  # from an author
    OUT = "out"  # from the community (through the proxy or directly in VK)


class DeletedVia(StrEnum):
    AUTHOR = "author"
    VK_ADMIN = "vk_admin"  # a community admin, directly in VK
    PROXY = "proxy"  # an operator, through the proxy
    UNKNOWN = "unknown"  # VK did not say who (board_post_delete carries no deleter_id)


class ActorKind(StrEnum):
    OPERATOR = "operator"  # an operator, through the proxy
    OUTSIDE = "outside"  # a community admin directly in VK, bypassing the proxy
    SYSTEM = "system"  # the proxy itself (security refusals, sync, workers)
    API = "api"  # a personal API token (read-only exports)
    RULE = "rule"  # an automatic moderation rule (proxy/rules/): never credited to an operator


class Outcome(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class RawEventStatus(StrEnum):
    PROCESSED = "processed"
    IGNORED = "ignored"  # a known type with no effect, or an unknown type
    WARNING = "warning"  # VK's deprecated-version {"warning": ...} object
    FAILED = "failed"


# The column of an operator's own account on each network (Operator.vk_user_id, .telegram_user_id):
# what that account does in a community outside the proxy is credited to the operator.
OPERATOR_ACCOUNT_COLUMN: Mapping[str, str] = MappingProxyType(
    {Network.VK.value: "vk_user_id", Network.TELEGRAM.value: "telegram_user_id"}
)


class Operator(Model):
    """A person who logs in: an operator, a manager or an admin."""

    id = fields.IntField(primary_key=True)
    login = fields.CharField(max_length=64, unique=True)
    display_name = fields.CharField(max_length=128, default="")
    password_hash = fields.CharField(max_length=255)
    role = fields.CharEnumField(Role, max_length=16, default=Role.OPERATOR)
    vk_user_id = fields.BigIntField(null=True, unique=True)
    # Their own Telegram account: what it does in a bot's chats outside the proxy is credited to them.
    telegram_user_id = fields.BigIntField(null=True, unique=True)
    is_active = fields.BooleanField(default=True)
    # "" follows the browser's language; "ru" or "en" is the person's own choice (migration 0014).
    locale = fields.CharField(max_length=8, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    # Bumped on disable or password reset so that existing sessions stop working at once.
    session_version = fields.IntField(default=1)
    communities: fields.ManyToManyRelation[Community] = fields.ManyToManyField(
        "models.Community", related_name="operators", through="operator_community"
    )

    class Meta:
        table = "operator"

    def __str__(self) -> str:
        return self.login


class ApiToken(Model):
    """A personal token for read-only exports, stored only as a hash."""

    id = fields.IntField(primary_key=True)
    operator: fields.ForeignKeyRelation[Operator] = fields.ForeignKeyField(
        "models.Operator", related_name="api_tokens", on_delete=fields.RESTRICT
    )
    name = fields.CharField(max_length=128, default="")
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_token"


class Community(Model):
    """A VK group or a Telegram bot the proxy serves."""

    id = fields.IntField(primary_key=True)
    # Which connector serves it (proxy/connectors/registry.py).
    network = fields.CharEnumField(Network, max_length=16, default=Network.VK)
    # Its id on its network: the VK group's, or the bot's (the number before the colon of its token).
    vk_group_id = fields.BigIntField()
    name = fields.CharField(max_length=255)
    mode = fields.CharEnumField(CommunityMode, max_length=16, default=CommunityMode.CALLBACK)
    callback_secret = fields.CharField(max_length=255, default="")
    confirmation_code = fields.CharField(max_length=64, default="")
    # Tokens are encrypted at rest with a key derived from PROXY_SECRET_KEY (proxy/crypto.py).
    community_token_enc = fields.TextField(null=True)
    admin_token_enc = fields.TextField(null=True)
    admin_vk_user_id = fields.BigIntField(null=True)
    sla_seconds = fields.IntField(default=900)
    # {"tz": "Europe/Moscow", "days": [0..6], "start": "09:00", "end": "18:00"} or null for wall-clock time.
    business_hours = fields.JSONField(null=True)
    longpoll_ts = fields.CharField(max_length=64, null=True)
    is_active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "community"
        unique_together = (("network", "vk_group_id"),)

    def __str__(self) -> str:
        return f"{self.name} ({self.vk_group_id})"


class Author(Model):
    """A person (or a group, with a negative id) who writes to a community, on its network."""

    id = fields.BigIntField(primary_key=True)
    network = fields.CharEnumField(Network, max_length=16, default=Network.VK)
    # The network's own id of the person (VK user id, Telegram user id) or group (negative).
    vk_id = fields.BigIntField()
    name = fields.CharField(max_length=255, default="")
    screen_name = fields.CharField(max_length=255, default="")
    photo_url = fields.CharField(max_length=1024, default="")
    first_seen_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "author"
        unique_together = (("network", "vk_id"),)


class Conversation(Model):
    """The unit of work: a dialog with one peer, a top-level comment's thread, or a board topic."""

    id = fields.BigIntField(primary_key=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "models.Community", related_name="conversations", on_delete=fields.RESTRICT
    )
    channel = fields.CharEnumField(Channel, max_length=16)
    # Stable per community: "message:<peer>", "wall:<owner>_<post>:<root comment>", "board:<owner>_<topic>".
    key = fields.CharField(max_length=128)
    author: fields.ForeignKeyNullableRelation[Author] = fields.ForeignKeyField(
        "models.Author", related_name="conversations", null=True, on_delete=fields.RESTRICT
    )
    # What a reply needs: owner_id and object id (post, photo, video, item, topic; peer for dialogs),
    # and the root comment to answer in its thread.
    vk_owner_id = fields.BigIntField(null=True)
    vk_object_id = fields.BigIntField(null=True)
    vk_root_id = fields.BigIntField(null=True)
    # Telegram's business_connection_id of a business chat: every reply in it carries it.
    connection = fields.CharField(max_length=128, null=True)
    status = fields.CharEnumField(ConversationStatus, max_length=16, default=ConversationStatus.OPEN)
    opened_at = fields.DatetimeField()
    # Start of the open waiting period; null when nobody is waiting for an answer.
    waiting_since = fields.DatetimeField(null=True)
    # True until the first waiting period after an (re)opening has ended: that one is the "first reaction".
    awaiting_first_reaction = fields.BooleanField(default=True)
    last_item_at = fields.DatetimeField(null=True)
    preview = fields.CharField(max_length=255, default="")
    closed_at = fields.DatetimeField(null=True)
    closing_kind = fields.CharEnumField(ClosingKind, max_length=16, null=True)
    closed_by: fields.ForeignKeyNullableRelation[Operator] = fields.ForeignKeyField(
        "models.Operator", related_name="closed_conversations", null=True, on_delete=fields.RESTRICT
    )
    assignee: fields.ForeignKeyNullableRelation[Operator] = fields.ForeignKeyField(
        "models.Operator", related_name="assigned_conversations", null=True, on_delete=fields.RESTRICT
    )
    sla_breach_notified_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "conversation"
        unique_together = (("community", "key"),)
        indexes = (
            Index(fields=("status", "waiting_since")),
            Index(fields=("community_id", "status", "waiting_since")),
            Index(fields=("assignee_id", "status")),
            Index(fields=("author_id",)),
            Index(fields=("closed_at",)),
        )


class Item(Model):
    """One mirrored comment or message, in its current state."""

    id = fields.BigIntField(primary_key=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "models.Community", related_name="items", on_delete=fields.RESTRICT
    )
    conversation: fields.ForeignKeyRelation[Conversation] = fields.ForeignKeyField(
        "models.Conversation", related_name="items", on_delete=fields.RESTRICT
    )
    channel = fields.CharEnumField(Channel, max_length=16)
    # Stable per community: "message:<peer>:<conversation_message_id>", "wall:<owner>_<post>:<comment>".
    key = fields.CharField(max_length=128)
    vk_id = fields.BigIntField(null=True)  # comment id, or the community-wide message id
    direction = fields.CharEnumField(Direction, max_length=8)
    author: fields.ForeignKeyNullableRelation[Author] = fields.ForeignKeyField(
        "models.Author", related_name="items", null=True, on_delete=fields.RESTRICT
    )
    from_vk_id = fields.BigIntField(null=True)
    # message_reply / message_edit name the VK admin who wrote it directly in VK.
    admin_author_vk_id = fields.BigIntField(null=True)
    sent_by: fields.ForeignKeyNullableRelation[Operator] = fields.ForeignKeyField(
        "models.Operator", related_name="sent_items", null=True, on_delete=fields.RESTRICT
    )
    # The outbox row that sent it (a plain id: outbox rows already reference items, and a second
    # foreign key in the other direction would make the two tables depend on each other).
    outbox_row_id = fields.BigIntField(null=True)
    reply_to_key = fields.CharField(max_length=128, null=True)
    text = fields.TextField(default="")
    attachments = fields.JSONField(default=list)
    # The quoted message and the forwarded ones, nested (their shape: proxy/events.py).
    # A database default for the rows stored before (migration 0008).
    forwarded = fields.JSONField(default=list, db_default=[])
    created_at = fields.DatetimeField()  # VK's date
    edited_at = fields.DatetimeField(null=True)
    version_count = fields.IntField(default=1)
    is_deleted = fields.BooleanField(default=False)
    deleted_at = fields.DatetimeField(null=True)
    recorded_at = fields.DatetimeField(auto_now_add=True)
    # A reply a moderation rule sent (a canned response): not an operator's, not outside the proxy.
    sent_by_rule_id = fields.IntField(null=True)

    class Meta:
        table = "item"
        unique_together = (("community", "key"),)
        indexes = (
            Index(fields=("conversation_id", "created_at")),
            Index(fields=("is_deleted", "deleted_at")),
            Index(fields=("author_id", "created_at")),
            Index(fields=("created_at",)),
        )


class ItemVersion(Model):
    """Every text an item has had, the first one included, never updated."""

    id = fields.BigIntField(primary_key=True)
    item: fields.ForeignKeyRelation[Item] = fields.ForeignKeyField(
        "models.Item", related_name="versions", on_delete=fields.RESTRICT
    )
    number = fields.IntField()
    text = fields.TextField(default="")
    attachments = fields.JSONField(default=list)
    forwarded = fields.JSONField(default=list, db_default=[])
    # The texts of `forwarded` at every depth, one per line: what search matches besides `text`.
    forwarded_text = fields.TextField(default="", db_default="")
    valid_from = fields.DatetimeField()  # VK's date or update_time
    recorded_at = fields.DatetimeField(auto_now_add=True)
    # The stems of text and forwarded_text (proxy/search_terms.py): what incident search matches.
    search_terms = fields.TextField(default="", db_default="")

    class Meta:
        table = "item_version"
        unique_together = (("item", "number"),)

    async def save(self, *args, **kwargs) -> None:  # type: ignore[override]
        if not self._saved_in_db:  # a version is never updated: its terms are written with it
            self.search_terms = search_terms(self.text, self.forwarded_text)
        await super().save(*args, **kwargs)


class ItemTombstone(Model):
    """One deletion of an item, and its restoration if there was one."""

    id = fields.BigIntField(primary_key=True)
    item: fields.ForeignKeyRelation[Item] = fields.ForeignKeyField(
        "models.Item", related_name="tombstones", on_delete=fields.RESTRICT
    )
    deleted_at = fields.DatetimeField()
    deleted_via = fields.CharEnumField(DeletedVia, max_length=16)
    deleter_vk_id = fields.BigIntField(null=True)
    deleted_by: fields.ForeignKeyNullableRelation[Operator] = fields.ForeignKeyField(
        "models.Operator", related_name="deletions", null=True, on_delete=fields.RESTRICT
    )
    # The text as it was when deleted, so the archive needs no join to read it.
    last_text = fields.TextField(default="")
    restored_at = fields.DatetimeField(null=True)
    restored_by: fields.ForeignKeyNullableRelation[Operator] = fields.ForeignKeyField(
        "models.Operator", related_name="restorations", null=True, on_delete=fields.RESTRICT
    )
    # The moderation rule whose action this deletion was (never credited to an operator).
    deleted_by_rule_id = fields.IntField(null=True)

    class Meta:
        table = "item_tombstone"
        indexes = (Index(fields=("deleted_at",)),)


class Note(Model):
    """An internal note on a conversation, never sent to VK."""

    id = fields.BigIntField(primary_key=True)
    conversation: fields.ForeignKeyRelation[Conversation] = fields.ForeignKeyField(
        "models.Conversation", related_name="notes", on_delete=fields.RESTRICT
    )
    operator: fields.ForeignKeyRelation[Operator] = fields.ForeignKeyField(
        "models.Operator", related_name="notes", on_delete=fields.RESTRICT
    )
    text = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "note"


class Ban(Model):
    """A ban of an author in a community, as the proxy knows it."""

    id = fields.BigIntField(primary_key=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "models.Community", related_name="bans", on_delete=fields.RESTRICT
    )
    author: fields.ForeignKeyRelation[Author] = fields.ForeignKeyField(
        "models.Author", related_name="bans", on_delete=fields.RESTRICT
    )
    banned_at = fields.DatetimeField()
    until = fields.DatetimeField(null=True)
    reason = fields.IntField(default=0)
    comment = fields.TextField(default="")
    banned_by: fields.ForeignKeyNullableRelation[Operator] = fields.ForeignKeyField(
        "models.Operator", related_name="bans_made", null=True, on_delete=fields.RESTRICT
    )
    admin_vk_id = fields.BigIntField(null=True)
    lifted_at = fields.DatetimeField(null=True)
    # The moderation rule whose action this ban was (never credited to an operator).
    banned_by_rule_id = fields.IntField(null=True)

    class Meta:
        table = "ban"
        indexes = (Index(fields=("community_id", "author_id")),)


class RawEvent(Model):
    """Every event VK delivered, verbatim, once per (group, event_id)."""

    id = fields.BigIntField(primary_key=True)
    community: fields.ForeignKeyNullableRelation[Community] = fields.ForeignKeyField(
        "models.Community", related_name="raw_events", null=True, on_delete=fields.RESTRICT
    )
    vk_group_id = fields.BigIntField()
    event_id = fields.CharField(max_length=64)
    type = fields.CharField(max_length=64)
    payload = fields.TextField()
    source = fields.CharField(max_length=16)  # callback, longpoll, sync
    status = fields.CharEnumField(RawEventStatus, max_length=16, default=RawEventStatus.PROCESSED)
    detail = fields.TextField(default="")
    received_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "raw_event"
        unique_together = (("vk_group_id", "event_id"),)
        # No other index: nothing reads raw events but by this key and by id (migration 0006).


class JournalEntry(Model):
    """Who did what, when, to which object, and how it ended. Append-only and hash-chained.

    The only change allowed after insert is filling `outcome`, `outcome_detail`, `outcome_at` (and `outcome_mac`) once
    (database triggers enforce it); `hash` covers the entry's content and its `mac`, not its outcome.
    """

    id = fields.BigIntField(primary_key=True)
    created_at = fields.DatetimeField()
    actor_kind = fields.CharEnumField(ActorKind, max_length=16)
    operator: fields.ForeignKeyNullableRelation[Operator] = fields.ForeignKeyField(
        "models.Operator", related_name="journal", null=True, on_delete=fields.RESTRICT
    )
    vk_user_id = fields.BigIntField(null=True)  # the VK admin, for actions outside the proxy
    action = fields.CharField(max_length=64)
    community: fields.ForeignKeyNullableRelation[Community] = fields.ForeignKeyField(
        "models.Community", related_name="journal", null=True, on_delete=fields.RESTRICT
    )
    conversation: fields.ForeignKeyNullableRelation[Conversation] = fields.ForeignKeyField(
        "models.Conversation", related_name="journal", null=True, on_delete=fields.RESTRICT
    )
    item: fields.ForeignKeyNullableRelation[Item] = fields.ForeignKeyField(
        "models.Item", related_name="journal", null=True, on_delete=fields.RESTRICT
    )
    text = fields.TextField(default="")
    params = fields.JSONField(default=dict)
    outcome = fields.CharEnumField(Outcome, max_length=16, null=True)
    outcome_detail = fields.TextField(null=True)
    outcome_at = fields.DatetimeField(null=True)
    prev_hash = fields.CharField(max_length=64)
    hash = fields.CharField(max_length=64, unique=True)
    # HMAC with a secret the database does not hold (proxy/audit/journal.py); NULL when written without one.
    mac = fields.CharField(max_length=64, null=True)
    # HMAC of `hash` and the outcome, filled with the outcome when a key is configured.
    outcome_mac = fields.CharField(max_length=64, null=True)
    # The stems of text (proxy/search_terms.py): what incident search matches. Not covered by the hash:
    # derived from `text`, which is.
    search_terms = fields.TextField(default="", db_default="")

    class Meta:
        table = "journal_entry"
        indexes = (
            Index(fields=("operator_id", "created_at")),
            Index(fields=("community_id", "created_at")),
            Index(fields=("conversation_id",)),
            Index(fields=("action", "created_at")),
            Index(fields=("created_at",)),
        )

    async def save(self, *args, **kwargs) -> None:  # type: ignore[override]
        if not self._saved_in_db:  # the triggers let nothing but the outcome change after insert
            self.search_terms = search_terms(self.text)
        await super().save(*args, **kwargs)


class OutboxRow(Model):
    """An operator action waiting to be performed on VK, or its result."""

    id = fields.BigIntField(primary_key=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "models.Community", related_name="outbox", on_delete=fields.RESTRICT
    )
    journal_entry: fields.ForeignKeyRelation[JournalEntry] = fields.ForeignKeyField(
        "models.JournalEntry", related_name="outbox_rows", on_delete=fields.RESTRICT
    )
    operator: fields.ForeignKeyNullableRelation[Operator] = fields.ForeignKeyField(
        "models.Operator", related_name="outbox_rows", null=True, on_delete=fields.RESTRICT
    )
    conversation: fields.ForeignKeyNullableRelation[Conversation] = fields.ForeignKeyField(
        "models.Conversation", related_name="outbox_rows", null=True, on_delete=fields.RESTRICT
    )
    item: fields.ForeignKeyNullableRelation[Item] = fields.ForeignKeyField(
        "models.Item", related_name="outbox_rows", null=True, on_delete=fields.RESTRICT
    )
    method = fields.CharField(max_length=64)  # the VK API method
    params = fields.JSONField(default=dict)
    token_kind = fields.CharField(max_length=16)  # community or admin
    # messages.send random_id or wall.createComment guid, so a retry never posts twice.
    idempotency_key = fields.CharField(max_length=64, unique=True)
    text = fields.TextField(default="")
    status = fields.CharEnumField(OutboxStatus, max_length=16, default=OutboxStatus.PENDING)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField()
    locked_until = fields.DatetimeField(null=True)
    error_code = fields.IntField(null=True)
    error_message = fields.TextField(null=True)
    result = fields.JSONField(null=True)
    # The key of the item VK created for this action (a comment id once VK returns it), so that
    # ingest recognises the item's own event as the echo of this row (proxy/echo.py).
    result_item_key = fields.CharField(max_length=128, null=True, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    sent_at = fields.DatetimeField(null=True)
    # Set when a moderation rule queued the row (operator is then NULL): proxy/rules/.
    rule_id = fields.IntField(null=True)

    class Meta:
        table = "outbox"
        indexes = (
            Index(fields=("status", "next_attempt_at")),
            Index(fields=("conversation_id",)),
        )


class ReactionSample(Model):
    """One ended waiting period: measured when it happens, aggregated later (docs/conventions.md)."""

    id = fields.BigIntField(primary_key=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "models.Community", related_name="reaction_samples", on_delete=fields.RESTRICT
    )
    conversation: fields.ForeignKeyRelation[Conversation] = fields.ForeignKeyField(
        "models.Conversation", related_name="reaction_samples", on_delete=fields.RESTRICT
    )
    channel = fields.CharEnumField(Channel, max_length=16)
    # Null with outside_proxy=True: a reply written directly in VK by an admin no operator is linked to.
    operator: fields.ForeignKeyNullableRelation[Operator] = fields.ForeignKeyField(
        "models.Operator", related_name="reaction_samples", null=True, on_delete=fields.RESTRICT
    )
    outside_proxy = fields.BooleanField(default=False)
    # reply, close, or withdrawn: every item the author was waiting on was deleted (docs/metrics.md).
    ended_by = fields.CharField(max_length=16)
    is_first = fields.BooleanField(default=False)
    started_at = fields.DatetimeField()
    ended_at = fields.DatetimeField()
    seconds = fields.FloatField()
    business_seconds = fields.FloatField(null=True)

    class Meta:
        table = "reaction_sample"
        indexes = (
            Index(fields=("ended_at",)),
            Index(fields=("operator_id", "ended_at")),
            Index(fields=("community_id", "ended_at")),
        )


class ConversationClose(Model):
    """One closing of a conversation (a conversation may be reopened and closed again)."""

    id = fields.BigIntField(primary_key=True)
    community: fields.ForeignKeyRelation[Community] = fields.ForeignKeyField(
        "models.Community", related_name="closes", on_delete=fields.RESTRICT
    )
    conversation: fields.ForeignKeyRelation[Conversation] = fields.ForeignKeyField(
        "models.Conversation", related_name="closes", on_delete=fields.RESTRICT
    )
    operator: fields.ForeignKeyNullableRelation[Operator] = fields.ForeignKeyField(
        "models.Operator", related_name="closes", null=True, on_delete=fields.RESTRICT
    )
    kind = fields.CharEnumField(ClosingKind, max_length=16)
    opened_at = fields.DatetimeField()
    closed_at = fields.DatetimeField()
    duration_seconds = fields.FloatField()
    # Why nobody was answered, for a closing without a reply (proxy/actions.py CLOSE_REASONS; migration 0013).
    reason = fields.CharField(max_length=32, null=True)

    class Meta:
        table = "conversation_close"
        indexes = (Index(fields=("closed_at",)), Index(fields=("operator_id", "closed_at")))


class CannedResponse(Model):
    """A team template an operator can insert into a reply and edit before sending."""

    id = fields.IntField(primary_key=True)
    title = fields.CharField(max_length=128)
    text = fields.TextField()
    community: fields.ForeignKeyNullableRelation[Community] = fields.ForeignKeyField(
        "models.Community", related_name="canned_responses", null=True, on_delete=fields.RESTRICT
    )
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "canned_response"


class TeamSetting(Model):
    """Team-wide settings changed from the admin pages (webhook URL, and the like)."""

    key = fields.CharField(max_length=64, primary_key=True)
    value = fields.JSONField()
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "team_setting"


# The moderation rules' tables live beside their domain; re-exported so the ORM finds them here.
from proxy.rules.tables import ModerationRule, RuleCheck, RuleHit, RuleMode  # noqa: E402, F401
