/*
 * The priority section of the admin page (issue 11): for each counter, the
 * order the calling policy will call next and the reason for each ticket's
 * place (GET /counters/{n}/next: admins see every counter, staff their own);
 * and, for admins only, the priority ledger (GET /admin/priority-ledger): who
 * gave, asked for, confirmed or changed a ticket's priority, when, and why.
 * Never on a public screen: this page is for staff and admins.
 *
 * A section of admin.html: loaded before admin.js, it registers itself in
 * window.QCallAdminSections; admin.js merges its words and calls enter(),
 * leave(), snapshot(), queue() (every hall event) and draw() (language).
 */
(function (global) {
  "use strict";
  var Q = global.QCall, $ = Q.$;

  var WORDS = {
    zh: {
      "nextup.title": "各窗口下一位",
      "nextup.help": "叫号策略将按此顺序叫号；每个号码注明排在此处的原因。",
      "nextup.run": "已连续叫优先号 {run} 次（上限 {cap}）",
      "nextup.empty": "无人等候",
      "nextup.waited": "已等 {n} 分",
      "nextup.requested": "申请优先：{name}",
      "nextup.transferred": "转入",
      "nextup.current": "办理中：",
      "nextup.error": "无法读取 {counter} 的叫号顺序：{error}",
      "why.policy": "叫号策略",
      "ledger.title": "优先记录",
      "ledger.help": "每一次给予、申请、确认和更改优先类别，谁、何时、为何。仅管理员可见。",
      "ledger.at": "时间",
      "ledger.ticket": "号码",
      "ledger.actor": "操作人",
      "ledger.role": "身份",
      "ledger.action": "操作",
      "ledger.change": "从 → 到",
      "ledger.reason": "原因",
      "ledger.empty": "还没有优先记录。",
      "ledger.normal": "普通",
      "ledger.error": "无法读取优先记录：{error}",
      "action.grant": "给予",
      "action.request": "申请",
      "action.confirm": "确认",
      "action.change": "更改",
      "role.kiosk": "取号机",
      "role.triage": "分诊",
      "role.admin": "管理员",
      "role.staff": "工作人员",
      "reason.kiosk request": "取号机申请",
      "reason.at issue": "取号时给予"
    },
    en: {
      "nextup.title": "Next up at each counter",
      "nextup.help": "The calling policy will call in this order; each number says why it stands there.",
      "nextup.run": "{run} priority calls in a row (cap {cap})",
      "nextup.empty": "Nobody waiting",
      "nextup.waited": "waited {n} min",
      "nextup.requested": "asked for priority: {name}",
      "nextup.transferred": "transferred",
      "nextup.current": "at the counter:",
      "nextup.error": "Cannot read the order of {counter}: {error}",
      "why.policy": "calling policy",
      "ledger.title": "Priority ledger",
      "ledger.help": "Every grant, request, confirmation and change of a priority category: who, when, why. Admins only.",
      "ledger.at": "Time",
      "ledger.ticket": "Number",
      "ledger.actor": "By",
      "ledger.role": "Role",
      "ledger.action": "Action",
      "ledger.change": "From → to",
      "ledger.reason": "Reason",
      "ledger.empty": "No priority changes yet.",
      "ledger.normal": "normal",
      "ledger.error": "Cannot read the priority ledger: {error}",
      "action.grant": "granted",
      "action.request": "asked for",
      "action.confirm": "confirmed",
      "action.change": "changed",
      "role.kiosk": "kiosk",
      "role.triage": "triage",
      "role.admin": "admin",
      "role.staff": "staff",
      "reason.kiosk request": "asked for at the kiosk",
      "reason.at issue": "given at issue"
    }
  };

  var LIMIT = 10;              // places shown per counter
  var LEDGER_LIMIT = 50;
  var POLL_MS = 30000;         // backstop if live events stop

  var session = null;
  var page = null;             // {expire}: what admin.js lets a section do
  var snapshot = null;
  var categories = [];
  var plans = {};              // counter number → GET /counters/{n}/next answer, or {error}
  var ledger = null;           // [entry] or null before the first answer
  var ledgerError = null;
  var numbers = {};            // ticket id → number (ledger rows name tickets by id)
  var asked = {};              // ticket ids whose number is being looked up
  var pollTimer = null;
  var generation = 0;          // answers of an earlier session are dropped

  var section = {
    words: WORDS,
    enter: function (s, pageApi) {
      session = s;
      page = pageApi || {};
      generation += 1;
      snapshot = null;
      plans = {};
      ledger = null;
      ledgerError = null;
      Q.show("#ledger-panel", isAdmin());
      Q.show("#nextup-panel", s.role === "admin" || s.role === "staff");   // a supervisor reads no queue order
      var mine = generation;
      Q.api("GET", "/priority-categories").then(function (res) {
        if (mine !== generation) return;
        categories = (res && res.categories) || [];
        draw();
      }, function () { /* names fall back to codes */ });
      draw();
    },
    leave: function () {
      session = null;
      generation += 1;
      clearTimeout(pollTimer);
    },
    snapshot: function (snap) { snapshot = snap; load(); },
    queue: function (snap) { snapshot = snap; loadSoon(); },
    draw: draw
  };

  function isAdmin() { return !!session && session.role === "admin"; }

  /** The counters whose order this user may read: every counter for an admin, else their own. */
  function myCounters() {
    var all = (snapshot && snapshot.counters) || [];
    if (isAdmin()) return all;
    return all.filter(function (c) { return session && c.number === session.counter; });
  }

  /* -- reading --------------------------------------------------------- */

  function load() {
    if (!session) return;
    clearTimeout(pollTimer);
    var mine = generation;
    var reads = myCounters().map(function (c) {
      return Q.api("GET", "/counters/" + c.number + "/next?limit=" + LIMIT).then(function (plan) {
        if (mine !== generation) return;
        plans[c.number] = plan;
        Q.targets.take(plan);   // the hub's clock, for the marks of its due times
        (plan.next || []).forEach(function (p) { numbers[p.ticket_id] = p.number; });
      }, function (err) {
        if (mine !== generation) return;
        if (err.code === "unauthorized" && page.expire) return page.expire();
        plans[c.number] = { error: err };
      });
    });
    if (isAdmin()) {
      reads.push(Q.api("GET", "/admin/priority-ledger?limit=" + LEDGER_LIMIT).then(function (res) {
        if (mine !== generation) return;
        ledger = (res && res.entries) || [];
        ledgerError = null;
        lookUpNumbers();
      }, function (err) {
        if (mine !== generation) return;
        ledgerError = err;
      }));
    }
    Promise.all(reads).then(function () {
      if (mine !== generation) return;
      draw();
      pollTimer = setTimeout(load, POLL_MS);
    });
  }

  // Hall events come in bursts: read once per burst.
  var loadSoon = Q.debounce(load, 300);

  /** Ledger rows name a ticket by id: its number from the plans, else GET /tickets/{id} once. */
  function lookUpNumbers() {
    (ledger || []).forEach(function (e) {
      var id = e.ticket_id;
      if (numbers[id] || asked[id]) return;
      asked[id] = true;
      Q.api("GET", "/tickets/" + encodeURIComponent(id)).then(function (t) {
        numbers[id] = t.number;
        drawLedger();
      }, function () { asked[id] = false; });
    });
  }

  /* -- words ----------------------------------------------------------- */

  function categoryName(code) {
    var found = null;
    categories.forEach(function (c) { if (c.code === code) found = c; });
    return found ? Q.name(found) : code;
  }

  /** Why a ticket stands where it does: the policy's reason in the reader's language. */
  function reasonText(p) {
    var reason = String(p.reason || "");
    var key = reason.indexOf("priority:") === 0 ? "why.priority" : "why." + reason;
    var text = Q.t(key);
    if (text === key) text = reason;
    if (p.category && (reason.indexOf("priority") === 0 || reason === "transfer")) {
      text += Q.lang() === "zh" ? "（" + categoryName(p.category) + "）" : " (" + categoryName(p.category) + ")";
    }
    return text;
  }

  function reasonClass(reason) {
    reason = String(reason || "");
    if (reason.indexOf("priority:") === 0 || reason === "priority") return "why-priority";
    return "why-" + reason.replace(/[^a-z]+/g, "-");
  }

  function word(key, fallback) {
    var text = Q.t(key);
    return text === key ? String(fallback || "") : text;
  }

  function side(code, priority) {
    return code ? categoryName(code) + " (" + priority + ")" : Q.t("ledger.normal");
  }

  function when(value) {
    var d = new Date(value);
    if (!value || isNaN(d.getTime())) return "";
    var day = Q.formatDay(d);   // the hall's day, as formatTime is the hall's time
    var today = day === Q.formatDay(new Date());
    return (today ? "" : Number(day.slice(5, 7)) + "-" + Number(day.slice(8)) + " ") + Q.formatTime(d, true);
  }

  /* -- drawing ----------------------------------------------------------- */

  function draw() {
    if (!session || !$("#nextup-panel")) return;
    drawNextUp();
    drawLedger();
  }

  function drawNextUp() {
    Q.setHtml($("#nextup-list"), Q.html`${myCounters().map(function (c) {
      var plan = plans[c.number];
      var name = Q.name(c) || Q.t("counter.default_name", { n: c.number });
      if (plan && plan.error) {
        return Q.html`<div class="nextup-counter" data-counter="${c.number}">
            <h3>${name}</h3>
            <p class="banner error">${Q.t("nextup.error", { counter: name, error: Q.errorText(plan.error) })}</p>
          </div>`;
      }
      var next = (plan && plan.next) || [];
      var lead = (plan && plan.warn_before_seconds) || 0;
      var current = plan && plan.current;
      return Q.html`<div class="nextup-counter" data-counter="${c.number}">
          <h3>${name}
            ${plan && plan.priority_cap ? Q.html`<span class="run">${Q.t("nextup.run", { run: plan.priority_run, cap: plan.priority_cap })}</span>` : ""}
            ${current ? Q.html`<span class="nextup-current" data-ticket-id="${current.ticket_id}">${Q.t("nextup.current")}
                <span class="ticket-no">${current.number}</span>${Q.targets.mark(current.service_due_at, lead, "service")}</span>` : ""}</h3>
          ${!plan ? Q.html`<p class="empty">${Q.t("loading")}</p>` : ""}
          ${plan && !next.length ? Q.html`<p class="empty">${Q.t("nextup.empty")}</p>` : ""}
          <ol class="nextup-order">${next.map(function (p) {
            return Q.html`<li data-ticket-id="${p.ticket_id}" data-reason="${p.reason}" data-target-row>
                <span class="ticket-no">${p.number}</span>
                <span class="why ${reasonClass(p.reason)}">${reasonText(p)}</span>
                <span class="code">${p.service}</span>
                <span class="waited">${Q.t("nextup.waited", { n: p.waited_minutes || 0 })}</span>
                ${p.transferred ? Q.html`<span class="note">${Q.t("nextup.transferred")}</span>` : ""}
                ${p.requested ? Q.html`<span class="note">${Q.t("nextup.requested", { name: categoryName(p.requested) })}</span>` : ""}
                ${Q.targets.mark(p.wait_due_at, lead, "wait")}
              </li>`;
          })}</ol>
        </div>`;
    })}`);
    Q.targets.paint($("#nextup-list"));
  }

  function drawLedger() {
    if (!isAdmin() || !$("#ledger-panel")) return;
    var error = $("#ledger-error");
    error.hidden = !ledgerError;
    error.textContent = ledgerError ? Q.t("ledger.error", { error: Q.errorText(ledgerError) }) : "";
    Q.show("#ledger-empty", !!ledger && ledger.length === 0);
    Q.setHtml($("#ledger-list"), Q.html`${(ledger || []).map(function (e) {
      return Q.html`<tr data-ticket-id="${e.ticket_id}" data-action="${e.action}">
          <td class="dev-since"><time datetime="${e.at}">${when(e.at)}</time></td>
          <td class="ticket-no">${numbers[e.ticket_id] || "…"}</td>
          <td>${e.actor}</td>
          <td>${word("role." + e.role, e.role)}</td>
          <td>${word("action." + e.action, e.action)}</td>
          <td>${side(e.from_category, e.from_priority)} → ${side(e.to_category, e.to_priority)}</td>
          <td class="reason">${e.reason ? word("reason." + e.reason, e.reason) : "—"}</td>
        </tr>`;
    })}`);
  }

  global.QCallAdminSections = (global.QCallAdminSections || []).concat([section]);
})(window);
