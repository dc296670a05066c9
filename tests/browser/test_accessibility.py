"""The Studio in a real Voilà, checked for accessibility in Chromium: names, keyboard, contrast.

One Voilà page serves the whole module (fixture ``studio``), in this order:

- ``test_keyboard``: from the top of the page, Tab reaches the step buttons in order, then
  Start, then the first step's controls, each with a visible focus ring; Enter on Next and
  Space on Back change the step; an accordion header is reached by Tab and opened with Enter.
- ``test_accessible_names``: walks every step (accordions opened; one short demo run trained
  so Evaluate and Try it have content), reads the page's accessibility tree with the Chrome
  DevTools Protocol (``Accessibility.getFullAXTree``) and fails on any control (button,
  textbox, slider, combobox, ...) or chart without an accessible name, on names that carry an
  icon glyph, and on a visible control that Tab cannot reach.
- ``test_contrast``: on every step, every visible text inside ``.tlw-studio`` (HTML text and
  the Plotly charts' titles, ticks and legends) against its alpha-blended background: fails
  below WCAG AA (4.5:1, 3:1 for large text).

Screenshots of each step: ``test-artifacts/a11y_<step>.png``; the numbers (nodes checked,
lowest contrast) go to ``test-artifacts/a11y_report.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "tl_widgets" / "app" / "studio.ipynb"
STATUS_JS = "((document.querySelector('.tlw-status') || {}).innerText || '').trim()"

#: Roles that a user operates: each needs an accessible name. Charts (role img) need one too.
CONTROL_ROLES = {"button", "textbox", "spinbutton", "slider", "combobox", "listbox", "checkbox", "radio", "tab",
                 "menuitem", "searchbox", "switch", "option", "img", "image"}

#: Where a node is, for the failure message: its tag and class, the ``tlw-`` classes of its ancestors, its HTML;
#: empty for nodes outside ``.tlw-studio`` (Plotly's off-screen text measurer, ...).
DESCRIBE_JS = """function () {
  const el = this.nodeType === 1 ? this : this.parentElement;
  if (!el || !el.closest('.tlw-studio')) return '';
  const tlw = [];
  for (let e = el; e && tlw.length < 3 && !e.classList.contains('tlw-studio'); e = e.parentElement)
    tlw.push(...Array.from(e.classList).filter((c) => c.startsWith('tlw-')));
  return `<${el.tagName.toLowerCase()} class="${String(el.className.baseVal ?? el.className)}">`
    + ` in .${tlw.join(' .') || '(no tlw- class)'}: ${(el.outerHTML || '').slice(0, 160)}`;
}"""

#: Visible controls that Tab cannot reach (tabIndex < 0), except disabled ones and charts' mouse tools.
UNREACHABLE_JS = """() => {
  const root = document.querySelector('.tlw-studio');
  const sel = 'button, input:not([type="hidden"]), select, textarea, [role="slider"], [role="button"], [role="tab"],'
    + ' .jupyter-widget-Collapse-header';
  const out = [];
  for (const el of root.querySelectorAll(sel)) {
    if (!el.getClientRects().length || el.disabled || el.closest('[role="img"]')) continue;
    if (el.type === 'file' && getComputedStyle(el).display === 'none') continue;  // opened by its button
    const group = el.closest('.widget-toggle-buttons, .lm-TabBar-content');  // one tab stop, arrows inside
    if (el.tabIndex < 0 && !(group && group.querySelector('[tabindex="0"], button:not([tabindex="-1"])'))) {
      const owner = el.closest('[class*="tlw-"]');
      out.push(`${el.tagName.toLowerCase()} "${(el.innerText || el.getAttribute('aria-label') || '').trim()}" in `
               + `.${owner ? Array.from(owner.classList).filter((c) => c.startsWith('tlw-')).join('.') : '?'}`);
    }
  }
  return out;
}"""

#: ``() => [{text, ratio, needed, color, background, where}]`` for the visible texts of ``.tlw-studio``.
CONTRAST_JS = Path(__file__).with_name("contrast.js").read_text()


def _steps(page: Any) -> list[tuple[str, Any]]:
    """The Studio's steps as (key, clickable): the step header's buttons, else the tab bar's tabs."""
    buttons = page.locator(".tlw-steps button.tlw-step")
    if buttons.count():
        out = []
        for i in range(buttons.count()):
            button = buttons.nth(i)
            classes = button.get_attribute("class") or ""
            key = next((c[len("tlw-step-"):] for c in classes.split() if c.startswith("tlw-step-")
                        and c not in ("tlw-step-extra", "tlw-step-missing")), str(i))
            out.append((key, button))
        return out
    tabs = page.locator(".tlw-tabs > .lm-TabBar .lm-TabBar-tab")
    return [(tabs.nth(i).inner_text().strip().lower().split()[0], tabs.nth(i)) for i in range(tabs.count())]


