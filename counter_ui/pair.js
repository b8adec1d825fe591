/*
 * The admin's pairing page (/counter/pair.html?code=…), opened by scanning the
 * QR a kiosk or screen without a token shows. An admin (logged in here or on
 * the admin page: the session cookie is reused) picks which configured device
 * the screen is, and confirms; the screen collects its token by itself.
 * Admins only: the hub refuses everyone else (403), and so does this page.
 */
(function () {
  "use strict";
  var Q = QCall, $ = Q.$;

  var WORDS = {
    zh: {
      "title": "配对设备",
      "login.title": "配对设备：管理员登录",
      "login.username": "用户名",
      "login.password": "密码",
      "login.submit": "登录",
      "login.wrong": "用户名或密码错误。",
      "login.need_name": "请填写用户名和密码。",
      "login.expired": "登录已过期，请重新登录。",
      "login.not_allowed": "只有管理员可以配对设备。",
      "staff": "{name}",
      "pair.code": "配对码",
      "pair.choose": "请选择这台设备的名称：",
      "pair.none": "站点配置中没有这种设备。",
      "pair.kind": "设备类型：{kind}",
      "pair.no_code": "链接中没有配对码，请重新扫描设备上的二维码。",
      "pair.gone": "配对码不存在或已过期，请在设备上获取新的配对码。",
      "pair.used": "此配对码已使用。",
      "pair.forbidden": "只有管理员可以配对设备。",
      "pair.done": "已配对为 {name}，设备将自动启动。",
      "pair.replaced": "已配对为 {name}，设备将自动启动。该设备原来的令牌（{old}）已作废。",
      "pair.failed": "配对失败：{why}",
      "kind.kiosk": "取号机",
      "kind.lobby_screen": "大厅屏",
      "kind.counter_screen": "窗口屏",
      "counter": "{n} 号窗口"
    },
    en: {
      "title": "Pair a device",
      "login.title": "Pair a device: admin log in",
      "login.username": "Username",
      "login.password": "Password",
      "login.submit": "Log in",
      "login.wrong": "Wrong username or password.",
      "login.need_name": "Please enter your username and password.",
      "login.expired": "Your session has ended. Please log in again.",
      "login.not_allowed": "Only administrators may pair devices.",
      "staff": "{name}",
      "pair.code": "Pairing code",
      "pair.choose": "Which device is this?",
      "pair.none": "The site file lists no device of this kind.",
      "pair.kind": "Kind: {kind}",
      "pair.no_code": "The link has no pairing code: scan the device's QR again.",
      "pair.gone": "No such pairing code, or it has expired: get a new one on the device.",
      "pair.used": "This pairing code was used already.",
      "pair.forbidden": "Only administrators may pair devices.",
      "pair.done": "Paired as {name}; the device starts by itself.",
      "pair.replaced": "Paired as {name}; the device starts by itself. Its old token ({old}) no longer works.",
      "pair.failed": "Pairing failed: {why}",
      "kind.kiosk": "Kiosk",
      "kind.lobby_screen": "Lobby screen",
      "kind.counter_screen": "Counter screen",
      "counter": "counter {n}"
    }
  };

  var code = (new URL(location.href).searchParams.get("code") || "").trim().toUpperCase();
  var pairing = null;   // {code, kind, devices}
  var done = null;      // the name paired as
  var message = null;   // function → text, or null
  var login = null;

  function init() {
    Q.i18n(WORDS, "qcall.pair.lang");
    Q.translatePage();
    Q.onLang(draw);
    $("#login-lang").addEventListener("click", Q.toggleLang);
    $("#lang-switch").addEventListener("click", Q.toggleLang);
    $("#pair-devices").addEventListener("click", onChoose);
    login = Q.staffLogin({
      prefix: "pair-",
      view: "#pair-view",
      key: "qcall.admin",   // the admin page's session, kept in this browser
      roles: ["admin"],
      enter: enter,
      leave: function () { pairing = null; }
    });
    login.start();
  }

  function enter(s) {
    $("#staff-name").textContent = s.username || "";
    $("#pair-code").textContent = code;
    if (!code) { setMessage("error", "pair.no_code"); return draw(); }
    Q.api("GET", "/admin/pairing/" + encodeURIComponent(code)).then(function (res) {
      pairing = res;
      draw();
    }, refused);
  }

  function refused(err) {
    if (err.code === "unauthorized") return login.expire();
    if (err.code === "forbidden") setMessage("error", "pair.forbidden");
    else if (err.code === "not_found") setMessage("error", "pair.gone");
    else if (err.code === "conflict") setMessage("error", "pair.used");
    else if (err.code === "already_paired" && err.data) {
      // The hub names the device the code was paired as: choosing it finishes the pairing, so the
      // choice stays open.
      var said = err.data;
      setMessage("error", function () { return Q.lang() === "en" ? said.error_en : said.error_zh; });
      draw();
      return;
    }
    else setMessage("error", function () { return Q.t("pair.failed", { why: Q.errorText(err) }); });
    pairing = null;
    draw();
  }

  function onChoose(e) {
    var btn = e.target.closest ? e.target.closest("button[data-name]") : null;
    if (!btn || !pairing) return;
    var name = btn.getAttribute("data-name");
    btn.disabled = true;
    Q.api("POST", "/admin/pairing/" + encodeURIComponent(pairing.code), { name: name }).then(function (res) {
      done = res.name;
      pairing = null;
      // Paired again: the hub revoked the device's old token in the same step (rotation).
      var old = res.replaces;
      setMessage("ok", function () {
        return old ? Q.t("pair.replaced", { name: done, old: old }) : Q.t("pair.done", { name: done });
      });
      draw();
    }, function (err) { btn.disabled = false; refused(err); });
  }

  function setMessage(kind, key) {
    message = key ? { kind: kind, text: typeof key === "function" ? key : function () { return Q.t(key); } } : null;
  }

  function draw() {
    document.title = Q.t("title") + " · qcall";
    var el = $("#pair-message");
    el.hidden = !message;
    if (message) {
      el.className = "banner " + message.kind;
      el.textContent = message.text();
    }
    var devices = (pairing && pairing.devices) || [];
    $("#pair-kind").textContent = pairing ? Q.t("pair.kind", { kind: Q.t("kind." + pairing.kind) }) : "";
    Q.show("#pair-choose", !!pairing && devices.length > 0);
    Q.show("#pair-none", !!pairing && devices.length === 0);
    Q.setHtml($("#pair-devices"), Q.html`${devices.map(function (d) {
      return Q.html`<button type="button" class="primary pair-device" data-name="${d.name}">${d.name}${
        d.counter ? Q.html` <small>${Q.t("counter", { n: d.counter })}</small>` : ""}</button>`;
    })}`);
  }

  init();
})();
