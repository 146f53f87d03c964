"""Ingest: one normalized VK event becomes rows, in one transaction, exactly once.

Every event is stored verbatim as a RawEvent, deduplicated on (group, event_id): VK retries what was
not acknowledged and sometimes repeats an event, and a repeat has no second effect. Then, in the same
transaction: the author, the item (created, new version, tombstone, restored), the conversation state
(proxy/conversations.py) and a journal entry for what a community admin did directly in VK.

Ingest is also idempotent on the item itself: catch-up sync (source "sync") re-reads what events
already brought, and events may arrive out of order when VK retries. An ItemCreated for an item that
is already stored with the same text changes nothing; with another text it is an edit (sync) or an
earlier text arriving late (events). A delete for an item never seen keeps the fact as a placeholder
item without text, filled in if its text arrives later.

The modules, in the order an event meets them:
- `dispatch`: `ingest`, the general path's transaction and `_apply`, which hands each event to its kind;
- `sanitize`: text PostgreSQL cannot store, cleaned before anything is written;
- `one_statement`: a new incoming item as one statement on PostgreSQL (`_new_incoming_item`);
- `raw_events`: the key an event is deduplicated on and its claim (`raw_event_key`, `_claim_raw_event`);
- `content`, `authors`, `items`, `deletions`: the item rows (created, edited, versions, placeholders,
  deleted and restored; tombstones through proxy/moderation.py);
- `bans`: a ban or unban VK reports (recorded through proxy/moderation.py);
- `done_in_vk`: what someone did directly in VK (the `vk.*` journal entries) and who is credited with
  a reply (`_record_arrival`, `_in_person`, `_linked_operator_id`);
- `outcome`: `IngestResult` and what the steps hand each other.
"""

from proxy.ingest.dispatch import ingest
from proxy.ingest.outcome import IngestResult, Source
from proxy.ingest.raw_events import raw_event_key

__all__ = ["IngestResult", "Source", "ingest", "raw_event_key"]
