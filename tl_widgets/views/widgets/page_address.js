// PageAddress: tells the kernel the address this page was opened at (scheme, host, port, the server's base path),
// as the browser used it: an IP over https, a name, localhost. Nothing else is read or sent.
function baseUrl() {
  let base = "/";
  try {
    const config = document.getElementById("jupyter-config-data");
    if (config) base = JSON.parse(config.textContent).baseUrl || "/";
  } catch (e) {
    base = "/";
  }
  return new URL(base, window.location.href).href;
}

function render({ model, el }) {
  el.classList.add("tlw-page-address");
  el.style.display = "none";
  model.set("base_url", baseUrl());
  model.set("secure", Boolean(window.isSecureContext));
  model.save_changes();
}
export default { render };
