// Browser side of tl_widgets.views.widgets.a11y.AccessibilityHelper (an anywidget ES module).
//
// The helper sits, invisible, inside a widget box (the Studio). It watches that
// box and fills the gaps ipywidgets 8 leaves for assistive technology:
// - slider handles (noUiSlider) get the slider's description (or tooltip) as
//   their accessible name;
// - any other control still without a name gets its widget's description
//   label or tooltip;
// - Font Awesome icons inside buttons and accordion headers are hidden from
//   the accessibility tree (their glyph is a private-use character that would
//   be read out as part of the button's name);
// - accordion headers become buttons: focusable, aria-expanded, and opened
//   with Enter or Space (ipywidgets makes them mouse-only).
// Controls that still have no name afterwards are left as they are, so the
// accessibility test finds them and they get fixed in Python.

const CONTROLS =
  'button, input:not([type="hidden"]), select, textarea, [role="slider"], [role="button"], [role="tab"], ' +
  '[role="checkbox"], [role="radio"], [role="combobox"], [role="listbox"], [role="textbox"]';
const WIDGET = ".widget-inline-hbox, .widget-inline-vbox, .jupyter-widgets";

function clean(text) {
  // ipywidgets writes title="null" when a tooltip is unset, and a zero-width space into empty labels.
  const t = (text || "").replace(/[\u200b\s]+/g, " ").trim();
  return t === "null" ? "" : t;
}

function hasName(el) {
  if (clean(el.getAttribute("aria-label")) || el.getAttribute("aria-labelledby")) return true;
  if (el.tagName !== "SELECT" && clean(el.getAttribute("title"))) return true;  // a listbox ignores its title
  if (el.labels && Array.from(el.labels).some((label) => clean(label.textContent))) return true;
  const tag = el.tagName;
  if ((tag === "BUTTON" || el.getAttribute("role") === "button" || el.getAttribute("role") === "tab") &&
      clean(el.textContent)) return true;
  return tag === "INPUT" && ["button", "submit", "reset"].includes(el.type) && clean(el.value);
}

function widgetName(el) {
  // The description label or tooltip of the innermost ipywidget holding `el`.
  for (let w = el.closest(WIDGET); w; w = w.parentElement && w.parentElement.closest(WIDGET)) {
    const label = w.querySelector(":scope > label.widget-label");
    const text = clean(label && label.textContent) || clean(w.getAttribute("title"));
    if (text) return text;
    if (w.classList.contains("widget-container")) return "";  // don't borrow a name from a whole box
  }
  return "";
}

function nameControls(root, texts) {
  for (const handle of root.querySelectorAll(".noUi-handle")) {
    if (hasName(handle)) continue;
    const name = widgetName(handle);
    if (!name) continue;
    const handles = handle.closest(".noUi-base") ? handle.closest(".noUi-base").querySelectorAll(".noUi-handle") : [];
    const which = handles.length === 2 ? ` (${handle.dataset.handle === "0" ? texts.lower : texts.upper})` : "";
    handle.setAttribute("aria-label", name + which);
  }
  for (const el of root.querySelectorAll(CONTROLS)) {
    if (hasName(el)) continue;
    const name = widgetName(el) || clean(el.getAttribute("title"));
    if (name) el.setAttribute("aria-label", name);
  }
  for (const icon of root.querySelectorAll("button i.fa, .jupyter-widget-Collapse-header > i.fa")) {
    icon.setAttribute("aria-hidden", "true");
  }
  for (const header of root.querySelectorAll(".jupyter-widget-Collapse-header")) {
    if (!header.hasAttribute("tabindex")) {
      header.setAttribute("role", "button");
      header.setAttribute("tabindex", "0");
      header.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter" || ev.key === " ") {
          ev.preventDefault();
          header.click();
        }
      });
    }
    const open = header.parentElement && header.parentElement.classList.contains("jupyter-widget-Collapse-open");
    if (header.getAttribute("aria-expanded") !== String(open)) header.setAttribute("aria-expanded", String(open));
  }
}

function render({ model, el }) {
  let observer = null;
  let pending = false;
  let tries = 0;
  const texts = () => ({ lower: "from", upper: "to", ...(model.get("texts") || {}) });
  const start = () => {
    // The box that holds this helper: known once the view is attached to the page.
    const root = el.isConnected && el.parentElement ? el.parentElement.closest(".widget-container") : null;
    if (!root) {
      if (tries++ < 300) setTimeout(start, 100);
      return;
    }
    const pass = () => {
      pending = false;
      nameControls(root, texts());
    };
    observer = new MutationObserver(() => {
      if (!pending) {
        pending = true;
        setTimeout(pass, 50);
      }
    });
    observer.observe(root, { childList: true, subtree: true, attributes: true, attributeFilter: ["class"] });
    pass();
  };
  start();
  return () => observer && observer.disconnect();
}

export default { render };
