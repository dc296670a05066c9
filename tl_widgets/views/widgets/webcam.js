// Browser side of tl_widgets.views.widgets.webcam.Webcam (an anywidget ES module).
//
// The camera runs in the page (getUserMedia) only while the model's `on` is true. The shutter button
// sends frames to the kernel as JPEG bytes: a click sends one frame; with `hold` true, pressing and
// holding records up to `max_frames` frames at `fps` frames per second (pointer or Space/Enter key).
// Each frame is a custom message {type: "frame", burst, seq} with one binary buffer (the JPEG).
// A refused or failed camera sets `error` to the DOMException's name; Python turns it into a sentence.
// The kernel checks every frame again: nothing here is trusted.

function el_(tag, cls, parent) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (parent) parent.appendChild(node);
  return node;
}

const STYLE_ID = "tlw-webcam-style";
const CSS = `
.tlw-webcam-view { display: flex; flex-direction: column; gap: 6px; align-items: flex-start; }
.tlw-webcam-video { border-radius: 4px; background: #222; }
.tlw-webcam-placeholder { align-items: center; justify-content: center; text-align: center; padding: 8px;
  box-sizing: border-box; background: #eee; color: #333; border: 1px dashed #888; border-radius: 4px; }
.tlw-webcam-shutter { background: #b71c1c; color: #fff; border: none; border-radius: 16px; padding: 6px 16px;
  font: 600 13px sans-serif; line-height: 20px; cursor: pointer; touch-action: none; user-select: none; }
.tlw-webcam-shutter:disabled { background: #d6d6d6; color: #444; cursor: not-allowed; }
.tlw-webcam-shutter:focus-visible { outline: 3px solid #1a4f8b; outline-offset: 2px; }
.tlw-webcam-shutter.tlw-recording { background: #7f0000; }
.tlw-webcam-progress { color: #333; min-height: 1.2em; }
`;

function addStyle() {
  if (document.getElementById(STYLE_ID)) return;
  const style = document.createElement("style");
  style.id = STYLE_ID;
  style.textContent = CSS;
  document.head.appendChild(style);
}

function render({ model, el }) {
  addStyle();
  const root = el_("div", "tlw-webcam-view", el);
  const video = el_("video", "tlw-webcam-video", root);
  video.muted = true;
  video.autoplay = true;
  video.playsInline = true;
  video.setAttribute("aria-label", model.get("labels").video || "Camera preview");
  const placeholder = el_("div", "tlw-webcam-placeholder", root);
  const shutter = el_("button", "tlw-webcam-shutter", root);
  shutter.type = "button";
  const progress = el_("div", "tlw-webcam-progress", root);
  progress.setAttribute("aria-live", "polite");
  const canvas = document.createElement("canvas");

  let stream = null;
  let starting = null;
  let burst = 0;
  let timer = null;
  let sent = 0;
  let busy = false;

  const label = (key, fallback) => (model.get("labels") || {})[key] || fallback;

  function paint() {
    const on = model.get("on");
    const live = !!stream;
    video.style.display = live ? "block" : "none";
    video.style.width = model.get("width") + "px";
    placeholder.style.display = live ? "none" : "flex";
    placeholder.style.width = model.get("width") + "px";
    placeholder.style.height = Math.round(model.get("width") * 0.75) + "px";
    placeholder.textContent = on ? label("starting", "Starting the camera…") : label("off", "Camera off");
    if (model.get("error")) placeholder.textContent = label("failed", "No camera picture");
    shutter.textContent = timer ? label("recording", "Recording…") : label("shutter", "Capture");
    shutter.title = model.get("hold") ? label("hold_help", "Click: one frame. Hold: record.") : "";
    shutter.disabled = !live || !model.get("enabled");
    shutter.classList.toggle("tlw-recording", !!timer);
  }

  function stopStream() {
    stopBurst();
    if (stream) {
      stream.getTracks().forEach((t) => t.stop());
      model.set("live", false);
      model.save_changes();
    }
    stream = null;
    video.srcObject = null;
    paint();
  }

  async function startStream() {
    if (stream || starting) return;
    model.set("error", "");
    model.save_changes();
    paint();
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      model.set("error", window.isSecureContext ? "NotSupportedError" : "InsecureContextError");
      model.save_changes();
      paint();
      return;
    }
    starting = navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
    try {
      const s = await starting;
      if (!model.get("on")) {
        s.getTracks().forEach((t) => t.stop());
        return;
      }
      stream = s;
      video.srcObject = s;
      await video.play().catch(() => {});
      model.set("live", true);
      model.save_changes();
    } catch (err) {
      model.set("error", (err && err.name) || "Error");
      model.set("live", false);
      model.save_changes();
    } finally {
      starting = null;
      paint();
    }
  }

  async function sendFrame(burstId) {
    if (!stream || busy || !video.videoWidth) return false;
    busy = true;
    try {
      const w = Math.min(model.get("frame_width"), video.videoWidth);
      const h = Math.round((video.videoHeight * w) / video.videoWidth);
      canvas.width = w;
      canvas.height = h;
      canvas.getContext("2d").drawImage(video, 0, 0, w, h);
      const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", model.get("quality")));
      if (!blob) return false;
      const bytes = await blob.arrayBuffer();
      sent += 1;
      model.send({ type: "frame", burst: burstId, seq: sent }, undefined, [bytes]);
      return true;
    } finally {
      busy = false;
    }
  }

  function stopBurst() {
    if (timer) {
      clearInterval(timer);
      timer = null;
      model.send({ type: "burst_end", burst: burst });
    }
    progress.textContent = "";
    paint();
  }

  function startBurst() {
    if (shutter.disabled || timer) return;
    burst += 1;
    sent = 0;
    const id = burst;
    sendFrame(id);  // the first frame at once: a click is one frame
    if (!model.get("hold")) return;
    const limit = model.get("max_frames");
    const period = 1000 / Math.max(1, model.get("fps"));
    timer = setInterval(async () => {
      if (sent >= limit || !stream) return stopBurst();
      await sendFrame(id);
      progress.textContent = `${sent} / ${limit}`;
    }, period);
    paint();
  }

  shutter.addEventListener("pointerdown", (e) => { e.preventDefault(); startBurst(); });
  shutter.addEventListener("pointerup", stopBurst);
  shutter.addEventListener("pointerleave", stopBurst);
  shutter.addEventListener("pointercancel", stopBurst);
  shutter.addEventListener("keydown", (e) => {
    if ((e.key === " " || e.key === "Enter") && !e.repeat) { e.preventDefault(); startBurst(); }
  });
  shutter.addEventListener("keyup", (e) => { if (e.key === " " || e.key === "Enter") stopBurst(); });

  const onCustom = (msg) => { if (msg && msg.type === "stop") stopBurst(); };
  model.on("msg:custom", onCustom);
  const onOn = () => (model.get("on") ? startStream() : stopStream());
  model.on("change:on", onOn);
  const repaint = () => paint();
  for (const name of ["enabled", "labels", "width", "hold", "error"]) model.on("change:" + name, repaint);
  if (model.get("on")) startStream();
  paint();

  return () => {
    model.off("msg:custom", onCustom);
    model.off("change:on", onOn);
    for (const name of ["enabled", "labels", "width", "hold", "error"]) model.off("change:" + name, repaint);
    stopStream();
  };
}

export default { render };
