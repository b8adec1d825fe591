/*
 * The triage desk (预检分诊台): a triage nurse logs in (role triage, no
 * counter), picks the desk this screen stands at, then for each patient picks
 * a service and, if needed, a priority category, and issues the ticket. The
 * ticket prints on the desk's printer (the hub commits the print job with the
 * ticket); the page shows the number, the people ahead, what the printer
 * said, and the tickets issued here in this session.
 *
 * Sources: the snapshot (services and their waiting counts, kept live by
 * QCall.connect), GET /triage-desks, GET /priority-categories (all of them:
 * staff may grant any), POST /tickets {service, category?, desk?}.
 * Every refusal is shown in both languages: the nurse and the patient read it.
 */
(function () {
  "use strict";
  var Q = QCall, $ = Q.$;

  var WORDS = {
    zh: {
      "title": "预检分诊台",
      "login.title": "预检分诊台：登录",
      "login.username": "用户名",
      "login.password": "密码",
      "login.submit": "登录",
      "login.wrong": "用户名或密码错误。",
      "login.need_name": "请填写用户名和密码。",
      "login.expired": "登录已过期，请重新登录。",
      "login.not_triage": "此账号不是分诊账号：请用分诊护士的账号登录。",
      "logout": "退出登录",
      "staff": "分诊：{name}",
      "loading": "正在加载…",
      "desk.title": "请选择本分诊台",
      "desk.change": "更换分诊台",
      "desk.badge": "分诊台：{name}",
      "desk.printer": "打印机：{printer}",
      "desk.no_printer": "不打印",
      "desk.none": "本站点没有配置分诊台：号票只在屏幕上显示，不打印。",
      "issue.title": "为患者出号",
      "issue.service": "1. 业务 / 科室",
      "issue.category": "2. 优先类别（可选）",
      "issue.normal": "普通",
      "issue.button": "出号",
      "issue.button_other": "Issue ticket",
      "issue.pick_service": "请先选择业务。",
      "issue.summary": "将出号：{service}{category}",
      "issue.summary_category": "，优先：{category}",
      "issue.waiting": "等候 {n} 人",
      "issue.issuing": "正在出号…",
      "result.title": "刚出的号票",
      "result.empty": "还没有出号。",
      "result.ahead": "前面还有 {n} 人",
      "result.ahead_none": "前面没有人等候",
      "result.category": "优先：{category}",
      "print.none": "未打印：本分诊台没有打印机，请告知患者号码。",
      "print.queued": "已送往打印机 {printer}。",
      "print.waiting": "打印机 {printer} 未就绪（{detail}），恢复后自动打印；请先告知患者号码。",
      "print.failed": "无法打印（{detail}）：请告知患者号码。",
      "print.short.none": "未打印",
      "print.short.queued": "已送打印",
      "print.short.waiting": "待打印",
      "print.short.failed": "打印失败",
      "detail.paper_out": "缺纸",
      "detail.cover_open": "机盖打开",
      "detail.offline": "离线",
      "detail.disconnected": "未连接",
      "detail.unknown": "状态未知",
      "issued.title": "本次登录在本分诊台出的号",
      "issued.count": "（{n} 张）",
      "issued.time": "时间",
      "issued.number": "号码",
      "issued.service": "业务",
      "issued.category": "优先类别",
      "issued.print": "打印",
      "err.unauthorized": "登录已过期，请重新登录。",
      "err.forbidden": "此账号不能在分诊台出号。",
      "err.unknown_category": "没有这个优先类别，请刷新页面后重选。",
      "err.priority_not_allowed": "此账号不能给予这个优先类别。",
      "err.unknown_desk": "没有这个分诊台，请重新选择分诊台。"
    },
    en: {
      "title": "Triage desk",
      "login.title": "Triage desk: log in",
      "login.username": "Username",
      "login.password": "Password",
      "login.submit": "Log in",
      "login.wrong": "Wrong username or password.",
      "login.need_name": "Please enter your username and password.",
      "login.expired": "Your session has ended. Please log in again.",
      "login.not_triage": "This is not a triage account: please log in as a triage nurse.",
      "logout": "Log out",
      "staff": "Triage: {name}",
      "loading": "Loading…",
      "desk.title": "Which triage desk is this?",
      "desk.change": "Change desk",
      "desk.badge": "Desk: {name}",
      "desk.printer": "printer: {printer}",
      "desk.no_printer": "no printer",
      "desk.none": "This site has no triage desk: tickets are shown on screen only, not printed.",
      "issue.title": "Issue a ticket for a patient",
      "issue.service": "1. Service / clinic",
      "issue.category": "2. Priority category (optional)",
      "issue.normal": "Normal",
      "issue.button": "Issue ticket",
      "issue.button_other": "出号",
      "issue.pick_service": "Pick a service first.",
      "issue.summary": "To issue: {service}{category}",
      "issue.summary_category": ", priority: {category}",
      "issue.waiting": "{n} waiting",
      "issue.issuing": "Issuing…",
      "result.title": "Just issued",
      "result.empty": "No ticket issued yet.",
      "result.ahead": "{n} ahead",
      "result.ahead_none": "Nobody ahead",
      "result.category": "Priority: {category}",
      "print.none": "Not printed: this desk has no printer. Tell the patient the number.",
      "print.queued": "Sent to printer {printer}.",
      "print.waiting": "Printer {printer} is not ready ({detail}); it prints when it is back. Tell the patient the number meanwhile.",
      "print.failed": "Cannot print ({detail}): tell the patient the number.",
      "print.short.none": "not printed",
      "print.short.queued": "sent",
      "print.short.waiting": "waiting",
      "print.short.failed": "failed",
      "detail.paper_out": "paper out",
      "detail.cover_open": "cover open",
      "detail.offline": "offline",
      "detail.disconnected": "disconnected",
      "detail.unknown": "state unknown",
      "issued.title": "Issued at this desk in this session",
      "issued.count": "({n})",
      "issued.time": "Time",
      "issued.number": "Number",
      "issued.service": "Service",
      "issued.category": "Priority",
      "issued.print": "Print",
      "err.unauthorized": "Your session has ended. Please log in again.",
      "err.forbidden": "This account may not issue tickets at the triage desk.",
      "err.unknown_category": "There is no such priority category; reload the page and pick again.",
      "err.priority_not_allowed": "This account may not give this priority category.",
      "err.unknown_desk": "There is no such triage desk; pick the desk again."
    }
  };

  var DESK_KEY = "qcall.triage.desk";          // localStorage: the desk this screen stands at
  var ISSUED_KEY = "qcall.triage.issued";      // sessionStorage: this session's tickets
  var ISSUED_MAX = 30;

  var session = null;      // {token, username, role}
  var socket = null;
  var online = null;
  var snapshot = null;     // services and their counts
  var desks = null;        // [{name, printer}] or null before GET /triage-desks answered
  var desk = null;         // the chosen desk {name, printer}, or null
  var categories = [];     // [{code, name_zh, name_en, weight, grant}]
  var service = null;      // the chosen service code
  var category = null;     // the chosen category code, or null (normal)
  var busy = false;
  var last = null;         // the last ticket issued (the answer of POST /tickets, with our extras)
  var issued = [];         // this session's tickets, newest first
  var message = null;      // {kind, err | key}: drawn in both languages
  var login = null;

  function init() {
    Q.i18n(WORDS, "qcall.triage.lang");
    Q.translatePage();
    Q.onLang(function () { drawAll(); });
    $("#login-lang").addEventListener("click", Q.toggleLang);
    $("#lang-switch").addEventListener("click", Q.toggleLang);
    login = Q.staffLogin({
      prefix: "triage-",
      view: "#triage-view",
      key: "qcall.triage",
      roles: ["triage", "admin"],   // nurses, and admins (who may do anything a nurse may)
      notAllowed: "login.not_triage",
      enter: enter,
      leave: leave
    });
    $("#btn-logout").addEventListener("click", login.logout);
    $("#btn-change-desk").addEventListener("click", function () { chooseDesk(null); });
    $("#desk-buttons").addEventListener("click", function (e) {
      var btn = e.target.closest(".desk-btn");
      if (!btn || !desks) return;
      var name = btn.getAttribute("data-desk");
      desks.forEach(function (d) { if (d.name === name) chooseDesk(d); });
    });
    $("#services").addEventListener("click", function (e) {
      var btn = e.target.closest(".svc-btn");
      if (!btn || busy) return;
      service = btn.getAttribute("data-service");
      setMessage(null);
      drawIssue();
    });
    $("#categories").addEventListener("click", function (e) {
      var btn = e.target.closest(".cat-btn");
      if (!btn || busy) return;
      category = btn.getAttribute("data-category") || null;
      drawIssue();
    });
    $("#btn-issue").addEventListener("click", issue);
    login.start();
  }

  /* -- session ----------------------------------------------------------- */

  function enter(s) {
    session = s;
    snapshot = null;
    desks = null;
    categories = [];
    service = null;
    category = null;
    last = null;
    issued = readIssued(s.username);
    setMessage(null);
    drawAll();
    Q.api("GET", "/triage-desks").then(function (res) {
      if (session !== s) return;
      desks = (res && res.desks) || [];
      var kept = Q.storageGet(localStorage, DESK_KEY);
      desk = null;
      desks.forEach(function (d) { if (d.name === kept) desk = d; });
      if (!desk && desks.length === 1) desk = desks[0];
      drawAll();
    }, failed);
    Q.api("GET", "/priority-categories").then(function (res) {
      if (session !== s) return;
      categories = (res && res.categories) || [];
      drawIssue();
    }, failed);
    socket = Q.connect(s.token ? { token: s.token } : {}, {
      snapshot: function (snap) {
        snapshot = snap;
        Q.defaultLang(snap.site && snap.site.languages);
        drawIssue();
      },
      queue: function (snap) { snapshot = snap; drawIssue(); },
      online: function (up) { online = up; Q.connLamp("#conn", online); },
      unauthorized: function () { if (s.token) login.expire(); }
    });
  }

  function leave() {
    session = null;
    if (socket) { socket.disconnect(); socket = null; }
    online = null;
  }

  function chooseDesk(d) {
    desk = d;
    Q.storageSet(localStorage, DESK_KEY, d ? d.name : null);
    setMessage(null);
    drawAll();
  }

  /** This session's tickets survive a reload of the tab (not a new login by someone else). */
  function readIssued(username) {
    try {
      var kept = JSON.parse(Q.storageGet(sessionStorage, ISSUED_KEY) || "null");
      return kept && kept.username === username && Array.isArray(kept.tickets) ? kept.tickets : [];
    } catch (e) { return []; }
  }

  function keepIssued() {
    Q.storageSet(sessionStorage, ISSUED_KEY, JSON.stringify({ username: session.username, tickets: issued }));
  }

  /* -- issuing ------------------------------------------------------------- */

  function issue() {
    if (busy || !session) return;
    if (!service) return setMessage({ kind: "warn", key: "issue.pick_service" });
    var body = { service: service };
    if (category) body.category = category;
    if (desk) body.desk = desk.name;
    busy = true;
    setMessage(null);
    drawIssue();
    var me = session;
    Q.api("POST", "/tickets", body).then(function (t) {
      if (session !== me) return;
      t.category_code = category;
      t.desk = desk ? desk.name : null;
      last = t;
      issued.unshift({
        id: t.id, number: t.number, at: t.issued_at, service_name_zh: t.service_name_zh,
        service_name_en: t.service_name_en, category: category, print: (t.print && t.print.state) || "none"
      });
      issued = issued.slice(0, ISSUED_MAX);
      keepIssued();
      service = null;      // the next patient starts from nothing
      category = null;
      drawResult();
      drawIssued();
    }, failed).then(function () {
      busy = false;
      drawIssue();
    });
  }

  function failed(err) {
    if (err.code === "unauthorized") return login.expire();
    if (err.code === "unknown_desk") chooseDesk(null);
    setMessage({ kind: err.code === "network" ? "warn" : "error", err: err });
  }

  /* -- words ----------------------------------------------------------------- */

  function other() { return Q.lang() === "zh" ? "en" : "zh"; }

  /** An error's words in language l: the hub's own in that language (closed now: with when it opens),
   * else ours for the code, else the hub's sentence, else a generic line. */
  function errorIn(err, l) {
    var said = Q.hubWords(err);  // a refusal worded in both languages where it was made
    if (said) return said[l];
    var key = "err." + err.code;
    var word = Q.t(key, null, l);
    if (word !== key) return word;
    var own = err.data && err.data["error_" + l];  // the hub's words for a code we have none for
    if (own) return own;
    if (err.message && err.message !== err.code) return err.message;
    return Q.t("err.server", null, l);
  }

  function both(fn) {
    var first = fn(Q.lang()), second = fn(other());
    return first === second ? first : first + " / " + second;
  }

  function categoryOf(code) {
    var found = null;
    categories.forEach(function (c) { if (c.code === code) found = c; });
    return found;
  }

  function categoryName(code, l) {
    var c = categoryOf(code);
    return c ? Q.name(c, l) : code || "";
  }

  function serviceName(code, l) {
    var found = null;
    ((snapshot && snapshot.services) || []).forEach(function (s) { if (s.code === code) found = s; });
    return found ? Q.name(found, l) : code || "";
  }

  function detailWord(detail, l) {
    var key = "detail." + detail;
    var word = Q.t(key, null, l);
    return word === key ? String(detail || "") : word;
  }

  /* -- drawing ------------------------------------------------------------- */

  function drawAll() {
    if (!session) return;
    document.title = Q.t("title") + " · qcall";
    $("#staff-name").textContent = Q.t("staff", { name: session.username || "" });
    Q.connLamp("#conn", online);
    drawDesk();
    drawIssue();
    drawResult();
    drawIssued();
    drawMessage();
  }

  function drawDesk() {
    var picking = desks !== null && desks.length > 0 && !desk;
    Q.show("#desk-loading", desks === null);
    Q.show("#desk-picker", desks === null || picking || (desks && desks.length === 0));
    Q.show("#desk-none", desks !== null && desks.length === 0);
    Q.show("#issue-layout", desks !== null && !picking);
    Q.show("#btn-change-desk", !!desk && desks && desks.length > 1);
    var badge = $("#desk-name");
    badge.hidden = !desk;
    badge.textContent = desk ? Q.t("desk.badge", { name: desk.name }) : "";
    Q.setHtml($("#desk-buttons"), Q.html`${(desks || []).map(function (d) {
      return Q.html`<button type="button" class="big-btn desk-btn" data-desk="${d.name}">
          <span class="big-main">${d.name}</span>
          <span class="big-sub">${d.printer ? Q.t("desk.printer", { printer: d.printer }) : Q.t("desk.no_printer")}</span>
        </button>`;
    })}`);
  }

  function drawIssue() {
    if (!session) return;
    var services = (snapshot && snapshot.services) || [];
    Q.show("#services-empty", !snapshot);
    Q.setHtml($("#services"), Q.html`${services.map(function (s) {
      var on = s.code === service;
      return Q.html`<button type="button" class="big-btn svc-btn${on ? " on" : ""}" data-service="${s.code}"
          aria-pressed="${on ? "true" : "false"}" ${Q.raw(busy ? "disabled" : "")}>
          <span class="big-main">${s.name_zh}</span><span class="big-en">${s.name_en}</span>
          <span class="big-sub">${Q.t("issue.waiting", { n: s.waiting })}</span>
        </button>`;
    })}`);
    var choices = [{ code: "", name_zh: Q.t("issue.normal", null, "zh"), name_en: Q.t("issue.normal", null, "en") }]
      .concat(categories);
    Q.setHtml($("#categories"), Q.html`${choices.map(function (c) {
      var on = (c.code || null) === category;
      return Q.html`<button type="button" class="big-btn cat-btn${c.code ? " prio" : ""}${on ? " on" : ""}"
          data-category="${c.code}" aria-pressed="${on ? "true" : "false"}" ${Q.raw(busy ? "disabled" : "")}>
          <span class="big-main">${c.name_zh}</span><span class="big-en">${c.name_en}</span>
        </button>`;
    })}`);
    var btn = $("#btn-issue");
    btn.disabled = busy || !service;
    btn.classList.toggle("issuing", busy);
    $("#issue-summary").textContent = busy
      ? Q.t("issue.issuing")
      : service
        ? Q.t("issue.summary", {
          service: serviceName(service),
          category: category ? Q.t("issue.summary_category", { category: categoryName(category) }) : ""
        })
        : Q.t("issue.pick_service");
  }

  function printText(p, l) {
    var state = (p && p.state) || "none";
    var words = { printer: (p && p.printer) || "", detail: detailWord(p && p.detail, l) };
    return Q.t("print." + state, words, l);
  }

  function drawResult() {
    Q.show("#result", !!last);
    Q.show("#result-empty", !last);
    if (!last) return;
    $("#result-number").textContent = last.number;
    $("#result-service").textContent = both(function (l) { return l === "en" ? last.service_name_en : last.service_name_zh; });
    var cat = $("#result-category");
    cat.hidden = !last.category_code;
    cat.textContent = last.category_code
      ? both(function (l) { return Q.t("result.category", { category: categoryName(last.category_code, l) }, l); })
      : "";
    var n = last.waiting_ahead || 0;
    $("#result-ahead").textContent = both(function (l) {
      return n > 0 ? Q.t("result.ahead", { n: n }, l) : Q.t("result.ahead_none", null, l);
    });
    var p = last.print || { state: "none" };
    var el = $("#result-print");
    el.setAttribute("data-state", p.state || "none");
    el.className = "result-print st-" + (p.state || "none");
    el.textContent = both(function (l) { return printText(p, l); });
  }

  function drawIssued() {
    if (!session) return;
    $("#issued-count").textContent = issued.length ? Q.t("issued.count", { n: issued.length }) : "";
    Q.setHtml($("#issued-list"), Q.html`${issued.map(function (t) {
      return Q.html`<tr data-ticket-id="${t.id}">
          <td>${Q.formatTime(t.at)}</td>
          <td class="ticket-no">${t.number}</td>
          <td>${Q.lang() === "en" ? t.service_name_en : t.service_name_zh}</td>
          <td>${t.category ? categoryName(t.category) : "—"}</td>
          <td class="print-${t.print}">${Q.t("print.short." + t.print)}</td>
        </tr>`;
    })}`);
  }

  /* -- messages ---------------------------------------------------------- */

  function setMessage(msg) {
    message = msg;
    drawMessage();
  }

  /** The banner, always in both languages (the patient in front of the desk reads it too). */
  function drawMessage() {
    var el = $("#banner");
    if (!message) { el.hidden = true; return; }
    el.className = "banner " + message.kind;
    el.setAttribute("data-code", message.err ? message.err.code || "" : message.key || "");
    el.textContent = both(function (l) {
      return message.err ? errorIn(message.err, l) : Q.t(message.key, null, l);
    });
    el.hidden = false;
  }

  init();
})();
