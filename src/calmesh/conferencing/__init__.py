"""Conferencing: Meet, Teams, Zoom and custom links; join-link detection.

Empty until the conferencing issue.
"""

__all__: list[str] = []