def _open_accordions(page: Any, open_: bool = True) -> None:
    """Opens (or closes) every visible accordion section of the Studio, by keyboard: Enter on its header."""
    state = ":not(.jupyter-widget-Collapse-open)" if open_ else ".jupyter-widget-Collapse-open"
    for _ in range(2):  # nested accordions appear once their parent opens
        headers = page.locator(f".tlw-studio .jupyter-widget-Collapse{state} > .jupyter-widget-Collapse-header:visible")
        for i in range(headers.count()):
            headers.last.focus()  # innermost first when closing
            page.keyboard.press("Enter")
            page.wait_for_timeout(150)


def _show(page: Any, key: str) -> None:
    for k, clickable in _steps(page):
        if k == key:
            clickable.focus()
            page.keyboard.press("Enter")
            page.wait_for_timeout(400)
            return
    raise AssertionError(f"Expected a step {key!r}. Received: {[k for k, _ in _steps(page)]}")


def _ax_controls(cdp: Any) -> list[dict[str, Any]]:
    """The accessibility tree's control and chart nodes (not ignored): role, name, backend DOM id."""
    out = []
    for node in cdp.send("Accessibility.getFullAXTree")["nodes"]:
        role = (node.get("role") or {}).get("value")
        if node.get("ignored") or role not in CONTROL_ROLES:
            continue
        out.append({"role": role, "name": str((node.get("name") or {}).get("value", "")),
                    "dom": node.get("backendDOMNodeId")})
    return out


def _describe(cdp: Any, backend_id: int | None) -> str:
    if backend_id is None:
        return "(no DOM node)"
    obj = cdp.send("DOM.resolveNode", {"backendNodeId": backend_id})["object"]
    result = cdp.send("Runtime.callFunctionOn", {"objectId": obj["objectId"], "functionDeclaration": DESCRIBE_JS,
                                                 "returnByValue": True})
    return str(result["result"].get("value"))


def _private_use(text: str) -> bool:
    return any(0xE000 <= ord(ch) <= 0xF8FF for ch in text)


@pytest.fixture(scope="module")
def studio(chromium, start_voila, artifacts_dir, tmp_path_factory) -> Iterator[dict[str, Any]]:
    """One Voilà Studio page for the module; ``report`` collects the numbers."""
    tmp = tmp_path_factory.mktemp("a11y")
    env = {"TL_WIDGETS_HOME": str(tmp / "home"), "TL_WIDGETS_STUDIO_EPOCHS": "1",
           "TL_WIDGETS_STUDIO_MAX_PER_CLASS": "20", "TL_WIDGETS_LANG": "en"}
    server = start_voila(NOTEBOOK, tmp, env=env, name="a11y-voila")
    page = chromium.new_page(viewport={"width": 1300, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.ready_url, timeout=120_000)
    page.wait_for_selector(".tlw-studio", timeout=120_000)
    page.wait_for_selector("button.tlw-start:not(:disabled)", timeout=120_000)  # the engine has loaded
    page.wait_for_timeout(500)
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("Accessibility.enable")
    state: dict[str, Any] = {"page": page, "cdp": cdp, "report": {}, "errors": errors, "trained": False}
    try:
        yield state
    finally:
        (artifacts_dir / "a11y_report.json").write_text(json.dumps(state["report"], indent=2))
        page.close()
        assert not errors, errors


def _focused(page: Any) -> str:
    return page.evaluate("""() => { const el = document.activeElement; if (!el || el === document.body) return '';
      return Array.from(el.classList).concat(Array.from((el.closest('[class*="tlw-"]') || {classList: []})
        .classList)).join(' ') + ' | ' + (el.innerText || el.getAttribute('aria-label') || '').trim(); }""")


def test_keyboard(studio, artifacts_dir):
    page = studio["page"]
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
    page.locator(".tlw-studio").first.click(position={"x": 2, "y": 2})  # focus nothing, start at the top
    order: list[str] = []
    for _ in range(40):
        page.keyboard.press("Tab")
        order.append(_focused(page))
        if "tlw-data" in order[-1] or "tlw-source" in order[-1]:
            break
    steps = [key for key, _ in _steps(page)]

    def first(pred: Any) -> int:
        return next((i for i, f in enumerate(order) if pred(f)), -1)

    positions = [first(lambda f, k=k: f"tlw-step-{k}" in f.split(" | ")[0].split()) for k in steps]
    start = first(lambda f: "tlw-start" in f.split(" | ")[0].split())
    control = first(lambda f: "tlw-data" in f or "tlw-source" in f)
    assert -1 not in positions and positions == sorted(positions), f"step buttons by Tab: {order}"
    assert positions[-1] < start < control, f"Expected steps, then Start, then the Data step's controls: {order}"
    studio["report"]["tab_order"] = order
    ring = page.evaluate("(() => { const s = getComputedStyle(document.activeElement);"
                         " return [s.outlineStyle, parseFloat(s.outlineWidth)]; })()")
    assert ring[0] != "none" and ring[1] >= 2, f"Expected a visible focus ring (2px outline). Received: {ring}"

    # Enter on Next moves to step 2; Space on Back moves back.
    next_button = page.locator("button.tlw-step-next")
    next_button.focus()
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('button.tlw-step-model').classList.contains('mod-primary')",
                           timeout=10_000)
    page.locator("button.tlw-step-back").focus()
    page.keyboard.press(" ")
    page.wait_for_function("document.querySelector('button.tlw-step-data').classList.contains('mod-primary')",
                           timeout=10_000)

    # An accordion header is a Tab stop and Enter opens it.
    header = page.locator(".tlw-studio .jupyter-widget-Collapse-header:visible").first
    page.locator(".tlw-studio .jupyter-widget-Collapse-header:visible").first.evaluate("e => e.scrollIntoView()")
    reached = False
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.classList.contains('jupyter-widget-Collapse-header')"):
            reached = True
            break
    assert reached, "Expected Tab to reach an accordion header on the Data step. Received: it never did"
    page.keyboard.press("Enter")
    page.wait_for_function("document.activeElement.parentElement.classList.contains('jupyter-widget-Collapse-open')"
                           " && document.activeElement.getAttribute('aria-expanded') === 'true'", timeout=5_000)
    page.screenshot(path=str(artifacts_dir / "a11y_keyboard.png"), full_page=True)
    page.keyboard.press("Enter")  # close it again


