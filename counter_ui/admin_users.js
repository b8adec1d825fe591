/*
 * Users on the admin page (用户): the list, a new user (user name, display
 * name, role, password), disable / enable, a new password set by the admin
 * (typed, or made here and shown once), and the display name changed in a
 * small form on the user's row. The display name is what the public sees (the
 * lobby's doctors on duty); the user name stays a staff-only login. Admins only: the section stays hidden for
 * supervisors and staff, and the hub refuses them anyway (403).
 *
 * The same rules as the hub (server/store/accounts.py) are checked on the form
 * first, so a mistake is said beside its field in both languages before any
 * request; a refusal of the hub is placed on the field it concerns.
 *
 * A section of admin.html (window.QCallAdminSections), like admin_targets.js.
 */
(function (global) {
  "use strict";
  var Q = global.QCall, $ = Q.$;

  var ROLES = ["staff", "admin", "triage", "supervisor"];
  var NAME = /^[A-Za-z0-9._-]{1,64}$/;
  var MIN_PASSWORD = 8, MAX_PASSWORD = 256;
  var MAX_DISPLAY = 40;
  // Control characters and line breaks (the hub refuses Unicode's C categories and Zl/Zp).
  var CONTROL = /[\u0000-\u001f\u007f-\u009f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/;

  var WORDS = {
    zh: {
      "users.title": "用户",
      "users.username": "用户名",
      "users.role": "角色",
      "users.state": "状态",
      "users.created": "创建时间",
      "users.actions": "操作",
      "users.active": "启用",
      "users.disabled": "已停用",
      "users.add": "添加用户",
      "users.password": "密码",
      "users.generate": "生成密码",
      "users.disable": "停用",
      "users.enable": "启用",
      "users.reset": "重设密码",
      "users.set": "设置",
      "users.cancel": "取消",
      "users.added": "已添加用户 {name}。",
      "users.disabled_done": "已停用 {name}，其登录已结束。",
      "users.enabled_done": "已启用 {name}。",
      "users.password_done": "已为 {name} 设置新密码，其登录已结束。",
      "users.shown_once": "新密码（仅显示一次，请转告本人）：",
      "users.err.name": "用户名为 1–64 个英文字母、数字、“.”、“_”或“-”。",
      "users.err.role": "请选择角色。",
      "users.err.password_short": "密码至少 " + MIN_PASSWORD + " 个字符。",
      "users.err.password_long": "密码最多 " + MAX_PASSWORD + " 个字符。",
      "users.err.exists": "该用户名已存在。",
      "users.err.self": "不能停用自己的账号。",
      "users.display_name": "显示名称",
      "users.display_hint": "如：张伟 主任医师",
      "users.rename": "改名",
      "users.none": "—",
      "users.named_done": "已将 {name} 的显示名称改为“{shown}”。",
      "users.unnamed_done": "已清除 {name} 的显示名称。",
      "users.err.display_long": "显示名称最多 " + MAX_DISPLAY + " 个字符。",
      "users.err.display_control": "显示名称不能包含换行、制表符等控制字符。",
      "role.triage": "预检分诊",
      "role.supervisor": "值班长"
    },
    en: {
      "users.title": "Users",
      "users.username": "User name",
      "users.role": "Role",
      "users.state": "State",
      "users.created": "Created",
      "users.actions": "Actions",
      "users.active": "Active",
      "users.disabled": "Disabled",
      "users.add": "Add user",
      "users.password": "Password",
      "users.generate": "Make a password",
      "users.disable": "Disable",
      "users.enable": "Enable",
      "users.reset": "New password",
      "users.set": "Set",
      "users.cancel": "Cancel",
      "users.added": "User {name} added.",
      "users.disabled_done": "{name} is disabled; their logins ended.",
      "users.enabled_done": "{name} is enabled.",
      "users.password_done": "{name} has a new password; their logins ended.",
      "users.shown_once": "The new password (shown this once; tell the user):",
      "users.err.name": "A user name is 1–64 ASCII letters, digits, '.', '_' or '-'.",
      "users.err.role": "Choose a role.",
      "users.err.password_short": "A password needs at least " + MIN_PASSWORD + " characters.",
      "users.err.password_long": "A password has at most " + MAX_PASSWORD + " characters.",
      "users.err.exists": "This user name exists already.",
      "users.err.self": "You may not disable your own account.",
      "users.display_name": "Display name",
      "users.display_hint": "e.g. Dr Zhang Wei, chief physician",
      "users.rename": "Edit name",
      "users.none": "—",
      "users.named_done": "{name} is now shown as “{shown}”.",
      "users.unnamed_done": "{name} has no display name now.",
      "users.err.display_long": "A display name has at most " + MAX_DISPLAY + " characters.",
      "users.err.display_control": "A display name may not hold line breaks, tabs or other control characters.",
      "role.triage": "triage",
      "role.supervisor": "supervisor"
    }
  };

  var session = null;
  var users = [];
  var resetting = null;     // the user name whose password row is open
  var naming = null;        // the user name whose display-name row is open
  var message = null;       // {kind, text: function}
  var fieldErrors = {};     // field id → word key
  var shown = null;         // {name, password} shown once
  var wired = false;

  /** A strong random password (12 characters from an unambiguous set), made in the browser. */
  function makePassword() {
    var chars = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";
    var bytes = new Uint8Array(12);
    global.crypto.getRandomValues(bytes);
    var out = "";
    for (var i = 0; i < bytes.length; i++) out += chars.charAt(bytes[i] % chars.length);
    return out;
  }

  function passwordError(pw) {
    if (pw.length < MIN_PASSWORD) return "users.err.password_short";
    if (pw.length > MAX_PASSWORD) return "users.err.password_long";
    return null;
  }

  /** The hub's rule (server/store/accounts.py check_display_name) on the trimmed text; blank is none. */
  function displayError(text) {
    if (Array.from(text).length > MAX_DISPLAY) return "users.err.display_long";
    if (CONTROL.test(text)) return "users.err.display_control";
    return null;
  }

  function wire() {
    if (wired) return;
    wired = true;
    $("#users-form").addEventListener("submit", onAdd);
    $("#users-generate").addEventListener("click", function () {
      $("#users-new-password").value = makePassword();
      $("#users-new-password").type = "text";
    });
    $("#users-list").addEventListener("click", onRow);
  }

  function load() {
    if (!session) return;
    var me = session;
    Q.api("GET", "/admin/users").then(function (res) {
      if (session !== me) return;
      users = res.users || [];
      draw();
    }, failed);
  }

  function failed(err) {
    message = { kind: "error", text: function () { return Q.errorText(err); } };
    draw();
  }

  function onAdd(e) {
    e.preventDefault();
    var username = $("#users-new-name").value.trim();
    var role = $("#users-new-role").value;
    var password = $("#users-new-password").value;
    var display = $("#users-new-display").value.trim();
    fieldErrors = {};
    if (!NAME.test(username)) fieldErrors["users-new-name"] = "users.err.name";
    var displayErr = displayError(display);
    if (displayErr) fieldErrors["users-new-display"] = displayErr;
    if (ROLES.indexOf(role) < 0) fieldErrors["users-new-role"] = "users.err.role";
    var pwErr = passwordError(password);
    if (pwErr) fieldErrors["users-new-password"] = pwErr;
    message = null;
    shown = null;
    if (Object.keys(fieldErrors).length) return draw();
    var body = { username: username, role: role, password: password, display_name: display || null };
    Q.api("POST", "/admin/users", body).then(function () {
      message = { kind: "ok", text: function () { return Q.t("users.added", { name: username }); } };
      if ($("#users-new-password").type === "text") shown = { name: username, password: password };
      $("#users-form").reset();
      $("#users-new-password").type = "password";
      load();
    }, function (err) {
      placeRefusal(err, "users-new-name", "users-new-password", "users-new-display");
      draw();
    });
  }

  /** A refusal of the hub beside the field it is about; the hub's sentence otherwise. */
  function placeRefusal(err, nameField, passwordField, displayField) {
    var text = String(err.message || "");
    if (err.code === "conflict" && nameField) fieldErrors[nameField] = "users.err.exists";
    else if (/display_name/.test(text) && displayField) fieldErrors[displayField] = /control/.test(text) ? "users.err.display_control" : "users.err.display_long";
    else if (/password/.test(text) && passwordField) fieldErrors[passwordField] = /at most/.test(text) ? "users.err.password_long" : "users.err.password_short";
    else if (/user name/.test(text) && nameField) fieldErrors[nameField] = "users.err.name";
    else if (err.code === "unauthorized") return;
    else message = { kind: "error", text: function () { return Q.errorText(err); } };
  }

  function onRow(e) {
    var btn = e.target.closest ? e.target.closest("button[data-act]") : null;
    if (!btn) return;
    var name = btn.getAttribute("data-user");
    var act = btn.getAttribute("data-act");
    message = null;
    shown = null;
    fieldErrors = {};
    if (act === "reset") { resetting = name; naming = null; return draw(); }
    if (act === "rename") { naming = name; resetting = null; draw(); $("#users-rename-input").focus(); return; }
    if (act === "cancel") { resetting = null; naming = null; return draw(); }
    if (act === "name") return setDisplayName(name);
    if (act === "generate") {
      var field = $("#users-reset-password");
      field.value = makePassword();
      field.type = "text";
      return;
    }
    if (act === "set") return setPassword(name);
    if (act === "disable" && session && name === session.username) {
      message = { kind: "error", text: function () { return Q.t("users.err.self"); } };
      return draw();
    }
    btn.disabled = true;
    Q.api("POST", "/admin/users/" + encodeURIComponent(name) + "/" + act).then(function () {
      var key = act === "disable" ? "users.disabled_done" : "users.enabled_done";
      message = { kind: "ok", text: function () { return Q.t(key, { name: name }); } };
      load();
    }, function (err) { btn.disabled = false; failed(err); });
  }

  function setPassword(name) {
    var field = $("#users-reset-password");
    var password = field.value;
    var pwErr = passwordError(password);
    if (pwErr) { fieldErrors["users-reset-password"] = pwErr; return draw(); }
    var visible = field.type === "text";
    Q.api("POST", "/admin/users/" + encodeURIComponent(name) + "/password", { password: password }).then(function () {
      resetting = null;
      message = { kind: "ok", text: function () { return Q.t("users.password_done", { name: name }); } };
      if (visible) shown = { name: name, password: password };
      load();
    }, function (err) {
      placeRefusal(err, null, "users-reset-password");
      draw();
    });
  }

  function setDisplayName(name) {
    var display = $("#users-rename-input").value.trim();
    var err = displayError(display);
    if (err) { fieldErrors["users-rename-input"] = err; return draw(); }
    Q.api("POST", "/admin/users/" + encodeURIComponent(name) + "/display-name", { display_name: display || null }).then(function () {
      naming = null;
      message = { kind: "ok", text: function () {
        return display ? Q.t("users.named_done", { name: name, shown: display }) : Q.t("users.unnamed_done", { name: name });
      } };
      load();
    }, function (refusal) {
      placeRefusal(refusal, null, null, "users-rename-input");
      draw();
    });
  }

  function fieldError(id) {
    var key = fieldErrors[id];
    return key ? Q.html`<span class="field-error" id="${id + "-error"}" role="alert">${Q.t(key)}</span>` : "";
  }

  function draw() {
    if (!session) return;
    var el = $("#users-message");
    el.hidden = !message;
    if (message) { el.className = "banner " + message.kind; el.textContent = message.text(); }
    ["users-new-name", "users-new-display", "users-new-role", "users-new-password"].forEach(function (id) {
      var slot = $("#" + id + "-slot");
      Q.setHtml(slot, Q.html`${fieldError(id)}`);
      $("#" + id).setAttribute("aria-invalid", fieldErrors[id] ? "true" : "false");
    });
    var once = $("#users-once");
    once.hidden = !shown;
    if (shown) Q.setHtml(once, Q.html`<p>${Q.t("users.shown_once")} <strong>${shown.name}</strong></p><code id="users-once-password">${shown.password}</code>`);
    var typed = resetting && $("#users-reset-password") ? $("#users-reset-password").value : "";
    var naming_typed = naming && $("#users-rename-input") ? $("#users-rename-input").value : null;
    Q.setHtml($("#users-list"), Q.html`${users.map(function (u) {
      var row = Q.html`<tr data-user="${u.username}" data-active="${u.active ? "true" : "false"}">
          <td>${u.username}</td>
          <td class="users-display">${u.display_name || Q.t("users.none")}</td>
          <td>${Q.t("role." + u.role)}</td>
          <td>${u.active ? Q.t("users.active") : Q.t("users.disabled")}</td>
          <td>${(u.created_at || "").slice(0, 10)}</td>
          <td>
            <button type="button" data-act="${u.active ? "disable" : "enable"}" data-user="${u.username}">${Q.t(u.active ? "users.disable" : "users.enable")}</button>
            <button type="button" data-act="reset" data-user="${u.username}">${Q.t("users.reset")}</button>
            <button type="button" data-act="rename" data-user="${u.username}">${Q.t("users.rename")}</button>
          </td>
        </tr>`;
      if (naming === u.username) {
        var current = naming_typed === null ? (u.display_name || "") : naming_typed;
        return Q.html`${row}<tr class="users-rename-row"><td colspan="6"><div class="acct-form">
          <label for="users-rename-input">${Q.t("users.display_name")}
            <input id="users-rename-input" autocomplete="off" maxlength="40" value="${current}"
              aria-invalid="${fieldErrors["users-rename-input"] ? "true" : "false"}"></label>
          <button type="button" class="primary" data-act="name" data-user="${u.username}">${Q.t("users.set")}</button>
          <button type="button" data-act="cancel" data-user="${u.username}">${Q.t("users.cancel")}</button>
          ${fieldError("users-rename-input")}</div></td></tr>`;
      }
      if (resetting !== u.username) return row;
      return Q.html`${row}<tr class="users-reset-row"><td colspan="6"><div class="acct-form">
          <label for="users-reset-password">${Q.t("users.password")}
            <input id="users-reset-password" type="password" autocomplete="new-password" value="${typed}"></label>
          <button type="button" data-act="generate" data-user="${u.username}">${Q.t("users.generate")}</button>
          <button type="button" class="primary" data-act="set" data-user="${u.username}">${Q.t("users.set")}</button>
          <button type="button" data-act="cancel" data-user="${u.username}">${Q.t("users.cancel")}</button>
          ${fieldError("users-reset-password")}</div></td></tr>`;
    })}`);
  }

  var section = {
    words: WORDS,
    enter: function (s) {
      session = s.role === "admin" ? s : null;
      Q.show("#users-layout", !!session);
      if (!session) return;
      users = []; message = null; fieldErrors = {}; shown = null; resetting = null; naming = null;
      wire();
      load();
    },
    leave: function () { session = null; Q.show("#users-layout", false); },
    draw: draw
  };
  global.QCallAdminSections = (global.QCallAdminSections || []).concat([section]);
})(window);
