/*
 * The staff counter console: log in at a counter (that puts the clerk on post:
 * the counter opens on every screen), then call, recall, start, finish, mark
 * no-show, transfer, pause for a break with its reason. The hub decides what
 * is allowed; the buttons only mirror its rules so a clerk is not offered
 * what will fail.
 *
 * Source of truth: GET /counters/{n} (this counter and its waiting list),
 * re-read after every action and, debounced, after every live event.
 */
(function () {
  "use strict";
  var Q = QCall, $ = Q.$;

  var WORDS = {
    zh: {
      "login.title": "窗口登录",
      "login.username": "用户名",
      "login.password": "密码",
      "login.counter": "窗口号",
      "login.submit": "登录",
      "login.wrong": "用户名或密码错误。",
      "login.need_counter": "请填写窗口号。",
      "login.need_name": "请填写用户名和密码。",
      "login.expired": "登录已过期，请重新登录。",
      "login.on_post": "您已在 {n} 号窗口登录。移到此窗口会结束那里的登录。",
      "login.move": "移到此窗口",
      "logout": "退出登录",
      "logout.force": "{number}（{status}）仍在本窗口。仍要退出吗？已叫号未到的顾客回到队列原位，正在办理的记为办结。",
      "logout.refused": "请先处理 {number}（办结、转移或过号重排），再退出登录。",
      "break.title": "暂停服务：请选择原因",
      "break.help": "暂停期间本窗口不叫号，屏幕显示“暂停服务”。原因和时长记入考勤。",
      "break.on": "{reason} · {n} 分钟",
      "nav.devices": "设备",
      "staff": "工作人员：{name}",
      "current.title": "当前号票",
      "current.none": "当前没有号票",
      "current.called_at": "{time} 叫号",
      "current.calls": "已呼叫 {n} 次",
      "current.started_at": "{time} 开始办理",
      "current.waited": "等候 {n} 分钟",
      "act.call_next": "呼叫下一位",
      "act.recall": "重呼",
      "act.start": "开始办理",
      "act.finish": "办结",
      "act.no_show": "过号",
      "act.requeue": "过号重排",
      "act.cancel": "取消号票",
      "cancel.confirm": "确定取消 {number} 吗？取消后不会再叫此号。",
      "requeue.label": "迟到顾客号码",
      "requeue.empty": "请输入迟到顾客的号码（如 A012）",
      "requeue.malformed": "“{number}” 不是号码：应为 1–2 个字母加 2–4 位数字，如 A012",
      "done.requeued": "{number} 已重新排队。",
      "done.cancelled": "{number} 已取消。",
      "journey.leg": "第{leg}站 {service} · {counter} · {staff} · {outcome}",
      "journey.owner": "首问负责：{owner}",
      "outcome.open": "进行中",
      "outcome.done": "已办结",
      "outcome.no_show": "过号",
      "outcome.transferred": "已转出",
      "outcome.cancelled": "已取消",
      "act.transfer": "转移",
      "act.pause": "暂停",
      "act.resume": "恢复",
      "act.refresh": "刷新",
      "act.call_this": "呼叫",
      "act.reprint": "重打",
      "hint.keys": "快捷键：F1–F9，或不在输入框时按数字 1–9。",
      "done.reprinted": "{number} 已重新送往打印机。",
      "done.reprint_waiting": "{number} 将在打印机恢复后重打（{detail}）。",
      "done.reprint_failed": "{number} 无法重打：{detail}",
      "err.no_printer": "没有可用的打印机：这张号票不是在带打印机的取号机上取的。",
      "err.unknown_printer": "没有这台打印机。",
      "done.called": "已呼叫 {number}。",
      "done.recalled": "已重呼 {number}。",
      "done.started": "{number} 开始办理。",
      "done.finished": "{number} 已办结。",
      "done.no_show": "{number} 已过号。",
      "done.transferred": "{number} 已转移。",
      "done.paused": "窗口已暂停，不再叫号。",
      "done.resumed": "窗口已恢复服务。",
      "nobody": "本窗口办理的业务暂无人等候。有人取这些业务的号后即可呼叫。",
      "waiting.title": "等候队列",
      "waiting.count": "（{n} 人）",
      "waiting.number": "号码",
      "waiting.service": "业务",
      "waiting.issued": "取号",
      "waiting.waited": "已等",
      "waiting.note": "备注",
      "waiting.action": "操作",
      "waiting.minutes": "{n} 分",
      "waiting.empty": "无人等候",
      "waiting.priority": "优先",
      "prio.requested": "申请：{name}",
      "prio.confirm": "确认优先",
      "prio.change": "优先…",
      "prio.done": "{number} 的优先类别已更新",
      "prio.title": "更改优先类别",
      "prio.help": "选择优先类别，或选“无优先”取消优先；原因必填，记入优先台账。",
      "prio.category": "优先类别",
      "prio.none": "无优先",
      "prio.reason": "原因（必填）",
      "prio.submit": "确认更改",
      "prio.need_choice": "请选择一个优先类别或“无优先”。",
      "prio.need_reason": "请填写原因（1–200 字）。",
      "prio.current_none": "普通（无优先）",
      "prio.appointment": "预约 {time}",
      "err.unknown_category": "没有这个优先类别。",
      "err.invalid_transition.priority": "无法更改：号票已结束，或优先类别没有变化。",
      "waiting.transferred": "转入",
      "waiting.for_us": "指定本窗口",
      "transfer.title": "转移当前号票",
      "transfer.help": "选择新的业务和/或窗口。号码不变，排队时间保留。",
      "transfer.service": "转到业务",
      "transfer.counter": "转到窗口",
      "transfer.keep": "（不变）",
      "transfer.any": "（任意窗口）",
      "transfer.closed": "{name}（无人值守）",
      "transfer.confirm": "确认转移",
      "transfer.need": "请选择业务或窗口。",
      "cancel": "取消",
      "err.unauthorized": "登录已过期，请重新登录。"
    },
    en: {
      "login.title": "Counter login",
      "login.username": "Username",
      "login.password": "Password",
      "login.counter": "Counter number",
      "login.submit": "Log in",
      "login.wrong": "Wrong username or password.",
      "login.need_counter": "Please enter a counter number.",
      "login.need_name": "Please enter your username and password.",
      "login.expired": "Your session has ended. Please log in again.",
      "login.on_post": "You are logged in at counter {n}. Moving here ends that login.",
      "login.move": "Move here",
      "logout": "Log out",
      "logout.force": "{number} ({status}) is still at this counter. Log out anyway? A called visitor who has not come goes back to their place in the queue; one being served is finished.",
      "logout.refused": "Please deal with {number} first (finish, transfer or re-queue), then log out.",
      "break.title": "Pause: pick the reason",
      "break.help": "While paused this counter calls nobody and the screens say “Paused”. The reason and the length go to attendance.",
      "break.on": "{reason} · {n} min",
      "nav.devices": "Devices",
      "staff": "Staff: {name}",
      "current.title": "Current ticket",
      "current.none": "No current ticket",
      "current.called_at": "called {time}",
      "current.calls": "called {n} times",
      "current.started_at": "started {time}",
      "current.waited": "waited {n} min",
      "act.call_next": "Call next",
      "act.recall": "Recall",
      "act.start": "Start",
      "act.finish": "Finish",
      "act.no_show": "No-show",
      "act.requeue": "Re-queue",
      "act.cancel": "Cancel ticket",
      "cancel.confirm": "Cancel {number}? It will not be called again.",
      "requeue.label": "Late visitor's number",
      "requeue.empty": "Enter the late visitor's number (e.g. A012)",
      "requeue.malformed": "\"{number}\" is not a ticket number: 1–2 letters and 2–4 digits, e.g. A012",
      "done.requeued": "{number} is back in the queue.",
      "done.cancelled": "{number} cancelled.",
      "journey.leg": "Leg {leg}: {service} · {counter} · {staff} · {outcome}",
      "journey.owner": "Owner: {owner}",
      "outcome.open": "in progress",
      "outcome.done": "done",
      "outcome.no_show": "no-show",
      "outcome.transferred": "transferred",
      "outcome.cancelled": "cancelled",
      "act.transfer": "Transfer",
      "act.pause": "Pause",
      "act.resume": "Resume",
      "act.refresh": "Refresh",
      "act.call_this": "Call",
      "act.reprint": "Reprint",
      "hint.keys": "Shortcuts: F1–F9, or digits 1–9 when not typing in a field.",
      "done.reprinted": "{number} sent to the printer again.",
      "done.reprint_waiting": "{number} will be reprinted when the printer is back ({detail}).",
      "done.reprint_failed": "{number} cannot be reprinted: {detail}",
      "err.no_printer": "No printer to use: this ticket was not issued at a kiosk with a printer.",
      "err.unknown_printer": "There is no such printer.",
      "done.called": "Called {number}.",
      "done.recalled": "Recalled {number}.",
      "done.started": "Started {number}.",
      "done.finished": "Finished {number}.",
      "done.no_show": "{number} marked as no-show.",
      "done.transferred": "{number} transferred.",
      "done.paused": "Counter paused: no calls.",
      "done.resumed": "Counter open again.",
      "nobody": "Nobody is waiting for this counter's services. You can call as soon as someone takes a ticket for one of them.",
      "waiting.title": "Waiting",
      "waiting.count": "({n})",
      "waiting.number": "Number",
      "waiting.service": "Service",
      "waiting.issued": "Issued",
      "waiting.waited": "Waited",
      "waiting.note": "Note",
      "waiting.action": "Action",
      "waiting.minutes": "{n} min",
      "waiting.empty": "Nobody waiting",
      "waiting.priority": "Priority",
      "prio.requested": "asked: {name}",
      "prio.confirm": "Confirm priority",
      "prio.change": "Priority…",
      "prio.done": "{number}: priority updated",
      "prio.title": "Change the priority",
      "prio.help": "Pick a category, or “No priority” to take it away; a reason is required and goes to the priority ledger.",
      "prio.category": "Priority category",
      "prio.none": "No priority",
      "prio.reason": "Reason (required)",
      "prio.submit": "Change",
      "prio.need_choice": "Pick a category or “No priority”.",
      "prio.need_reason": "Please give a reason (1–200 characters).",
      "prio.current_none": "Normal (no priority)",
      "prio.appointment": "Appointment {time}",
      "err.unknown_category": "There is no such priority category.",
      "err.invalid_transition.priority": "Cannot change: the ticket has ended, or its priority would not change.",
      "waiting.transferred": "Transferred",
      "waiting.for_us": "for this counter",
      "transfer.title": "Transfer the current ticket",
      "transfer.help": "Pick a new service and/or counter. The number stays; so does its place in time.",
      "transfer.service": "To service",
      "transfer.counter": "To counter",
      "transfer.keep": "(unchanged)",
      "transfer.any": "(any counter)",
      "transfer.closed": "{name} (closed)",
      "transfer.confirm": "Transfer",
      "transfer.need": "Pick a service or a counter.",
      "cancel": "Cancel",
      "err.unauthorized": "Your session has ended. Please log in again."
    }
  };

  var POLL_MS = 20000;                         // backstop if live events stop

  /*
   * Sections of the console in files of their own, loaded before this one
   * (counter_cases.js): {words, enter(ctx), leave(), draw(ctx), handlers}. Their
   * words join ours; they are told when a clerk logs in and out, drawn with
   * the console, and hear the live events they name in `handlers`.
   */
  var sections = window.QCallConsoleSections || [];
  sections.forEach(function (section) {
    ["zh", "en"].forEach(function (l) { Object.assign(WORDS[l], (section.words || {})[l] || {}); });
  });

  /** What a section may read and do: the session, the counter's view, the snapshot, the banner. */
  function consoleContext() {
    return {
      session: session,
      view: view,
      snapshot: snapshot,
      setMessage: setMessage,
      refresh: refresh,
      serviceName: serviceName,
      expire: function () { login.expire(); }
    };
  }

  var session = null;      // {token, username, role, counter}
  var snapshot = null;     // last queue snapshot (service names, counters for transfer)
  var view = null;         // GET /counters/{n}.counter
  var waiting = [];        // GET /counters/{n}.waiting
  var nextUp = {};         // ticket id → {reason, category, requested} from GET /counters/{n}/next
  var targetPlan = { lead: 0, current: null };   // the same answer's warn_before_seconds and current
  var categories = [];     // GET /priority-categories: code → names for the notes
  var reasons = [];        // GET /break-reasons: [{code, name_zh, name_en}] for the pause dialog
  var post = null;         // GET /counters/{n}.post: {username, since, break: {reason, since}} or null
  var busy = false;        // an action is in flight: every action button is off
  var socket = null;
  var pollTimer = null;
  var banner = Q.messageBanner("#banner");   // {kind, text(), code}
  var online = null;       // live link state for the lamp; null before the first try
  var login = null;        // QCall.staffLogin: the form and the kept session

  /* -- login --------------------------------------------------------- */

  /** Runs last (see the bottom of the file), once every var above is set. */
  function init() {
    Q.i18n(WORDS, "qcall.counter.lang");
    Q.translatePage();
    Q.onLang(function () { drawAll(); banner.draw(); });
    $("#login-lang").addEventListener("click", Q.toggleLang);
    $("#lang-switch").addEventListener("click", Q.toggleLang);
    login = Q.staffLogin({
      view: "#console-view",
      key: "qcall.counter",   // .session in sessionStorage, .last in localStorage
      keepLang: true,         // the login page's language stays after login (not the hall's default)
      resume: function (saved) { return !!saved.counter; },
      fromMe: function (me) {
        var counter = me && (me.counter || Q.urlCounter());
        return me && counter ? { token: null, username: me.username, role: me.role, counter: counter } : null;
      },
      accept: function (res, typed) {
        var n = res.counter || (typed > 0 ? typed : null);
        if (!n) return "login.need_counter";
        return { token: res.token, username: res.username, role: res.role, counter: n };
      },
      remember: function (s) { return { username: s.username, counter: s.counter }; },
      prefill: function (last) {
        // ?counter=3 on a console's bookmark wins over what was typed last time.
        $("#login-counter").value = Q.urlCounter() || last.counter || "";
      },
      enter: enter,
      leave: leave,
      refused: offerMove,
      logoutRefused: confirmLogout
    });
    $("#btn-logout").addEventListener("click", function () { login.logout(); });
    document.addEventListener("keydown", onKey);
    wireActions();
    // Waited minutes and elapsed times go stale; redraw them now and then.
    setInterval(function () { if (session) drawAll(); }, 30000);
    // Targets: a ticket nears its breach with no event happening; its mark moves on by itself.
    Q.targets.watch();
    login.start();
  }

  /**
   * One clerk, one counter: a login refused because the clerk is on post at another counter
   * offers "移到此窗口 / Move here", which sends the login again with move: true (the other
   * post ends). Called with null before each try: the offer goes away.
   */
  function offerMove(err, retry) {
    var box = $("#login-move");
    if (!err || err.code !== "on_post_elsewhere") { box.hidden = true; return false; }
    var n = err.data && err.data.counter;
    $("#login-move-text").textContent = Q.t("login.on_post", { n: n }, "zh") + " " + Q.t("login.on_post", { n: n }, "en");
    var go = $("#login-move-go");
    go.textContent = Q.t2("login.move");
    go.onclick = function () { box.hidden = true; retry({ move: true }); };
    box.hidden = false;
    go.focus();
    return true;
  }

  /** A logout refused while a visitor is at the counter: log out anyway (handed back) only if asked. */
  function confirmLogout(err, force) {
    var cur = view && view.current;
    var words = { number: cur ? cur.number : "", status: cur ? Q.t("status." + cur.status) : "" };
    if (window.confirm(Q.t("logout.force", words))) return force();
    setMessage("warn", function () { return Q.t("logout.refused", words); }, err.code);
  }

  /** Logged in (or back with the session kept in this tab). */
  function enter(s) {
    session = s;
    view = null;
    waiting = [];
    setMessage(null);
    drawAll();
    refresh();
    // After login: asked before it, the hub answers 401 and the notes would name codes, not categories.
    Q.api("GET", "/priority-categories").then(function (res) { categories = res.categories || []; drawAll(); },
      function () { categories = []; });
    Q.api("GET", "/break-reasons").then(function (res) { reasons = res.reasons || []; drawAll(); },
      function () { reasons = []; });
    sections.forEach(function (section) { if (section.enter) section.enter(consoleContext()); });
    var handlers = {};
    sections.forEach(function (section) { Object.assign(handlers, section.handlers || {}); });
    // Without a token (cookie login), the handshake carries the cookie instead.
    socket = Q.connect(s.token ? { token: s.token } : {}, Object.assign(handlers, {
      snapshot: function (snap) { snapshot = snap; Q.defaultLang(snap.site && snap.site.languages); takeFromSnapshot(); refresh(); },
      queue: function (snap) { snapshot = snap; takeFromSnapshot(); refreshSoon(); },
      online: drawConn,
      // A refused token means the login is over. A cookie-only login asks the
      // API whether its session still holds (revoked, disabled, logged in
      // elsewhere): a 401 there ends it; otherwise polling keeps the console going.
      unauthorized: function () {
        if (s.token) return login.expire();
        Q.api("GET", "/auth/me").catch(function (err) { if (err.code === "unauthorized") login.expire(); });
      }
    }));
  }

  function leave() {
    session = null;
    if (socket) { socket.disconnect(); socket = null; }
    online = null;
    clearTimeout(pollTimer);
    closeTransfer();
    closePriority();
    sections.forEach(function (section) { if (section.leave) section.leave(); });
    closeBreak();
  }

  /* -- reading the counter -------------------------------------------- */

  function refresh() {
    if (!session) return;
    clearTimeout(pollTimer);
    var n = session.counter;
    // The counter and the policy's order with reasons, read together and drawn once.
    var plan = Q.api("GET", "/counters/" + n + "/next?limit=20").then(null, function () {
      return null;  // the list stands without (new) reasons
    });
    Promise.all([Q.api("GET", "/counters/" + n), plan]).then(function (both) {
      if (!session || session.counter !== n) return;
      var res = both[0];
      view = res.counter || view;
      post = res.post || null;
      waiting = res.waiting || [];
      if (both[1]) {
        nextUp = {};
        (both[1].next || []).forEach(function (p) { nextUp[p.ticket_id] = p; });
        Q.targets.take(both[1]);
        targetPlan = { lead: both[1].warn_before_seconds || 0, current: both[1].current || null };
      }
      if (banner.code() === "network") setMessage(null);   // we are back
      drawAll();
    }, failed).then(function () {
      if (session) pollTimer = setTimeout(refresh, POLL_MS);
    });
  }

  // Events come in bursts (tickets issued, other counters calling): read
  // the counter's waiting list once per burst.
  var refreshSoon = Q.debounce(refresh, 300);

  /** The snapshot in each event already has our counter: show it at once. */
  function takeFromSnapshot() {
    if (!snapshot || !session) return;
    (snapshot.counters || []).forEach(function (c) {
      if (c.number === session.counter) view = c;
    });
    drawAll();
  }

  /* -- actions --------------------------------------------------------- */

  var ACTIONS = {
    "btn-call-next": function () { act("call-next", undefined, "done.called"); },
    "btn-recall": function () { act("recall", undefined, "done.recalled"); },
    "btn-start": function () { act("start", undefined, "done.started"); },
    "btn-finish": function () { act("finish", undefined, "done.finished"); },
    "btn-no-show": function () { act("no-show", undefined, "done.no_show"); },
    "btn-transfer": openTransfer,
    "btn-pause": function () {
      if (view && view.status === "paused") act("resume", undefined, "done.resumed");
      else openBreak();
    },
    "btn-refresh": function () { setMessage(null); refresh(); },
    "btn-reprint": reprint,
    "btn-requeue": function () { act("requeue", undefined, "done.requeued"); },
    "btn-cancel": function () {
      var cur = view && view.current;
      if (!cur || !window.confirm(Q.t("cancel.confirm", { number: cur.number }))) return;
      act("cancel", undefined, "done.cancelled");
    }
  };

  $("#requeue-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var number = $("#requeue-number").value.trim().toUpperCase();
    // Said beside the box, in both languages (the browser's own bubble was in its language, or nothing).
    if (!number) return requeueProblem("requeue.empty", {});
    if (!/^[A-Z]{1,2}[0-9]{2,4}$/.test(number)) return requeueProblem("requeue.malformed", { number: number });
    requeueProblem(null);
    act("requeue", { number: number }, "done.requeued").then(function (r) {
      if (r.ok) $("#requeue-number").value = "";
    });
  });
  $("#requeue-number").addEventListener("input", function () { requeueProblem(null); });

  /** The re-queue box's own message (key null: none), the box marked while it stands. */
  function requeueProblem(key, vars) {
    var box = $("#requeue-number"), out = $("#requeue-message");
    out.textContent = key ? Q.t2(key, vars) : "";
    out.hidden = !key;
    if (key) {
      box.setAttribute("aria-invalid", "true");
      box.focus();
    } else {
      box.removeAttribute("aria-invalid");
    }
  }

  /*
   * The current ticket's journey (GET /tickets/{id}/legs, staff only): each
   * station so far, who served it and how it ended, and its owner (首问负责).
   * Asked again only when the current ticket or its state changes.
   */
  var journeyFor = null;
  var journey = null;      // the last GET /tickets/{id}/legs answer for journeyFor
  function drawJourney() {
    var cur = view && view.current;
    var key = cur ? cur.id + ":" + cur.status + ":" + cur.call_count : null;
    if (key === journeyFor) { drawLegs(); return; }   // drawn again in the page's language and names
    journeyFor = key;
    journey = null;
    if (!cur) { Q.show("#current-journey", false); return; }
    Q.api("GET", "/tickets/" + encodeURIComponent(cur.id) + "/legs").then(function (j) {
      if (journeyFor !== key) return;
      journey = j;
      drawLegs();
    }, function () { Q.show("#current-journey", false); });
  }

  /**
   * The journey's lines in the page's language, with the services' and counters' names from the
   * hall's snapshot (a reload may answer before the snapshot: drawAll draws them again when it comes).
   */
  function drawLegs() {
    if (!journey) return;
    var rows = journey.legs.map(function (leg) {
      return Q.html`<li data-leg="${leg.leg}" data-outcome="${leg.outcome || "open"}">${Q.t("journey.leg", {
        leg: leg.leg,
        service: serviceName(leg.service),
        counter: leg.counter == null ? "—" : counterLabel(leg.counter),
        staff: leg.staff || "—",
        outcome: Q.t("outcome." + (leg.outcome || "open"))
      })}</li>`;
    });
    if (journey.owner) rows.push(Q.html`<li class="owner">${Q.t("journey.owner", { owner: journey.owner })}</li>`);
    Q.setHtml($("#current-journey"), Q.html`${rows}`);
    Q.show("#current-journey", true);
  }

  /** A counter's (a room's) own name where the site gives one, else "3号窗口" / "Counter 3". */
  function counterLabel(number) {
    var list = (snapshot && snapshot.counters) || [];
    for (var i = 0; i < list.length; i++) if (list[i].number === number) return Q.name(list[i]);
    if (view && view.number === number) return Q.name(view);
    return Q.t("counter.default_name", { n: number });
  }

  /**
   * POST /tickets/{id}/reprint for the current ticket (a visitor lost or
   * spoilt the paper); the hub prints it on the kiosk printer that issued it.
   */
  function reprint() {
    var cur = view && view.current;
    if (busy || !session || !cur) return Promise.resolve();
    busy = true;
    drawButtons();
    return Q.api("POST", "/tickets/" + encodeURIComponent(cur.id) + "/reprint").then(function (res) {
      var p = (res && res.print) || {};
      var words = { number: (res && res.number) || cur.number, detail: p.detail || "" };
      if (p.state === "failed") setMessage("error", function () { return Q.t("done.reprint_failed", words); });
      else if (p.state === "waiting") setMessage("warn", function () { return Q.t("done.reprint_waiting", words); });
      else setMessage("ok", function () { return Q.t("done.reprinted", words); });
    }, failed).then(function () {
      busy = false;
      drawButtons();
    });
  }

  function wireActions() {
    Object.keys(ACTIONS).forEach(function (id) {
      $("#" + id).addEventListener("click", function () { if (!this.disabled) ACTIONS[id](); });
    });
    // One listener for every row's "call this" button (rows are redrawn often).
    $("#waiting-list").addEventListener("click", function (e) {
      var btn = e.target.closest(".btn-call-this");
      if (btn && !btn.disabled) act("call", { ticket_id: btn.getAttribute("data-ticket-id") }, "done.called");
      var prio = e.target.closest(".btn-priority");
      if (prio && !prio.disabled) {
        var id = prio.getAttribute("data-ticket-id");
        var t = null;
        waiting.forEach(function (w) { if (w.id === id) t = w; });
        if (t) openPriority(t, prio.getAttribute("data-confirm"), (nextUp[id] || {}).category || null);
      }
    });
    $("#transfer-cancel").addEventListener("click", closeTransfer);
    $("#transfer-form").addEventListener("submit", onTransfer);
    $("#btn-current-priority").addEventListener("click", function () {
      var cur = view && view.current;
      if (cur && !this.disabled) openPriority(cur, null, currentCategory.code);
    });
    $("#priority-cancel").addEventListener("click", closePriority);
    $("#break-reasons").addEventListener("click", onBreakReason);
    $("#break-cancel").addEventListener("click", closeBreak);
    $("#priority-form").addEventListener("submit", onPriority);
  }

  /**
   * POST /counters/{n}/{path}; the answer carries the ticket and the counter.
   * Resolves to {ok, err} and never rejects: the banner already told the clerk.
   */
  function act(path, body, doneKey) {
    if (busy || !session) return Promise.resolve({ ok: false, err: null });
    busy = true;
    drawButtons();
    return Q.api("POST", "/counters/" + session.counter + "/" + path, body).then(function (res) {
      res = res || {};
      if (res.counter && typeof res.counter === "object") view = res.counter;
      if ("post" in res) post = res.post || null;
      var number = res.ticket && res.ticket.number;
      setMessage("ok", function () { return Q.t(doneKey, { number: number || "" }); });
      return { ok: true, err: null };
    }, function (err) {
      failed(err);
      return { ok: false, err: err };
    }).then(function (result) {
      busy = false;
      refresh();   // whatever happened, show the hub's view of it
      return result;
    });
  }

  /** One place that turns an error into what the clerk sees. */
  function failed(err) {
    if (err.code === "unauthorized") return login.expire();
    if (err.code === "nobody_waiting") return setMessage("info", function () { return Q.t("nobody"); });
    var kind = err.code === "invalid_transition" || err.code === "counter_paused" ? "warn" : "error";
    setMessage(kind, function () {
      // Staff may see the hub's own sentence too: "ticket A012 is serving;
      // this needs called" says more than any fixed words of ours.
      var words = Q.errorText(err);
      return err.code === "invalid_transition" && err.message && err.message !== words
        ? words + " (" + err.message + ")"
        : words;
    }, err.code);
  }

  /* -- transfer -------------------------------------------------------- */

  function openTransfer() {
    if (!view || !view.current) return;
    var services = (snapshot && snapshot.services) || [];
    var counters = ((snapshot && snapshot.counters) || []).filter(function (c) { return c.number !== session.counter; });
    Q.setHtml($("#transfer-service"), Q.html`<option value="">${Q.t("transfer.keep")}</option>${services.map(function (s) {
      return Q.html`<option value="${s.code}">${Q.name(s)} (${s.code})</option>`;
    })}`);
    // A counter with nobody on post takes no transfer (the hub refuses it: counter_closed); one on a
    // break does, its clerk is back soon.
    Q.setHtml($("#transfer-counter"), Q.html`<option value="">${Q.t("transfer.any")}</option>${counters.map(function (c) {
      return c.status === "closed"
        ? Q.html`<option value="${c.number}" disabled>${Q.t("transfer.closed", { name: Q.name(c) })}</option>`
        : Q.html`<option value="${c.number}">${Q.name(c)}</option>`;
    })}`);
    Q.show("#transfer-error", false);
    var dlg = $("#transfer-dialog");
    if (dlg.showModal) dlg.showModal(); else dlg.setAttribute("open", "");
    $("#transfer-service").focus();
  }

  function closeTransfer() {
    var dlg = $("#transfer-dialog");
    if (dlg.open) { if (dlg.close) dlg.close(); else dlg.removeAttribute("open"); }
  }

  function onTransfer(e) {
    e.preventDefault();
    var body = {};
    var service = $("#transfer-service").value;
    var counter = parseInt($("#transfer-counter").value, 10);
    if (service) body.service = service;
    if (counter > 0) body.counter = counter;
    if (!body.service && !body.counter) {
      $("#transfer-error").textContent = Q.t("transfer.need");
      Q.show("#transfer-error", true);
      return;
    }
    act("transfer", body, "done.transferred").then(function (result) {
      if (result.ok || !session) return closeTransfer();
      if (!result.err) return;   // another action was still running
      $("#transfer-error").textContent = Q.errorText(result.err);
      Q.show("#transfer-error", true);
    });
  }

  /* -- keyboard -------------------------------------------------------- */

  /** F1..F9 always (and swallowed, so F5 never reloads); digits 1..9 when not typing. */
  function onKey(e) {
    if (!session || document.querySelector("dialog[open]") || e.altKey || e.ctrlKey || e.metaKey) return;
    var n = 0;
    var f = /^F([1-9])$/.exec(e.key);
    if (f) n = +f[1];
    else if (/^[1-9]$/.test(e.key) && !/^(INPUT|SELECT|TEXTAREA)$/.test(e.target.tagName)) n = +e.key;
    if (!n) return;
    e.preventDefault();
    var btn = document.querySelector('.act[data-key="' + n + '"]');
    if (btn && !btn.disabled) btn.click();
  }

  /* -- drawing --------------------------------------------------------- */

  function drawAll() {
    if (!session) return;
    drawHeader();
    drawCurrent();
    drawButtons();
    drawWaiting();
    var ctx = consoleContext();
    sections.forEach(function (section) { if (section.draw) section.draw(ctx); });
  }

  function drawHeader() {
    $("#counter-name").textContent = view ? Q.name(view) : Q.t("counter.default_name", { n: session.counter });
    var status = view ? view.status : null;   // open, paused (a break) or closed (nobody on post)
    var badge = $("#counter-status");
    badge.textContent = status ? Q.t("counter." + status) : "";
    badge.className = "badge " + (status || "");
    var onBreak = status === "paused" && post && post["break"];
    var pause = $("#break-status");
    pause.hidden = !onBreak;
    pause.textContent = onBreak ? Q.t("break.on", {
      reason: reasonName(onBreak.reason),
      n: Q.minutesSince(onBreak.since)
    }) : "";
    $("#staff-name").textContent = Q.t("staff", { name: session.username || "" });
    Q.show("#admin-link", session.role === "admin");   // the device board: admins only here
    drawConn();
    document.title = $("#counter-name").textContent + " · " + Q.t("current.title");
  }

  function drawConn(up) {
    if (up !== undefined) online = up;
    Q.connLamp("#conn", online);
  }

  function serviceName(code) {
    var list = (snapshot && snapshot.services) || [];
    for (var i = 0; i < list.length; i++) if (list[i].code === code) return Q.name(list[i]);
    return code || "";
  }

  function drawCurrent() {
    var cur = view && view.current;
    var num = $("#current-number");
    num.textContent = cur ? cur.number : "—";
    num.className = "current-number ticket-no" + (cur ? " s-" + cur.status : " none");
    $("#current-service").textContent = cur ? serviceName(cur.service) : Q.t("current.none");
    $("#current-status").textContent = cur ? Q.t("status." + cur.status) : "";
    $("#current-status").className = "current-status" + (cur ? " s-" + cur.status : "");
    Q.show("#current-onway", !!(cur && cur.on_my_way));   // 在路上: the visitor said so from the phone
    var meta = [];
    if (cur) {
      if (cur.called_at) meta.push(Q.t("current.called_at", { time: Q.formatTime(cur.called_at) }));
      if (cur.call_count > 1) meta.push(Q.t("current.calls", { n: cur.call_count }));
      if (cur.started_at) meta.push(Q.t("current.started_at", { time: Q.formatTime(cur.started_at) }));
      if (cur.issued_at && cur.called_at) {
        var waited = Math.max(0, Math.round((new Date(cur.called_at) - new Date(cur.issued_at)) / 60000));
        meta.push(Q.t("current.waited", { n: waited }));
      }
    }
    $("#current-meta").textContent = meta.join(" · ");
    // The service target of the ticket at this counter, once the next-up answer speaks of the same one.
    var due = targetPlan.current;
    Q.setHtml($("#current-target"), cur && due && due.ticket_id === cur.id
      ? Q.targets.mark(due.service_due_at, targetPlan.lead, "service") : Q.html``);
    Q.targets.paint($("#current-target"));
    drawJourney();
    drawCurrentPriority();
  }

  /*
   * The current ticket's priority category (GET /tickets/{id}/priority: staff of
   * this counter and admins; public views carry only a mark) and, for an
   * appointment, its slot time. Asked again when the ticket, its mark, or a
   * change made here says so.
   */
  var currentCategory = { key: null, code: null, requested: null };
  var priorityVersion = 0;   // bumped by a change made here: ask again
  function drawCurrentPriority() {
    var cur = view && view.current;
    var box = $("#current-marks");
    if (!cur) {
      currentCategory = { key: null, code: null, requested: null };
      box.hidden = true;
      return;
    }
    var appt = $("#current-appointment");
    var slot = { time: cur.due_at ? Q.formatTime(cur.due_at) : "" };  // the hall's zone (QCall)
    appt.textContent = cur.appointment
      ? Q.t("prio.appointment", slot, "zh") + " · " + Q.t("prio.appointment", slot, "en")
      : "";
    appt.hidden = !cur.appointment;
    box.hidden = false;
    var key = cur.id + ":" + cur.priority + ":" + priorityVersion;
    if (key !== currentCategory.key) {
      currentCategory = { key: key, code: null, requested: null, loading: true };
      Q.api("GET", "/tickets/" + encodeURIComponent(cur.id) + "/priority").then(function (p) {
        if (currentCategory.key !== key) return;
        currentCategory = { key: key, code: p.category || null, requested: p.requested || null };
        drawCategoryBadge();
      }, function () {
        if (currentCategory.key !== key) return;
        // Not ours to read (it cannot happen at our own counter): the public mark says what it can.
        currentCategory = { key: key, code: null, requested: null, failed: true };
        drawCategoryBadge();
      });
    }
    drawCategoryBadge();
  }

  /**
   * HH:MM of a moment in the hall's time zone (a slot is booked in the hall's time, and
   * the desk PC's clock may be set otherwise); the PC's own time where Intl cannot.
   */
  function drawCategoryBadge() {
    var cur = view && view.current;
    var badge = $("#current-category");
    if (!cur) return;
    var code = currentCategory.code;
    var found = null;
    categories.forEach(function (c) { if (c.code === code) found = c; });
    if (code) {
      badge.textContent = found ? found.name_zh + " " + found.name_en : code;
    } else if (cur.priority && (currentCategory.loading || currentCategory.failed)) {
      badge.textContent = Q.t("waiting.priority", null, "zh") + " " + Q.t("waiting.priority", null, "en");
    } else {
      badge.textContent = Q.t("prio.current_none", null, "zh") + " · " + Q.t("prio.current_none", null, "en");
    }
    badge.setAttribute("data-category", code || "");
    badge.className = "cat-badge" + (code || cur.priority ? " on" : "");
  }

  /** Mirror of the hub's rules (server/core/queue.py); the hub still has the last word. */
  function drawButtons() {
    var open = !!view && view.status === "open";
    var st = view && view.current ? view.current.status : null;
    var atCounter = st === "called" || st === "serving";
    enable("#btn-call-next", open);
    enable("#btn-recall", atCounter);
    enable("#btn-start", st === "called");
    enable("#btn-finish", atCounter);
    enable("#btn-no-show", st === "called");
    enable("#btn-transfer", atCounter);
    enable("#btn-pause", !!view && view.status !== "closed");
    enable("#btn-refresh", true);
    enable("#btn-reprint", !!(view && view.current));
    enable("#btn-requeue", st === "called");
    enable("#btn-cancel", atCounter);
    enable("#requeue-go", !!view);
    enable("#btn-current-priority", !!(view && view.current) && categories.length > 0);
    var label = $("#btn-pause-label");
    label.setAttribute("data-i18n", view && view.status === "paused" ? "act.resume" : "act.pause");
    label.textContent = Q.t(label.getAttribute("data-i18n"));
    Q.each(document.querySelectorAll(".btn-call-this"), function (b) { b.disabled = busy || !open; });

    function enable(sel, on) { $(sel).disabled = busy || !on; }
  }

  function drawWaiting() {
    var open = !!view && view.status === "open";
    $("#waiting-count").textContent = Q.t("waiting.count", { n: waiting.length });
    Q.show("#waiting-empty", waiting.length === 0);
    Q.setHtml($("#waiting-list"), Q.html`${waiting.map(function (t) {
      var notes = [];
      var plan = nextUp[t.id];
      if (plan) notes.push(reasonText(plan));
      else if (t.priority) notes.push(Q.t("waiting.priority"));
      if (t.status === "transferred") notes.push(Q.t("waiting.transferred"));
      if (t.target_counter === session.counter) notes.push(Q.t("waiting.for_us"));
      if (plan && plan.requested) notes.push(Q.t("prio.requested", { name: categoryName(plan.requested) }));
      return Q.html`<tr data-ticket-id="${t.id}" data-target-row>
          <td class="ticket-no">${t.number}</td>
          <td>${serviceName(t.service)}</td>
          <td>${Q.formatTime(t.issued_at)}</td>
          <td>${Q.t("waiting.minutes", { n: Q.minutesSince(t.issued_at) })}</td>
          <td>${notes.join(" · ")}${plan ? Q.targets.mark(plan.wait_due_at, targetPlan.lead, "wait") : ""}</td>
          <td><button type="button" class="btn-call-this" data-ticket-id="${t.id}"
              ${Q.raw(busy || !open ? "disabled" : "")}>${Q.t("act.call_this")}</button>
            ${plan && plan.requested
              ? Q.html`<button type="button" class="btn-priority btn-confirm" data-ticket-id="${t.id}"
                  data-confirm="${plan.requested}">${Q.t("prio.confirm")}</button>`
              : ""}
            ${categories.length
              ? Q.html`<button type="button" class="btn-priority" data-ticket-id="${t.id}">${Q.t("prio.change")}</button>`
              : ""}</td>
        </tr>`;
    })}`);
    Q.targets.paint($("#waiting-list"));
  }

  function categoryName(code) {
    var found = null;
    categories.forEach(function (c) { if (c.code === code) found = c; });
    return found ? Q.name(found) : code;
  }

  /** Why a ticket stands where it does, in the clerk's language (the policy's reason). */
  function reasonText(p) {
    if (!p) return "";
    var key = p.reason.indexOf("priority:") === 0 ? "why.priority" : "why." + p.reason;
    var text = Q.t(key);
    if (p.category) text += "（" + categoryName(p.category) + "）";
    return text;
  }

  /* -- priority (绿色通道) ------------------------------------------------ */

  /*
   * Give, confirm, change or take away a ticket's priority, always with a
   * reason: POST /tickets/{id}/priority (the hub writes the priority ledger in
   * the same transaction). An in-page dialog, in both languages at once (a
   * colleague or the visitor may read along): the categories and "none" as big
   * choices, the reason typed, the hub's refusal shown as "中文 / English".
   */
  var priorityFor = null;   // {id, number} of the ticket the dialog is about

  function openPriority(ticket, confirmCode, currentCode) {
    if (!session || !ticket) return;
    priorityFor = { id: ticket.id, number: ticket.number };
    var chosen = confirmCode || currentCode || "";
    $("#priority-title-text").textContent = Q.t2("prio.title");
    $("#priority-number").textContent = ticket.number;
    $("#priority-help").textContent = Q.t2("prio.help");
    $("#priority-legend").textContent = Q.t2("prio.category");
    $("#priority-reason-label").textContent = Q.t2("prio.reason");
    $("#priority-cancel").textContent = Q.t2("cancel");
    $("#priority-confirm").textContent = Q.t2("prio.submit");
    var choices = categories.map(function (c) {
      return { code: c.code, zh: c.name_zh, en: c.name_en };
    });
    choices.push({ code: "", zh: Q.t("prio.none", null, "zh"), en: Q.t("prio.none", null, "en") });
    Q.setHtml($("#priority-options"), Q.html`${choices.map(function (c) {
      return Q.html`<label class="prio-choice" data-category="${c.code}">
          <input type="radio" name="priority-category" value="${c.code}">
          <span class="zh">${c.zh}</span> <span class="en">${c.en}</span></label>`;
    })}`);
    // A kiosk's request to confirm: its category is chosen; else the ticket's own. A normal
    // ticket has nothing chosen: "none" would change nothing.
    Q.each(document.querySelectorAll("input[name='priority-category']"), function (input) {
      input.checked = !!chosen && input.value === chosen;
    });
    $("#priority-reason").value = "";
    priorityError(null);
    var dlg = $("#priority-dialog");
    if (dlg.showModal) dlg.showModal(); else dlg.setAttribute("open", "");
    $("#priority-reason").focus();
  }

  function closePriority() {
    priorityFor = null;
    var dlg = $("#priority-dialog");
    if (dlg.open) { if (dlg.close) dlg.close(); else dlg.removeAttribute("open"); }
  }

  /** text: a string in both languages already, or null to hide; code: the hub's, for tests and styling. */
  function priorityError(text, code) {
    var box = $("#priority-error");
    box.textContent = text || "";
    box.setAttribute("data-code", code || "");
    box.hidden = !text;
  }

  /** A refusal in both languages: our words for its code, the hub's sentence when it says more. */
  function bothLanguages(err) {
    var code = err && err.code;
    var key = code === "invalid_transition" ? "err.invalid_transition.priority" : "err." + code;
    var ours = code && Q.t(key, null, "zh") !== key ? Q.t2(key) : null;
    var hub = err && err.message && err.message !== code ? err.message : "";
    if (ours) return hub && hub !== Q.t(key, null, "zh") && hub !== Q.t(key, null, "en") ? ours + " (" + hub + ")" : ours;
    var data = (err && err.data) || {};
    if (data.error_zh && data.error_en) return data.error_zh + " / " + data.error_en;  // the hub's, each whole
    return hub || Q.t2("err.server");
  }

  function onPriority(e) {
    e.preventDefault();
    if (!priorityFor || busy) return;
    var picked = document.querySelector("input[name='priority-category']:checked");
    if (!picked) return priorityError(Q.t2("prio.need_choice"), "need_choice");
    var reason = $("#priority-reason").value.trim();
    if (!reason || reason.length > 200) {
      $("#priority-reason").focus();
      return priorityError(Q.t2("prio.need_reason"), "need_reason");
    }
    var target = priorityFor;
    busy = true;
    $("#priority-confirm").disabled = true;
    Q.api("POST", "/tickets/" + encodeURIComponent(target.id) + "/priority", {
      category: picked.value || null,
      reason: reason
    }).then(function () {
      closePriority();
      priorityVersion += 1;
      setMessage("ok", function () { return Q.t("prio.done", { number: target.number }); });
    }, function (err) {
      if (err.code === "unauthorized") { closePriority(); return login.expire(); }
      priorityError(bothLanguages(err), err.code);
    }).then(function () {
      busy = false;
      $("#priority-confirm").disabled = false;
      refresh();
    });
  }

  /* -- a break (暂停服务) with its reason ------------------------------------ */

  /*
   * The pause button asks why: one big button per reason of the site (GET
   * /break-reasons), in both languages; a tap posts POST /counters/{n}/pause
   * {reason}. The hub keeps the break's start, end, length and reason for
   * attendance; the screens say only "暂停服务 / Paused". Resume ends it.
   */
  function reasonName(code) {
    var found = null;
    reasons.forEach(function (r) { if (r.code === code) found = r; });
    return found ? Q.name(found) : (code || "");
  }

  function openBreak() {
    if (!session || !view) return;
    $("#break-title").textContent = Q.t2("break.title");
    $("#break-help").textContent = Q.t("break.help");
    $("#break-cancel").textContent = Q.t2("cancel");
    var list = reasons.length ? reasons : [{ code: "", name_zh: Q.t("act.pause", null, "zh"), name_en: Q.t("act.pause", null, "en") }];
    Q.setHtml($("#break-reasons"), Q.html`${list.map(function (r) {
      return Q.html`<button type="button" class="break-reason" data-reason="${r.code}">
          <span class="zh">${r.name_zh}</span><span class="en">${r.name_en}</span></button>`;
    })}`);
    $("#break-error").hidden = true;
    var dlg = $("#break-dialog");
    if (dlg.showModal) dlg.showModal(); else dlg.setAttribute("open", "");
    var first = document.querySelector(".break-reason");
    if (first) first.focus();
  }

  function closeBreak() {
    var dlg = $("#break-dialog");
    if (dlg.open) { if (dlg.close) dlg.close(); else dlg.removeAttribute("open"); }
  }

  function onBreakReason(e) {
    var btn = e.target.closest ? e.target.closest(".break-reason") : null;
    if (!btn || busy) return;
    var code = btn.getAttribute("data-reason");
    act("pause", code ? { reason: code } : undefined, "done.paused").then(function (result) {
      if (result.ok || !session) return closeBreak();
      if (!result.err) return;
      var box = $("#break-error");
      box.textContent = Q.errorText(result.err);
      box.hidden = false;
    });
  }

  /* -- messages -------------------------------------------------------- */

  /** kind: ok | info | warn | error; text is a function so a language switch re-words it. */
  function setMessage(kind, text, code) { banner.set(kind, text, code); }

  init();
})();
