"""iCalendar (RFC 5545) in and out: parse any real-world stream into the domain, write valid RFC 5545 back.

Pure: works on bytes and strings, never opens a file or a socket.
"""

__all__: list[str] = []
