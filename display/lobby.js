/*
 * The lobby TV: the current call, every counter's number, recent calls and
 * waiting counts, always in both languages (no switch: nobody touches a TV).
 *
 * It draws only from the hub's snapshot (on every connect) and the `queue`
 * carried by each live event, so a screen that was off for an hour is right
 * the moment it reconnects. Tickets carry no personal data; neither does this.
 */
(function () {
  "use strict";
  var Q = QCall, $ = Q.$;

  var WORDS = {
    zh: {
      "free": "空闲",
      "paused": "暂停服务",
      "recall": "重呼",
      "next": "下一位",
      "no_calls": "尚未叫号",
      "last": "上次",
      "notice": "请留意屏幕和广播叫号，过号请联系工作人员。",
      "refused": "此屏幕的设备令牌无效"
    },
    en: {
      "free": "Free",
      "paused": "Paused",
      "recall": "again",
      "next": "Next",
      "no_calls": "No calls yet",
      "last": "last",
      "notice": "Please watch the screen and listen for your number. If you missed it, please ask a member of staff.",
      "refused": "This screen's device token was refused"
    }
  };

  var FLASH_MS = 6000;    // long enough to catch the eye of someone looking up late
  var RECENT = 8;          // rows in the recent-calls list

  var flashTimer = null;
  var noticeText = null;
  var lastSnap = null;   // redrawn on resize, so the lists fit the new size

  Q.i18n(WORDS, "qcall.lobby.lang");

  Q.everySecond(function (now) {
    $("#clock-time").textContent = Q.formatTime(now);
    $("#clock-date-zh").textContent = Q.formatDate(now, "zh");
    $("#clock-date-en").textContent = Q.formatDate(now, "en");
  });

  var token = Q.takeToken("qcall.display.token");
  if (!token) {
    Q.show("#setup", true);
    return;
  }

  window.addEventListener("resize", Q.debounce(function () { draw(lastSnap); }, 200));

  Q.connect({ token: token }, {
    snapshot: draw,
    queue: draw,
    ticket_called: flash,
    ticket_recalled: flash,
    online: function (up) { Q.show("#conn", !up); },
    unauthorized: function () {
      $("#setup-title").textContent = Q.t("refused", null, "zh") + " / " + Q.t("refused", null, "en");
      Q.show("#setup", true);
    }
  });

  /* -- drawing ------------------------------------------------------- */

  function draw(snap) {
    if (!snap) return;
    lastSnap = snap;
    var site = snap.site || {};
    $("#site-name-zh").textContent = site.name_zh || "";
    $("#site-name-en").textContent = site.name_en || "";
    document.title = (site.name_zh || "") + " / " + (site.name_en || "");

    var counters = {};
    (snap.counters || []).forEach(function (c) { counters[c.number] = c; });
    var services = {};
    (snap.services || []).forEach(function (s) { services[s.code] = s; });

    drawCurrent(snap.recent_calls || [], counters, services);
    drawCounters(snap.counters || [], snap.recent_calls || []);
    drawRecent(snap.recent_calls || [], counters);
    drawServices(snap.services || []);
    drawNotice(site);
  }

  /** Counter's name from the snapshot, or "3号窗口" / "Counter 3" if it is not listed. */
  function counterName(counters, number, lang) {
    var c = counters[number];
    return c ? Q.name(c, lang) : Q.t("counter.default_name", { n: number }, lang);
  }

  /** The newest call (recent_calls is newest first) is the big one. */
  function drawCurrent(calls, counters, services) {
    var call = calls[0];
    $("#current-call").classList.toggle("empty", !call);
    $("#current-number").textContent = call ? call.number : "—";
    $("#current-counter-zh").textContent = call ? counterName(counters, call.counter, "zh") : Q.t("no_calls", null, "zh");
    $("#current-counter-en").textContent = call ? counterName(counters, call.counter, "en") : Q.t("no_calls", null, "en");
    var s = call && services[call.service];
    $("#current-service").textContent = s ? s.name_zh + " · " + s.name_en : "";
  }

  /**
   * One row per counter: its current number, or (when free or paused) the
   * last number it called, dimmed, for the visitor who looks up too late.
   */
  function drawCounters(list, calls) {
    var last = {};
    calls.forEach(function (call) { if (!(call.counter in last)) last[call.counter] = call.number; });
    var box = $("#counters");
    box.classList.toggle("many", list.length > 7);   // two columns for big halls
    document.body.classList.toggle("many-counters", list.length > 7);
    Q.setHtml(box, Q.html`${list.map(function (c) {
      var paused = c.status === "paused";
      var current = c.current && c.current.number;
      var state = paused ? "paused" : "free";
      return Q.html`<li class="${paused ? "is-paused" : ""}" data-counter="${c.number}">
          <span class="name"><span class="zh">${c.name_zh}</span> <span class="en">${c.name_en}</span></span>
          ${current
            ? Q.html`<span class="ticket-no now">${current}</span>`
            : Q.html`<span class="idle">${Q.t(state, null, "zh")} <span class="en">${Q.t(state, null, "en")}</span>${
                last[c.number]
                  ? Q.html` · ${Q.t("last", null, "zh")} <span class="en">${Q.t("last", null, "en")}</span> <span class="ticket-no last">${last[c.number]}</span>`
                  : ""}</span>`}
        </li>`;
    })}`);
  }

  /**
   * Older calls, one row per ticket (a recall moves it to the top rather
   * than listing it twice); the newest is already shown big, so skip it.
   */
  function drawRecent(calls, counters) {
    var seen = {};
    var rows = [];
    calls.forEach(function (call) {
      var key = call.ticket_id || call.number;
      if (seen[key]) return;
      seen[key] = true;
      rows.push(call);
    });
    rows = rows.slice(1, RECENT + 1);
    Q.setHtml($("#recent-calls"), Q.html`${rows.map(function (call) {
      return Q.html`<li>
          <span class="ticket-no">${call.number}</span>
          <span class="arrow">→</span>
          <span class="where">${counterName(counters, call.counter, "zh")} <span class="en">${counterName(counters, call.counter, "en")}</span></span>
          ${call.recall ? Q.html`<span class="tag">${Q.t("recall", null, "zh")} ${Q.t("recall", null, "en")}</span>` : ""}
          <span class="at">${Q.formatTime(call.at)}</span>
        </li>`;
    })}`);
    fit($("#recent-calls"));
  }

  /** Drop the oldest rows that do not fit whole: a half-cut row looks broken. */
  function fit(list) {
    var bottom = list.parentNode.getBoundingClientRect().bottom;
    while (list.lastElementChild && list.lastElementChild.getBoundingClientRect().bottom > bottom) {
      list.removeChild(list.lastElementChild);
    }
  }

  function drawServices(list) {
    $("#services").classList.toggle("many", list.length > 5);
    Q.setHtml($("#services"), Q.html`${list.map(function (s) {
      var next = (s.next_numbers || [])[0];
      return Q.html`<li>
          <span class="svc"><span class="zh">${s.name_zh}</span> <span class="en">${s.name_en}</span></span>
          <span class="next">${next
            ? Q.html`${Q.t("next", null, "zh")} <span class="en">${Q.t("next", null, "en")}</span> <span class="ticket-no">${next}</span>`
            : ""}</span>
          <span class="count">${s.waiting}</span>
        </li>`;
    })}`);
  }

  /** Restart the scroll only when the words change, or it would jump on every event. */
  function drawNotice(site) {
    var text = [site.notice_zh, site.notice_en].filter(Boolean).join("　　·　　");
    if (!text) text = Q.t("notice", null, "zh") + "　　·　　" + Q.t("notice", null, "en");
    if (text === noticeText) return;
    noticeText = text;
    var el = $("#notice");
    el.textContent = text;
    // About 8 characters a second, whatever the length: readable, never frantic.
    el.style.animationDuration = Math.max(20, Math.round(text.length / 8)) + "s";
  }

  /** Make the current call blink for a few seconds: heads turn to the screen. */
  function flash() {
    var box = $("#current-call");
    box.classList.remove("flash");
    void box.offsetWidth;   // restart the CSS animation on a second call in a row
    box.classList.add("flash");
    clearTimeout(flashTimer);
    flashTimer = setTimeout(function () { box.classList.remove("flash"); }, FLASH_MS);
  }
})();
