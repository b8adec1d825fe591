/*
 * The console's complaint form (投诉/意见): a clerk records what a visitor tells them at the counter,
 * naming the counter's current ticket when there is one (the hub finds the clerk concerned from its
 * legs). The form is the shared one (server/static/complaint_form.js), in both languages at once.
 * A console section (window.QCallConsoleSections, read by counter.js): enter, leave, draw.
 */
(function () {
  "use strict";
  var ctx = null;
  var form = null;

  function currentTicket() {
    var cur = ctx && ctx.view && ctx.view.current;
    return cur ? cur.id : null;
  }

  (window.QCallConsoleSections = window.QCallConsoleSections || []).push({
    words: { zh: {}, en: {} },
    enter: function (c) {
      ctx = c;
      var root = document.querySelector("#complaint-console");
      if (!root || !window.QCallComplaint) return;
      if (!form) form = window.QCallComplaint.mount(root, { ticket: currentTicket });
      root.hidden = false;
    },
    leave: function () {
      ctx = null;
      if (form) form.reset();
      var root = document.querySelector("#complaint-console");
      if (root) root.hidden = true;
    },
    draw: function (c) { ctx = c; }
  });
})();
