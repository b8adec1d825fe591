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
      "audit.action.ticket.reprint": "补打号票"
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
      "audit.action.ticket.reprint": "Ticket reprinted"
    }
  };

  var KNOWN = ["settings.services", "settings.counters", "settings.hours", "settings.priority", "token.create",
    "token.revoke", "user.add", "user.disable", "user.password", "rota.add", "rota.remove", "rota.import",
    "post.end", "ticket.reprint"];
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

  /** An item in a few words: its key and name first, then its other settings ("TAX 税务办理 (prefix: C)"). */
  function summary(v) {
    if (v === undefined || v === null) return Q.t("audit.none");
    if (Array.isArray(v)) return v.length ? v.map(summary).join(", ") : "[]";
    if (!isObject(v)) return String(v);
    var head = [v.code, v.number, v.date, v.name].filter(function (x) { return x !== undefined; }).join(" ");
    head = (head + " " + Q.name(v)).trim();
    var rest = Object.keys(v).filter(function (k) {
      var x = v[k];
      return NAMING.indexOf(k) < 0 && x !== null && x !== undefined && !(isObject(x) && !Object.keys(x).length) &&
        !(Array.isArray(x) && !x.length && k !== "hours");
    }).map(function (k) { return k + ": " + summary(v[k]); }).join("; ");
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
    if (isObject(before) && isObject(after)) {
      var keys = Object.keys(before);
      Object.keys(after).forEach(function (k) { if (keys.indexOf(k) < 0) keys.push(k); });
      keys.forEach(function (k) { changes(before[k], after[k], join(path, k), out); });
      return out;
    }
    out.push({ path: path, kind: "changed", before: summary(before), after: summary(after) });
    return out;
  }

  function join(path, k) { return path ? path + " · " + k : k; }

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
          return Q.html`<li class="changed">${c.path ? Q.html`<span class="audit-path">${c.path}</span>: ` : ""}<del>${c.before}</del> → <ins>${c.after}</ins></li>`;
        }) : Q.html`<li>${Q.t("audit.same")}</li>`}</ul>`;
    }
    var keys = Object.keys(d);
    return keys.length ? Q.html`<ul class="audit-changes">${keys.map(function (k) {
      return Q.html`<li><span class="audit-path">${k}</span>: ${summary(d[k])}</li>`;
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
        <td>${actionWord(e.action)}<br><span class="code">${e.action}</span></td>
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
