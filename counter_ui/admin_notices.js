/*
 * Notices on the admin page (公告, issue 14): the list (showing now,
 * scheduled, expired or withdrawn) and one form for every kind: a plain
 * notice, a tariff (a table editor: bilingual headings, rows of cells), a
 * planned power cut (area, from, to), the hotline's line. Start and end in
 * the hall's time; the end left empty is the start + `[notices] default_days`,
 * shown beside the field. Withdraw takes a second tap on the same button.
 *
 * Admins and supervisors (the hub's rights: GET/POST/PUT /admin/notices,
 * POST /admin/notices/{id}/withdraw). A refusal is shown on the form as
 * "中文 / English" (the hub's `error_zh`/`error_en`) with its field marked;
 * nothing was saved. The list is read again on `notices_changed` (a change
 * from another admin, or a start or end by the schedule).
 *
 * A section of admin.html: loaded before admin.js, it registers itself in
 * window.QCallAdminSections.
 */
(function (global) {
  "use strict";
  var Q = global.QCall, $ = Q.$;

  var WORDS = {
    zh: {
      "notices.title": "公告",
      "notices.help": "大厅屏幕和取号机显示的公告、价目表、停电计划和服务热线。不填结束时间则按默认天数结束。",
      "notices.filter.current": "显示中",
      "notices.filter.scheduled": "待显示",
      "notices.filter.expired": "已结束",
      "notices.filter.all": "全部",
      "notices.state.current": "显示中",
      "notices.state.scheduled": "待显示",
      "notices.state.expired": "已结束",
      "notices.state.withdrawn": "已撤下",
      "notices.kind.notice": "公告",
      "notices.kind.tariff": "价目表",
      "notices.kind.outage": "停电计划",
      "notices.kind.hotline": "服务热线",
      "notices.col.state": "状态",
      "notices.col.kind": "类型",
      "notices.col.title": "标题",
      "notices.col.when": "显示时间",
      "notices.col.by": "发布人",
      "notices.edit": "修改",
      "notices.withdraw": "撤下",
      "notices.confirm": "再点一次撤下",
      "notices.empty": "没有公告",
      "notices.form.new": "发布公告",
      "notices.form.edit": "修改公告 #{id}",
      "notices.form.kind": "类型",
      "notices.form.title_zh": "标题（中文）",
      "notices.form.title_en": "标题（英文）",
      "notices.form.body_zh": "内容（中文）",
      "notices.form.body_en": "内容（英文）",
      "notices.form.area_zh": "停电区域（中文）",
      "notices.form.area_en": "停电区域（英文）",
      "notices.form.outage_from": "停电开始",
      "notices.form.outage_to": "停电结束",
      "notices.form.starts_at": "开始显示",
      "notices.form.ends_at": "结束显示",
      "notices.form.position": "显示顺序",
      "notices.form.default_end": "不填则为开始后 {n} 天：{when}",
      "notices.form.now": "不填则为现在",
      "notices.form.tariff": "价目表",
      "notices.form.add_column": "加一列",
      "notices.form.add_row": "加一行",
      "notices.form.remove": "删",
      "notices.form.heading_zh": "列标题（中文）",
      "notices.form.heading_en": "列标题（英文）",
      "notices.form.post": "发布",
      "notices.form.save": "保存",
      "notices.form.cancel": "取消修改",
      "notices.saved": "已保存",
      "notices.error": "无法读取公告：{error}"
    },
    en: {
      "notices.title": "Notices",
      "notices.help": "Notices, tariffs, planned power cuts and the hotline on the lobby screens and kiosks. Without an end, a notice ends after the default number of days.",
      "notices.filter.current": "Showing",
      "notices.filter.scheduled": "Scheduled",
      "notices.filter.expired": "Ended",
      "notices.filter.all": "All",
      "notices.state.current": "showing",
      "notices.state.scheduled": "scheduled",
      "notices.state.expired": "ended",
      "notices.state.withdrawn": "withdrawn",
      "notices.kind.notice": "Notice",
      "notices.kind.tariff": "Tariff",
      "notices.kind.outage": "Power cut",
      "notices.kind.hotline": "Hotline",
      "notices.col.state": "State",
      "notices.col.kind": "Kind",
      "notices.col.title": "Title",
      "notices.col.when": "Shown",
      "notices.col.by": "Posted by",
      "notices.edit": "Edit",
      "notices.withdraw": "Withdraw",
      "notices.confirm": "Tap again to withdraw",
      "notices.empty": "No notices",
      "notices.form.new": "Post a notice",
      "notices.form.edit": "Edit notice #{id}",
      "notices.form.kind": "Kind",
      "notices.form.title_zh": "Title (Chinese)",
      "notices.form.title_en": "Title (English)",
      "notices.form.body_zh": "Text (Chinese)",
      "notices.form.body_en": "Text (English)",
      "notices.form.area_zh": "Area (Chinese)",
      "notices.form.area_en": "Area (English)",
      "notices.form.outage_from": "Power off from",
      "notices.form.outage_to": "Power back at",
      "notices.form.starts_at": "Show from",
      "notices.form.ends_at": "Show until",
      "notices.form.position": "Display order",
      "notices.form.default_end": "Empty: {n} days after the start: {when}",
      "notices.form.now": "Empty: now",
      "notices.form.tariff": "Tariff table",
      "notices.form.add_column": "Add a column",
      "notices.form.add_row": "Add a row",
      "notices.form.remove": "Del",
      "notices.form.heading_zh": "Heading (Chinese)",
      "notices.form.heading_en": "Heading (English)",
      "notices.form.post": "Post",
      "notices.form.save": "Save",
      "notices.form.cancel": "Cancel edit",
      "notices.saved": "Saved",
      "notices.error": "Cannot read the notices: {error}"
    }
  };

  var MANAGERS = ["admin", "supervisor"];
  var session = null;
  var page = null;
  var list = null;            // the last GET /admin/notices
  var error = null;
  var filter = "current";
  var editing = null;         // the id of the notice in the form, or null for a new one
  var armed = null;           // the notice whose withdraw button was tapped once
  var columns = [];           // the tariff editor: [{zh, en}]
  var rows = [];              // [[cell, …]]
  var generation = 0;
  var wired = false;

  var section = {
    words: WORDS,
    enter: function (s, pageApi) {
      session = s;
      page = pageApi || {};
      generation += 1;
      var mine = MANAGERS.indexOf(s.role) >= 0;
      Q.show("#notices-layout", mine);
      if (!mine) { session = null; return; }
      wire();
      resetForm();
      load();
    },
    leave: function () {
      session = null;
      generation += 1;
      Q.show("#notices-layout", false);
    },
    notices: function () { loadSoon(); },
    draw: draw
  };

  function wire() {
    if (wired) return;
    wired = true;
    Array.prototype.forEach.call(document.querySelectorAll("#notices-filter .filter"), function (b) {
      b.addEventListener("click", function () { filter = b.getAttribute("data-state"); draw(); });
    });
    $("#notice-kind").addEventListener("change", drawKind);
    $("#notice-starts").addEventListener("change", drawDefaultEnd);
    $("#notice-form").addEventListener("submit", function (e) { e.preventDefault(); submit(); });
    $("#notice-cancel").addEventListener("click", resetForm);
    $("#notice-add-column").addEventListener("click", function () {
      readTariff();
      if (columns.length >= 6) return;
      columns.push({ zh: "", en: "" });
      rows.forEach(function (r) { r.push(""); });
      drawTariff();
    });
    $("#notice-add-row").addEventListener("click", function () {
      readTariff();
      if (rows.length >= 20) return;
      rows.push(columns.map(function () { return ""; }));
      drawTariff();
    });
    $("#notice-tariff").addEventListener("click", function (e) {
      var b = e.target.closest && e.target.closest("[data-remove-row]");
      if (!b) return;
      readTariff();
      rows.splice(Number(b.getAttribute("data-remove-row")), 1);
      drawTariff();
    });
    $("#notices-list").addEventListener("click", function (e) {
      var b = e.target.closest && e.target.closest("button[data-action]");
      if (!b) return;
      var id = Number(b.getAttribute("data-id"));
      if (b.getAttribute("data-action") === "edit") edit(id);
      else withdraw(id);
    });
  }

  function load() {
    if (!session) return;
    var mine = generation;
    Q.api("GET", "/admin/notices").then(function (res) {
      if (mine !== generation) return;
      list = res;
      error = null;
    }, function (err) {
      if (mine !== generation) return;
      if (err.code === "unauthorized" && page.expire) return page.expire();
      error = err;
    }).then(function () {
      if (mine !== generation) return;
      draw();
      drawDefaultEnd();
    });
  }

  var loadSoon = Q.debounce(load, 300);

  /* -- the hall's time: inputs show and send it (the hub reads a time without an offset so) -- */

  function hallParts(iso) {
    var d = new Date(iso);
    try {
      // "sv-SE" writes 2026-12-01 09:00:00: the ISO shape, in the hall's zone.
      return new Intl.DateTimeFormat("sv-SE", {
        timeZone: (list && list.timezone) || undefined,
        year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false
      }).format(d).replace(" ", "T");
    } catch (e) {
      return iso.slice(0, 16);
    }
  }

  function hallText(iso) { return iso ? hallParts(iso).replace("T", " ") : ""; }

  /* -- the list -- */

  function shown(n) {
    if (filter === "all") return true;
    if (filter === "expired") return n.state === "expired" || n.state === "withdrawn";
    return n.state === filter;
  }

  function draw() {
    if (!session || !$("#notices-panel")) return;
    var failed = $("#notices-error");
    failed.hidden = !error;
    failed.textContent = error ? Q.t("notices.error", { error: Q.errorText(error) }) : "";
    Array.prototype.forEach.call(document.querySelectorAll("#notices-filter .filter"), function (b) {
      b.setAttribute("aria-pressed", String(b.getAttribute("data-state") === filter));
    });
    if (!list) return;
    var items = list.notices.filter(shown);
    $("#notices-empty").hidden = items.length > 0;
    Q.setHtml($("#notices-list"), Q.html`${items.map(function (n) {
      var open = n.state === "current" || n.state === "scheduled";
      return Q.html`<tr data-notice="${n.id}" data-state="${n.state}">
          <td><span class="notice-state notice-${n.state}">${Q.t("notices.state." + n.state)}</span></td>
          <td>${Q.t("notices.kind." + n.kind)}</td>
          <td>${n.title_zh}${n.title_zh && n.title_en ? " / " : ""}${n.title_en}</td>
          <td class="notice-when">${hallText(n.starts_at)} – ${hallText(n.ends_at)}</td>
          <td>${n.updated_by}</td>
          <td class="notice-actions">${open ? Q.html`
            <button type="button" class="appt-button" data-action="edit" data-id="${n.id}">${Q.t("notices.edit")}</button>
            <button type="button" class="appt-cancel" data-action="withdraw" data-id="${n.id}">${Q.t(armed === n.id ? "notices.confirm" : "notices.withdraw")}</button>` : ""}</td>
        </tr>`;
    })}`);
    $("#notice-form-title").textContent = editing ? Q.t("notices.form.edit", { id: editing }) : Q.t("notices.form.new");
    $("#notice-submit").textContent = Q.t(editing ? "notices.form.save" : "notices.form.post");
    $("#notice-cancel").hidden = !editing;
    drawDefaultEnd();
  }

  /* -- the form -- */

  function resetForm() {
    editing = null;
    $("#notice-form").reset();
    columns = [{ zh: "档位", en: "Tier" }, { zh: "价格", en: "Price" }];
    rows = [["", ""]];
    message(null);
    drawTariff();
    drawKind();
    draw();
  }

  function edit(id) {
    var n = ((list && list.notices) || []).filter(function (x) { return x.id === id; })[0];
    if (!n) return;
    editing = id;
    armed = null;
    message(null);
    $("#notice-kind").value = n.kind;
    ["title_zh", "title_en", "body_zh", "body_en", "area_zh", "area_en"].forEach(function (k) { field(k).value = n[k] || ""; });
    field("outage_from").value = n.outage_from ? hallParts(n.outage_from) : "";
    field("outage_to").value = n.outage_to ? hallParts(n.outage_to) : "";
    field("starts_at").value = hallParts(n.starts_at);
    field("ends_at").value = hallParts(n.ends_at);
    field("position").value = String(n.position || 0);
    columns = n.tariff ? n.tariff.columns.map(function (c) { return { zh: c.zh, en: c.en }; }) : [{ zh: "", en: "" }];
    rows = n.tariff ? n.tariff.rows.map(function (r) { return r.slice(); }) : [[""]];
    drawTariff();
    drawKind();
    draw();
    $("#notice-form").scrollIntoView && $("#notice-form").scrollIntoView();
  }

  function field(name) { return $("#notice-form [name='" + name + "']"); }

  function drawKind() {
    var kind = $("#notice-kind").value;
    Q.show("#notice-tariff-fields", kind === "tariff");
    Q.show("#notice-outage-fields", kind === "outage");
  }

  function drawDefaultEnd() {
    if (!list || !$("#notice-default-end")) return;
    var start = field("starts_at").value;
    var from = start ? null : new Date(list.now);
    var end = from ? new Date(from.getTime() + list.default_days * 86400000) : null;
    var text = start
      ? Q.t("notices.form.default_end", { n: list.default_days, when: plusDays(start, list.default_days) })
      : Q.t("notices.form.default_end", { n: list.default_days, when: hallText(end.toISOString()) });
    $("#notice-default-end").textContent = text;
    $("#notice-default-start").textContent = Q.t("notices.form.now");
  }

  /** "2026-12-05T10:00" (the hall's wall clock) + n days, worked out: "2026-12-08 10:00". */
  function plusDays(local, n) {
    var m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(local);
    if (!m) return local.replace("T", " ");
    var d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3] + n, +m[4], +m[5]));
    return d.toISOString().slice(0, 16).replace("T", " ");
  }

  /** A field as the form labels it ("标题（中文）"), for a refusal; the key where the form has no label. */
  function fieldLabel(name) {
    var key = "notices.form." + name.split(".")[0];
    var text = Q.t(key);
    return text === key ? name : text;
  }

  function drawTariff() {
    Q.setHtml($("#notice-tariff"), Q.html`<thead><tr>${columns.map(function (c, i) {
      return Q.html`<th><input data-col="${i}" data-lang="zh" maxlength="20" value="${c.zh}" aria-label="${Q.t("notices.form.heading_zh")}">
        <input data-col="${i}" data-lang="en" maxlength="40" value="${c.en}" aria-label="${Q.t("notices.form.heading_en")}"></th>`;
    })}<th></th></tr></thead><tbody>${rows.map(function (r, i) {
      return Q.html`<tr>${r.map(function (cell, j) {
        return Q.html`<td><input data-row="${i}" data-cell="${j}" maxlength="40" value="${cell}"></td>`;
      })}<td><button type="button" class="appt-cancel" data-remove-row="${i}">${Q.t("notices.form.remove")}</button></td></tr>`;
    })}</tbody>`);
  }

  function readTariff() {
    Array.prototype.forEach.call(document.querySelectorAll("#notice-tariff input[data-col]"), function (input) {
      columns[Number(input.getAttribute("data-col"))][input.getAttribute("data-lang")] = input.value;
    });
    Array.prototype.forEach.call(document.querySelectorAll("#notice-tariff input[data-row]"), function (input) {
      rows[Number(input.getAttribute("data-row"))][Number(input.getAttribute("data-cell"))] = input.value;
    });
  }

  function body() {
    var kind = $("#notice-kind").value;
    var out = { kind: kind, position: Number(field("position").value || 0) };
    ["title_zh", "title_en", "body_zh", "body_en"].forEach(function (k) { out[k] = field(k).value; });
    ["starts_at", "ends_at"].forEach(function (k) { if (field(k).value) out[k] = field(k).value; });
    if (kind === "outage") {
      out.area_zh = field("area_zh").value;
      out.area_en = field("area_en").value;
      out.outage_from = field("outage_from").value || null;
      out.outage_to = field("outage_to").value || null;
    }
    if (kind === "tariff") {
      readTariff();
      // Rows left wholly empty are not sent: an editor's spare row is no refusal.
      out.tariff = { columns: columns, rows: rows.filter(function (r) { return r.some(function (c) { return c.trim(); }); }) };
    }
    return out;
  }

  function submit() {
    var mine = generation;
    var sent = editing ? Q.api("PUT", "/admin/notices/" + editing, body()) : Q.api("POST", "/admin/notices", body());
    message(null);
    sent.then(function () {
      if (mine !== generation) return;
      resetForm();
      message({ ok: true, text: Q.t("notices.saved") + " / " + WORDS.en["notices.saved"] });
      load();
    }, function (err) {
      if (mine !== generation) return;
      if (err.code === "unauthorized" && page.expire) return page.expire();
      message({ ok: false, err: err });
    });
  }

  function withdraw(id) {
    if (armed !== id) { armed = id; draw(); return; }
    armed = null;
    var mine = generation;
    Q.api("POST", "/admin/notices/" + id + "/withdraw", {}).then(function () {
      if (mine === generation) load();
    }, function (err) {
      if (mine !== generation) return;
      message({ ok: false, err: err });
      load();
    });
  }

  /** A refusal on the form in both languages, its field marked; or a quiet "saved". */
  function message(m) {
    var el = $("#notice-message");
    Array.prototype.forEach.call(document.querySelectorAll("#notice-form .invalid"), function (x) {
      x.classList.remove("invalid");
      x.removeAttribute("aria-invalid");
    });
    if (!el) return;
    el.hidden = !m;
    if (!m) return;
    el.classList.toggle("error", !m.ok);
    if (m.ok) { el.textContent = m.text; return; }
    var err = m.err;
    var detail = err.data || {};
    var zh = detail.error_zh || Q.errorText(err);
    var en = detail.error_en || err.message || "";
    var name = detail.field || ((/^'([a-z_]+)/.exec(err.message || "") || [])[1]);
    el.textContent = (name ? fieldLabel(name) + (Q.lang() === "zh" ? "：" : ": ") : "") + zh + (en && en !== zh ? " / " + en : "");
    var input = name && field(name.split(".")[0]);
    if (input) { input.classList.add("invalid"); input.setAttribute("aria-invalid", "true"); input.focus(); }
    else if (name && name.indexOf("tariff") === 0) $("#notice-tariff").classList.add("invalid");
  }

  global.QCallAdminSections = (global.QCallAdminSections || []).concat([section]);
})(window);
