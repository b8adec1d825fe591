/*
 * The visitor's phone page, /t/<ticket id>: where am I in the queue, and
 * where do I go when called. The ticket id in the URL is the only key.
 *
 * Live updates come over Socket.IO; a GET every 15 s backs them up, because
 * phones sleep, switch networks and drop sockets without telling anyone.
 *
 * After a service the page asks for a rating (服务评价) while the hub offers
 * one (`evaluation_offer` of GET /tickets/<id>: that station, until when):
 * the site's levels (GET /satisfaction) as big buttons in both languages; a
 * level that is not satisfied offers the reasons, or "skip". One rating per
 * station; the ticket's id is the only key, as for cancelling.
 */
(function () {
  "use strict";
  var Q = QCall, $ = Q.$;

  var WORDS = {
    zh: {
      "title": "排队进度",
      "loading": "正在加载…",
      "your_number": "您的号码",
      "issued_at": "取号时间",
      "updated_at": "更新时间",
      "keep_open": "请保持本页打开，叫到您的号时手机会振动。",
      "final.done": "业务已办结，本页不会再提醒，可以关闭。",
      "final.done_rate": "业务已办结。欢迎在下方为本次服务评价。",
      "final.over": "此号已结束，本页不会再提醒，可以关闭。",
      "unknown.title": "找不到这张号票",
      "unknown.body": "请检查链接，或重新扫描号票上的二维码。号票只在当天有效。",
      "ahead": "前面还有 {n} 人",
      "ahead_none": "您是下一位，请留意叫号",
      "estimate": "预计等待约 {n} 分钟",
      "estimate_soon": "预计很快就会叫到您",
      "estimate_none": "暂无窗口办理此业务，无法估计等待时间",
      "go": "请到 {counter} 办理",
      "state.waiting": "正在等候",
      "state.transferred": "已转办，请继续等候",
      "state.transferred_to": "已转到 {counter}，请继续等候",
      "state.called": "已叫到您的号",
      "state.recalled": "再次叫到您的号（第 {n} 次）",
      "state.serving": "正在 {counter} 办理",
      "state.done": "业务已办结，谢谢光临",
      "state.no_show": "已过号。如需办理，请联系工作人员",
      "state.cancelled": "号票已取消",
      "stale": "暂时无法更新，显示的是 {time} 的状态。",
      "offline": "离线",
      "closing.closed": "大厅已下班，您的号已关闭",
      "closing.carried": "大厅已下班，您的号保留到 {when} 继续办理，排在新取的号之前",
      "alerts.on": "提醒已开启：叫到您时会响铃、振动并通知",
      "alerts.no_notify": "提醒已开启：叫到您时会响铃、振动（此浏览器不能显示通知）",
      "alerts.denied": "铃声已开启；通知未获允许，可在浏览器设置中开启",
      "notify.body": "您的号码 {number}"
    },
    en: {
      "title": "Your place",
      "loading": "Loading…",
      "your_number": "Your number",
      "issued_at": "Issued at",
      "updated_at": "Updated at",
      "keep_open": "Keep this page open: your phone vibrates when your number is called.",
      "final.done": "Your service is finished. This page will not alert you again; you may close it.",
      "final.done_rate": "Your service is finished. Please rate it below.",
      "final.over": "This number has ended. This page will not alert you again; you may close it.",
      "unknown.title": "We can't find this ticket",
      "unknown.body": "Please check the link, or scan the QR code on your ticket again. Tickets are valid on the day they are issued.",
      "ahead": "{n} people ahead of you",
      "ahead_none": "You are next: please watch the screen",
      "estimate": "About {n} min wait",
      "estimate_soon": "You should be called very soon",
      "estimate_none": "No counter is open for this service: the wait cannot be estimated",
      "go": "Please go to {counter}",
      "state.waiting": "Waiting",
      "state.transferred": "Transferred: please keep waiting",
      "state.transferred_to": "Transferred to {counter}: please keep waiting",
      "state.called": "Your number has been called",
      "state.recalled": "Your number is called again (call {n})",
      "state.serving": "Being served at {counter}",
      "state.done": "Finished. Thank you for your visit",
      "state.no_show": "Your number was missed. Please ask a member of staff",
      "state.cancelled": "This ticket was cancelled",
      "stale": "Cannot update right now; showing the state at {time}.",
      "offline": "Offline",
      "closing.closed": "The hall has closed; your ticket has ended",
      "closing.carried": "The hall has closed; your number is kept and called from {when}, before new tickets",
      "alerts.on": "Alerts on: a sound, a vibration and a notification when you are called",
      "alerts.no_notify": "Alerts on: a sound and a vibration when you are called (this browser shows no notifications)",
      "alerts.denied": "Sound on; notifications were not allowed (the browser's settings can allow them)",
      "notify.body": "Your number {number}"
    }
  };

  var POLL_MS = 15000;
  var REFRESH_MS = 5000;     // the hall moved: ask again at most this often
  var refreshTimer = null;
  var loadedAt = 0;
  var FINAL = { done: true, no_show: true, cancelled: true };

  var ticketId = readTicketId();
  var ticket = null;          // last known ticket (REST shape, merged with live events)
  var counters = {};          // number → {name_zh, name_en}, learned from call events
  var updatedAt = null;
  var vibratedFor = null;     // call_count we already buzzed for
  var pollTimer = null;
  var online = true;
  var gone = false;           // the hub does not know this ticket: stop asking
  // The day's closing ended this ticket ({by: "closing"}) or kept it for the next opening day
  // ({by, to_day, opens_at}): from the live event, or the ticket's history when the page loads.
  var closing = null;
  var levels = null;          // the site's rating levels and reasons (GET /satisfaction), once asked
  var rating = null;          // the level chosen while the reasons are shown
  var offerTimer = null;      // hides the rating when its window closes
  var thanked = false;        // a rating was just sent: say thank you
  var audio = null;           // the AudioContext a tap on "turn on alerts" unlocked, or null
  var alertsOn = false;       // the visitor turned alerts on (this page's life: a reload asks again)

  Q.i18n(WORDS, "qcall.status.lang");
  Q.translatePage();
  Q.onLang(function () {
    $("#conn").textContent = Q.t(online ? "conn.online" : "offline");
    draw();
  });
  $("#lang-switch").addEventListener("click", Q.toggleLang);
  setUpCancel();
  setUpRating();
  setUpOnMyWay();
  setUpAlerts();
  // 投诉/意见 about this visit: the shared form, naming this ticket (its id is the right, as for cancel).
  if (window.QCallComplaint) window.QCallComplaint.mount($("#complaint"), { ticket: function () { return ticketId; } });

  if (!ticketId) {
    unknown();
    return;
  }

  load();
  document.addEventListener("visibilitychange", function () {
    // A phone coming back from sleep shows stale data until we ask again.
    if (!document.hidden && !gone) load();
  });

  Q.connect({ ticket: ticketId }, {
    online: function (up) {
      var wasDown = !online;
      online = up;
      $("#conn").className = "conn" + (up ? "" : " offline");
      $("#conn").textContent = Q.t(up ? "conn.online" : "offline");
      Q.show("#conn", !up && !gone);
      if (up && wasDown) load();   // we may have missed events while away
    },
    ticket_called: onCall,
    ticket_recalled: onCall,
    ticket_changed: function (p) {
      if (!mine(p)) return;
      if (p.closing) closing = p.closing;
      merge(p.ticket);
      // The event has the whole ticket. Only a ticket waiting again (transferred)
      // needs the hub: its place in the new queue and that service's names;
      // a service just ended or rated elsewhere (the pad): what may be rated now.
      if (p.ticket.status === "waiting" || p.ticket.status === "transferred" ||
          p.event === "finished" || p.event === "evaluated") load();
    },
    // The hall moved: a ticket waiting in one of these services asks for its place and estimate
    // again (at most every REFRESH_MS: a busy hall moves every second).
    queue_moved: function (p) {
      if (!ticket || !(ticket.status === "waiting" || ticket.status === "transferred")) return;
      if ((p.services || []).indexOf(ticket.service) >= 0) refreshSoon();
    },
    // A refused socket (unknown or expired ticket) changes nothing here: the
    // GET in load() decides whether the ticket exists, and polling carries on.
  });

  /** /t/<id>: the id is the last path segment; ?id= also works (handy when testing). */
  function readTicketId() {
    var fromQuery = new URLSearchParams(location.search).get("id");
    if (fromQuery) return fromQuery;
    var parts = location.pathname.split("/").filter(Boolean);
    var last = parts.length > 1 ? parts[parts.length - 1] : "";
    try { return decodeURIComponent(last); } catch (e) { return ""; }
  }

  function mine(p) { return p && p.ticket && p.ticket.id === ticketId; }

  function onCall(p) {
    if (!mine(p)) return;
    if (p.counter && p.counter.number != null) counters[p.counter.number] = p.counter;
    merge(p.ticket);
  }

  function merge(t) {
    learnNames(t);
    ticket = Object.assign({}, ticket || {}, t);
    updatedAt = new Date();
    draw();
  }

  function load() {
    clearTimeout(pollTimer);
    loadedAt = Date.now();
    Q.api("GET", "/tickets/" + encodeURIComponent(ticketId)).then(function (t) {
      if (t.timezone) Q.setTimeZone(t.timezone);   // its times in the hall's zone, as on the paper
      Q.show("#banner", false);
      closing = closingOf(t.history);
      merge(t);
      schedule();
    }, function (err) {
      if (err.code === "unknown_ticket" || err.code === "not_found") return unknown();
      // Keep showing what we know, and say how old it is.
      if (ticket) {
        $("#banner").className = "banner warn";
        $("#banner").textContent = Q.t("stale", { time: Q.formatTime(updatedAt) });
      } else {
        $("#banner").className = "banner error";
        $("#banner").textContent = Q.errorText(err);
      }
      Q.show("#loading", false);
      Q.show("#banner", true);
      schedule();
    });
  }

  /** load(), but not sooner than REFRESH_MS after the last one: once, at the end of the wait. */
  function refreshSoon() {
    if (refreshTimer) return;
    var since = Date.now() - loadedAt;
    refreshTimer = setTimeout(function () {
      refreshTimer = null;
      if (!gone) load();
    }, Math.max(0, REFRESH_MS - since));
  }

  function schedule() {
    clearTimeout(pollTimer);
    if (ticket && FINAL[ticket.status]) return;   // nothing will change any more
    pollTimer = setTimeout(load, POLL_MS);
  }

  function unknown() {
    clearTimeout(pollTimer);
    gone = true;
    ticket = null;
    Q.show("#conn", false);
    Q.show("#loading", false);
    Q.show("#ticket", false);
    Q.show("#banner", false);
    Q.show("#unknown", true);
  }

  /** The hub's answer names the counter the ticket is at and the one a transfer sent it to
   *  by their configured names (贵宾理财室 / VIP room): keep them for counterName(). */
  function learnNames(t) {
    if (t.counter != null && t.counter_name_zh) {
      counters[t.counter] = { name_zh: t.counter_name_zh, name_en: t.counter_name_en };
    }
    if (t.target_counter != null && t.target_counter_name_zh) {
      counters[t.target_counter] = { name_zh: t.target_counter_name_zh, name_en: t.target_counter_name_en };
    }
  }

  /** "3号窗口" / "Counter 3": the hub's name when an event told us, else a default. */
  function counterName(number, l) {
    if (number == null) return "";
    var known = counters[number];
    if (known) return Q.name(known, l);
    return Q.t("counter.default_name", { n: number }, l);
  }

  function draw() {
    if (!ticket) return;
    Q.show("#loading", false);
    Q.show("#unknown", false);
    Q.show("#ticket", true);

    var lang = Q.lang();
    var status = ticket.status;
    $("#ticket-number").textContent = ticket.number || "";
    // Its length picks the size (status.css): six characters fit a 320 px phone as four do.
    $("#ticket-number").setAttribute("data-len", String((ticket.number || "").length));
    var zh = ticket.service_name_zh, en = ticket.service_name_en;
    $("#ticket-service").textContent = (lang === "en" ? [en, zh] : [zh, en]).filter(Boolean).join(" · ");

    // Called: the one thing that matters, big, in both languages.
    var called = status === "called";
    Q.show("#go", called);
    document.body.classList.toggle("is-called", called);
    if (called) {
      $("#go-zh").textContent = Q.t("go", { counter: counterName(ticket.counter, "zh") }, "zh");
      $("#go-en").textContent = Q.t("go", { counter: counterName(ticket.counter, "en") }, "en");
    }

    $("#ticket-status").textContent = statusText(ticket);
    $("#ticket-status").className = "status s-" + status;
    $("#ticket").setAttribute("data-status", status);   // for styling and browser tests

    var waiting = status === "waiting" || status === "transferred";
    Q.show("#ticket-ahead", waiting && ticket.waiting_ahead != null);
    if (waiting) {
      var n = ticket.waiting_ahead || 0;
      $("#ticket-ahead").textContent = n > 0 ? Q.t("ahead", { n: n }) : Q.t("ahead_none");
      var minutes = ticket.estimated_wait_minutes;
      $("#ticket-estimate").textContent = minutes == null
        ? Q.t("estimate_none")
        : minutes < 1 ? Q.t("estimate_soon") : Q.t("estimate", { n: minutes });
    }
    drawClosing(status);

    Q.show("#ticket-estimate", waiting && "estimated_wait_minutes" in ticket);
    var cancellable = waiting || called;
    Q.show("#cancel", cancellable);
    if (!cancellable) confirming(false);
    Q.show("#onway", called);
    Q.show("#onway-say", called && !ticket.on_my_way);
    Q.show("#onway-said", called && !!ticket.on_my_way);
    Q.show("#alerts", cancellable);
    drawAlerts();
    drawRating();
    // Once the ticket is over, "keep this page open" is no longer true: say it is over (and rate, where offered).
    var over = !!FINAL[status];
    Q.show("#keep-open", !over);
    Q.show("#final-note", over);
    if (over) {
      var rate = status === "done" && !$("#rate").hidden;
      $("#final-note").textContent = Q.t(status === "done" ? (rate ? "final.done_rate" : "final.done") : "final.over");
    }
    $("#ticket-issued").textContent = Q.formatTime(ticket.issued_at);
    $("#ticket-updated").textContent = Q.formatTime(updatedAt, true);
    document.title = (ticket.number || "") + " · " + (called ? Q.t("go", { counter: counterName(ticket.counter) }) : Q.t("title"));

    buzz();
  }

  /** The closing's news in the ticket's history: its last event, if the closing wrote it. */
  function closingOf(history) {
    var last = (history || [])[(history || []).length - 1];
    var detail = last && last.detail;
    if (!detail || detail.by !== "closing") return null;
    return last.kind === "carried_over" || last.kind === "cancelled" ? detail : null;
  }

  /**
   * "The hall has closed": the ticket ended at closing, or is kept for the
   * next opening day (with that day and time), in both languages at once.
   */
  function drawClosing(status) {
    var carried = !!(closing && closing.to_day) && (status === "waiting" || status === "transferred");
    var ended = !!closing && !closing.to_day && status === "cancelled";
    var note = $("#closing-note");
    note.hidden = !(carried || ended);
    note.setAttribute("data-closing", carried ? "carried_over" : ended ? "closed" : "");
    if (note.hidden) return;
    ["zh", "en"].forEach(function (l) {
      var when = carried ? Q.formatDate(closing.opens_at, l) + " " + Q.formatTime(closing.opens_at) : "";
      $("#closing-" + l).textContent = Q.t(carried ? "closing.carried" : "closing.closed", { when: when }, l);
    });
  }

  /*
   * Cancel (取消排队): one big button, then a confirm step, so a thumb brushing
   * the screen never gives a place away. The ticket id this page holds is the
   * only key the hub asks for. Shown while the ticket waits or is called.
   */
  function setUpCancel() {
    $("#cancel-ask").addEventListener("click", function () { confirming(true); });
    $("#cancel-no").addEventListener("click", function () { confirming(false); });
    $("#cancel-yes").addEventListener("click", function () {
      var yes = $("#cancel-yes");
      yes.disabled = true;
      Q.api("POST", "/tickets/" + encodeURIComponent(ticketId) + "/cancel", {}).then(function (t) {
        confirming(false);
        merge(t);
        schedule();
      }, function (err) {
        confirming(false);
        $("#banner").className = "banner error";
        $("#banner").textContent = Q.errorText(err);
        Q.show("#banner", true);
        load();
      }).then(function () { yes.disabled = false; });
    });
  }

  /*
   * Rating (服务评价): shown while the hub offers a station to rate and until
   * its window closes. A tap on a satisfied level sends it; one that is not
   * shows the reasons first (each sends at once; "skip" sends none).
   */
  function setUpRating() {
    $("#rate-skip").addEventListener("click", function () { if (rating) send(rating, null); });
    $("#rate-back").addEventListener("click", function () { choosing(null); });
  }

  function drawRating() {
    var offer = ticket.evaluation_offer;
    clearTimeout(offerTimer);
    var open = !!offer && new Date(offer.until) > new Date();
    Q.show("#rate", open);
    Q.show("#rate-thanks", thanked && !open);
    if (!open) { rating = null; return; }
    thanked = false;
    Q.show("#rate-thanks", false);
    $("#rate").setAttribute("data-leg", offer.leg);
    var zh = [offer.service_name_zh, offer.counter_name_zh].filter(Boolean).join(" · ");
    var en = [offer.service_name_en, offer.counter_name_en].filter(Boolean).join(" · ");
    Q.setHtml($("#rate-where"), Q.html`<span class="zh">${zh}</span> <span class="en">${en}</span>`);
    offerTimer = setTimeout(draw, Math.max(1000, new Date(offer.until) - new Date()));
    if (levels) return drawLevels();
    Q.api("GET", "/satisfaction").then(function (answer) {
      levels = answer;
      drawLevels();
    }, function () { /* the next load() asks again */ });
  }

  function drawLevels() {
    if ($("#rate-levels").getAttribute("data-drawn") === "yes") return choosing(rating);
    Q.setHtml($("#rate-levels"), Q.html`${levels.levels.map(function (level) {
      return Q.html`<button class="rate-level" type="button" data-rating="${level.code}" data-satisfied="${level.satisfied ? "yes" : "no"}">
        <span class="zh">${level.name_zh}</span> <span class="en">${level.name_en}</span>
      </button>`;
    })}`);
    Q.setHtml($("#rate-reason-list"), Q.html`${levels.reasons.map(function (reason) {
      return Q.html`<button class="rate-reason" type="button" data-reason="${reason.code}">
        <span class="zh">${reason.name_zh}</span> <span class="en">${reason.name_en}</span>
      </button>`;
    })}`);
    Q.each(document.querySelectorAll(".rate-level"), function (btn) {
      btn.addEventListener("click", function () {
        var code = btn.getAttribute("data-rating");
        if (btn.getAttribute("data-satisfied") === "no" && levels.reasons.length) choosing(code);
        else send(code, null);
      });
    });
    Q.each(document.querySelectorAll(".rate-reason"), function (btn) {
      btn.addEventListener("click", function () { if (rating) send(rating, btn.getAttribute("data-reason")); });
    });
    $("#rate-levels").setAttribute("data-drawn", "yes");
    choosing(rating);
  }

  /** The reasons for a level that is not satisfied (null: back to the levels). */
  function choosing(code) {
    rating = code;
    Q.show("#rate-levels", !code);
    Q.show("#rate-reasons", !!code);
  }

  function send(code, reason) {
    var offer = ticket && ticket.evaluation_offer;
    if (!offer) return;
    var buttons = document.querySelectorAll("#rate button");
    Q.each(buttons, function (b) { b.disabled = true; });
    var body = { rating: code, leg: offer.leg };
    if (reason) body.reason = reason;
    Q.api("POST", "/tickets/" + encodeURIComponent(ticketId) + "/evaluation", body).then(function () {
      thanked = true;
      rating = null;
      ticket.evaluation_offer = null;
      Q.show("#banner", false);
      draw();
      load();   // another station of the journey may be waiting for its rating
    }, function (err) {
      rating = null;
      // Rated already (on the pad), too late, or nothing to rate: the offer is gone. Else try again.
      if (err.code === "already_rated" || err.code === "evaluation_closed" || err.code === "nothing_to_evaluate") {
        ticket.evaluation_offer = null;
        draw();
      }
      $("#banner").className = "banner error";
      $("#banner").textContent = Q.errorText(err);
      Q.show("#banner", true);
    }).then(function () {
      Q.each(buttons, function (b) { b.disabled = false; });
      choosing(rating);
    });
  }

  function confirming(on) {
    Q.show("#cancel-ask", !on);
    Q.show("#cancel-confirm", on);
  }

  function statusText(t) {
    switch (t.status) {
      case "called":
        return t.call_count > 1 ? Q.t("state.recalled", { n: t.call_count }) : Q.t("state.called");
      case "serving":
        return Q.t("state.serving", { counter: counterName(t.counter) });
      case "transferred":
        return t.target_counter != null
          ? Q.t("state.transferred_to", { counter: counterName(t.target_counter) })
          : Q.t("state.transferred");
      case "waiting": case "done": case "no_show": case "cancelled":
        return Q.t("state." + t.status);
      default:
        return t.status || "";
    }
  }

  /*
   * Vibrate once per call (a recall raises call_count, so it buzzes again).
   * The first draw only notes the count: opening the page is not a call.
   */
  function buzz() {
    var count = ticket.status === "called" ? (ticket.call_count || 1) : 0;
    if (vibratedFor === null) { vibratedFor = count; return; }
    if (count > vibratedFor) {
      vibratedFor = count;
      try { if (navigator.vibrate) navigator.vibrate([400, 200, 400, 200, 400]); } catch (e) { /* not allowed */ }
      chime();
      notify();
      document.body.setAttribute("data-alerted", String(count));   // for browser tests: the call was told
    }
    if (count === 0) vibratedFor = 0;
  }

  /*
   * 我在路上 / "I'm on my way": shown while called, once a call (a recall asks
   * again). The counter's console shows it; the no-show timer waits a little more.
   */
  function setUpOnMyWay() {
    $("#onway-say").addEventListener("click", function () {
      var say = $("#onway-say");
      say.disabled = true;
      Q.api("POST", "/tickets/" + encodeURIComponent(ticketId) + "/on-my-way", {}).then(function (t) {
        Q.show("#banner", false);
        merge(t);
      }, function (err) {
        $("#banner").className = "banner error";
        $("#banner").textContent = Q.errorText(err);
        Q.show("#banner", true);
        load();
      }).then(function () { say.disabled = false; });
    });
  }

  /*
   * 开启提醒 / "Turn on alerts": browsers play sound only after a tap on the
   * page, so the tap unlocks a Web Audio context (a short chime says it works)
   * and asks for the Notification permission, where the browser has the API
   * (it needs HTTPS, or the hub on localhost). Vibration needs nothing.
   */
  function setUpAlerts() {
    $("#alerts-on").addEventListener("click", function () {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (Ctx && !audio) {
        try { audio = new Ctx(); } catch (e) { audio = null; }
      }
      if (audio && audio.resume) audio.resume();
      alertsOn = true;
      chime(1);
      askNotifications(drawAlerts);
      drawAlerts();
    });
  }

  function askNotifications(done) {
    if (!("Notification" in window) || Notification.permission !== "default") return done();
    try {
      var asked = Notification.requestPermission(function () { done(); });
      if (asked && asked.then) asked.then(done, done);
    } catch (e) { done(); }
  }

  function notificationState() {
    if (!("Notification" in window)) return "none";
    return Notification.permission;   // granted, denied or default
  }

  function drawAlerts() {
    Q.show("#alerts-on", !alertsOn);
    Q.show("#alerts-state", alertsOn);
    document.body.setAttribute("data-alerts", alertsOn ? "on" : "off");
    if (!alertsOn) return;
    var state = notificationState();
    var key = state === "granted" ? "alerts.on" : state === "denied" ? "alerts.denied" : "alerts.no_notify";
    $("#alerts-zh").textContent = Q.t(key, null, "zh");
    $("#alerts-en").textContent = Q.t(key, null, "en");
    $("#alerts").setAttribute("data-notifications", state);
  }

  /** A chime of two tones, `times` times (3 for a call), on the unlocked audio context. */
  function chime(times) {
    if (!audio) return;
    var start = audio.currentTime + 0.05;
    for (var i = 0; i < (times || 3); i++) {
      tone(880, start + i * 0.8, 0.3);
      tone(660, start + i * 0.8 + 0.35, 0.35);
    }
  }

  function tone(hz, at, seconds) {
    try {
      var osc = audio.createOscillator(), gain = audio.createGain();
      osc.frequency.value = hz;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.6, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + seconds);
      osc.connect(gain);
      gain.connect(audio.destination);
      osc.start(at);
      osc.stop(at + seconds + 0.05);
    } catch (e) { /* no audio device: the vibration and the page still tell */ }
  }

  /**
   * "请到 3号窗口 / Please go to Counter 3": a system notification, also when the
   * page is in the background, where the visitor allowed it. Chrome on Android
   * has no `new Notification()`: there a service worker's registration shows it.
   */
  function notify() {
    if (notificationState() !== "granted") return;
    var title = Q.t("go", { counter: counterName(ticket.counter, "zh") }, "zh") + " / " +
      Q.t("go", { counter: counterName(ticket.counter, "en") }, "en");
    var options = {
      body: Q.t("notify.body", { number: ticket.number }, "zh") + " / " + Q.t("notify.body", { number: ticket.number }, "en"),
      tag: "qcall-" + ticketId,
      renotify: true,
      requireInteraction: true
    };
    try {
      var shown = new Notification(title, options);
      shown.onclick = function () { window.focus(); shown.close(); };
    } catch (e) {
      if (navigator.serviceWorker && navigator.serviceWorker.getRegistration) {
        navigator.serviceWorker.getRegistration().then(function (reg) {
          if (reg) reg.showNotification(title, options);
        }, function () { /* no worker: the sound and vibration still tell */ });
      }
    }
  }
})();
