"""One router module per resource; :mod:`calmesh.api.app` includes them."""
