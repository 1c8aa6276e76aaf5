"""The REST API (FastAPI) under ``/v1``: one router per resource, errors as RFC 9457 problem details.

Routes call :mod:`calmesh.services` and never commit themselves; errors become problems in
:mod:`calmesh.api.problems` alone.
"""

from calmesh.api.app import create_app

__all__ = ["create_app"]
