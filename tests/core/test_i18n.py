"""The message catalog: language choice (env, locale, unknown codes) and catalogs that are current and compiled."""

from __future__ import annotations

import ast
import io
import shutil
import subprocess
import warnings
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from tl_widgets.core import i18n
from tl_widgets.core.settings import LANG_ENV

LOCALE_VARS = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG", "LC_CTYPE")
PACKAGE = Path(i18n.__file__).resolve().parents[1]
PO_FILES = sorted(i18n.LOCALE_DIR.glob("*/LC_MESSAGES/tl_widgets.po"))


@pytest.fixture
def clean_env(monkeypatch):
    """No language variables set; the module forgets its choice before and after."""
    for name in (LANG_ENV, *LOCALE_VARS):
        monkeypatch.delenv(name, raising=False)
    i18n.reset_language()
    yield monkeypatch
    i18n.reset_language()


def _some_translated_msgid() -> tuple[str, str]:
    with (i18n.LOCALE_DIR / "zh_CN/LC_MESSAGES/tl_widgets.po").open("rb") as fh:
        catalog = read_po(fh)
    for message in catalog:
        if message.id and isinstance(message.id, str) and message.string:
            return message.id, message.string
    pytest.fail("the zh_CN catalog has no translated message")


@pytest.mark.parametrize("code, expected", [
    ("zh-CN", "zh_CN"), ("zh_CN", "zh_CN"), ("zh", "zh_CN"), ("zh-Hans", "zh_CN"), ("zh_CN.UTF-8", "zh_CN"),
    ("en", "en"), ("en_US", "en"), ("en-GB", "en"), ("C", "en"), ("POSIX.UTF-8", "en"),
    ("zh-TW", None), ("zh_Hant", None), ("fr_FR", None), ("klingon", None), ("", None), (None, None),
])
def test_resolve_language_codes(code, expected):
    assert i18n.resolve_language(code) == expected


def test_env_variable_picks_chinese(clean_env):
    msgid, chinese = _some_translated_msgid()
    clean_env.setenv(LANG_ENV, "zh-CN")
    clean_env.setenv("LANG", "en_US.UTF-8")  # the variable beats the locale
    assert i18n.current_language() == "zh_CN"
    assert i18n._(msgid) == chinese


def test_locale_is_the_fallback(clean_env):
    msgid, chinese = _some_translated_msgid()
    clean_env.setenv("LANG", "zh_CN.UTF-8")
    assert i18n.current_language() == "zh_CN" and i18n._(msgid) == chinese
    i18n.reset_language()
    clean_env.setenv("LC_ALL", "en_US.UTF-8")  # LC_ALL comes before LANG, as in gettext
    assert i18n.current_language() == "en" and i18n._(msgid) == msgid
    i18n.reset_language()
    clean_env.setenv("LANGUAGE", "fr:zh_CN")  # LANGUAGE lists several, best first
    assert i18n.current_language() == "zh_CN"


def test_no_variables_means_english(clean_env):
    assert i18n.current_language() == "en"
    msgid, _chinese = _some_translated_msgid()
    assert i18n._(msgid) == msgid


def test_unknown_env_language_warns_and_uses_english(clean_env):
    clean_env.setenv(LANG_ENV, "klingon")
    clean_env.setenv("LANG", "zh_CN.UTF-8")
    with pytest.warns(UserWarning, match=r"TL_WIDGETS_LANG='klingon'.*expected one of en, zh_CN"):
        assert i18n.current_language() == "en"


def test_unknown_locale_is_english_without_a_warning(clean_env):
    clean_env.setenv("LANG", "fr_FR.UTF-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert i18n.current_language() == "en"


def test_set_language_switches_and_unknown_falls_back(clean_env):
    msgid, chinese = _some_translated_msgid()
    assert i18n.set_language("zh") == "zh_CN" and i18n._(msgid) == chinese
    assert i18n.set_language("en") == "en" and i18n._(msgid) == msgid
    with pytest.warns(UserWarning, match=r"'xx-YY' has no catalog \(expected one of en, zh_CN\)"):
        assert i18n.set_language("xx-YY") == "en"
    assert i18n._(msgid) == msgid
    clean_env.setenv(LANG_ENV, "zh_CN")
    assert i18n.set_language(None) == "zh_CN"  # None: read the environment again


def test_ngettext_and_unknown_msgid(clean_env):
    i18n.set_language("zh_CN")
    assert i18n._("no such message in any catalog") == "no such message in any catalog"
    assert i18n.ngettext("{n} file", "{n} files", 1) == "{n} file"
    assert i18n.pgettext("state of the camera", "Camera off") != i18n._("Camera off")  # one text, two meanings
    i18n.set_language("en")
    assert i18n.pgettext("state of the camera", "Camera off") == "Camera off"
    assert i18n.ngettext("{n} file", "{n} files", 2) == "{n} files"


@pytest.mark.parametrize("po", PO_FILES, ids=lambda p: p.parts[-3])
def test_each_mo_is_a_fresh_compile_of_its_po(po):
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=po.parts[-3])
    fresh = io.BytesIO()
    write_mo(fresh, catalog)
    committed = po.with_suffix(".mo").read_bytes()
    assert committed == fresh.getvalue(), f"{po.with_suffix('.mo')} is stale: run `make i18n` (pybabel compile)"


