"""The one pagination convention: ``?limit=&cursor=`` in, ``{data, nextCursor}`` out.

Lists are ordered by id (ids are time-ordered, see :mod:`calmesh.ids`), and the cursor is the
last id of a page, encoded so nobody builds on its shape. Keyset paging: a page costs the same
at the millionth row as at the first, and rows created meanwhile are neither skipped nor repeated.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from calmesh.errors import InvalidInput
from calmesh.schemas import Page

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "decode_cursor", "encode_cursor", "paginate"]

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500

ReadT = TypeVar("ReadT")

_ID_SHAPE = re.compile(r"^[a-z]{2,8}_[0-9a-z]{26}$")


def encode_cursor(text: str) -> str:
    """``text`` as an opaque cursor (so nobody builds on its shape)."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, shape: re.Pattern[str]) -> str:
    """The text of a cursor :func:`encode_cursor` made, which must match ``shape``."""
    try:
        text = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not shape.fullmatch(text):
        raise InvalidInput("the cursor is not one this API gave out", field="cursor")
    return text


async def paginate(
    session: AsyncSession,
    statement: Select[Any],
    id_column: InstrumentedAttribute[str],
    to_read: Callable[[Any], ReadT],
    *,
    limit: int,
    cursor: str | None,
) -> Page[ReadT]:
    if cursor:
        statement = statement.where(id_column > decode_cursor(cursor, _ID_SHAPE))
    rows: Sequence[Any] = (
        await session.scalars(statement.order_by(id_column).limit(limit + 1))
    ).all()
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(getattr(rows[-1], id_column.key)) if has_more else None
    return Page[ReadT](data=[to_read(row) for row in rows], next_cursor=next_cursor)
