"""What the API and the CLI show: camelCase JSON shapes shared by every resource.

Each resource defines ``XCreate``/``XUpdate``/``XRead`` beside its service; this module holds
their common base and the one list envelope every paginated answer uses.
"""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

__all__ = ["ApiModel", "Page", "TimeZoneName"]


def _check_time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not an IANA time zone name (e.g. 'Europe/Berlin')") from None
    return name


#: An IANA time zone name, checked against the tz database.
TimeZoneName = Annotated[str, AfterValidator(_check_time_zone)]


class ApiModel(BaseModel):
    """Base of every API shape: camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, from_attributes=True, extra="forbid"
    )


ItemT = TypeVar("ItemT")


class Page(ApiModel, Generic[ItemT]):
    """One page of a list. Pass ``nextCursor`` back as ``cursor`` for the next; null at the end."""

    data: list[ItemT]
    next_cursor: str | None = Field(default=None, description="Opaque; null on the last page.")
