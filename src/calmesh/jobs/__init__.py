"""Background jobs and the runner embedded in ``calmesh serve``.

:mod:`calmesh.jobs.tasks` holds the job functions: plain async functions of a runtime and ids,
knowing nothing of what runs them, so a distributed runner (procrastinate on PostgreSQL) can
call them as they are. :mod:`calmesh.jobs.embedded` is the in-process runner: it wakes on a
tick or a nudge, finds the connections due to sync and runs them, at most a few at a time and
never two syncs of one connection at once (the connection lease in :mod:`calmesh.services.sync`
enforces that across processes too).
"""

__all__: list[str] = []
