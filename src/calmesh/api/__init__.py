"""The REST API (FastAPI) under ``/v1``: one router per resource, errors as RFC 9457 problem details.

Routes call :mod:`calmesh.services` and never commit themselves.
"""

__all__: list[str] = []
