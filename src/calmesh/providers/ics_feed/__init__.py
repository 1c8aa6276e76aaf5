"""Read-only subscription to an iCalendar feed by URL (``webcal://``, ``https://…/basic.ics``).

This package owns the ICS feed provider: downloading a feed under calmesh's limits and turning it
into the :class:`~calmesh.providers.base.CalendarProvider` protocol's values.

* :func:`open_ics_feed` ``(config, *, max_bytes=20 MiB) -> IcsFeedProvider`` — the feed URL is
  ``config.secrets["url"]`` (feed URLs are often secret addresses, so they live in the credential
  vault); ``webcal://`` and ``webcals://`` are read as ``http://`` and ``https://``.
* :class:`IcsFeedProvider` — one calendar, ``"feed"``, read-only. :meth:`~IcsFeedProvider.changes`
  is a conditional GET whose cursor remembers the ``ETag``, ``Last-Modified`` and a hash of the
  body, so an unchanged feed costs a 304 (or one download and no work); a changed feed comes back
  as a full listing (``ChangeSet.full``), one item per UID, each item's etag its content
  fingerprint (:func:`calmesh.sync.fingerprint.item_fingerprint`): feeds have no per-item etags.

Limits (``_download``): a body size limit, one time limit for the whole download, at most five
redirects, every hop checked by the private-network guard of :mod:`calmesh.providers.http`.
Error messages name the feed by scheme and host only — its path and query may carry a token.
"""

from calmesh.providers.ics_feed._provider import (
    DEFAULT_MAX_BYTES,
    FEED_CALENDAR_ID,
    IcsFeedProvider,
    open_ics_feed,
)

__all__ = ["DEFAULT_MAX_BYTES", "FEED_CALENDAR_ID", "IcsFeedProvider", "open_ics_feed"]
