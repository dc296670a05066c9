"""The phone capture page that a seat's QR code opens: self-contained HTML (no scripts or styles from elsewhere).

:func:`phone_page` is what ``GET <base>/tl-widgets-phone/<token>`` answers
(:mod:`tl_widgets.server.phone_capture`): the class the photos go into, the
back camera (``getUserMedia`` with ``facingMode: "environment"``), a "Take
photo" button, a hold-to-record button (a few photos a second while held), a
count of the photos sent, and the server's answer to each photo in words
(403, 413, 415, 429...). Where the page is not a secure context (plain http on
the room's network) the browser gives it no camera: it says so and offers the
phone's camera app instead (a file input), whose photos are scaled down and
sent the same way. The page posts to its own address plus ``/frame``, so the
token is not written into the HTML. Texts are the server's, in its language.
"""

from __future__ import annotations

import html
import json

from tl_widgets.core.i18n import _, current_language

__all__ = ["phone_page", "phone_error_page", "page_texts", "HOLD_FPS", "MAX_SIDE"]

#: Photos a second while the record button is held (under the server's per-link rate limit).
HOLD_FPS = 4
#: Longest side of a photo sent (the page scales the camera's picture down to it).
MAX_SIDE = 1024
_MAX_PER_HOLD = 40

_STYLE = """
*{box-sizing:border-box} body{font-family:system-ui,sans-serif;margin:0;padding:12px;background:#fafafa;color:#222}
h1{font-size:1.2em;margin:.2em 0} .class{font-size:1.3em;font-weight:700;color:#1565c0}
video{width:100%;max-height:55vh;background:#000;border-radius:8px;display:block}
button,.pick{display:block;width:100%;font-size:1.3em;padding:.9em;margin:.5em 0;border:0;border-radius:10px;
color:#fff;background:#1976d2;text-align:center;touch-action:none;user-select:none;-webkit-user-select:none}
button.rec{background:#c62828} button:disabled{background:#9e9e9e} .pick{background:#455a64}
.count{font-size:1.2em;margin:.4em 0} .msg{min-height:1.4em;color:#b71c1c;font-weight:600}
.ok{color:#2e7d32} input[type=file]{display:none} .hint{color:#6d4c41}
"""

_SCRIPT = """
const T = JSON.parse(document.getElementById("tlw-texts").textContent);
const FRAME_URL = location.pathname.replace(/\\/+$/, "") + "/frame";
const $ = (s) => document.querySelector(s);
let sent = 0, busy = false, holding = null, inHold = 0;
function say(text, ok) { const m = $(".tlw-phone-message"); m.textContent = text || ""; m.className =
  "msg tlw-phone-message" + (ok ? " ok" : ""); }
function hint(text) { $(".tlw-phone-hint").textContent = text; }
function scaled(source, w, h) {
  const k = Math.min(1, T.maxSide / Math.max(w, h)), c = document.createElement("canvas");
  c.width = Math.round(w * k); c.height = Math.round(h * k);
  c.getContext("2d").drawImage(source, 0, 0, c.width, c.height);
  return new Promise((done) => c.toBlob(done, "image/jpeg", 0.85));
}
async function send(blob) {
  if (!blob) { say(T.noPicture); return false; }
  busy = true;
  try {
    const r = await fetch(FRAME_URL, {method: "POST", body: blob, headers: {"Content-Type": "image/jpeg"},
                                      credentials: "omit", cache: "no-store"});
    let a = {}; try { a = await r.json(); } catch (e) { a = {}; }
    if (!r.ok) { say(a.message || (T.refused + " (" + r.status + ")")); return false; }
    sent += 1; $(".tlw-phone-count-n").textContent = String(sent);
    if (a["class"]) $(".tlw-phone-class").textContent = a["class"];
    say(T.saved, true); return true;
  } catch (e) { say(T.offline); return false; } finally { busy = false; }
}
async function snap() {
  const v = $("video");
  if (busy || !v.videoWidth) return false;
  return send(await scaled(v, v.videoWidth, v.videoHeight));
}
function stopHold() { if (holding) { clearInterval(holding); holding = null; } $(".tlw-phone-hold").textContent = T.hold; }
async function start() {
  if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    hint(T.notSecure); $(".tlw-phone-live").style.display = "none"; return;
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({audio: false,
      video: {facingMode: {ideal: "environment"}, width: {ideal: 1280}, height: {ideal: 720}}});
    $("video").srcObject = stream; await $("video").play();
    $(".tlw-phone-snap").disabled = false; $(".tlw-phone-hold").disabled = false;
  } catch (e) {
    const n = e && e.name;
    hint(n === "NotAllowedError" || n === "SecurityError" ? T.denied : n === "NotFoundError" ||
        n === "OverconstrainedError" ? T.noCamera : n === "NotReadableError" ? T.busyCamera : T.cameraFailed);
    $(".tlw-phone-live").style.display = "none";
  }
}
$(".tlw-phone-snap").addEventListener("click", () => { snap(); });
const hold = $(".tlw-phone-hold");
hold.addEventListener("pointerdown", (ev) => {
  ev.preventDefault(); if (holding || hold.disabled) return; inHold = 0; hold.textContent = T.recording;
  holding = setInterval(async () => {
    if (busy) return;
    if (inHold >= T.maxPerHold) { stopHold(); return; }
    inHold += 1; if (!(await snap())) stopHold();
  }, 1000 / T.fps);
});
for (const ev of ["pointerup", "pointerleave", "pointercancel"]) hold.addEventListener(ev, stopHold);
hold.addEventListener("contextmenu", (ev) => ev.preventDefault());
$(".tlw-phone-file").addEventListener("change", async (ev) => {
  for (const file of ev.target.files) {
    try { const bmp = await createImageBitmap(file); if (!(await send(await scaled(bmp, bmp.width, bmp.height)))) break; }
    catch (e) { say(T.notAPhoto); break; }
  }
  ev.target.value = "";
});
start();
"""


