/*
 * The supervisor's screen (值班长/大堂经理 看板), for admins and supervisors,
 * big enough for a wall: alerts first, then waiting per service, clerks on a
 * break, and every counter (open, paused with its reason and for how long,
 * unstaffed; who the rota wants there and who is).
 *
 * Source: the hub's `supervisor` view over Socket.IO (auth {supervise: true}:
 * the supervisors' room only, no hall deltas); the hub sends it on joining,
 * after hall events and device changes, and when this page asks (every
 * minute: the rota's hours move on with no event). Alerts that fall due with
 * time (a target nearly breached, a counter idle too long) come ahead with
 * `from`; this page shows each from that moment on the hub's clock (taken from
 * the view's `now`, as targets.js does), checked every second, so an alert is
 * on time when nothing happens in the hall (a case step past its deadline,
 * case_overdue, too: how many and the oldest). Every alert is shown in both
 * languages at once. Names no visitor: ticket numbers only.
 */
(function () {
  "use strict";
  var Q = QCall, $ = Q.$;

  var WORDS = {
    zh: {
      "title": "值班长看板",
      "login.title": "值班长看板：登录",
      "login.username": "用户名",
      "login.password": "密码",
      "login.submit": "登录",
      "login.wrong": "用户名或密码错误。",
      "login.need_name": "请填写用户名和密码。",
      "login.expired": "登录已过期，请重新登录。",
      "login.not_allowed": "只有管理员和值班长可以查看此页。",
      "logout": "退出登录",
      "staff": "{name}（{role}）",
      "role.admin": "管理员",
      "role.supervisor": "值班长",
      "nav.admin": "设备与排队",
      "alerts.title": "提醒",
      "alerts.count": "（{n} 条）",
      "alerts.none": "一切正常。",
      "left": "还剩 {t}",
      "overdue": "已超时 {t}",
      "idle_for": "已空闲 {t}",
      "services.title": "等候",
      "services.service": "业务",
      "services.waiting": "等候人数",
      "services.longest": "最久等候",
      "services.estimate": "预计等候",
      "minutes": "约 {n} 分钟",
      "breaks.title": "暂离",
      "breaks.none": "无人暂离。",
      "breaks.item": "{clerk} · {counter} · {reason} · {t}",
      "counters.title": "窗口",
      "counter.open": "服务中",
      "counter.paused": "暂停",
      "counter.closed": "无人值守",
      "counter.clerk": "在岗：{name}",
      "counter.nobody": "无人在岗",
      "counter.planned": "排班：{names}",
      "counter.unplanned": "排班：无",
      "counter.current": "当前：{number}",
      "counter.idle": "空闲 {t}",
      "staffing.ok": "按排班",
      "staffing.on_break": "按排班，暂离",
      "staffing.missing": "排班人员未到",
      "staffing.someone_else": "非排班人员在岗",
      "staffing.unplanned": "排班外在岗",
      "staffing.closed": "未排班",
      "err.forbidden": "只有管理员和值班长可以查看此页。",
      "err.unauthorized": "登录已过期，请重新登录。"
    },
    en: {
      "title": "Supervisor",
      "login.title": "Supervisor: log in",
      "login.username": "Username",
      "login.password": "Password",
      "login.submit": "Log in",
      "login.wrong": "Wrong username or password.",
      "login.need_name": "Please enter your username and password.",
      "login.expired": "Your session has ended. Please log in again.",
      "login.not_allowed": "Only admins and supervisors may see this page.",
      "logout": "Log out",
      "staff": "{name} ({role})",
      "role.admin": "admin",
      "role.supervisor": "supervisor",
      "nav.admin": "Devices and queue",
      "alerts.title": "Alerts",
      "alerts.count": "({n})",
      "alerts.none": "All is well.",
      "left": "{t} left",
      "overdue": "overdue {t}",
      "idle_for": "idle {t}",
      "services.title": "Waiting",
      "services.service": "Service",
      "services.waiting": "Waiting",
      "services.longest": "Longest wait",
      "services.estimate": "Estimate",
      "minutes": "about {n} min",
      "breaks.title": "On a break",
      "breaks.none": "Nobody is on a break.",
      "breaks.item": "{clerk} · {counter} · {reason} · {t}",
      "counters.title": "Counters",
      "counter.open": "Open",
      "counter.paused": "Paused",
      "counter.closed": "Unstaffed",
      "counter.clerk": "On post: {name}",
      "counter.nobody": "Nobody on post",
      "counter.planned": "Rota: {names}",
      "counter.unplanned": "Rota: nobody",
      "counter.current": "Now: {number}",
      "counter.idle": "idle {t}",
      "staffing.ok": "as planned",
      "staffing.on_break": "as planned, on a break",
      "staffing.missing": "planned clerk missing",
      "staffing.someone_else": "someone else on post",
      "staffing.unplanned": "on post, not on the rota",
      "staffing.closed": "not on the rota",
      "err.forbidden": "Only admins and supervisors may see this page.",
      "err.unauthorized": "Your session has ended. Please log in again."
    }
  };

  var READERS = ["admin", "supervisor"];
  var REFRESH_MS = 60000;   // the rota's hours move on with no event: ask for the view again
  var TICK_MS = 1000;

  var session = null;       // {token, username, role}
  var view = null;          // the hub's last view
  var offset = 0;           // hub clock − this PC's clock (ms), from the view's `now`
  var socket = null;
  var refreshTimer = null;
  var online = null;
  var banner = Q.messageBanner("#banner");
  var login = null;

  function init() {
    Q.i18n(WORDS, "qcall.supervisor.lang");
    Q.translatePage();
    Q.onLang(function () { draw(); banner.draw(); });
    $("#login-lang").addEventListener("click", Q.toggleLang);
    $("#lang-switch").addEventListener("click", Q.toggleLang);
    login = Q.staffLogin({
      prefix: "sup-",
      view: "#sup-view",
      key: "qcall.supervisor",
      roles: READERS,
      enter: enter,
      leave: leave
    });
    $("#btn-logout").addEventListener("click", login.logout);
    setInterval(function () { if (view) draw(); }, TICK_MS);
    login.start();
  }

  /* -- the live link ------------------------------------------------- */

  function enter(s) {
    session = s;
    view = null;
    banner.set(null);
    draw();
    var auth = s.token ? { token: s.token, supervise: true } : { supervise: true };
    socket = Q.connect(auth, {
      supervisor: take,
      online: drawConn,
      unauthorized: refused
    });
    refreshTimer = setInterval(function () {
      if (socket && socket.connected) socket.emit("supervisor");
    }, REFRESH_MS);
  }

  function leave() {
    session = null;
    view = null;
    if (socket) { socket.disconnect(); socket = null; }
    clearInterval(refreshTimer);
    online = null;
  }

  /** The hub refused the socket: "forbidden" (not a reader) or an ended login. */
  function refused(message) {
    if (/forbidden/i.test(message || "")) {
      banner.set("error", function () { return Q.t("err.forbidden"); }, "forbidden");
      return;
    }
    if (session && session.token) login.expire();
    else banner.set("error", function () { return Q.t("err.unauthorized"); }, "unauthorized");
  }

  function take(v) {
    if (!v || !v.now) return;
    if (v.timezone) Q.setTimeZone(v.timezone);   // the clock is the hall's, not the browser's
    var hub = parse(v.now);
    if (!isNaN(hub)) offset = hub - Date.now();
    view = v;
    document.body.setAttribute("data-live", "connected");
    draw();
  }

  function drawConn(up) {
    if (up !== undefined) online = up;
    Q.connLamp("#conn", online);
  }

  /* -- time ---------------------------------------------------------- */

  /** Milliseconds of an ISO time from the hub (microseconds cut for older parsers). */
  function parse(iso) {
    if (!iso) return NaN;
    return Date.parse(String(iso).replace(/(\.\d{3})\d+/, "$1"));
  }

  function hubNow() { return Date.now() + offset; }

  /** "4:05", "1:02:09": a span of milliseconds (never negative). */
  function span(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    var mm = h ? (m < 10 ? "0" : "") + m : String(m);
    return (h ? h + ":" : "") + mm + ":" + (sec < 10 ? "0" : "") + sec;
  }

  function since(iso, at) {
    var t = parse(iso);
    return isNaN(t) ? "" : span(at - t);
  }

  /* -- drawing ------------------------------------------------------- */

  function draw() {
    if (!session) return;
    $("#staff-name").textContent = Q.t("staff", { name: session.username || "", role: Q.t("role." + session.role) });
    document.title = Q.t("title") + " · qcall";
    drawConn();
    var at = hubNow();
    $("#sup-clock").textContent = view ? Q.formatTime(new Date(at), true) : "";
    drawAlerts(at);
    drawServices(at);
    drawBreaks(at);
    drawCounters(at);
  }

  /** Both languages of a word key, the page's language first. */
  function both(key, vars) {
    var first = Q.lang(), second = first === "zh" ? "en" : "zh";
    return { first: Q.t(key, vars, first), second: Q.t(key, vars, second) };
  }

  /** The alerts that have begun by `at`, soonest first; each with its level and its clock. */
  function activeAlerts(at) {
    return ((view && view.alerts) || []).filter(function (a) { return parse(a.from) <= at; });
  }

  /** warn (amber): nearly due, idle; alarm (red): overdue, unstaffed, a device down. */
  function level(a, at) {
    if (a.kind === "wait_due" || a.kind === "service_due") return at >= parse(a.due_at) ? "alarm" : "warn";
    return a.kind === "idle" ? "warn" : "alarm";
  }

  function clockOf(a, at) {
    if (a.kind === "wait_due" || a.kind === "service_due") {
      var due = parse(a.due_at);
      return at >= due ? both("overdue", { t: span(at - due) }) : both("left", { t: span(due - at) });
    }
    // A case step's deadline is a day's end: how long past it, in the same words as a ticket's.
    if (a.kind === "case_overdue" && a.due_at && at >= parse(a.due_at)) return both("overdue", { t: span(at - parse(a.due_at)) });
    if (a.kind === "idle") return both("idle_for", { t: span(at - parse(a.from) + (view.idle_after_seconds || 0) * 1000) });
    return null;
  }

  function drawAlerts(at) {
    var list = activeAlerts(at);
    list.sort(function (a, b) {
      var la = level(a, at) === "alarm" ? 0 : 1, lb = level(b, at) === "alarm" ? 0 : 1;
      return la - lb || parse(a.from) - parse(b.from);
    });
    $("#alerts-count").textContent = list.length ? Q.t("alerts.count", { n: list.length }) : "";
    Q.show("#alerts-none", !!view && list.length === 0);
    var zhFirst = Q.lang() === "zh";
    Q.setHtml($("#alerts-list"), Q.html`${list.map(function (a) {
      var clock = clockOf(a, at);
      return Q.html`<li class="sup-alert" data-alert="${a.key}" data-kind="${a.kind}" data-level="${level(a, at)}">
          <span class="sup-alert-text" lang="${zhFirst ? "zh-CN" : "en"}">${zhFirst ? a.zh : a.en}</span>
          ${clock ? Q.html`<span class="sup-alert-clock">${clock.first}</span>` : ""}
          <span class="sup-alert-other" lang="${zhFirst ? "en" : "zh-CN"}">${zhFirst ? a.en : a.zh}${
            clock ? Q.html` · ${clock.second}` : ""}</span>
        </li>`;
    })}`);
  }

  function drawServices(at) {
    var services = (view && view.services) || [];
    Q.setHtml($("#services-list"), Q.html`${services.map(function (s) {
      return Q.html`<tr data-service="${s.code}" data-waiting="${s.waiting}">
          <td>${Q.name(s)} <span class="code">${s.code}</span></td>
          <td class="num sup-big">${s.waiting}</td>
          <td class="num">${s.longest_since ? since(s.longest_since, at) : "—"}</td>
          <td class="num">${s.estimate_minutes === null || s.estimate_minutes === undefined
            ? "—" : Q.t("minutes", { n: s.estimate_minutes })}</td>
        </tr>`;
    })}`);
  }

  function reasonOf(b) { return Q.lang() === "zh" ? b.reason_zh : b.reason_en; }

  function counterNamed(number) {
    var c = ((view && view.counters) || []).filter(function (x) { return x.number === number; })[0];
    return c ? Q.name(c) : Q.t("counter.default_name", { n: number });
  }

  function drawBreaks(at) {
    var breaks = (view && view.breaks) || [];
    Q.show("#breaks-none", !!view && breaks.length === 0);
    Q.setHtml($("#breaks-list"), Q.html`${breaks.map(function (b) {
      return Q.html`<li data-clerk="${b.clerk || ""}" data-counter="${b.counter}">${Q.t("breaks.item", {
        clerk: b.clerk || "", counter: counterNamed(b.counter), reason: reasonOf(b), t: since(b.since, at)
      })}</li>`;
    })}`);
  }

  function drawCounters(at) {
    var counters = (view && view.counters) || [];
    Q.setHtml($("#counters-list"), Q.html`${counters.map(function (c) {
      var status = c.status === "paused" || c.status === "closed" ? c.status : "open";
      var planned = c.planned && c.planned.length
        ? Q.t("counter.planned", { names: c.planned.join(", ") }) : Q.t("counter.unplanned");
      return Q.html`<article class="sup-counter" data-counter="${c.number}" data-status="${status}"
          data-staffing="${c.staffing || ""}">
          <h3>${Q.name(c) || Q.t("counter.default_name", { n: c.number })}
            <span class="sup-badge ${status}">${Q.t("counter." + status)}</span></h3>
          <p class="sup-clerk">${c.clerk ? Q.t("counter.clerk", { name: c.clerk }) : Q.t("counter.nobody")}</p>
          ${c.break ? Q.html`<p class="sup-break">${reasonOf(c.break)} · ${since(c.break.since, at)}</p>` : ""}
          <p class="sup-plan">${planned}${c.staffing ? Q.html` · <span class="sup-staffing">${Q.t("staffing." + c.staffing)}</span>` : ""}</p>
          ${c.current ? Q.html`<p class="sup-current">${Q.t("counter.current", { number: c.current.number })}</p>` : ""}
          ${c.idle_since ? Q.html`<p class="sup-idle">${Q.t("counter.idle", { t: since(c.idle_since, at) })}</p>` : ""}
        </article>`;
    })}`);
  }

  init();
})();
