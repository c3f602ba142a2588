"""The childcare application factory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from childcare.application import ChildcareFlask
from childcare.config import BaseConfig, config_from_env, engine_options


def create_app(config: type[BaseConfig] | None = None, **overrides: Any) -> Flask:
    """Build the app: configuration first, then each feature registers itself."""
    app = ChildcareFlask(__name__, template_folder="../templates", instance_relative_config=True)
    register_config(app, config, overrides)
    register_extensions(app)
    register_models()
    register_blueprints(app)
    register_errors(app)
    register_security_steps(app)
    register_templates(app)
    register_commands(app)
    return app


def register_config(app: Flask, config: type[BaseConfig] | None, overrides: dict[str, Any]) -> None:
    app.config.from_mapping((config or config_from_env()).load(app.instance_path))
    app.config.from_mapping(overrides)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(
        app.config["SQLALCHEMY_DATABASE_URI"], app.config["SQLALCHEMY_ENGINE_OPTIONS"],
        app.config["LOCK_TIMEOUT_SECONDS"], app.config.get("PREPARED_STATEMENTS", True))
    if app.config.get("PROXY_COUNT"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        count = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)  # type: ignore[method-assign]


def register_extensions(app: Flask) -> None:
    from childcare.accounts.services import load_user
    from childcare.extensions import babel, csrf, db, limiter, login_manager, migrate
    from childcare.i18n import select_locale

    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(app.root_path).parent / "migrations"))
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = None
    login_manager.session_protection = "basic"
    login_manager.user_loader(load_user)


def register_models() -> None:
    """Import every model so that SQLAlchemy and Alembic see the whole schema."""
    from childcare.accounts import models as _accounts  # noqa: F401
    from childcare.attendance import models as _attendance  # noqa: F401
    from childcare.audit import models as _audit  # noqa: F401
    from childcare.children import models as _children  # noqa: F401
    from childcare.enrolment import models as _enrolment  # noqa: F401
    from childcare.notifications import models as _notifications  # noqa: F401
    from childcare.places import models as _places  # noqa: F401
    from childcare.programmes import models as _programmes  # noqa: F401
    from childcare.updates import models as _updates  # noqa: F401
    from childcare.volunteers import models as _volunteers  # noqa: F401


def register_blueprints(app: Flask) -> None:
    from childcare.accounts.manage import bp as people_bp
    from childcare.accounts.views import bp as accounts_bp
    from childcare.api import bp as api_bp
    from childcare.api.tokens_views import bp as api_tokens_bp
    from childcare.attendance.paper_views import paper_bp as attendance_paper_bp
    from childcare.attendance.qr_views import qr_bp as attendance_qr_bp
    from childcare.attendance.views import bp as attendance_bp
    from childcare.audit.views import bp as audit_bp
    from childcare.children.views import bp as children_bp
    from childcare.enrolment.views import bp as enrolment_bp
    from childcare.notifications.views import bp as notifications_bp
    from childcare.places.views import bp as places_bp
    from childcare.programmes.views import bp as programmes_bp
    from childcare.updates.views import bp as updates_bp

    for bp in (places_bp, accounts_bp, people_bp, notifications_bp, audit_bp, children_bp,
               programmes_bp, enrolment_bp, api_bp, api_tokens_bp, updates_bp):
        app.register_blueprint(bp)
    app.register_blueprint(attendance_bp)
    app.register_blueprint(attendance_qr_bp)
    from childcare.volunteers.views import bp as volunteers_bp

    app.register_blueprint(volunteers_bp)
    app.register_blueprint(attendance_paper_bp)


def register_errors(app: Flask) -> None:
    from childcare.errors import register_error_handlers

    register_error_handlers(app)


def register_security_steps(app: Flask) -> None:
    from childcare.security import register_security

    register_security(app)


def register_templates(app: Flask) -> None:
    from childcare.i18n import register_i18n
    from childcare.templating import register_template_globals

    register_i18n(app)
    register_template_globals(app)


def register_commands(app: Flask) -> None:
    from childcare.accounts.cli import register_cli as register_users_cli
    from childcare.demo.cli import register_cli as register_demo_cli
    from childcare.jobs.cli import register_cli as register_jobs_cli

    register_users_cli(app)
    register_demo_cli(app)
    register_jobs_cli(app)
