/*
 * The hall's phone page, /phone/ (a QR at the door or on the lobby points here):
 * the services taking tickets now, each with its waiting count and estimated
 * wait, and a big "取号 Take a ticket" per service. No login: the hub knows the
 * phone by a signed HttpOnly cookie and keeps the limits (one active ticket,
 * a few a day, per network, per hour); a refusal says why in both languages.
 * A ticket taken, the page goes to the ticket's status page (/t/<id>).
 *
 * Asked again every 20 s while open, and when the phone wakes up: counts and
 * estimates move with the hall; the hours (kiosk_ui/hours.js) say when a shut
 * service opens.
 */
(function () {
  "use strict";
  var Q = QCall, $ = Q.$, H = QCallHours;

  var WORDS = {
    zh: {
      "title": "手机取号",
      "loading": "正在加载…",
      "take": "取号",
      "waiting": "等候 {n} 人",
      "estimate": "约等 {n} 分钟",
      "estimate_soon": "很快",
      "estimate_none": "暂无窗口办理",
      "taking": "正在取号…",
      "hours.from": "{when} 开始取号",
      "hours.stopped": "已停止取号，{when} 开始",
      "hours.none": "暂停取号",
      "err.network": "网络不通，请稍后再试",
      "err.server": "服务暂时不可用，请稍后再试"
    },
    en: {
      "title": "Take a ticket",
      "loading": "Loading…",
      "take": "Take a ticket",
      "waiting": "{n} waiting",
      "estimate": "about {n} min",
      "estimate_soon": "very soon",
      "estimate_none": "no counter open",
      "taking": "Taking a ticket…",
      "hours.from": "Tickets from {when}",
      "hours.stopped": "No more tickets now; from {when}",
      "hours.none": "No tickets now",
      "err.network": "No connection: please try again in a moment",
      "err.server": "The service is unavailable: please try again in a moment"
    }
  };

  var POLL_MS = 20000;
  var answer = null;     // the last GET /phone
  var busy = false;      // a ticket is being taken
  var pollTimer = null;

  Q.i18n(WORDS, "qcall.phone.lang");
  Q.translatePage();
  Q.onLang(draw);
  $("#lang-switch").addEventListener("click", Q.toggleLang);
  $("#service-list").addEventListener("click", function (e) {
    var btn = e.target.closest ? e.target.closest(".take") : null;
    if (btn && !btn.disabled) take(btn.getAttribute("data-service"));
  });
  document.addEventListener("visibilitychange", function () { if (!document.hidden) load(); });
  H.watch(draw);
  load();

  function load() {
    clearTimeout(pollTimer);
    Q.api("GET", "/phone").then(function (body) {
      answer = body;
      draw();
    }, function (err) {
      showError(err);
    }).then(function () {
      pollTimer = setTimeout(load, POLL_MS);
    });
  }

  function take(code) {
    busy = true;
    Q.show("#banner", false);
    draw();
    Q.api("POST", "/phone/tickets", { service: code }).then(function (ticket) {
      location.href = "/t/" + encodeURIComponent(ticket.id);
    }, function (err) {
      busy = false;
      showError(err);
      if (err.data && err.data.ticket) answer.ticket = err.data.ticket;   // its own ticket: offer it
      H.refresh();
      load();
    });
  }

  /** The hub's sentence in both languages (every refusal has them) or our words for a network or server fault. */
  function showError(err) {
    var banner = $("#banner");
    var data = err && err.code && err.data;
    if (data && data.error_zh && data.error_en) {
      banner.textContent = data.error_zh + " / " + data.error_en;
    } else if (data && data.error) {
      banner.textContent = data.error;
    } else {
      banner.textContent = Q.t("err." + (err && err.code === "network" ? "network" : "server"), null, "zh") +
        " / " + Q.t("err." + (err && err.code === "network" ? "network" : "server"), null, "en");
    }
    banner.setAttribute("data-code", (err && err.code) || "");
    Q.show("#loading", false);
    Q.show("#banner", true);
  }

  function shutText(state, l) {
    if (!state || !state.opens_at) return Q.t("hours.none", null, l);
    var when = l === "zh" ? state.opens_zh : state.opens_en;
    return Q.t(state.open ? "hours.stopped" : "hours.from", { when: when }, l);
  }

  function estimateText(minutes, l) {
    if (minutes == null) return Q.t("estimate_none", null, l);
    return minutes < 1 ? Q.t("estimate_soon", null, l) : Q.t("estimate", { n: minutes }, l);
  }

  function draw() {
    if (!answer) return;
    Q.show("#loading", false);
    var site = answer.site || {};
    $("#site-name").textContent = [site.name_zh, site.name_en].filter(Boolean).join(" · ");
    Q.show("#off", !answer.enabled);
    var mine = answer.ticket;
    Q.show("#mine", !!mine);
    if (mine) $("#mine-link").setAttribute("href", "/t/" + encodeURIComponent(mine.id));
    var shut = answer.enabled && H.allShut();
    Q.show("#closed", shut);
    if (shut) {
      var hall = H.hall();
      $("#closed-zh").textContent = shutText(hall, "zh");
      $("#closed-en").textContent = shutText(hall, "en");
    }
    Q.show("#services", answer.enabled && !shut);
    if (!answer.enabled || shut) return;
    drawServices();
  }

  function drawServices() {
    var list = $("#service-list");
    var services = answer.services || [];
    if (list.getAttribute("data-codes") !== services.map(function (s) { return s.code; }).join(",")) {
      Q.setHtml(list, Q.html`${services.map(function (s) {
        return Q.html`<li class="phone-service" data-service="${s.code}">
          <div class="svc-names"><span class="svc-zh"></span> <span class="svc-en"></span></div>
          <div class="svc-queue"><span class="svc-waiting"></span> <span class="svc-estimate"></span></div>
          <button class="take" type="button" data-service="${s.code}">
            <span class="zh">取号</span> <span class="en">Take a ticket</span>
          </button>
        </li>`;
      })}`);
      list.setAttribute("data-codes", services.map(function (s) { return s.code; }).join(","));
    }
    var first = Q.lang(), second = first === "zh" ? "en" : "zh";
    services.forEach(function (s) {
      var li = list.querySelector('li[data-service="' + s.code.replace(/"/g, "") + '"]');
      if (!li) return;
      var open = H.issuing(s.code);
      li.setAttribute("data-open", open ? "true" : "false");
      li.querySelector(".svc-zh").textContent = s.name_zh;
      li.querySelector(".svc-en").textContent = s.name_en;
      li.querySelector(".svc-waiting").textContent = open
        ? Q.t("waiting", { n: s.waiting }, first) + " · " + Q.t("waiting", { n: s.waiting }, second)
        : shutText(H.service(s.code), first) + " · " + shutText(H.service(s.code), second);
      li.querySelector(".svc-estimate").textContent = open
        ? estimateText(s.estimate_minutes, first) + " · " + estimateText(s.estimate_minutes, second) : "";
      var btn = li.querySelector(".take");
      btn.disabled = busy || !open || !!answer.ticket;
    });
  }
})();
