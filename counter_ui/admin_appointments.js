/*
 * The appointments section of the admin page (预约, issue 11): a day's
 * bookings (GET /appointments?date=, phones and names masked by the hub),
 * booking one (POST /appointments), cancelling one (POST
 * /appointments/{id}/cancel) and, for admins, importing a booking system's
 * CSV (POST /appointments/import {"csv"}), with the line-numbered errors of a
 * refused file. Staff may list, book and cancel; only admins import (the
 * hub's rights, mirrored here). Every refusal is shown in both languages.
 *
 * Nothing personal is kept or shown in the clear: the list holds what the hub
 * sends (138****5678, 张*明); the form's phone and name are cleared as soon as
 * the booking is made.
 *
 * A section of admin.html: loaded before admin.js, it registers itself in
 * window.QCallAdminSections; admin.js merges its words and calls enter(),
 * leave(), snapshot(), queue() (every hall event) and draw() (language).
 */
(function (global) {
  "use strict";
  var Q = global.QCall, $ = Q.$;

  var WORDS = {
    zh: {
      "appt.title": "预约",
      "appt.count": "（{n} 个）",
      "appt.help": "某一天的预约。电话和姓名只显示部分。过了签到时间未到的预约自动记为爽约。",
      "appt.date": "日期",
      "appt.reload": "刷新",
      "appt.code": "预约码",
      "appt.service": "业务",
      "appt.slot": "时段",
      "appt.status": "状态",
      "appt.phone": "电话",
      "appt.name": "姓名",
      "appt.action": "操作",
      "appt.empty": "这一天没有预约。",
      "appt.cancel": "取消预约",
      "appt.cancel_confirm": "确认取消？",
      "appt.cancelled": "预约 {code} 已取消。",
      "appt.status.booked": "已预约",
      "appt.status.checked_in": "已签到",
      "appt.status.no_show": "爽约",
      "appt.status.cancelled": "已取消",
      "appt.new": "新建预约",
      "appt.new_service": "业务",
      "appt.new_date": "日期",
      "appt.new_start": "开始时间",
      "appt.new_phone": "电话（可不填）",
      "appt.new_name": "姓名（可不填，叫号时只显示部分）",
      "appt.create": "预约",
      "appt.created": "已预约：预约码 {code}，{day} {start}",
      "appt.import": "导入预约（CSV）",
      "appt.import_help": "第一行为列名：code, service, date, start, phone, name（也可用 预约码、科室、日期、时间、电话、姓名）。有错误时整个文件都不导入。",
      "appt.file": "CSV 文件",
      "appt.import_submit": "导入",
      "appt.imported": "已导入 {n} 个预约。",
      "appt.no_service": "本站没有接受预约的业务。",
      "appt.need_file": "请选择一个 CSV 文件。",
      "appt.unreadable": "无法读取此文件。",
      "appt.need_start": "请填写开始时间，例如 09:30。",
      "appt.need_date": "请填写日期，例如 2026-12-01。",
      "appt.bad_phone": "电话号码格式不对（5–20 位数字）。",
      "appt.err.bad_request": "输入有误",
      "appt.err.forbidden": "此账号无权进行此操作",
      "appt.err.unauthorized": "登录已过期，请重新登录",
      "appt.err.too_large": "文件太大",
      "appt.err.bad_import": "导入失败，没有保存任何预约",
      "appt.err.network": "无法连接服务器，请稍后再试",
      "appt.err.store_unavailable": "服务器暂时无法保存，请稍后再试",
      "appt.err.not_found": "找不到",
      "appt.err.other": "操作失败"
    },
    en: {
      "appt.title": "Appointments",
      "appt.count": "({n})",
      "appt.help": "One day's bookings. Phones and names are shown in part only. A booking not checked in by the end of its window becomes a no-show by itself.",
      "appt.date": "Day",
      "appt.reload": "Reload",
      "appt.code": "Code",
      "appt.service": "Service",
      "appt.slot": "Slot",
      "appt.status": "Status",
      "appt.phone": "Phone",
      "appt.name": "Name",
      "appt.action": "Action",
      "appt.empty": "No bookings on this day.",
      "appt.cancel": "Cancel booking",
      "appt.cancel_confirm": "Really cancel?",
      "appt.cancelled": "Booking {code} cancelled.",
      "appt.status.booked": "booked",
      "appt.status.checked_in": "checked in",
      "appt.status.no_show": "no-show",
      "appt.status.cancelled": "cancelled",
      "appt.new": "New booking",
      "appt.new_service": "Service",
      "appt.new_date": "Day",
      "appt.new_start": "Start time",
      "appt.new_phone": "Phone (optional)",
      "appt.new_name": "Name (optional; shown only in part when called)",
      "appt.create": "Book",
      "appt.created": "Booked: code {code}, {day} {start}",
      "appt.import": "Import bookings (CSV)",
      "appt.import_help": "First line names the columns: code, service, date, start, phone, name (or 预约码, 科室, 日期, 时间, 电话, 姓名). A file with any error is not imported at all.",
      "appt.file": "CSV file",
      "appt.import_submit": "Import",
      "appt.imported": "{n} bookings imported.",
      "appt.no_service": "No service of this site takes appointments.",
      "appt.need_file": "Please choose a CSV file.",
      "appt.unreadable": "This file cannot be read.",
      "appt.need_start": "Please enter the start time, e.g. 09:30.",
      "appt.need_date": "Please enter the day, e.g. 2026-12-01.",
      "appt.bad_phone": "That is not a phone number (5–20 digits).",
      "appt.err.bad_request": "Bad input",
      "appt.err.forbidden": "This account may not do that",
      "appt.err.unauthorized": "Your session has ended; please log in again",
      "appt.err.too_large": "The file is too large",
      "appt.err.bad_import": "Import refused, nothing was saved",
      "appt.err.network": "Cannot reach the hub; please try again shortly",
      "appt.err.store_unavailable": "The hub cannot save right now; please try again shortly",
      "appt.err.not_found": "Not found",
      "appt.err.other": "That did not work"
    }
  };

  var POLL_MS = 60000;           // the hub's sweep marks no-shows each minute: follow it
  var CONFIRM_MS = 5000;         // a cancel button waits this long for its second tap

  var session = null;
  var page = null;               // {expire}: what admin.js lets a section do
  var generation = 0;            // answers of an earlier session or day are dropped
  var day = null;                // the day listed ("2026-12-01"); null until the hub said today
  var list = null;               // [appointment] or null before the first answer
  var services = [];             // [{code, name_zh, name_en}] taking appointments
  var callByName = false;
  var listError = null;          // the last refusal of the list
  var formMessage = null;        // {kind, text()} under the booking form
  var importMessage = null;      // {kind, text(), lines}
  var listMessage = null;        // {kind, text()} above the list (a cancel's outcome)
  var confirming = Q.secondTap(function () { drawList(); }, CONFIRM_MS);  // a booking's cancel: second tap
  var pollTimer = null;
  var busy = false;

  var section = {
    words: WORDS,
    enter: function (s, pageApi) {
      session = s;
      page = pageApi || {};
      generation += 1;
      day = null;
      list = null;
      listError = null;
      formMessage = importMessage = listMessage = null;
      Q.show("#appt-import-form", isAdmin());
      bind();
      load();
    },
    leave: function () {
      session = null;
      generation += 1;
      clearTimeout(pollTimer);
      confirming.reset();
      Q.show("#appt-layout", false);
    },
    queue: function (snap, name) {
      // A kiosk check-in issues a ticket: the list's statuses change with it.
      if (name === "ticket_issued") loadSoon();
    },
    draw: draw
  };

  function isAdmin() { return !!session && session.role === "admin"; }
  /** A supervisor (值班长) reads the day's bookings; staff and admins book and cancel. */
  function mayBook() { return !!session && (session.role === "admin" || session.role === "staff"); }

  var bound = false;
  function bind() {
    if (bound || !$("#appt-layout")) return;
    bound = true;
    $("#appt-date").addEventListener("change", function () {
      if (this.value) { day = this.value; load(); }
    });
    $("#appt-reload").addEventListener("click", function () { load(); });
    $("#appt-form").addEventListener("submit", function (e) { e.preventDefault(); create(); });
    $("#appt-import-form").addEventListener("submit", function (e) { e.preventDefault(); importFile(); });
    $("#appt-list").addEventListener("click", function (e) {
      var button = e.target.closest ? e.target.closest("button[data-cancel]") : null;
      if (button) cancel(button.getAttribute("data-cancel"), button.getAttribute("data-code"));
    });
  }

  /* -- refusals in both languages ---------------------------------------- */

  /**
   * A refusal as "中文 / English". Appointment refusals carry both sentences
   * (error_zh, error_en); for the others our words for the code, with the
   * hub's sentence (a field that is wrong) after them.
   */
  function refusal(err) {
    var data = (err && err.data) || {};
    if (data.error_zh && data.error_en) return data.error_zh + " / " + data.error_en;
    var key = "appt.err." + (err && err.code);
    if (Q.t(key, null, "zh") === key) key = "appt.err.other";
    var text = Q.t2(key);
    var detail = err && err.name === "ApiError" && err.message && err.message !== err.code ? err.message : "";
    return detail ? text + ": " + detail : text;
  }

  function both(key, vars) { return Q.t2(key, vars); }

  function failed(err) {
    if (err && err.code === "unauthorized" && page && page.expire) { page.expire(); return true; }
    return false;
  }

  /* -- reading --------------------------------------------------------- */

  function load() {
    if (!session) return;
    clearTimeout(pollTimer);
    var mine = ++generation;
    var path = "/appointments" + (day ? "?date=" + encodeURIComponent(day) : "");
    Q.api("GET", path).then(function (res) {
      if (mine !== generation) return;
      day = res.date;
      list = res.appointments || [];
      services = res.services || [];
      callByName = !!res.call_by_name;
      listError = null;
      draw();
    }, function (err) {
      if (mine !== generation || failed(err)) return;
      if (err.code === "forbidden") { Q.show("#appt-layout", false); return; }
      listError = err;
      draw();
    }).then(function () {
      if (mine === generation) pollTimer = setTimeout(load, POLL_MS);
    });
  }

  // Hall events come in bursts: read once per burst.
  var loadSoon = Q.debounce(function () { if (session) load(); }, 500);

  /* -- acting ---------------------------------------------------------- */

  function create() {
    if (busy || !session) return;
    var phone = $("#appt-phone").value.replace(/[\s()-]/g, "");
    var name = callByName ? $("#appt-name").value.trim() : "";
    var body = {
      service: $("#appt-service").value,
      date: $("#appt-new-date").value,
      start: ($("#appt-start").value || "").slice(0, 5)
    };
    if (!/^\d{4}-\d{2}-\d{2}$/.test(body.date)) return formSay("error", both("appt.need_date"));
    if (!/^([01]\d|2[0-3]):[0-5]\d$/.test(body.start)) return formSay("error", both("appt.need_start"));
    if (phone && !/^\+?[0-9]{5,20}$/.test(phone)) return formSay("error", both("appt.bad_phone"));
    if (phone) body.phone = phone;
    if (name) body.name = name;
    busy = true;
    drawBusy();
    Q.api("POST", "/appointments", body).then(function (res) {
      var a = res.appointment;
      // The phone and name leave the form at once: nothing personal stays on the screen.
      $("#appt-phone").value = "";
      $("#appt-name").value = "";
      var start = String(a.slot_start).slice(11, 16);
      formSay("ok", both("appt.created", { code: a.code, day: a.business_day, start: start }), a.code);
      if (a.business_day !== day) { day = a.business_day; }
      load();
    }, function (err) {
      if (!failed(err)) formSay("error", refusal(err));
    }).then(function () { busy = false; drawBusy(); });
  }

  function cancel(id, code) {
    if (busy || !session) return;
    if (!confirming.tap(id)) return;
    busy = true;
    drawBusy();
    Q.api("POST", "/appointments/" + encodeURIComponent(id) + "/cancel").then(function () {
      listMessage = { kind: "ok", text: function () { return both("appt.cancelled", { code: code }); } };
      load();
    }, function (err) {
      if (failed(err)) return;
      listMessage = { kind: "error", text: function () { return refusal(err); } };
      load();
    }).then(function () { busy = false; drawBusy(); });
  }

  function importFile() {
    if (busy || !session) return;
    var input = $("#appt-file");
    var file = input.files && input.files[0];
    if (!file) return importSay("error", both("appt.need_file"));
    var reader = new FileReader();
    reader.onerror = function () { importSay("error", both("appt.unreadable")); };
    reader.onload = function () {
      busy = true;
      drawBusy();
      Q.api("POST", "/appointments/import", { csv: String(reader.result || "") }).then(function (res) {
        input.value = "";
        importSay("ok", both("appt.imported", { n: res.imported }));
        load();
      }, function (err) {
        if (failed(err)) return;
        importSay("error", refusal(err), (err.data && err.data.lines) || []);
      }).then(function () { busy = false; drawBusy(); });
    };
    reader.readAsText(file, "utf-8");
  }

  function formSay(kind, text, code) {
    formMessage = { kind: kind, text: text, code: code || null };
    drawForm();
  }

  function importSay(kind, text, lines) {
    importMessage = { kind: kind, text: text, lines: lines || [] };
    drawImport();
  }

  /* -- drawing ----------------------------------------------------------- */

  function serviceName(code) {
    var found = null;
    services.forEach(function (s) { if (s.code === code) found = s; });
    return found ? Q.name(found) : code;
  }

  function statusWord(status) {
    var key = "appt.status." + status;
    var word = Q.t(key);
    return word === key ? String(status || "") : word;
  }

  function hhmm(value) { return String(value || "").slice(11, 16); }

  function draw() {
    if (!session || !$("#appt-layout")) return;
    var active = services.length > 0 || (list && list.length > 0);
    Q.show("#appt-layout", !!list || !!listError);
    Q.show("#appt-no-service", !!list && !active);
    Q.show("#appt-form", active && mayBook());
    Q.show(".appt-forms", mayBook());
    Q.show("#appt-import-form", isAdmin() && active);
    drawList();
    drawForm();
    drawImport();
  }

  function drawList() {
    if (!session || !$("#appt-layout")) return;
    var picker = $("#appt-date");
    if (day && picker.value !== day) picker.value = day;
    $("#appt-count").textContent = list ? Q.t("appt.count", { n: list.length }) : "";
    var error = $("#appt-error");
    error.hidden = !listError;
    error.textContent = listError ? refusal(listError) : "";
    Q.banner("#appt-list-message", listMessage);
    Q.show("#appt-empty", !!list && list.length === 0);
    Q.show("#appt-table", !!list && list.length > 0);
    Q.each(document.querySelectorAll(".appt-name-col"), function (el) { el.hidden = !callByName; });
    Q.setHtml($("#appt-list"), Q.html`${(list || []).map(function (a) {
      var waiting = confirming.armed(a.id);
      // A supervisor's list has no codes (a code is enough to check in at a kiosk): a dash.
      return Q.html`<tr data-appointment-id="${a.id}" data-code="${a.code || ""}" data-status="${a.status}">
          <td class="appt-code">${a.code || "—"}</td>
          <td>${Q.name(a) || serviceName(a.service)} <span class="code">${a.service}</span></td>
          <td class="appt-slot">${hhmm(a.slot_start)}–${hhmm(a.slot_end)}</td>
          <td><span class="appt-status st-${a.status}">${statusWord(a.status)}</span></td>
          <td class="appt-phone">${a.phone || "—"}</td>
          ${callByName ? Q.html`<td class="appt-name">${a.name || "—"}</td>` : ""}
          <td>${a.status === "booked" && mayBook()
            ? Q.html`<button type="button" class="appt-cancel${waiting ? " confirming" : ""}" data-cancel="${a.id}" data-code="${a.code}">${Q.t(waiting ? "appt.cancel_confirm" : "appt.cancel")}</button>`
            : ""}</td>
        </tr>`;
    })}`);
  }

  function drawForm() {
    if (!session || !$("#appt-form")) return;
    var select = $("#appt-service");
    var chosen = select.value;
    Q.setHtml(select, Q.html`${services.map(function (s) {
      return Q.html`<option value="${s.code}">${Q.name(s)} (${s.code})</option>`;
    })}`);
    if (chosen) select.value = chosen;
    var date = $("#appt-new-date");
    if (!date.value && day) date.value = day;
    Q.show("#appt-name-field", callByName);
    var out = $("#appt-form-message");
    if (!formMessage) { out.hidden = true; out.removeAttribute("data-code"); return; }
    out.className = "banner " + formMessage.kind;
    out.textContent = formMessage.text;
    if (formMessage.code) out.setAttribute("data-code", formMessage.code); else out.removeAttribute("data-code");
    out.hidden = false;
  }

  function drawImport() {
    if (!session || !$("#appt-import-form")) return;
    var out = $("#appt-import-message");
    if (!importMessage) { out.hidden = true; return; }
    out.className = "banner " + importMessage.kind;
    Q.setHtml(out, Q.html`<p class="appt-import-head">${importMessage.text}</p>${importMessage.lines.length
      ? Q.html`<ul id="appt-import-lines" class="appt-import-lines">${importMessage.lines.map(function (line) {
          return Q.html`<li>${line}</li>`;
        })}</ul>`
      : ""}`);
    out.hidden = false;
  }

  function drawBusy() {
    Q.each(document.querySelectorAll("#appt-layout button"), function (b) { b.disabled = busy; });
  }

  global.QCallAdminSections = (global.QCallAdminSections || []).concat([section]);
})(window);
