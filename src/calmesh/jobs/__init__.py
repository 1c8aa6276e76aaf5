"""Background jobs (scheduled syncs, token refresh, webhook delivery) and the embedded runner.

Empty until the sync issue. Job functions will know nothing of their runner, so procrastinate
can run them on PostgreSQL later.
"""

__all__: list[str] = []
