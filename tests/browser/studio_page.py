"""The Studio in a browser page: the one place that knows its CSS selectors and how to wait for it.

Browser tests drive the Studio through :class:`StudioPage` (and the webcam panel through :class:`CapturePage`)
instead of writing selectors and ``document.querySelector`` probes themselves: when the Studio's markup changes,
this file changes and the tests do not. Every wait polls in the page (Playwright's ``wait_for_function``) with the
values passed as arguments, never pasted into JavaScript source.

    studio = StudioPage(page)                       # Voilà: the Studio is the page
    studio.open(url)                                # waits for the Studio, then
    studio.wait_start_enabled()                     # ... for Keras to load
    studio.show("train"); studio.fill("epochs", 2)
    studio.start_run(); studio.wait_status("finished")
    studio.wait_points("loss", more_than=2)         # the live loss chart has points

    StudioPage(page, root=LAB_STUDIO)               # the Studio in a JupyterLab notebook's output
"""

from __future__ import annotations

from typing import Any, Iterable

#: The Studio's outermost element (Voilà: the page shows only the Studio).
STUDIO = ".tlw-studio"
#: The Studio in the output of a JupyterLab notebook cell.
LAB_STUDIO = ".jp-NotebookPanel .jp-OutputArea-output .tlw-studio"

#: Texts a test reads or waits for, by name: the run bar, the step header, each panel's notice (what it just did
#: or refused), a few summaries. ``>`` starts a selector for a direct child of the Studio.
TEXTS = {
    "status": ".tlw-status",
    "progress": ".tlw-progress-text",
    "hint": ".tlw-step-hint",
    "run": ".tlw-run-notice",
    "studio": "> .tlw-message",
    "data": ".tlw-data-panel .tlw-message",
    "data_summary": ".tlw-data-summary",
    "freeze_totals": ".tlw-freeze-totals",
    "evaluate": ".tlw-evaluate .tlw-message",
    "evaluate_hint": ".tlw-evaluate-hint",
    "evaluate_panel": ".tlw-evaluate",
    "export": ".tlw-export .tlw-message",
    "preview": ".tlw-preview .tlw-message",
    "preview_summary": ".tlw-preview-summary",
    "preview_agreement": ".tlw-preview-agreement",
    "sweep": ".tlw-sweep .tlw-message",
    "sweep_status": ".tlw-sweep-status",
    "lr_finder": ".tlw-lr-finder .tlw-message",
    "lr_suggested": ".tlw-lr-suggested",
    "curate": ".tlw-curate",
    "curate_status": ".tlw-curate-status",
    "curate_page": ".tlw-curate-page",
    "health": ".tlw-health .tlw-message",
    "health_findings": ".tlw-health-findings",
    "runs_health": ".tlw-runs-health",
    "workshop": ".tlw-workshop",
    "try_results": ".tlw-try-results",
    "work": ".tlw-work-download ~ .tlw-message, .tlw-work .tlw-message",
}

#: Number fields (an ipywidgets text box inside the element), by name.
FIELDS = {
    "epochs": ".tlw-epochs",
    "batch_size": ".tlw-batch-size",
    "max_per_class": ".tlw-max-per-class",
    "learning_rate": ".tlw-lr",
    "lr_steps": ".tlw-lr-steps",
    "sweep_trials": ".tlw-sweep-trials",
}

#: Buttons, by name (Start and Stop are in the run bar above every step).
BUTTONS = {
    "start": "button.tlw-start",
    "stop": "button.tlw-stop",
    "next": "button.tlw-step-next",
    "back": "button.tlw-step-back",
    "upload": "button.tlw-upload",
    "evaluate_last": "button.tlw-evaluate-last",
    "export": "button.tlw-export-run",
    "preview": "button.tlw-preview-run",
    "sweep_start": "button.tlw-sweep-start",
    "sweep_best": "button.tlw-sweep-best",
    "lr_find": "button.tlw-lr-find",
    "lr_use": "button.tlw-lr-use",
    "retrain": "button.tlw-retrain",
    "health_check": "button.tlw-health-run",
    "curate_next": "button.tlw-curate-next",
    "curate_prev": "button.tlw-curate-prev",
    "try_upload": ".tlw-try-upload",
    "work_download": "button.tlw-work-download",
}

#: Dropdowns (``<select>``), by name.
SELECTS = {
    "export_format": ".tlw-export-format select",
    "preview_format": ".tlw-preview-format select",
    "curate_filter": ".tlw-curate-filter select",
}

