"""The two-way sync engine: a pure planner over (stored status, remote change, local change) and an executor.

Empty until the sync issue: nothing here may import SQLAlchemy, httpx or FastAPI.
"""

__all__: list[str] = []
