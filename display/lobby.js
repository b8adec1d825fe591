/*
 * The lobby TV: the current call, every counter's number, recent calls and
 * waiting counts, always in both languages (no switch: nobody touches a TV).
 *
 * It draws only from the hub's snapshot (on every connect) kept up to date by
 * the live events' deltas (QCall.connect applies them and fetches the
 * snapshot again when one was missed), so a screen that was off for an hour
 * is right the moment it reconnects. Tickets carry no personal data; neither
 * does this: beside a number only the marks "优先 Priority" and "预约 Appt."
 * (QCall.marks), and, where the site calls patients by name, the name the hub
 * masked (张*明) under the current call.
 *
 * Layouts ("layout" below): the screen asks the hub GET /api/v1/screen for
 * its own layout (landscape, portrait, counter_list, clinic_rooms) and how
 * many calls it shows, at start and again on `settings_changed`; ?layout=
 * in the address overrides it, to try a TV. Every call shown flashes on its
 * own when it comes (flashCall), six at once as well as one.
 *
 * Where the hall's voice goes to the screens, it also reads out each call
 * ("sound" below): in order, never two at once, with a one-tap button while
 * the browser blocks audio.
 */
(function () {
  "use strict";
  var Q = QCall, $ = Q.$;

  var WORDS = {
    zh: {
      "free": "空闲",
      "paused": "暂停服务",
      "closed": "未开放",
      "recall": "重呼",
      "next": "下一位",
      "no_calls": "尚未叫号",
      "last": "上次",
      "notice": "请留意屏幕和广播叫号，过号请联系工作人员。",
      "refused": "此屏幕的设备令牌无效",
      "wait": "约{n}分钟",
      "wait_soon": "很快",
      "wait_none": "暂无窗口",
      "none_waiting": "无人候诊"
    },
    en: {
      "free": "Free",
      "paused": "Paused",
      "closed": "Closed",
      "recall": "again",
      "next": "Next",
      "no_calls": "No calls yet",
      "last": "last",
      "notice": "Please watch the screen and listen for your number. If you missed it, please ask a member of staff.",
      "refused": "This screen's device token was refused",
      "wait": "~{n} min",
      "wait_soon": "soon",
      "wait_none": "no counter open",
      "none_waiting": "nobody waiting"
    }
  };

  var LAYOUTS = ["landscape", "portrait", "counter_list", "clinic_rooms"];
  var FLASH_MS = 6000;    // long enough to catch the eye of someone looking up late
  var FLASH_PERIOD = 1000;
  var ROOM_NEXT = 3;       // next numbers on a clinic room's row
  /*
   * The flash: the call's box swaps, in steps (never a fade), between its own
   * colours and dark ink on yellow (#070b16 on #ffd400: 13.6:1). Both pairs
   * pass 4.5:1, so every frame does; marks and tags keep their own badge.
   */
  var FLASH_PAPER = "rgb(255, 212, 0)";
  var FLASH_INK = "rgb(7, 11, 22)";

  var screen = { layout: "landscape", recent: 6 };   // until the hub says otherwise
  var urlLayout = (function () {
    var asked = new URL(location.href).searchParams.get("layout");
    return LAYOUTS.indexOf(asked) >= 0 ? asked : null;
  })();
  var flashes = null;     // call key → when it came (performance.now()); null before the first draw
  var noticeText = null;
  var lastSnap = null;   // redrawn on resize and on a new layout, so the panels fit
  var drawn = 0;

  Q.i18n(WORDS, "qcall.lobby.lang");
  setLayout();

  Q.everySecond(function (now) {
    $("#clock-time").textContent = Q.formatTime(now);
    $("#clock-date-zh").textContent = Q.formatDate(now, "zh");
    $("#clock-date-en").textContent = Q.formatDate(now, "en");
  });

  var token = Q.takeToken("qcall.display.token");
  if (!token) {
    Q.show("#setup", true);
    if (window.QCallPairing) window.QCallPairing.start({ kind: "lobby_screen", storageKey: "qcall.display.token", box: "#setup" });
    return;
  }

  window.addEventListener("resize", Q.debounce(function () { draw(lastSnap); }, 200));

  var sound = makeSound();
  readScreen();

  // The content zone (lobby_content.js): notices, tariffs, the hotline, the phone QR.
  var content = window.QCallLobbyContent || { snapshot: function () {}, changed: function () {} };

  Q.connect({ token: token }, {
    snapshot: function (snap) { draw(snap); content.snapshot(snap); },
    queue: draw,
    device_test: function (p) { if (window.QCallPairing) window.QCallPairing.testFrame(p); },
    notices_changed: content.changed,
    announcement: sound.announce,
    // Another part of the hub changed the hall's settings (a screen's layout among them).
    settings_changed: readScreen,
    online: function (up) {
      Q.show("#conn", !up);
      sound.online(up);
    },
    unauthorized: function () {
      $("#setup-title").textContent = Q.t("refused", null, "zh") + " / " + Q.t("refused", null, "en");
      Q.show("#setup", true);
    }
  });

  /* -- layout -------------------------------------------------------- */

  /** This screen's settings from the hub; on a refusal or no network it keeps what it has. */
  function readScreen() {
    return Q.api("GET", "/screen").then(function (answer) {
      if (!answer) return;
      if (LAYOUTS.indexOf(answer.layout) >= 0) screen.layout = answer.layout;
      if (answer.recent >= 1) screen.recent = answer.recent;
      document.body.setAttribute("data-screen", answer.name || "");
      setLayout();
      draw(lastSnap);
    }, function (err) {
      if (window.console) console.warn("qcall lobby: no screen settings (" + (err && err.code) + "), keeping " + screen.layout);
    });
  }

  function setLayout() {
    var layout = urlLayout || screen.layout;
    document.body.setAttribute("data-layout", layout);
    document.body.setAttribute("data-recent", String(screen.recent));
  }

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

    var calls = shownCalls(snap.recent_calls || []);
    drawCurrent(calls[0], counters, services);
    drawCounters(snap.counters || [], snap.recent_calls || []);
    drawRecent(calls.slice(1), counters);
    drawServices(snap.services || []);
    drawRooms(snap.counters || [], services);
    drawNotice(site);
    fitAll();
    flashNew(snap.recent_calls || []);
    // For tests and a technician: how many times the board was drawn and fitted.
    document.body.setAttribute("data-drawn", String(++drawn));
  }

  /**
   * The calls on the screen, newest first: one per ticket (a recall moves it
   * to the top rather than listing it twice), as many as the screen shows.
   */
  function shownCalls(calls) {
    var seen = {};
    var rows = [];
    calls.forEach(function (call) {
      var key = call.ticket_id || call.number;
      if (seen[key]) return;
      seen[key] = true;
      rows.push(call);
    });
    return rows.slice(0, screen.recent);
  }

  /** A call's identity: the ticket and when it was called (a recall is a new call, and flashes). */
  function callKey(call) {
    return (call.ticket_id || call.number) + "@" + call.at;
  }

  /** Counter's name from the snapshot, or "3号窗口" / "Counter 3" if it is not listed. */
  function counterName(counters, number, lang) {
    var c = counters[number];
    return c ? Q.name(c, lang) : Q.t("counter.default_name", { n: number }, lang);
  }

  /** The newest call is the big one. */
  function drawCurrent(call, counters, services) {
    var box = $("#current-call");
    box.classList.toggle("empty", !call);
    if (call) box.setAttribute("data-call-key", callKey(call));
    else box.removeAttribute("data-call-key");
    $("#current-number").textContent = call ? call.number : "—";
    $("#current-counter-zh").textContent = call ? counterName(counters, call.counter, "zh") : Q.t("no_calls", null, "zh");
    $("#current-counter-en").textContent = call ? counterName(counters, call.counter, "en") : Q.t("no_calls", null, "en");
    var marks = $("#current-marks");
    Q.setHtml(marks, Q.marks(call));
    marks.hidden = !(call && (call.priority || call.appointment));
    var name = $("#current-name");
    name.textContent = (call && call.name) || "";   // masked by the hub; absent unless the site calls by name
    name.hidden = !(call && call.name);
    var s = call && services[call.service];
    $("#current-service").textContent = s ? s.name_zh + " · " + s.name_en : "";
  }

  /**
   * One row per counter: its current number, or (when free, paused or closed)
   * the last number it called, dimmed, for the visitor who looks up too late.
   * counter_list lays the same rows out as tiles, in as many columns as fit.
   */
  function drawCounters(list, calls) {
    var last = {};
    calls.forEach(function (call) { if (!(call.counter in last)) last[call.counter] = call.number; });
    var box = $("#counters");
    box.style.setProperty("--tile-columns", String(tileColumns(list.length)));
    Q.setHtml(box, Q.html`${list.map(function (c) {
      // closed: nobody on post (no clerk logged in); paused: the clerk is on a break.
      var state = counterState(c);
      var current = c.current && c.current.number;
      return Q.html`<li class="${state === "free" ? "" : "is-" + state}" data-counter="${c.number}" data-status="${c.status}">
          <span class="name counter-name" data-nocut><span class="zh">${c.name_zh}</span> <span class="en">${c.name_en}</span></span>
          ${current
            ? Q.html`<span class="ticket-no now" data-nocut>${current}</span>${Q.marks(c.current, "small")}`
            : Q.html`<span class="idle">${Q.t(state, null, "zh")} <span class="en">${Q.t(state, null, "en")}</span>${
                last[c.number]
                  ? Q.html` · ${Q.t("last", null, "zh")} <span class="en">${Q.t("last", null, "en")}</span> <span class="ticket-no last">${last[c.number]}</span>`
                  : ""}</span>`}
        </li>`;
    })}`);
  }

  function counterState(c) {
    return c.status === "paused" || c.status === "closed" ? c.status : "free";
  }

  /** Tiles per row in counter_list, for the panel's shape: 1 to 4. */
  function tileColumns(n) {
    var panel = $(".counters-panel");
    var wide = panel.clientWidth / Math.max(1, panel.clientHeight);
    var columns = Math.round(Math.sqrt(n * wide / 4.5));   // a tile is about 4.5 times as wide as tall
    return Math.max(1, Math.min(4, columns, n));
  }

  /**
   * A recall is marked "重呼 again" only while its counter still has that ticket: once the
   * ticket is finished, marked no-show or moved on, the row stays as history without the mark.
   */
  function stillCalled(call, counters) {
    var c = counters[call.counter];
    return !!(c && c.current && c.current.number === call.number);
  }

  /** The calls before the current one, each a row of its own. */
  function drawRecent(rows, counters) {
    Q.setHtml($("#recent-calls"), Q.html`${rows.map(function (call) {
      return Q.html`<li class="call" data-call-key="${callKey(call)}">
          <span class="ticket-no call-no" data-nocut>${call.number}</span>${Q.marks(call, "small")}
          <span class="arrow">→</span>
          <span class="call-counter counter-zh" data-nocut>${counterName(counters, call.counter, "zh")}</span>
          <span class="call-counter counter-en en" data-nocut>${counterName(counters, call.counter, "en")}</span>
          ${call.recall && stillCalled(call, counters) ? Q.html`<span class="tag">${Q.t("recall", null, "zh")} ${Q.t("recall", null, "en")}</span>` : ""}
          <span class="at">${Q.formatTime(call.at)}</span>
        </li>`;
    })}`);
  }

  function drawServices(list) {
    Q.setHtml($("#services"), Q.html`${list.map(function (s) {
      var next = (s.next_numbers || [])[0];
      var head = (s.next_tickets || [])[0];
      var nextMarks = head && head.number === next ? Q.marks(head, "small") : "";
      return Q.html`<li data-service="${s.code}">
          <span class="svc" data-nocut><span class="zh">${s.name_zh}</span> <span class="en">${s.name_en}</span></span>
          <span class="next">${next
            ? Q.html`<span class="zh">${Q.t("next", null, "zh")}</span> <span class="en">${Q.t("next", null, "en")}</span> <span class="ticket-no">${next}</span>${nextMarks}`
            : ""}</span>
          <span class="count">${s.waiting}</span>
          <span class="wait">${waitWords(s, "zh")} <span class="en">${waitWords(s, "en")}</span></span>
        </li>`;
    })}`);
  }

  /**
   * clinic_rooms: a room (a counter) per row, the number it is seeing and the
   * next numbers of the first of its services that has anyone waiting (rooms
   * of one clinic share its queue, so they show the same next ones).
   */
  function drawRooms(list, services) {
    if (document.body.getAttribute("data-layout") !== "clinic_rooms") {
      Q.setHtml($("#rooms"), Q.html``);
      return;
    }
    Q.setHtml($("#rooms"), Q.html`${list.map(function (c) {
      var state = counterState(c);
      var current = c.current && c.current.number;
      var next = [];
      (c.services || []).some(function (code) {
        next = ((services[code] || {}).next_numbers || []).slice(0, ROOM_NEXT);
        return next.length > 0;
      });
      return Q.html`<li class="${state === "free" ? "" : "is-" + state}" data-counter="${c.number}" data-status="${c.status}">
          <span class="room counter-name" data-nocut><span class="zh">${c.name_zh}</span><span class="en">${c.name_en}</span></span>
          ${current
            ? Q.html`<span class="ticket-no now" data-nocut>${current}</span>`
            : Q.html`<span class="idle">${Q.t(state, null, "zh")} <span class="en">${Q.t(state, null, "en")}</span></span>`}
          <span class="next" data-nocut>${next.length
            ? next.map(function (n) { return Q.html`<span class="ticket-no">${n}</span>`; })
            : Q.html`<span class="idle">${Q.t("none_waiting", null, "zh")} <span class="en">${Q.t("none_waiting", null, "en")}</span></span>`}</span>
        </li>`;
    })}`);
    // One column or two: whichever lets the rows' type be the bigger (fit grows the rows into the panel).
    var panel = $(".rooms-panel");
    var best = { columns: 1, scale: -1 };
    var last = 1;
    [1, 2].forEach(function (columns) {
      if (columns > 1 && list.length < 2) return;
      $("#rooms").style.setProperty("--room-columns", String(columns));
      fit(panel);
      last = columns;
      var scale = parseFloat(panel.getAttribute("data-scale") || "0");
      if (scale > best.scale + 0.01) best = { columns: columns, scale: scale };
    });
    // Fitted here, not again by fitAll: once more only if the better was not the last tried.
    if (best.columns !== last) {
      $("#rooms").style.setProperty("--room-columns", String(best.columns));
      fit(panel);
    }
  }

  /** A newcomer's estimated wait for a service, in one language ("约12分钟" / "~12 min"). */
  function waitWords(s, lang) {
    if (!("estimate_minutes" in s)) return "";   // a hub that gives no estimate
    if (s.estimate_minutes == null) return Q.t("wait_none", null, lang);
    if (s.estimate_minutes < 1) return Q.t("wait_soon", null, lang);
    return Q.t("wait", { n: s.estimate_minutes }, lang);
  }

  /** Restart the scroll only when the words change, or it would jump on every event. */
  function drawNotice(site) {
    var el = $("#notice");
    if (!el) return;   // the content zone was given other content
    var text = [site.notice_zh, site.notice_en].filter(Boolean).join("　　·　　");
    if (!text) text = Q.t("notice", null, "zh") + "　　·　　" + Q.t("notice", null, "en");
    if (text === noticeText) return;
    noticeText = text;
    el.textContent = text;
    // About 8 characters a second, whatever the length: readable, never frantic.
    el.style.animationDuration = Math.max(20, Math.round(text.length / 8)) + "s";
  }

  /* -- fitting: nothing cut, nothing over a neighbour ------------------- */

  /**
   * Each panel (data-fit) has its size from the grid; what is inside is in em,
   * so shrinking the panel's font-size shrinks it all. Shrink in small steps
   * until the panel's content fits it and no number or name (data-nocut) is
   * wider than its box. The current call shrinks as one: its counter name
   * stays at the same share of the number's size.
   */
  function fitAll() {
    Q.each(document.querySelectorAll("[data-fit]:not(.rooms-panel)"), fit);   // drawRooms fits the rooms
  }

  var GROW_MAX = 2.6;
  var STEP = 0.92;        // each size tried is this share of the one before
  var SMALLEST = 0.3;     // not below this share of the panel's own size

  /**
   * The sizes tried are GROW_MAX (or 1) times STEP to the k, k = 0, 1, …: the first that fits is
   * taken, found by halving the range of k rather than trying each in turn. Every try costs the
   * browser a layout of the panel, and the hospital's 30 rooms, fitted in one and two columns on
   * every call, took most of a second of a TV box's time a redraw, one step at a time.
   */
  function fit(panel) {
    panel.style.fontSize = "";
    if (!panel.offsetParent && panel.getClientRects().length === 0) return;   // not in this layout
    var base = parseFloat(getComputedStyle(panel).fontSize);
    // data-grow: a panel whose rows may grow into its empty space (the hospital's rooms) starts bigger.
    var start = panel.hasAttribute("data-grow") ? GROW_MAX : 1;
    var last = 0;   // the smallest size tried, taken even if it does not fit
    while (start * Math.pow(STEP, last) > SMALLEST) last++;
    function size(k) {
      panel.style.fontSize = start === 1 && k === 0 ? "" : (base * start * Math.pow(STEP, k)).toFixed(2) + "px";
    }
    function fits(k) {
      size(k);
      return !overflows(panel);
    }
    // k = lo overflows (or is before the first), k = hi fits (or is the last): narrow until they meet.
    var lo = -1;
    var hi = last;
    if (fits(0)) hi = 0;
    else lo = 0;
    while (hi - lo > 1) {
      var mid = (lo + hi) >> 1;
      if (fits(mid)) hi = mid;
      else lo = mid;
    }
    size(hi);
    panel.setAttribute("data-scale", (start * Math.pow(STEP, hi)).toFixed(2));
  }

  function overflows(panel) {
    if (panel.scrollHeight > panel.clientHeight + 1 || panel.scrollWidth > panel.clientWidth + 1) return true;
    var cut = false;
    Q.each(panel.querySelectorAll("[data-nocut]"), function (el) {
      if (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1) cut = true;
    });
    return cut;
  }

  /* -- flashing: every new call on its own ------------------------------ */

  /**
   * A call not seen before (in any snapshot's recent calls, shown or not: a
   * screen told to show more calls does not flash the older ones) flashes for FLASH_MS; a redraw while it flashes
   * (the next call comes two seconds later) draws it again and its flash goes
   * on in step, from where it was (the animation's currentTime). The first
   * snapshot only learns what is there: a screen switched on does not flash
   * the morning's calls.
   */
  function flashNew(calls) {
    var now = performance.now();
    var first = flashes === null;
    var kept = {};
    calls.forEach(function (call) {
      var key = callKey(call);
      kept[key] = first ? -Infinity : (flashes[key] !== undefined ? flashes[key] : now);
    });
    flashes = kept;
    Q.each(document.querySelectorAll(".call[data-call-key]"), function (el) {
      var key = el.getAttribute("data-call-key");
      var started = flashes[key];
      stopFlash(el);
      if (started !== undefined && now - started < FLASH_MS) flashCall(el, now - started);
    });
  }

  function stopFlash(el) {
    (el.getAnimations ? el.getAnimations({ subtree: true }) : []).forEach(function (a) {
      if (a.id === "call-flash") a.cancel();
    });
  }

  /**
   * Web Animations rather than a CSS class: the page's markup stays the same
   * whether a call flashes or not (a screen that resynced shows what a fresh
   * one shows), and the flash can start part-way through after a redraw.
   */
  function flashCall(el, elapsed) {
    if (typeof el.animate !== "function") return;   // an old browser: the call shows, without the flash
    var timing = { duration: FLASH_PERIOD, iterations: FLASH_MS / FLASH_PERIOD };
    var style = getComputedStyle(el);
    var paper = opaque(style.backgroundColor) ? style.backgroundColor : panelColour(el);
    run(el, [
      { backgroundColor: paper, borderColor: style.borderTopColor, easing: "step-end" },
      { offset: 0.5, backgroundColor: FLASH_PAPER, borderColor: FLASH_INK, easing: "step-end" },
      { offset: 1, backgroundColor: FLASH_PAPER, borderColor: FLASH_INK }
    ]);
    // Every part's own colour first: once a parent flashes, a child that inherits would read the ink.
    var parts = [];
    Q.each(el.querySelectorAll("*"), function (part) {
      if (part.closest(".mark, .tag") || part.closest("svg")) return;   // a badge keeps its own colours
      parts.push([part, getComputedStyle(part).color]);
    });
    parts.forEach(function (p) {
      run(p[0], [
        { color: p[1], easing: "step-end" },
        { offset: 0.5, color: FLASH_INK, easing: "step-end" },
        { offset: 1, color: FLASH_INK }
      ]);
    });

    function run(target, frames) {
      var animation = target.animate(frames, timing);
      animation.id = "call-flash";
      animation.currentTime = elapsed;
    }
  }

  function opaque(colour) {
    return colour && colour !== "transparent" && !/rgba\(.*,\s*0\)$/.test(colour);
  }

  /** The colour behind an element without a background of its own. */
  function panelColour(el) {
    for (var up = el.parentElement; up; up = up.parentElement) {
      var colour = getComputedStyle(up).backgroundColor;
      if (opaque(colour)) return colour;
    }
    return "rgb(7, 11, 22)";
  }

  /* -- sound: the hall's announcements, read out by this screen ----------- */

  /*
   * When the hub has rendered a call to a WAV (docs/voice.md, "Lobby audio")
   * it sends the hall room `announcement` {seq, ticket_id, number, recall,
   * url: "/voice/<name>.wav", duration, texts}. This screen plays them one at
   * a time, in the order they came: one HTMLAudioElement at a time, the next
   * on `ended`, or on `error` or a time limit (a bad file or a stalled
   * download must not silence the hall for the rest of the day). A seq seen
   * twice on one connection is played once; a new connection forgets the
   * seqs (a restarted hub counts from 1 again).
   *
   * No call is dropped to keep the queue short, however long it gets, and the
   * order is kept. When calls pile up in the hall, the hub already shortened
   * what it sends (the repeat, the second language, the chime, then faster
   * speech: docs/voice.md, "When calls pile up"), deciding as each call leaves
   * its queue, and paces the screens by each WAV's length; `shortened` names
   * what was taken away. This page applies no rule of its own: it plays what
   * it gets, so every screen and the hub's speaker say the same words.
   * But an announcement that has waited here more than
   * MAX_AGE_MS (two minutes) is skipped, not read out: when sound gets
   * enabled after being blocked for a while, the hall hears the calls of the
   * last two minutes, in order, not a backlog of calls long since answered
   * (those are on the screen already).
   *
   * Browsers refuse audio.play() (NotAllowedError) until the person using
   * the page has tapped or clicked it once. The screen then shows a big
   * "点击开启声音 / Tap to enable sound" button; one tap (on it, or anywhere)
   * plays a short silent clip inside the tap, which unlocks sound for the
   * page's life, and the queue goes on. Nothing is remembered across
   * reloads: the browser wants a new tap after each one anyway.
   * Lobby TVs in kiosk mode have nobody to tap: start Chromium with the
   * autoplay rule off (docs/voice.md), and the button never shows:
   *   chromium --kiosk --noerrdialogs --autoplay-policy=no-user-gesture-required \
   *            http://HUB:5000/display/lobby
   *
   * A silent clip played at start-up tells whether sound is allowed before
   * the first call; the button shows only once the hub has sent an
   * announcement, so a hall without voice never sees it.
   *
   * For tests and a technician's console: <body data-sound="on|blocked">
   * (absent until known), <body data-playing-seq="n"> while n plays,
   * window.qcallPlayed (each seq as it starts playing, in order), and
   * window.qcallLobbyAudio {announce(data, ageMs), log, state()}.
   */
  function makeSound() {
    var MAX_AGE_MS = 2 * 60 * 1000;
    var GRACE_MS = 15000;       // beyond its length, before a stuck announcement is given up
    var LOG_MAX = 200;
    var body = document.body;
    var button = $("#sound-enable");
    var hasAudio = typeof window.Audio === "function";
    var queue = [];             // waiting announcements, oldest first (the playing one is not here)
    var seen = {};              // zone#seq → true, on this connection
    var current = null;         // {item, audio, timer}: the one announcement loading or playing
    var state = null;           // null until known, then "on" | "blocked"
    var heard = false;          // the hub has sent an announcement: this hall speaks
    var connected = false;
    var clock = window.performance && performance.now ? function () { return performance.now(); } : Date.now;
    var played = window.qcallPlayed = [];
    var log = [];
    var api = { announce: announce, online: online, log: log, state: function () { return state; } };
    window.qcallLobbyAudio = api;
    if (!hasAudio) return api;   // no audio here at all: the screen works without it

    var silent = silentWav();
    ["click", "keydown", "touchend"].forEach(function (name) {
      document.addEventListener(name, unlock, true);
    });
    play({ probe: true, url: silent, duration: 0.1 });
    return api;

    /** An `announcement` from the hub; ageMs: how long ago it came (tests), default now. */
    function announce(data, ageMs) {
      if (!hasAudio || !data || typeof data.url !== "string" || !data.url) return;
      var seq = data.seq;
      var known = seq !== undefined && seq !== null;
      // Seqs count per announcer (data.zone): a screen moved to another zone live hears a new count.
      var key = (data.zone || "") + "#" + seq;
      if (known && seen[key]) return note(seq, data.number, "duplicate, ignored");
      if (known) seen[key] = true;
      heard = true;
      queue.push({
        seq: known ? seq : null,
        number: data.number || "",
        url: data.url,
        duration: Math.max(0, Number(data.duration) || 0),
        received: clock() - (Number(ageMs) || 0)
      });
      var short = Array.isArray(data.shortened) && data.shortened.length ? " (shortened: " + data.shortened.join(", ") + ")" : "";
      note(seq, data.number, (state === "blocked" ? "queued, sound blocked: waiting for a tap" : "queued") + short);
      dropStale();   // keeps a screen blocked all day from holding the whole day's calls
      showButton();
      pump();
    }

    /** A new connection forgets the seqs: a restarted hub numbers from 1 again. */
    function online(up) {
      if (up && !connected) seen = {};
      connected = !!up;
    }

    function pump() {
      if (current || state === "blocked") return;
      dropStale();
      if (queue.length) play(queue.shift());
    }

    function dropStale() {
      while (queue.length && clock() - queue[0].received > MAX_AGE_MS) {
        var old = queue.shift();
        note(old.seq, old.number, "skipped: waited " + Math.round((clock() - old.received) / 1000) + " s");
      }
    }

    function play(item) {
      var audio = new Audio();
      var run = current = { item: item, audio: audio, timer: null };
      audio.addEventListener("ended", function () { done(run, "ended"); });
      audio.addEventListener("error", function () { done(run, "failed: " + mediaError(audio)); });
      run.timer = setTimeout(function () {
        done(run, "failed: not finished " + Math.round(GRACE_MS / 1000) + " s after its length");
      }, item.duration * 1000 + GRACE_MS);
      audio.src = item.url;
      var promise;
      try {
        promise = audio.play();
      } catch (e) {
        return done(run, "failed: " + e);
      }
      // An old browser's play() returns nothing: it plays if it may.
      if (!promise || typeof promise.then !== "function") return started(run);
      promise.then(function () { started(run); }, function (err) {
        if (current !== run) return;
        if (err && err.name === "NotAllowedError") {
          // Not this announcement's fault: it waits, first in line, for a tap.
          end(run);
          if (!item.probe) {
            queue.unshift(item);
            note(item.seq, item.number, "sound blocked: waiting for a tap");
          }
          setState("blocked");
          return;
        }
        done(run, "failed: " + ((err && (err.name + " " + err.message)) || "play() refused"));
      });
    }

    function started(run) {
      if (current !== run) return;
      setState("on");
      var item = run.item;
      if (item.probe) return;
      played.push(item.seq);
      body.setAttribute("data-playing-seq", String(item.seq));
      note(item.seq, item.number, "playing");
    }

    /** The announcement is over (said, or given up): the next one. */
    function done(run, how) {
      if (current !== run) return;   // an old element's late event
      end(run);
      if (!run.item.probe) note(run.item.seq, run.item.number, how);
      pump();
    }

    function end(run) {
      current = null;
      clearTimeout(run.timer);
      body.removeAttribute("data-playing-seq");
      try {
        run.audio.pause();
        run.audio.removeAttribute("src");
        run.audio.load();   // lets go of the file and the decoder
      } catch (e) { /* it is going anyway */ }
    }

    /** The first tap or key press: a silent clip inside the gesture unlocks sound, then the queue. */
    function unlock() {
      if (state !== "blocked" || current) return;
      play({ probe: true, url: silent, duration: 0.1 });
    }

    function setState(s) {
      if (state === s) return;
      state = s;
      body.setAttribute("data-sound", s);
      if (window.console) console.info("qcall lobby: sound " + s);
      showButton();
    }

    function showButton() {
      var needed = state === "blocked" && heard;
      Q.show(button, needed);
      body.classList.toggle("sound-needed", needed);
    }

    function note(seq, number, what) {
      log.push({ seq: seq, number: number, what: what, at: clock() });
      if (log.length > LOG_MAX) log.shift();
      if (window.console) console.info("qcall lobby: announcement " + seq + " " + (number || "") + " " + what);
    }

    function mediaError(audio) {
      var err = audio.error;
      return err ? "media error " + err.code + (err.message ? " " + err.message : "") : "media error";
    }

    /** 0.1 s of silence as a WAV data: URL (8 kHz, 16-bit mono), made here: nothing to fetch. */
    function silentWav() {
      var rate = 8000, samples = 800;
      var bytes = new Uint8Array(44 + samples * 2);
      var view = new DataView(bytes.buffer);
      var text = function (at, s) { for (var i = 0; i < s.length; i++) view.setUint8(at + i, s.charCodeAt(i)); };
      text(0, "RIFF"); view.setUint32(4, 36 + samples * 2, true); text(8, "WAVE");
      text(12, "fmt "); view.setUint32(16, 16, true); view.setUint16(20, 1, true); view.setUint16(22, 1, true);
      view.setUint32(24, rate, true); view.setUint32(28, rate * 2, true); view.setUint16(32, 2, true); view.setUint16(34, 16, true);
      text(36, "data"); view.setUint32(40, samples * 2, true);
      var binary = "";
      for (var j = 0; j < bytes.length; j++) binary += String.fromCharCode(bytes[j]);
      return "data:audio/wav;base64," + btoa(binary);
    }
  }
})();
