"""Configuration comes from the environment; rate-limit counters go to Redis when REDIS_URL is set."""

from limits.storage import storage_from_string

from childcare.config import DevelopmentConfig, database_url, engine_options

REDIS = "redis://127.0.0.1:6379/15"


def test_postgres_urls_as_hosts_give_them_are_mapped_to_psycopg2():
    assert database_url("postgresql://u@h:5432/d", "/x") == "postgresql+psycopg2://u@h:5432/d"
    assert database_url("postgres://u@h/d", "/x") == "postgresql+psycopg2://u@h/d"
    assert database_url("sqlite:////tmp/a.db", "/x") == "sqlite:////tmp/a.db"


def test_the_default_database_is_a_sqlite_file_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = DevelopmentConfig.load(str(tmp_path))
    assert settings["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'childcare.db'}"


def test_postgres_connections_carry_a_lock_timeout():
    options = engine_options("postgresql+psycopg2://u@h/d", {"pool_recycle": 3600}, 5)
    assert options["connect_args"]["options"].startswith("-c lock_timeout=5000 ") and options["pool_recycle"] == 3600
    unprepared = engine_options("postgresql+psycopg2://u@h/d", {}, 5, prepared_statements=False)
    # READ COMMITTED by the connection's own setting; no plans kept: nothing to force
    assert unprepared["connect_args"] == {
        "options": r"-c lock_timeout=5000 -c default_transaction_isolation=read\ committed"}
    assert "connect_args" not in engine_options("sqlite:///x.db", {}, 5)


def test_rate_limits_are_counted_in_redis_when_redis_url_is_set(tmp_path, monkeypatch):
    monkeypatch.setenv("REDIS_URL", REDIS)
    monkeypatch.setenv("RATELIMIT_ENABLED", "1")
    settings = DevelopmentConfig.load(str(tmp_path))
    assert settings["RATELIMIT_STORAGE_URI"] == REDIS
    storage = storage_from_string(settings["RATELIMIT_STORAGE_URI"])
    assert storage.check()  # the real Redis on 127.0.0.1 answers
    key = "childcare-test-counter"
    storage.clear(key)
    assert [storage.incr(key, 60) for _ in range(3)] == [1, 2, 3]
    storage.clear(key)


def test_rate_limits_can_be_switched_off_for_load_benchmarks(tmp_path, monkeypatch):
    monkeypatch.setenv("RATELIMIT_ENABLED", "0")
    assert DevelopmentConfig.load(str(tmp_path))["RATELIMIT_ENABLED"] is False
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert DevelopmentConfig.load(str(tmp_path))["RATELIMIT_STORAGE_URI"] == "memory://"
