/*
 * The complaint form (投诉/意见), one piece for the three places a complaint is recorded: the visitor's
 * phone status page (no login: the ticket's id is the right), the kiosk (its device token) and the
 * counter console (the clerk's session). Both languages are shown at once (a visitor may read either),
 * the category choices are big buttons, and a refusal is shown as the hub's "中文 / English".
 *
 * QCallComplaint.mount(root, opts) draws the form into `root` (an empty element) and returns
 * {reset()}. opts:
 *   ticket()   the ticket's id to name, or null (the phone: always its ticket; the console: its current)
 *   phone      offer the optional contact phone field (default true)
 *   done(r)    told the receipt {id, category, due_on} once the hub has it
 * The categories come from GET /complaints/categories. Nothing typed is kept in storage.
 */
(function (global) {
  "use strict";
  var Q = global.QCall;

  function both(zh, en) {
    return Q.html`<span class="zh" lang="zh-CN">${zh}</span> <span class="en" lang="en">${en}</span>`;
  }

  function refusal(err) {
    var data = err && err.data;
    if (data && data.error_zh && data.error_en) return data.error_zh + " / " + data.error_en;
    if (err && err.code === "network") return "网络中断，请稍后再试 / The network is down: please try again";
    if (err && err.code === "unauthorized") return "请重新登录 / Please log in again";
    if (err && err.message && err.message !== err.code) return "提交失败 / Not sent: " + err.message;
    return "提交失败，请稍后再试 / Not sent: please try again";
  }

  function mount(root, opts) {
    opts = opts || {};
    var chosen = null;
    Q.setHtml(root, Q.html`
      <div class="qc-complaint">
        <button type="button" class="qc-open">${both("投诉 / 意见建议", "Complaint or suggestion")}</button>
        <form class="qc-form" novalidate hidden>
          <p class="qc-title">${both("请选择类别", "Choose a category")}</p>
          <div class="qc-cats" role="group" aria-label="类别 / Category"></div>
          <label class="qc-label">${both("请说明情况", "What happened")}
            <textarea class="qc-text" rows="4" maxlength="500" required></textarea>
          </label>
          ${opts.phone === false ? "" : Q.html`<label class="qc-label">${both("联系电话（可不填，用于回访）", "Phone (optional, for our call back)")}
            <input class="qc-phone" type="tel" inputmode="tel" maxlength="24" autocomplete="tel">
          </label>`}
          <p class="qc-error" role="alert" hidden></p>
          <div class="qc-actions">
            <button type="submit" class="qc-send">${both("提交", "Send")}</button>
            <button type="button" class="qc-close">${both("取消", "Cancel")}</button>
          </div>
        </form>
        <p class="qc-done" role="status" hidden></p>
      </div>`);
    var $ = function (sel) { return root.querySelector(sel); };
    var form = $(".qc-form");

    function error(text) {
      $(".qc-error").textContent = text || "";
      Q.show($(".qc-error"), !!text);
    }

    function open(yes) {
      Q.show(form, yes);
      Q.show($(".qc-open"), !yes);
      if (yes) {
        Q.show($(".qc-done"), false);
        loadCategories();
      }
    }

    function loadCategories() {
      Q.api("GET", "/complaints/categories").then(function (answer) {
        var cats = (answer && answer.categories) || [];
        Q.setHtml($(".qc-cats"), Q.html`${cats.map(function (c) {
          return Q.html`<button type="button" class="qc-cat" data-code="${c.code}" aria-pressed="false">${both(c.name_zh, c.name_en)}</button>`;
        })}`);
        Q.each(root.querySelectorAll(".qc-cat"), function (btn) {
          btn.addEventListener("click", function () { choose(btn.getAttribute("data-code")); });
        });
        choose(chosen);
      }, function (err) { error(refusal(err)); });
    }

    function choose(code) {
      chosen = code;
      Q.each(root.querySelectorAll(".qc-cat"), function (btn) {
        btn.setAttribute("aria-pressed", btn.getAttribute("data-code") === code ? "true" : "false");
      });
    }

    /** Back to the closed form, nothing typed kept, no receipt shown (the kiosk's next visitor). */
    function reset() {
      chosen = null;
      form.reset();
      error(null);
      open(false);
      Q.show($(".qc-done"), false);
    }

    $(".qc-open").addEventListener("click", function () { open(true); });
    $(".qc-close").addEventListener("click", reset);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var text = $(".qc-text").value.trim();
      if (!chosen) return error("请先选择类别 / Please choose a category");
      if (!text) return error("请说明情况 / Please say what happened");
      var body = { category: chosen, text: text };
      var ticket = opts.ticket ? opts.ticket() : null;
      if (ticket) body.ticket = ticket;
      var phone = $(".qc-phone");
      if (phone && phone.value.trim()) body.contact_phone = phone.value.trim();
      var send = $(".qc-send");
      send.disabled = true;
      error(null);
      Q.api("POST", "/complaints", body).then(function (answer) {
        var receipt = answer.receipt;
        reset();
        var done = $(".qc-done");
        done.textContent = "已收到，我们将在 " + receipt.due_on + " 前处理并回访 / Received: we will handle it and call back by " + receipt.due_on;
        Q.show(done, true);
        if (opts.done) opts.done(receipt);
      }, function (err) { error(refusal(err)); }).then(function () { send.disabled = false; });
    });
    return { reset: reset };
  }

  global.QCallComplaint = { mount: mount };
})(window);
