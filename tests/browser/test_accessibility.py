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

from tests.browser.studio_page import StudioPage

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "tl_widgets" / "app" / "studio.ipynb"

#: Roles that a user operates: each needs an accessible name. Charts (role img) need one too.
CONTROL_ROLES = {"button", "textbox", "spinbutton", "slider", "combobox", "listbox", "checkbox", "radio", "tab",
                 "menuitem", "searchbox", "switch", "option", "img", "image"}

#: Where a node is, for the failure message: its tag and class, the ``tlw-`` classes of its ancestors, its HTML;
#: empty for nodes outside the Studio (Plotly's off-screen text measurer, ...). Called with the Studio's selector.
DESCRIBE_JS = """function (studio) {
  const el = this.nodeType === 1 ? this : this.parentElement;
  if (!el || !el.closest(studio)) return '';
  const tlw = [];
  for (let e = el; e && tlw.length < 3 && !e.matches(studio); e = e.parentElement)
    tlw.push(...Array.from(e.classList).filter((c) => c.startsWith('tlw-')));
  return `<${el.tagName.toLowerCase()} class="${String(el.className.baseVal ?? el.className)}">`
    + ` in .${tlw.join(' .') || '(no tlw- class)'}: ${(el.outerHTML || '').slice(0, 160)}`;
}"""

#: Visible controls that Tab cannot reach (tabIndex < 0), except disabled ones and charts' mouse tools.
UNREACHABLE_JS = """(studio) => {
  const root = document.querySelector(studio);
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

#: ``(studio) => [{text, ratio, needed, color, background, where}]`` for the visible texts of the Studio.
CONTRAST_JS = Path(__file__).with_name("contrast.js").read_text()


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


def _describe(cdp: Any, backend_id: int | None, studio: str) -> str:
    if backend_id is None:
        return "(no DOM node)"
    obj = cdp.send("DOM.resolveNode", {"backendNodeId": backend_id})["object"]
    result = cdp.send("Runtime.callFunctionOn", {"objectId": obj["objectId"], "functionDeclaration": DESCRIBE_JS,
                                                 "arguments": [{"value": studio}], "returnByValue": True})
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
    studio = StudioPage(page)
    studio.open(server.ready_url)
    studio.wait_start_enabled(timeout=120_000)  # the engine has loaded
    page.wait_for_timeout(500)
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("Accessibility.enable")
    state: dict[str, Any] = {"page": page, "studio": studio, "cdp": cdp, "report": {}, "errors": errors,
                             "trained": False}
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
    page, ui = studio["page"], studio["studio"]
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
    page.locator(ui.root).first.click(position={"x": 2, "y": 2})  # focus nothing, start at the top
    order: list[str] = []
    for _ in range(40):
        page.keyboard.press("Tab")
        order.append(_focused(page))
        if "tlw-data" in order[-1] or "tlw-source" in order[-1]:
            break
    steps = [key for key, _ in ui.steps()]

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
    ui.button("next").focus()
    page.keyboard.press("Enter")
    ui.wait_step("model", timeout=10_000)
    ui.button("back").focus()
    page.keyboard.press(" ")
    ui.wait_step("data", timeout=10_000)

    # An accordion header is a Tab stop and Enter opens it.
    ui.accordion_headers().first.evaluate("e => e.scrollIntoView()")
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


def test_accessible_names(studio, artifacts_dir):
    page, ui, cdp = studio["page"], studio["studio"], studio["cdp"]
    ui.button("start").focus()  # train one short run by keyboard, so Evaluate and Try it have content
    page.keyboard.press("Enter")
    ui.wait_status("finished", timeout=120_000)
    problems: list[str] = []
    checked: dict[str, int] = {}
    for key, _ in ui.steps():
        ui.show_by_keyboard(key)
        if key == "evaluate":
            ui.wait_part("confusion", timeout=60_000)
        ui.open_accordions()
        page.wait_for_timeout(300)  # the helper names what just appeared (it batches changes for 50 ms)
        page.screenshot(path=str(artifacts_dir / f"a11y_{key}.png"), full_page=True)
        nodes = _ax_controls(cdp)
        checked[key] = len(nodes)
        for node in nodes:
            name = node["name"].strip()
            if name and not _private_use(name):
                continue
            where = _describe(cdp, node["dom"], ui.root)
            if not where:
                continue  # outside the Studio
            problems.append(f"[{key}] unnamed {node['role']}: {where}" if not name else
                            f"[{key}] {node['role']} {name!r} has an icon glyph in its name: {where}")
        problems += [f"[{key}] not reachable by Tab: {what}" for what in page.evaluate(UNREACHABLE_JS, ui.root)]
    studio["report"]["ax_nodes_checked"] = checked
    assert sum(checked.values()) > 50, f"Expected the steps to hold controls. Received: {checked}"
    assert not problems, "\n".join(dict.fromkeys(problems))


def test_contrast(studio, artifacts_dir):
    page, ui = studio["page"], studio["studio"]
    failures: list[str] = []
    lowest: list[tuple[float, str]] = []
    texts = 0
    for key, _ in ui.steps():
        ui.show_by_keyboard(key)
        ui.open_accordions(open_=False)  # closed accordion headers have their own colours
        page.wait_for_timeout(200)
        found = page.evaluate(CONTRAST_JS, ui.root)
        ui.open_accordions()
        page.wait_for_timeout(200)
        found += page.evaluate(CONTRAST_JS, ui.root)
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
