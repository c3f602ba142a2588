"""Configuration: the only module that reads environment variables."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_SECRET_KEY = "dev-only-change-me"  # noqa: S105 - a marker that production refuses


def database_url(raw: str | None, instance_path: str) -> str:
    """Map the URL most hosts hand out to the driver we ship (psycopg2: its C core costs a request a fraction of
    the Python calls psycopg 3 makes; see docs/performance.md)."""
    if not raw:
        Path(instance_path).mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{Path(instance_path) / 'childcare.db'}"
    for prefix in ("postgres://", "postgresql://"):
        if raw.startswith(prefix):
            return "postgresql+psycopg2://" + raw[len(prefix):]
    return raw


def engine_options(uri: str, base: dict, lock_timeout_seconds: float, prepared_statements: bool = True) -> dict:
    """Engine options for the database in use."""
    if not uri.startswith("postgresql"):
        return base
    # Every statement waits at most this long for a row lock, so a seat claim in a rush answers
    # "busy, try again" instead of hanging; set per connection, it costs no round trip per claim.
    settings = f"-c lock_timeout={int(lock_timeout_seconds * 1000)}"
    # The recount inside the seat lock must see what committed before the lock was granted: READ COMMITTED, set for
    # the connection whatever the server's default, so that the driver never sends an isolation level of its own.
    settings += r" -c default_transaction_isolation=read\ committed"
    if prepared_statements:
        # A prepared statement (only the hot ones opt in: db.as_prepared) is planned once, not again for each
        # execution's values: PostgreSQL would otherwise keep re-planning the recount, inside the seat lock.
        settings += " -c plan_cache_mode=force_generic_plan"
    options = {**base, "connect_args": {"options": settings}}
    if not prepared_statements:  # e.g. behind a pooler in transaction mode (see db.as_prepared)
        options["execution_options"] = {**base.get("execution_options", {}), "prepared_statements": False}
    return options


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() not in {"0", "false", "no", "off"}


class BaseConfig:
    """Settings shared by every mode."""

    ENV_NAME = "base"
    DEBUG = False
    TESTING = False
    #: No ping before each checkout: it would cost every request a round trip. A connection the database dropped
    #: (a restart, a failover) fails its request with 503 "try again" instead, and SQLAlchemy then renews the pool.
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_recycle": 3600}
    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = "UTC"
    LANGUAGES = ("zh_CN", "en")
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None
    MAX_CONTENT_LENGTH = 16 * 1024 * 1024
    RATELIMIT_HEADERS_ENABLED = True
    RATELIMIT_LOGIN = "10 per minute;50 per hour"
    RATELIMIT_REGISTER = "5 per minute;30 per hour"
    #: seconds a writer waits for a seat lock before the user is asked to try again
    LOCK_TIMEOUT_SECONDS = 5

    @classmethod
    def load(cls, instance_path: str) -> dict:
        """Read the environment now, not at import, so tests and tools can set it first."""
        settings = {key: getattr(cls, key) for key in dir(cls) if key.isupper()}
        settings["SECRET_KEY"] = os.environ.get("SECRET_KEY") or DEFAULT_SECRET_KEY
        settings["SQLALCHEMY_DATABASE_URI"] = database_url(os.environ.get("DATABASE_URL"), instance_path)
        settings["REDIS_URL"] = os.environ.get("REDIS_URL") or None
        settings["TIMEZONE"] = os.environ.get("TIMEZONE") or "Asia/Shanghai"
        settings["BABEL_DEFAULT_TIMEZONE"] = settings["TIMEZONE"]
        settings["RATELIMIT_ENABLED"] = _flag("RATELIMIT_ENABLED", True)
        settings["PREPARED_STATEMENTS"] = _flag("PREPARED_STATEMENTS", True)
        settings["RATELIMIT_STORAGE_URI"] = settings["REDIS_URL"] or "memory://"
        #: how many reverse proxies in front of the app set X-Forwarded-For (0 = none; rate limits count by IP)
        settings["PROXY_COUNT"] = int(os.environ.get("PROXY_COUNT") or 0)
        return settings


class DevelopmentConfig(BaseConfig):
    """Local work: debug pages, SQLite by default."""

    ENV_NAME = "development"
    DEBUG = True


class TestingConfig(BaseConfig):
    """The test suite: CSRF stays on, as in production."""

    ENV_NAME = "testing"
    TESTING = True
    RATELIMIT_LOGIN = "5 per minute"
    RATELIMIT_REGISTER = "5 per minute"

    @classmethod
    def load(cls, instance_path: str) -> dict:
        settings = super().load(instance_path)
        settings["SECRET_KEY"] = "testing-secret-key"  # noqa: S105
        settings["RATELIMIT_STORAGE_URI"] = "memory://"
        return settings


class ProductionConfig(BaseConfig):
    """Behind gunicorn: refuses to start without a real secret."""

    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True

    @classmethod
    def load(cls, instance_path: str) -> dict:
        settings = super().load(instance_path)
        key = settings["SECRET_KEY"]
        if key == DEFAULT_SECRET_KEY or len(key) < 16:
            raise RuntimeError("SECRET_KEY must be set to a long random value in production")
        if os.environ.get("SESSION_COOKIE_SECURE") == "0":
            settings["SESSION_COOKIE_SECURE"] = settings["REMEMBER_COOKIE_SECURE"] = False
        return settings


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_from_env() -> type[BaseConfig]:
    """Pick the configuration class named by CHILDCARE_ENV (development by default)."""
    return CONFIGS.get(os.environ.get("CHILDCARE_ENV", "development"), DevelopmentConfig)
