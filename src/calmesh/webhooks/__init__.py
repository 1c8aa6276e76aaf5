"""Webhooks out (signed, retried, replayable) and in (provider notifications).

Empty until the webhooks issue.
"""

__all__: list[str] = []
