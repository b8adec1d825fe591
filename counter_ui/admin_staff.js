/*
 * The staff section of the admin page (值班, issue 13): who should be at each
 * counter now by the rota and who is (GET /staff/now: ok, on a break, missing,
 * someone else, unplanned, closed), the day's breaks (GET /staff/breaks) and
 * attendance (GET /staff/attendance), and the rota of a day (GET /staff/rota).
 * Admins also edit the rota (POST /staff/rota, POST /staff/rota/{id}/remove,
 * a CSV through POST /staff/rota/import with the line-numbered errors of a
 * refused file) and end the post of a clerk who left without logging out
 * (POST /staff/posts/{n}/end). Supervisors read; staff never see it (the hub
 * answers them 403, and the section stays hidden).
 *
 * Live-ish: every post or break change reaches the hall as counter_changed
 * (or ticket_changed, a visitor handed back) carrying `post` (never a name);
 * the section then reads the three lists again (debounced), and every minute
 * anyway. Break lengths tick on the page from their start.
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
      "staff.title": "值班：排班与在岗",
      "staff.help": "每个窗口按排班应在岗的人员和实际在岗的人员。仅管理员和值班长可见。",
      "staff.counter": "窗口",
      "staff.status": "状态",
      "staff.planned": "排班",
      "staff.on_post": "在岗",
      "staff.break": "暂停",
      "staff.state": "对照",
      "staff.action": "操作",
      "staff.nobody": "—",
      "staff.since": "{time} 起",
      "staff.break_for": "{reason} · {n} 分钟",
      "staff.at_counter": "在 {n} 号窗口",
      "staff.end_post": "结束岗位",
      "staff.end_confirm": "确认结束？",
      "staff.ended": "{counter} 号窗口的岗位已结束（{user}）。",
      "state.ok": "正常",
      "state.on_break": "暂停中",
      "state.missing": "缺岗",
      "state.someone_else": "他人在岗",
      "state.unplanned": "未排班",
      "state.closed": "未开放",
      "breaks.title": "当天暂停",
      "breaks.who": "工作人员",
      "breaks.counter": "窗口",
      "breaks.reason": "原因",
      "breaks.start": "开始",
      "breaks.end": "结束",
      "breaks.length": "时长",
      "breaks.going": "进行中",
      "breaks.empty": "这一天没有暂停。",
      "att.title": "当天考勤",
      "att.who": "工作人员",
      "att.first": "首次登录",
      "att.last": "最后退出",
      "att.on_post": "在岗时长",
      "att.breaks": "暂停（按原因）",
      "att.working": "工作时长",
      "att.still": "仍在岗",
      "att.empty": "这一天没有人在岗。",
      "rota.title": "排班",
      "rota.help": "某一天谁应在哪个窗口、从几点到几点（大厅当地时间）。同一人不能同时在两个窗口，一个窗口同一时间只排一人。",
      "rota.date": "日期",
      "rota.reload": "刷新",
      "rota.who": "工作人员",
      "rota.counter": "窗口",
      "rota.start": "开始",
      "rota.end": "结束",
      "rota.action": "操作",
      "rota.remove": "删除",
      "rota.remove_confirm": "确认删除？",
      "rota.removed": "已删除 {user} 在 {counter} 号窗口 {start}–{end} 的排班。",
      "rota.empty": "这一天没有排班。",
      "rota.new": "新增排班",
      "rota.add": "添加",
      "rota.added": "已添加：{user}，{counter} 号窗口，{start}–{end}。",
      "rota.need_times": "请填写开始和结束时间，例如 09:00 和 12:00。",
      "rota.import": "导入排班（CSV）",
      "rota.import_help": "第一行为列名：date, username, counter, start, end（也可用 日期、用户名、窗口、开始、结束）。文件中出现的每一天都以文件为准；有错误时整个文件都不导入。",
      "rota.file": "CSV 文件",
      "rota.import_submit": "导入",
      "rota.imported": "已导入 {n} 条排班（{days}）。",
      "rota.need_file": "请选择一个 CSV 文件。",
      "rota.unreadable": "无法读取此文件。",
      "rota.line": "第 {line} 行",
      "staff.err.bad_request": "输入有误",
      "staff.err.bad_rota": "排班有误",
      "staff.err.bad_import": "导入失败，没有保存任何排班",
      "staff.err.forbidden": "此账号无权进行此操作",
      "staff.err.conflict": "无法执行：当前状态不允许",
      "staff.err.not_found": "找不到",
      "staff.err.network": "无法连接服务器，请稍后再试",
      "staff.err.store_unavailable": "服务器暂时无法保存，请稍后再试",
      "staff.err.other": "操作失败"
    },
    en: {
      "staff.title": "Staff: rota and on post",
      "staff.help": "Who the rota puts at each counter now, and who is on post. Admins and supervisors only.",
      "staff.counter": "Counter",
      "staff.status": "Status",
      "staff.planned": "Rota",
      "staff.on_post": "On post",
      "staff.break": "Break",
      "staff.state": "Compared",
      "staff.action": "Action",
      "staff.nobody": "—",
      "staff.since": "since {time}",
      "staff.break_for": "{reason} · {n} min",
      "staff.at_counter": "at counter {n}",
      "staff.end_post": "End post",
      "staff.end_confirm": "Really end?",
      "staff.ended": "Counter {counter}: {user}'s post ended.",
      "state.ok": "OK",
      "state.on_break": "On a break",
      "state.missing": "Missing",
      "state.someone_else": "Someone else",
      "state.unplanned": "Not on the rota",
      "state.closed": "Closed",
      "breaks.title": "Breaks of the day",
      "breaks.who": "Staff",
      "breaks.counter": "Counter",
      "breaks.reason": "Reason",
      "breaks.start": "Start",
      "breaks.end": "End",
      "breaks.length": "Length",
      "breaks.going": "going on",
      "breaks.empty": "No breaks on this day.",
      "att.title": "Attendance of the day",
      "att.who": "Staff",
      "att.first": "First login",
      "att.last": "Last logout",
      "att.on_post": "On post",
      "att.breaks": "Breaks (by reason)",
      "att.working": "Working",
      "att.still": "still on post",
      "att.empty": "Nobody was on post on this day.",
      "rota.title": "Rota",
      "rota.help": "Who should be at which counter on a day, from when to when (the hall's local time). Nobody is at two counters at once; a counter has one clerk at a time.",
      "rota.date": "Day",
      "rota.reload": "Reload",
      "rota.who": "Staff",
      "rota.counter": "Counter",
      "rota.start": "Start",
      "rota.end": "End",
      "rota.action": "Action",
      "rota.remove": "Remove",
      "rota.remove_confirm": "Really remove?",
      "rota.removed": "Removed {user} at counter {counter}, {start}–{end}.",
      "rota.empty": "No rota for this day.",
      "rota.new": "Add to the rota",
      "rota.add": "Add",
      "rota.added": "Added: {user}, counter {counter}, {start}–{end}.",
      "rota.need_times": "Please give the start and end, e.g. 09:00 and 12:00.",
      "rota.import": "Import a rota (CSV)",
      "rota.import_help": "First line names the columns: date, username, counter, start, end (or 日期, 用户名, 窗口, 开始, 结束). Each day the file names gets exactly the file's entries; a file with any error is not imported at all.",
      "rota.file": "CSV file",
      "rota.import_submit": "Import",
      "rota.imported": "{n} rota entries imported ({days}).",
      "rota.need_file": "Please choose a CSV file.",
      "rota.unreadable": "This file cannot be read.",
      "rota.line": "line {line}",
      "staff.err.bad_request": "Bad input",
      "staff.err.bad_rota": "Bad rota entry",
      "staff.err.bad_import": "Import refused, no rota entry was saved",
      "staff.err.forbidden": "This account may not do that",
      "staff.err.conflict": "That does not fit the current state",
      "staff.err.not_found": "Not found",
      "staff.err.network": "Cannot reach the hub; please try again shortly",
      "staff.err.store_unavailable": "The hub cannot save right now; please try again shortly",
      "staff.err.other": "That did not work"
    }
  };

  var POLL_MS = 60000;          // a backstop: changes come with the hall's events
  var TICK_MS = 30000;          // break lengths and "since" go stale
  var CONFIRM_MS = 5000;        // a destructive button waits this long for its second tap
  var READERS = ["admin", "supervisor"];

  var session = null;
  var page = null;              // {expire}
  var generation = 0;           // answers of an earlier session are dropped
  var now = null;               // GET /staff/now
  var dayBreaks = null;         // GET /staff/breaks
  var day = null;               // GET /staff/attendance (and the day it is of)
  var rota = null;              // GET /staff/rota of rotaDay
  var rotaDay = null;
  var reasons = [];
  var message = null;           // {kind, text} above the board (an ended post)
  var rotaMessage = null;       // {kind, text} above the rota list
  var formMessage = null;       // under the add form
  var importMessage = null;     // {kind, text, lines}
  var liveError = null;
  var rotaError = null;
  // "post:3" or "rota:17": a destructive button waiting for its second tap
  var confirming = Q.secondTap(function () { drawLive(); drawRota(); }, CONFIRM_MS);
  var pollTimer = null;
  var tickTimer = null;
  var busy = false;

  var section = {
    words: WORDS,
    enter: function (s, pageApi) {
      session = s;
      page = pageApi || {};
      generation += 1;
      now = dayBreaks = day = rota = null;
      rotaDay = null;
      message = rotaMessage = formMessage = importMessage = liveError = rotaError = null;
      if (READERS.indexOf(s.role) < 0) { Q.show("#staff-layout", false); return; }
      bind();
      loadLive();
      loadRota();
      clearInterval(tickTimer);
      tickTimer = setInterval(function () { if (session) drawLive(); }, TICK_MS);
    },
    leave: function () {
      session = null;
      generation += 1;
      clearTimeout(pollTimer);
      confirming.reset();
      clearInterval(tickTimer);
      Q.show("#staff-layout", false);
    },
    queue: function (snap, name, delta) {
      // A clerk on post or off it, a break: the hall hears it with `post` (never who).
      if (delta && delta.post) loadLiveSoon();
    },
    draw: function () { drawLive(); drawRota(); }
  };

  function isAdmin() { return !!session && session.role === "admin"; }
  function reader() { return !!session && READERS.indexOf(session.role) >= 0; }

  var bound = false;
  function bind() {
    if (bound || !$("#staff-layout")) return;
    bound = true;
    $("#rota-date").addEventListener("change", function () {
      if (this.value) { rotaDay = this.value; loadRota(); }
    });
    $("#rota-reload").addEventListener("click", function () { loadRota(); loadLive(); });
    $("#rota-form").addEventListener("submit", function (e) { e.preventDefault(); addEntry(); });
    $("#rota-import-form").addEventListener("submit", function (e) { e.preventDefault(); importFile(); });
    $("#rota-list").addEventListener("click", function (e) {
      var button = e.target.closest ? e.target.closest("button[data-remove]") : null;
      if (button) removeEntry(button.getAttribute("data-remove"));
    });
    $("#post-list").addEventListener("click", function (e) {
      var button = e.target.closest ? e.target.closest("button[data-end]") : null;
      if (button) endPost(button.getAttribute("data-end"));
    });
  }

  /* -- refusals in both languages ---------------------------------------- */

  function refusal(err) {
    var data = (err && err.data) || {};
    if (data.error_zh && data.error_en) return data.error_zh + " / " + data.error_en;
    var key = "staff.err." + (err && err.code);
    if (Q.t(key, null, "zh") === key) key = "staff.err.other";
    var detail = err && err.name === "ApiError" && err.message && err.message !== err.code ? err.message : "";
    return detail ? Q.t2(key) + ": " + detail : Q.t2(key);
  }

  /** A column of the rota CSV (a bad line's `field`) as the form names it. */
  var COLUMN_WORDS = { date: "rota.date", username: "rota.who", counter: "rota.counter", start: "rota.start", end: "rota.end" };

  /**
   * The import's bad lines, each whole in each language: "第 3 行（窗口）：没有窗口“7” / line 3 (Counter):
   * there is no counter '7'" (the hub's `problems`; its English `lines` from a hub without them).
   */
  function importLines(data) {
    if (!Array.isArray(data.problems)) return data.lines || [];
    return data.problems.map(function (p) {
      function where(l) {
        var column = COLUMN_WORDS[p.field] ? Q.t(COLUMN_WORDS[p.field], null, l) : "";
        var line = Q.t("rota.line", { line: p.line }, l);
        return l === "zh" ? line + (column ? "（" + column + "）" : "") + "：" : line + (column ? " (" + column + ")" : "") + ": ";
      }
      return where("zh") + p.error_zh + " / " + where("en") + p.error_en;
    });
  }

  function expired(err) {
    if (err && err.code === "unauthorized" && page && page.expire) { page.expire(); return true; }
    return false;
  }

  /* -- reading --------------------------------------------------------- */

  function loadLive() {
    if (!reader()) return;
    clearTimeout(pollTimer);
    var mine = generation;
    Promise.all([
      Q.api("GET", "/staff/now"),
      Q.api("GET", "/staff/breaks"),
      Q.api("GET", "/staff/attendance")
    ]).then(function (all) {
      if (mine !== generation) return;
      now = all[0];
      dayBreaks = all[1];
      day = all[2];
      reasons = now.reasons || [];
      liveError = null;
      if (!rotaDay) rotaDay = now.date;
      drawLive();
    }, function (err) {
      if (mine !== generation || expired(err)) return;
      if (err.code === "forbidden") { Q.show("#staff-layout", false); return; }
      liveError = err;
      drawLive();
    }).then(function () {
      if (mine === generation) pollTimer = setTimeout(loadLive, POLL_MS);
    });
  }

  var loadLiveSoon = Q.debounce(function () { if (session) loadLive(); }, 400);

  function loadRota() {
    if (!reader()) return;
    var mine = generation;
    var path = "/staff/rota" + (rotaDay ? "?date=" + encodeURIComponent(rotaDay) : "");
    Q.api("GET", path).then(function (res) {
      if (mine !== generation) return;
      rota = res;
      rotaDay = res.date;
      rotaError = null;
      drawRota();
    }, function (err) {
      if (mine !== generation || expired(err)) return;
      if (err.code === "forbidden") { Q.show("#staff-layout", false); return; }
      rotaError = err;
      drawRota();
    });
  }

  /* -- acting (admins) --------------------------------------------------- */

  /** A destructive button's first tap arms it for CONFIRM_MS; the second acts. */
  function armed(key) { return confirming.tap(key); }

  function endPost(counter) {
    if (busy || !isAdmin() || !armed("post:" + counter)) return;
    busy = true;
    drawBusy();
    Q.api("POST", "/staff/posts/" + encodeURIComponent(counter) + "/end").then(function (res) {
      message = { kind: "ok", text: Q.t2("staff.ended", { counter: counter, user: res.ended }) };
    }, function (err) {
      if (!expired(err)) message = { kind: "error", text: refusal(err) };
    }).then(function () { busy = false; drawBusy(); loadLive(); });
  }

  function addEntry() {
    if (busy || !isAdmin()) return;
    var body = {
      date: rotaDay,
      username: $("#rota-user").value,
      counter: parseInt($("#rota-counter").value, 10),
      start: ($("#rota-start").value || "").slice(0, 5),
      end: ($("#rota-end").value || "").slice(0, 5)
    };
    if (body.end === "00:00") body.end = "24:00";   // a shift to midnight
    markField(null);
    if (!/^\d\d:\d\d$/.test(body.start) || !/^\d\d:\d\d$/.test(body.end)) {
      formMessage = { kind: "error", text: Q.t2("rota.need_times") };
      return drawRota();
    }
    busy = true;
    drawBusy();
    Q.api("POST", "/staff/rota", body).then(function (res) {
      var e = res.entry;
      formMessage = { kind: "ok", text: Q.t2("rota.added", { user: e.username, counter: e.counter, start: e.start, end: e.end }) };
      loadRota();
      loadLive();
    }, function (err) {
      if (!expired(err)) {
        formMessage = { kind: "error", text: refusal(err) };
        markField(err && err.data && err.data.field);
        drawRota();
      }
    }).then(function () { busy = false; drawBusy(); });
  }

  /** The form's fields a refusal may name (bad_rota's `field`), as the notices form marks its own. */
  var ROTA_FIELDS = { username: "#rota-user", counter: "#rota-counter", start: "#rota-start", end: "#rota-end" };

  /** Mark the field the hub's refusal is about (none: clear every mark). */
  function markField(name) {
    Object.keys(ROTA_FIELDS).forEach(function (key) {
      var input = $(ROTA_FIELDS[key]);
      var bad = key === name;
      input.classList.toggle("invalid", bad);
      if (bad) input.setAttribute("aria-invalid", "true"); else input.removeAttribute("aria-invalid");
    });
  }

  function removeEntry(id) {
    if (busy || !isAdmin() || !armed("rota:" + id)) return;
    busy = true;
    drawBusy();
    Q.api("POST", "/staff/rota/" + encodeURIComponent(id) + "/remove").then(function (res) {
      var e = res.entry;
      rotaMessage = { kind: "ok", text: Q.t2("rota.removed", { user: e.username, counter: e.counter, start: e.start, end: e.end }) };
      loadRota();
      loadLive();
    }, function (err) {
      if (!expired(err)) { rotaMessage = { kind: "error", text: refusal(err) }; loadRota(); }
    }).then(function () { busy = false; drawBusy(); });
  }

  function importFile() {
    if (busy || !isAdmin()) return;
    var input = $("#rota-file");
    var file = input.files && input.files[0];
    if (!file) { importMessage = { kind: "error", text: Q.t2("rota.need_file"), lines: [] }; return drawRota(); }
    var read = new FileReader();
    read.onerror = function () { importMessage = { kind: "error", text: Q.t2("rota.unreadable"), lines: [] }; drawRota(); };
    read.onload = function () {
      busy = true;
      drawBusy();
      Q.api("POST", "/staff/rota/import", { csv: String(read.result || "") }).then(function (res) {
        input.value = "";
        importMessage = { kind: "ok", text: Q.t2("rota.imported", { n: res.imported, days: (res.days || []).join(", ") }), lines: [] };
        if (res.days && res.days.length) rotaDay = res.days[0];
        loadRota();
        loadLive();
      }, function (err) {
        if (expired(err)) return;
        importMessage = { kind: "error", text: refusal(err), lines: importLines(err.data || {}) };
        drawRota();
      }).then(function () { busy = false; drawBusy(); });
    };
    read.readAsText(file, "utf-8");
  }

  /* -- drawing ----------------------------------------------------------- */

  function reasonName(code) {
    var found = null;
    reasons.forEach(function (r) { if (r.code === code) found = r; });
    return found ? Q.name(found) : (code || "");
  }

  /** 3725 seconds → "1:02" (hours:minutes). */
  function hm(seconds) {
    var minutes = Math.floor((seconds || 0) / 60);
    var m = minutes % 60;
    return Math.floor(minutes / 60) + ":" + (m < 10 ? "0" : "") + m;
  }

  function say(el, msg) {
    el.hidden = !msg;
    if (!msg) return;
    el.className = "banner " + msg.kind;
    el.textContent = msg.text;
  }

  function drawLive() {
    if (!reader() || !$("#staff-layout")) return;
    Q.show("#staff-layout", !!now || !!liveError);
    var error = $("#post-error");
    error.hidden = !liveError;
    error.textContent = liveError ? refusal(liveError) : "";
    say($("#post-message"), message);
    // The rota form's counters come from this answer, its clerks from the rota's: whichever of the
    // two arrives last must fill the form (drawn only with the rota, the counters stayed empty when
    // the rota came first).
    drawForm();
    drawPosts();
    drawBreaks();
    drawAttendance();
  }

  function drawPosts() {
    var counters = (now && now.counters) || [];
    Q.show("#post-action-col", isAdmin());
    Q.setHtml($("#post-list"), Q.html`${counters.map(function (c) {
      var planned = (c.planned || []).map(function (e) {
        var at = c.planned_at && c.planned_at[e.username];
        return e.username + " " + e.start + "–" + e.end + (at ? " (" + Q.t("staff.at_counter", { n: at }) + ")" : "");
      }).join("; ");
      var pause = c["break"];
      var arm = confirming.armed("post:" + c.counter);
      return Q.html`<tr data-counter="${c.counter}" data-state="${c.state}">
          <td>${Q.name(c)}</td>
          <td><span class="badge ${c.status}">${Q.t("counter." + c.status)}</span></td>
          <td class="post-planned">${planned || Q.t("staff.nobody")}</td>
          <td class="post-who">${c.on_post
            ? Q.html`<strong>${c.on_post}</strong> <span class="since">${Q.t("staff.since", { time: Q.formatTime(c.post_since) })}</span>`
            : Q.t("staff.nobody")}</td>
          <td class="post-break">${pause
            ? Q.t("staff.break_for", { reason: reasonName(pause.reason), n: Q.minutesSince(pause.since) })
            : ""}</td>
          <td><span class="staffing st-${c.state}">${Q.t("state." + c.state)}</span></td>
          ${isAdmin() ? Q.html`<td>${c.on_post
            ? Q.html`<button type="button" class="staff-button danger${arm ? " confirming" : ""}" data-end="${c.counter}">${Q.t(arm ? "staff.end_confirm" : "staff.end_post")}</button>`
            : ""}</td>` : ""}
        </tr>`;
    })}`);
  }

  function drawBreaks() {
    var list = (dayBreaks && dayBreaks.breaks) || [];
    Q.show("#breaks-empty", !!dayBreaks && list.length === 0);
    Q.show("#breaks-table", list.length > 0);
    Q.setHtml($("#breaks-list"), Q.html`${list.map(function (b) {
      var seconds = b.ended_at ? b.seconds : Math.max(0, (Date.now() - new Date(b.started_at).getTime()) / 1000);
      return Q.html`<tr data-username="${b.username}" data-reason="${b.reason}">
          <td>${b.username}</td>
          <td class="num">${b.counter}</td>
          <td>${reasonName(b.reason)}</td>
          <td>${Q.formatTime(b.started_at)}</td>
          <td>${b.ended_at ? Q.formatTime(b.ended_at) : Q.t("breaks.going")}</td>
          <td class="num">${hm(seconds)}</td>
        </tr>`;
    })}`);
  }

  function drawAttendance() {
    var list = (day && day.clerks) || [];
    Q.show("#attendance-empty", !!day && list.length === 0);
    Q.show("#attendance-table", list.length > 0);
    Q.setHtml($("#attendance-list"), Q.html`${list.map(function (a) {
      var byReason = Object.keys(a.break_seconds || {}).map(function (code) {
        return reasonName(code) + " " + hm(a.break_seconds[code]);
      }).join(", ");
      return Q.html`<tr data-username="${a.username}">
          <td>${a.username}</td>
          <td>${a.first_login ? Q.formatTime(a.first_login) : "—"}</td>
          <td>${a.on_post_now ? Q.t("att.still") : (a.last_logout ? Q.formatTime(a.last_logout) : "—")}</td>
          <td class="num">${hm(a.on_post_seconds)}</td>
          <td>${byReason || "—"}</td>
          <td class="num">${hm(a.working_seconds)}</td>
        </tr>`;
    })}`);
  }

  function drawRota() {
    if (!reader() || !$("#staff-layout")) return;
    var picker = $("#rota-date");
    if (rotaDay && picker.value !== rotaDay) picker.value = rotaDay;
    var error = $("#rota-error");
    error.hidden = !rotaError;
    error.textContent = rotaError ? refusal(rotaError) : "";
    say($("#rota-message"), rotaMessage);
    var entries = (rota && rota.entries) || [];
    Q.show("#rota-empty", !!rota && entries.length === 0);
    Q.show("#rota-table", entries.length > 0);
    Q.show("#rota-action-col", isAdmin());
    Q.setHtml($("#rota-list"), Q.html`${entries.map(function (e) {
      var arm = confirming.armed("rota:" + e.id);
      return Q.html`<tr data-rota-id="${e.id}" data-username="${e.username}" data-counter="${e.counter}">
          <td>${e.username}</td>
          <td class="num">${e.counter}</td>
          <td>${e.start}</td>
          <td>${e.end}</td>
          ${isAdmin() ? Q.html`<td><button type="button" class="staff-button danger${arm ? " confirming" : ""}" data-remove="${e.id}">${Q.t(arm ? "rota.remove_confirm" : "rota.remove")}</button></td>` : ""}
        </tr>`;
    })}`);
    Q.show("#rota-form", isAdmin());
    Q.show("#rota-import-form", isAdmin());
    drawForm();
    var out = $("#rota-import-message");
    out.hidden = !importMessage;
    if (importMessage) {
      out.className = "banner " + importMessage.kind;
      Q.setHtml(out, Q.html`<p class="rota-import-head">${importMessage.text}</p>${importMessage.lines.length
        ? Q.html`<ul id="rota-import-lines" class="rota-import-lines">${importMessage.lines.map(function (line) {
            return Q.html`<li>${line}</li>`;
          })}</ul>`
        : ""}`);
    }
  }

  function drawForm() {
    var users = (rota && rota.users) || [];
    var counters = (now && now.counters) || [];
    keepChoice($("#rota-user"), Q.html`${users.map(function (u) { return Q.html`<option value="${u}">${u}</option>`; })}`);
    keepChoice($("#rota-counter"), Q.html`${counters.map(function (c) {
      return Q.html`<option value="${c.counter}">${Q.name(c)}</option>`;
    })}`);
    say($("#rota-form-message"), formMessage);
  }

  function keepChoice(select, options) {
    var chosen = select.value;
    Q.setHtml(select, options);
    if (chosen) select.value = chosen;
  }

  function drawBusy() {
    Q.each(document.querySelectorAll("#staff-layout button"), function (b) { b.disabled = busy; });
  }

  global.QCallAdminSections = (global.QCallAdminSections || []).concat([section]);
})(window);