def page_texts() -> dict[str, object]:
    """The page's words (in the server's language) and numbers, as the script reads them."""
    return {
        "hold": _("Hold to record"), "recording": _("Recording… release to stop"),
        "saved": _("Sent to the Studio."), "offline": _("Can't reach the Studio's server; check the Wi-Fi and try again."),
        "refused": _("The Studio refused the photo"), "noPicture": _("The camera gave no picture; try again."),
        "notSecure": _("This page was opened over plain http, so the browser gives it no camera. Use 'Take a photo "
                       "with the camera app' below, or ask the teacher to start the room with --https."),
        "denied": _("The camera was refused. Allow the camera for this page in the browser's settings and reload."),
        "noCamera": _("No camera was found on this phone."),
        "busyCamera": _("The camera is in use by another app; close it and reload this page."),
        "cameraFailed": _("The camera could not start; reload this page."),
        "notAPhoto": _("That file is not a photo this browser can read."),
        "fps": HOLD_FPS, "maxSide": MAX_SIDE, "maxPerHold": _MAX_PER_HOLD,
    }


def _head(title: str) -> str:
    lang = html.escape(current_language().replace("_", "-"))
    return (f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f'<link rel="icon" href="data:,"><title>{html.escape(title)}</title>')


def phone_page(class_name: str, nonce: str) -> str:
    """The capture page for a link whose photos go into ``class_name``; ``nonce`` allows its one inline script."""
    texts = json.dumps(page_texts()).replace("</", "<\\/")
    title, into = html.escape(_("Phone camera — tl-widgets Studio")), html.escape(_("Photos go into the class"))
    snap, hold = html.escape(_("Take photo")), html.escape(_("Hold to record"))
    app, count = html.escape(_("Take a photo with the camera app")), html.escape(_("Photos sent:"))
    head = _head(_("Phone camera — tl-widgets Studio"))
    return f"""{head}<style nonce="{nonce}">{_STYLE}</style></head>
<body><div class="tlw-phone">
<h1>{title}</h1>
<p>{into} <span class="class tlw-phone-class">{html.escape(class_name)}</span></p>
<p class="hint tlw-phone-hint" role="status"></p>
<div class="tlw-phone-live"><video playsinline muted autoplay></video>
<button class="tlw-phone-snap" disabled>{snap}</button>
<button class="rec tlw-phone-hold" disabled>{hold}</button></div>
<label class="pick">{app}
<input class="tlw-phone-file" type="file" accept="image/*" capture="environment" multiple></label>
<p class="count tlw-phone-count">{count} <span class="tlw-phone-count-n">0</span></p>
<p class="msg tlw-phone-message" role="status" aria-live="polite"></p>
</div>
<script id="tlw-texts" type="application/json">{texts}</script>
<script nonce="{nonce}">{_SCRIPT}</script></body></html>"""


def phone_error_page(message: str) -> str:
    """The page a phone gets for a link that opens nothing (the reason in words; no script)."""
    title = _("Phone camera — tl-widgets Studio")
    return (f"{_head(title)}<style>body{{font-family:system-ui,sans-serif;padding:16px;font-size:1.2em}}</style>"
            f"</head><body><h1>{html.escape(title)}</h1><p class=\"tlw-phone-refused\">{html.escape(message)}</p>"
            "</body></html>")
