/*
 * The evaluation pad (评价器): a tablet at one counter, facing the visitor.
 * When the counter finishes a service (the finish button, or call-next ending
 * the last one), it asks "please rate our service" with a big face for each
 * of the site's levels (three or five: GET /satisfaction; the three of the
 * page until that answers) for a minute; a tap sends the rating and says
 * thank you. A level that is not satisfied first offers the reasons (等候太久,
 * 态度…) with "skip": the rating is sent with the reason chosen, or without
 * one on skip or after REASON_MS, never lost.
 *
 * /display/pad?token=T&counter=N, with a device token of role "pad" bound to
 * that counter in the site's configuration. Both languages always (the
 * visitor did not choose one here), and no personal data: the hub knows which
 * ticket was finished, the pad only says "rate the service just finished".
 */
(function () {
  "use strict";
  var Q = QCall, $ = Q.$;

  var WORDS = {
    zh: {
      "nothing": "暂无可评价的服务",
      "retry": "请再点一次",
      "setup.refused": "此评价器的设备令牌无效",
      "setup.no_counter": "没有指定窗口号",
      "setup.unknown_counter": "没有 {n} 号窗口",
      "setup.not_bound": "此评价器未绑定到 {n} 号窗口"
    },
    en: {
      "nothing": "Nothing to rate right now",
      "retry": "Please tap again",
      "setup.refused": "This pad's device token was refused",
      "setup.no_counter": "No counter number given",
      "setup.unknown_counter": "There is no counter {n}",
      "setup.not_bound": "This pad is not the evaluation pad of counter {n}"
    }
  };

  /* Each level's face: the three of old, a straight mouth for 基本满意, a deep frown for 非常不满意. */
  var FACES = {
    very_satisfied: "face-very",
    satisfied: "face-ok",
    basically_satisfied: "face-meh",
    dissatisfied: "face-bad",
    very_dissatisfied: "face-worse"
  };

  var ASK_MS = 60000;       // the question stays up this long
  var REASON_MS = 20000;    // the reasons wait this long, then the rating goes without one
  var THANKS_MS = 5000;     // "thank you", then back to the welcome
  var MESSAGE_MS = 5000;    // "nothing to rate" and errors likewise

  var state = "idle";       // idle | asking | reasons | sending | thanks | message
  var asked = null;         // id of the finished ticket we are asking about
  var pending = null;       // a ticket finished while a rating was on its way
  var askTimer = null;
  var askUntil = 0;         // Date.now() when the question goes away
  var backTimer = null;
  var reasonTimer = null;
  var chosen = null;        // the level tapped while the reasons are shown
  var reasons = [];         // the site's reasons ({code, name_zh, name_en})

  Q.i18n(WORDS, "qcall.pad.lang");
  Q.everySecond(function (now) { $("#clock").textContent = Q.formatTime(now); });
  // A long press must not open a context menu on a touch screen.
  document.addEventListener("contextmenu", function (e) { e.preventDefault(); });

  var counterNo = Q.urlCounter();
  var token = Q.takeToken("qcall.pad.token");
  showName(null, null);
  if (!token) {
    Q.show("#setup", true);
    return;
  }
  if (!(counterNo > 0)) {
    Q.showSetup("setup.no_counter");
    return;
  }

  bindLevels();
  $("#reason-skip").addEventListener("click", function () { if (state === "reasons") send(chosen, null); });
  // The site's levels and reasons (an open answer: nothing private in it).
  Q.api("GET", "/satisfaction").then(drawLevels, function () { /* keep the page's three */ });

  // Before any visitor is asked: may this token rate for this counter? A wrong token or binding
  // is the installer's to see now (the setup view), not a visitor's after their tap.
  Q.api("GET", "/counters/" + counterNo + "/evaluation").then(function () {
    document.body.setAttribute("data-bound", "yes");   // the hub said this pad rates for this counter
    live();
  }, function (err) {
    var code = err && err.code;
    if (code === "unauthorized") Q.showSetup("setup.refused");
    else if (code === "forbidden") Q.showSetup("setup.not_bound", { n: counterNo });
    else if (code === "unknown_counter") Q.showSetup("setup.unknown_counter", { n: counterNo });
    else live();   // the network or the hub is down: the live link retries, a tap is checked again
  });

  function live() {
    Q.connect({ token: token }, {
      snapshot: draw,
      queue: draw,
      ticket_changed: onTicketChanged,
      // Call-next ends the counter's last service: one event, the ended ticket as `finished`.
      ticket_called: onFinishedOnTheWay,
      counter_changed: onFinishedOnTheWay,
      online: function (up) { Q.show("#conn", !up); },
      unauthorized: function () { Q.showSetup("setup.refused"); }
    });
  }

  /* -- the counter's name -------------------------------------------- */

  function draw(snap) {
    if (!snap) return;
    var counter = Q.screenCounter(snap, counterNo);
    if (!counter) return;
    showName(counter, snap.site);
  }

  function showName(counter, site) {
    var zh = Q.counterName(counter, counterNo, "zh");
    var en = Q.counterName(counter, counterNo, "en");
    $("#counter-name-zh").textContent = zh;
    $("#counter-name-en").textContent = en;
    $("#site-name").textContent = site ? [site.name_zh, site.name_en].filter(Boolean).join(" · ") : "";
    document.title = zh + " / " + en;
  }

  /* -- the levels and reasons of this site -------------------------- */

  function drawLevels(answer) {
    if (!answer || !answer.levels || !answer.levels.length) return;
    var group = $(".rates");
    Q.setHtml(group, Q.html`${answer.levels.map(function (level) {
      return Q.html`<button class="rate-btn" type="button" data-rating="${level.code}" data-satisfied="${level.satisfied ? "yes" : "no"}">
        <span class="face ${FACES[level.code] || "face-ok"}" aria-hidden="true"><span class="mouth"></span></span>
        <span class="rate-zh">${level.name_zh}</span>
        <span class="rate-en">${level.name_en}</span>
      </button>`;
    })}`);
    group.className = "rates levels-" + answer.levels.length;
    reasons = answer.reasons || [];
    Q.setHtml($("#reasons"), Q.html`${reasons.map(function (reason) {
      return Q.html`<button class="reason-btn" type="button" data-reason="${reason.code}">
        <span class="rate-zh">${reason.name_zh}</span>
        <span class="rate-en">${reason.name_en}</span>
      </button>`;
    })}`);
    Q.each(document.querySelectorAll(".reason-btn"), function (btn) {
      btn.addEventListener("click", function () {
        if (state === "reasons") send(chosen, btn.getAttribute("data-reason"), btn);
      });
    });
    bindLevels();
    go(state);
  }

  function bindLevels() {
    Q.each(document.querySelectorAll(".rate-btn"), function (btn) {
      btn.addEventListener("click", function () { rate(btn); });
    });
  }

  /* -- the question -------------------------------------------------- */

  function onTicketChanged(payload) {
    var ticket = payload.ticket;
    if (!ticket || ticket.counter !== counterNo) return;
    if (payload.event === "finished") {
      // A new visitor to ask, even over the last one's "thank you". While a
      // rating is on its way, let it land first (it is for the earlier
      // ticket), then ask.
      if (state === "sending") pending = ticket.id;
      else if (state === "reasons") {
        // The last visitor chose a level and left before a reason: it counts without one.
        pending = ticket.id;
        send(chosen, null);
      } else ask(ticket.id);
    } else if (payload.event === "evaluated" && (state === "asking" || state === "reasons") && ticket.id === asked) {
      go("idle");   // rated elsewhere (a second pad, or a reload): nothing left to ask
    }
  }

  function onFinishedOnTheWay(payload) {
    var ticket = payload.finished;
    if (ticket) onTicketChanged({ ticket: ticket, event: "finished" });
  }

  function ask(ticketId) {
    asked = ticketId;
    Q.show("#pad-error", false);
    go("asking");
    clearTimeout(askTimer);
    askUntil = Date.now() + ASK_MS;
    askTimer = setTimeout(function () { if (state === "asking") go("idle"); }, ASK_MS);
    // The bar under the faces shrinks over the minute: restart it.
    var bar = $("#timeout-bar");
    bar.classList.remove("run");
    void bar.offsetWidth;
    bar.style.animationDuration = ASK_MS + "ms";
    bar.classList.add("run");
  }

  /** One tap counts: the buttons are dead from the first tap until the answer. */
  function rate(btn) {
    if (state !== "asking") return;
    var rating = btn.getAttribute("data-rating");
    if (btn.getAttribute("data-satisfied") === "no" && reasons.length) {
      chosen = rating;
      go("reasons");
      clearTimeout(reasonTimer);
      reasonTimer = setTimeout(function () { if (state === "reasons") send(chosen, null); }, REASON_MS);
      return;
    }
    send(rating, null, btn);
  }

  /** The rating (and the reason, if one was chosen) to the hub; the page says thank you. */
  function send(rating, reason, btn) {
    clearTimeout(reasonTimer);
    go("sending");
    if (btn) btn.classList.add("chosen");
    var body = { rating: rating };
    if (reason) body.reason = reason;
    Q.api("POST", "/counters/" + counterNo + "/evaluation", body).then(function () {
      clearTimeout(askTimer);
      go("thanks");
      later(THANKS_MS);
    }, function (err) {
      var code = err && err.code;
      if (code === "nothing_to_evaluate" || code === "already_rated") {
        clearTimeout(askTimer);
        message("nothing");
      } else if (code === "network" || code === "server") {
        // Worth another tap while the question is still up.
        if (pending) ask(pending);
        else go(Date.now() < askUntil ? "asking" : "idle");
        pending = null;
        Q.setHtml($("#pad-error"), Q.html`${Q.t2("err." + code)} · ${Q.t2("retry")}`);
        Q.show("#pad-error", true);
      } else if (code === "unauthorized") {
        Q.showSetup("setup.refused");
        go("idle");
      } else if (code === "forbidden") {
        Q.showSetup("setup.not_bound", { n: counterNo });
        go("idle");
      } else {
        clearTimeout(askTimer);
        message(known("err." + code) ? "err." + code : "err.server");
      }
    });
  }

  function known(key) { return Q.t(key, null, "zh") !== key; }

  /** A short message in both languages, then back to the welcome. */
  function message(key) {
    $("#message-zh").textContent = Q.t(key, null, "zh");
    $("#message-en").textContent = Q.t(key, null, "en");
    go("message");
    later(MESSAGE_MS);
  }

  /** Back to the welcome after `ms`; sooner to the next visitor's question if one came meanwhile. */
  function later(ms) {
    clearTimeout(backTimer);
    var shown = state;
    backTimer = setTimeout(function () {
      if (state !== shown) return;
      var next = pending;
      pending = null;
      if (next) ask(next);
      else go("idle");
    }, pending ? Math.min(ms, 2000) : ms);
  }

  function go(next) {
    state = next;
    document.body.setAttribute("data-pad-state", next);
    Q.show("#pad-idle", next === "idle");
    Q.show("#pad-prompt", next === "asking" || (next === "sending" && !chosen));
    Q.show("#pad-reasons", next === "reasons" || (next === "sending" && !!chosen));
    Q.show("#pad-thanks", next === "thanks");
    Q.show("#pad-message", next === "message");
    Q.each(document.querySelectorAll(".rate-btn"), function (btn) {
      btn.disabled = next !== "asking";
      if (next !== "sending") btn.classList.remove("chosen");
    });
    Q.each(document.querySelectorAll(".reason-btn, .reason-skip"), function (btn) {
      btn.disabled = next !== "reasons";
      if (next !== "sending") btn.classList.remove("chosen");
    });
    if (next !== "reasons" && next !== "sending") chosen = null;
    if (next === "idle") {
      asked = null;
      clearTimeout(askTimer);
      clearTimeout(reasonTimer);
    }
  }
})();
