"""Use cases shared by the API, the CLI and the worker.

The only code that commits: each public function opens a unit of work, does one thing for one
tenant and commits it explicitly (see :mod:`calmesh.services.unit_of_work`).
"""

__all__: list[str] = []
