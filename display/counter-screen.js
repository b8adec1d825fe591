/*
 * The screen above one counter (窗口屏): its name, the number it is calling or
 * serving (huge), whether it is free, paused or closed, and the next few numbers
 * waiting for its services. Both languages always: nobody touches it.
 *
 * /display/counter?token=T&counter=N. Like the lobby, it draws only from the
 * hub's snapshot (on every connect) with the live events' deltas applied by
 * QCall.connect, so a screen that was switched off is right the moment it
 * reconnects.
 */
(function () {
  "use strict";
  var Q = QCall, $ = Q.$;

  var WORDS = {
    zh: {
      "state.called": "请",
      "state.serving": "正在办理",
      "state.free": "空闲",
      "state.paused": "暂停服务",
      "state.closed": "未开放",
      "line.called": "请 {number} 号 到 {counter}",
      "line.serving": "{number} 号 正在办理",
      "line.free": "请留意叫号",
      "line.paused": "本窗口暂停服务，请到其他窗口办理",
      "line.closed": "本窗口暂未开放，请到其他窗口办理",
      "waiting": "等候 {n} 人",
      "setup.refused": "此屏幕的设备令牌无效",
      "setup.no_counter": "没有指定窗口号",
      "setup.unknown_counter": "没有 {n} 号窗口"
    },
    en: {
      "state.called": "Now calling",
      "state.serving": "Now serving",
      "state.free": "Free",
      "state.paused": "Paused",
      "state.closed": "Closed",
      "line.called": "Number {number} to {counter}, please",
      "line.serving": "Number {number} is being served",
      "line.free": "Please wait for your number",
      "line.paused": "This counter is paused: please go to another counter",
      "line.closed": "This counter is closed: please go to another counter",
      "waiting": "{n} waiting",
      "setup.refused": "This screen's device token was refused",
      "setup.no_counter": "No counter number given",
      "setup.unknown_counter": "There is no counter {n}"
    }
  };

  var FLASH_MS = 6000;   // as the lobby: long enough for someone who looks up late
  var NEXT = 3;          // numbers shown under "Next"

  var flashTimer = null;

  Q.i18n(WORDS, "qcall.counter-screen.lang");

  Q.everySecond(function (now) {
    $("#clock-time").textContent = Q.formatTime(now);
    $("#clock-date-zh").textContent = Q.formatDate(now, "zh");
    $("#clock-date-en").textContent = Q.formatDate(now, "en");
  });

  var counterNo = Q.urlCounter();
  // Its own key: the same browser may also run the lobby with another token.
  var token = Q.takeToken("qcall.counter-screen.token");
  showName(null);
  if (!token) {
    Q.show("#setup", true);
    if (window.QCallPairing) {
      window.QCallPairing.start({ kind: "counter_screen", storageKey: "qcall.counter-screen.token", box: "#setup" });
    }
    return;
  }
  if (!(counterNo > 0)) {
    Q.showSetup("setup.no_counter");
    return;
  }

  Q.connect({ token: token }, {
    snapshot: draw,
    queue: draw,
    device_test: function (p) { if (window.QCallPairing) window.QCallPairing.testFrame(p); },
    ticket_called: onCall,
    ticket_recalled: onCall,
    online: function (up) { Q.show("#conn", !up); },
    unauthorized: function () { Q.showSetup("setup.refused"); }
  });

  /* -- drawing ------------------------------------------------------- */

  function draw(snap) {
    if (!snap) return;
    var counter = Q.screenCounter(snap, counterNo);
    if (!counter) return;
    showName(counter);
    drawCurrent(counter);
    drawNext(counter, snap.services || []);
  }

  function showName(counter) {
    var zh = Q.counterName(counter, counterNo, "zh");
    var en = Q.counterName(counter, counterNo, "en");
    $("#counter-name-zh").textContent = zh;
    $("#counter-name-en").textContent = en;
    document.title = zh + " / " + en;
  }

  /**
   * called / serving follow the counter's current ticket. A paused counter
   * with nobody at it says "paused"; one still finishing a visitor keeps
   * showing that visitor's number, with a small "paused" note.
   */
  function drawCurrent(counter) {
    var ticket = counter.current;
    var paused = counter.status === "paused";
    // closed: nobody is on post here (no clerk logged in); paused: the clerk is on a break.
    var idle = paused || counter.status === "closed" ? counter.status : "free";
    var state = ticket ? (ticket.status === "serving" ? "serving" : "called") : idle;
    var number = ticket ? ticket.number : "—";

    var box = $("#counter-state");
    box.setAttribute("data-state", state);
    $("#state-zh").textContent = Q.t("state." + state, null, "zh");
    $("#state-en").textContent = Q.t("state." + state, null, "en");
    document.body.setAttribute("data-state", state);

    var el = $("#counter-number");
    el.textContent = number;
    var marks = $("#counter-marks");
    Q.setHtml(marks, Q.marks(ticket));
    marks.hidden = !(ticket && (ticket.priority || ticket.appointment));
    // Fit the widest number on the narrowest screen: the CSS sizes by length.
    el.style.setProperty("--chars", String(Math.max(3, number.length)));

    ["zh", "en"].forEach(function (lang) {
      $("#line-" + lang).textContent = Q.t("line." + state, {
        number: number,
        counter: Q.counterName(counter, counterNo, lang)
      }, lang);
    });
    Q.show("#paused-note", paused && !!ticket);
    if (state !== "called") stopFlash();
  }

  /**
   * Who is next here: the waiting heads of this counter's services, in the
   * counter's order of preference (the order call-next follows), no repeats.
   */
  function drawNext(counter, services) {
    var byCode = {};
    services.forEach(function (s) { byCode[s.code] = s; });
    var numbers = [];
    var marked = {};   // number → its public marks (优先 / 预约), from next_tickets
    var waiting = 0;
    (counter.services || []).forEach(function (code) {
      var s = byCode[code];
      if (!s) return;
      waiting += s.waiting || 0;
      (s.next_numbers || []).forEach(function (n) {
        if (numbers.indexOf(n) < 0) numbers.push(n);
      });
      (s.next_tickets || []).forEach(function (t) { marked[t.number] = t; });
    });
    numbers = numbers.slice(0, NEXT);
    Q.setHtml($("#next-numbers"), Q.html`${numbers.map(function (n) {
      return Q.html`<li><span class="ticket-no">${n}</span>${Q.marks(marked[n], "small")}</li>`;
    })}`);
    Q.show("#next-empty", numbers.length === 0);
    $("#waiting").textContent = waiting ? Q.t2("waiting", { n: waiting }) : "";
  }

  /* -- the call ------------------------------------------------------ */

  /** A call or recall at this counter: the stage blinks for a few seconds. */
  function onCall(payload) {
    var counter = payload && payload.counter;
    if (!counter || counter.number !== counterNo) return;
    var stage = $("#stage");
    stage.classList.remove("flash");
    void stage.offsetWidth;   // restart the animation on a second call in a row
    stage.classList.add("flash");
    clearTimeout(flashTimer);
    flashTimer = setTimeout(stopFlash, FLASH_MS);
  }

  function stopFlash() {
    clearTimeout(flashTimer);
    $("#stage").classList.remove("flash");
  }
})();
