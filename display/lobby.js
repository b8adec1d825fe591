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
      "wait_none": "暂无窗口"
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
      "wait_none": "no counter open"
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

  var sound = makeSound();

  // The content zone (lobby_content.js): notices, tariffs, the hotline, the phone QR.
  var content = window.QCallLobbyContent || { snapshot: function () {}, changed: function () {} };

  Q.connect({ token: token }, {
    snapshot: function (snap) { draw(snap); content.snapshot(snap); },
    queue: draw,
    notices_changed: content.changed,
    ticket_called: flash,
    ticket_recalled: flash,
    announcement: sound.announce,
    online: function (up) {
      Q.show("#conn", !up);
      sound.online(up);
    },
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
   */
  function drawCounters(list, calls) {
    var last = {};
    calls.forEach(function (call) { if (!(call.counter in last)) last[call.counter] = call.number; });
    var box = $("#counters");
    box.classList.toggle("many", list.length > 7);   // two columns for big halls
    document.body.classList.toggle("many-counters", list.length > 7);
    Q.setHtml(box, Q.html`${list.map(function (c) {
      // closed: nobody on post (no clerk logged in); paused: the clerk is on a break.
      var state = c.status === "paused" || c.status === "closed" ? c.status : "free";
      var current = c.current && c.current.number;
      return Q.html`<li class="${state === "free" ? "" : "is-" + state}" data-counter="${c.number}" data-status="${c.status}">
          <span class="name"><span class="zh">${c.name_zh}</span> <span class="en">${c.name_en}</span></span>
          ${current
            ? Q.html`<span class="ticket-no now">${current}</span>${Q.marks(c.current, "small")}`
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
          <span class="ticket-no">${call.number}</span>${Q.marks(call, "small")}
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
      var head = (s.next_tickets || [])[0];
      var nextMarks = head && head.number === next ? Q.marks(head, "small") : "";
      return Q.html`<li data-service="${s.code}">
          <span class="svc"><span class="zh">${s.name_zh}</span> <span class="en">${s.name_en}</span></span>
          <span class="next">${next
            ? Q.html`${Q.t("next", null, "zh")} <span class="en">${Q.t("next", null, "en")}</span> <span class="ticket-no">${next}</span>${nextMarks}`
            : ""}</span>
          <span class="count">${s.waiting}</span>
          <span class="wait">${waitWords(s, "zh")} <span class="en">${waitWords(s, "en")}</span></span>
        </li>`;
    })}`);
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
    var text = [site.notice_zh, site.notice_en].filter(Boolean).join("　　·　　");
    if (!text) text = Q.t("notice", null, "zh") + "　　·　　" + Q.t("notice", null, "en");
    var el = $("#notice");
    if (!el || text === noticeText) return;   // no notice line: the content zone shows the notices
    noticeText = text;
    el.textContent = text;
    // About 8 characters a second, whatever the length: readable, never frantic.
    el.style.animationDuration = Math.max(20, Math.round(text.length / 8)) + "s";
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
    var seen = {};              // seq → true, on this connection
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
      if (known && seen[seq]) return note(seq, data.number, "duplicate, ignored");
      if (known) seen[seq] = true;
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
