/*
 * The hall manager's reports (报表, issue 13): a day's or a month's figures of
 * the hall, by hour or day, service, counter and clerk, as big numbers,
 * charts (ECharts, served from /static/vendor: the hall has no internet) and
 * tables; the same report as CSV, Excel or PDF; a clerk's month (星级营业员)
 * from the clerks' table of a monthly report.
 *
 * Sources: GET /reports/daily?day= and /reports/monthly?month= (the
 * statistics' own figures: the page shows them as they come, durations in
 * seconds, a share as a percentage), GET /reports/clerks/{username}?month=.
 * Admins and supervisors only: the hub answers anyone else 403. Nothing about
 * a visitor is in a report.
 *
 * The page can be opened on a report: ?day=YYYY-MM-DD or ?month=YYYY-MM.
 */
(function () {
  "use strict";
  var Q = QCall, $ = Q.$;

  var WORDS = {
    zh: {
      "title": "报表",
      "login.title": "报表：登录",
      "login.username": "用户名",
      "login.password": "密码",
      "login.submit": "登录",
      "login.wrong": "用户名或密码错误。",
      "login.need_name": "请填写用户名和密码。",
      "login.expired": "登录已过期，请重新登录。",
      "login.not_allowed": "报表仅供管理员和值班长查看。",
      "logout": "退出登录",
      "staff": "{name}（{role}）",
      "role.admin": "管理员",
      "role.supervisor": "值班长",
      "nav.admin": "设备与排队",
      "kind.label": "报表类型",
      "kind.daily": "日报",
      "kind.monthly": "月报",
      "field.day": "日期",
      "field.month": "月份",
      "show": "查看",
      "download": "下载",
      "loading": "正在加载…",
      "heading.daily": "{hall} · {label} 日报表",
      "heading.monthly": "{hall} · {label} 月报表",
      "totals.title": "全厅合计",
      "fig.issued": "取号",
      "fig.served": "办结",
      "fig.no_show": "过号",
      "fig.cancelled": "取消",
      "fig.transferred": "转出",
      "fig.transferred_in": "转入",
      "fig.wait_p50": "等候P50(秒)",
      "fig.wait_p90": "等候P90(秒)",
      "fig.service_p50": "办理P50(秒)",
      "fig.service_p90": "办理P90(秒)",
      "fig.ratings": "评价数",
      "fig.share": "满意率",
      "fig.target_met": "达标",
      "fig.target": "目标 {n}%",
      "fig.service_mean": "平均办理(秒)",
      "fig.rank_served": "办结排名",
      "fig.rank_satisfaction": "满意率排名",
      "fig.index": "满意度指数",
      "rank.of": "{n} / {of}",
      "unit.seconds": "秒",
      "yes": "是",
      "no": "否",
      "none": "—",
      "section.hour": "按时段",
      "section.day": "按日期",
      "section.service": "按业务",
      "section.counter": "按窗口",
      "section.clerk": "按营业员",
      "section.handoff": "内转路径",
      "handoff.from": "转出业务",
      "handoff.to": "转入业务",
      "handoff.count": "人次",
      "col.key": "分组",
      "col.action": "操作",
      "nowhere": "未到窗口",
      "hour": "{h}时",
      "day": "{d}日",
      "chart.time.daily": "各时段取号与办结",
      "chart.time.monthly": "每日取号与办结",
      "chart.wait": "各业务等候时间（秒）",
      "chart.counters": "各窗口满意率（%）",
      "chart.clerks": "各营业员满意率（%）",
      "series.issued": "取号",
      "series.served": "办结",
      "series.p50": "P50",
      "series.p90": "P90",
      "series.share": "满意率",
      "series.target": "目标",
      "scorecard": "成绩单",
      "scorecard.title": "{name} · {label} 月度成绩单",
      "empty": "这一期间没有数据。",
      "privacy": "报表只含人数、时长和评价统计，不含任何来访者的信息（无号码、姓名、电话）。",
      "err.forbidden": "此账号不能查看报表（仅管理员和值班长）。",
      "err.unauthorized": "登录已过期，请重新登录。",
      "err.bad_request": "日期或月份不正确。"
    },
    en: {
      "title": "Reports",
      "login.title": "Reports: log in",
      "login.username": "Username",
      "login.password": "Password",
      "login.submit": "Log in",
      "login.wrong": "Wrong username or password.",
      "login.need_name": "Please enter your username and password.",
      "login.expired": "Your session has ended. Please log in again.",
      "login.not_allowed": "Reports are for admins and supervisors only.",
      "logout": "Log out",
      "staff": "{name} ({role})",
      "role.admin": "admin",
      "role.supervisor": "supervisor",
      "nav.admin": "Devices and queue",
      "kind.label": "Report",
      "kind.daily": "Daily",
      "kind.monthly": "Monthly",
      "field.day": "Day",
      "field.month": "Month",
      "show": "Show",
      "download": "Download",
      "loading": "Loading…",
      "heading.daily": "{hall} · daily report {label}",
      "heading.monthly": "{hall} · monthly report {label}",
      "totals.title": "Hall totals",
      "fig.issued": "Issued",
      "fig.served": "Served",
      "fig.no_show": "No-show",
      "fig.cancelled": "Cancelled",
      "fig.transferred": "Transferred out",
      "fig.transferred_in": "Transferred in",
      "fig.wait_p50": "Wait p50 (s)",
      "fig.wait_p90": "Wait p90 (s)",
      "fig.service_p50": "Service p50 (s)",
      "fig.service_p90": "Service p90 (s)",
      "fig.ratings": "Ratings",
      "fig.share": "Satisfied",
      "fig.target_met": "Target met",
      "fig.target": "target {n}%",
      "fig.service_mean": "Mean service (s)",
      "fig.rank_served": "Rank by served",
      "fig.rank_satisfaction": "Rank by satisfaction",
      "fig.index": "Satisfaction index",
      "rank.of": "{n} of {of}",
      "unit.seconds": "s",
      "yes": "yes",
      "no": "no",
      "none": "—",
      "section.hour": "By hour",
      "section.day": "By day",
      "section.service": "By service",
      "section.counter": "By counter",
      "section.clerk": "By clerk",
      "section.handoff": "Hand-offs between services",
      "handoff.from": "From",
      "handoff.to": "To",
      "handoff.count": "Tickets",
      "col.key": "Group",
      "col.action": "Action",
      "nowhere": "not at a counter",
      "hour": "{h}:00",
      "day": "{d}",
      "chart.time.daily": "Tickets issued and served per hour",
      "chart.time.monthly": "Tickets issued and served per day",
      "chart.wait": "Waiting time per service (s)",
      "chart.counters": "Satisfied per counter (%)",
      "chart.clerks": "Satisfied per clerk (%)",
      "series.issued": "Issued",
      "series.served": "Served",
      "series.p50": "p50",
      "series.p90": "p90",
      "series.share": "Satisfied",
      "series.target": "Target",
      "scorecard": "Scorecard",
      "scorecard.title": "{name} · scorecard {label}",
      "empty": "No figures for this period.",
      "privacy": "Reports hold counts, times and ratings only: nothing about any visitor (no numbers, names or phones).",
      "err.forbidden": "This account may not read reports (admins and supervisors only).",
      "err.unauthorized": "Your session has ended. Please log in again.",
      "err.bad_request": "That day or month is not right."
    }
  };

  var ROLES = ["admin", "supervisor"];
  var SECTIONS = { daily: ["hour", "service", "counter", "clerk"], monthly: ["day", "service", "counter", "clerk"] };
  /** The table's figures: [name, section of the JSON, figure]. */
  var COLUMNS = [
    ["issued", "tickets", "issued"],
    ["served", "tickets", "served"],
    ["no_show", "tickets", "no_show"],
    ["cancelled", "tickets", "cancelled"],
    ["transferred", "tickets", "transferred"],
    ["transferred_in", "tickets", "transferred_in"],
    ["wait_p50", "waiting", "p50"],
    ["wait_p90", "waiting", "p90"],
    ["service_p50", "service_time", "p50"],
    ["service_p90", "service_time", "p90"],
    ["ratings", "satisfaction", "ratings"],
    ["share", "satisfaction", "share"],
    ["target_met", "satisfaction", "target_met"]
  ];
  var BLUE = "#1f4e9c", GREEN = "#1e7b45", AMBER = "#b35c00", RED = "#a61b1b";

  var session = null;
  var kind = "daily";
  var report = null;      // the report shown (JSON as the hub sent it)
  var card = null;        // the scorecard shown
  var charts = {};        // id → ECharts instance
  var seq = 0;            // the newest request: an older answer arriving late is dropped
  var banner = Q.messageBanner("#banner");
  var login = null;

  function init() {
    Q.i18n(WORDS, "qcall.reports.lang");
    Q.translatePage();
    Q.onLang(function () { drawAll(); banner.draw(); });
    $("#login-lang").addEventListener("click", Q.toggleLang);
    $("#lang-switch").addEventListener("click", Q.toggleLang);
    login = Q.staffLogin({
      prefix: "reports-",
      view: "#reports-view",
      key: "qcall.reports",
      roles: ROLES,
      enter: enter,
      leave: leave
    });
    $("#btn-logout").addEventListener("click", login.logout);
    Q.each(document.querySelectorAll(".report-kind"), function (b) {
      b.addEventListener("click", function () { setKind(b.getAttribute("data-kind")); load(); });
    });
    $("#report-form").addEventListener("submit", function (e) { e.preventDefault(); load(); });
    Q.each(document.querySelectorAll(".download"), function (b) {
      b.addEventListener("click", function () { download(b.getAttribute("data-format")); });
    });
    $("#report-tables").addEventListener("click", onTableClick);
    window.addEventListener("resize", Q.debounce(function () {
      Object.keys(charts).forEach(function (id) { charts[id].resize(); });
    }, 200));
    firstPeriod();
    login.start();
  }

  /** The period to open on: ?day= or ?month= in the address, else today and this month. */
  function firstPeriod() {
    var now = new Date();
    var today = now.getFullYear() + "-" + pad(now.getMonth() + 1) + "-" + pad(now.getDate());
    var params = new URLSearchParams(location.search);
    $("#report-day").value = params.get("day") || today;
    $("#report-month").value = params.get("month") || (params.get("day") || today).slice(0, 7);
    setKind(params.get("month") && !params.get("day") ? "monthly" : "daily");
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function setKind(k) {
    kind = k === "monthly" ? "monthly" : "daily";
    Q.each(document.querySelectorAll(".report-kind"), function (b) {
      b.setAttribute("aria-pressed", String(b.getAttribute("data-kind") === kind));
    });
    Q.show("#day-field", kind === "daily");
    Q.show("#month-field", kind === "monthly");
  }

  /* -- login --------------------------------------------------------- */

  function enter(s) {
    session = s;
    report = null;
    card = null;
    drawWho();
    load();
  }

  function leave() {
    session = null;
    report = null;
    Object.keys(charts).forEach(function (id) { charts[id].dispose(); });
    charts = {};
  }

  /* -- reading ------------------------------------------------------- */

  function query() {
    return kind === "daily" ? "day=" + encodeURIComponent($("#report-day").value)
      : "month=" + encodeURIComponent($("#report-month").value);
  }

  function load() {
    if (!session) return;
    var mine = ++seq;
    banner.set("info", function () { return Q.t("loading"); }, "loading");
    Q.show("#scorecard", false);
    card = null;
    Q.api("GET", "/reports/" + kind + "?" + query()).then(function (res) {
      if (mine !== seq || !session) return;
      report = res;
      banner.set(null);
      drawAll();
    }, failed);
  }

  function failed(err) {
    if (err.code === "unauthorized") return login.expire();
    banner.set(err.code === "network" ? "warn" : "error", function () { return Q.errorText(err); }, err.code || "server");
  }

  /** The same report as a file: fetched with the session's token, handed to the browser to save. */
  function download(format) {
    if (!session) return;
    var headers = { "Accept": "*/*" };
    if (Q.getToken()) headers.Authorization = "Bearer " + Q.getToken();
    var url = "/api/v1/reports/" + kind + "?" + query() + "&format=" + format;
    fetch(url, { headers: headers, credentials: "same-origin", cache: "no-store" }).then(function (res) {
      if (!res.ok) {
        return res.json().then(function (data) {
          throw Q.ApiError(data && data.code || "server", data && data.error, res.status);
        }, function () { throw Q.ApiError("server", "", res.status); });
      }
      var disposition = res.headers.get("Content-Disposition") || "";
      var named = /filename="([^"]+)"/.exec(disposition);
      return res.blob().then(function (blob) {
        var a = document.createElement("a");
        a.href = URL.createObjectURL(blob);
        a.download = named ? named[1] : "qcall-report." + format;
        document.body.appendChild(a);
        a.click();
        setTimeout(function () { URL.revokeObjectURL(a.href); document.body.removeChild(a); }, 1000);
      });
    }, function () { throw Q.ApiError("network", "", 0); }).then(null, failed);
  }

  function onTableClick(e) {
    var button = e.target.closest ? e.target.closest(".scorecard-open") : null;
    if (!button || !report) return;
    var clerk = button.getAttribute("data-clerk");
    var month = report.period.label;
    Q.api("GET", "/reports/clerks/" + encodeURIComponent(clerk) + "?month=" + month).then(function (res) {
      card = res;
      drawScorecard();
      $("#scorecard").scrollIntoView();
    }, failed);
  }

  /* -- words for figures ---------------------------------------------- */

  /** A figure as the page shows it: a share as a percentage, a yes/no, a dash for none. */
  function shown(name, value) {
    if (value === null || value === undefined) return Q.t("none");
    if (name === "share") return (Math.round(value * 1000) / 10).toFixed(1) + "%";
    if (name === "target_met") return Q.t(value ? "yes" : "no");
    return String(value);
  }

  function figure(group, column) {
    var section = group && group[column[1]];
    return section ? section[column[2]] : null;
  }

  /** A group's name: an hour, a day, a service's or counter's name, a clerk's user name. */
  function groupName(by, group) {
    if (group.key === null || group.key === undefined) return Q.t("nowhere");
    if (by === "hour") return Q.t("hour", { h: pad(group.key) });
    if (by === "day") return String(group.key);
    if (by === "service" || by === "counter") return Q.name(group) || String(group.key);
    return String(group.key);
  }

  /* -- drawing ------------------------------------------------------- */

  function drawAll() {
    if (!session) return;
    drawWho();
    if (!report) return;
    var hall = Q.name(report.hall);
    $("#report-heading").textContent = Q.t("heading." + report.period.kind, { hall: hall, label: report.period.label });
    document.title = Q.t("title") + " · " + hall + " · " + report.period.label;
    drawTotals();
    drawTables();
    drawCharts();
    if (card) drawScorecard();
  }

  function drawWho() {
    if (!session) return;
    $("#staff-name").textContent = Q.t("staff", { name: session.username || "", role: Q.t("role." + session.role) });
  }

  var TOTALS = ["issued", "served", "no_show", "cancelled", "transferred", "wait_p50", "wait_p90", "service_p50", "service_p90", "share"];

  function drawTotals() {
    var total = report.total, target = report.satisfaction.target;
    var met = total.satisfaction.target_met;
    Q.setHtml($("#totals"), Q.html`${COLUMNS.filter(function (c) { return TOTALS.indexOf(c[0]) >= 0; }).map(function (c) {
      var value = figure(total, c);
      var extra = c[0] === "share" ? Q.html`<span class="total-note ${met === true ? "met" : met === false ? "missed" : ""}">${
        Q.t("fig.target", { n: target })}${met === null ? "" : " · " + Q.t(met ? "yes" : "no")}</span>` : "";
      return Q.html`<div class="total" data-figure="${c[0]}"><dt>${Q.t("fig." + c[0])}</dt>
        <dd data-figure="${c[0]}" data-value="${value === null ? "" : value}">${shown(c[0], value)}</dd>${extra}</div>`;
    })}`);
  }

  function drawTables() {
    var monthly = report.period.kind === "monthly";
    Q.setHtml($("#report-tables"), Q.html`${SECTIONS[report.period.kind].map(function (by) {
      var groups = report.sections[by] || [];
      var withCard = monthly && by === "clerk";
      return Q.html`<section class="panel report-section" data-section="${by}">
        <h2>${Q.t("section." + by)}</h2>
        ${groups.length ? Q.html`<table class="board-table report-table">
          <thead><tr><th>${Q.t("col.key")}</th>${COLUMNS.map(function (c) {
            return Q.html`<th class="num" data-figure="${c[0]}">${Q.t("fig." + c[0])}</th>`;
          })}${withCard ? Q.html`<th>${Q.t("col.action")}</th>` : ""}</tr></thead>
          <tbody>${groups.map(function (g) {
            return Q.html`<tr data-key="${g.key === null ? "" : g.key}">
              <th scope="row">${groupName(by, g)}</th>${COLUMNS.map(function (c) {
                var value = figure(g, c);
                return Q.html`<td class="num" data-figure="${c[0]}" data-value="${value === null ? "" : value}">${shown(c[0], value)}</td>`;
              })}${withCard ? Q.html`<td>${g.key === null ? "" : Q.html`<button class="report-button small scorecard-open" type="button"
                data-clerk="${g.key}">${Q.t("scorecard")}</button>`}</td>` : ""}
            </tr>`;
          })}</tbody>
        </table>` : Q.html`<p class="empty">${Q.t("empty")}</p>`}
      </section>`;
    })}${drawHandoffs()}`);
  }

  /** The paths tickets took between services (内转), most taken first. */
  function drawHandoffs() {
    var names = {};
    (report.sections.service || []).forEach(function (g) { names[g.key] = g; });
    function service(code) { return names[code] ? Q.name(names[code]) : code; }
    var paths = report.handoffs || [];
    return Q.html`<section class="panel report-section" data-section="handoff">
      <h2>${Q.t("section.handoff")}</h2>
      ${paths.length ? Q.html`<table class="board-table report-table">
        <thead><tr><th>${Q.t("handoff.from")}</th><th>${Q.t("handoff.to")}</th><th class="num">${Q.t("handoff.count")}</th></tr></thead>
        <tbody>${paths.map(function (h) {
          return Q.html`<tr data-from="${h.from}" data-to="${h.to}"><td>${service(h.from)}</td><td>${service(h.to)}</td>
            <td class="num" data-value="${h.count}">${h.count}</td></tr>`;
        })}</tbody>
      </table>` : Q.html`<p class="empty">${Q.t("empty")}</p>`}
    </section>`;
  }

  function drawScorecard() {
    var c = card, rank = c.rank;
    $("#scorecard-title").textContent = Q.t("scorecard.title", { name: c.clerk, label: c.period.label });
    var rows = [
      ["served", shown("served", c.served)],
      ["service_mean", shown("", c.service_mean_seconds)],
      ["share", shown("share", c.satisfaction_share) + " (" + Q.t("fig.target", { n: c.target }) + ")"],
      ["index", shown("", c.satisfaction_index)],
      ["ratings", shown("", c.ratings)],
      ["no_show", shown("", c.no_show)],
      ["rank_served", rank.served === null ? Q.t("none") : Q.t("rank.of", { n: rank.served, of: rank.clerks })],
      ["rank_satisfaction", rank.satisfaction === null ? Q.t("none")
        : Q.t("rank.of", { n: rank.satisfaction, of: rank.rated_clerks })]
    ];
    Q.setHtml($("#scorecard-figures"), Q.html`${rows.map(function (r) {
      return Q.html`<div class="total" data-figure="${r[0]}"><dt>${Q.t("fig." + r[0])}</dt><dd>${r[1]}</dd></div>`;
    })}`);
    Q.show("#scorecard", true);
  }

  /* -- charts (ECharts) ------------------------------------------------ */

  function chart(id) {
    if (!charts[id]) {
      var el = document.getElementById(id);
      charts[id] = echarts.init(el, null, { renderer: "canvas" });
      // Marked once drawn: tests (and people) can tell a drawn chart from an empty box.
      charts[id].on("finished", function () { el.setAttribute("data-rendered", "true"); });
    }
    return charts[id];
  }

  /** Big type, dark ink, no animation: read from across the office, printed in a screenshot. */
  function base(categories, yName) {
    return {
      animation: false,
      textStyle: { fontSize: 15, color: "#111" },
      grid: { left: 56, right: 88, top: 48, bottom: 56 },
      legend: { top: 0, textStyle: { fontSize: 15, color: "#111" } },
      // Drawn on the canvas, not as HTML: the page's CSP allows no inline style.
      tooltip: { trigger: "axis", renderMode: "richText" },
      xAxis: { type: "category", data: categories, axisLabel: { fontSize: 14, color: "#111", interval: 0, hideOverlap: true } },
      yAxis: { type: "value", name: yName || "", minInterval: 1, axisLabel: { fontSize: 14, color: "#111" } }
    };
  }

  function bar(name, data, color, extra) {
    return Object.assign({ type: "bar", name: name, data: data, itemStyle: { color: color }, barMaxWidth: 36 }, extra || {});
  }

  /** Issued and served per hour (the day's hours, gaps filled) or per day of the month (every day). */
  function timeSeries() {
    var by = report.period.kind === "daily" ? "hour" : "day";
    var groups = {};
    (report.sections[by] || []).forEach(function (g) { groups[String(g.key)] = g; });
    var keys = [], labels = [];
    if (by === "hour") {
      var hours = (report.sections.hour || []).map(function (g) { return g.key; });
      var first = hours.length ? Math.min.apply(null, hours) : 9, last = hours.length ? Math.max.apply(null, hours) : 17;
      for (var h = first; h <= last; h++) { keys.push(String(h)); labels.push(Q.t("hour", { h: pad(h) })); }
    } else {
      var day = new Date(report.period.from + "T00:00:00Z"), end = new Date(report.period.to + "T00:00:00Z");
      for (; day <= end; day = new Date(day.getTime() + 86400000)) {
        var iso = day.toISOString().slice(0, 10);
        keys.push(iso);
        labels.push(Q.t("day", { d: iso.slice(8) }));
      }
    }
    return {
      labels: labels,
      issued: keys.map(function (k) { return groups[k] ? groups[k].tickets.issued || 0 : 0; }),
      served: keys.map(function (k) { return groups[k] ? groups[k].tickets.served : 0; })
    };
  }

  function percent(share) { return share === null || share === undefined ? null : Math.round(share * 1000) / 10; }

  function satisfactionOption(groups, by) {
    var rated = groups.filter(function (g) { return g.key !== null && g.satisfaction.ratings > 0; });
    var target = report.satisfaction.target;
    var option = base(rated.map(function (g) { return groupName(by, g); }), "%");
    option.yAxis.max = 100;
    option.series = [bar(Q.t("series.share"), rated.map(function (g) {
      var value = percent(g.satisfaction.share);
      return { value: value, itemStyle: { color: value >= target ? GREEN : RED } };
    }), GREEN, {
      label: { show: true, position: "top", fontSize: 14, color: "#111", formatter: "{c}%" },
      markLine: { symbol: "none", silent: true, lineStyle: { color: AMBER, width: 2, type: "dashed" },
        label: { formatter: Q.t("series.target") + " " + target + "%", fontSize: 14, color: AMBER },
        data: [{ yAxis: target }] }
    })];
    return option;
  }

  function drawCharts() {
    var daily = report.period.kind === "daily";
    $("#chart-time-title").textContent = Q.t(daily ? "chart.time.daily" : "chart.time.monthly");
    var series = timeSeries();
    var time = base(series.labels);
    time.series = [bar(Q.t("series.issued"), series.issued, BLUE), bar(Q.t("series.served"), series.served, GREEN)];
    chart("chart-time").setOption(time, true);

    var services = report.sections.service || [];
    var wait = base(services.map(function (g) { return groupName("service", g); }), Q.t("unit.seconds"));
    wait.series = [
      bar(Q.t("series.p50"), services.map(function (g) { return g.waiting.p50; }), BLUE),
      bar(Q.t("series.p90"), services.map(function (g) { return g.waiting.p90; }), AMBER)
    ];
    chart("chart-wait").setOption(wait, true);
    chart("chart-counters").setOption(satisfactionOption(report.sections.counter || [], "counter"), true);
    chart("chart-clerks").setOption(satisfactionOption(report.sections.clerk || [], "clerk"), true);
  }

  init();
})();
