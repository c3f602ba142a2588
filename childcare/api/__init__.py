"""The JSON API, /api/v1: bearer tokens, problem details, openapi.json; endpoints by feature."""

# Importing the endpoint modules registers their routes on the blueprint (and in the OpenAPI registry).
from childcare.api import accounts, children, enrolments, openapi, places, programmes  # noqa: F401
from childcare.api.views import bp

__all__ = ["bp"]
