/*
 * The device board: which printers (and later other devices) are doing their
 * job, live, with a banner for the ones that are not; and a compact view of
 * the queue beside it. For admins, supervisors and staff; shows no personal
 * data (ticket numbers only); its sections add what each role may read.
 *
 * Sources: GET /devices on login and on every (re)connect, then the
 * `device_status` event; the queue from the socket's snapshot, kept up to
 * date by the live events' deltas (QCall.connect applies them).
 */
(function () {
  "use strict";
  var Q = QCall, $ = Q.$;

  var WORDS = {
    zh: {
      "title": "设备与排队",
      "login.title": "设备与排队：登录",
      "login.username": "用户名",
      "login.password": "密码",
      "login.counter": "窗口号",
      "login.counter_optional": "（管理员可不填）",
      "login.submit": "登录",
      "login.wrong": "用户名或密码错误。",
      "login.need_name": "请填写用户名和密码。",
      "login.expired": "登录已过期，请重新登录。",
      "logout": "退出登录",
      "staff": "{name}（{role}）",
      "role.admin": "管理员",
      "role.staff": "工作人员",
      "role.supervisor": "值班长",
      "nav.console": "窗口控制台",
      "nav.supervisor": "值班长看板",
      "nav.reports": "报表",
      "loading": "正在加载…",
      "alert.count": "{n} 台设备异常",
      "alert.one": "1 台设备异常",
      "devices.title": "设备",
      "devices.count": "（{n} 台）",
      "devices.name": "名称",
      "devices.kind": "类型",
      "devices.state": "状态",
      "devices.detail": "说明",
      "devices.since": "自",
      "devices.driven_by": "由进程 {who} 驱动",
      "devices.empty": "没有配置设备。",
      "kind.printer": "打印机",
      "kind.kiosk": "取号机",
      "kind.lobby_screen": "大厅屏",
      "kind.counter_screen": "窗口屏",
      "kind.led_display": "LED 显示屏",
      "kind.speaker": "语音播报",
      "kind.keypad": "呼叫器",
      "kind.evaluation_pad": "评价器",
      "kind.display": "显示屏（未配置）",
      "kind.pad": "评价器（未配置）",
      "kind.device": "设备（未配置）",
      "devices.test": "测试",
      "devices.unconfigured": "站点配置中没有此名称",
      "test.print": "测试打印",
      "test.display": "测试显示",
      "test.voice": "测试语音",
      "test.sending": "正在测试…",
      "state.degraded": "降级运行",
      "state.restarting": "正在重启",
      "state.faulty": "故障",
      "state.online": "正常",
      "state.paper_near_end": "纸将用完",
      "state.paper_out": "缺纸",
      "state.cover_open": "机盖打开",
      "state.offline": "离线",
      "state.disconnected": "未连接",
      "state.unknown": "尚未连接",
      "state.error": "故障",
      "queue.title": "排队概况",
      "queue.day": "（{day}，共 {n} 人等候）",
      "queue.service": "业务",
      "queue.waiting": "等候",
      "queue.next": "下一批号码",
      "queue.counter": "窗口",
      "queue.status": "状态",
      "queue.current": "当前号码",
      "queue.none": "—",
      "err.forbidden": "此账号无权查看或修改这一项。",
      "err.unauthorized": "登录已过期，请重新登录。"
    },
    en: {
      "title": "Devices and queue",
      "login.title": "Devices and queue: log in",
      "login.username": "Username",
      "login.password": "Password",
      "login.counter": "Counter number",
      "login.counter_optional": "(admins may leave it empty)",
      "login.submit": "Log in",
      "login.wrong": "Wrong username or password.",
      "login.need_name": "Please enter your username and password.",
      "login.expired": "Your session has ended. Please log in again.",
      "logout": "Log out",
      "staff": "{name} ({role})",
      "role.admin": "admin",
      "role.staff": "staff",
      "role.supervisor": "supervisor",
      "nav.console": "Counter console",
      "nav.supervisor": "Supervisor",
      "nav.reports": "Reports",
      "loading": "Loading…",
      "alert.count": "{n} devices need attention",
      "alert.one": "1 device needs attention",
      "devices.title": "Devices",
      "devices.count": "({n})",
      "devices.name": "Name",
      "devices.kind": "Kind",
      "devices.state": "State",
      "devices.detail": "Detail",
      "devices.since": "Since",
      "devices.driven_by": "driven by process {who}",
      "devices.empty": "No devices are configured.",
      "kind.printer": "Printer",
      "kind.kiosk": "Kiosk",
      "kind.lobby_screen": "Lobby screen",
      "kind.counter_screen": "Counter screen",
      "kind.led_display": "LED display",
      "kind.speaker": "Voice",
      "kind.keypad": "Keypad",
      "kind.evaluation_pad": "Evaluation pad",
      "kind.display": "Screen (not configured)",
      "kind.pad": "Evaluation pad (not configured)",
      "kind.device": "Device (not configured)",
      "devices.test": "Test",
      "devices.unconfigured": "Not a name in the site file",
      "test.print": "Test print",
      "test.display": "Test display",
      "test.voice": "Test voice",
      "test.sending": "Testing…",
      "state.degraded": "Degraded",
      "state.restarting": "Restarting",
      "state.faulty": "Faulty",
      "state.online": "Online",
      "state.paper_near_end": "Paper low",
      "state.paper_out": "Paper out",
      "state.cover_open": "Cover open",
      "state.offline": "Offline",
      "state.disconnected": "Disconnected",
      "state.unknown": "Not seen yet",
      "state.error": "Error",
      "queue.title": "Queue",
      "queue.day": "({day}, {n} waiting)",
      "queue.service": "Service",
      "queue.waiting": "Waiting",
      "queue.next": "Next numbers",
      "queue.counter": "Counter",
      "queue.status": "Status",
      "queue.current": "Current",
      "queue.none": "—",
      "err.forbidden": "This account may not see or change this.",
      "err.unauthorized": "Your session has ended. Please log in again."
    }
  };

  var POLL_MS = 30000;                       // backstop if live events stop
  // What the admin may test on each kind of device (POST /admin/devices/{name}/test).
  var TESTS = { printer: "print", led_display: "display", counter_screen: "display", kiosk: "display",
    lobby_screen: "display", speaker: "voice" };
  var tested = {};         // device name → the last test's answer (or {pending: true})
  var HEALTHY = ["online", "paper_near_end"];

  var session = null;      // {token, username, role, counter}
  var devices = [];        // [{name, kind, state, detail, since, healthy}], in the hub's order
  var snapshot = null;     // the last queue snapshot
  var socket = null;
  var pollTimer = null;
  var online = null;       // live link state for the lamp; null before the first try
  var banner = Q.messageBanner("#banner");   // {kind, text(), code}
  var login = null;        // QCall.staffLogin: the form and the kept session

  // More sections of this page, each in a file of its own loaded before this one
  // (admin_*.js): {words, enter(session, page), leave(), snapshot(snap), queue(snap, name, delta), draw(),
  // settings(payload) (the hub's settings_changed)}.
  var SECTIONS = window.QCallAdminSections || [];

  /** Call `hook` on every section; one failing section does not take the page down. */
  function sections(hook) {
    var args = Array.prototype.slice.call(arguments, 1);
    SECTIONS.forEach(function (s) {
      if (typeof s[hook] !== "function") return;
      try { s[hook].apply(s, args); } catch (e) { if (window.console) console.error("admin: section " + hook + " failed", e); }
    });
  }

  function init() {
    SECTIONS.forEach(function (s) {
      ["zh", "en"].forEach(function (l) { Object.assign(WORDS[l], (s.words && s.words[l]) || {}); });
    });
    Q.i18n(WORDS, "qcall.admin.lang");
    Q.translatePage();
    Q.onLang(function () { drawAll(); banner.draw(); sections("draw"); });
    $("#login-lang").addEventListener("click", Q.toggleLang);
    $("#lang-switch").addEventListener("click", Q.toggleLang);
    login = Q.staffLogin({
      prefix: "admin-",
      view: "#admin-view",
      key: "qcall.admin",   // .session in sessionStorage, .last in localStorage
      resume: function (saved) { return !!saved.username; },
      // A console logged in on this browser leaves the hub's session cookie.
      fromMe: function (me) {
        return me && me.username ? { token: null, username: me.username, role: me.role, counter: me.counter || null } : null;
      },
      accept: function (res) {
        return { token: res.token, username: res.username, role: res.role, counter: res.counter || null };
      },
      enter: enter,
      leave: leave
    });
    $("#btn-logout").addEventListener("click", login.logout);
    $("#devices-list").addEventListener("click", onTest);
    // "Since 09:05" and friends: keep the relative bits honest.
    setInterval(function () { if (session) drawDevices(); }, 30000);
    login.start();
  }

  /* -- login --------------------------------------------------------- */

  /** Logged in (or back with the session kept in this tab). */
  function enter(s) {
    session = s;
    devices = [];
    snapshot = null;
    setMessage(null);
    drawAll();
    loadDevices();
    sections("enter", s, { expire: login.expire });
    // Without a token (cookie login), the handshake carries the cookie instead.
    socket = Q.connect(s.token ? { token: s.token } : {}, {
      snapshot: function (snap) {
        takeSnapshot(snap);
        Q.defaultLang(snap.site && snap.site.languages);
        loadDevices();   // after a network cut, device_status events may have been missed
        sections("snapshot", snap);
      },
      queue: function (snap, name, delta) {
        takeSnapshot(snap);
        sections("queue", snap, name, delta);
      },
      online: drawConn,
      unauthorized: function () { if (s.token) login.expire(); },
      device_status: onDeviceStatus,
      // Complaints: the category and the action only; the section reads what it may.
      complaint_changed: function (p) { sections("complaint", p); },
      // Cases (工单): a case opened, moved on, closed, or a step come due; the section reads again.
      case_changed: function (p) { sections("cases", p); },
      // The hall's settings were saved (here, by another admin or the CLI): the settings sections re-read.
      settings_changed: function (p) { sections("settings", p); },
      // Notices: posted, edited, withdrawn, or started or ended by their schedule.
      notices_changed: function (p) { sections("notices", p); }
    });
  }

  function leave() {
    session = null;
    sections("leave");
    if (socket) { socket.disconnect(); socket = null; }
    online = null;
    clearTimeout(pollTimer);
  }

  /* -- reading ------------------------------------------------------- */

  function loadDevices() {
    if (!session) return;
    clearTimeout(pollTimer);
    var me = session;
    Q.api("GET", "/devices").then(function (res) {
      if (session !== me) return;
      devices = (res && res.devices) || [];
      if (banner.code()) setMessage(null);   // we are back
      drawDevices();
    }, failed).then(function () {
      if (session === me) pollTimer = setTimeout(poll, POLL_MS);
    });
  }

  /** The backstop: devices always; the queue too while the live link is down. */
  function poll() {
    if (!session) return;
    if (!online) Q.api("GET", "/queue").then(takeSnapshot, function () { /* the lamp says it */ });
    loadDevices();
  }

  function failed(err) {
    if (err.code === "unauthorized") return login.expire();
    setMessage(err.code === "network" ? "warn" : "error", function () { return Q.errorText(err); }, err.code || "server");
  }

  function onDeviceStatus(d) {
    if (!d.name) return;
    var found = false;
    devices = devices.map(function (old) {
      if (old.name !== d.name) return old;
      found = true;
      return d;
    });
    if (!found) devices.push(d);
    drawDevices();
  }

  function takeSnapshot(snap) {
    if (!snap) return;
    snapshot = snap;
    drawQueue();
  }

  /* -- device tests -------------------------------------------------- */

  function onTest(e) {
    var btn = e.target.closest ? e.target.closest("button[data-test]") : null;
    if (!btn || !session || session.role !== "admin") return;
    var name = btn.getAttribute("data-test");
    tested[name] = { pending: true };
    drawDevices();
    Q.api("POST", "/admin/devices/" + encodeURIComponent(name) + "/test").then(function (res) {
      tested[name] = res;
      drawDevices();
    }, function (err) {
      tested[name] = { ok: false, error: err };
      drawDevices();
    });
  }

  function testText(r) {
    if (!r) return "";
    if (r.pending) return Q.t("test.sending");
    if (r.error) return Q.errorText(r.error);
    return r["detail_" + Q.lang()] || r.detail_en || "";
  }

  function testCell(d) {
    var test = TESTS[d.kind];
    if (!session || session.role !== "admin" || !test || d.configured === false) return Q.html`<td></td>`;
    var r = tested[d.name];
    return Q.html`<td><button type="button" class="test-button" data-test="${d.name}">${Q.t("test." + test)}</button>
      ${r ? Q.html`<span class="${"test-result " + (r.pending ? "" : r.ok ? "ok" : "bad")}" data-test-result="${d.name}">${testText(r)}</span>` : ""}</td>`;
  }

  /** The detail in the page's language (the hub gives both); a device the site file lacks says so. */
  function detailText(d, l) {
    if (d.configured === false) return Q.t("devices.unconfigured", null, l);
    var word = d["detail_" + (l || Q.lang())];
    return typeof word === "string" ? word : String(d.detail || "");
  }

  /** Needs someone: the hub's word (alarm), else a configured device that is not healthy and was seen. */
  function isAlarm(d) {
    if (typeof d.alarm === "boolean") return d.alarm;
    return !isHealthy(d) && d.state !== "unknown";
  }

  /* -- drawing ------------------------------------------------------- */

  function drawAll() {
    if (!session) return;
    $("#staff-name").textContent = Q.t("staff", { name: session.username || "", role: Q.t("role." + session.role) });
    document.title = Q.t("title") + " · qcall";
    drawConn();
    drawDevices();
    drawQueue();
  }

  function drawConn(up) {
    if (up !== undefined) online = up;
    Q.connLamp("#conn", online);
  }

  function isHealthy(d) {
    return typeof d.healthy === "boolean" ? d.healthy : HEALTHY.indexOf(d.state) >= 0;
  }

  /** online green, paper low amber, unknown grey, anything else red. */
  function stateClass(state) {
    if (state === "online") return "st-ok";
    if (state === "paper_near_end") return "st-low";
    if (state === "unknown" || !state) return "st-unknown";
    return "st-bad";
  }

  /** A word for a state in language l; an unheard-of state shows as the hub sent it. */
  function stateWord(state, l) {
    var key = "state." + state;
    var word = Q.t(key, null, l);
    return word === key ? String(state || "") : word;
  }

  function kindWord(kind) {
    var key = "kind." + kind;
    var word = Q.t(key);
    return word === key ? String(kind || "") : word;
  }

  /** The hall's time of `since`: "09:05:30" today, "11-24 17:02" before (its zone: QCall.formatDay). */
  function sinceText(value) {
    var d = new Date(value);
    if (!value || isNaN(d.getTime())) return "";
    var day = Q.formatDay(d);
    if (day === Q.formatDay(new Date())) return Q.formatTime(d, true);
    return day.slice(5) + " " + Q.formatTime(d);
  }

  function drawDevices() {
    if (!session) return;
    $("#devices-count").textContent = devices.length ? Q.t("devices.count", { n: devices.length }) : "";
    Q.show("#devices-empty", devices.length === 0);
    Q.setHtml($("#devices-list"), Q.html`${devices.map(function (d) {
      var cls = d.configured === false ? "dev-unconfigured" : isAlarm(d) ? "unhealthy" : "";
      return Q.html`<tr data-device="${d.name}" data-state="${d.state}" data-configured="${d.configured === false ? "false" : "true"}" class="${cls}">
          <td class="dev-name">${d.name}</td>
          <td>${kindWord(d.kind)}</td>
          <td><span class="state ${stateClass(d.state)}">${stateWord(d.state)}</span></td>
          <td class="dev-detail">${detailText(d)}${d.driven_by ? Q.html`<span class="dev-driver">${Q.t("devices.driven_by", { who: d.driven_by })}</span>` : ""}</td>
          <td class="dev-since"><time datetime="${d.since || ""}">${sinceText(d.since)}</time></td>
          ${testCell(d)}
        </tr>`;
    })}`);
    drawAlert();
  }

  /** "2 台设备异常 / 2 devices need attention", then who and why. */
  function drawAlert() {
    // A device that failed or went away after it worked; one never seen yet is listed, not raised.
    var bad = devices.filter(isAlarm);
    var el = $("#device-alert");
    el.setAttribute("data-count", bad.length);
    if (!bad.length) { el.hidden = true; return; }
    var key = bad.length === 1 ? "alert.one" : "alert.count";
    // The page's language only (the switch is one tap away): no English mixed into the Chinese page.
    el.querySelector(".device-alert-head").textContent = Q.t(key, { n: bad.length });
    Q.setHtml(el.querySelector(".device-alert-list"), Q.html`${bad.map(function (d) {
      var detail = detailText(d);
      return Q.html`<li data-device="${d.name}"><strong>${d.name}</strong>: ${stateWord(d.state)}${
        detail && d.detail !== d.state ? Q.html` (${detail})` : ""}</li>`;
    })}`);
    el.hidden = false;
  }

  function drawQueue() {
    if (!session) return;
    var services = (snapshot && snapshot.services) || [];
    var counters = (snapshot && snapshot.counters) || [];
    Q.show("#queue-empty", !snapshot);
    Q.show("#queue-services", !!snapshot);
    Q.show("#queue-counters", !!snapshot);
    var total = services.reduce(function (n, s) { return n + (s.waiting || 0); }, 0);
    $("#queue-day").textContent = snapshot ? Q.t("queue.day", { day: snapshot.business_day || "", n: total }) : "";
    Q.setHtml($("#queue-services-list"), Q.html`${services.map(function (s) {
      return Q.html`<tr data-service="${s.code}">
          <td>${Q.name(s)} <span class="code">${s.code}</span></td>
          <td class="num">${s.waiting}</td>
          <td class="ticket-no next">${(s.next_numbers || []).join(" ")}</td>
        </tr>`;
    })}`);
    Q.setHtml($("#queue-counters-list"), Q.html`${counters.map(function (c) {
      var cur = c.current;
      var status = c.status === "paused" || c.status === "closed" ? c.status : "open";
      return Q.html`<tr data-counter="${c.number}" data-status="${status}">
          <td>${Q.name(c) || Q.t("counter.default_name", { n: c.number })}</td>
          <td><span class="badge ${status}">${Q.t("counter." + status)}</span></td>
          <td>${cur
            ? Q.html`<span class="ticket-no">${cur.number}</span> <span class="cur-status">${Q.t("status." + cur.status)}</span>`
            : Q.t("queue.none")}</td>
        </tr>`;
    })}`);
  }

  /* -- messages ------------------------------------------------------ */

  function setMessage(kind, text, code) { banner.set(kind, text, code); }

  init();
})();
