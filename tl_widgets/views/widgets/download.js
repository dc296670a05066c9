// Download: the kernel sends a file's bytes; the page saves them (Blob + a download link), nothing served by URL.
function render({ model, el }) {
  el.classList.add("tlw-download");
  el.style.display = "none";
  model.on("msg:custom", (msg, buffers) => {
    if (!msg || msg.kind !== "download" || !buffers || !buffers.length) return;
    const data = buffers[0];
    const blob = new Blob([data.buffer ? data.buffer : data], { type: msg.mime || "application/octet-stream" });
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = msg.filename || "download";
    a.classList.add("tlw-download-link");
    document.body.appendChild(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(url); a.remove(); }, 60000);
  });
}
export default { render };
