/*
 * The lobby's content zone (<section id="content-zone">): the hall's notices
 * (公告), tariffs (电价/水价), planned power cuts (停电计划) and, in a hospital,
 * the doctors on duty today (出诊医生), one card at a time, turned every
 * ROTATE_MS; the hotline and the QR code of the hall's phone page always in
 * the zone's corner. Both languages on every card at once: nobody touches a
 * TV to switch.
 *
 * It reads GET /api/v1/notices (the lobby's token, as QCall.api sends it)
 * when the screen connects and on every `notices_changed` (lobby.js hands
 * them over: QCallLobbyContent.snapshot / .changed), and also at the next
 * start or end the hub announced (`next_change_in`) and drops a card whose
 * end has passed by the hub's clock, each second: a screen that missed an
 * event never shows an expired notice. The zone lives in its own row of
 * the lobby's grid: it never covers the calls.
 */
(function (global) {
  "use strict";
  var Q = global.QCall, $ = Q.$;

  var ROTATE_MS = 12000;     // until the hub says ([notices] rotate_seconds): a tariff's rows read from across the hall
  var RETRY_MS = 10000;      // the read failed (offline): try again
  var TARIFF_ROWS = 4;       // a tariff's rows on one card; more turn as pages
  var SMALLEST = 0.6;        // a card that does not fit shrinks its text, down to this much (a page fits at ≥ 0.85 on every layout)
  var KIND = {
    notice: ["公告", "Notice"],
    tariff: ["价目", "Tariff"],
    outage: ["停电计划", "Planned power cut"],
    hotline: ["服务热线", "Hotline"],
    doctors: ["今日出诊", "Doctors on duty today"],
    hall: ["温馨提示", "Please note"]
  };

  var answer = null;         // the last GET /notices
  var site = {};             // the snapshot's site (its fixed notice line: the card when nothing else is posted)
  var index = 0;
  var shownKey = "";
  var rotateTimer = null;
  var notices = Q.noticeReader(function (res) { answer = res; render(true); }, function () { render(false); }, RETRY_MS);

  function zone() { return $("#content-zone"); }

  /** A (re)connect: read the notices again (they may have changed while we were away). */
  function snapshot(snap) {
    site = (snap && snap.site) || {};
    load();
  }

  /** notices_changed: read what shows now. */
  function changed() { load(); }

  function load() {
    if (zone()) notices.read();
  }

  /** The cards to turn through, in the hub's order; notices whose end passed by the hub's clock are dropped. */
  function cards() {
    var list = [];
    notices.showing().forEach(function (n) {
      var key = "n" + n.id + ":" + n.ends_at + ":" + n.title_zh + n.title_en + n.body_zh + n.body_en;
      var rows = n.tariff ? n.tariff.rows : [];
      var pages = Math.max(1, Math.ceil(rows.length / TARIFF_ROWS));
      // A long tariff turns page by page: every row at the size it is read at from across the hall.
      for (var p = 0; p < pages; p++) {
        list.push({ key: key + ":" + p + JSON.stringify(n.tariff), notice: n, page: p, pages: pages });
      }
    });
    var doctors = answer && answer.doctors;
    if (doctors && doctors.length) {
      // A wing of many rooms turns its doctors page by page too, as many rows as a tariff's page.
      var duty = Math.ceil(doctors.length / TARIFF_ROWS);
      for (var d = 0; d < duty; d++) {
        list.push({ key: "doctors:" + d + JSON.stringify(doctors), page: d, pages: duty,
                    doctors: doctors.slice(d * TARIFF_ROWS, (d + 1) * TARIFF_ROWS) });
      }
    }
    if (!list.length && (site.notice_zh || site.notice_en)) {
      list.push({ key: "hall:" + site.notice_zh + site.notice_en, hall: site });
    }
    return list;
  }

  function render(fresh) {
    var el = zone();
    if (!el) return;
    var list = cards();
    var key = list.map(function (c) { return c.key; }).join("|") + "#" + (answer ? answer.hotline + answer.phone_qr_url : "");
    if (!fresh && key === shownKey) return;
    if (key !== shownKey) index = 0;
    shownKey = key;
    el.classList.toggle("content-empty", !list.length);
    el.setAttribute("data-cards", String(list.length));
    Q.setHtml(el, Q.html`<div class="cz-cards">${list.map(card)}</div>${corner()}`);
    showCard();
    clearInterval(rotateTimer);
    var every = answer && answer.rotate_seconds ? answer.rotate_seconds * 1000 : ROTATE_MS;
    if (list.length > 1) rotateTimer = setInterval(function () { index += 1; showCard(); }, every);
  }

  function showCard() {
    var all = zone().querySelectorAll(".cz-card");
    if (!all.length) return;
    index = index % all.length;
    for (var i = 0; i < all.length; i++) all[i].hidden = i !== index;
    fit(all[index]);
    // For tests and a technician: the size of the card's place when it was last fitted.
    zone().setAttribute("data-fitted", all[index].clientWidth + "x" + all[index].clientHeight);
  }

  /**
   * A card taller or wider than its place in the zone (the layout's row, less the corner and, while it
   * shows, the dock) shrinks its text a step at a time, not below SMALLEST; a tariff turns in pages
   * of TARIFF_ROWS so that a page fits at its full size on every layout.
   */
  function fit(card) {
    var scale = 1;
    card.style.fontSize = "";
    while ((card.scrollHeight > card.clientHeight + 1 || card.scrollWidth > card.clientWidth + 1) && scale > SMALLEST) {
      scale = Math.round((scale - 0.05) * 100) / 100;
      card.style.fontSize = scale + "em";
    }
  }

  function kindLabel(kind) {
    var words = KIND[kind] || KIND.notice;
    return Q.html`<span class="cz-kind">${words[0]} <span class="en">${words[1]}</span></span>`;
  }

  function titles(zh, en) {
    return Q.html`<h2 class="cz-title"><span class="cz-zh">${zh || ""}</span>${en ? Q.html` <span class="cz-en">${en}</span>` : ""}</h2>`;
  }

  function card(c) {
    if (c.doctors) return doctorsCard(c);
    if (c.hall) {
      return Q.html`<article class="cz-card cz-hall" data-kind="hall"><div class="cz-head">${kindLabel("hall")}</div>
        <p class="cz-body">${c.hall.notice_zh || ""}</p><p class="cz-body cz-en">${c.hall.notice_en || ""}</p></article>`;
    }
    var n = c.notice;
    var page = c.pages > 1 ? Q.html` <span class="cz-page">${c.page + 1}/${c.pages}</span>` : "";
    return Q.html`<article class="cz-card cz-${n.kind}" data-kind="${n.kind}" data-notice="${n.id}" data-page="${c.page}">
      <div class="cz-head">${kindLabel(n.kind)}${titles(n.title_zh, n.title_en)}${page}</div>
      ${n.kind === "outage" ? outage(n) : ""}
      ${n.kind === "tariff" && n.tariff ? tariff(n.tariff, c.page) : ""}
      ${n.body_zh ? Q.html`<p class="cz-body">${n.body_zh}</p>` : ""}
      ${n.body_en ? Q.html`<p class="cz-body cz-en">${n.body_en}</p>` : ""}
    </article>`;
  }

  /** A time in the hall's words and zone (the snapshot's site.timezone): "12月3日 08:00" / "3 Dec 08:00". */
  function when(iso, lang) {
    Q.setTimeZone(site.timezone);   // Q.connect has from the same snapshot; a test's own snapshot too
    var d = new Date(iso);
    var ymd = Q.formatDay(d).split("-");
    var p = { month: Number(ymd[1]), day: Number(ymd[2]), hm: Q.formatTime(d) };
    if (lang === "zh") return p.month + "月" + p.day + "日 " + p.hm;
    var months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    return p.day + " " + months[p.month - 1] + " " + p.hm;
  }

  /** From – to, the day said once when both are on it: "12月3日 08:00–17:00" / "3 Dec 08:00–17:00". */
  function span(from, to, lang) {
    var a = when(from, lang), b = when(to, lang);
    var day = a.slice(0, a.lastIndexOf(" "));
    return b.indexOf(day + " ") === 0 ? a + "–" + b.slice(day.length + 1) : a + " – " + b;
  }

  function outage(n) {
    return Q.html`<dl class="cz-cut">
      <dt>区域 <span class="en">Area</span></dt><dd>${n.area_zh}${n.area_en ? Q.html` <span class="en">${n.area_en}</span>` : ""}</dd>
      <dt>时间 <span class="en">Time</span></dt>
      <dd>${span(n.outage_from, n.outage_to, "zh")} <span class="en">${span(n.outage_from, n.outage_to, "en")}</span></dd>
    </dl>`;
  }

  function tariff(t, page) {
    var rows = t.rows.slice(page * TARIFF_ROWS, (page + 1) * TARIFF_ROWS);
    return Q.html`<table class="cz-tariff"><thead><tr>${t.columns.map(function (col) {
      return Q.html`<th scope="col"><span class="cz-zh">${col.zh}</span>${col.en ? Q.html` <span class="en">${col.en}</span>` : ""}</th>`;
    })}</tr></thead><tbody>${rows.map(function (row) {
      return Q.html`<tr>${row.map(function (cell) { return Q.html`<td>${cell}</td>`; })}</tr>`;
    })}</tbody></table>`;
  }

  function doctorsCard(c) {
    var page = c.pages > 1 ? Q.html` <span class="cz-page">${c.page + 1}/${c.pages}</span>` : "";
    return Q.html`<article class="cz-card cz-doctors" data-kind="doctors" data-page="${c.page}"><div class="cz-head">${kindLabel("doctors")}${page}</div>
      <table class="cz-tariff cz-duty"><tbody>${c.doctors.map(function (d) {
        return Q.html`<tr class="${d.now ? "cz-now" : ""}"><td>${d.counter_name_zh} <span class="en">${d.counter_name_en}</span></td>
          <td>${d.name || "—"}</td><td class="cz-hours">${d.start}–${d.end}</td></tr>`;
      })}</tbody></table></article>`;
  }

  /** The corner: the hotline and the phone page's QR, always there (when the hall has them). */
  function corner() {
    if (!answer) return "";
    return Q.html`<aside class="cz-corner">
      ${answer.hotline ? Q.html`<div class="cz-hotline"><span class="cz-hotline-label">服务热线 <span class="en">Hotline</span></span>
        <span class="cz-hotline-number" data-testid="hotline">${answer.hotline}</span></div>` : ""}
      ${answer.phone_qr_url ? Q.html`<figure class="cz-qr"><img src="${answer.phone_qr_url}" alt="手机取号 / Take a number by phone">
        <figcaption>手机取号 <span class="en">Phone queue</span></figcaption></figure>` : ""}
    </aside>`;
  }

  // A new size of the zone (a TV's resolution set late, the dock's sound button or offline lamp showing
  // beside it): the card on show fits again. Fitting changes the card's text, never the zone's box.
  if (typeof window.ResizeObserver === "function" && zone()) {
    new window.ResizeObserver(function () { showCard(); }).observe(zone());
  } else {
    window.addEventListener("resize", Q.debounce(function () { if (zone()) showCard(); }, 200));
  }

  // Each second: a notice whose end has come by the hub's clock leaves at once.
  setInterval(function () { if (answer) render(false); }, 1000);

  global.QCallLobbyContent = { snapshot: snapshot, changed: changed };
})(window);
