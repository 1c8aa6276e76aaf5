"""The small web dashboard (Jinja2 + htmx). Empty until the dashboard issue."""

__all__: list[str] = []
