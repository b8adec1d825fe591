/*
 * The audit log section of the admin page (操作记录): who changed what and
 * when, newest first, filterable by action (GET /admin/audit?action=). A
 * settings change is shown as what changed, item by item ("PAY · 中文名称:
 * 电费 → 电费缴纳", "+ counter 4 added"), not as the raw JSON of its detail;
 * other entries show their detail as "key: value".
 *
 * Admins only (the hub answers others 403 and the section stays hidden).
 * Re-read when the settings change here or elsewhere, and on "Reload".
 */
(function (global) {
  "use strict";
  var Q = global.QCall, S = global.QCallSettings, $ = Q.$;

  var WORDS = {
    zh: {
      "audit.title": "操作记录",
      "audit.help": "每一次管理操作：谁、何时、做了什么、从什么改成什么。最新的在前。",
      "audit.filter": "操作类型",
      "audit.all": "全部",
      "audit.reload": "刷新",
      "audit.at": "时间",
      "audit.actor": "操作人",
      "audit.action": "操作",
      "audit.target": "对象",
      "audit.change": "从 → 到",
      "audit.empty": "没有记录。",
      "audit.added": "新增",
      "audit.removed": "删除",
      "audit.none": "（无）",
      "audit.same": "内容未变",
      "audit.version": "第 {version} 版",
      "audit.action.settings.services": "修改业务",
      "audit.action.settings.counters": "修改窗口",
      "audit.action.settings.hours": "修改营业时间",
      "audit.action.settings.priority": "修改优先类别",
      "audit.action.token.create": "创建设备令牌",
      "audit.action.token.revoke": "吊销设备令牌",
      "audit.action.user.add": "添加用户",
      "audit.action.user.disable": "停用用户",
      "audit.action.user.password": "重设密码",
      "audit.action.rota.add": "添加排班",
      "audit.action.rota.remove": "删除排班",
      "audit.action.rota.import": "导入排班",
      "audit.action.post.end": "结束岗位",
      "audit.action.ticket.reprint": "补打号票",
      "audit.action.settings.zones": "修改语音分区",
      "audit.action.settings.devices": "修改设备",
      "audit.action.token.pair": "配对设备",
      "audit.action.token.rotate": "更换设备令牌",
      "audit.action.user.enable": "启用用户",
      "audit.action.user.display_name": "修改显示名",
      "audit.action.auth.password": "修改本人密码",
      "audit.action.device.test": "测试设备",
      "audit.action.notice.create": "发布公告",
      "audit.action.notice.edit": "修改公告",
      "audit.action.notice.withdraw": "撤下公告",
      "audit.action.case.open": "开立事项",
      "audit.action.case.step_done": "完成事项环节",
      "audit.action.case.hand_off": "移交事项",
      "audit.action.case.cancel": "取消事项",
      "audit.action.case.erase_contacts": "清除事项联系人",
      "audit.action.complaint.record": "登记投诉",
      "audit.action.complaint.owner": "指定投诉负责人",
      "audit.action.complaint.note": "投诉备注",
      "audit.action.complaint.return_call": "投诉回访",
      "audit.action.complaint.close": "办结投诉",
      "audit.action.complaint.erase_contacts": "清除投诉电话",
      "audit.action.appointment.create": "新增预约",
      "audit.action.appointment.import": "导入预约",
      "audit.action.appointment.cancel": "取消预约",
      "audit.action.appointment.erase_names": "清除预约姓名",
      "audit.key.kind": "类型",
      "audit.key.title_zh": "标题（中文）",
      "audit.key.title_en": "标题（英文）",
      "audit.key.body_zh": "内容（中文）",
      "audit.key.body_en": "内容（英文）",
      "audit.key.area_zh": "停电区域（中文）",
      "audit.key.area_en": "停电区域（英文）",
      "audit.key.outage_from": "停电开始",
      "audit.key.outage_to": "停电结束",
      "audit.key.starts_at": "开始显示",
      "audit.key.ends_at": "结束显示",
      "audit.key.position": "显示顺序",
      "audit.key.tariff": "价目表",
      "audit.key.withdrawn_at": "撤下时间",
      "audit.key.withdrawn_by": "撤下人",
      "audit.key.created_at": "创建时间",
      "audit.key.created_by": "创建人",
      "audit.key.updated_at": "修改时间",
      "audit.key.updated_by": "修改人",
      "audit.key.state": "状态",
      "audit.key.count": "数量",
      "audit.key.role": "身份",
      "audit.key.display_name": "显示名"
    },
    en: {
      "audit.title": "Audit log",
      "audit.help": "Every administrative change: who, when, what, from what to what. Newest first.",
      "audit.filter": "Action",
      "audit.all": "All",
      "audit.reload": "Reload",
      "audit.at": "When",
      "audit.actor": "Who",
      "audit.action": "What",
      "audit.target": "Target",
      "audit.change": "Before → after",
      "audit.empty": "No entries.",
      "audit.added": "added",
      "audit.removed": "removed",
      "audit.none": "(none)",
      "audit.same": "nothing changed",
      "audit.version": "version {version}",
      "audit.action.settings.services": "Services changed",
      "audit.action.settings.counters": "Counters changed",
      "audit.action.settings.hours": "Hours changed",
      "audit.action.settings.priority": "Priority categories changed",
      "audit.action.token.create": "Device token created",
      "audit.action.token.revoke": "Device token revoked",
      "audit.action.user.add": "User added",
      "audit.action.user.disable": "User disabled",
      "audit.action.user.password": "Password reset",
      "audit.action.rota.add": "Rota entry added",
      "audit.action.rota.remove": "Rota entry removed",
      "audit.action.rota.import": "Rota imported",
      "audit.action.post.end": "Post ended",
      "audit.action.ticket.reprint": "Ticket reprinted",
      "audit.action.settings.zones": "Voice zones changed",
      "audit.action.settings.devices": "Devices changed",
      "audit.action.token.pair": "Device paired",
      "audit.action.token.rotate": "Device token rotated",
      "audit.action.user.enable": "User enabled",
      "audit.action.user.display_name": "Display name changed",
      "audit.action.auth.password": "Own password changed",
      "audit.action.device.test": "Device tested",
      "audit.action.notice.create": "Notice posted",
      "audit.action.notice.edit": "Notice edited",
      "audit.action.notice.withdraw": "Notice withdrawn",
      "audit.action.case.open": "Case opened",
      "audit.action.case.step_done": "Case step done",
      "audit.action.case.hand_off": "Case handed off",
      "audit.action.case.cancel": "Case cancelled",
      "audit.action.case.erase_contacts": "Case contacts erased",
      "audit.action.complaint.record": "Complaint recorded",
      "audit.action.complaint.owner": "Complaint owner set",
      "audit.action.complaint.note": "Complaint note",
      "audit.action.complaint.return_call": "Complaint return call",
      "audit.action.complaint.close": "Complaint closed",
      "audit.action.complaint.erase_contacts": "Complaint phones erased",
      "audit.action.appointment.create": "Appointment added",
      "audit.action.appointment.import": "Appointments imported",
      "audit.action.appointment.cancel": "Appointment cancelled",
      "audit.action.appointment.erase_names": "Appointment names erased",
      "audit.key.kind": "kind",
      "audit.key.title_zh": "title (Chinese)",
      "audit.key.title_en": "title (English)",
      "audit.key.body_zh": "text (Chinese)",
      "audit.key.body_en": "text (English)",
      "audit.key.area_zh": "area (Chinese)",
      "audit.key.area_en": "area (English)",
      "audit.key.outage_from": "power off from",
      "audit.key.outage_to": "power off until",
      "audit.key.starts_at": "shown from",
      "audit.key.ends_at": "shown until",
      "audit.key.position": "order",
      "audit.key.tariff": "tariff",
      "audit.key.withdrawn_at": "withdrawn at",
      "audit.key.withdrawn_by": "withdrawn by",
      "audit.key.created_at": "created at",
      "audit.key.created_by": "created by",
      "audit.key.updated_at": "changed at",
      "audit.key.updated_by": "changed by",
      "audit.key.state": "state",
      "audit.key.count": "count",
      "audit.key.role": "role",
      "audit.key.display_name": "display name"
    }
  };

  /* Every kind the hub writes (grep the server for its audit calls): each has its words above. */
  var KNOWN = ["settings.services", "settings.counters", "settings.hours", "settings.priority",
    "settings.zones", "settings.devices", "token.create", "token.pair", "token.rotate", "token.revoke",
    "user.add", "user.enable", "user.disable", "user.display_name", "user.password", "auth.password",
    "rota.add", "rota.remove", "rota.import", "post.end", "ticket.reprint", "device.test", "notice.create",
    "notice.edit", "notice.withdraw", "case.open", "case.step_done", "case.hand_off", "case.cancel",
    "case.erase_contacts", "complaint.record", "complaint.owner", "complaint.note", "complaint.return_call",
    "complaint.close", "complaint.erase_contacts", "appointment.create", "appointment.import",
    "appointment.cancel", "appointment.erase_names"];
  var LIMIT = 200;
  var KEYS = ["code", "number", "date", "name"];   // what tells the items of a list apart

  var session = null;
  var generation = 0;
  var entries = null;
  var error = null;
  var seen = {};          // actions met in answers: offered in the filter too
  var bound = false;

  function admin() { return !!session && session.role === "admin"; }

  function load() {
    if (!admin()) return;
    var mine = generation;
    var action = $("#audit-action").value;
    var path = "/admin/audit?limit=" + LIMIT + (action ? "&action=" + encodeURIComponent(action) : "");
    Q.api("GET", path).then(function (res) {
      if (mine !== generation) return;
      entries = (res && res.entries) || [];
      entries.forEach(function (e) { seen[e.action] = true; });
      error = null;
      draw();
    }, function (err) {
      if (mine !== generation) return;
      if (err && err.code === "forbidden") { session = null; Q.show("#audit-layout", false); return; }
      error = err;
      draw();
    });
  }

  var loadSoon = Q.debounce(load, 300);

  /* -- before → after, readable ---------------------------------------------- */

  function isObject(v) { return v !== null && typeof v === "object" && !Array.isArray(v); }

  /** The key that tells a list's objects apart, or null (then the list is one value). */
  function listKey(a, b) {
    var all = (a || []).concat(b || []);
    if (!all.length || !all.every(isObject)) return null;
    for (var i = 0; i < KEYS.length; i++) {
      var k = KEYS[i];
      if (all.every(function (x) { return x[k] !== undefined; })) return k;
    }
    return null;
  }

  function same(a, b) { return JSON.stringify(a) === JSON.stringify(b); }

  var NAMING = ["code", "number", "date", "name", "name_zh", "name_en"];

  var ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/;

  /** A value as a person reads it: a moment as the local date and time ("2026-12-05 12:59"). */
  function plain(v) {
    if (typeof v === "string" && ISO_TIME.test(v) && !isNaN(new Date(v).getTime())) {
      return day(v) + " " + Q.formatTime(v, false);
    }
    return String(v);
  }

  /** A field's name in the page's language where the log knows it ("title_zh" → "标题（中文）"). */
  function keyWord(k) {
    var key = "audit.key." + k;
    var word = Q.t(key);
    return word === key ? k : word;
  }

  /** An item in a few words: its key and name first, then its other settings ("TAX 税务办理 (prefix: C)"). */
  function summary(v) {
    if (v === undefined || v === null) return Q.t("audit.none");
    if (Array.isArray(v)) return v.length ? v.map(summary).join(", ") : "[]";
    if (!isObject(v)) return plain(v);
    var head = [v.code, v.number, v.date, v.name].filter(function (x) { return x !== undefined; }).join(" ");
    head = (head + " " + Q.name(v)).trim();
    var rest = Object.keys(v).filter(function (k) {
      var x = v[k];
      return NAMING.indexOf(k) < 0 && x !== null && x !== undefined && !(isObject(x) && !Object.keys(x).length) &&
        !(Array.isArray(x) && !x.length && k !== "hours");
    }).map(function (k) { return keyWord(k) + ": " + summary(v[k]); }).join("; ");
    if (!head) return rest;
    return rest ? head + " (" + rest + ")" : head;
  }

  /** [{path, kind: "changed"|"added"|"removed", before, after}] from `before` to `after`. */
  function changes(before, after, path, out) {
    if (same(before, after)) return out;
    var key = Array.isArray(before) || Array.isArray(after) ? listKey(before, after) : null;
    if (key) {
      var old = {}, now = {};
      (before || []).forEach(function (x) { old[String(x[key])] = x; });
      (after || []).forEach(function (x) { now[String(x[key])] = x; });
      (before || []).forEach(function (x) {
        var k = String(x[key]);
        if (!(k in now)) out.push({ path: path, kind: "removed", before: summary(x) });
        else changes(x, now[k], join(path, k), out);
      });
      (after || []).forEach(function (x) {
        if (!(String(x[key]) in old)) out.push({ path: path, kind: "added", after: summary(x) });
      });
      return out;
    }
    if (before == null && isObject(after)) {   // a new thing (a notice posted): each of its fields
      Object.keys(after).forEach(function (k) {
        if (after[k] !== null && after[k] !== undefined && after[k] !== "") {
          out.push({ path: join(path, k), kind: "set", after: summary(after[k]) });
        }
      });
      return out;
    }
    if (isObject(before) && isObject(after)) {
      var keys = Object.keys(before);
      Object.keys(after).forEach(function (k) { if (keys.indexOf(k) < 0) keys.push(k); });
      keys.forEach(function (k) { changes(before[k], after[k], join(path, k), out); });
      return out;
    }
    out.push({ path: path, kind: "changed", before: summary(before), after: summary(after) });
    return out;
  }

  function join(path, k) { return path ? path + " · " + keyWord(k) : keyWord(k); }

  function drawDetail(e) {
    var d = e.detail || {};
    if ("before" in d || "after" in d) {
      var list = changes(d.before, d.after, "", []);
      return Q.html`${d.version !== undefined ? Q.html`<span class="audit-version">${Q.t("audit.version", { version: d.version })}</span>` : ""}
        <ul class="audit-changes">${list.length ? list.map(function (c) {
          if (c.kind === "added") {
            return Q.html`<li class="added">+ ${Q.t("audit.added")}${c.path ? " (" + c.path + ")" : ""}: <ins>${c.after}</ins></li>`;
          }
          if (c.kind === "removed") {
            return Q.html`<li class="removed">− ${Q.t("audit.removed")}${c.path ? " (" + c.path + ")" : ""}: <del>${c.before}</del></li>`;
          }
          if (c.kind === "set") {
            return Q.html`<li class="added"><span class="audit-path">${c.path}</span>: <ins>${c.after}</ins></li>`;
          }
          return Q.html`<li class="changed">${c.path ? Q.html`<span class="audit-path">${c.path}</span>: ` : ""}<del>${c.before}</del> → <ins>${c.after}</ins></li>`;
        }) : Q.html`<li>${Q.t("audit.same")}</li>`}</ul>`;
    }
    var keys = Object.keys(d);
    return keys.length ? Q.html`<ul class="audit-changes">${keys.map(function (k) {
      return Q.html`<li><span class="audit-path">${keyWord(k)}</span>: ${summary(d[k])}</li>`;
    })}</ul>` : "";
  }

  /** "2026-12-01" in the hall's time zone (QCall.formatDay), beside the time. */
  function day(value) { return Q.formatDay(value); }

  function actionWord(action) {
    var key = "audit.action." + action;
    var word = Q.t(key);
    return word === key ? action : word;
  }

  /* -- drawing --------------------------------------------------------------- */

  function drawFilter() {
    var select = $("#audit-action");
    var chosen = select.value;
    var actions = KNOWN.slice();
    Object.keys(seen).forEach(function (a) { if (actions.indexOf(a) < 0) actions.push(a); });
    Q.setHtml(select, Q.html`<option value="">${Q.t("audit.all")}</option>${actions.map(function (a) {
      return Q.html`<option value="${a}">${actionWord(a)} (${a})</option>`;
    })}`);
    select.value = chosen;
  }

  function draw() {
    if (!$("#audit-layout")) return;
    Q.show("#audit-layout", admin());
    if (!admin()) return;
    drawFilter();
    var out = $("#audit-error");
    out.hidden = !error;
    out.textContent = error ? Q.t2("settings.load_failed") + " — " + S.refusal(error) : "";
    var list = entries || [];
    Q.show("#audit-empty", !!entries && list.length === 0);
    Q.setHtml($("#audit-list"), Q.html`${list.map(function (e) {
      return Q.html`<tr data-action="${e.action}" data-id="${e.id}">
        <td class="audit-at">${day(e.at)} ${Q.formatTime(e.at, true)}</td>
        <td>${e.actor}</td>
        <td>${actionWord(e.action)}${actionWord(e.action) !== e.action ? Q.html`<br><span class="code">${e.action}</span>` : ""}</td>
        <td>${e.target}</td>
        <td class="audit-detail">${drawDetail(e)}</td>
      </tr>`;
    })}`);
  }

  function bind() {
    if (bound || !$("#audit-layout")) return;
    bound = true;
    $("#audit-action").addEventListener("change", load);
    $("#audit-reload").addEventListener("click", load);
  }

  // A save here (or a re-read after another admin's): the log has a new entry.
  S.on(function () { if (admin()) loadSoon(); });

  global.QCallAdminSections = (global.QCallAdminSections || []).concat([{
    words: WORDS,
    enter: function (s) {
      session = s;
      generation += 1;
      entries = null;
      error = null;
      bind();
      draw();
      load();
    },
    leave: function () { session = null; generation += 1; Q.show("#audit-layout", false); },
    draw: draw
  }]);
})(window);
