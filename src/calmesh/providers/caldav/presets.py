"""Where the well-known CalDAV services live, so a user only types a username and password.

``PRESETS`` maps a preset name to its server URL; ``{serverUrl}`` is replaced by the account's
own ``serverUrl`` (Nextcloud is self-hosted, so only the path is known). iCloud needs an
app-specific password (appleid.apple.com → Sign-In and Security); Fastmail an app password.
"""

from __future__ import annotations

from collections.abc import Mapping

from calmesh.errors import InvalidInput

__all__ = ["PASSWORD_HINTS", "PRESETS", "server_url_for"]

PRESETS: Mapping[str, str] = {
    "icloud": "https://caldav.icloud.com/",
    "fastmail": "https://caldav.fastmail.com/",
    "nextcloud": "{serverUrl}/remote.php/dav/",
}

#: What to tell the user when the server refuses the password, per preset.
PASSWORD_HINTS: Mapping[str, str] = {
    "icloud": "; iCloud needs an app-specific password, not the Apple ID password",
    "fastmail": "; Fastmail needs an app password",
    "nextcloud": "; with two-factor authentication Nextcloud needs an app password",
}


def server_url_for(account: Mapping[str, str]) -> str:
    """The URL discovery starts from: the preset's, or the account's ``serverUrl``."""
    preset = (account.get("preset") or "").strip().lower()
    server_url = (account.get("serverUrl") or "").strip()
    if not preset:
        if not server_url:
            raise InvalidInput("a CalDAV connection needs a serverUrl or a preset", field="serverUrl")
        return server_url
    template = PRESETS.get(preset)
    if template is None:
        known = ", ".join(sorted(PRESETS))
        raise InvalidInput(f"unknown CalDAV preset {preset!r}; known: {known}", field="preset")
    if "{serverUrl}" in template:
        if not server_url:
            raise InvalidInput(f"the {preset} preset needs the serverUrl of your server", field="serverUrl")
        return template.replace("{serverUrl}", server_url.rstrip("/"))
    return template
