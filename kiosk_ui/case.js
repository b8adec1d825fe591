/*
 * The visitor's case page, /case/ (and /case/?code=K7M2Q-X9HD4 from a link):
 * the progress of a case that spans days (业扩报装), by its code, with no
 * login. The hub sends the kind, the steps, their status and dates, nothing
 * personal; the page asks again when the phone wakes up.
 */
(function () {
  "use strict";
  var Q = QCall, $ = Q.$;

  var WORDS = {
    zh: {
      "title": "办理进度",
      "prompt": "请输入工单编号（10位字母和数字，回执上印有）",
      "lookup": "查询",
      "short": "工单编号为10位字母和数字，请输完整",
      "code": "工单编号 {code}",
      "opened": "{date} 受理",
      "state.open": "办理中",
      "state.done": "已全部办结",
      "state.cancelled": "已撤销，如有疑问请咨询营业厅",
      "step.pending": "待办",
      "step.active": "办理中",
      "step.done": "已完成",
      "step.cancelled": "已撤销",
      "due": "承诺时限 {date}",
      "done_on": "{date} 完成",
      "next": "下一步办理时，可在营业厅取号机“查询办理进度”中凭此编号取号。",
      "updated": "更新时间"
    },
    en: {
      "title": "Case progress",
      "prompt": "Type your case code (10 letters and digits, on your receipt)",
      "lookup": "Look up",
      "short": "A case code has 10 letters and digits: please type all of it",
      "code": "Case {code}",
      "opened": "Opened {date}",
      "state.open": "In progress",
      "state.done": "All steps done",
      "state.cancelled": "Cancelled: please ask at the hall",
      "step.pending": "Pending",
      "step.active": "In progress",
      "step.done": "Done",
      "step.cancelled": "Cancelled",
      "due": "Due by {date}",
      "done_on": "Done {date}",
      "next": "For the next step, take a number at the hall's kiosk with this code (“Case progress”).",
      "updated": "Updated at"
    }
  };

  var shown = null;       // the case's progress as the hub last sent it
  var error = null;       // {zh, en} of the last refusal
  var updatedAt = null;
  var busy = false;

  Q.i18n(WORDS, "qcall.case.lang");
  Q.translatePage();
  Q.onLang(draw);
  $("#lang-switch").addEventListener("click", Q.toggleLang);
  $("#case-form").addEventListener("submit", function (e) {
    e.preventDefault();
    lookUp($("#case-code").value);
  });
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && shown) lookUp(shown.code);
  });

  var fromLink = new URLSearchParams(location.search).get("code");
  if (fromLink) {
    $("#case-code").value = fromLink;
    lookUp(fromLink);
  }

  /** Letters and digits only, upper case (the dash and spaces are for reading). */
  function cleaned(text) { return String(text || "").replace(/[^0-9A-Za-z]/g, "").toUpperCase(); }

  function lookUp(text) {
    var code = cleaned(text);
    if (busy) return;
    if (code.length !== 10) {
      error = { zh: Q.t("short", null, "zh"), en: Q.t("short", null, "en") };
      draw();
      return;
    }
    busy = true;
    $("#case-submit").disabled = true;
    Q.api("GET", "/cases/" + encodeURIComponent(code) + "/progress").then(function (c) {
      shown = c;
      error = null;
      if (c.timezone) Q.setTimeZone(c.timezone);   // "updated" in the hall's time, as the paper says it
      updatedAt = new Date();
    }, function (err) {
      shown = null;
      error = Q.hubWords(err) || { zh: Q.errorText(err, "zh"), en: Q.errorText(err, "en") };
    }).then(function () {
      busy = false;
      $("#case-submit").disabled = false;
      draw();
    });
  }

  function draw() {
    var first = Q.lang();
    var second = first === "zh" ? "en" : "zh";
    var box = $("#case-error");
    box.hidden = !error;
    if (error) {
      box.querySelector(".ce-first").textContent = error[first];
      box.querySelector(".ce-second").textContent = error[second];
    }
    var card = $("#case");
    card.hidden = !shown;
    if (!shown) return;
    var c = shown;
    card.setAttribute("data-status", c.status);
    $("#case-kind").textContent = Q.name(c, first) + " · " + Q.name(c, second);
    $("#case-code-shown").textContent = Q.t("code", { code: c.code_shown });
    $("#case-state").textContent = Q.t("state." + c.status) + (c.opened_on ? " · " + Q.t("opened", { date: c.opened_on }) : "");
    Q.setHtml($("#case-steps"), Q.html`${c.steps.map(function (s) {
      var when = s.status === "done" && s.done_on
        ? Q.t("done_on", { date: s.done_on })
        : s.due_on && s.status === "active" ? Q.t("due", { date: s.due_on }) : "";
      return Q.html`<li class="case-step" data-step="${s.step}" data-status="${s.status}">
          <span class="cs-mark" aria-hidden="true">${s.status === "done" ? "✓" : s.step}</span>
          <span class="cs-name">${Q.name(s, first)}<span class="en">${Q.name(s, second)}</span></span>
          <span class="cs-state">${Q.t("step." + s.status)}<small>${when}</small></span>
        </li>`;
    })}`);
    $("#case-updated").textContent = Q.formatTime(updatedAt, true);
    document.title = Q.t("code", { code: c.code_shown }) + " · " + Q.t("title");
  }
})();
