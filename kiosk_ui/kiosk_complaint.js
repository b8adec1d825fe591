/*
 * The kiosk's complaint form (投诉/意见) under the services: the shared form
 * (server/static/complaint_form.js) with big buttons in both languages, sent with the kiosk's own
 * token (no ticket: the visitor may not have one). What a visitor typed and walked away from is
 * cleared after IDLE_MS without a touch, so the next visitor never sees it.
 */
(function () {
  "use strict";
  var IDLE_MS = 90000;
  var root = document.querySelector("#complaint");
  if (!root || !window.QCallComplaint) return;
  var form = window.QCallComplaint.mount(root, {});
  var idle = null;
  function touched() {
    clearTimeout(idle);
    idle = setTimeout(function () { form.reset(); }, IDLE_MS);
  }
  ["click", "input", "keydown"].forEach(function (name) { root.addEventListener(name, touched); });
  // The form, open, is the whole screen (kiosk.css); once sent it closes and the thanks appear
  // under the services: brought into view, or the visitor would not see them.
  var done = root.querySelector(".qc-done");
  if (done && window.MutationObserver) {
    new MutationObserver(function () {
      if (!done.hidden) done.scrollIntoView({ block: "center" });
    }).observe(done, { attributes: true, attributeFilter: ["hidden"] });
  }
})();
