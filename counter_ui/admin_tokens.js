/*
 * Device tokens on the admin page (设备令牌): the list (name, role, made,
 * last seen by this hub since it started; never the token), a new token for a
 * device name and role, revoke, and rotate (the old one revoked and a new one
 * made with the same name and role in one step; the device's open sockets
 * drop). A new token is shown this once, with the page the device opens and a
 * QR of it to scan. A kiosk or screen can also pair itself by a code (its
 * setup box shows one; /counter/pair.html confirms it). Admins only.
 *
 * A section of admin.html (window.QCallAdminSections), like admin_targets.js.
 */
(function (global) {
  "use strict";
  var Q = global.QCall, $ = Q.$;

  var ROLES = ["kiosk", "display", "pad", "agent", "booking"];
  var NAME = /^[A-Za-z0-9._-]{1,64}$/;

  var WORDS = {
    zh: {
      "tokens.title": "设备令牌",
      "tokens.name": "设备名称",
      "tokens.role": "类型",
      "tokens.created": "创建时间",
      "tokens.last_used": "最近使用",
      "tokens.state": "状态",
      "tokens.actions": "操作",
      "tokens.live": "有效",
      "tokens.revoked": "已吊销",
      "tokens.never": "本次启动后未使用",
      "tokens.create": "生成令牌",
      "tokens.revoke": "吊销",
      "tokens.rotate": "更换",
      "tokens.confirm_revoke": "确认吊销",
      "tokens.made": "设备 {name} 的新令牌（仅显示一次）：",
      "tokens.open": "在设备上打开此地址，或用设备扫描二维码：",
      "tokens.revoked_done": "已吊销 {name} 的令牌，其连接已断开。",
      "tokens.pair_hint": "取号机或屏幕未配置令牌时会显示配对码，用手机扫码即可配对。",
      "tokens.err.name": "设备名称为 1–64 个英文字母、数字、“.”、“_”或“-”。",
      "tokens.err.role": "请选择类型。",
      "tokens.err.exists": "已有同名的有效令牌；要更换请在列表中点“更换”。",
      "tokens.err.revoked": "此令牌已被吊销。",
      "trole.kiosk": "取号机",
      "trole.display": "显示屏",
      "trole.pad": "评价器",
      "trole.agent": "设备代理",
      "trole.booking": "预约系统"
    },
    en: {
      "tokens.title": "Device tokens",
      "tokens.name": "Device name",
      "tokens.role": "Role",
      "tokens.created": "Created",
      "tokens.last_used": "Last used",
      "tokens.state": "State",
      "tokens.actions": "Actions",
      "tokens.live": "Valid",
      "tokens.revoked": "Revoked",
      "tokens.never": "Not since the hub started",
      "tokens.create": "Make a token",
      "tokens.revoke": "Revoke",
      "tokens.rotate": "Rotate",
      "tokens.confirm_revoke": "Confirm revoke",
      "tokens.made": "The new token of {name} (shown this once):",
      "tokens.open": "Open this address on the device, or let it scan the QR:",
      "tokens.revoked_done": "The token of {name} is revoked; its connections dropped.",
      "tokens.pair_hint": "A kiosk or screen without a token shows a pairing code: scan it with a phone to pair.",
      "tokens.err.name": "A device name is 1–64 ASCII letters, digits, '.', '_' or '-'.",
      "tokens.err.role": "Choose a role.",
      "tokens.err.exists": "A live token has this name already; to replace it, rotate it in the list.",
      "tokens.err.revoked": "This token is revoked already.",
      "trole.kiosk": "kiosk",
      "trole.display": "display",
      "trole.pad": "evaluation pad",
      "trole.agent": "device agent",
      "trole.booking": "booking system"
    }
  };

  var session = null;
  var tokens = [];
  var message = null;
  var fieldErrors = {};
  var made = null;        // the answer that carries a token, shown once
  var confirming = null;  // a token id whose revoke waits for the second tap
  var wired = false;

  function wire() {
    if (wired) return;
    wired = true;
    $("#tokens-form").addEventListener("submit", onCreate);
    $("#tokens-list").addEventListener("click", onRow);
  }

  function load() {
    if (!session) return;
    var me = session;
    Q.api("GET", "/admin/tokens").then(function (res) {
      if (session !== me) return;
      tokens = res.tokens || [];
      draw();
    }, failed);
    Q.api("GET", "/devices").then(function (res) {
      if (session !== me) return;
      var names = ((res && res.devices) || []).filter(function (d) {
        return ["kiosk", "lobby_screen", "counter_screen"].indexOf(d.kind) >= 0 && d.configured !== false;
      });
      Q.setHtml($("#tokens-names"), Q.html`${names.map(function (d) { return Q.html`<option value="${d.name}"></option>`; })}`);
    }, function () { /* the list of names is a help only */ });
  }

  function failed(err) {
    message = { kind: "error", text: function () { return Q.errorText(err); } };
    draw();
  }

  function onCreate(e) {
    e.preventDefault();
    var name = $("#tokens-new-name").value.trim();
    var role = $("#tokens-new-role").value;
    fieldErrors = {};
    message = null;
    made = null;
    if (!NAME.test(name)) fieldErrors["tokens-new-name"] = "tokens.err.name";
    if (ROLES.indexOf(role) < 0) fieldErrors["tokens-new-role"] = "tokens.err.role";
    if (Object.keys(fieldErrors).length) return draw();
    Q.api("POST", "/admin/tokens", { name: name, role: role }).then(function (res) {
      made = res;
      $("#tokens-form").reset();
      load();
    }, function (err) {
      if (err.code === "conflict") fieldErrors["tokens-new-name"] = "tokens.err.exists";
      else if (/name/.test(String(err.message || ""))) fieldErrors["tokens-new-name"] = "tokens.err.name";
      else failed(err);
      draw();
    });
  }

  function onRow(e) {
    var btn = e.target.closest ? e.target.closest("button[data-act]") : null;
    if (!btn) return;
    var id = btn.getAttribute("data-id");
    var act = btn.getAttribute("data-act");
    var token = tokens.filter(function (t) { return t.id === id; })[0];
    if (!token) return;
    message = null;
    made = null;
    if (act === "revoke" && confirming !== id) { confirming = id; return draw(); }
    confirming = null;
    btn.disabled = true;
    Q.api("POST", "/admin/tokens/" + encodeURIComponent(id) + "/" + (act === "rotate" ? "rotate" : "revoke")).then(function (res) {
      if (act === "rotate") made = res;
      else message = { kind: "ok", text: function () { return Q.t("tokens.revoked_done", { name: token.name }); } };
      load();
    }, function (err) {
      btn.disabled = false;
      if (err.code === "conflict") message = { kind: "error", text: function () { return Q.t("tokens.err.revoked"); } };
      else failed(err);
      draw();
    });
  }

  function when(value) {
    if (!value) return "";
    var d = new Date(value);
    return isNaN(d.getTime()) ? "" : Q.formatDate(d, Q.lang()) + " " + Q.formatTime(d);
  }

  function draw() {
    if (!session) return;
    var el = $("#tokens-message");
    el.hidden = !message;
    if (message) { el.className = "banner " + message.kind; el.textContent = message.text(); }
    ["tokens-new-name", "tokens-new-role"].forEach(function (id) {
      var key = fieldErrors[id];
      Q.setHtml($("#" + id + "-slot"), key ? Q.html`<span class="field-error" id="${id + "-error"}" role="alert">${Q.t(key)}</span>` : Q.html``);
      $("#" + id).setAttribute("aria-invalid", key ? "true" : "false");
    });
    var once = $("#tokens-once");
    once.hidden = !made;
    if (made) {
      Q.setHtml(once, Q.html`<p>${Q.t("tokens.made", { name: made.name })}</p>
        <code id="tokens-once-token">${made.token}</code>
        ${made.url ? Q.html`<p>${Q.t("tokens.open")}</p>
          <a id="tokens-once-url" href="${made.url}" target="_blank" rel="noreferrer">${made.url}</a>
          <img id="tokens-once-qr" alt="QR" src="${made.qr}">` : ""}`);
    }
    Q.setHtml($("#tokens-list"), Q.html`${tokens.slice().reverse().map(function (t) {
      var live = !t.revoked_at;
      return Q.html`<tr data-token="${t.id}" data-name="${t.name}" data-live="${live ? "true" : "false"}">
          <td>${t.name} <span class="code">${t.id}</span></td>
          <td>${Q.t("trole." + t.role)}</td>
          <td>${when(t.created_at)}</td>
          <td>${t.last_used_at ? when(t.last_used_at) : Q.t("tokens.never")}</td>
          <td>${live ? Q.t("tokens.live") : Q.t("tokens.revoked") + " " + when(t.revoked_at)}</td>
          <td>${live ? Q.html`
            <button type="button" data-act="rotate" data-id="${t.id}">${Q.t("tokens.rotate")}</button>
            <button type="button" data-act="revoke" data-id="${t.id}" class="${confirming === t.id ? "danger" : ""}">${
              Q.t(confirming === t.id ? "tokens.confirm_revoke" : "tokens.revoke")}</button>` : ""}</td>
        </tr>`;
    })}`);
  }

  var section = {
    words: WORDS,
    enter: function (s) {
      session = s.role === "admin" ? s : null;
      Q.show("#tokens-layout", !!session);
      if (!session) return;
      tokens = []; message = null; fieldErrors = {}; made = null; confirming = null;
      wire();
      load();
    },
    leave: function () { session = null; Q.show("#tokens-layout", false); },
    draw: draw
  };
  global.QCallAdminSections = (global.QCallAdminSections || []).concat([section]);
})(window);
