/*
 * The kiosk's notices (公告): a strip under the header, "公告 Notices" and the
 * first title, that opens the hall's current notices in large text; a big
 * close button, and the panel closes itself when left alone (IDLE_MS). The
 * strip never covers the service buttons, and the panel is opened only by a
 * tap: taking a ticket is never blocked.
 *
 * It reads GET /api/v1/notices (the kiosk's token) on every connect and on
 * `notices_changed` (kiosk.js hands them over: QCallKioskNotices.snapshot /
 * .changed), at the next start or end the hub announced, and drops a notice
 * whose end passed by the hub's clock each second. Both languages at once:
 * a visitor reads the one they know. Builds its own elements.
 */
(function (global) {
  "use strict";
  var Q = global.QCall;

  var IDLE_MS = 60000;       // an open panel left alone closes itself
  var RETRY_MS = 10000;

  var answer = null;
  var shownKey = null;
  var idleTimer = null;
  var notices = Q.noticeReader(function (res) { answer = res; draw(true); }, null, RETRY_MS);
  var strip = null;
  var panel = null;

  function build() {
    if (strip) return;
    strip = document.createElement("button");
    strip.type = "button";
    strip.id = "notices-open";
    strip.className = "notices-strip";
    strip.hidden = true;
    strip.addEventListener("click", open);
    panel = document.createElement("section");
    panel.id = "notices-view";
    panel.className = "notices-view";
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", "公告 Notices");
    panel.hidden = true;
    panel.addEventListener("click", function (e) {
      idle();
      // The close button, or a tap beside the panel: the service buttons are one tap away.
      if (e.target === panel || (e.target && e.target.closest && e.target.closest(".notices-close"))) close();
    });
    var top = document.querySelector("body > header") || document.body.firstChild;
    document.body.insertBefore(strip, top ? top.nextSibling : null);
    document.body.appendChild(panel);
  }

  var zoneName = null;        // the hall's time zone (the snapshot's site.timezone)

  function snapshot(snap) {
    zoneName = (snap && snap.site && snap.site.timezone) || null;
    load();
  }
  function changed() { load(); }

  function load() {
    build();
    notices.read();
  }

  function showing() { return notices.showing(); }

  function draw(fresh) {
    if (!strip) return;
    var list = showing();
    var key = list.map(function (n) { return n.id + ":" + n.ends_at + n.title_zh + n.title_en + n.body_zh + n.body_en; }).join("|");
    if (!fresh && key === shownKey) return;
    shownKey = key;
    strip.hidden = !list.length;
    if (!list.length) { close(); return; }
    var first = list[0];
    Q.setHtml(strip, Q.html`<span class="ns-label">公告 <span class="ns-en">Notices</span>${list.length > 1 ? Q.html` <span class="ns-count">${list.length}</span>` : ""}</span>
      <span class="ns-title">${first.title_zh || first.title_en}${first.title_zh && first.title_en ? Q.html` <span class="ns-en">${first.title_en}</span>` : ""}</span>
      <span class="ns-more" aria-hidden="true">›</span>`);
    Q.setHtml(panel, Q.html`<div class="nv-inner">
        <h1 class="nv-heading">公告 <span class="ns-en">Notices</span></h1>
        <div class="nv-list">${list.map(item)}</div>
        <button type="button" class="notices-close">关闭 <span class="ns-en">Close</span></button>
      </div>`);
  }

  function item(n) {
    return Q.html`<article class="nv-item nv-${n.kind}" data-notice="${n.id}">
      <h2>${n.title_zh}${n.title_en ? Q.html` <span class="ns-en">${n.title_en}</span>` : ""}</h2>
      ${n.kind === "outage" ? Q.html`<p class="nv-outage">${n.area_zh} ${n.area_en ? Q.html`<span class="ns-en">${n.area_en}</span>` : ""}<br>
        ${hallText(n.outage_from)} – ${hallText(n.outage_to)}</p>` : ""}
      ${n.kind === "tariff" && n.tariff ? table(n.tariff) : ""}
      ${n.body_zh ? Q.html`<p>${n.body_zh}</p>` : ""}
      ${n.body_en ? Q.html`<p class="ns-en">${n.body_en}</p>` : ""}
    </article>`;
  }

  /** "2026-12-03 08:00" in the hall's zone, whatever the kiosk's own is. */
  function hallText(iso) {
    try {
      return new Intl.DateTimeFormat("sv-SE", {
        timeZone: zoneName || undefined, year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", hour12: false
      }).format(new Date(iso)).slice(0, 16);
    } catch (e) {
      return Q.formatDate(iso, "zh") + " " + Q.formatTime(iso);
    }
  }

  function table(t) {
    return Q.html`<table class="nv-tariff"><thead><tr>${t.columns.map(function (c) {
      return Q.html`<th>${c.zh} <span class="ns-en">${c.en}</span></th>`;
    })}</tr></thead><tbody>${t.rows.map(function (row) {
      return Q.html`<tr>${row.map(function (cell) { return Q.html`<td>${cell}</td>`; })}</tr>`;
    })}</tbody></table>`;
  }

  function open() {
    if (!panel) return;
    panel.hidden = false;
    idle();
  }

  function close() {
    if (panel) panel.hidden = true;
    clearTimeout(idleTimer);
  }

  function idle() {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(close, IDLE_MS);
  }

  setInterval(function () { if (answer) draw(false); }, 1000);

  global.QCallKioskNotices = { snapshot: snapshot, changed: changed, close: close };
})(window);
