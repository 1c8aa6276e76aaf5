"""Local HTTP emulators of Google Calendar, Microsoft Graph and Zoom that speak their real wire protocols.

Empty until the sandbox issue. Each emulator follows ../shared/reference/protocols.md.
"""

__all__: list[str] = []
