// The draw-a-digit dashboard's page script (Voila template "mlp-dashboard").
//
// It runs in <head>, before Voila's own scripts, and does three things Voila does not:
//
// 1. Says so when the page has lost its kernel. Without this, a page whose server stopped, or
//    whose kernel died or was culled, keeps showing the pad and silently ignores every stroke.
//    The script watches the page's kernel websocket: when it closes (and no new one opens), or
//    when the kernel reports that it is restarting or dead (a restarted kernel has none of the
//    page's widgets), a banner asks the visitor to reload. A kernel gone before the page connected
//    (shut down, culled) gives no websocket at all: Voila's page asks the server for the kernel
//    (`GET api/kernels/<id>`), gets 404 and silently shows no pad. The script watches for that
//    answer too, and asks the server itself when a socket closes and once the page has loaded.
// 2. Refuses, with a message, a file too large for one websocket message (the server's
//    websocket_max_message_size, given by the template as data-max-message-bytes). Sent anyway,
//    it would make the server close the page's connection without a word.
// 3. Lets the "shut my kernel down" beacon pass the server's XSRF check. Voila's page sends it
//    on unload with the `_xsrf` cookie as its token, but a standalone Voila never sets that
//    cookie, so the server refused it (Voila issue #1458) and every closed tab kept its kernel.
//    The script sets a random one when there is none (a double-submit token: the server only
//    checks that the cookie and the form field agree), and sends the beacon on `pagehide` too,
//    which phones fire when `beforeunload` never comes.
(function () {
  "use strict";

  const script = document.currentScript;
  const BASE_URL = script.dataset.baseUrl || "/";
  const MAX_MESSAGE_BYTES = Number(script.dataset.maxMessageBytes);
  // A file travels as one binary buffer in a message that also carries a little JSON.
  const ENVELOPE_BYTES = 64 * 1024;
  const KERNEL_CHANNELS = /\/api\/kernels\/[\w-]+\/channels/;
  const KERNEL_MODEL = /\/api\/kernels\/[\w-]+\/?(\?|$)/;
  const CHECK_AFTER_LOAD_MS = 10000; // the page's own connection is up within seconds of loading
  const LOST =
    "The connection to the server is lost, so your drawings are not read any more. " +
    "Reload the page to start again.";
  const STOPPED =
    "The program behind this page stopped, so your drawings are not read any more. " +
    "Reload the page to start again.";

  let leaving = false; // the visitor is closing or reloading the page: its sockets close on purpose
  let kernelStopped = false;
  const openSockets = new Set();

  // --- 1. The banner ---------------------------------------------------------------------------

  function showBanner(message) {
    if (leaving) return;
    let banner = document.getElementById("mlp-connection-banner");
    if (banner === null) {
      banner = document.createElement("div");
      banner.id = "mlp-connection-banner";
      banner.className = "mlp-banner";
      banner.setAttribute("role", "alert");
      const text = document.createElement("span");
      text.className = "mlp-banner-text";
      const reload = document.createElement("button");
      reload.type = "button";
      reload.textContent = "Reload";
      reload.addEventListener("click", () => window.location.reload());
      banner.append(text, reload);
      document.body.prepend(banner);
    }
    banner.querySelector(".mlp-banner-text").textContent = message;
    banner.hidden = false;
  }

  function hideBanner() {
    const banner = document.getElementById("mlp-connection-banner");
    if (banner !== null && !kernelStopped) banner.hidden = true;
  }

  const decoder = new TextDecoder();

  // The kernel's execution state if `data` is a status message on the iopub channel, else null.
  // v1 frames (what pages speak) start with a little-endian count of 8-byte offsets; the parts
  // they delimit are the channel, the header, the parent header, the metadata and the content.
  function kernelStatus(data) {
    try {
      if (typeof data === "string") {
        const message = JSON.parse(data);
        const isStatus = message.channel === "iopub" && message.header.msg_type === "status";
        return isStatus ? message.content.execution_state : null;
      }
      const view = new DataView(data);
      const count = Number(view.getBigUint64(0, true));
      if (count < 6 || 8 * (count + 1) > data.byteLength) return null;
      const part = (i) => {
        const start = Number(view.getBigUint64(8 * (i + 1), true));
        const end = Number(view.getBigUint64(8 * (i + 2), true));
        return decoder.decode(new Uint8Array(data, start, end - start));
      };
      if (part(0) !== "iopub" || JSON.parse(part(1)).msg_type !== "status") return null;
      return JSON.parse(part(4)).execution_state;
    } catch (error) {
      return null; // not a message this script understands: none of its business
    }
  }

  function kernelGone() {
    kernelStopped = true;
    showBanner(STOPPED);
  }

  // Asks the server whether the page's kernel still exists: 404, it is gone for good.
  function checkKernel() {
    const config = document.getElementById("jupyter-config-data");
    const kernelId = config === null ? null : JSON.parse(config.textContent).kernelId;
    if (!kernelId || leaving) return;
    nativeFetch(`${BASE_URL}api/kernels/${kernelId}`, { cache: "no-store" })
      .then((response) => {
        if (response.status === 404) kernelGone();
      })
      .catch(() => {}); // the server itself is unreachable: the socket's close says so
  }

  function watch(socket) {
    socket.addEventListener("open", () => {
      openSockets.add(socket);
      hideBanner(); // reconnected after a short outage: the same kernel, the page works again
    });
    socket.addEventListener("close", () => {
      openSockets.delete(socket);
      // The page's services reconnect by themselves: only a page with no socket left is cut off.
      if (openSockets.size === 0) {
        showBanner(kernelStopped ? STOPPED : LOST);
        checkKernel(); // shut down or culled: say that, not "the connection is lost"
      }
    });
    socket.addEventListener("message", (event) => {
      const state = kernelStatus(event.data);
      if (state === "restarting" || state === "dead") {
        kernelStopped = true;
        showBanner(STOPPED);
      }
    });
  }

  // Voila's page asks for its kernel's model before it opens any websocket: a 404 means no pad.
  const nativeFetch = window.fetch.bind(window);
  window.fetch = function (resource, options) {
    const answer = nativeFetch(resource, options);
    const url = resource instanceof Request ? resource.url : String(resource);
    const method = (options && options.method) || (resource instanceof Request ? resource.method : "GET");
    if (method.toUpperCase() === "GET" && KERNEL_MODEL.test(url)) {
      answer
        .then((response) => {
          if (response.status === 404) kernelGone();
        })
        .catch(() => {});
    }
    return answer;
  };
  window.addEventListener("load", () => setTimeout(checkKernel, CHECK_AFTER_LOAD_MS));

  const NativeWebSocket = window.WebSocket;
  window.WebSocket = class extends NativeWebSocket {
    constructor(url, protocols) {
      super(url, protocols);
      if (KERNEL_CHANNELS.test(String(url))) watch(this);
    }
  };

  // --- 2. Files too large for one message ------------------------------------------------------

  function showNotice(message) {
    let notice = document.getElementById("mlp-upload-notice");
    if (notice === null) {
      notice = document.createElement("div");
      notice.id = "mlp-upload-notice";
      notice.className = "mlp-notice";
      notice.setAttribute("role", "alert");
      document.body.append(notice);
    }
    notice.textContent = message;
    notice.hidden = false;
    // Gone at the next touch or click anywhere: the pad is usable at once.
    document.addEventListener("pointerdown", () => (notice.hidden = true), { once: true, capture: true });
  }

  function refuseTooLarge(event) {
    const input = event.target;
    if (!(input instanceof HTMLInputElement) || input.type !== "file") return;
    const tooLarge = Array.from(input.files || []).find(
      (file) => file.size > MAX_MESSAGE_BYTES - ENVELOPE_BYTES,
    );
    if (tooLarge === undefined) return;
    // Capture phase on the input itself: this runs before the widget's own listener, which
    // would read the file and send it.
    event.stopImmediatePropagation();
    input.value = "";
    const megabytes = (tooLarge.size / 1e6).toFixed(1);
    showNotice(`${tooLarge.name} is ${megabytes} MB, too large to send. Please choose a smaller image.`);
  }

  // ipywidgets' FileUpload opens a file input that is never added to the page, so a listener on
  // the document would not hear it: each file input gets the check when it is clicked open.
  const nativeClick = HTMLInputElement.prototype.click;
  HTMLInputElement.prototype.click = function () {
    if (this.type === "file" && this.dataset.mlpSizeChecked === undefined) {
      this.dataset.mlpSizeChecked = "";
      this.addEventListener("change", refuseTooLarge, { capture: true });
    }
    return nativeClick.call(this);
  };
  document.addEventListener("change", refuseTooLarge, { capture: true }); // file inputs in the page

  // --- 3. The unload beacon --------------------------------------------------------------------

  function xsrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)_xsrf=([^;]*)/);
    return match === null ? null : match[1];
  }

  if (xsrfToken() === null) {
    const token = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) =>
      b.toString(16).padStart(2, "0"),
    ).join("");
    document.cookie = `_xsrf=${token}; path=${BASE_URL}; SameSite=Strict`;
  }

  window.addEventListener("beforeunload", () => (leaving = true));
  window.addEventListener("pagehide", () => {
    // Voila's own beacon goes on beforeunload; a page hidden without one (phones) sends it here.
    const wasLeaving = leaving;
    leaving = true;
    if (wasLeaving) return;
    const config = document.getElementById("jupyter-config-data");
    const kernelId = config === null ? null : JSON.parse(config.textContent).kernelId;
    if (!kernelId) return;
    const form = new FormData();
    form.append("_xsrf", xsrfToken() || "");
    navigator.sendBeacon(`${BASE_URL}voila/api/shutdown/${kernelId}`, form);
  });
})();