def _train(page: Any) -> None:
    page.locator("button.tlw-start").focus()
    page.keyboard.press("Enter")
    page.wait_for_function(f"{STATUS_JS} === 'finished'", timeout=120_000)


def test_accessible_names(studio, artifacts_dir):
    page, cdp = studio["page"], studio["cdp"]
    _train(page)
    problems: list[str] = []
    checked: dict[str, int] = {}
    for key, _ in _steps(page):
        _show(page, key)
        if key == "evaluate":
            page.wait_for_selector(".tlw-evaluate .tlw-confusion", timeout=60_000)
        _open_accordions(page)
        page.wait_for_timeout(300)  # the helper names what just appeared (it batches changes for 50 ms)
        page.screenshot(path=str(artifacts_dir / f"a11y_{key}.png"), full_page=True)
        nodes = _ax_controls(cdp)
        checked[key] = len(nodes)
        for node in nodes:
            name = node["name"].strip()
            if name and not _private_use(name):
                continue
            where = _describe(cdp, node["dom"])
            if not where:
                continue  # outside the Studio
            problems.append(f"[{key}] unnamed {node['role']}: {where}" if not name else
                            f"[{key}] {node['role']} {name!r} has an icon glyph in its name: {where}")
        problems += [f"[{key}] not reachable by Tab: {what}" for what in page.evaluate(UNREACHABLE_JS)]
    studio["report"]["ax_nodes_checked"] = checked
    assert sum(checked.values()) > 50, f"Expected the steps to hold controls. Received: {checked}"
    assert not problems, "\n".join(dict.fromkeys(problems))


def test_contrast(studio, artifacts_dir):
    page = studio["page"]
    failures: list[str] = []
    lowest: list[tuple[float, str]] = []
    texts = 0
    for key, _ in _steps(page):
        _show(page, key)
        _open_accordions(page, open_=False)  # closed accordion headers have their own colours
        page.wait_for_timeout(200)
        found = page.evaluate(CONTRAST_JS)
        _open_accordions(page)
        page.wait_for_timeout(200)
        found += page.evaluate(CONTRAST_JS)
        texts += len(found)
        for item in found:
            lowest.append((item["ratio"], f"[{key}] {item['where']}"))
            if item["ratio"] < item["needed"]:
                failures.append(f"[{key}] {item['ratio']:.2f}:1 < {item['needed']}:1 — {item['text']!r} "
                                f"{item['color']} on {item['background']} in {item['where']}")
    lowest.sort()
    studio["report"]["contrast"] = {"texts_checked": texts, "lowest": lowest[:5]}
    assert texts > 50, f"Expected visible texts to check. Received: {texts}"
    assert not failures, "\n".join(dict.fromkeys(failures))
