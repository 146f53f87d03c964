"""The emulator's wall and other commentable objects: posts, photos, videos, goods, topics and their comments."""

from __future__ import annotations

from typing import Any

from .community import Comment, Group, Target
from .state_core import StateCore
from .vk_basics import EVENT_PREFIX, TARGET_FIELD, CommentKind, VkFault, bad_param


class WallState(StateCore):
    """Commentable objects and comments: each change emits the event VK would send."""

    # --- targets ----------------------------------------------------------------------------

    def add_target(
        self,
        group: Group,
        kind: CommentKind,
        text: str = "",
        *,
        from_id: int | None = None,
        attachments: list[dict[str, Any]] | None = None,
    ) -> Target:
        """Create a post, photo, video, market item or board topic owned by the community."""
        counter = "wall" if kind == "wall" else f"{kind}_target"
        target = Target(
            kind,
            group.take_id(counter),
            group.owner_id,
            text,
            self.now(),
            from_id or group.owner_id,
            list(attachments or []),
        )
        group.targets[(kind, target.id)] = target
        if kind == "wall":
            self.emit(
                group,
                "wall_post_new",
                {
                    "id": target.id,
                    "from_id": target.from_id,
                    "owner_id": group.owner_id,
                    "date": target.date,
                    "marked_as_ads": 0,
                    "post_type": "post",
                    "text": text,
                    "can_edit": 1,
                    "created_by": group.admin_user_id,
                    "can_delete": 1,
                    "comments": {"count": 0},
                    **({"attachments": list(target.attachments)} if target.attachments else {}),
                },
            )
        return target

    def add_post(self, group: Group, text: str, attachments: list[dict[str, Any]] | None = None) -> Target:
        """A wall post by the community (emits wall_post_new)."""
        return self.add_target(group, "wall", text, attachments=attachments)

    def target(self, group: Group, kind: CommentKind, target_id: int) -> Target:
        """A commentable object, or error 100 like VK for an unknown one."""
        try:
            return group.targets[(kind, target_id)]
        except KeyError:
            raise bad_param(f"{TARGET_FIELD[kind]} is invalid") from None

    # --- comments ---------------------------------------------------------------------------

    def comment(self, group: Group, kind: CommentKind, comment_id: int) -> Comment:
        """A comment, or error 100 for an unknown one."""
        try:
            return group.comments[(kind, comment_id)]
        except KeyError:
            raise bad_param("comment_id is invalid") from None

    def create_comment(
        self,
        group: Group,
        kind: CommentKind,
        target_id: int,
        from_id: int,
        text: str,
        *,
        reply_to_comment: int | None = None,
        guid: str | None = None,
        attachments: list[dict[str, Any]] | None = None,
    ) -> Comment:
        """Add a comment and emit its *_new event; the same guid returns the first comment unchanged."""
        if guid:
            existing = group.comment_guids.get((kind, guid))
            if existing is not None:
                return group.comments[(kind, existing)]
        if not text and not attachments:
            raise bad_param("message is empty")
        if from_id > 0 and group.is_banned(from_id, self.now()):
            # A blacklisted member cannot comment in the community: VK refuses and sends no event.
            raise VkFault(213)
        self.target(group, kind, target_id)
        parents: list[int] = []
        reply_to_user = None
        if reply_to_comment:
            parent = self.comment(group, kind, reply_to_comment)
            if parent.target_id != target_id:
                raise bad_param("reply_to_comment is invalid")
            parents = [parent.parents_stack[0] if parent.parents_stack else parent.id]
            reply_to_user = parent.from_id
        counter = "wall" if kind == "wall" else f"{kind}_comment"
        comment = Comment(
            kind=kind,
            id=group.take_id(counter),
            owner_id=group.owner_id,
            target_id=target_id,
            from_id=from_id,
            date=self.now(),
            text=text,
            reply_to_comment=reply_to_comment or None,
            reply_to_user=reply_to_user,
            parents_stack=parents,
            attachments=list(attachments or []),
        )
        group.comments[(kind, comment.id)] = comment
        if guid:
            group.comment_guids[(kind, guid)] = comment.id
        self.emit(group, f"{EVENT_PREFIX[kind]}_new", comment.as_event_object())
        return comment

    def edit_comment(self, group: Group, kind: CommentKind, comment_id: int, text: str) -> Comment:
        """Change a comment's text and emit *_edit."""
        comment = self.comment(group, kind, comment_id)
        comment.text = text
        self.emit(group, f"{EVENT_PREFIX[kind]}_edit", comment.as_event_object(group.thread_count(comment)))
        return comment

    def delete_comment(self, group: Group, kind: CommentKind, comment_id: int, deleter_id: int) -> bool:
        """Mark a comment deleted and emit *_delete; False (no event) if it already was."""
        comment = self.comment(group, kind, comment_id)
        if comment.deleted:
            return False
        comment.deleted = True
        obj: dict[str, Any]
        if kind == "board":
            # VK's board_post_delete names no deleter.
            obj = {"topic_owner_id": comment.owner_id, "id": comment.id, "topic_id": comment.target_id}
        else:
            obj = {"owner_id": comment.owner_id, "id": comment.id, "deleter_id": deleter_id}
            obj[TARGET_FIELD[kind]] = comment.target_id
            if kind in ("photo", "market"):
                obj["user_id"] = comment.from_id
        self.emit(group, f"{EVENT_PREFIX[kind]}_delete", obj)
        return True

    def restore_comment(self, group: Group, kind: CommentKind, comment_id: int) -> bool:
        """Undelete a comment and emit *_restore with the full object; False if it was not deleted."""
        comment = self.comment(group, kind, comment_id)
        if not comment.deleted:
            return False
        comment.deleted = False
        self.emit(
            group, f"{EVENT_PREFIX[kind]}_restore", comment.as_event_object(group.thread_count(comment))
        )
        return True

    def live_comments(self, group: Group, kind: CommentKind, target_id: int | None = None) -> list[Comment]:
        """Not-deleted comments of a kind (on one target if given), oldest first."""
        return sorted(
            (
                c
                for c in group.comments.values()
                if c.kind == kind and not c.deleted and (target_id is None or c.target_id == target_id)
            ),
            key=lambda c: c.id,
        )
