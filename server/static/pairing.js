/*
 * Pairing a kiosk or a screen that has no device token: it shows a short code
 * and a QR of the admin's pairing page (/counter/pair.html?code=…); an admin
 * scans it with a phone, picks the device's name and confirms. This page polls
 * with the claim only it holds, keeps the token it is given (localStorage, as
 * `?token=` does) and reloads itself: nobody types a token on a TV remote.
 *
 * Used by the kiosk, the lobby and the counter screen:
 *   QCallPairing.start({kind: "kiosk", storageKey: "qcall.kiosk.token", box: "#setup"})
 * Both languages always: nobody switches a TV's language.
 */
(function (window) {
  "use strict";
  var Q = window.QCall;

  var POLL_MS = 2000;
  var RETRY_MS = 15000;   // a refusal (too many codes, the hub away): ask again later

  function start(opts) {
    var box = Q.$(opts.box);
    if (!box) return;
    var area = document.createElement("div");
    area.className = "pairing";
    area.id = "pairing";
    box.appendChild(area);
    var code = null, claim = null, timer = null, expiresAt = 0;

    function draw(qr, url) {
      Q.setHtml(area, Q.html`
        <h2 class="pairing-title">配对本设备 <span class="en">Pair this device</span></h2>
        <p class="pairing-how">请管理员用手机扫描二维码，或打开 ${url}
          <span class="en">An administrator scans the QR with a phone, or opens ${url}</span></p>
        <p class="pairing-code" id="pairing-code" data-code="${code}">${code}</p>
        <img class="pairing-qr" id="pairing-qr" alt="QR" src="${qr}" width="240" height="240">
        <p class="pairing-state" id="pairing-state">等待确认… <span class="en">Waiting for an administrator…</span></p>`);
    }

    function say(zh, en) {
      var el = Q.$("#pairing-state");
      if (el) Q.setHtml(el, Q.html`${zh} <span class="en">${en}</span>`);
      else Q.setHtml(area, Q.html`<p class="pairing-state" id="pairing-state">${zh} <span class="en">${en}</span></p>`);
    }

    function ask() {
      clearTimeout(timer);
      Q.api("POST", "/pairing", { kind: opts.kind }).then(function (res) {
        code = res.code;
        claim = res.claim;
        expiresAt = Date.now() + (res.expires_in || 600) * 1000;
        draw(res.qr, res.url);
        timer = setTimeout(poll, POLL_MS);
      }, function (err) {
        say("暂时无法获取配对码，稍后重试。", "No pairing code now (" + (err.message || err.code) + "); trying again soon.");
        timer = setTimeout(ask, RETRY_MS);
      });
    }

    function poll() {
      if (Date.now() >= expiresAt) return ask();   // expired: a new code
      Q.api("POST", "/pairing/" + encodeURIComponent(code) + "/collect", { claim: claim }).then(function (res) {
        if (res.state !== "paired" || !res.token) { timer = setTimeout(poll, POLL_MS); return; }
        say("配对成功：" + res.name + "，正在启动…", "Paired as " + res.name + "; starting…");
        Q.storageSet(window.localStorage, opts.storageKey, res.token);
        var url = new URL(window.location.href);
        if (res.counter) url.searchParams.set("counter", String(res.counter));
        window.location.replace(url.pathname + url.search + url.hash);
      }, function (err) {
        if (err.code === "not_found") return ask();   // expired or gone: a new code
        timer = setTimeout(poll, POLL_MS * 3);       // the network: keep the code, try again
      });
    }

    ask();
  }

  /**
   * The admin page's "test display" (event `device_test`): a frame over the whole screen for a few
   * seconds, white, black and the hall's colours, so a technician sees every pixel and the hub's reach.
   */
  function testFrame(payload) {
    var seconds = (payload && payload.seconds) || 5;
    var old = Q.$("#device-test-frame");
    if (old) old.parentNode.removeChild(old);
    var frame = document.createElement("div");
    frame.id = "device-test-frame";
    frame.className = "device-test-frame";
    frame.setAttribute("role", "status");
    Q.setHtml(frame, Q.html`<div class="dtf-bars"><span class="dtf-white"></span><span class="dtf-black"></span>
      <span class="dtf-red"></span><span class="dtf-green"></span><span class="dtf-blue"></span></div>
      <p class="dtf-text">显示测试 <span class="en">Display test</span></p>`);
    document.body.appendChild(frame);
    setTimeout(function () { if (frame.parentNode) frame.parentNode.removeChild(frame); }, seconds * 1000);
  }

  window.QCallPairing = { start: start, testFrame: testFrame };
})(window);
