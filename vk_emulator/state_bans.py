"""The emulator's community blacklist: bans and unbans."""

from __future__ import annotations

from .community import Ban, Group
from .state_core import StateCore
from .vk_basics import VkFault


class BansState(StateCore):
    """The blacklist: each change emits the event VK would send."""

    # --- bans -------------------------------------------------------------------------------

    def ban(
        self,
        group: Group,
        user_id: int,
        admin_id: int,
        *,
        end_date: int = 0,
        reason: int = 0,
        comment: str = "",
        comment_visible: bool = False,
    ) -> Ban:
        """Blacklist a user and emit user_block."""
        if user_id not in self.users:
            raise VkFault(113)
        ban = Ban(user_id, admin_id, self.now(), end_date, reason, comment, comment_visible)
        group.bans[user_id] = ban
        self.emit(
            group,
            "user_block",
            {
                "admin_id": admin_id,
                "user_id": user_id,
                "unblock_date": end_date,
                "reason": reason,
                "comment": comment,
            },
        )
        return ban

    def unban(self, group: Group, user_id: int, admin_id: int) -> bool:
        """Remove a user from the blacklist and emit user_unblock; False if not banned."""
        if group.bans.pop(user_id, None) is None:
            return False
        self.emit(group, "user_unblock", {"admin_id": admin_id, "user_id": user_id, "by_end_date": 0})
        return True