#: Parts of the Studio a step shows, by name (wait for one to know the step has been drawn).
PARTS = {
    "steps": ".tlw-steps",
    "data_summary": ".tlw-data-summary",
    "freeze": ".tlw-freeze-panel",
    "evaluate": ".tlw-evaluate",
    "confusion": ".tlw-evaluate .tlw-confusion",
    "before_after": ".tlw-evaluate .tlw-before-after",
    "runs_before_after": ".tlw-runs-lineage .tlw-before-after",
    "runs_health": ".tlw-runs-health table",
    "try": ".tlw-try-it",
    "try_camera": ".tlw-try-camera .tlw-camera-toggle",
    "try_camera_panel": ".tlw-try-camera",
    "try_summary": ".tlw-try-summary",
    "export": ".tlw-export",
    "preview": ".tlw-preview",
    "sweep_start": ".tlw-sweep-start",
    "lr_find": "button.tlw-lr-find",
    "capture": ".tlw-capture",
}

#: Plotly charts, by name: the graph divs whose traces a test counts.
CHARTS = {
    "loss": ".tlw-live-charts .tlw-plotly-chart.js-plotly-plot",  # the first is the loss chart
    "live": ".tlw-live-charts .js-plotly-plot",
    "evaluate": ".tlw-evaluate .tlw-plotly-chart.js-plotly-plot",
    "evaluate_any": ".tlw-evaluate .js-plotly-plot",
    "confusion": ".tlw-confusion.js-plotly-plot, .tlw-confusion .js-plotly-plot",
    "sweep": ".tlw-sweep .js-plotly-plot",
    "lr": ".tlw-lr-chart .js-plotly-plot",
}

# Text of the first element matching a selector ('' when there is none), and a test on it.
_TEXT_MATCHES = """([sel, c]) => {
  const el = document.querySelector(sel);
  const raw = (el && el.innerText) || '';
  const t = raw.trim();
  if (c.differs !== null && raw === c.differs) return false;
  if (c.equals !== null && !c.equals.includes(t)) return false;
  if (c.contains !== null && !raw.includes(c.contains)) return false;
  if (c.startswith !== null && !raw.startsWith(c.startswith)) return false;
  if (c.regex !== null && !new RegExp(c.regex).test(raw)) return false;
  return true;
}"""

# Every Plotly graph div matching a selector, as plain data: its title and, per trace, type, name, number of
# points (n: x, else y; nx: x only), and the number and sum of its z cells (rows may be arrays or typed arrays).
_CHARTS = """(sel) => Array.from(document.querySelectorAll(sel)).map(gd => ({
  title: ((gd.layout || {}).title || {}).text || '',
  traces: (gd.data || []).map(t => {
    let zsum = null, zcells = 0;
    if (t.z) { zsum = 0; for (const row of Array.from(t.z)) for (const v of Array.from(row)) { zsum += v; zcells++; } }
    const nx = t.x ? Array.from(t.x).length : 0;
    const n = t.x ? nx : (t.y ? Array.from(t.y).length : 0);
    return {type: t.type || 'scatter', name: t.name || '', n, nx, zsum, zcells};
  }),
}))"""

# How many x values the charts matching ``sel`` hold: the first chart (``first``) or every one; only the traces
# whose name matches ``name`` (a regular expression), or only the trace at ``index``, when given.
_POINTS = f"""([sel, first, name, index]) => {{
  const charts = ({_CHARTS})(sel).slice(0, first ? 1 : undefined);
  let n = 0;
  for (const c of charts) c.traces.forEach((t, i) => {{
    if ((name === null || new RegExp(name).test(t.name)) && (index === null || i === index)) n += t.nx;
  }});
  return n;
}}"""

# The page coordinates of the fullest off-diagonal cell of the confusion heatmap, from Plotly's own axes:
# {n, true, predicted, px, py}; {none: true} when every image is on the diagonal; null before it is drawn.
_CONFUSION_CELL = """(sel) => {
  const gd = document.querySelector(sel);
  if (!gd || !gd._fullLayout || !gd.data || !gd.data[0]) return null;
  const t = gd.data[0], xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
  const z = Array.from(t.customdata || t.z).map(r => Array.from(r));
  let best = null;
  z.forEach((row, i) => row.forEach((v, j) => {
    if (i !== j && v > 0 && (!best || v > best.n)) best = {i, j, n: v};
  }));
  if (!best) return {none: true};
  const box = gd.getBoundingClientRect();
  return {n: best.n, true: t.y[best.i], predicted: t.x[best.j],
          px: box.left + xa._offset + xa.d2p(t.x[best.j]), py: box.top + ya._offset + ya.d2p(t.y[best.i])};
}"""


