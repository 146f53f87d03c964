"""Moderation and audit proxy for VK communities."""

__version__ = "0.1.0"
