/*
 * The share within target on the admin page (时限合格率, issue 12): for a day
 * (or the 7 or 30 days from it), of the legs that had a waiting-time or a
 * service-time target, how many met it: for the whole hall, per service and
 * per counter (GET /targets?day=&days=; admins see every counter, staff
 * their own: the hub's rights). The targets in force are shown beside each
 * service. A share is cut down, never rounded up: 99.96 % reads 99.9 %, so
 * "100 %" means every leg.
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
      "targets.title": "时限合格率",
      "targets.help": "等候：取号（或转入）到首次叫号；办理：开始办理（未开始则为最后一次叫号）到办结或转出。每张号票的每一站各算一次；一站在叫号或结束时计入。",
      "targets.day": "日期",
      "targets.days": "天数",
      "targets.days.1": "当天",
      "targets.days.7": "7 天",
      "targets.days.30": "30 天",
      "targets.reload": "刷新",
      "targets.service": "业务",
      "targets.counter": "窗口",
      "targets.wait": "等候达标",
      "targets.serve": "办理达标",
      "targets.wait_target": "等候时限",
      "targets.service_target": "办理时限",
      "targets.minutes": "{n} 分钟",
      "targets.none": "未设",
      "targets.hall": "全厅",
      "targets.share": "{share}（{met}/{n}）",
      "targets.no_legs": "—",
      "targets.range": "{first} 至 {last}",
      "targets.error": "无法读取时限合格率：{error}"
    },
    en: {
      "targets.title": "Share within target",
      "targets.help": "Wait: from the ticket (or the transfer) to the first call; service: from the start (or the last call, never started) to the end or the transfer on. Each station of each ticket counts once, when it is called or ends.",
      "targets.day": "Day",
      "targets.days": "Days",
      "targets.days.1": "that day",
      "targets.days.7": "7 days",
      "targets.days.30": "30 days",
      "targets.reload": "Reload",
      "targets.service": "Service",
      "targets.counter": "Counter",
      "targets.wait": "Wait within target",
      "targets.serve": "Service within target",
      "targets.wait_target": "Wait target",
      "targets.service_target": "Service target",
      "targets.minutes": "{n} min",
      "targets.none": "none",
      "targets.hall": "Whole hall",
      "targets.share": "{share} ({met}/{n})",
      "targets.no_legs": "—",
      "targets.range": "{first} to {last}",
      "targets.error": "Cannot read the share within target: {error}"
    }
  };

  var POLL_MS = 60000;          // verdicts are written by calls and ends; a minute is fresh enough
  var session = null;
  var page = null;
  var report = null;            // the last GET /targets answer
  var error = null;
  var day = null;               // the chosen business day (YYYY-MM-DD); the hub's today to start with
  var pollTimer = null;
  var generation = 0;
  var wired = false;

  var section = {
    words: WORDS,
    enter: function (s, pageApi) {
      session = s;
      page = pageApi || {};
      generation += 1;
      report = null;
      error = null;
      day = null;
      wire();
      Q.show("#targets-layout", true);
      draw();
    },
    leave: function () {
      session = null;
      generation += 1;
      clearTimeout(pollTimer);
      Q.show("#targets-layout", false);
    },
    snapshot: function (snap) {
      // The picker starts on the hub's business day (not this PC's date).
      if (!day && snap && snap.business_day) { day = snap.business_day; $("#targets-date").value = day; }
      load();
    },
    queue: function () { loadSoon(); },
    draw: draw
  };

  function wire() {
    if (wired) return;
    wired = true;
    $("#targets-date").addEventListener("change", function () {
      if (this.value) { day = this.value; load(); }
    });
    $("#targets-days").addEventListener("change", load);
    $("#targets-reload").addEventListener("click", load);
  }

  function load() {
    if (!session) return;
    clearTimeout(pollTimer);
    var mine = generation;
    var query = "?days=" + encodeURIComponent($("#targets-days").value || "1");
    if (day) query += "&day=" + encodeURIComponent(day);
    Q.api("GET", "/targets" + query).then(function (res) {
      if (mine !== generation) return;
      report = res;
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

  // Calls and ends come in bursts: read once per burst.
  var loadSoon = Q.debounce(load, 2000);

  /** "92.3%" cut down to a tenth (never rounded up to 100 %), with met/n; "—" when nothing had a target. */
  function shareText(s) {
    if (!s || !s.with_target) return Q.t("targets.no_legs");
    var tenths = Math.floor(s.share * 1000 + 1e-9) / 10;
    return Q.t("targets.share", { share: tenths + "%", met: s.met, n: s.with_target });
  }

  function shareCell(s) {
    var low = s && s.with_target && s.met < s.with_target;
    return Q.html`<td class="num share${low ? " short" : ""}">${shareText(s)}</td>`;
  }

  function minutes(n) { return n ? Q.t("targets.minutes", { n: n }) : Q.t("targets.none"); }

  function draw() {
    if (!session || !$("#targets-panel")) return;
    var failed = $("#targets-error");
    failed.hidden = !error;
    failed.textContent = error ? Q.t("targets.error", { error: Q.errorText(error) }) : "";
    if (!report) return;
    var range = report.first_day === report.last_day ? report.first_day
      : Q.t("targets.range", { first: report.first_day, last: report.last_day });
    $("#targets-range").textContent = "（" + range + "）";
    var configured = {};
    ((report.targets && report.targets.services) || []).forEach(function (t) { configured[t.code] = t; });
    Q.setHtml($("#targets-services-list"), Q.html`${report.services.map(function (s) {
      var t = configured[s.code] || {};
      return Q.html`<tr data-service="${s.code}">
          <td>${Q.name(s)}</td>
          <td class="num">${minutes(t.wait_minutes)}</td>
          ${shareCell(s.wait)}
          <td class="num">${minutes(t.service_minutes)}</td>
          ${shareCell(s.service)}
        </tr>`;
    })}<tr class="total" data-service="">
        <th scope="row">${Q.t("targets.hall")}</th><td></td>${shareCell(report.hall.wait)}<td></td>${shareCell(report.hall.service)}
      </tr>`);
    Q.setHtml($("#targets-counters-list"), Q.html`${report.counters.map(function (c) {
      return Q.html`<tr data-counter="${c.number}">
          <td>${Q.name(c)}</td>${shareCell(c.wait)}${shareCell(c.service)}
        </tr>`;
    })}`);
  }

  global.QCallAdminSections = (global.QCallAdminSections || []).concat([section]);
})(window);