class StudioPage:
    """A Playwright page showing the Studio.

    Args:
        page: The Playwright ``Page``.
        root: The CSS selector of the Studio's outermost element (:data:`STUDIO` in Voilà, :data:`LAB_STUDIO` in
            a JupyterLab notebook); every selector is looked up inside it.
    """

    def __init__(self, page: Any, root: str = STUDIO) -> None:
        self.page = page
        self.root = root
        self.capture = CapturePage(page, f"{root} .tlw-capture")
        self.try_camera = CapturePage(page, f"{root} .tlw-try-camera")

    # -- where things are --------------------------------------------------------------------------------
    def css(self, selector: str) -> str:
        """``selector`` inside the Studio (each part of a ``,`` list)."""
        return ", ".join(f"{self.root} {part.strip()}" for part in selector.split(","))

    def locator(self, selector: str) -> Any:
        """A Playwright locator for ``selector`` inside the Studio."""
        return self.page.locator(self.css(selector))

    def button(self, name: str) -> Any:
        """The button ``name`` (a key of :data:`BUTTONS`)."""
        return self.locator(BUTTONS[name])

    def text(self, name: str) -> str:
        """The text of :data:`TEXTS` ``[name]`` ('' while it is not in the page)."""
        return str(self.page.evaluate("(sel) => ((document.querySelector(sel) || {}).innerText || '')",
                                      self.css(TEXTS[name])))

    def wait_text(self, name: str, *, equals: str | Iterable[str] | None = None, contains: str | None = None,
                  startswith: str | None = None, regex: str | None = None, differs: str | None = None,
                  timeout: float = 30_000) -> str:
        """Waits until the text of :data:`TEXTS` ``[name]`` passes every test given, and returns it.

        Args:
            equals: The text, stripped, is this (or one of these).
            contains: The text contains this.
            startswith: The text starts with this.
            regex: A JavaScript regular expression that finds a match in the text.
            differs: The text is no longer this (e.g. the notice before a click).
            timeout: Milliseconds.
        """
        one_of = None if equals is None else [equals] if isinstance(equals, str) else list(equals)
        tests = {"equals": one_of, "contains": contains, "startswith": startswith, "regex": regex, "differs": differs}
        self.page.wait_for_function(_TEXT_MATCHES, arg=[self.css(TEXTS[name]), tests], timeout=timeout)
        return self.text(name)

    def part(self, name: str) -> Any:
        """A locator for :data:`PARTS` ``[name]``."""
        return self.locator(PARTS[name])

    def wait_part(self, name: str, timeout: float = 30_000, state: str = "attached") -> None:
        """Waits until :data:`PARTS` ``[name]`` is in the page (``state="visible"``: and visible)."""
        self.page.wait_for_selector(self.css(PARTS[name]), timeout=timeout, state=state)

    # -- opening -----------------------------------------------------------------------------------------
    def open(self, url: str, *, part: str | None = None, timeout: float = 120_000) -> None:
        """Loads ``url`` and waits until the Studio (and its ``part``, a key of :data:`PARTS`) is drawn."""
        self.page.goto(url, timeout=timeout)
        self.wait_open(part=part, timeout=timeout)

    def shown(self) -> bool:
        """Whether the page shows the Studio (now, without waiting)."""
        return bool(self.page.locator(self.root).count())

    def wait_open(self, *, part: str | None = None, timeout: float = 120_000) -> None:
        """Waits until the Studio (and its ``part``) is drawn."""
        self.page.wait_for_selector(self.css(PARTS[part]) if part else self.root, timeout=timeout)

    # -- steps -------------------------------------------------------------------------------------------
    def step_button(self, key: str) -> Any:
        """The step header's button of step ``key`` (data, model, train, evaluate, try, runs, ...)."""
        return self.locator(f".tlw-steps button.tlw-step-{key}")

    def steps(self) -> list[tuple[str, Any]]:
        """The steps as ``(key, clickable)``: the step header's buttons, else the tab bar's tabs."""
        buttons = self.locator(".tlw-steps button.tlw-step")
        if buttons.count():
            out = []
            for i in range(buttons.count()):
                button = buttons.nth(i)
                classes = button.get_attribute("class") or ""
                key = next((c[len("tlw-step-"):] for c in classes.split() if c.startswith("tlw-step-")
                            and c not in ("tlw-step-extra", "tlw-step-missing")), str(i))
                out.append((key, button))
            return out
        tabs = self.locator(".tlw-tabs > .lm-TabBar .lm-TabBar-tab")
        return [(tabs.nth(i).inner_text().strip().lower().split()[0], tabs.nth(i)) for i in range(tabs.count())]

    def click_step(self, key: str) -> None:
        """Clicks step ``key``'s button without waiting."""
        self.step_button(key).click()

    def show(self, key: str, timeout: float = 30_000) -> None:
        """Clicks step ``key``'s button and waits until the header shows it as the current step."""
        self.click_step(key)
        self.wait_step(key, timeout)
        self.page.wait_for_timeout(300)

    def wait_step(self, key: str, timeout: float = 30_000) -> None:
        """Waits until step ``key`` is the current one (its button is the primary one)."""
        self.page.wait_for_function("(sel) => { const b = document.querySelector(sel);"
                                    " return !!b && b.classList.contains('mod-primary'); }",
                                    arg=self.css(f"button.tlw-step-{key}"), timeout=timeout)

    def show_by_keyboard(self, key: str) -> None:
        """Shows step ``key`` as a keyboard user does: focus its button (or tab), press Enter."""
        for k, clickable in self.steps():
            if k == key:
                clickable.focus()
                self.page.keyboard.press("Enter")
                self.page.wait_for_timeout(400)
                return
        raise AssertionError(f"Expected a step {key!r}. Received: {[k for k, _ in self.steps()]}")

    def open_accordions(self, open_: bool = True) -> None:
        """Opens (or closes) every visible accordion section, by keyboard: Enter on its header."""
        state = ":not(.jupyter-widget-Collapse-open)" if open_ else ".jupyter-widget-Collapse-open"
        for _ in range(2):  # nested accordions appear once their parent opens
            headers = self.locator(f".jupyter-widget-Collapse{state} > .jupyter-widget-Collapse-header:visible")
            for _i in range(headers.count()):
                headers.last.focus()  # innermost first when closing
                self.page.keyboard.press("Enter")
                self.page.wait_for_timeout(150)

    def accordion_headers(self) -> Any:
        """The visible accordion headers."""
        return self.locator(".jupyter-widget-Collapse-header:visible")

    def open_section(self, title: str) -> None:
        """Opens the accordion section titled ``title`` (a click on its header's text)."""
        self.page.locator(self.root).get_by_text(title).first.click()

    # -- the run bar ---------------------------------------------------------------------------------------
    def start_state(self) -> list[Any]:
        """``[disabled, label]`` of Start."""
        return self.page.evaluate("(sel) => { const b = document.querySelector(sel) || {};"
                                  " return [b.disabled, (b.innerText || '').trim()]; }", self.css(BUTTONS["start"]))

    def wait_start_enabled(self, timeout: float = 180_000, label: str | None = None) -> None:
        """Waits until Start can be pressed: Keras has loaded (no "Loading TensorFlow…") and no run holds it;
        with ``label``, also until Start reads ``label``."""
        self.page.wait_for_function(
            "([sel, label]) => { const b = document.querySelector(sel);"
            " return !!b && !b.disabled && !b.classList.contains('tlw-start-loading')"
            " && (label === null || b.innerText.trim() === label); }",
            arg=[self.css(BUTTONS["start"]), label], timeout=timeout)

    def start_run(self, timeout: float = 60_000) -> str:
        """Presses Start and waits until the run bar announces a new run ("Run …"); returns that notice.
        Wait for Start first (:meth:`wait_start_enabled`) when Keras may still be loading."""
        before = self.text("run")
        self.button("start").click()
        return self.wait_text("run", differs=before, startswith="Run ", timeout=timeout)

    def stop(self) -> None:
        """Presses Stop."""
        self.button("stop").click()

    def status(self) -> str:
        """The run status (idle, queued, running, stopped, finished, failed; translated in other languages)."""
        return self.text("status").strip()

    def wait_status(self, status: str | Iterable[str], timeout: float = 60_000) -> str:
        """Waits until the run status is ``status`` (or one of several)."""
        return self.wait_text("status", equals=status, timeout=timeout).strip()

    # -- fields, buttons, dropdowns --------------------------------------------------------------------------
    def field(self, name: str) -> Any:
        """The text box of the number field ``name`` (a key of :data:`FIELDS`)."""
        return self.locator(f"{FIELDS[name]} input").first

    def fill(self, name: str, value: Any, settle_ms: int = 300) -> None:
        """Types ``value`` into field ``name`` and presses Enter (the widget syncs on Enter)."""
        box = self.field(name)
        box.fill(str(value))
        box.press("Enter")
        if settle_ms:
            self.page.wait_for_timeout(settle_ms)

    def field_value(self, name: str) -> str:
        """What field ``name`` shows."""
        return str(self.field(name).input_value())

    def wait_field_value(self, name: str, value: str, timeout: float = 30_000) -> None:
        """Waits until field ``name`` shows ``value`` (e.g. reset after a refusal)."""
        self.page.wait_for_function("([sel, v]) => { const i = document.querySelector(sel); return !!i && i.value === v; }",
                                    arg=[self.css(f"{FIELDS[name]} input"), value], timeout=timeout)

    def select(self, name: str) -> Any:
        """The dropdown ``name`` (a key of :data:`SELECTS`)."""
        return self.locator(SELECTS[name])

    def selected_text(self, name: str) -> str:
        """The text of dropdown ``name``'s chosen option (non-breaking spaces as spaces)."""
        return str(self.select(name).evaluate("s => s.options[s.selectedIndex].text")).replace("\xa0", " ")

    def wait_select_value(self, name: str, value: str, timeout: float = 30_000) -> None:
        """Waits until dropdown ``name`` has ``value`` chosen."""
        self.page.wait_for_function("([sel, v]) => { const s = document.querySelector(sel); return !!s && s.value === v; }",
                                    arg=[self.css(SELECTS[name]), value], timeout=timeout)

    # -- charts ------------------------------------------------------------------------------------------
    def charts(self, name: str) -> list[dict[str, Any]]:
        """The charts :data:`CHARTS` ``[name]`` as plain data: ``[{title, traces: [{type, name, n, zsum,
        zcells}]}]`` (``n``: points; ``zsum``/``zcells``: a heatmap's cells)."""
        return list(self.page.evaluate(_CHARTS, self.css(CHARTS[name])))

    def points(self, name: str, *, first: bool = False, trace: str | None = None, index: int | None = None) -> int:
        """Points (x values) in chart(s) ``name``: in the first chart (``first``) or in all of them; only in the
        traces whose name matches the regular expression ``trace``, or in the trace at ``index``, when given."""
        return int(self.page.evaluate(_POINTS, [self.css(CHARTS[name]), first, trace, index]))

    def wait_points(self, name: str, *, more_than: int = 0, first: bool = False, trace: str | None = None,
                    index: int | None = None, timeout: float = 30_000) -> None:
        """Waits until :meth:`points` is above ``more_than``."""
        self.page.wait_for_function(f"(a) => ({_POINTS})(a) > {int(more_than)}",
                                    arg=[self.css(CHARTS[name]), first, trace, index], timeout=timeout)

    def wait_charts(self, name: str, *, at_least: int = 1, timeout: float = 30_000) -> list[dict[str, Any]]:
        """Waits until ``at_least`` charts ``name`` are drawn, each with a trace; returns :meth:`charts`."""
        self.page.wait_for_function(f"([sel, k]) => {{ const c = ({_CHARTS})(sel);"
                                    " return c.length >= k && c.every(x => x.traces.length > 0); }",
                                    arg=[self.css(CHARTS[name]), at_least], timeout=timeout)
        return self.charts(name)

    def wait_heatmap(self, name: str, timeout: float = 30_000) -> None:
        """Waits until one of the charts ``name`` holds a heatmap with cells."""
        self.page.wait_for_function(f"(sel) => ({_CHARTS})(sel).some(c => c.traces.some("
                                    "t => t.type === 'heatmap' && t.zcells > 0))",
                                    arg=self.css(CHARTS[name]), timeout=timeout)

    def confusion_cell(self) -> dict[str, Any] | None:
        """The fullest off-diagonal cell of the Evaluate step's confusion matrix: ``{n, true, predicted, px, py}``
        (page coordinates), ``{"none": True}`` when every image is on the diagonal, None before it is drawn."""
        return self.page.evaluate(_CONFUSION_CELL, self.css(".tlw-confusion .tlw-plotly-chart.js-plotly-plot"))

    def click_confusion_cell(self, timeout: float = 60_000) -> dict[str, Any]:
        """Clicks the fullest off-diagonal confusion cell with the mouse (a real Plotly click); returns it."""
        self.page.wait_for_function(f"(sel) => ({_CONFUSION_CELL})(sel) !== null",
                                    arg=self.css(".tlw-confusion .tlw-plotly-chart.js-plotly-plot"), timeout=timeout)
        cell = self.confusion_cell()
        assert cell is not None and not cell.get("none"), "Expected a mistake in the confusion matrix. Received: none"
        self.locator(".tlw-confusion").scroll_into_view_if_needed()
        cell = self.confusion_cell()  # coordinates after scrolling
        assert cell is not None
        self.page.mouse.click(cell["px"], cell["py"])
        return cell

    # -- the steps' own controls ---------------------------------------------------------------------------
    def upload_zip(self, path: str) -> None:
        """Data step: picks "Upload zip" as the source and uploads ``path`` through the file chooser."""
        self.locator(".tlw-source button").filter(has_text="Upload zip").click()
        with self.page.expect_file_chooser() as chooser:
            self.button("upload").click()
        chooser.value.set_files(path)

    def set_fine_tune(self, on: bool) -> None:
        """Train step: checks or unchecks "fine-tune" (the second phase)."""
        box = self.locator(".tlw-fine-tune input").first
        if on and not box.is_checked():
            box.check()
        elif not on and box.is_checked():
            box.uncheck()

    def toggle_block(self, block: str) -> None:
        """Model step: clicks the freeze checkbox of ``block``."""
        self.locator(f".tlw-block-{block} input").click()

    def export_row(self, fmt: str) -> list[str]:
        """Try it & export step: the cells of the exports table's row for ``fmt``."""
        row = self.locator(".tlw-export-table tr").filter(has_text=fmt).first
        return [c.strip() for c in row.locator("td").all_inner_texts()]

    def preview_rows(self) -> int:
        """Rows of the deployment preview's table."""
        return int(self.locator(".tlw-preview-table tr").count())

    def sweep_table(self) -> tuple[list[str], list[list[str]]]:
        """The sweep's table: (header, rows of its trials)."""
        header = self.page.evaluate("(sel) => Array.from(document.querySelectorAll(sel)).map(th => th.innerText)",
                                    self.css(".tlw-sweep-table tr:first-child th"))
        rows = self.page.evaluate("(sel) => Array.from(document.querySelectorAll(sel))"
                                  ".map(tr => Array.from(tr.cells).map(td => td.innerText))",
                                  self.css(".tlw-sweep-table tr.tlw-sweep-trial"))
        return header, rows

    def curate_cards(self) -> list[Any]:
        """The curation grid's visible cards with an image."""
        cards = self.locator(".tlw-curate-card").filter(has=self.page.locator("img"))
        return [c for c in cards.all() if c.is_visible()]

    def wait_curate_cards(self, timeout: float = 120_000) -> None:
        """Waits until the curation grid shows a card."""
        self.page.wait_for_function("(sel) => document.querySelectorAll(sel).length > 0",
                                    arg=self.css('.tlw-curate-card:not([style*="display: none"])'), timeout=timeout)

    @staticmethod
    def card_key(card: Any) -> str:
        """The image key a curation card shows."""
        return str(card.locator(".tlw-curate-caption").get_attribute("title"))

    @staticmethod
    def card_gradcam(card: Any) -> None:
        """Asks a curation card for its Grad-CAM."""
        card.locator("button.tlw-curate-gradcam").click()

    def review_finding(self, label: str) -> None:
        """Data step's health check: clicks the Review button of the finding shown as ``label`` (e.g. "blurry")."""
        self.locator("button.tlw-health-review").filter(has_text=f": {label}").first.click()

    def retrain_from_health(self) -> None:
        """Data step: "Retrain with fixes" in the grid the health check opened."""
        self.locator(".tlw-health button.tlw-retrain").click()

    def health_counts(self) -> dict[str, list[str]]:
        """Runs step: the data-health table, finding -> the cells of its row (one per picked run)."""
        rows = self.page.evaluate("(sel) => Array.from(document.querySelectorAll(sel))"
                                  ".map(tr => Array.from(tr.cells).map(td => td.innerText.trim()))",
                                  self.css(".tlw-runs-health tr"))
        return {r[0]: r[1:] for r in rows[1:] if r}

    def run_options(self) -> list[str]:
        """Runs step: the texts of the run list's options (non-breaking spaces as spaces)."""
        return [t.replace("\xa0", " ") for t in self.locator(".tlw-runs option").all_inner_texts()]

    def run_ids(self) -> list[str]:
        """Runs step: the values (run ids) of the run list's options."""
        return list(self.page.evaluate("(sel) => Array.from(document.querySelectorAll(sel)).map(o => o.value)",
                                       self.css(".tlw-runs select option")))

    def wait_run_option(self, contains: str | None = None, timeout: float = 30_000) -> None:
        """Waits until the run list has an option (containing ``contains``, non-breaking spaces as spaces)."""
        self.page.wait_for_function("([sel, c]) => Array.from(document.querySelectorAll(sel))"
                                    ".some(o => c === null || o.text.replace(/\\u00a0/g, ' ').includes(c))",
                                    arg=[self.css(".tlw-runs option"), contains], timeout=timeout)

    def pick_run(self, contains: str) -> None:
        """Runs step: picks the first run whose option contains ``contains``."""
        self.locator(".tlw-runs option").filter(has_text=contains).first.click()

    def try_cards(self) -> int:
        """Try it: how many result cards are shown."""
        return int(self.locator(".tlw-try-results .tlw-try-card").count())

    def wait_try_cards(self, count: int, timeout: float = 120_000) -> None:
        """Try it: waits until exactly ``count`` result cards are shown."""
        self.page.wait_for_function("([sel, n]) => document.querySelectorAll(sel).length === n",
                                    arg=[self.css(".tlw-try-results .tlw-try-card"), count], timeout=timeout)

    def try_card_text(self, index: int = 0) -> str:
        """Try it: the text of result card ``index``."""
        return str(self.locator(".tlw-try-results .tlw-try-card").nth(index).inner_text())

    def try_upload(self, path: str) -> None:
        """Try it: uploads the image file ``path`` through the file chooser."""
        with self.page.expect_file_chooser() as chooser:
            self.button("try_upload").click()
        chooser.value.set_files(path)

    def download_work(self, to: str, timeout: float = 300_000) -> str:
        """Runs step: presses "Download my work", saves the file the browser gets to ``to``; returns its name."""
        with self.page.expect_download(timeout=timeout) as got:
            self.button("work_download").click()
        got.value.save_as(to)
        return got.value.suggested_filename

    def open_capture(self) -> None:
        """Data step: opens the accordion section that holds the webcam capture panel."""
        self.locator(".jupyter-widget-Collapse:has(.tlw-capture) .jupyter-widget-Collapse-header").first.click()

    def scroll_to(self, part: str) -> None:
        """Scrolls :data:`PARTS` ``[part]`` (``"studio"``: the Studio itself) to the top of the view (Voilà
        scrolls inside the page)."""
        selector = self.root if part == "studio" else self.css(PARTS[part])
        self.page.evaluate("(sel) => document.querySelector(sel)?.scrollIntoView({block: 'start'})", selector)
        self.page.wait_for_timeout(300)

    def notices(self) -> str:
        """Every notice in the Studio, joined (for failure reports)."""
        return str(self.page.evaluate("(sel) => [...document.querySelectorAll(sel)].map(e => e.innerText).join(' | ')",
                                      self.css(".tlw-message")))

    def census(self) -> str:
        """How many of each part the page holds, e.g. ``.tlw-try-it=1 .tlw-capture=1`` (for failure reports)."""
        return " ".join(f"{name}={self.page.locator(self.css(sel)).count()}" for name, sel in PARTS.items())


