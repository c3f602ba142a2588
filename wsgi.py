"""The WSGI entry point: `gunicorn wsgi:app`."""

from childcare import create_app

app = create_app()
