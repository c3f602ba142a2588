"""Gunicorn settings for `make serve`; its command line sets the address, the workers and the worker class.

The app is loaded once, in the master, and the workers are forked from it with everything made while loading moved
out of the garbage collector's reach first (`gc.freeze`). The collector then never writes to those objects, so the
workers go on sharing the master's memory pages (the code, SQLAlchemy's mappers, the translations) instead of each
copying them: master and four workers take about 290 MB together instead of 575 (proportional set size, measured
after a sign-up rush; docs/performance.md), so a small server in a community centre runs them with room to spare.

Loading in the master means that `kill -HUP` restarts the workers on the code already loaded: to serve new code,
restart gunicorn itself.
"""

import gc

preload_app = True


def pre_fork(server, worker):
    gc.freeze()


def post_fork(server, worker):
    """Each worker starts with empty connection pools: a connection the master opened must never be shared."""
    from childcare.extensions import db

    app = server.app.wsgi()
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)
