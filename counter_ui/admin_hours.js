/*
 * The hours and holidays section of the admin page (营业时间与节假日): the
 * week's opening ranges (a gap between two ranges of a day is its break, e.g.
 * the lunch break 12:00–13:30), the holiday country and whether the hall opens
 * on its public holidays, make-up working days' hours (调休), the last ticket
 * before closing, what happens to tickets still waiting at closing, and the
 * site's own dates (a closing, shorter hours, a make-up working day).
 *
 * Two forms, one `hours` section: the week form saves the week and the
 * options with the stored dates unchanged; the dates list saves the dates
 * with the stored week unchanged. Keys the forms do not show (a date's own
 * services) are kept. Admins edit, supervisors read.
 */
(function (global) {
  "use strict";
  var Q = global.QCall, S = global.QCallSettings, $ = Q.$;

  var DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
  var RANGE = /^([01]\d|2[0-3]):([0-5]\d)-(([01]\d|2[0-3]):([0-5]\d)|24:00)$/;

  var WORDS = {
    zh: {
      "hrs.title": "营业时间与节假日",
      "hrs.help": "每天的营业时段，例如 08:30-12:00, 13:30-17:30（两段之间为午休）；不填为休息。",
      "hrs.day.mon": "星期一", "hrs.day.tue": "星期二", "hrs.day.wed": "星期三", "hrs.day.thu": "星期四",
      "hrs.day.fri": "星期五", "hrs.day.sat": "星期六", "hrs.day.sun": "星期日",
      "hrs.enforce": "按营业时间控制取号",
      "hrs.holidays": "节假日所属国家/地区（如 CN，不填：周一至周五为工作日）",
      "hrs.open_on_holidays": "法定节假日照常营业",
      "hrs.makeup_day_hours": "调休上班日按哪天的时间营业",
      "hrs.makeup_own": "按当天（不另设）",
      "hrs.last_ticket_minutes": "下班前多少分钟停止取号",
      "hrs.at_closing": "下班时仍在等候的号票",
      "hrs.at_closing.close": "作废",
      "hrs.at_closing.carry_over": "顺延到下次营业",
      "hrs.save_week": "保存营业时间",
      "hrs.bad_range": "时段应如 08:30-12:00，开始早于结束，各段不重叠",
      "hrs.bad_country": "国家/地区代码，如 CN、HK、SG",
      "hrx.title": "特殊日期",
      "hrx.help": "本营业厅自己的日期：闭馆、缩短营业时间、调休上班日。",
      "hrx.date": "日期",
      "hrx.name": "名称",
      "hrx.name_zh": "中文名称",
      "hrx.name_en": "英文名称",
      "hrx.mode": "当天营业",
      "hrx.mode.closed": "全天闭馆",
      "hrx.mode.hours": "按下列时段营业",
      "hrx.mode.usual": "按平常时间",
      "hrx.hours": "时段",
      "hrx.working_day": "是否算工作日",
      "hrx.working_day.auto": "按国家日历",
      "hrx.working_day.yes": "工作日（调休上班）",
      "hrx.working_day.no": "休息日",
      "hrx.services": "仅限业务",
      "hrx.all_services": "全部业务",
      "hrx.action": "操作",
      "hrx.new": "添加特殊日期",
      "hrx.empty": "没有特殊日期。",
      "hrx.bad_date": "日期如 2026-10-01",
      "hrx.services_hint": "不勾选：整个营业厅。勾选：仅这些业务（例如今天停止某项业务取号）。",
      "hrx.whole_hall": "工作日/休息日只能对整个营业厅设置（不勾选业务）"
    },
    en: {
      "hrs.title": "Hours and holidays",
      "hrs.help": "Each day's opening ranges, e.g. 08:30-12:00, 13:30-17:30 (the gap between two is the break); empty: closed.",
      "hrs.day.mon": "Monday", "hrs.day.tue": "Tuesday", "hrs.day.wed": "Wednesday", "hrs.day.thu": "Thursday",
      "hrs.day.fri": "Friday", "hrs.day.sat": "Saturday", "hrs.day.sun": "Sunday",
      "hrs.enforce": "Tickets only within opening hours",
      "hrs.holidays": "Holiday country (e.g. CN; empty: Monday to Friday are working days)",
      "hrs.open_on_holidays": "Open on public holidays",
      "hrs.makeup_day_hours": "Make-up working days take the hours of",
      "hrs.makeup_own": "their own weekday",
      "hrs.last_ticket_minutes": "No new tickets this many minutes before closing",
      "hrs.at_closing": "Tickets still waiting at closing",
      "hrs.at_closing.close": "are closed",
      "hrs.at_closing.carry_over": "carry over to the next opening",
      "hrs.save_week": "Save the hours",
      "hrs.bad_range": "ranges like 08:30-12:00, each start before its end, none overlapping",
      "hrs.bad_country": "a country code such as CN, HK, SG",
      "hrx.title": "Special dates",
      "hrx.help": "The hall's own dates: a closing, shorter hours, a make-up working day.",
      "hrx.date": "Date",
      "hrx.name": "Name",
      "hrx.name_zh": "Name (Chinese)",
      "hrx.name_en": "Name (English)",
      "hrx.mode": "Open",
      "hrx.mode.closed": "closed all day",
      "hrx.mode.hours": "during these ranges",
      "hrx.mode.usual": "the usual hours",
      "hrx.hours": "Ranges",
      "hrx.working_day": "Counts as",
      "hrx.working_day.auto": "as the country's calendar says",
      "hrx.working_day.yes": "a working day (make-up day)",
      "hrx.working_day.no": "a day off",
      "hrx.services": "Only services",
      "hrx.all_services": "all services",
      "hrx.action": "Action",
      "hrx.new": "Add a special date",
      "hrx.empty": "No special dates.",
      "hrx.bad_date": "a date such as 2026-10-01",
      "hrx.services_hint": "None ticked: the whole hall. Ticked: these services only (e.g. no new tickets of one service today).",
      "hrx.whole_hall": "a working day or day off is the whole hall's (tick no service)"
    }
  };

  function weekLabel(key, l) {
    if (DAYS.indexOf(key) >= 0) return Q.t("hrs.day." + key, null, l);
    var word = "hrs." + key;
    return Q.t(word, null, l) === word ? key : Q.t(word, null, l);
  }
  function dateLabel(key, l) {
    var word = "hrx." + key;
    return Q.t(word, null, l) === word ? key : Q.t(word, null, l);
  }

  /** "08:30-12:00, 13:30-17:30" → ["08:30-12:00", "13:30-17:30"]. */
  function ranges(text) {
    return String(text || "").split(/[,，;；\s]+/).filter(Boolean).map(function (r) {
      return r.replace(/[–—~～]/g, "-");
    });
  }

  /** Well formed, each start before its end, none overlapping (as the hub checks). */
  function rangesOk(list) {
    var ok = list.every(function (r) { return RANGE.test(r) && r.slice(0, 5) < r.slice(6); });
    if (!ok) return false;
    var sorted = list.slice().sort();
    for (var i = 1; i < sorted.length; i++) if (sorted[i].slice(0, 5) < sorted[i - 1].slice(6)) return false;
    return true;
  }

  /* -- the week and its options ------------------------------------------- */

  var weekMessage = null;
  var busy = false;
  var dirty = false;      // the week form was changed here: a re-read does not overwrite it
  var weekVersion = 0;    // the version the week form shows (what a save is based on)
  var bound = false;

  function hours() { var held = S.get("hours"); return held ? held.value || {} : null; }
  function field(key) { return $('#hrs-form [data-key="' + key + '"]'); }

  function fillWeek() {
    var h = hours();
    if (!h || dirty) return;
    weekVersion = S.get("hours").version;
    DAYS.forEach(function (d) { field(d).value = (h[d] || []).join(", "); });
    field("enforce").checked = h.enforce !== false;
    field("holidays").value = h.holidays || "";
    field("open_on_holidays").checked = h.open_on_holidays !== false;
    field("makeup_day_hours").value = h.makeup_day_hours || "";
    field("last_ticket_minutes").value = h.last_ticket_minutes || 0;
    field("at_closing").value = h.at_closing || "close";
  }

  function saveWeek() {
    if (busy || !S.isAdmin() || !hours()) return;
    var form = $("#hrs-form");
    var value = S.copy(hours());
    var marks = {};
    DAYS.forEach(function (d) {
      var list = ranges(field(d).value);
      if (!rangesOk(list)) marks[d] = S.localMark(weekLabel, d, "hrs.bad_range");
      value[d] = list;
    });
    value.enforce = field("enforce").checked;
    var country = field("holidays").value.trim().toUpperCase();
    if (country && !/^[A-Z]{2,3}$/.test(country)) marks.holidays = S.localMark(weekLabel, "holidays", "hrs.bad_country");
    if (country) value.holidays = country; else delete value.holidays;
    value.open_on_holidays = field("open_on_holidays").checked;
    if (field("makeup_day_hours").value) value.makeup_day_hours = field("makeup_day_hours").value;
    else delete value.makeup_day_hours;
    var last = S.whole(field("last_ticket_minutes").value);
    if (last === null) last = 0;
    if (isNaN(last) || last < 0 || last > 720) {
      marks.last_ticket_minutes = S.localMark(weekLabel, "last_ticket_minutes", "settings.whole", { min: 0, max: 720 });
    }
    value.last_ticket_minutes = last;
    value.at_closing = field("at_closing").value;
    if (Object.keys(marks).length) { S.markForm(form, marks, []); return; }
    busy = true;
    drawWeek();
    S.save("hours", value, weekVersion).then(function (res) {
      dirty = false;
      S.markForm(form, {}, []);
      weekMessage = { kind: "ok", text: Q.t2("settings.saved", { version: res.version }) };
    }, function (err) {
      if (err && err.code === "unauthorized") return;
      if (err && err.code === "invalid_settings") S.markProblems(form, err, "hours", weekLabel);
      else S.markForm(form, {}, []);
      if (err && err.code === "stale_version") dirty = false;
      weekMessage = { kind: "error", text: S.refusal(err) };
    }).then(function () { busy = false; fillWeek(); drawWeek(); });
  }

  function drawWeek() {
    if (!$("#hrs-panel")) return;
    var held = S.get("hours");
    var admin = S.isAdmin();
    $("#hrs-provenance").textContent = held ? S.provenance(held) + (admin ? "" : " " + Q.t("settings.read_only")) : "";
    S.say($("#hrs-message"), weekMessage);
    Q.each($("#hrs-form").querySelectorAll("input, select"), function (el) { el.disabled = !admin || busy; });
    Q.show("#hrs-save", admin);
    $("#hrs-save").disabled = busy;
    $("#hrs-save").textContent = Q.t(busy ? "settings.saving" : "hrs.save_week");
  }

  function bind() {
    if (bound || !$("#hrs-form")) return;
    bound = true;
    $("#hrs-form").addEventListener("submit", function (e) { e.preventDefault(); saveWeek(); });
    $("#hrs-form").addEventListener("input", function () { dirty = true; });
    $("#hrs-form").addEventListener("change", function () { dirty = true; });
    $("#hrx-mode").addEventListener("change", drawMode);
  }

  /* -- the site's own dates ------------------------------------------------- */

  function mode(x) { return x.hours === null || x.hours === undefined ? "usual" : x.hours.length ? "hours" : "closed"; }

  function dateInput(key) { return $('#hrx-form [data-key="' + key + '"]'); }

  function drawMode() { Q.show("#hrx-hours-field", $("#hrx-mode").value === "hours"); }

  function fillDate(form, x) {
    x = x || {};
    dateInput("date").value = x.date || "";
    $("#hrx-mode").value = x.date ? mode(x) : "closed";
    dateInput("hours").value = (x.hours || []).join(", ");
    dateInput("name_zh").value = x.name_zh || "";
    dateInput("name_en").value = x.name_en || "";
    dateInput("working_day").value = x.working_day === true ? "yes" : x.working_day === false ? "no" : "";
    drawServices(x.services || []);
    drawMode();
  }

  /** The services a date may be limited to: none ticked is the whole hall. */
  function drawServices(chosen) {
    var held = S.get("services");
    var codes = ((held && held.value) || []).slice();
    chosen.forEach(function (code) {
      if (!codes.some(function (s) { return s.code === code; })) codes.push({ code: code });
    });
    Q.setHtml($("#hrx-services"), Q.html`${codes.map(function (s) {
      return Q.html`<li data-code="${s.code}"><label class="check"><input type="checkbox" value="${s.code}"${
        chosen.indexOf(s.code) >= 0 ? Q.raw(" checked") : ""}> <span class="code">${s.code}</span> ${Q.name(s)}</label></li>`;
    })}`);
  }

  function readDate(form, original) {
    var x = original || {};
    x.date = dateInput("date").value.trim();
    var m = $("#hrx-mode").value;
    if (m === "usual") delete x.hours;
    else x.hours = m === "closed" ? [] : ranges(dateInput("hours").value);
    x.name_zh = dateInput("name_zh").value.trim();
    x.name_en = dateInput("name_en").value.trim();
    var w = dateInput("working_day").value;
    if (w === "yes") x.working_day = true; else if (w === "no") x.working_day = false; else delete x.working_day;
    x.services = [];
    Q.each($("#hrx-services").querySelectorAll("input[type=checkbox]"), function (box) {
      if (box.checked) x.services.push(box.value);
    });
    return x;
  }

  function checkDate(x, others) {
    var marks = {};
    if (!/^\d{4}-\d{2}-\d{2}$/.test(x.date)) marks.date = S.localMark(dateLabel, "date", "hrx.bad_date");
    // One entry per date for the hall, and one per date for each service.
    var mine = x.services.length ? x.services : [null];
    others.forEach(function (o) {
      var theirs = o.services && o.services.length ? o.services : [null];
      var clash = o.date === x.date && mine.some(function (code) { return theirs.indexOf(code) >= 0; });
      if (clash && !marks.date) marks.date = S.localMark(dateLabel, "date", "settings.duplicate");
    });
    if (x.services.length && x.working_day !== undefined) {
      marks.working_day = S.localMark(dateLabel, "working_day", "hrx.whole_hall");
    }
    if (x.hours && x.hours.length && !rangesOk(x.hours)) marks.hours = S.localMark(dateLabel, "hours", "hrs.bad_range");
    if ($("#hrx-mode").value === "hours" && !(x.hours && x.hours.length)) {
      marks.hours = S.localMark(dateLabel, "hours", "settings.required");
    }
    return marks;
  }

  function dateCells(x) {
    var m = mode(x);
    var w = x.working_day === true ? "yes" : x.working_day === false ? "no" : "auto";
    return Q.html`<td class="num">${x.date}</td>
      <td>${x.name_zh || ""}${x.name_en ? Q.html`<br><span class="other-lang">${x.name_en}</span>` : ""}</td>
      <td>${m === "hours" ? (x.hours || []).join(", ") : Q.t("hrx.mode." + m)}</td>
      <td>${Q.t("hrx.working_day." + w)}</td>
      <td>${x.services && x.services.length ? x.services.join(", ") : Q.t("hrx.all_services")}</td>`;
  }

  var dates = S.listEditor({
    id: "hrx",
    name: "hours",
    path: "hours.exceptions",
    listOf: function (value) { return value.exceptions || []; },
    withList: function (value, list) { value.exceptions = list; return value; },
    keyOf: function (x) { return x.date + (x.services && x.services.length ? " " + x.services.join(",") : ""); },
    cells: dateCells,
    fill: fillDate,
    read: readDate,
    check: checkDate,
    label: dateLabel,
    what: function (x) { return x.date || ""; },
    drawn: function () { Q.show("#hrx-empty", !!S.get("hours") && dates && dates.list().length === 0); }
  });

  S.on(function () { fillWeek(); drawWeek(); });

  global.QCallAdminSections = (global.QCallAdminSections || []).concat([{
    words: WORDS,
    enter: function () { bind(); dirty = false; weekMessage = null; },
    draw: drawWeek
  }]);
})(window);