#: The webcam capture panel's counts table as ``{class: frames}``.
_COUNTS = """(sel) => { const out = {}; for (const tr of document.querySelectorAll(sel)) {
  const td = tr.querySelectorAll('td'); if (td.length === 2) out[td[0].innerText] = Number(td[1].innerText); }
  return out; }"""


class CapturePage:
    """The webcam capture panel (``CapturePanel``), alone in a page or inside the Studio's Data step.

    Args:
        page: The Playwright ``Page``.
        root: The CSS selector of the panel (``.tlw-capture``, or inside the Studio).
    """

    def __init__(self, page: Any, root: str = ".tlw-capture") -> None:
        self.page = page
        self.root = root

    def css(self, selector: str) -> str:
        return f"{self.root} {selector}"

    def locator(self, selector: str) -> Any:
        return self.page.locator(self.css(selector))

    def wait_shown(self, timeout: float = 90_000) -> None:
        self.page.wait_for_selector(self.root, timeout=timeout)

    def counts(self) -> dict[str, int]:
        """Frames per class, as the panel's table shows them."""
        return dict(self.page.evaluate(_COUNTS, self.css(".tlw-capture-counts tr")))

    def wait_count(self, name: str, *, equals: int | None = None, more_than: int | None = None,
                   timeout: float = 20_000) -> None:
        """Waits until class ``name`` has ``equals`` frames (or more than ``more_than``; or is listed at all)."""
        self.page.wait_for_function(
            f"([sel, name, eq, gt]) => {{ const c = ({_COUNTS})(sel); if (!(name in c)) return eq === 0;"
            " return (eq === null || c[name] === eq) && (gt === null || c[name] > gt); }",
            arg=[self.css(".tlw-capture-counts tr"), name, equals, more_than], timeout=timeout)

    def camera_on(self) -> None:
        """Turns the camera on and waits for its picture."""
        self.locator(".tlw-camera-toggle").click()
        self.wait_camera_picture()

    def wait_camera_picture(self, timeout: float = 30_000) -> None:
        self.page.wait_for_function("(sel) => { const v = document.querySelector(sel);"
                                    " return !!v && v.readyState >= 2 && v.videoWidth > 0; }",
                                    arg=self.css("video.tlw-webcam-video"), timeout=timeout)

    def wait_camera_off(self, timeout: float = 10_000) -> None:
        """Waits until the camera is off (its video has no stream)."""
        self.page.wait_for_function("(sel) => !document.querySelector(sel).srcObject",
                                    arg=self.css("video.tlw-webcam-video"), timeout=timeout)

    def toggle_camera(self) -> None:
        self.locator(".tlw-camera-toggle").click()

    def camera_label(self) -> str:
        return str(self.locator(".tlw-camera-toggle").inner_text()).strip()

    def add_class(self, name: str) -> None:
        """Types a class name, presses "Add" and waits until the class is listed."""
        box = self.locator(".tlw-capture-class-name input")
        box.fill(name)
        box.press("Tab")  # the Text widget syncs its value
        self.locator("button.tlw-capture-add").click()
        self.wait_count(name, timeout=20_000)

    def shutter(self) -> Any:
        return self.locator(".tlw-webcam-shutter")

    def snap(self) -> None:
        """One click on the shutter: one frame."""
        self.shutter().click()

    def hold(self, seconds: float) -> None:
        """Presses and holds the shutter for ``seconds``."""
        self.shutter().hover()
        self.page.mouse.down()
        self.page.wait_for_timeout(int(seconds * 1000))
        self.page.mouse.up()

    def record(self, name: str, seconds: float) -> int:
        """Picks class ``name``, holds the shutter for ``seconds``; returns the frames it then has."""
        self.locator(".tlw-capture-classes button").filter(has_text=name).click()
        self.page.wait_for_function("([sel, name]) => document.querySelector(sel)?.innerText === name",
                                    arg=[self.css(".tlw-capture-current td"), name], timeout=10_000)
        before = self.counts().get(name, 0)
        self.hold(seconds)
        self.wait_count(name, more_than=before, timeout=60_000)
        # Frames sent while the button was down may still be queued in a busy kernel: wait until the count settles.
        last, same = -1, 0
        for _ in range(120):
            now = self.counts()[name]
            same = same + 1 if now == last else 0
            if same >= 3:
                break
            last = now
            self.page.wait_for_timeout(500)
        return self.counts()[name]

    def use_samples(self) -> None:
        """Presses "Use these samples" (the Studio's Data step then uses them)."""
        self.locator(".tlw-capture-use").click()

    def notice(self) -> str:
        return str(self.locator(".tlw-capture-notice").inner_text())

    def wait_notice(self, contains: str, timeout: float = 20_000) -> None:
        self.page.wait_for_function("([sel, c]) => (document.querySelector(sel)?.innerText || '').includes(c)",
                                    arg=[self.css(".tlw-capture-notice"), contains], timeout=timeout)

    def placeholder(self) -> str:
        return str(self.locator(".tlw-webcam-placeholder").inner_text())

    def phone_on(self, timeout: float = 20_000) -> str:
        """Presses "Use my phone" (again while the page has not told the kernel its address yet); returns the phone
        link shown under the QR code."""
        url = self.locator(".tlw-phone-qr .tlw-qr-url")
        for _try in range(10):
            if url.count() == 0:
                self.locator("button.tlw-phone-on").click()
            try:
                url.wait_for(state="visible", timeout=timeout / 10)
                break
            except Exception:  # noqa: BLE001 - not shown yet: press again (the status line says why)
                continue
        url.wait_for(state="visible", timeout=timeout)
        return str(url.inner_text()).strip()

    def phone_status(self) -> str:
        return str(self.locator(".tlw-phone-status").inner_text())

    def phone_qr(self) -> Any:
        """The QR code's element (for a screenshot)."""
        return self.locator(".tlw-phone-link")


