/*
 * The console's cases (工单, e.g. 业扩报装): open a case from the current
 * ticket, work on the case of the ticket at the counter (complete its active
 * step, hand it off, cancel it), and the overdue steps in this clerk's reach.
 *
 * A section of the console (window.QCallConsoleSections, read by counter.js,
 * which loads after this file): {words, enter, leave, draw, handlers}.
 *
 * Source of truth: the hub. GET /cases/by-ticket/{id} for the current ticket
 * (asked again when the ticket changes, after an action here, and on
 * case_changed); GET /cases/overdue for the list (on login, every minute, on
 * case_changed, and at the moment the hub says the next deadline passes).
 */
(function () {
  "use strict";
  var Q = QCall, $ = Q.$;

  var WORDS = {
    zh: {
      "cases.open": "开立工单",
      "cases.open_title": "为当前号票开立工单",
      "cases.kind": "工单类型",
      "cases.contact_name": "联系人（选填）",
      "cases.contact_phone": "联系电话（选填）",
      "cases.private": "联系人和电话只给工作人员看，顾客查询进度时不显示。",
      "cases.confirm_open": "开立",
      "cases.need_kind": "请选择工单类型。",
      "cases.opened": "已开立工单 {code}：请把编号告诉顾客，凭此查询进度、为下一步取号。",
      "cases.code": "工单 {code}",
      "cases.owner": "首问负责：{owner}",
      "cases.step": "第{n}步 {name}",
      "cases.due": "时限 {date}",
      "cases.done_on": "{date} 完成",
      "cases.step_owner": "经办：{who}",
      "cases.complete": "完成第{n}步",
      "cases.complete_again": "再按一次，确认完成第{n}步",
      "cases.completed": "工单 {code}：第{n}步已完成。",
      "cases.handoff": "移交此步",
      "cases.handoff_to": "移交给（用户名）",
      "cases.handed": "第{n}步已移交给 {who}。",
      "cases.more": "移交或撤销…",
      "cases.cancel_reason": "撤销原因（必填）",
      "cases.cancel_confirm": "确认撤销",
      "cases.cancelled": "工单 {code} 已撤销。",
      "cases.need_reason": "请填写原因（1–200 字）。",
      "cases.need_user": "请填写接手人的用户名。",
      "cases.overdue_title": "逾期工单",
      "cases.overdue_count": "（{n} 件）",
      "cases.overdue_none": "没有逾期的工单。",
      "cases.overdue_mark": "逾期",
      "cases.col.code": "工单号",
      "cases.col.kind": "类型",
      "cases.col.step": "逾期步骤",
      "cases.col.due": "时限",
      "cases.col.owner": "经办 / 首问",
      "case.status.open": "办理中",
      "case.status.done": "已办结",
      "case.status.cancelled": "已撤销",
      "step.status.pending": "待办",
      "step.status.active": "办理中",
      "step.status.done": "已完成",
      "step.status.cancelled": "已撤销",
      "err.unknown_case": "没有此工单。",
      "err.case_closed": "此工单已结束。",
      "err.step_not_active": "此步骤已不是当前步骤（可能已由他人办理）。"
    },
    en: {
      "cases.open": "Open a case",
      "cases.open_title": "Open a case for the current ticket",
      "cases.kind": "Kind of case",
      "cases.contact_name": "Contact name (optional)",
      "cases.contact_phone": "Contact phone (optional)",
      "cases.private": "Name and phone are for staff only; the visitor's progress page never shows them.",
      "cases.confirm_open": "Open",
      "cases.need_kind": "Please choose a kind of case.",
      "cases.opened": "Case {code} opened: tell the visitor this code to follow it and take a number for the next step.",
      "cases.code": "Case {code}",
      "cases.owner": "Owner: {owner}",
      "cases.step": "Step {n}: {name}",
      "cases.due": "due {date}",
      "cases.done_on": "done {date}",
      "cases.step_owner": "by {who}",
      "cases.complete": "Complete step {n}",
      "cases.complete_again": "Tap again to complete step {n}",
      "cases.completed": "Case {code}: step {n} completed.",
      "cases.handoff": "Hand off this step",
      "cases.handoff_to": "Hand off to (user name)",
      "cases.handed": "Step {n} handed off to {who}.",
      "cases.more": "Hand off or cancel…",
      "cases.cancel_reason": "Reason (required)",
      "cases.cancel_confirm": "Cancel the case",
      "cases.cancelled": "Case {code} cancelled.",
      "cases.need_reason": "Please give a reason (1–200 characters).",
      "cases.need_user": "Please type the user name of who takes it over.",
      "cases.overdue_title": "Overdue cases",
      "cases.overdue_count": "({n})",
      "cases.overdue_none": "No case is overdue.",
      "cases.overdue_mark": "Overdue",
      "cases.col.code": "Case",
      "cases.col.kind": "Kind",
      "cases.col.step": "Overdue step",
      "cases.col.due": "Due",
      "cases.col.owner": "Step / owner",
      "case.status.open": "In progress",
      "case.status.done": "Done",
      "case.status.cancelled": "Cancelled",
      "step.status.pending": "Pending",
      "step.status.active": "In progress",
      "step.status.done": "Done",
      "step.status.cancelled": "Cancelled",
      "err.unknown_case": "There is no such case.",
      "err.case_closed": "This case is closed.",
      "err.step_not_active": "That step is no longer the current one (someone may have done it)."
    }
  };

  var OVERDUE_POLL_MS = 60000;   // the list is read again at least this often
  var MAX_TIMER_MS = 2147483647; // setTimeout's longest wait
  var CONFIRM_MS = 5000;         // a second tap on "complete" within this long confirms it

  var ctx = null;                // the console's context while a clerk is logged in
  var kinds = [];                // GET /cases .kinds: what may be opened here
  var current = { key: null, ticketId: null, data: null };   // the case of the current ticket
  var version = 0;               // bumped by a change here or a case_changed: ask again
  var overdue = [];              // GET /cases/overdue .cases
  var overdueTimer = null;
  var deadlineTimer = null;
  var busy = false;
  var confirming = { step: null, timer: null };
  var loadOverdueSoon = Q.debounce(loadOverdue, 300);

  (window.QCallConsoleSections = window.QCallConsoleSections || []).push({
    words: WORDS,
    enter: enter,
    leave: leave,
    draw: draw,
    handlers: {
      // A case opened, moved or came due anywhere: read what is ours to read again.
      case_changed: function () { version += 1; loadOverdueSoon(); if (ctx) drawCase(); }
    }
  });

  wire();

  function enter(c) {
    ctx = c;
    kinds = [];
    overdue = [];
    current = { key: null, ticketId: null, data: null };
    Q.api("GET", "/cases").then(function (res) {
      kinds = res.kinds || [];
      draw(ctx);
    }, function () { kinds = []; });
    loadOverdue();
  }

  function leave() {
    ctx = null;
    clearTimeout(overdueTimer);
    clearTimeout(deadlineTimer);
    closeOpenDialog();
    Q.show("#case-panel", false);
    Q.show("#case-overdue", false);
  }

  function draw(c) {
    ctx = c;
    if (!ctx || !ctx.session) return;
    drawCase();
    drawOverdue();
  }

  /* -- the case of the current ticket ----------------------------------- */

  function drawCase() {
    var cur = ctx && ctx.view && ctx.view.current;
    var panel = $("#case-panel");
    if (!cur) {
      current = { key: null, ticketId: null, data: null };
      panel.hidden = true;
      return;
    }
    var key = cur.id + ":" + version;
    if (key !== current.key) {
      var ticketId = cur.id;
      current = { key: key, ticketId: ticketId, data: current.ticketId === ticketId ? current.data : null };
      Q.api("GET", "/cases/by-ticket/" + encodeURIComponent(ticketId)).then(function (res) {
        if (current.key !== key) return;
        current.data = res.case || null;
        renderCase();
      }, function () {
        if (current.key !== key) return;
        current.data = null;
        renderCase();
      });
    }
    renderCase();
  }

  function renderCase() {
    var cur = ctx && ctx.view && ctx.view.current;
    var panel = $("#case-panel");
    var c = current.data;
    var atCounter = !!cur && (cur.status === "called" || cur.status === "serving");
    var canOpen = !c && atCounter && kinds.length > 0;
    panel.hidden = !c && !canOpen;
    Q.show("#btn-case-open", canOpen);
    $("#btn-case-open").disabled = busy;
    Q.show("#case-box", !!c);
    if (!c) return;
    $("#case-box").setAttribute("data-status", c.status);
    $("#case-box").setAttribute("data-code", c.code);
    $("#case-code").textContent = Q.t("cases.code", { code: c.code_shown });
    $("#case-kind").textContent = Q.name(c);
    var status = $("#case-status");
    status.textContent = Q.t("case.status." + c.status) + (c.overdue ? " · " + Q.t2("cases.overdue_mark") : "");
    status.className = "case-status s-" + c.status + (c.overdue ? " overdue" : "");
    $("#case-owner").textContent = Q.t("cases.owner", { owner: c.owner });
    Q.setHtml($("#case-steps"), Q.html`${c.steps.map(function (s) {
      var facts = [Q.t("step.status." + s.status)];
      if (s.status === "done" && s.done_on) facts.push(Q.t("cases.done_on", { date: s.done_on }));
      else if (s.due_on) facts.push(Q.t("cases.due", { date: s.due_on }));
      if (s.owner && (s.status === "active" || s.status === "done")) facts.push(Q.t("cases.step_owner", { who: s.owner }));
      return Q.html`<li data-step="${s.step}" data-status="${s.status}" class="${s.overdue ? "overdue" : ""}">
          <span class="case-step-name">${Q.t("cases.step", { n: s.step, name: Q.name(s) })}</span>
          <span class="case-step-facts">${facts.join(" · ")}</span>
          ${s.overdue ? Q.html`<span class="mark-overdue">逾期 <span class="en">Overdue</span></span>` : ""}
        </li>`;
    })}`);
    var active = activeStep(c);
    var open = c.status === "open" && !!active;
    Q.show("#case-actions", open);
    if (!open) return;
    var complete = $("#btn-case-complete");
    complete.textContent = confirming.step === active.step
      ? Q.t("cases.complete_again", { n: active.step })
      : Q.t("cases.complete", { n: active.step });
    complete.classList.toggle("confirming", confirming.step === active.step);
    complete.disabled = busy;
    $("#case-handoff-go").disabled = busy;
    $("#case-cancel-go").disabled = busy;
    // Cancelling is the owner's (or an admin's): the hub says so too.
    Q.show("#case-cancel-form", ctx.session.role === "admin" || ctx.session.username === c.owner);
  }

  function activeStep(c) {
    var found = null;
    (c && c.steps || []).forEach(function (s) { if (s.status === "active") found = s; });
    return found;
  }

  /* -- actions ---------------------------------------------------------- */

  function wire() {
    $("#btn-case-open").addEventListener("click", openDialog);
    $("#case-open-cancel").addEventListener("click", closeOpenDialog);
    $("#case-open-form").addEventListener("submit", onOpen);
    $("#btn-case-complete").addEventListener("click", onComplete);
    $("#case-handoff-form").addEventListener("submit", onHandOff);
    $("#case-cancel-form").addEventListener("submit", onCancel);
  }

  function openDialog() {
    if (!ctx || busy || !kinds.length) return;
    $("#case-open-title").textContent = Q.t2("cases.open_title");
    $("#case-open-legend").textContent = Q.t2("cases.kind");
    $("#case-open-private").textContent = Q.t2("cases.private");
    $("#case-contact-name-label").textContent = Q.t2("cases.contact_name");
    $("#case-contact-phone-label").textContent = Q.t2("cases.contact_phone");
    $("#case-open-cancel").textContent = Q.t2("cancel");
    $("#case-open-confirm").textContent = Q.t2("cases.confirm_open");
    Q.setHtml($("#case-open-kinds"), Q.html`${kinds.map(function (k) {
      return Q.html`<label class="prio-choice case-kind-choice" data-kind="${k.code}">
          <input type="radio" name="case-kind" value="${k.code}">
          <span class="zh">${k.name_zh}</span> <span class="en">${k.name_en}</span></label>`;
    })}`);
    // One kind (the usual hall): chosen already.
    if (kinds.length === 1) document.querySelector("input[name='case-kind']").checked = true;
    $("#case-contact-name").value = "";
    $("#case-contact-phone").value = "";
    dialogError(null);
    var dlg = $("#case-open-dialog");
    if (dlg.showModal) dlg.showModal(); else dlg.setAttribute("open", "");
  }

  function closeOpenDialog() {
    var dlg = $("#case-open-dialog");
    if (dlg.open) { if (dlg.close) dlg.close(); else dlg.removeAttribute("open"); }
  }

  function dialogError(text, code) {
    var box = $("#case-open-error");
    box.textContent = text || "";
    box.setAttribute("data-code", code || "");
    box.hidden = !text;
  }

  function onOpen(e) {
    e.preventDefault();
    if (!ctx || busy) return;
    var picked = document.querySelector("input[name='case-kind']:checked");
    if (!picked) return dialogError(Q.t2("cases.need_kind"), "need_kind");
    var body = { counter: ctx.session.counter, kind: picked.value };
    var name = $("#case-contact-name").value.trim();
    var phone = $("#case-contact-phone").value.trim();
    if (name) body.contact_name = name;
    if (phone) body.contact_phone = phone;
    busy = true;
    $("#case-open-confirm").disabled = true;
    Q.api("POST", "/cases", body).then(function (res) {
      closeOpenDialog();
      var code = res.case.code_shown;
      ctx.setMessage("ok", function () { return Q.t("cases.opened", { code: code }); }, "case_opened");
      version += 1;
    }, function (err) {
      if (err.code === "unauthorized") { closeOpenDialog(); return ctx.expire(); }
      dialogError(refusalText(err), err.code);
    }).then(function () {
      busy = false;
      $("#case-open-confirm").disabled = false;
      if (ctx) { drawCase(); loadOverdue(); }
    });
  }

  /** Complete the active step: a first tap arms the button, a second within CONFIRM_MS does it. */
  function onComplete() {
    var c = current.data;
    var active = activeStep(c);
    if (!ctx || busy || !active) return;
    if (confirming.step !== active.step) {
      confirming.step = active.step;
      clearTimeout(confirming.timer);
      confirming.timer = setTimeout(function () { confirming.step = null; renderCase(); }, CONFIRM_MS);
      renderCase();
      return;
    }
    clearTimeout(confirming.timer);
    confirming.step = null;
    var step = active.step;
    act("/cases/" + encodeURIComponent(c.code) + "/complete", { step: step, counter: ctx.session.counter },
      function () { return Q.t("cases.completed", { code: c.code_shown, n: step }); });
  }

  function onHandOff(e) {
    e.preventDefault();
    var c = current.data;
    var active = activeStep(c);
    var to = $("#case-handoff-to").value.trim();
    if (!ctx || busy || !active) return;
    if (!to) return ctx.setMessage("warn", function () { return Q.t("cases.need_user"); }, "need_user");
    act("/cases/" + encodeURIComponent(c.code) + "/hand-off", { step: active.step, to: to },
      function () { return Q.t("cases.handed", { n: active.step, who: to }); }).then(function (ok) {
      if (ok) $("#case-handoff-to").value = "";
    });
  }

  function onCancel(e) {
    e.preventDefault();
    var c = current.data;
    var reason = $("#case-cancel-reason").value.trim();
    if (!ctx || busy || !c) return;
    if (!reason || reason.length > 200) {
      return ctx.setMessage("warn", function () { return Q.t("cases.need_reason"); }, "need_reason");
    }
    act("/cases/" + encodeURIComponent(c.code) + "/cancel", { reason: reason },
      function () { return Q.t("cases.cancelled", { code: c.code_shown }); }).then(function (ok) {
      if (ok) $("#case-cancel-reason").value = "";
    });
  }

  /** POST an action on the case; the banner says how it went. Resolves to true when it was done. */
  function act(path, body, doneText) {
    busy = true;
    renderCase();
    return Q.api("POST", path, body).then(function (res) {
      if (res && res.case) current.data = res.case;
      ctx.setMessage("ok", doneText, "case_done");
      return true;
    }, function (err) {
      if (err.code === "unauthorized") { ctx.expire(); return false; }
      ctx.setMessage(err.code === "step_not_active" || err.code === "case_closed" ? "warn" : "error",
        function () { return refusalText(err); }, err.code);
      return false;
    }).then(function (ok) {
      busy = false;
      version += 1;
      if (ctx) { drawCase(); loadOverdue(); }
      return ok;
    });
  }

  /** A case refusal in the clerk's language (the hub sends both), else our words for the code. */
  function refusalText(err) {
    var said = Q.hubWords(err);
    if (said) return Q.lang() === "en" ? said.en : said.zh;
    // A field the hub refused (a bad phone): its words name the field and what it expects, which
    // the generic "请求有误，请重试。" does not.
    var data = err && err.name === "ApiError" && err.data;
    if (err && err.code === "bad_request" && data && data.error_zh && data.error_en) {
      return Q.lang() === "en" ? data.error_en : data.error_zh;
    }
    return Q.errorText(err, Q.lang());
  }

  /* -- overdue ---------------------------------------------------------- */

  /**
   * GET /cases/overdue: the overdue cases in reach, and when the next deadline
   * passes (by the hub's clock, so a desk PC's wrong clock does not matter):
   * the list is read again at that moment, every minute, and on case_changed.
   */
  function loadOverdue() {
    if (!ctx) return;
    clearTimeout(overdueTimer);
    clearTimeout(deadlineTimer);
    Q.api("GET", "/cases/overdue").then(function (res) {
      if (!ctx) return;
      overdue = res.cases || [];
      if (res.next_deadline) {
        var wait = Date.parse(res.next_deadline) - Date.parse(res.now) + 1000;
        if (wait > 0) deadlineTimer = setTimeout(loadOverdue, Math.min(wait, MAX_TIMER_MS));
      }
      drawOverdue();
    }, function (err) {
      if (err.code === "unauthorized" && ctx) ctx.expire();
    }).then(function () {
      if (ctx) overdueTimer = setTimeout(loadOverdue, OVERDUE_POLL_MS);
    });
  }

  function drawOverdue() {
    var section = $("#case-overdue");
    section.hidden = !kinds.length && !overdue.length;
    if (section.hidden) return;
    $("#case-overdue-count").textContent = Q.t("cases.overdue_count", { n: overdue.length });
    Q.show("#case-overdue-empty", overdue.length === 0);
    Q.show("#case-overdue-table", overdue.length > 0);
    Q.setHtml($("#case-overdue-list"), Q.html`${overdue.map(function (c) {
      var s = activeStep(c) || {};
      return Q.html`<tr class="overdue" data-code="${c.code}">
          <td class="case-code">${c.code_shown}</td>
          <td>${Q.name(c)}</td>
          <td>${Q.t("cases.step", { n: s.step || "", name: Q.name(s) })}
            <span class="mark-overdue">逾期 <span class="en">Overdue</span></span></td>
          <td>${s.due_on || ""}</td>
          <td>${(s.owner || "—") + " / " + c.owner}</td>
        </tr>`;
    })}`);
  }
})();
