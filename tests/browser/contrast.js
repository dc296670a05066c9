// WCAG 2 contrast of every visible text inside the Studio, for tests/browser/test_accessibility.py.
// Evaluated by Playwright as `(studio) => [...]` with the Studio's CSS selector: one entry per text element,
// with the text colour blended (its alpha, the element's and its ancestors' opacity) over the background
// blended from the ancestors' background colours (the page is white below them). Plotly chart text (SVG)
// is measured against the chart's paper colour (annotations: their own bgcolor, else the plot colour).
// Disabled controls are exempt (WCAG 1.4.3); heatmap cell texts are left out (their background is the
// cell's colour scale).
(studio) => {
  const parse = (c) => {
    const m = /rgba?\(([^)]+)\)/.exec(c || "");
    if (!m) return null;
    const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const over = (top, below) => ({
    r: top.r * top.a + below.r * (1 - top.a), g: top.g * top.a + below.g * (1 - top.a),
    b: top.b * top.a + below.b * (1 - top.a), a: 1,
  });
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const hex = (c) => "#" + [c.r, c.g, c.b].map((v) => Math.round(v).toString(16).padStart(2, "0")).join("");
  const opacity = (el) => { let o = 1; for (let e = el; e && e.nodeType === 1; e = e.parentElement) o *= Number(getComputedStyle(e).opacity); return o; };
  const background = (el) => {
    const chain = [];
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) chain.push(e);
    let bg = { r: 255, g: 255, b: 255, a: 1 };
    for (const e of chain.reverse()) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0) bg = over(c, bg);
    }
    return bg;
  };
  const where = (el) => {
    const owner = el.closest('[class*="tlw-"]');
    const tlw = owner ? Array.from(owner.classList).filter((c) => c.startsWith("tlw-")).join(".") : "?";
    const cls = typeof el.className === "string" ? el.className : (el.className && el.className.baseVal) || "";
    return `.${tlw} <${el.tagName.toLowerCase()} class="${cls.slice(0, 60)}">`;
  };
  const large = (style) => {
    const px = parseFloat(style.fontSize), bold = Number(style.fontWeight) >= 700 || style.fontWeight === "bold";
    return px >= 24 || (bold && px >= 18.66);
  };
  const visible = (el) => {
    if (!el.getClientRects().length) return false;
    const s = getComputedStyle(el);
    return s.visibility !== "hidden" && s.display !== "none";
  };
  const out = [];
  const root = document.querySelector(studio);
  if (!root) return out;
  const seen = new Set();
  // HTML: elements with their own text, and form controls showing a value.
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const elements = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!n.textContent.replace(/[\u200b\s]/g, "") || !el || seen.has(el) || el.closest("svg")) continue;
    seen.add(el);
    elements.push([el, n.textContent.trim()]);
  }
  for (const el of root.querySelectorAll("input:not([type=checkbox]):not([type=radio]):not([type=file]), select, textarea")) {
    if (el.value && !seen.has(el)) elements.push([el, String(el.value).trim()]);
  }
  for (const [el, text] of elements) {
    if (!visible(el) || el.closest("button:disabled, input:disabled, select:disabled, textarea:disabled, .mod-disabled, [role='img'] .modebar")) continue;
    if (el.closest("style, script")) continue;
    const s = getComputedStyle(el);
    const color = parse(s.color);
    if (!color) continue;
    const bg = background(el);
    const fg = over({ ...color, a: color.a * opacity(el) }, bg);
    out.push({ text: text.slice(0, 50), ratio: ratio(fg, bg), needed: large(s) ? 3 : 4.5, color: hex(fg),
               background: hex(bg), where: where(el) });
  }
  // Plotly charts: SVG text against the paper (or an annotation's box / the plot area).
  for (const gd of root.querySelectorAll(".js-plotly-plot")) {
    if (!visible(gd) || !gd._fullLayout) continue;
    const paper = over(parse(gd._fullLayout.paper_bgcolor) || { r: 255, g: 255, b: 255, a: 1 }, background(gd));
    const plot = over(parse(gd._fullLayout.plot_bgcolor) || { r: 255, g: 255, b: 255, a: 0 }, paper);
    for (const t of gd.querySelectorAll("text")) {
      if (!t.textContent.trim() || !t.getClientRects().length || t.closest(".hoverlayer, .textpoint, .heatmaplayer")) continue;
      const s = getComputedStyle(t);
      const fill = parse(s.fill);
      if (!fill) continue;
      let bg = paper;
      const bar = t.classList.contains("bartext-inside") && t.closest(".point");
      const barFill = bar && bar.querySelector("path") && parse(getComputedStyle(bar.querySelector("path")).fill);
      if (barFill) bg = over(barFill, plot);  // a label inside a bar sits on the bar
      const ann = t.closest(".annotation");
      if (ann) {
        const rect = ann.querySelector("rect.bg");
        const c = rect && parse(getComputedStyle(rect).fill);
        bg = c && c.a * Number(getComputedStyle(rect).fillOpacity || 1) > 0 ?
          over({ ...c, a: c.a * Number(getComputedStyle(rect).fillOpacity || 1) }, plot) : plot;
      }
      const alpha = fill.a * Number(s.fillOpacity || 1) * Number(s.opacity || 1) * opacity(t.parentElement);
      const fg = over({ ...fill, a: alpha }, bg);
      out.push({ text: t.textContent.trim().slice(0, 50), ratio: ratio(fg, bg), needed: large(s) ? 3 : 4.5,
                 color: hex(fg), background: hex(bg), where: where(t) });
    }
  }
  return out;
}