class PhonePage:
    """The phone capture page that a seat's QR code opens (``server/phone_page.py``)."""

    def __init__(self, page: Any) -> None:
        self.page = page

    def wait_camera(self, timeout: float = 30_000) -> None:
        """Waits until the back camera's picture plays and the buttons are enabled."""
        self.page.wait_for_function("() => { const v = document.querySelector('.tlw-phone video');"
                                    " return !!v && v.readyState >= 2 && v.videoWidth > 0 &&"
                                    " !document.querySelector('.tlw-phone-snap').disabled; }", timeout=timeout)

    def class_name(self) -> str:
        return str(self.page.locator(".tlw-phone-class").inner_text()).strip()

    def sent(self) -> int:
        return int(self.page.locator(".tlw-phone-count-n").inner_text())

    def snap(self, timeout: float = 20_000) -> None:
        """Taps "Take photo" and waits until the server took it (the count goes up)."""
        before = self.sent()
        self.page.locator(".tlw-phone-snap").tap()
        self.page.wait_for_function("(n) => Number(document.querySelector('.tlw-phone-count-n').innerText) > n",
                                    arg=before, timeout=timeout)

    def hold(self, seconds: float) -> int:
        """Holds the record button down for ``seconds`` (pointer events, as a finger sends them); returns the photos
        sent once the last one is answered."""
        button = self.page.locator(".tlw-phone-hold")
        button.dispatch_event("pointerdown", {"pointerType": "touch", "isPrimary": True})
        self.page.wait_for_timeout(int(seconds * 1000))
        button.dispatch_event("pointerup", {"pointerType": "touch", "isPrimary": True})
        last, same = -1, 0
        for _ in range(40):  # a photo on its way is still counted: wait until the count settles
            now = self.sent()
            same = same + 1 if now == last else 0
            if same >= 3:
                break
            last = now
            self.page.wait_for_timeout(300)
        return self.sent()

    def send_files(self, *paths: str, timeout: float = 20_000) -> None:
        """"Take a photo with the camera app": hands ``paths`` to the page's file input (what the camera app
        returns) and waits until each was sent."""
        before = self.sent()
        self.page.locator(".tlw-phone-file").set_input_files(list(paths))
        self.page.wait_for_function("(n) => Number(document.querySelector('.tlw-phone-count-n').innerText) >= n",
                                    arg=before + len(paths), timeout=timeout)

    def live_shown(self) -> bool:
        """True when the live camera part (video, Take photo, Hold) is shown."""
        return bool(self.page.locator(".tlw-phone-live").is_visible())

    def message(self) -> str:
        """The server's answer to the last photo."""
        return str(self.page.locator(".tlw-phone-message").inner_text())

    def wait_hint(self, contains: str, timeout: float = 20_000) -> str:
        """Waits until the page's lasting hint (no camera: why) contains ``contains``; returns it."""
        self.page.wait_for_function("(c) => (document.querySelector('.tlw-phone-hint')?.innerText || '').includes(c)",
                                    arg=contains, timeout=timeout)
        return str(self.page.locator(".tlw-phone-hint").inner_text())

    def refused(self) -> str:
        """The reason on the page a link that opens nothing gets."""
        return str(self.page.locator(".tlw-phone-refused").inner_text())