def test_catalogs_hold_every_message_in_the_code():
    """Every _()/N_()/ngettext() string in tl_widgets/ is in each .po (else: `make i18n`), and zh_CN translates it."""
    in_code = set()
    for _file, _line, message, _comments, context in extract_from_dir(
        str(PACKAGE), method_map=[("**.py", "python")],
        keywords={"_": None, "N_": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2)},
    ):
        in_code.add((message if isinstance(message, str) else message[0], context))
    assert in_code, "no marked message found in the package"
    assert {"en", "zh_CN"} <= {po.parts[-3] for po in PO_FILES}
    for po in PO_FILES:
        with po.open("rb") as fh:
            catalog = read_po(fh)
        missing = sorted(m for m, context in in_code if catalog.get(m, context) is None)
        assert not missing, f"{po} lacks {len(missing)} message(s) (run `make i18n`): {missing[:20]}"
        if po.parts[-3] == "zh_CN":
            untranslated = sorted(
                m.id if isinstance(m.id, str) else m.id[0] for m in catalog
                if m.id and (m.fuzzy or not all(m.string if isinstance(m.string, (list, tuple)) else [m.string]))
            )
            assert not untranslated, f"zh_CN leaves {len(untranslated)} message(s) untranslated: {untranslated[:20]}"


def test_no_message_hides_in_an_f_string():
    """``f"{_('Hello')}"`` works but pybabel cannot see it (Python < 3.12): the message would stay untranslated."""
    hidden = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.JoinedStr):
                for call in ast.walk(node):
                    if (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                            and call.func.id in ("_", "N_", "ngettext", "pgettext")):
                        hidden.append(f"{path.relative_to(PACKAGE.parent)}:{call.lineno}")
    assert hidden == [], "move these _() calls out of their f-strings: " + ", ".join(hidden)


def test_compiled_catalogs_ship_in_the_wheel():
    """Hatch puts every file of the package that git does not ignore into the wheel: the .mo files are such files."""
    mo_files = sorted(i18n.LOCALE_DIR.glob("*/LC_MESSAGES/tl_widgets.mo"))
    assert {p.parts[-3] for p in mo_files} >= {"en", "zh_CN"}
    assert all(p.is_relative_to(PACKAGE) for p in mo_files)
    if shutil.which("git") and (PACKAGE.parent / ".git").exists():
        ignored = subprocess.run(["git", "check-ignore", *map(str, mo_files)], cwd=PACKAGE.parent,
                                 capture_output=True, text=True)
        assert ignored.stdout.strip() == "", f"git ignores {ignored.stdout.strip()}: the wheel would lack them"


def _assigns_and_calls_underscore(fn: ast.AST) -> bool:
    """True when ``fn``'s own scope both assigns ``_`` and calls ``_()``: the call then raises UnboundLocalError."""
    assigns = calls = False
    stack = list(ast.iter_child_nodes(fn))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.ListComp,
                             ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            continue  # their own scopes
        assigns |= isinstance(node, ast.Name) and node.id == "_" and isinstance(node.ctx, ast.Store)
        calls |= isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_"
        stack.extend(ast.iter_child_nodes(node))
    return assigns and calls


def test_no_function_shadows_the_translation_function():
    """``x, _ = f()`` in a function that also calls ``_("...")`` makes ``_`` local there: the call would fail."""
    bad = [f"{path.relative_to(PACKAGE.parent)}:{fn.lineno} {fn.name}"
           for path in sorted(PACKAGE.rglob("*.py"))
           for fn in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
           if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and _assigns_and_calls_underscore(fn)]
    assert bad == [], "rename the throwaway variable `_` (e.g. `_unused`) in: " + ", ".join(bad)
