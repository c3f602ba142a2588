"""Account forms: they check the shape of input; the services decide."""

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from childcare.forms import AppForm

REQUIRED = _l("This field is required.")


class LoginForm(AppForm):
    phone = StringField(_l("Mobile number"), validators=[DataRequired(REQUIRED), Length(max=30)],
                        render_kw={"inputmode": "tel", "autocomplete": "username"})
    password = PasswordField(_l("Password"), validators=[DataRequired(REQUIRED), Length(max=128)],
                             render_kw={"autocomplete": "current-password"})
    remember = BooleanField(_l("Stay logged in on this phone"))
    next = HiddenField()


class RegisterForm(AppForm):
    name = StringField(_l("Your name"), validators=[DataRequired(REQUIRED), Length(max=80)],
                       render_kw={"autocomplete": "name"})
    phone = StringField(_l("Mobile number"), validators=[DataRequired(REQUIRED), Length(max=30)],
                        render_kw={"inputmode": "tel", "autocomplete": "tel"})
    password = PasswordField(_l("Password"), validators=[DataRequired(REQUIRED), Length(max=128)],
                             description=_l("At least 8 characters, with letters and digits."),
                             render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(_l("Password again"),
                            validators=[DataRequired(REQUIRED), EqualTo("password", _l("The passwords do not match."))],
                            render_kw={"autocomplete": "new-password"})


class ChangePasswordForm(AppForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired(REQUIRED)],
                                     render_kw={"autocomplete": "current-password"})
    new_password = PasswordField(_l("New password"), validators=[DataRequired(REQUIRED), Length(max=128)],
                                 description=_l("At least 8 characters, with letters and digits."),
                                 render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(_l("New password again"),
                            validators=[DataRequired(REQUIRED),
                                        EqualTo("new_password", _l("The passwords do not match."))],
                            render_kw={"autocomplete": "new-password"})


class LanguageForm(AppForm):
    language = SelectField(_l("Language"), choices=[SelectChoice("zh_CN", "中文"), SelectChoice("en", "English")])
    next = HiddenField()
