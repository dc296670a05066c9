"""One message catalog for every user-facing string (gettext, compiled with Babel).

Usage in the upper floors::

    from tl_widgets.core.i18n import _, ngettext
    label = _("Learning rate")
    text = _("Trained {n} epochs").format(n=n)          # placeholders filled AFTER translation

Strings written at import time (module constants, the config fields' ``help`` metadata) are marked with
:func:`N_` (so ``pybabel extract`` finds them) and translated where they are shown: ``_(LABELS[key])``.
Refusals are messages too: raise with ``_("Expected {x} > 0. Received: x={x}").format(x=x)`` so identifiers,
values and paths stay as they are inside the translated sentence.

The language is, in order: :func:`set_language`, else ``$TL_WIDGETS_LANG``, else the locale
(``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``, ``LANG``), else English. Catalogs live in
``tl_widgets/locale/<lang>/LC_MESSAGES/tl_widgets.mo``; ``make i18n`` extracts, updates and compiles them.
"""

from __future__ import annotations

import gettext
import os
import threading
import warnings
from pathlib import Path

from babel.core import Locale, UnknownLocaleError, default_locale

from tl_widgets.core.settings import LANG_ENV

__all__ = [
    "DOMAIN", "LOCALE_DIR", "LANGUAGES", "DEFAULT_LANGUAGE", "_", "N_", "ngettext", "pgettext", "set_language",
    "current_language", "resolve_language", "reset_language",
]

DOMAIN = "tl_widgets"
LOCALE_DIR = Path(__file__).resolve().parents[1] / "locale"
#: The catalogs shipped, by gettext code, with the language's own name.
LANGUAGES: dict[str, str] = {"en": "English", "zh_CN": "简体中文"}
DEFAULT_LANGUAGE = "en"
#: Locale variables read when ``$TL_WIDGETS_LANG`` is unset, in gettext's order.
LOCALE_VARS = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")

_lock = threading.Lock()
_state: dict[str, object] = {}  # "lang" -> str, "catalog" -> gettext.NullTranslations


def resolve_language(code: str | None) -> str | None:
    """The shipped catalog for a language code, or None when none fits.

    Accepts gettext and BCP 47 spellings ("zh_CN", "zh-CN", "zh", "zh-Hans", "en_US.UTF-8", "en").
    Traditional Chinese (zh-TW, zh-HK, zh-Hant) has no catalog and gives None.
    """
    if not code or not code.strip():
        return None
    text = code.strip().split(".")[0].split("@")[0].replace("-", "_")
    if text in ("C", "POSIX"):
        return "en"
    try:
        loc = Locale.parse(text)
    except (UnknownLocaleError, ValueError, TypeError):
        return None
    if loc.language == "en":
        return "en"
    if loc.language == "zh":
        if loc.script == "Hant" or (loc.script is None and loc.territory in ("TW", "HK", "MO")):
            return None
        return "zh_CN"
    return None


def _from_environment() -> str:
    """``$TL_WIDGETS_LANG``, else the locale, else English (an unknown ``$TL_WIDGETS_LANG`` warns)."""
    wanted = os.environ.get(LANG_ENV, "").strip()
    if wanted:
        found = resolve_language(wanted)
        if found:
            return found
        warnings.warn(
            f"{LANG_ENV}={wanted!r} is not a shipped language (expected one of "
            f"{', '.join(LANGUAGES)}, e.g. zh-CN); using English",
            UserWarning, stacklevel=3,
        )
        return DEFAULT_LANGUAGE
    for name in LOCALE_VARS:
        value = os.environ.get(name, "")
        if not value.strip():
            continue
        for part in value.split(":"):  # LANGUAGE may list several, best first
            found = resolve_language(part)
            if found:
                return found
        return DEFAULT_LANGUAGE  # the first set locale variable decides, as in gettext
    found = resolve_language(default_locale(list(LOCALE_VARS)))
    return found or DEFAULT_LANGUAGE


def _install(lang: str) -> str:
    catalog = gettext.translation(DOMAIN, localedir=str(LOCALE_DIR), languages=[lang], fallback=True)
    _state["lang"], _state["catalog"] = lang, catalog
    return lang


def set_language(code: str | None) -> str:
    """Switch every later ``_()`` to ``code`` ("zh-CN", "zh_CN", "zh", "en"); None re-reads the environment.

    An unknown code warns (naming the shipped languages) and falls back to English; nothing raises.
    Returns the language now in effect. Strings already shown keep their language.
    """
    with _lock:
        if code is None:
            return _install(_from_environment())
        found = resolve_language(code)
        if found is None:
            warnings.warn(
                f"language {code!r} has no catalog (expected one of {', '.join(LANGUAGES)}); using English",
                UserWarning, stacklevel=2,
            )
            found = DEFAULT_LANGUAGE
        return _install(found)


def reset_language() -> None:
    """Forget the chosen language: the next ``_()`` reads the environment again."""
    with _lock:
        _state.clear()


def _catalog() -> gettext.NullTranslations:
    catalog = _state.get("catalog")
    if catalog is None:
        with _lock:
            if "catalog" not in _state:
                _install(_from_environment())
            catalog = _state["catalog"]
    return catalog  # type: ignore[return-value]


def current_language() -> str:
    """The language in effect ("en" or "zh_CN")."""
    _catalog()
    return str(_state["lang"])


def _(msgid: str) -> str:
    """``msgid`` in the current language (itself when the catalog has no translation)."""
    return _catalog().gettext(msgid)


def N_(msgid: str) -> str:
    """Mark ``msgid`` for extraction without translating it now (translate where it is shown)."""
    return msgid


def pgettext(context: str, msgid: str) -> str:
    """``msgid`` as meant in ``context`` (one English text, two meanings: e.g. a button and a state)."""
    return _catalog().pgettext(context, msgid)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for ``n`` in the current language."""
    return _catalog().ngettext(singular, plural, n)
