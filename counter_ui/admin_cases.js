/*
 * Cases on the admin page (工单：业扩报装 and the like), read only, for admins and supervisors (值班长):
 * every open case with its active step, the step's owner and last day, overdue ones marked
 * "逾期 Overdue" in words and colour, and a filter for the overdue ones only (asked of the hub:
 * GET /cases?overdue=1, so a backlog past the list's 500 still shows its oldest overdue). The counts
 * are the hub's true totals; a list it cut says "显示前 500 件 / first 500 shown". The contact is not
 * shown here (a supervisor gets it masked: the hub's rights); the work on a case is the console's.
 * Re-read on every case_changed (the hub's push) and every minute: a step falls overdue at midnight.
 *
 * A section of admin.html: loaded before admin.js, it registers itself in window.QCallAdminSections.
 */
(function (global) {
  "use strict";
  var Q = global.QCall, $ = Q.$;

  var WORDS = {
    zh: {
      "cases.title": "工单",
      "cases.help": "未办结的工单（如业扩报装）：当前步骤、负责人和期限。逾期的标红。办理在窗口控制台进行。",
      "cases.open": "未办结",
      "cases.overdue_only": "只看逾期",
      "cases.code": "编号",
      "cases.kind": "事项",
      "cases.step": "当前步骤",
      "cases.owner": "负责人",
      "cases.due": "期限",
      "cases.status": "状态",
      "cases.state.overdue": "逾期",
      "cases.state.open": "办理中",
      "cases.none": "没有未办结的工单。",
      "cases.none_overdue": "没有逾期的工单。",
      "cases.count": "{n} 件，逾期 {late} 件",
      "cases.truncated": "（显示前 {shown} 件）",
      "cases.error": "无法读取工单：{error}"
    },
    en: {
      "cases.title": "Cases",
      "cases.help": "Open cases (such as new connections): the active step, its owner and last day. Overdue ones are marked red. The work is done at the counter console.",
      "cases.open": "Open",
      "cases.overdue_only": "Overdue only",
      "cases.code": "Code",
      "cases.kind": "Case",
      "cases.step": "Active step",
      "cases.owner": "Owner",
      "cases.due": "Due by",
      "cases.status": "Status",
      "cases.state.overdue": "Overdue",
      "cases.state.open": "In progress",
      "cases.none": "No open cases.",
      "cases.none_overdue": "No overdue cases.",
      "cases.count": "{n}, {late} overdue",
      "cases.truncated": " (first {shown} shown)",
      "cases.error": "Cannot read the cases: {error}"
    }
  };

  var READERS = ["admin", "supervisor"];
  var POLL_MS = 60000;
  var session = null;
  var page = null;
  var onlyOverdue = false;
  var list = null;       // the open cases, the soonest deadline first (GET /cases), or the overdue only
  var counts = null;     // the hub's totals beside the list: {total, overdue, truncated}
  var error = null;
  var pollTimer = null;
  var generation = 0;
  var wired = false;

  var section = {
    words: WORDS,
    enter: function (s, pageApi) {
      session = s;
      page = pageApi || {};
      generation += 1;
      list = null;
      error = null;
      wire();
      var allowed = READERS.indexOf(s.role) >= 0;
      Q.show("#cases-layout", allowed);
      if (allowed) load();
    },
    leave: function () {
      session = null;
      generation += 1;
      clearTimeout(pollTimer);
      Q.show("#cases-layout", false);
    },
    cases: function () { if (session && READERS.indexOf(session.role) >= 0) loadSoon(); },
    draw: draw
  };

  function wire() {
    if (wired || !$("#cases-layout")) return;
    wired = true;
    $("#cases-overdue-only").addEventListener("change", function () {
      onlyOverdue = this.checked;
      generation += 1;   // an answer to the other filter's question is dropped
      list = null;
      load();
    });
  }

  function load() {
    if (!session) return;
    clearTimeout(pollTimer);
    var mine = generation;
    Q.api("GET", onlyOverdue ? "/cases?overdue=1" : "/cases").then(function (answer) {
      if (mine !== generation) return;
      list = answer.cases || [];
      counts = { total: answer.total, overdue: answer.overdue, truncated: !!answer.truncated };
      error = null;
    }, function (err) {
      if (mine !== generation) return;
      if (err.code === "unauthorized" && page.expire) return page.expire();
      error = err;
    }).then(function () {
      if (mine !== generation) return;
      draw();
      pollTimer = setTimeout(load, POLL_MS);
    });
  }

  var loadSoon = Q.debounce(load, 500);

  function activeStep(c) {
    var found = null;
    (c.steps || []).forEach(function (s) { if (s.step === c.active_step) found = s; });
    return found;
  }

  function draw() {
    if (!session || !$("#cases-panel")) return;
    var failed = $("#cases-error");
    failed.hidden = !error;
    failed.textContent = error ? Q.t("cases.error", { error: Q.errorText(error) }) : "";
    if (!list) return;
    var rows = list;
    $("#cases-count").textContent = Q.t("cases.count", { n: counts.total, late: counts.overdue }) +
      (counts.truncated ? Q.t("cases.truncated", { shown: list.length }) : "");
    var empty = $("#cases-empty");
    empty.textContent = Q.t(onlyOverdue ? "cases.none_overdue" : "cases.none");
    Q.show(empty, rows.length === 0);
    Q.show("#cases-table", rows.length > 0);
    Q.setHtml($("#cases-list"), Q.html`${rows.map(function (c) {
      var step = activeStep(c);
      return Q.html`<tr data-code="${c.code}" data-overdue="${c.overdue ? "true" : "false"}" class="${c.overdue ? "overdue" : ""}">
          <td class="case-code">${c.code_shown || c.code}</td>
          <td>${Q.name(c)}</td>
          <td>${step ? Q.name(step) : "—"}</td>
          <td>${(step && step.owner) || c.owner || "—"}</td>
          <td>${(step && step.due_on) || "—"}</td>
          <td>${c.overdue
            ? Q.html`<span class="case-overdue">${Q.t("cases.state.overdue")}</span>`
            : Q.t("cases.state.open")}</td>
        </tr>`;
    })}`);
  }

  global.QCallAdminSections = (global.QCallAdminSections || []).concat([section]);
})(window);
