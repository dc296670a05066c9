// Browser side of tl_widgets.views.widgets.chart.PlotlyChart (an anywidget ES module).
//
// Plotly.js is not part of this module: the first view on a page asks its
// kernel for the gzipped plotly.min.js bundled with the Python plotly package,
// evaluates it once as an ES module and caches the promise on globalThis,
// keyed by version. Every other chart on the page reuses it.
//
// Figure changes arrive as custom messages and are applied strictly in order
// through one promise chain per view: react / snapshot (full redraw),
// extend (Plotly.extendTraces), add_traces, restyle, relayout.

const CACHE_KEY = "__tl_widgets_plotly__";
const LOAD_TIMEOUT_MS = 120000;
const PLOT_CONFIG = { displaylogo: false, responsive: true };

async function decodePayload(view, encoding) {
  const blob = new Blob([view]);
  if (encoding === "gzip") {
    const stream = blob.stream().pipeThrough(new DecompressionStream("gzip"));
    return await new Response(stream).text();
  }
  return await blob.text();
}

async function evaluatePlotly(source) {
  // plotly.min.js is a UMD bundle: give it a CommonJS-like `module` so it
  // hands Plotly back to us, and restore any window.Plotly it overwrote.
  const prefix =
    "const module = { exports: {} }; const exports = module.exports;\n" +
    "const __tlwPrevious = globalThis.Plotly;\n";
  const suffix =
    "\n;const __tlwPlotly = module.exports;\n" +
    "if (__tlwPrevious === undefined) { delete globalThis.Plotly; } else { globalThis.Plotly = __tlwPrevious; }\n" +
    "export default __tlwPlotly;\n";
  const url = URL.createObjectURL(new Blob([prefix, source, suffix], { type: "text/javascript" }));
  try {
    const mod = await import(/* webpackIgnore: true */ url);
    if (!mod.default || typeof mod.default.react !== "function") {
      throw new Error("the Plotly.js bundle did not export Plotly");
    }
    return mod.default;
  } finally {
    URL.revokeObjectURL(url);
  }
}

function requestPlotly(model, viewId) {
  return new Promise((resolve, reject) => {
    const onMessage = (msg, buffers) => {
      if (!msg || msg.type !== "plotly") return;
      clearTimeout(timer);
      model.off("msg:custom", onMessage);
      if (!buffers || buffers.length !== 1) {
        reject(new Error("the kernel sent no Plotly.js buffer"));
        return;
      }
      decodePayload(buffers[0], msg.encoding).then(evaluatePlotly).then(resolve, reject);
    };
    const timer = setTimeout(() => {
      model.off("msg:custom", onMessage);
      reject(new Error("the kernel did not send Plotly.js (is it running?)"));
    }, LOAD_TIMEOUT_MS);
    model.on("msg:custom", onMessage);
    model.send({ type: "plotly?", view: viewId, gzip: typeof DecompressionStream === "function" });
  });
}

function loadPlotly(model, viewId) {
  const version = model.get("_plotly_version");
  const cache = (globalThis[CACHE_KEY] ??= {});
  if (!cache[version]) {
    cache[version] = requestPlotly(model, viewId).catch((err) => {
      delete cache[version];
      throw err;
    });
  }
  return cache[version];
}

function newViewId() {
  return Math.random().toString(36).slice(2, 12) + Date.now().toString(36);
}

function plainText(title) {
  const text = typeof title === "string" ? title : (title && title.text) || "";
  return text.replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim();
}

// A chart is one image to assistive technology, named by the widget's label, else its title and axis
// titles; Plotly's own SVG and mouse tools (the mode bar) are hidden from it.
function nameChart(box, label) {
  const layout = box.layout || {};
  const axes = [layout.yaxis, layout.xaxis].map((a) => plainText(a && a.title)).filter(Boolean).join(" / ");
  const name = label || [plainText(layout.title), axes].filter(Boolean).join(": ");
  box.setAttribute("role", "img");
  if (name) box.setAttribute("aria-label", name);
  else box.removeAttribute("aria-label");
  for (const child of box.children) child.setAttribute("aria-hidden", "true");
}

function render({ model, el }) {
  const viewId = newViewId();
  const box = document.createElement("div");
  box.className = "tlw-plotly-chart";
  box.style.width = "100%";
  box.style.height = `${model.get("height")}px`;
  el.appendChild(box);

  let Plotly = null;
  let chain = Promise.resolve();
  let alive = true;

  const withHeight = (layout) => ({ uirevision: "tlw", ...(layout || {}), height: model.get("height") });
  const draw = (figure) => Plotly.react(box, (figure && figure.data) || [], withHeight(figure && figure.layout), PLOT_CONFIG);

  const apply = async (msg) => {
    if (!alive || !Plotly) return;
    switch (msg.type) {
      case "react":
      case "snapshot":
        await draw(msg.figure);
        break;
      case "extend":
        await Plotly.extendTraces(box, { x: msg.x, y: msg.y }, msg.traces, msg.max);
        break;
      case "add_traces":
        await Plotly.addTraces(box, msg.traces);
        break;
      case "restyle":
        await Plotly.restyle(box, msg.update, msg.traces);
        break;
      case "relayout":
        await Plotly.relayout(box, msg.update);
        break;
      default:
        break;
    }
    nameChart(box, model.get("label"));
  };
  const enqueue = (step) => {
    chain = chain.then(step).catch((err) => console.warn("[tl_widgets] chart update failed:", err));
  };

  model.on("msg:custom", (msg) => {
    if (!msg || typeof msg.type !== "string" || msg.type === "plotly") return;
    if (msg.view !== undefined && msg.view !== viewId) return;
    enqueue(() => apply(msg));
  });
  model.on("change:label", () => nameChart(box, model.get("label")));
  model.on("change:height", () => {
    box.style.height = `${model.get("height")}px`;
    enqueue(() => alive && Plotly && Plotly.relayout(box, { height: model.get("height") }));
  });

  enqueue(async () => {
    try {
      Plotly = await loadPlotly(model, viewId);
    } catch (err) {
      box.textContent = `Plotly.js could not be loaded: ${err.message}`;
      return;
    }
    if (!alive) return;
    await draw(model.get("_figure"));
    nameChart(box, model.get("label"));
    // Clicks go to the kernel as plain values; Python checks them (PlotlyChart.on_click).
    box.on("plotly_click", (ev) => {
      const p = ev && ev.points && ev.points[0];
      if (p) model.send({ type: "click", trace: p.curveNumber, x: p.x, y: p.y });
    });
  });
  // Ask for the current bounded snapshot: the synced _figure may be older.
  model.send({ type: "snapshot?", view: viewId });

  const resizer = new ResizeObserver(() => {
    if (alive && Plotly && box.data) Plotly.Plots.resize(box);
  });
  resizer.observe(box);

  return () => {
    alive = false;
    resizer.disconnect();
    if (Plotly) Plotly.purge(box);
  };
}

export default { render };
