/*
 * Complaints and suggestions on the admin page (投诉/意见): the list (open, overdue or all; admins and
 * supervisors see every complaint, a clerk those they own: the hub's rights), a complaint's detail
 * with its timeline, and its actions: give it another owner (admins and supervisors), a follow-up
 * note, the return call (回访) with the visitor's satisfaction, and the closure with its result.
 * Overdue ones are marked "逾期 Overdue" in words and colour. 查处率 of the last 30 days heads the list
 * (up to the hub's business day) for admins and supervisors. Re-read on every complaint_changed (the hub's push) and every minute.
 *
 * A section of admin.html: loaded before admin.js, it registers itself in window.QCallAdminSections.
 */
(function (global) {
  "use strict";
  var Q = global.QCall, $ = Q.$;

  var WORDS = {
    zh: {
      "complaints.title": "投诉与意见",
      "complaints.help": "每条投诉须在期限内跟进、回访并办结。联系电话仅管理员、值班长和负责人可见。",
      "complaints.open": "未办结",
      "complaints.overdue": "逾期",
      "complaints.all": "全部",
      "complaints.due": "期限",
      "complaints.category": "类别",
      "complaints.ticket": "号票",
      "complaints.clerk": "涉及人员",
      "complaints.owner": "负责人",
      "complaints.status": "状态",
      "complaints.empty": "没有投诉",
      "complaints.detail": "投诉详情",
      "complaints.timeline": "处理经过",
      "complaints.new_owner": "改派负责人（用户名）",
      "complaints.assign": "改派",
      "complaints.note": "跟进记录",
      "complaints.add_note": "添加记录",
      "complaints.return_call": "回访：投诉人对处理是否满意",
      "complaints.satisfied": "满意",
      "complaints.basically": "基本满意",
      "complaints.dissatisfied": "不满意",
      "complaints.call_note": "回访记录（可不填）",
      "complaints.record_call": "记录回访",
      "complaints.result": "处理结果",
      "complaints.close": "办结",
      "complaints.state.open": "处理中",
      "complaints.state.closed": "已办结",
      "complaints.state.overdue": "逾期",
      "complaints.nobody": "未指派",
      "complaints.text": "内容",
      "complaints.phone": "联系电话",
      "complaints.channel": "来源",
      "complaints.channel.counter": "窗口",
      "complaints.channel.kiosk": "自助机",
      "complaints.channel.phone": "手机",
      "complaints.recorded": "登记时间",
      "complaints.called": "回访",
      "complaints.closed_result": "办结结果",
      "complaints.ev.recorded": "登记",
      "complaints.ev.note": "跟进",
      "complaints.ev.owner": "改派",
      "complaints.ev.return_call": "回访",
      "complaints.ev.closed": "办结",
      "complaints.figures": "近 30 天：登记 {recorded}，办结 {closed}，回访后办结 {handled}，查处率 {rate}，办结用时中位 {p50} 个工作日，逾期未办 {late}",
      "complaints.choose_satisfaction": "请选择投诉人是否满意",
      "complaints.need_text": "请填写内容",
      "complaints.saved": "已保存",
      "complaints.error": "无法读取投诉：{error}"
    },
    en: {
      "complaints.title": "Complaints and suggestions",
      "complaints.help": "Each complaint is followed up, called back and closed within its deadline. The contact phone is for admins, supervisors and the owner only.",
      "complaints.open": "Open",
      "complaints.overdue": "Overdue",
      "complaints.all": "All",
      "complaints.due": "Due",
      "complaints.category": "Category",
      "complaints.ticket": "Ticket",
      "complaints.clerk": "Clerk concerned",
      "complaints.owner": "Owner",
      "complaints.status": "Status",
      "complaints.empty": "No complaints",
      "complaints.detail": "Complaint",
      "complaints.timeline": "Timeline",
      "complaints.new_owner": "New owner (user name)",
      "complaints.assign": "Reassign",
      "complaints.note": "Follow-up note",
      "complaints.add_note": "Add note",
      "complaints.return_call": "Return call: is the visitor satisfied with the handling?",
      "complaints.satisfied": "Satisfied",
      "complaints.basically": "Basically satisfied",
      "complaints.dissatisfied": "Dissatisfied",
      "complaints.call_note": "Call note (optional)",
      "complaints.record_call": "Record the return call",
      "complaints.result": "Result",
      "complaints.close": "Close",
      "complaints.state.open": "In hand",
      "complaints.state.closed": "Closed",
      "complaints.state.overdue": "Overdue",
      "complaints.nobody": "unassigned",
      "complaints.text": "Text",
      "complaints.phone": "Contact phone",
      "complaints.channel": "Recorded at",
      "complaints.channel.counter": "counter",
      "complaints.channel.kiosk": "kiosk",
      "complaints.channel.phone": "phone",
      "complaints.recorded": "Recorded",
      "complaints.called": "Return call",
      "complaints.closed_result": "Result",
      "complaints.ev.recorded": "Recorded",
      "complaints.ev.note": "Note",
      "complaints.ev.owner": "Reassigned",
      "complaints.ev.return_call": "Return call",
      "complaints.ev.closed": "Closed",
      "complaints.figures": "Last 30 days: {recorded} recorded, {closed} closed, {handled} closed after a return call, handled rate {rate}, median closure {p50} working days, {late} overdue open",
      "complaints.choose_satisfaction": "Choose whether the visitor is satisfied",
      "complaints.need_text": "Please fill it in",
      "complaints.saved": "Saved",
      "complaints.error": "Cannot read the complaints: {error}"
    }
  };

  var READERS = ["admin", "supervisor"];
  var POLL_MS = 60000;   // overdue turns at midnight; the watch's push comes first, this is the backstop
  var session = null;
  var page = null;
  var which = "open";
  var today = null;      // the hub's business day (YYYY-MM-DD), from the snapshot: the figures' last day
  var list = null;
  var categories = {};
  var figures = null;
  var chosen = null;     // the detail shown: {complaint, events}
  var error = null;
  var pollTimer = null;
  var generation = 0;
  var wired = false;

  var section = {
    words: WORDS,
    enter: function (s, pageApi) {
      session = s;
      page = pageApi || {};
      generation += 1;
      list = null;
      chosen = null;
      today = null;
      wire();
      var allowed = s.role === "staff" || READERS.indexOf(s.role) >= 0;
      Q.show("#complaints-layout", allowed);
      Q.show("#complaint-detail", false);
      if (allowed) load();
    },
    leave: function () {
      session = null;
      generation += 1;
      clearTimeout(pollTimer);
      Q.show("#complaints-layout", false);
    },
    snapshot: function (snap) {
      var first = !today;
      if (snap && snap.business_day) today = snap.business_day;
      if (first && today) load();
    },
    complaint: function () { loadSoon(); },
    draw: draw
  };

  function wire() {
    if (wired || !$("#complaints-layout")) return;
    wired = true;
    Q.each(document.querySelectorAll("#complaints-panel .filter"), function (btn) {
      btn.addEventListener("click", function () {
        which = btn.getAttribute("data-status");
        Q.each(document.querySelectorAll("#complaints-panel .filter"), function (b) {
          b.setAttribute("aria-pressed", b === btn ? "true" : "false");
        });
        load();
      });
    });
    $("#complaint-owner-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var owner = $("#complaint-owner").value.trim();
      if (!owner) return message("error", Q.t2("complaints.need_text"));
      act("owner", { owner: owner });
    });
    $("#complaint-note-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var note = $("#complaint-note").value.trim();
      if (!note) return message("error", Q.t2("complaints.need_text"));
      act("notes", { note: note });
    });
    $("#complaint-call-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var picked = document.querySelector("input[name=complaint-satisfaction]:checked");
      if (!picked) return message("error", Q.t2("complaints.choose_satisfaction"));
      var body = { satisfaction: picked.value };
      var note = $("#complaint-call-note").value.trim();
      if (note) body.note = note;
      act("return-call", body);
    });
    $("#complaint-close-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var result = $("#complaint-result").value.trim();
      if (!result) return message("error", Q.t2("complaints.need_text"));
      act("close", { result: result });
    });
  }

  function reader() { return session && READERS.indexOf(session.role) >= 0; }

  function load() {
    if (!session) return;
    clearTimeout(pollTimer);
    var mine = generation;
    var reads = [Q.api("GET", "/complaints?status=" + encodeURIComponent(which))];
    if (reader() && today) {
      reads.push(Q.api("GET", "/complaints/figures?from=" + daysBefore(today, 29) + "&to=" + today));
    }
    Promise.all(reads).then(function (answers) {
      if (mine !== generation) return;
      list = answers[0];
      figures = answers[1] || null;
      categories = {};
      (list.categories || []).forEach(function (c) { categories[c.code] = c; });
      error = null;
      if (chosen) return open(chosen.complaint.id);
    }, function (err) {
      if (mine !== generation) return;
      if (err.code === "unauthorized" && page.expire) return page.expire();
      error = err;
    }).then(function () {
      if (mine !== generation) return;
      draw();
      pollTimer = setTimeout(load, POLL_MS);
    });
  }

  var loadSoon = Q.debounce(load, 500);

  /** The day `n` days before `day` (YYYY-MM-DD, the hub's business day: not this PC's date). */
  function daysBefore(day, n) {
    var d = new Date(day + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() - n);
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate());
  }
  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function open(id) {
    var mine = generation;
    return Q.api("GET", "/complaints/" + encodeURIComponent(id)).then(function (answer) {
      if (mine !== generation) return;
      chosen = answer;
      drawDetail();
    }, function (err) { message("error", refusal(err)); });
  }

  function act(path, body) {
    if (!chosen) return;
    var buttons = document.querySelectorAll("#complaint-actions button");
    Q.each(buttons, function (b) { b.disabled = true; });
    Q.api("POST", "/complaints/" + encodeURIComponent(chosen.complaint.id) + "/" + path, body).then(function () {
      Q.each(document.querySelectorAll("#complaint-actions form"), function (f) { f.reset(); });
      message("ok", Q.t2("complaints.saved"));
      return open(chosen.complaint.id).then(load);
    }, function (err) {
      if (err.code === "unauthorized" && page.expire) return page.expire();
      message("error", refusal(err));
    }).then(function () { Q.each(buttons, function (b) { b.disabled = false; }); });
  }

  function refusal(err) {
    var data = err && err.data;
    if (data && data.error_zh && data.error_en) return data.error_zh + " / " + data.error_en;
    return Q.errorText(err, "zh") + " / " + Q.errorText(err, "en");
  }

  function message(kind, text) {
    var el = $("#complaint-message");
    el.className = "banner " + kind;
    el.textContent = text;
    Q.show(el, !!text);
  }

  function categoryName(code) { return categories[code] ? Q.name(categories[code]) : code; }

  function state(c) {
    if (c.overdue) return Q.html`<span class="complaint-overdue">${Q.t("complaints.state.overdue")}</span>`;
    return Q.t("complaints.state." + c.status);
  }

  function draw() {
    if (!session || !$("#complaints-panel")) return;
    var failed = $("#complaints-error");
    failed.hidden = !error;
    failed.textContent = error ? Q.t("complaints.error", { error: Q.errorText(error) }) : "";
    if (figures) {
      $("#complaints-figures").textContent = Q.t("complaints.figures", {
        recorded: figures.recorded, closed: figures.closed, handled: figures.handled,
        rate: figures.handled_rate === null ? "—" : figures.handled_rate + "%",
        p50: figures.closure_working_days.p50 === null ? "—" : figures.closure_working_days.p50,
        late: figures.overdue_open
      });
    }
    if (!list) return;
    var rows = list.complaints || [];
    Q.show("#complaints-empty", rows.length === 0);
    Q.setHtml($("#complaints-list"), Q.html`${rows.map(function (c) {
      return Q.html`<tr data-id="${c.id}" class="${c.overdue ? "overdue" : ""}" tabindex="0">
          <td>${c.due_on}</td><td>${categoryName(c.category)}</td><td>${c.ticket_number || "—"}</td>
          <td>${c.clerk || "—"}</td><td>${c.owner || Q.t("complaints.nobody")}</td><td>${state(c)}</td>
        </tr>`;
    })}`);
    Q.each(document.querySelectorAll("#complaints-list tr"), function (tr) {
      var pick = function () { message("", ""); open(tr.getAttribute("data-id")); };
      tr.addEventListener("click", pick);
      tr.addEventListener("keydown", function (ev) { if (ev.key === "Enter") pick(); });
    });
    drawDetail();
  }

  function drawDetail() {
    var shown = !!(session && chosen);
    Q.show("#complaint-detail", shown);
    if (!shown) return;
    var c = chosen.complaint;
    var call = c.return_call;
    Q.setHtml($("#complaint-facts"), Q.html`
      <dt>${Q.t("complaints.category")}</dt><dd>${categoryName(c.category)}</dd>
      <dt>${Q.t("complaints.status")}</dt><dd class="complaint-state">${state(c)}</dd>
      <dt>${Q.t("complaints.due")}</dt><dd>${c.due_on}</dd>
      <dt>${Q.t("complaints.text")}</dt><dd class="complaint-text">${c.text}</dd>
      <dt>${Q.t("complaints.channel")}</dt><dd>${Q.t("complaints.channel." + c.channel)}</dd>
      <dt>${Q.t("complaints.recorded")}</dt><dd>${Q.formatTime(c.recorded_at)} ${c.recorded_by}</dd>
      <dt>${Q.t("complaints.ticket")}</dt><dd>${c.ticket_number || "—"}</dd>
      <dt>${Q.t("complaints.clerk")}</dt><dd>${c.clerk || "—"}</dd>
      <dt>${Q.t("complaints.owner")}</dt><dd class="complaint-owner">${c.owner || Q.t("complaints.nobody")}</dd>
      <dt>${Q.t("complaints.phone")}</dt><dd>${c.contact_phone || "—"}</dd>
      <dt>${Q.t("complaints.called")}</dt><dd>${call ? Q.t("complaints." + (call.satisfaction === "basically_satisfied" ? "basically" : call.satisfaction)) + " · " + call.by : "—"}</dd>
      <dt>${Q.t("complaints.closed_result")}</dt><dd>${c.result || "—"}</dd>`);
    Q.setHtml($("#complaint-timeline"), Q.html`${chosen.events.map(function (e) {
      var said = e.detail.note || e.detail.result || (e.kind === "owner" ? (e.detail.from || "—") + " → " + e.detail.to : "");
      return Q.html`<li data-kind="${e.kind}"><strong>${Q.t("complaints.ev." + e.kind)}</strong>
        ${Q.formatTime(e.at)} · ${e.actor}${said ? Q.html` — ${said}` : ""}</li>`;
    })}`);
    var open = c.status === "open";
    Q.show("#complaint-actions", open);
    Q.show("#complaint-owner-form", open && reader());
  }

  global.QCallAdminSections = (global.QCallAdminSections || []).concat([section]);
})(window);
