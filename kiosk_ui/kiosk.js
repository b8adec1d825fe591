/*
 * The touchscreen kiosk: one big button per service; a tap issues a ticket
 * and shows it full screen with a QR code for the visitor's phone.
 *
 * Built for elderly visitors: few words, big targets, no state that a stray
 * second tap can break, and errors in plain words (never JSON).
 */
(function () {
  "use strict";
  var Q = QCall, $ = Q.$;
  var H = QCallHours;          // kiosk_ui/hours.js: which services issue tickets now

  var WORDS = {
    zh: {
      "prompt": "请选择您要办理的业务",
      "loading": "正在加载…",
      "service.waiting": "等候 {n} 人",
      "service.issuing": "正在取号…",
      "ticket.your_number": "您的号码",
      "ticket.ahead": "前面还有 {n} 人",
      "ticket.ahead_none": "前面没有人，请留意叫号",
      "ticket.estimate": "预计等待约 {n} 分钟",
      "ticket.estimate_soon": "预计很快就会叫到您",
      "ticket.estimate_none": "暂无窗口办理此业务，无法估计等待时间",
      "ticket.time": "取号时间 {time}",
      "ticket.scan": "扫码查看排队进度",
      "ticket.done": "完成（{s}）",
      "print.trouble": "打印机暂时无法出票。您的号码有效，请记下号码或扫描二维码。",
      "print.taken": "请取票",
      "printer.low": "纸将用完，请工作人员换纸",
      "printer.fault": "打印机故障，号码将显示在屏幕上",
      "setup.title": "此取号机没有设备令牌",
      "setup.body": "请用 /kiosk/?token=… 打开本页面（令牌由管理员用 “token create --role kiosk” 生成）。",
      "setup.other": "This kiosk has no device token: open /kiosk/?token=…",
      "setup.refused": "此取号机的设备令牌无效，请联系工作人员。",
      "setup.refused_other": "This kiosk's device token was refused. Please ask a member of staff.",
      "store.down": "暂时无法取号：系统无法保存号码。请稍候，或联系工作人员。",
      "err.unauthorized": "此取号机暂时不能取号，请联系工作人员。",
      "err.network": "网络连接中断，暂时不能取号，请稍后再试或联系工作人员。",
      "err.too_many_requests": "取号太频繁，请稍候片刻再取号。",
      "green.title": "绿色通道：请先选择，再选业务",
      "green.confirm": "须工作人员确认",
      "green.chosen": "已选绿色通道：{name}",
      "ticket.green_confirm": "绿色通道待工作人员确认",
      "checkin.open": "预约签到",
      "checkin.open_hint": "输入预约码、扫描预约二维码或输入手机号",
      "checkin.prompt_code": "请输入预约码，或扫描预约二维码",
      "checkin.prompt_phone": "请输入预约时登记的手机号",
      "checkin.by_code": "预约码",
      "checkin.by_phone": "手机号",
      "checkin.cancel": "返回",
      "checkin.submit": "签到",
      "checkin.delete": "删除",
      "checkin.clear": "清空",
      "checkin.short": "请输入完整的号码",
      "checkin.choose": "您今天有多个预约，请选择一个",
      "checkin.walk_in": "已超过预约时间，已为您取普通号",
      "ticket.appointment": "预约",
      "hours.from": "{when} 开始取号",
      "hours.stopped": "已停止取号，{when} 开始",
      "hours.none": "暂停取号",
      "hours.today": "今日办理时间 {ranges}",
      "case.open": "查询办理进度",
      "case.open_hint": "输入工单编号：查看进度，为下一步取号",
      "case.prompt": "请输入工单编号（10位，回执上印有）",
      "case.lookup": "查询",
      "case.short": "工单编号为10位字母和数字，请输完整",
      "case.code": "工单编号 {code}",
      "case.opened": "{date} 受理",
      "case.take": "为下一步取号",
      "case.back": "返回",
      "case.state.open": "办理中",
      "case.state.done": "已全部办结",
      "case.state.cancelled": "已撤销，如有疑问请咨询工作人员",
      "case.step.pending": "待办",
      "case.step.active": "办理中",
      "case.step.done": "已完成",
      "case.step.cancelled": "已撤销",
      "case.due": "承诺时限 {date}",
      "case.done_on": "{date} 完成",
      "more": "向下滑动查看更多"
    },
    en: {
      "prompt": "Please choose a service",
      "loading": "Loading…",
      "service.waiting": "{n} waiting",
      "service.issuing": "Getting your number…",
      "ticket.your_number": "Your number",
      "ticket.ahead": "People ahead of you: {n}",
      "ticket.ahead_none": "You are next: please watch the screen",
      "ticket.estimate": "About {n} min wait",
      "ticket.estimate_soon": "You should be called very soon",
      "ticket.estimate_none": "No counter is open for this service: the wait cannot be estimated",
      "ticket.time": "Issued at {time}",
      "ticket.scan": "Scan to follow your place",
      "ticket.done": "Done ({s})",
      "print.trouble": "The printer cannot print right now. Your number is valid: note it or scan the QR code.",
      "print.taken": "Please take your ticket",
      "printer.low": "Paper low: staff please refill",
      "printer.fault": "Printer out of order: your number will be shown on screen",
      "setup.title": "This kiosk has no device token",
      "setup.body": "Open this page as /kiosk/?token=… (an administrator makes one with “token create --role kiosk”).",
      "setup.other": "此取号机没有设备令牌：请用 /kiosk/?token=… 打开",
      "setup.refused": "This kiosk's device token was refused. Please ask a member of staff.",
      "setup.refused_other": "此取号机的设备令牌无效，请联系工作人员。",
      "store.down": "Tickets cannot be issued right now: the system cannot save them. Please wait, or ask a member of staff.",
      "err.unauthorized": "This kiosk cannot issue tickets right now. Please ask a member of staff.",
      "err.network": "The connection is down, no tickets right now. Please try again shortly or ask a member of staff.",
      "err.too_many_requests": "Too many tickets at once: please wait a moment and try again.",
      "green.title": "Green channel: choose it first, then the service",
      "green.confirm": "Staff will confirm",
      "green.chosen": "Green channel chosen: {name}",
      "ticket.green_confirm": "Green channel: staff will confirm",
      "checkin.open": "Appointment check-in",
      "checkin.open_hint": "Type your code, scan its QR code, or use your phone number",
      "checkin.prompt_code": "Type your appointment code, or scan its QR code",
      "checkin.prompt_phone": "Type the phone number you booked with",
      "checkin.by_code": "Code",
      "checkin.by_phone": "Phone",
      "checkin.cancel": "Back",
      "checkin.submit": "Check in",
      "checkin.delete": "Delete",
      "checkin.clear": "Clear",
      "checkin.short": "Please type the whole number",
      "checkin.choose": "You have several appointments today: please choose one",
      "checkin.walk_in": "Your appointment time has passed: you have a walk-in number",
      "ticket.appointment": "Appointment",
      "hours.from": "Tickets from {when}",
      "hours.stopped": "No more tickets now; from {when}",
      "hours.none": "No tickets now",
      "hours.today": "Open today {ranges}",
      "case.open": "Case progress",
      "case.open_hint": "Type your case code: see its progress, take a number for the next step",
      "case.prompt": "Type your case code (10 characters, on your receipt)",
      "case.lookup": "Look up",
      "case.short": "A case code has 10 letters and digits: please type all of it",
      "case.code": "Case {code}",
      "case.opened": "Opened {date}",
      "case.take": "Take a number for the next step",
      "case.back": "Back",
      "case.state.open": "In progress",
      "case.state.done": "All steps done",
      "case.state.cancelled": "Cancelled: please ask a member of staff",
      "case.step.pending": "Pending",
      "case.step.active": "In progress",
      "case.step.done": "Done",
      "case.step.cancelled": "Cancelled",
      "case.due": "Due by {date}",
      "case.done_on": "Done {date}",
      "more": "Scroll down for more"
    }
  };

  var TICKET_SECONDS = 20;     // the ticket stays on screen this long
  var TROUBLE_SECONDS = 45;    // longer when it did not print: time to note the number or scan
  var DONE_GUARD_MS = 1000;    // ignore "Done" this soon: a double tap on a service lands there
  var BANNER_MS = 10000;       // errors clear themselves; the next visitor starts clean
  var IDLE_MS = 60000;         // untouched this long: back to the site's language
  var HEALTH_MS = 5000;        // how often the hub is asked whether it can take tickets
  var HEALTH_DOWN_MS = 2000;   // more often while it cannot: the buttons come back soon after it can

  var snapshot = null;         // the last queue snapshot drawn
  // Green channel (绿色通道): the categories this kiosk may give or ask for, and the one chosen
  // for the next ticket (cleared when the ticket closes or the kiosk sits idle).
  var greens = [];
  var green = null;
  var busy = false;            // a ticket request is in flight
  var ticket = null;           // the ticket on screen, or null
  var ticketTimer = null;
  var ticketShownAt = 0;
  var banner = null;           // {kind, text: function} so a language switch re-words it
  var bannerTimer = null;
  var offline = false;
  var ticketLeft = 0;          // seconds until the ticket view closes itself
  // The hub answered 503 (its store cannot save a ticket): no buttons, a notice in both
  // languages, until GET /health says ok again. Nobody taps for a number that cannot exist.
  var storeDown = false;
  var healthTimer = null;
  var turnedAway = false;      // the hub refused our token: the setup notice stays

  // Paper. The hub tells this kiosk how each of its tickets prints
  // (print_status) and how its printer is (printer_status, on a change).
  var HEALTHY = ["online", "paper_near_end"];
  var printerState = null;     // last known state of our printer; null: none heard of (or no printer)
  var printState = null;       // print state of the ticket on screen: none|queued|printing|printed|waiting|failed
  var troubleShown = false;    // the "number is valid" message is up for this ticket
  var recentPrints = {};       // ticket id → {state, detail}: an event may beat the POST answer
  var recentOrder = [];

  Q.i18n(WORDS, "qcall.kiosk.lang");
  Q.translatePage();
  translateBoth();
  Q.onLang(function () {
    translateBoth();
    drawSite(); drawServices(); drawGreen(); drawTicket(); drawBanner(); drawPrinter(); drawStore(); drawCheckin();
    drawClosed();
    drawCase();
  });
  $("#lang-switch").addEventListener("click", Q.toggleLang);
  Q.everySecond(function (now) {
    $("#clock").textContent = Q.formatTime(now);
  });
  // A long press must not open a context menu on a touch screen.
  document.addEventListener("contextmenu", function (e) { e.preventDefault(); });
  // The language is one visitor's choice: forget it when they walk away.
  var idleTimer = null;
  function touched() {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(function () { Q.resetLang(); green = null; drawGreen(); }, IDLE_MS);
  }
  document.addEventListener("pointerdown", touched, true);

  var token = Q.takeToken("qcall.kiosk.token");
  if (!token) {
    Q.show("#setup", true);
    Q.show("#service-view", false);
    // A code and a QR for an admin's phone: the token arrives without anybody typing it.
    if (window.QCallPairing) window.QCallPairing.start({ kind: "kiosk", storageKey: "qcall.kiosk.token", box: "#setup" });
    return;
  }

  $("#services").addEventListener("click", onServiceTap);
  $("#green").addEventListener("click", onGreenTap);
  $("#checkin-open").addEventListener("click", function () { openCheckin("code"); });
  $("#case-open").addEventListener("click", function () { openCheckin("case"); });
  $("#case-back").addEventListener("click", closeCase);
  $("#case-ticket").addEventListener("click", takeNextStep);
  $("#checkin-cancel").addEventListener("click", closeCheckin);
  $("#checkin-submit").addEventListener("click", submitCheckin);
  $("#checkin-keypad").addEventListener("click", onKey);
  $("#checkin-choices").addEventListener("click", onChoice);
  Array.prototype.forEach.call(document.querySelectorAll(".checkin-mode"), function (btn) {
    btn.addEventListener("click", function () { openCheckin(btn.getAttribute("data-mode")); });
  });
  // A USB scanner types like a keyboard: a fast burst of keys, then Enter, with no field focused.
  document.addEventListener("keydown", onScannerKey, true);
  $("#ticket-done").addEventListener("click", function () {
    if (Date.now() - ticketShownAt >= DONE_GUARD_MS) closeTicket();
  });

  Q.show("#services-empty", true);
  checkHealth();
  H.watch(function () { drawServices(); drawClosed(); });
  // Draw from REST at once; the socket's snapshot follows, and the deltas QCall applies keep it live.
  Q.api("GET", "/priority-categories").then(function (answer) {
    greens = answer.categories || [];
    drawGreen();
  }, function () { greens = []; drawGreen(); });
  Q.api("GET", "/queue").then(draw, function (err) {
    if (err.code === "unauthorized") refused();
    else showBanner("error", function () { return bilingual(bothWords(err)); });
  });

  // The hall's notices (kiosk_notices.js): a strip that opens them, read again on notices_changed.
  var notices = window.QCallKioskNotices || { snapshot: function () {}, changed: function () {} };

  Q.connect({ token: token }, {
    device_test: function (p) { if (window.QCallPairing) window.QCallPairing.testFrame(p); },
    snapshot: function (snap) { draw(snap); H.refresh(); notices.snapshot(snap); },   // a reconnect: the hours may have turned
    notices_changed: notices.changed,
    queue: draw,
    online: function (up) {
      if (up === !offline) return;
      offline = !up;
      if (offline) showBanner("warn", function () { return Q.t2("conn.offline"); }, true);
      else if (banner && banner.sticky) hideBanner();
    },
    unauthorized: refused,
    print_status: onPrintStatus,
    printer_status: onPrinterStatus
  });

  /* -- more below ---------------------------------------------------- */

  // The service view scrolls when it is taller than the screen (a landscape kiosk, many services):
  // a big arrow says so while there is more below, and takes the visitor there.
  function drawMore() {
    var view = $("#service-view");
    var more = view.scrollHeight - view.clientHeight - view.scrollTop > 24;
    Q.show("#more-hint", more && !view.hidden);
  }
  $("#service-view").addEventListener("scroll", drawMore);
  window.addEventListener("resize", drawMore);
  $("#more-hint").addEventListener("click", function () {
    var view = $("#service-view");
    view.scrollBy({ top: Math.round(view.clientHeight * 0.7), behavior: "smooth" });
  });
  setInterval(drawMore, 1000);   // content that comes later (notices, the complaint form, hours)

  /* -- both languages ------------------------------------------------- */

  /** The other language than the visitor's. */
  function otherLang() { return Q.lang() === "zh" ? "en" : "zh"; }

  /** "前面没有人 / You are next": the visitor's language first, the other after, on one line. */
  function two(key, vars) {
    return Q.t(key, vars) + " / " + Q.t(key, vars, otherLang());
  }

  /** Fill `el` with the word in the visitor's language, and below it, smaller, the other (.l2). */
  function both(el, key, vars) {
    Q.setHtml(el, Q.html`<span class="l1">${Q.t(key, vars)}</span><span class="l2">${Q.t(key, vars, otherLang())}</span>`);
  }

  /** The page's fixed words in both languages: data-both="key" (data-i18n is the site's one language). */
  function translateBoth() {
    Q.each(document.querySelectorAll("[data-both]"), function (el) { both(el, el.getAttribute("data-both")); });
    Q.each(document.querySelectorAll("[data-two]"), function (el) { el.textContent = two(el.getAttribute("data-two")); });
  }

  /* -- drawing ------------------------------------------------------- */

  function draw(snap) {
    if (!snap) return;
    snapshot = snap;
    if (snap.site && snap.site.timezone) Q.setTimeZone(snap.site.timezone);   // the clock and times: the hall's zone
    Q.defaultLang(snap.site && snap.site.languages);
    drawSite();
    drawServices();
    Q.show("#checkin-open", !!(snap.site && snap.site.appointments) && !checkin.open);
    drawClosed();
    Q.show("#case-open", !!(snap.site && snap.site.cases) && !checkin.open);
  }

  function drawSite() {
    var site = (snapshot && snapshot.site) || {};
    $("#site-name-zh").textContent = site.name_zh || "";
    $("#site-name-en").textContent = site.name_en || "";
    document.title = (Q.name(site) || "qcall") + " · " + Q.t("prompt");
  }

  /*
   * Update the buttons in place rather than rebuilding them: a live event
   * arriving between a finger's touch and its release would otherwise swap
   * the button out from under it and the tap would be lost.
   */
  function drawServices() {
    var box = $("#services");
    var services = (snapshot && snapshot.services) || [];
    var codes = services.map(function (s) { return s.code; }).join("\n");
    if (box.getAttribute("data-codes") !== codes) {
      box.setAttribute("data-codes", codes);
      Q.setHtml(box, Q.html`${services.map(function (s) {
        return Q.html`<button type="button" class="service-btn" data-service="${s.code}">
            <span class="svc-zh"></span><span class="svc-en"></span><span class="svc-waiting"></span>
          </button>`;
      })}`);
    }
    services.forEach(function (s) {
      var btn = box.querySelector('.service-btn[data-service="' + cssEscape(s.code) + '"]');
      if (!btn) return;
      var shut = !H.issuing(s.code);   // outside its hours: when it opens next, in both languages
      btn.classList.toggle("shut", shut);
      btn.setAttribute("data-shut", shut ? "true" : "false");
      btn.querySelector(".svc-zh").textContent = s.name_zh;
      btn.querySelector(".svc-en").textContent = s.name_en;
      btn.querySelector(".svc-waiting").textContent = btn.classList.contains("issuing")
        ? two("service.issuing")
        : shut ? hoursText(H.service(s.code), " · ") : two("service.waiting", { n: s.waiting });
      btn.disabled = busy || storeDown || shut;
    });
    Q.show("#services-empty", services.length === 0);
    box.className = "services n" + Math.min(services.length, 9);
  }

  /* -- opening hours ------------------------------------------------ */

  /** When a shut service (or the hall) issues tickets again, the visitor's language first. */
  function hoursText(state, sep) {
    var first = Q.lang(), second = first === "zh" ? "en" : "zh";
    function say(l) {
      if (!state || !state.opens_at) return Q.t("hours.none", null, l);
      var when = l === "zh" ? state.opens_zh : state.opens_en;
      return Q.t(state.open ? "hours.stopped" : "hours.from", { when: when }, l);
    }
    return say(first) + sep + say(second);
  }

  /**
   * Nothing issues tickets and nothing is open: the closed screen, in both
   * languages at once, with the next opening (the earliest of any service),
   * the day's name (a holiday, the site's own day) and today's hours.
   */
  function drawClosed() {
    var elsewhere = turnedAway || !!ticket || !!(checkin && checkin.open);   // a ticket, the keypad, setup
    var shut = H.allShut() && !elsewhere;
    Q.show("#closed-view", shut);
    if (elsewhere || !token) return;
    Q.show("#service-view", !shut);
    if (!shut) return;
    var next = null;
    ((snapshot && snapshot.services) || []).map(function (s) { return H.service(s.code); })
      .concat([H.hall()]).forEach(function (state) {
        if (state && state.opens_at && (!next || Date.parse(state.opens_at) < Date.parse(next.opens_at))) next = state;
      });
    var hall = H.hall() || {};
    $("#closed-next-zh").textContent = next ? Q.t("hours.from", { when: next.opens_zh }, "zh") : Q.t("hours.none", null, "zh");
    $("#closed-next-en").textContent = next ? Q.t("hours.from", { when: next.opens_en }, "en") : Q.t("hours.none", null, "en");
    $("#closed-view").setAttribute("data-opens-at", next ? next.opens_at : "");
    var day = $("#closed-day");
    day.textContent = hall.day_name_zh ? hall.day_name_zh + " · " + hall.day_name_en : "";
    day.hidden = !hall.day_name_zh;
    var today = $("#closed-hours");
    var ranges = (hall.today || []).join("  ");
    today.textContent = ranges ? Q.t("hours.today", { ranges: ranges }, "zh") + " / " + Q.t("hours.today", { ranges: ranges }, "en") : "";
    today.hidden = !ranges;
  }

  /* -- green channel ----------------------------------------------- */

  function drawGreen() {
    var box = $("#green");
    Q.show(box, greens.length > 0);
    if (!greens.length) return;
    Q.setHtml($("#green-buttons"), Q.html`${greens.map(function (c) {
      var on = green && green.code === c.code;
      return Q.html`<button type="button" class="green-btn${on ? " on" : ""}" data-category="${c.code}"
          aria-pressed="${on ? "true" : "false"}">
          <span class="green-zh">${c.name_zh}</span><span class="green-en">${c.name_en}</span>
          ${c.grant === "confirm" ? Q.html`<span class="green-note">${two("green.confirm")}</span>` : ""}
        </button>`;
    })}`);
    $("#green-title").textContent = green
      ? Q.t("green.chosen", { name: Q.name(green) }) + " / " + Q.t("green.chosen", { name: Q.name(green, otherLang()) }, otherLang())
      : two("green.title");
  }

  function onGreenTap(e) {
    var btn = e.target.closest(".green-btn");
    if (!btn || busy || ticket) return;
    var code = btn.getAttribute("data-category");
    var chosen = null;
    greens.forEach(function (c) { if (c.code === code) chosen = c; });
    green = green && chosen && green.code === chosen.code ? null : chosen;   // a second tap un-chooses
    drawGreen();
  }

  function cssEscape(text) {
    return window.CSS && CSS.escape ? CSS.escape(text) : String(text).replace(/["\\]/g, "\\$&");
  }

  /* -- issuing ------------------------------------------------------- */

  function onServiceTap(e) {
    var btn = e.target.closest(".service-btn");
    if (!btn || busy || ticket || storeDown) return;   // the double-tap guard
    busy = true;
    btn.classList.add("issuing");
    hideBanner();
    drawServices();
    var body = { service: btn.getAttribute("data-service") };
    if (green) body.category = green.code;
    Q.api("POST", "/tickets", body)
      .then(showTicket, function (err) {
        if (err.code === "unauthorized") refused();
        // The brake on ticket issue: said in both languages, whoever stands here.
        else if (err.code === "too_many_requests") showBanner("error", function () { return Q.t2("err.too_many_requests"); });
        else if (err.status === 503) storeChanged(false);
        else if (err.data && "opens_at" in err.data) {   // closed, or the half-day's tickets are gone
          showBanner("error", function () { return bilingual(err.data); });
          H.refresh();
        }
        else showBanner("error", function () { return bilingual(bothWords(err)); });
      })
      .then(function () {
        busy = false;
        btn.classList.remove("issuing");
        drawServices();
      });
  }

  /** A refusal's own sentence in both languages (error_zh / error_en), the visitor's first. */
  // A refusal in both languages, the visitor's first: {error_zh, error_en} (the hub's) or {zh, en}.
  function bilingual(data) {
    var zh = data.error_zh || data.zh, en = data.error_en || data.en;
    return Q.lang() === "en" ? en + " / " + zh : zh + " / " + en;
  }

  function showTicket(t) {
    ticket = t;
    ticketShownAt = Date.now();
    printState = null;
    troubleShown = false;
    var qr = $("#ticket-qr");
    qr.hidden = !t.qr_url;
    if (t.qr_url) qr.src = t.qr_url;
    Q.show("#service-view", false);
    Q.show("#ticket-view", true);
    ticketLeft = TICKET_SECONDS;
    clearInterval(ticketTimer);
    ticketTimer = setInterval(function () {
      ticketLeft -= 1;
      if (ticketLeft <= 0) closeTicket();
      else drawDone(ticketLeft);
    }, 1000);
    drawDone(ticketLeft);
    var p = t.print || {};
    if (p.state) printChanged(p.state, p.detail);
    // The printer may have answered before the hub's answer reached us.
    var early = recentPrints[t.id];
    if (early) printChanged(early.state, early.detail);
    drawTicket();
  }

  function drawTicket() {
    if (!ticket) return;
    $("#ticket-number").textContent = ticket.number;
    var mark = $("#ticket-appointment");
    var other = Q.lang() === "zh" ? "en" : "zh";
    mark.hidden = !ticket.appointment && ticket.arrival !== "walk_in";
    mark.textContent = ticket.appointment
      ? "预约 Appointment" + (ticket.name ? " · " + ticket.name : "")
      : Q.t("checkin.walk_in") + " / " + Q.t("checkin.walk_in", null, other);
    $("#ticket-service").textContent = Q.lang() === "en"
      ? ticket.service_name_en + " · " + ticket.service_name_zh
      : ticket.service_name_zh + " · " + ticket.service_name_en;
    var n = ticket.waiting_ahead || 0;
    if (n > 0) both($("#ticket-ahead"), "ticket.ahead", { n: n });
    else both($("#ticket-ahead"), "ticket.ahead_none");
    var est = estimateKey(ticket.estimated_wait_minutes);
    both($("#ticket-estimate"), est[0], est[1]);
    $("#ticket-time").textContent = two("ticket.time", { time: Q.formatTime(ticket.issued_at) });
    var done = $("#ticket-done");
    if (done.getAttribute("data-left")) drawDone(+done.getAttribute("data-left"));
    drawPrint();
  }

  /** The words for the wait estimated at issue, [key, vars] (null: no counter open for the service). */
  function estimateKey(minutes) {
    if (minutes == null) return ["ticket.estimate_none", null];
    return minutes < 1 ? ["ticket.estimate_soon", null] : ["ticket.estimate", { n: minutes }];
  }

  function drawDone(left) {
    var done = $("#ticket-done");
    done.setAttribute("data-left", left);
    done.textContent = two("ticket.done", { s: left });
  }

  function closeTicket() {
    clearInterval(ticketTimer);
    if (ticket) Q.resetLang();   // this visitor is done; the next starts in the site's language
    ticket = null;
    green = null;                // the green channel was this visitor's, not the next one's
    drawGreen();
    printState = null;
    troubleShown = false;
    $("#ticket-done").removeAttribute("data-left");
    Q.show("#ticket-view", false);
    Q.show("#service-view", true);
    drawPrint();
    drawPrinter();
    drawClosed();
  }

  /* -- appointment check-in ------------------------------------------ */

  // Keys of the code pad: digits, and the letters without I and O (codes never hold them).
  var CODE_KEYS = "1234567890ABCDEFGHJKLMNPQRSTUVWXYZ".split("");
  var PHONE_KEYS = "123456789".split("").concat(["clear", "0", "del"]);
  // Keys of a case code: its alphabet, digits and letters without 0, 1, I and O.
  var CASE_KEYS = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ".split("");
  var CASE_LENGTH = 10;
  var SCAN_GAP_MS = 60;        // a scanner types faster than this per key; a person does not
  var CHECKIN_IDLE_MS = 60000; // an abandoned check-in closes itself
  var checkin = { open: false, mode: "code", entry: "", busy: false, message: null, choices: null };
  var checkinTimer = null;
  var burst = "";
  var burstAt = 0;

  function openCheckin(mode, entry) {
    if (storeDown) return;
    if (ticket) closeTicket();
    if (caseShown) closeCase();
    checkin.open = true;
    if (checkin.mode !== mode) checkin.entry = "";
    checkin.mode = mode === "phone" || mode === "case" ? mode : "code";
    if (entry !== undefined) checkin.entry = entry;
    checkin.message = null;
    checkin.choices = null;
    clearTimeout(checkinTimer);
    checkinTimer = setTimeout(closeCheckin, CHECKIN_IDLE_MS);
    Q.show("#service-view", false);
    Q.show("#checkin-view", true);
    drawClosed();
    drawCheckin();
  }

  function closeCheckin() {
    clearTimeout(checkinTimer);
    checkin = { open: false, mode: "code", entry: "", busy: false, message: null, choices: null };
    Q.show("#checkin-view", false);
    if (!ticket) Q.show("#service-view", true);
    draw(snapshot);
  }

  function drawCheckin() {
    if (!checkin.open) return;
    var caseMode = checkin.mode === "case";
    both($("#checkin-prompt"),
      caseMode ? "case.prompt" : checkin.mode === "phone" ? "checkin.prompt_phone" : "checkin.prompt_code");
    // The case lookup borrows this keypad: no code/phone choice, its own keys, "look up" for "check in".
    Q.show(document.querySelector(".checkin-modes"), !caseMode);
    both($("#checkin-submit"), caseMode ? "case.lookup" : "checkin.submit");
    Array.prototype.forEach.call(document.querySelectorAll(".checkin-mode"), function (btn) {
      btn.classList.toggle("active", btn.getAttribute("data-mode") === checkin.mode);
    });
    $("#checkin-entry").textContent = caseMode && checkin.entry.length > 5
      ? checkin.entry.slice(0, 5) + "-" + checkin.entry.slice(5)
      : checkin.entry;
    var keys = checkin.mode === "phone" ? PHONE_KEYS : (caseMode ? CASE_KEYS : CODE_KEYS).concat(["clear", "del"]);
    var pad = $("#checkin-keypad");
    if (pad.getAttribute("data-mode") !== checkin.mode) {
      pad.setAttribute("data-mode", checkin.mode);
      Q.setHtml(pad, Q.html`${keys.map(function (k) {
        return Q.html`<button type="button" class="key ${k.length > 1 ? "key-word" : ""}" data-key="${k}"></button>`;
      })}`);
    }
    Array.prototype.forEach.call(pad.querySelectorAll(".key"), function (btn) {
      var k = btn.getAttribute("data-key");
      if (k === "del" || k === "clear") both(btn, k === "del" ? "checkin.delete" : "checkin.clear");
      else btn.textContent = k;
    });
    var msg = $("#checkin-message");
    msg.hidden = !checkin.message;
    if (checkin.message) {
      var first = Q.lang();
      msg.querySelector(".cm-first").textContent = checkin.message[first];
      msg.querySelector(".cm-second").textContent = checkin.message[first === "zh" ? "en" : "zh"];
    }
    var box = $("#checkin-choices");
    box.hidden = !checkin.choices;
    Q.setHtml(box, Q.html`${(checkin.choices || []).map(function (c) {
      return Q.html`<button type="button" class="checkin-choice" data-id="${c.id}">
          <span class="cc-time">${c.slot_start}–${c.slot_end}</span>
          <span class="cc-service">${c.service_name_zh} · ${c.service_name_en}</span>
        </button>`;
    })}`);
    $("#checkin-submit").disabled = checkin.busy;
    pad.hidden = !!checkin.choices;
  }

  function onKey(e) {
    var btn = e.target.closest(".key");
    if (!btn || checkin.busy) return;
    var k = btn.getAttribute("data-key");
    if (k === "del") checkin.entry = checkin.entry.slice(0, -1);
    else if (k === "clear") checkin.entry = "";
    else if (checkin.entry.length < (checkin.mode === "phone" ? 20 : checkin.mode === "case" ? CASE_LENGTH : 16)) {
      checkin.entry += k;
    }
    checkin.message = null;
    clearTimeout(checkinTimer);
    checkinTimer = setTimeout(closeCheckin, CHECKIN_IDLE_MS);
    drawCheckin();
  }

  function submitCheckin() {
    if (checkin.busy) return;
    if (checkin.mode === "case") return lookupCase();
    if (checkin.entry.length < 4) {
      checkin.message = { zh: Q.t("checkin.short", null, "zh"), en: Q.t("checkin.short", null, "en") };
      drawCheckin();
      return;
    }
    send(checkin.mode === "phone" ? { phone: checkin.entry } : { code: checkin.entry });
  }

  function onChoice(e) {
    var btn = e.target.closest(".checkin-choice");
    if (btn && !checkin.busy) send({ phone: checkin.entry, appointment_id: btn.getAttribute("data-id") });
  }

  /** POST /appointments/check-in: the ticket, a choice of bookings, or a refusal in both languages. */
  function send(body) {
    checkin.busy = true;
    checkin.message = null;
    drawCheckin();
    Q.api("POST", "/appointments/check-in", body).then(function (answer) {
      checkin.busy = false;
      if (answer && answer.choices) {
        checkin.choices = answer.choices;
        checkin.message = { zh: Q.t("checkin.choose", null, "zh"), en: Q.t("checkin.choose", null, "en") };
        drawCheckin();
        return;
      }
      closeCheckin();
      showTicket(answer);
    }, function (err) {
      checkin.busy = false;
      if (err.code === "unauthorized") { closeCheckin(); refused(); return; }
      if (err.status === 503) { closeCheckin(); storeChanged(false); return; }
      checkin.message = Q.hubWords(err) || { zh: Q.errorText(err, "zh"), en: Q.errorText(err, "en") };
      checkin.choices = null;
      drawCheckin();
    });
  }

  /**
   * Keys from anywhere on the page: a burst (each key within SCAN_GAP_MS of
   * the last) ending in Enter is a scanned code, checked in at once, whatever
   * the kiosk was showing.
   */
  function onScannerKey(e) {
    var now = Date.now();
    if (now - burstAt > SCAN_GAP_MS) burst = "";
    burstAt = now;
    if (e.key === "Enter") {
      var scanned = burst;
      burst = "";
      if (scanned.length >= 4 && !busy && !checkin.busy && !storeDown && snapshot && snapshot.site.appointments) {
        e.preventDefault();
        openCheckin("code", scanned.slice(-200));
        send({ code: scanned.slice(-200) });
      }
      return;
    }
    if (e.key && e.key.length === 1) burst += e.key;
  }

  /* -- case progress (查询办理进度) --------------------------------------- */

  /*
   * A case that spans days (业扩报装): the visitor types its code on the
   * check-in keypad, sees its steps, their status and dates (the hub sends
   * nothing personal), and takes a number for the next step: POST /tickets
   * {case} issues a ticket for the case's service, linked to the case.
   */
  var caseShown = null;        // the case on screen (GET /cases/{code}/progress), or null
  var caseBusy = false;
  var caseMessage = null;      // {zh, en} of a refusal on the case view
  var caseTimer = null;

  function lookupCase() {
    var code = checkin.entry;
    if (code.length < CASE_LENGTH) {
      checkin.message = { zh: Q.t("case.short", null, "zh"), en: Q.t("case.short", null, "en") };
      drawCheckin();
      return;
    }
    checkin.busy = true;
    checkin.message = null;
    drawCheckin();
    Q.api("GET", "/cases/" + encodeURIComponent(code) + "/progress").then(function (c) {
      closeCheckin();
      showCase(c);
    }, function (err) {
      checkin.busy = false;
      if (err.status === 503) { closeCheckin(); storeChanged(false); return; }
      checkin.message = bothWords(err);
      drawCheckin();
    });
  }

  /** A refusal in both languages: the hub's own pair when it sends one, else our words for the code. */
  function bothWords(err) {
    return Q.hubWords(err) || { zh: Q.errorText(err, "zh"), en: Q.errorText(err, "en") };
  }

  function showCase(c) {
    caseShown = c;
    caseMessage = null;
    Q.show("#service-view", false);
    Q.show("#case-view", true);
    clearTimeout(caseTimer);
    caseTimer = setTimeout(closeCase, CHECKIN_IDLE_MS);
    drawCase();
  }

  function closeCase() {
    clearTimeout(caseTimer);
    var wasShown = !!caseShown;
    caseShown = null;
    caseMessage = null;
    caseBusy = false;
    Q.show("#case-view", false);
    if (wasShown && !ticket && !checkin.open) Q.show("#service-view", true);
  }

  function drawCase() {
    var c = caseShown;
    if (!c) return;
    var first = Q.lang();
    var second = first === "zh" ? "en" : "zh";
    $("#case-view").setAttribute("data-status", c.status);
    $("#case-title").textContent = Q.name(c, first) + " · " + Q.name(c, second);
    $("#case-code-shown").textContent = two("case.code", { code: c.code_shown });
    $("#case-state").textContent = Q.t("case.state." + c.status) + " / " + Q.t("case.state." + c.status, null, second) +
      (c.opened_on ? " · " + two("case.opened", { date: c.opened_on }) : "");
    Q.setHtml($("#case-steps"), Q.html`${c.steps.map(function (s) {
      var when = s.status === "done" && s.done_on
        ? two("case.done_on", { date: s.done_on })
        : s.due_on && s.status === "active" ? two("case.due", { date: s.due_on }) : "";
      return Q.html`<li class="case-step" data-step="${s.step}" data-status="${s.status}">
          <span class="cs-mark" aria-hidden="true">${s.status === "done" ? "✓" : s.step}</span>
          <span class="cs-name"><span class="cs-first">${Q.name(s, first)}</span>
            <span class="cs-second">${Q.name(s, second)}</span></span>
          <span class="cs-state">${two("case.step." + s.status)}<br><small>${when}</small></span>
        </li>`;
    })}`);
    var msg = $("#case-message");
    msg.hidden = !caseMessage;
    if (caseMessage) {
      msg.querySelector(".cm-first").textContent = caseMessage[first];
      msg.querySelector(".cm-second").textContent = caseMessage[second];
    }
    var take = $("#case-ticket");
    take.hidden = c.status !== "open";
    take.textContent = Q.t("case.take") + " / " + Q.t("case.take", null, second);
    take.disabled = caseBusy || storeDown;
    $("#case-back").textContent = Q.t("case.back") + " / " + Q.t("case.back", null, second);
  }

  /** POST /tickets {case}: a ticket for the case's next step, shown like any other. */
  function takeNextStep() {
    if (!caseShown || caseBusy || storeDown) return;
    caseBusy = true;
    caseMessage = null;
    drawCase();
    Q.api("POST", "/tickets", { case: caseShown.code }).then(function (answer) {
      caseShown = null;   // the ticket takes the screen; the next visitor starts afresh
      closeCase();
      showTicket(answer);
    }, function (err) {
      caseBusy = false;
      if (err.code === "unauthorized") { closeCase(); refused(); return; }
      if (err.status === 503) { closeCase(); storeChanged(false); return; }
      caseMessage = bothWords(err);
      drawCase();
    });
  }

  /* -- paper ----------------------------------------------------------- */

  function isTrouble(state) { return state === "waiting" || state === "failed"; }

  /** print_status {ticket_id, state, detail}: how one of this kiosk's tickets is printing. */
  function onPrintStatus(p) {
    if (!p.ticket_id || !p.state) return;
    if (!(p.ticket_id in recentPrints)) {
      recentOrder.push(p.ticket_id);
      if (recentOrder.length > 20) delete recentPrints[recentOrder.shift()];
    }
    recentPrints[p.ticket_id] = { state: p.state, detail: p.detail || "" };
    if (ticket && ticket.id === p.ticket_id) printChanged(p.state, p.detail);
    else learnPrinter(p.state, p.detail);
    drawPrint();
    drawPrinter();
  }

  /** printer_status: a device status of our printer ({name, state, detail, healthy, …}). */
  function onPrinterStatus(d) {
    if (!d.state) return;
    printerState = d.state;
    drawPrinter();
  }

  /** The ticket on screen printed, or could not: what the visitor needs to know. */
  function printChanged(state, detail) {
    printState = state;
    learnPrinter(state, detail);
    if (isTrouble(state) && !troubleShown) {
      troubleShown = true;
      // Time to copy the number down or get a phone out.
      ticketLeft = Math.max(ticketLeft, TROUBLE_SECONDS - Math.floor((Date.now() - ticketShownAt) / 1000));
      drawDone(ticketLeft);
    } else if (state === "printed") {
      troubleShown = false;   // it came out after all: "take your ticket" says it
    }
  }

  /**
   * printer_status only comes on a change, so a kiosk that (re)loaded while
   * the printer was down has not heard of it: a ticket that waits for the
   * printer says why ("paper_out"…), and a printed one says it works again.
   */
  function learnPrinter(state, detail) {
    if (state === "waiting" && detail && /^[a-z_]+$/.test(detail) && HEALTHY.indexOf(detail) < 0) {
      printerState = detail;
    } else if (state === "printed" && printerState && HEALTHY.indexOf(printerState) < 0) {
      printerState = "online";
    }
  }

  /** Both languages at once, the visitor's own first. */
  function bothLangs(el, key, firstSel, secondSel) {
    var first = Q.lang();
    var second = first === "zh" ? "en" : "zh";
    el.querySelector(firstSel).textContent = Q.t(key, null, first);
    el.querySelector(secondSel).textContent = Q.t(key, null, second);
    el.querySelector(firstSel).lang = first === "zh" ? "zh-CN" : "en";
    el.querySelector(secondSel).lang = second === "zh" ? "zh-CN" : "en";
  }

  function drawPrint() {
    var msg = $("#print-message");
    var taken = $("#print-taken");
    var trouble = !!ticket && troubleShown;
    if (trouble) bothLangs(msg, "print.trouble", ".pm-first", ".pm-second");
    msg.hidden = !trouble;
    msg.setAttribute("data-print-state", ticket && printState ? printState : "");
    var printed = !!ticket && printState === "printed";
    var other = Q.lang() === "zh" ? "en" : "zh";
    taken.textContent = printed ? Q.t("print.taken") + " / " + Q.t("print.taken", null, other) : "";
    taken.hidden = !printed;
  }

  /**
   * The printer's own state: out of order → everyone sees it before they
   * tap; paper low → a quiet line for staff at the bottom.
   */
  function drawPrinter() {
    var el = $("#printer-warning");
    var state = printerState;
    el.setAttribute("data-printer-state", state || "");
    if (!state || state === "online") { el.hidden = true; return; }
    var low = state === "paper_near_end";
    el.className = "printer-warning " + (low ? "low" : "fault");
    bothLangs(el, low ? "printer.low" : "printer.fault", ".pw-first", ".pw-second");
    // On a ticket that did not print, its own message says it better.
    el.hidden = !low && !!ticket && troubleShown;
  }

  /* -- can the hub take tickets? -------------------------------------- */

  /**
   * GET /health: 503 means the hub's store cannot save a ticket (a full disk,
   * the database gone). Asked every few seconds, so the kiosk recovers by
   * itself. A health answer that does not arrive at all is the socket's
   * business ("reconnecting…"), not this notice.
   */
  function checkHealth() {
    clearTimeout(healthTimer);
    fetch("/api/v1/health", { cache: "no-store", headers: { "Accept": "application/json" } })
      .then(function (res) {
        if (res.status === 503) storeChanged(false);
        else if (res.ok) storeChanged(true);
      }, function () { /* offline: the connection banner says it */ })
      .then(function () {
        healthTimer = setTimeout(checkHealth, storeDown ? HEALTH_DOWN_MS : HEALTH_MS);
      });
  }

  function storeChanged(up) {
    if (up === !storeDown) return;
    storeDown = !up;
    if (storeDown) {
      hideBanner();   // the notice says it better than a one-off error
      clearTimeout(healthTimer);
      healthTimer = setTimeout(checkHealth, HEALTH_DOWN_MS);
    }
    drawStore();
    drawServices();
  }

  function drawStore() {
    var el = $("#store-warning");
    el.setAttribute("data-store", storeDown ? "down" : "ok");
    if (storeDown) bothLangs(el, "store.down", ".sw-first", ".sw-second");
    el.hidden = !storeDown;
  }

  /* -- messages ------------------------------------------------------ */

  /** The hub refused our token: say so plainly and stop offering buttons. */
  function refused() {
    turnedAway = true;
    closeTicket();
    Q.show("#service-view", false);
    $("#setup h1").setAttribute("data-i18n", "setup.refused");
    $("#setup .setup-other").setAttribute("data-i18n", "setup.refused_other");
    Q.translatePage();
    offline = false;    // "reconnecting…" would be a false promise: we were turned away
    hideBanner();
    Q.show("#setup", true);
  }

  function showBanner(kind, text, sticky) {
    banner = { kind: kind, text: text, sticky: !!sticky };
    clearTimeout(bannerTimer);
    if (!sticky) bannerTimer = setTimeout(hideBanner, BANNER_MS);
    drawBanner();
  }

  function hideBanner() {
    banner = null;
    // Being offline is still true after another message goes away.
    if (offline) banner = { kind: "warn", text: function () { return Q.t2("conn.offline"); }, sticky: true };
    drawBanner();
  }

  function drawBanner() { Q.banner("#banner", banner); }
})();
