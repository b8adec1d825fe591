/*
 * qcall.js: the few helpers every qcall page shares (kiosk, visitor status,
 * counter console, lobby screen).
 *
 * Plain script, no modules and no build step: kiosks and lobby TVs run old or
 * locked-down browsers, often offline, so pages load this file with a plain
 * <script> tag and use the global `QCall`.
 *
 * Rule of the house: everything that comes from the server is text, never
 * markup. Build HTML with QCall.html`...` (it escapes every value) or set
 * textContent; never put server data into innerHTML unescaped.
 */
(function (global) {
  "use strict";

  var API = "/api/v1";

  /* ------------------------------------------------------------------ */
  /* Escaping                                                            */
  /* ------------------------------------------------------------------ */

  var ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

  /** Text → HTML-safe text (also safe inside quoted attributes). */
  function esc(value) {
    if (value === null || value === undefined) return "";
    return String(value).replace(/[&<>"']/g, function (c) { return ESCAPES[c]; });
  }

  /** Marks a string as already-safe markup, so html`` does not escape it again. */
  function SafeHtml(text) { this.text = text; }
  SafeHtml.prototype.toString = function () { return this.text; };
  function raw(text) { return new SafeHtml(String(text)); }

  /**
   * Tagged template: every ${value} is escaped unless it came from raw() or
   * another html`` call; arrays are joined. Returns SafeHtml, so pieces nest.
   */
  function html(strings) {
    var out = strings[0];
    for (var i = 1; i < strings.length; i++) {
      out += piece(arguments[i]) + strings[i];
    }
    return new SafeHtml(out);
  }
  function piece(value) {
    if (value instanceof SafeHtml) return value.text;
    if (Array.isArray(value)) return value.map(piece).join("");
    return esc(value);
  }

  /** Put an html`` result into an element (the only innerHTML in qcall pages). */
  function setHtml(el, safe) {
    if (!(safe instanceof SafeHtml)) safe = html`${safe}`;
    el.innerHTML = safe.text;
  }

  /* ------------------------------------------------------------------ */
  /* i18n                                                                */
  /* ------------------------------------------------------------------ */

  // Words every page needs: ticket states and the hub's error codes. Pages
  // pass their own dictionaries to QCall.i18n(); theirs win on a clash.
  var COMMON = {
    zh: {
      // Why a ticket stands where it does (core/policy.py reasons): the console and the admin page.
      "why.transfer": "转入本窗口",
      "why.priority": "优先",
      "why.appointment due": "预约到时",
      "why.age bonus": "等候已久",
      "why.priority cap": "轮到普通号",
      "why.first come": "先到先叫",
      "lang.switch": "English",
      "status.waiting": "等候中",
      "status.called": "已叫号",
      "status.serving": "正在办理",
      "status.done": "已办结",
      "status.no_show": "已过号",
      "status.cancelled": "已取消",
      "status.transferred": "已转移，等候中",
      "counter.open": "服务中",
      "counter.paused": "暂停服务",
      "counter.closed": "未开放",
      "counter.default_name": "{n}号窗口",
      "err.bad_request": "请求有误，请重试。",
      "err.unauthorized": "没有权限：请重新登录或检查设备令牌。",
      "err.forbidden": "没有权限进行此操作。",
      "err.not_found": "没有找到。",
      "err.too_large": "请求内容过大。",
      "err.unknown_service": "没有这项业务。",
      "err.unknown_counter": "没有这个窗口。",
      "err.unknown_ticket": "没有找到这张号票。",
      "err.nobody_waiting": "目前无人等候。",
      "err.invalid_transition": "号票状态已变化，请看最新状态。",
      "err.not_cancellable": "此号已在办理或已结束，不能取消。",
      "err.visitor_not_started": "已叫号的顾客还未开始办理：请先开始办理、标记过号或过号重排。",
      "err.recall_limit": "已达重呼次数上限：请标记过号或过号重排。",
      "err.daily_limit_reached": "该业务今日号票已发完，请明天再来。",
      "err.hall_closed": "现在不是办理时间，暂停取号。",
      "err.counter_paused": "窗口已暂停服务。",
      "err.counter_closed": "窗口未开放：没有工作人员在此窗口登录。",
      "err.on_post_elsewhere": "您已在另一个窗口登录。",
      "err.counter_staffed": "此窗口已有其他工作人员登录。",
      "err.ticket_at_counter": "本窗口还有已叫号或正在办理的号票。",
      "err.unknown_break_reason": "没有这个暂停原因。",
      "err.nothing_to_evaluate": "暂无可评价的服务。",
      "err.already_rated": "这次服务已经评价过了，谢谢。",
      "err.evaluation_closed": "评价时间已过。",
      "err.unknown_rating": "没有这个评价选项，请重新选择。",
      "err.conflict": "无法执行：当前状态不允许此更改。",
      "err.wrong_password": "当前密码不正确。",
      "err.too_many_attempts": "尝试次数过多，请稍后再试。",
      "err.too_many_requests": "操作太频繁，请稍候片刻再试。",
      "err.cross_origin": "请求来自其他网页，已被拒绝。请直接在本系统的页面上操作。",
      "err.unsupported_media_type": "请求格式有误，请刷新页面后重试。",
      "err.network": "网络连接中断，请稍后再试。",
      "err.server": "系统暂时出错，请稍后再试。",
      "conn.offline": "连接中断，正在重新连接…",
      "conn.online": "已连接"
    },
    en: {
      "why.transfer": "sent to this counter",
      "why.priority": "priority",
      "why.appointment due": "appointment due",
      "why.age bonus": "waited long",
      "why.priority cap": "normal ticket's turn",
      "why.first come": "first come",
      "lang.switch": "中文",
      "status.waiting": "Waiting",
      "status.called": "Called",
      "status.serving": "Being served",
      "status.done": "Done",
      "status.no_show": "Missed (no-show)",
      "status.cancelled": "Cancelled",
      "status.transferred": "Transferred, waiting",
      "counter.open": "Open",
      "counter.paused": "Paused",
      "counter.closed": "Closed",
      "counter.default_name": "Counter {n}",
      "err.bad_request": "The request was not understood. Please try again.",
      "err.unauthorized": "Not authorised: please log in again or check the device token.",
      "err.forbidden": "You are not allowed to do this.",
      "err.not_found": "Not found.",
      "err.too_large": "The request is too large.",
      "err.unknown_service": "There is no such service.",
      "err.unknown_counter": "There is no such counter.",
      "err.unknown_ticket": "This ticket cannot be found.",
      "err.nobody_waiting": "Nobody is waiting.",
      "err.invalid_transition": "The ticket has changed; showing its latest state.",
      "err.not_cancellable": "This ticket is being served or has ended and cannot be cancelled.",
      "err.visitor_not_started": "The called visitor has not been started: start, mark as no-show or re-queue first.",
      "err.recall_limit": "The recall limit is reached: mark as no-show or re-queue.",
      "err.daily_limit_reached": "All of today's tickets for this service have been given out. Please come back tomorrow.",
      "err.hall_closed": "The hall is closed now: no tickets are issued.",
      "err.counter_paused": "This counter is paused.",
      "err.counter_closed": "This counter is closed: nobody is logged in at it.",
      "err.on_post_elsewhere": "You are logged in at another counter.",
      "err.counter_staffed": "Another member of staff is logged in at this counter.",
      "err.ticket_at_counter": "A ticket is still called or being served at this counter.",
      "err.unknown_break_reason": "There is no such reason for a break.",
      "err.nothing_to_evaluate": "There is no service to rate right now.",
      "err.already_rated": "This service has been rated already. Thank you.",
      "err.evaluation_closed": "The time to rate this service has passed.",
      "err.unknown_rating": "That choice is not offered; please choose again.",
      "err.conflict": "This change does not fit the current state.",
      "err.wrong_password": "The current password is wrong.",
      "err.too_many_attempts": "Too many attempts. Please try again later.",
      "err.too_many_requests": "Too many requests at once: please wait a moment and try again.",
      "err.cross_origin": "The request came from another web page and was refused. Please use this system's own pages.",
      "err.unsupported_media_type": "The request was not in the expected format. Please reload the page and try again.",
      "err.network": "The connection is down. Please try again in a moment.",
      "err.server": "Something went wrong on our side. Please try again in a moment.",
      "conn.offline": "Connection lost, reconnecting…",
      "conn.online": "Connected"
    }
  };

  var LANGS = ["zh", "en"];
  var dict = { zh: {}, en: {} };
  var lang = "zh";
  var langKey = "qcall.lang";
  var langChosen = false;          // true once the visitor/staff picked a language
  var langListeners = [];

  /**
   * Set up the page's words. `pageDict` is {zh: {...}, en: {...}};
   * `storageKey` keeps this page's language choice apart from other pages
   * on the same browser (a kiosk and its status page may share one).
   */
  function i18n(pageDict, storageKey) {
    LANGS.forEach(function (l) {
      dict[l] = Object.assign({}, COMMON[l], (pageDict && pageDict[l]) || {});
    });
    langKey = storageKey || langKey;
    var stored = storageGet(localStorage, langKey);
    if (LANGS.indexOf(stored) >= 0) {
      lang = stored;
      langChosen = true;
    } else {
      // Until the snapshot says which language the site prefers, follow the browser.
      lang = /^zh/i.test(navigator.language || "") ? "zh" : "en";
    }
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  }

  var siteLangs = null;

  /** The site's first language is the default, unless someone chose one here. */
  function defaultLang(languages) {
    if (languages && languages.length) siteLangs = languages;
    if (langChosen || !languages || !languages.length) return;
    if (LANGS.indexOf(languages[0]) >= 0 && languages[0] !== lang) applyLang(languages[0]);
  }

  /** A person chose a language: keep it for next time. */
  function setLang(l) {
    if (LANGS.indexOf(l) < 0) return;
    langChosen = true;
    storageSet(localStorage, langKey, l);
    applyLang(l);
  }
  function toggleLang() { setLang(lang === "zh" ? "en" : "zh"); }

  /**
   * Forget the choice and go back to the site's default. A kiosk does this
   * between visitors: the next person should not inherit the last one's language.
   */
  function resetLang() {
    langChosen = false;
    storageSet(localStorage, langKey, null);
    var l = siteLangs && LANGS.indexOf(siteLangs[0]) >= 0 ? siteLangs[0] : lang;
    if (l !== lang) applyLang(l);
  }

  function applyLang(l) {
    lang = l;
    document.documentElement.lang = l === "zh" ? "zh-CN" : "en";
    translatePage();
    langListeners.forEach(function (fn) { fn(l); });
  }

  function onLang(fn) { langListeners.push(fn); }
  function currentLang() { return lang; }

  /** The word for `key` in the current language (or `l`), with {name} filled from vars. */
  function t(key, vars, l) {
    var table = dict[l || lang] || {};
    var text = key in table ? table[key] : (key in dict.zh ? dict.zh[key] : key);
    if (vars) {
      text = text.replace(/\{(\w+)\}/g, function (m, name) {
        return name in vars ? String(vars[name]) : m;
      });
    }
    return text;
  }

  /** Both languages at once, for screens read by everybody ("等候 / Waiting"). */
  function t2(key, vars) { return t(key, vars, "zh") + " / " + t(key, vars, "en"); }

  /** Pick name_zh or name_en of a server object for the current language. */
  function name(obj, l) {
    if (!obj) return "";
    return (l || lang) === "en" ? (obj.name_en || obj.name_zh || "") : (obj.name_zh || obj.name_en || "");
  }

  /**
   * Fill every element that has data-i18n="key" with its word (as text), and
   * data-i18n-placeholder / data-i18n-title / data-i18n-aria-label likewise.
   */
  function translatePage(root) {
    root = root || document;
    each(root.querySelectorAll("[data-i18n]"), function (el) {
      el.textContent = t(el.getAttribute("data-i18n"));
    });
    ["placeholder", "title", "aria-label"].forEach(function (attr) {
      each(root.querySelectorAll("[data-i18n-" + attr + "]"), function (el) {
        el.setAttribute(attr, t(el.getAttribute("data-i18n-" + attr)));
      });
    });
  }

  /* ------------------------------------------------------------------ */
  /* Tokens                                                              */
  /* ------------------------------------------------------------------ */

  // Storage can throw (private mode, disabled storage); a kiosk must still work.
  function storageGet(store, key) {
    try { return store.getItem(key); } catch (e) { return null; }
  }
  function storageSet(store, key, value) {
    try {
      if (value === null || value === undefined) store.removeItem(key);
      else store.setItem(key, value);
    } catch (e) { /* keep going without persistence */ }
  }

  var authToken = null;

  /**
   * Device pages get their token once as ?token=… in the URL. Keep it in
   * localStorage under this page's key and take it out of the address bar, so
   * it does not end up in screenshots, bookmarks or the browser history.
   */
  function takeToken(storageKey) {
    var url = new URL(location.href);
    var fromUrl = url.searchParams.get("token");
    if (fromUrl) {
      storageSet(localStorage, storageKey, fromUrl);
      url.searchParams.delete("token");
      history.replaceState(history.state, "", url.pathname + url.search + url.hash);
    }
    authToken = fromUrl || storageGet(localStorage, storageKey);
    return authToken;
  }

  /** The token api() and connect() send (staff pages set it after login). */
  function setToken(token) { authToken = token || null; }
  function getToken() { return authToken; }

  /* ------------------------------------------------------------------ */
  /* REST                                                                */
  /* ------------------------------------------------------------------ */

  /**
   * An Error a page can show: `code` is the hub's machine code (or "network",
   * "server"), `status` the HTTP status (0 when the network is down), and
   * `message` the hub's sentence for a person, used when we have no words
   * of our own for the code.
   */
  function ApiError(code, message, status) {
    var err = new Error(message || code);
    err.name = "ApiError";
    err.code = code;
    err.status = status || 0;
    return err;
  }

  /** fetch() for /api/v1: JSON in, JSON out, errors thrown as ApiError. */
  function api(method, path, body) {
    var headers = { "Accept": "application/json" };
    if (authToken) headers["Authorization"] = "Bearer " + authToken;
    var init = { method: method, headers: headers, credentials: "same-origin", cache: "no-store" };
    // The hub takes state changes as JSON only (a forged form cannot send it):
    // an action without a body sends {}.
    if (body === undefined && method !== "GET" && method !== "HEAD") body = {};
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(API + path, init).then(function (res) {
      return res.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (res.ok) return data;
        // Every 4xx from the hub is {error, code, error_zh, error_en}; anything else
        // (a proxy's HTML page) becomes a generic code, never shown raw.
        if (data && typeof data.code === "string") {
          var refusal = ApiError(data.code, data.error, res.status);
          refusal.data = data;   // error_zh / error_en: the refusal in each language, for the page to place
          throw refusal;
        }
        if (res.status === 401) throw ApiError("unauthorized", "", 401);
        if (res.status === 404) throw ApiError("not_found", "", 404);
        throw ApiError("server", "", res.status);
      });
    }, function () {
      throw ApiError("network", "", 0);
    });
  }

  /**
   * Words for an error, in language `l` (default: the current one). Our own
   * words when we know the code; else the hub's sentence (every refusal
   * carries error_zh and error_en): in `l` alone when asked for, else both,
   * the page's language first; else the hub's one sentence; else a generic
   * line. Never a stack.
   */
  function errorText(err, l) {
    var code = err && err.code;
    if (code && ("err." + code) in dict[l || lang]) return t("err." + code, null, l);
    var data = err && err.name === "ApiError" && err.data;
    if (data && typeof data.error_zh === "string" && data.error_zh && typeof data.error_en === "string") {
      // The page's language (or the one asked for) alone: a page that shows both asks for each.
      return (l || lang) === "en" ? data.error_en : data.error_zh;
    }
    if (err && err.name === "ApiError" && err.message && err.message !== code) return err.message;
    return t("err.server", null, l);
  }

  /**
   * The hub's own two sentences, {zh, en}, when its refusal was worded in both
   * languages where it was made (a visitor's refusal, whose `error` is itself
   * "中文 / English"); else null. Every refusal carries error_zh and error_en,
   * but for a refusal worded in English where it was made (`error` is its
   * `error_en`) a page's own words for the code read better, and errorText
   * gives them (else the hub's).
   */
  function hubWords(err) {
    var data = err && err.name === "ApiError" && err.data;
    if (!data || !data.error_zh || !data.error_en || data.error === data.error_en) return null;
    return { zh: data.error_zh, en: data.error_en };
  }

  /* ------------------------------------------------------------------ */
  /* Staff login                                                         */
  /* ------------------------------------------------------------------ */

  /**
   * The login form and session of a staff page (counter console, device
   * board, triage desk). The form's elements are #{p}login-form, -view, -username,
   * -password, -counter (optional), -submit and -error, {p} being opts.prefix ("" or
   * "admin-"); opts.view is the page's main view, shown while logged in.
   *
   * The session {token, username, role, counter} stays in sessionStorage
   * under opts.key + ".session" (gone when the tab closes), the last login
   * in localStorage under opts.key + ".last" (to prefill the form). A login
   * found through the hub's session cookie (GET /auth/me) has token null:
   * api() and connect() then carry the cookie instead.
   *
   * What differs between pages comes from opts:
   *   keepLang         optional: keep the login page's language after login (persisted as chosen)
   *   roles, notAllowed  optional: a page for these roles only: resume, fromMe and accept then
   *                    default to "a session of one of them" (refused at login with the word key
   *                    notAllowed, default login.not_allowed)
   *   resume(saved)    true if the session kept in this tab is still usable
   *   fromMe(me)       a session from GET /auth/me, or null for the form
   *   accept(res, n)   a session from POST /auth/login's answer (n: the counter
   *                    typed, NaN if none), or a word key to show instead
   *   remember(s)      what to keep for next time (default {username})
   *   prefill(last)    optional: fill the form's other fields from that
   *   enter(s)         show the page for session s
   *   leave()          drop the page's session and live state
   *   refused(err, retry)  optional: called with null before each try, then with a login's
   *                    refusal; true if the page shows it itself (retry(more) sends the login
   *                    again with more fields, e.g. {move: true})
   *   logoutRefused(err, force)  optional: a logout refused with a visitor at the counter;
   *                    force() logs out handing the visitor back
   * The page's words include login.need_name, login.wrong and login.expired.
   * Returns {start, logout, expire}.
   */
  /** staffLogin's options with resume, fromMe and accept derived from opts.roles where not given. */
  function roleGate(opts) {
    if (!opts.roles) return opts;
    var may = function (role) { return opts.roles.indexOf(role) >= 0; };
    var session = function (from, token) { return { token: token, username: from.username, role: from.role }; };
    return Object.assign({
      resume: function (saved) { return !!saved.username && may(saved.role); },
      fromMe: function (me) { return me && me.username && may(me.role) ? session(me, null) : null; },
      accept: function (res) { return may(res.role) ? session(res, res.token) : opts.notAllowed || "login.not_allowed"; }
    }, opts);
  }

  function staffLogin(opts) {
    opts = roleGate(opts);
    var p = "#" + (opts.prefix || "") + "login-";
    var sessionKey = opts.key + ".session";
    var lastKey = opts.key + ".last";
    var remember = opts.remember || function (s) { return { username: s.username }; };
    $(p + "form").addEventListener("submit", onLogin);

    function readJson(store, key, fallback) {
      try { return JSON.parse(storageGet(store, key) || "null") || fallback; } catch (e) { return fallback; }
    }

    function start() {
      var saved = readJson(sessionStorage, sessionKey, null);
      if (saved && opts.resume(saved)) return enter(saved);
      // No session in this tab: the hub's session cookie may still be valid (a new tab).
      api("GET", "/auth/me").then(function (me) {
        var s = opts.fromMe(me);
        if (s && me.timezone) s.timezone = me.timezone;
        if (s) enter(s);
        else showLogin();
      }, function () { showLogin(); });
    }

    function showLogin(reasonKey) {
      show(opts.view, false);
      show(p + "view", true);
      var last = readJson(localStorage, lastKey, {});
      if (opts.prefill) opts.prefill(last);
      var user = $(p + "username"), password = $(p + "password");
      if (!user.value) user.value = last.username || "";
      password.value = "";
      loginError(reasonKey || null);
      (user.value ? password : user).focus();
    }

    /** key: a word key, or a function giving the words (re-read on a language switch, not live). */
    function loginError(key) {
      var el = $(p + "error");
      el.textContent = !key ? "" : typeof key === "function" ? key() : t(key);
      el.hidden = !key;
    }

    function onLogin(e) {
      e.preventDefault();
      var username = $(p + "username").value.trim();
      var password = $(p + "password").value;
      var counterField = $(p + "counter");   // a page without counters (the triage desk) has none
      var counter = counterField ? parseInt(counterField.value, 10) : NaN;
      if (!username || !password) return loginError("login.need_name");
      var body = { username: username, password: password };
      if (counter > 0) body.counter = counter;   // staff need one; admins may log in without
      send(body, counter);
    }

    /** POST /auth/login; a refusal the page handles itself (opts.refused) gets a retry with more fields. */
    function send(body, counter) {
      var btn = $(p + "submit");
      btn.disabled = true;
      setToken(null);
      if (opts.refused) opts.refused(null);
      api("POST", "/auth/login", body).then(function (res) {
        var s = opts.accept(res, counter);
        if (typeof s === "string") return loginError(s);
        if (res.timezone) s.timezone = res.timezone;
        // opts.keepLang (the counter console): the language the login page showed (the clerk's
        // choice, or the browser's) stays after login, kept as chosen, so the hall's default in the
        // snapshot does not flip it; a switch changes it.
        if (opts.keepLang && !langChosen) setLang(lang);
        storageSet(localStorage, lastKey, JSON.stringify(remember(s)));
        enter(s);
      }, function (err) {
        var retry = function (more) { send(Object.assign({}, body, more), counter); };
        if (opts.refused && opts.refused(err, retry)) return loginError(null);
        loginError(err.code === "unauthorized" ? "login.wrong" : function () { return errorText(err); });
      }).then(function () { btn.disabled = false; });
    }

    function enter(s) {
      // The hall's zone from the login (or /auth/me): the page's times are the hall's before any snapshot.
      if (s.timezone) setTimeZone(s.timezone);
      setToken(s.token);
      storageSet(sessionStorage, sessionKey, JSON.stringify(s));
      show(p + "view", false);
      show(opts.view, true);
      opts.enter(s);
    }

    /**
     * POST /auth/logout, then the form. A refusal the page handles (opts.logoutRefused: a visitor
     * still at the counter) keeps the page logged in and gets a way to force it; any other failure
     * (the network) logs out here anyway: the hub's session ends when its time is up.
     */
    function logout(more) {
      var body = more && more.force ? { force: true } : undefined;
      return api("POST", "/auth/logout", body).then(function () {
        leave();
        showLogin();
      }, function (err) {
        if (opts.logoutRefused && err.code === "ticket_at_counter") {
          return opts.logoutRefused(err, function () { return logout({ force: true }); });
        }
        leave();
        showLogin();
      });
    }

    /** The hub no longer knows us (expired, revoked): back to the form with a reason. */
    function expire() {
      leave();
      showLogin("login.expired");
    }

    function leave() {
      setToken(null);
      storageSet(sessionStorage, sessionKey, null);
      opts.leave();
    }

    return { start: start, logout: logout, expire: expire };
  }

  /* ------------------------------------------------------------------ */
  /* Socket.IO                                                           */
  /* ------------------------------------------------------------------ */

  var LIVE_EVENTS = ["ticket_issued", "ticket_called", "ticket_recalled", "ticket_changed", "counter_changed"];
  // Handler names connect() calls itself rather than binding as events.
  var OWN_HANDLERS = ["snapshot", "queue", "online", "unauthorized", "connect", "disconnect", "connect_error"];
  var RECENT_CALLS = 10;         // as many as the hub's snapshot keeps
  var RESYNC_RETRY_MS = 10000;   // a snapshot asked for and not come by then is asked for again

  /**
   * Apply one hall delta (a live event's payload, docs/contract.md) to a
   * snapshot, in place: the services' waiting counts and next numbers, the
   * counters' views, the call at the top of recent_calls, and the version.
   * Every part is a value to set, not an amount to add, so a delta the
   * snapshot already reflects changes nothing. Returns the snapshot.
   */
  function applyDelta(snap, delta) {
    (delta.services || []).forEach(function (s) {
      (snap.services || []).forEach(function (mine) {
        if (mine.code !== s.code) return;
        mine.waiting = s.waiting;
        mine.next_numbers = s.next_numbers;
        // The same numbers with their marks (优先 / 预约); a delta without them leaves none stale.
        if (s.next_tickets) mine.next_tickets = s.next_tickets;
        else delete mine.next_tickets;
        // A newcomer's estimated wait (null: no counter open); a delta without it leaves none stale.
        if ("estimate_minutes" in s) mine.estimate_minutes = s.estimate_minutes;
        else delete mine.estimate_minutes;
      });
    });
    (delta.counters || []).forEach(function (c) {
      var list = snap.counters = snap.counters || [];
      for (var i = 0; i < list.length; i++) {
        if (list[i].number === c.number) { list[i] = c; return; }
      }
      list.push(c);
    });
    var call = delta.call;
    if (call) {
      var calls = (snap.recent_calls || []).filter(function (old) {
        return !(old.ticket_id === call.ticket_id && old.at === call.at && old.recall === call.recall);
      });
      calls.unshift(call);
      snap.recent_calls = calls.slice(0, RECENT_CALLS);
    }
    if (typeof delta.v === "number" && !(snap.v >= delta.v)) snap.v = delta.v;
    return snap;
  }

  /**
   * Whether a delta fits right after a snapshot: "apply", "old" (the
   * snapshot has it already), or "gap" (versions were missed, or the business
   * day turned): then only a new snapshot can say how the hall is.
   */
  function deltaFits(snap, delta) {
    var from = typeof delta.from === "number" ? delta.from : delta.v;
    if (delta.v <= snap.v) return "old";
    if (from > snap.v + 1) return "gap";
    if (delta.day && snap.business_day && delta.day !== snap.business_day) return "gap";
    return "apply";
  }

  /**
   * Connect to the hub's Socket.IO with `auth` ({token} or {ticket}).
   * handlers: snapshot(snap) on every (re)connect, so a screen redraws from
   * nothing after a network cut; one function per live event name (with the
   * event's payload); queue(snap, name, delta) after a live event changed the
   * hall; online(bool) for a connection lamp; unauthorized(word) when the hub
   * refuses us.
   *
   * Live events carry only what changed, with the hall's version (`v`, or
   * `from`..`v` for a run of tickets). connect() keeps the page's snapshot:
   * it applies each delta in order and hands queue() the whole hall, so a
   * page draws from one object however it was built. A delta whose version
   * does not follow (missed while the socket was down, or dropped by the hub)
   * makes it ask the hub for the snapshot again (`snapshot` sent, `snapshot`
   * received) and hold later deltas until it comes; snapshot() then gets the
   * new one. Named handlers are called for every event as it comes, gap or
   * not (a call should flash even when the counts are being fetched again).
   *
   * <body data-live="…"> tells tests (and a curious technician) where the
   * link is: connecting, connected (snapshot drawn), offline, refused;
   * <body data-hall-version="n"> the version the page shows.
   * A visitor's phone gets no snapshot, so it is "connected" on connect.
   * Any other handler name is bound as an event of its own (a kiosk's
   * print_status and printer_status, staff's device_status), with the same
   * guard: a handler that throws does not take the connection down.
   * Returns the socket.
   */
  function connect(auth, handlers) {
    handlers = handlers || {};
    var visitor = !!(auth && auth.ticket);
    var hall = null;        // the snapshot with every delta since applied
    var held = [];          // deltas waiting for a snapshot ([name, payload]); null when none is awaited
    var askedAt = 0;        // when a snapshot was last asked for (0: the hub sends one on connect)
    setLive("connecting");
    var socket = global.io({ auth: auth });

    socket.on("connect", function () {
      call("online", true);
      if (visitor) setLive("connected");
    });
    socket.on("snapshot", function (snap) {
      if (!snap) return;
      if (snap.site && snap.site.timezone) setTimeZone(snap.site.timezone);
      hall = snap;
      var waiting = held || [];
      held = null;
      askedAt = 0;
      waiting.forEach(function (m) { absorb(m[0], m[1], true); });
      showVersion();
      call("snapshot", hall);
      setLive("connected");
    });
    LIVE_EVENTS.forEach(function (name) {
      socket.on(name, function (payload) {
        payload = payload || {};
        if (!visitor) absorb(name, payload, false);
        call(name, payload);
      });
    });
    Object.keys(handlers).forEach(function (name) {
      if (OWN_HANDLERS.indexOf(name) >= 0 || LIVE_EVENTS.indexOf(name) >= 0) return;
      socket.on(name, function (payload) { call(name, payload || {}); });
    });
    socket.on("connect_error", function (err) {
      call("online", false);
      // A refused handshake ("unauthorized", "forbidden" for a role the socket's
      // room is not for, "unknown_ticket" for a phone) is not retried by the
      // client; the page decides what to say (it gets the hub's word).
      if (err && /unauthori[sz]ed|forbidden|unknown_ticket/i.test(err.message || "")) {
        setLive("refused");
        call("unauthorized", err.message || "");
        return;
      }
      setLive("offline");
      // Otherwise Socket.IO keeps retrying on its own with backoff.
    });
    socket.on("disconnect", function (reason) {
      call("online", false);
      setLive("offline");
      // The hub sends a snapshot when we are back: until then deltas wait for it.
      held = held || [];
      askedAt = 0;
      // The hub dropped us on purpose (restart, token revoked): the client
      // does not reconnect by itself after that, so ask again after a pause.
      if (reason === "io server disconnect") {
        setTimeout(function () { if (!socket.connected) socket.connect(); }, 2000);
      }
    });
    return socket;

    /** A hall delta: apply it, hold it while a snapshot is awaited, or ask for one on a gap. */
    function absorb(name, payload, quiet) {
      if (typeof payload.v !== "number") return;   // not a hall delta
      if (held) {
        held.push([name, payload]);
        if (askedAt && Date.now() - askedAt > RESYNC_RETRY_MS) askSnapshot();
        return;
      }
      if (!hall) return;
      var fit = deltaFits(hall, payload);
      if (fit === "old") return;
      if (fit === "gap") {
        held = [[name, payload]];
        askSnapshot();
        return;
      }
      applyDelta(hall, payload);
      showVersion();
      if (!quiet) call("queue", hall, name, payload);
    }

    function askSnapshot() {
      askedAt = Date.now();
      // Asked while offline, the request would wait in the client and go out
      // twice with the snapshot of the reconnect; that one is enough.
      if (socket.connected) socket.emit("snapshot");
    }

    function showVersion() {
      if (document.body && hall) document.body.setAttribute("data-hall-version", String(hall.v));
    }

    function setLive(state) {
      if (document.body) document.body.setAttribute("data-live", state);
    }

    function call(name) {
      var fn = handlers[name];
      if (typeof fn !== "function") return;
      try {
        fn.apply(null, Array.prototype.slice.call(arguments, 1));
      } catch (e) {
        // One bad render must not kill the live connection.
        if (global.console) console.error("qcall: handler " + name + " failed", e);
      }
    }
  }

  /* ------------------------------------------------------------------ */
  /* Time                                                                */
  /* ------------------------------------------------------------------ */

  function toDate(value) {
    if (!value) return null;
    var d = value instanceof Date ? value : new Date(value);
    return isNaN(d.getTime()) ? null : d;
  }
  function pad(n) { return (n < 10 ? "0" : "") + n; }

  /*
   * The hall's time zone (the snapshot's site.timezone, e.g. "Asia/Shanghai"): every time a
   * page shows is the hall's, as on the paper ticket, whatever zone the browser is set to.
   * connect() takes it from each snapshot; a page without a snapshot calls setTimeZone().
   * Until it is known (or where Intl lacks time zones) the browser's own zone is used.
   */
  var siteZone = null;
  var zoneParts = null;   // Intl.DateTimeFormat for siteZone, or null

  function setTimeZone(zone) {
    if (!zone || zone === siteZone) return;
    try {
      zoneParts = new Intl.DateTimeFormat("en-US", {
        timeZone: zone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric",
        hour: "numeric", minute: "numeric", second: "numeric", weekday: "short"
      });
      siteZone = zone;
    } catch (e) {
      /* an unknown zone, or an old browser: the zone known before (or the browser's) stands */
    }
  }
  function timeZone() { return siteZone; }

  var SHORT_DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

  /** The wall clock of `d` in the hall's zone: {y, mo (0-11), d, h, mi, s, wd (0 Sunday)}. */
  function wall(d) {
    if (zoneParts) {
      var o = {};
      try {
        zoneParts.formatToParts(d).forEach(function (p) { o[p.type] = p.value; });
        return {
          y: +o.year, mo: +o.month - 1, d: +o.day, h: (+o.hour) % 24, mi: +o.minute, s: +o.second,
          wd: SHORT_DAYS.indexOf(o.weekday)
        };
      } catch (e) { /* no formatToParts: the browser's own zone below */ }
    }
    return {
      y: d.getFullYear(), mo: d.getMonth(), d: d.getDate(), h: d.getHours(), mi: d.getMinutes(),
      s: d.getSeconds(), wd: d.getDay()
    };
  }

  /** "09:05" or "09:05:30" in the hall's time zone (setTimeZone; the browser's until known). */
  function formatTime(value, withSeconds) {
    var d = toDate(value);
    if (!d) return "";
    var w = wall(d);
    var s = pad(w.h) + ":" + pad(w.mi);
    return withSeconds ? s + ":" + pad(w.s) : s;
  }

  /** "2026-12-01" in the hall's time zone (beside formatTime's time, so the two agree at midnight). */
  function formatDay(value) {
    var d = toDate(value);
    if (!d) return "";
    var w = wall(d);
    return w.y + "-" + pad(w.mo + 1) + "-" + pad(w.d);
  }

  var WEEKDAYS = {
    zh: ["星期日", "星期一", "星期二", "星期三", "星期四", "星期五", "星期六"],
    en: ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
  };
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

  /** "2026年11月25日 星期三" / "Wednesday 25 Nov 2026" in the hall's zone (words of our own: old kiosks lack zh data). */
  function formatDate(value, l) {
    var d = toDate(value);
    if (!d) return "";
    l = l || lang;
    var w = wall(d);
    if (l === "zh") {
      return w.y + "年" + (w.mo + 1) + "月" + w.d + "日 " + WEEKDAYS.zh[w.wd];
    }
    return WEEKDAYS.en[w.wd] + " " + w.d + " " + MONTHS[w.mo] + " " + w.y;
  }

  /** Whole minutes from `value` to now (never negative, for clocks a little apart). */
  function minutesSince(value) {
    var d = toDate(value);
    if (!d) return 0;
    return Math.max(0, Math.floor((Date.now() - d.getTime()) / 60000));
  }

  /** Call fn(now) now and at the start of every second. Returns a stop function. */
  function everySecond(fn) {
    var timer = null;
    function tick() {
      fn(new Date());
      timer = setTimeout(tick, 1000 - (Date.now() % 1000) + 5);
    }
    tick();
    return function () { clearTimeout(timer); };
  }

  /* ------------------------------------------------------------------ */
  /* Small things                                                        */
  /* ------------------------------------------------------------------ */

  /** Run fn once, `ms` after the last of a burst of calls. */
  function debounce(fn, ms) {
    var timer = null;
    return function () {
      var args = arguments;
      clearTimeout(timer);
      timer = setTimeout(function () { fn.apply(null, args); }, ms);
    };
  }

  /**
   * A destructive button's "second tap to confirm" (remove a setting, end a clerk's post, cancel a
   * booking): the first tap on `key` arms it, the page redraws it with its confirm words, and after
   * `ms` it falls back by itself (redrawn again); a second tap on the same key in that time acts.
   * Why one place: every admin section must answer such a tap the same way, and each one wrote the
   * same key-and-timer dance again. Returns {tap(key): true on the second tap (disarmed), false on a
   * first (armed, redrawn); armed(key): whether key waits for its second tap; reset(): none waits}.
   */
  function secondTap(redraw, ms) {
    var waiting = null;
    var timer = null;
    function reset() { waiting = null; clearTimeout(timer); }
    return {
      tap: function (key) {
        if (waiting === key) { reset(); return true; }
        waiting = key;
        clearTimeout(timer);
        timer = setTimeout(function () { waiting = null; redraw(); }, ms);
        redraw();
        return false;
      },
      armed: function (key) { return waiting === key; },
      reset: reset
    };
  }

  /**
   * The hall's notices as GET /api/v1/notices answers them, for the lobby's content zone and the
   * kiosk's notices strip. read() asks again (on connect and on `notices_changed`); the answer is
   * also read again at the next start or end the hub announced (`next_change_in`), for a screen that
   * missed the event, and after `retryMs` when the read failed (offline). Only the latest read's answer
   * counts. showing() is the notices on show now by the hub's clock (its `now` against this screen's),
   * so a notice whose end passed leaves even before the next read. Why one place: both pages read,
   * re-read and drop notices the same way, and the timing is easy to get subtly wrong twice.
   * `loaded(answer)` after each read that landed, `failed()` after one that did not.
   */
  function noticeReader(loaded, failed, retryMs) {
    var answer = null;
    var offset = 0;            // hub clock − this screen's clock, in ms
    var changeTimer = null;
    var retryTimer = null;
    var generation = 0;
    function read() {
      var mine = ++generation;
      clearTimeout(retryTimer);
      api("GET", "/notices").then(function (res) {
        if (mine !== generation) return;
        answer = res;
        offset = Date.parse(res.now) - Date.now();
        clearTimeout(changeTimer);
        if (typeof res.next_change_in === "number") {
          changeTimer = setTimeout(read, Math.min(res.next_change_in * 1000 + 500, 2147483000));
        }
        loaded(res);
      }, function () {
        if (mine !== generation) return;
        retryTimer = setTimeout(read, retryMs);
        if (failed) failed();
      });
    }
    function hubNow() { return Date.now() + offset; }
    function showing() {
      var now = hubNow();
      return ((answer && answer.notices) || []).filter(function (n) {
        return Date.parse(n.starts_at) <= now && Date.parse(n.ends_at) > now;
      });
    }
    return { read: read, hubNow: hubNow, showing: showing };
  }

  function each(list, fn) { Array.prototype.forEach.call(list, fn); }
  function $(sel, root) { return (root || document).querySelector(sel); }

  /** Show or hide with the `hidden` attribute (CSS forces display:none on it). */
  function show(el, visible) {
    if (typeof el === "string") el = $(el);
    if (el) el.hidden = !visible;
  }

  /**
   * A page's one message, {kind, text()}, in a banner element (class
   * "banner <kind>"); null hides it. text is a function, so a language
   * switch can re-word the message by drawing it again.
   */
  function banner(el, msg) {
    if (typeof el === "string") el = $(el);
    if (!msg) { el.hidden = true; return; }
    el.className = "banner " + msg.kind;
    el.textContent = msg.text();
    el.hidden = false;
  }

  /**
   * A page's message banner with its state: set(kind, text(), code) shows
   * (kind null hides), code() is the shown message's code, draw() re-words it
   * after a language switch.
   */
  function messageBanner(el) {
    var message = null;
    function draw() { banner(el, message); }
    return {
      set: function (kind, text, code) {
        message = kind ? { kind: kind, text: text, code: code || null } : null;
        draw();
      },
      code: function () { return message ? message.code : null; },
      draw: draw
    };
  }

  /** The connection lamp: connected or not; hidden while `online` is null (no try yet). */
  function connLamp(el, online) {
    if (typeof el === "string") el = $(el);
    el.hidden = online === null;
    el.className = "conn" + (online ? "" : " offline");
    el.textContent = t(online ? "conn.online" : "conn.offline");
  }

  /* ------------------------------------------------------------------ */
  /* Screens at one counter                                              */
  /* ------------------------------------------------------------------ */

  /** ?counter=N in this page's address: a whole number above 0, or null. */
  function urlCounter() {
    var n = parseInt(new URLSearchParams(location.search).get("counter"), 10);
    return n > 0 ? n : null;
  }

  /** Counter `number` in a snapshot, or null. */
  function findCounter(snap, number) {
    var found = null;
    ((snap && snap.counters) || []).forEach(function (c) { if (c.number === number) found = c; });
    return found;
  }

  /**
   * The counter this device screen shows (?counter=N) in a snapshot; when the
   * hub has no such counter, the #setup notice says so and the result is null.
   */
  function screenCounter(snap, number) {
    var counter = findCounter(snap, number);
    if (!counter) {
      showSetup("setup.unknown_counter", { n: number });
      return null;
    }
    show("#setup", false);
    return counter;
  }

  /** A counter's name in language l; before the snapshot (no counter yet) "3号窗口" / "Counter 3". */
  function counterName(counter, number, l) {
    return counter ? name(counter, l) : t("counter.default_name", { n: number || "" }, l);
  }

  /** A device screen that cannot work (#setup), its reason in both languages in #setup-title. */
  function showSetup(key, vars) {
    setHtml($("#setup-title"), html`${t(key, vars, "zh")} <span class="en">${t(key, vars, "en")}</span>`);
    show("#setup", true);
  }

  /* ------------------------------------------------------------------ */
  /* Public marks beside a number                                        */
  /* ------------------------------------------------------------------ */

  /**
   * The marks a public screen shows beside a number (lobby, counter screen):
   * "优先 Priority" for a green-channel ticket, "预约 Appt." for an
   * appointment's, from the public flags `priority` and `appointment` of a
   * ticket, a call or a next ticket. A mark only: never the category, a name
   * or a phone. Both languages always (nobody switches a TV's language).
   */
  function marks(item, extra) {
    if (!item) return html``;
    var cls = extra ? " " + extra : "";
    var out = [];
    if (item.priority) out.push(html`<span class="${"mark mark-priority" + cls}" data-mark="priority">优先 <span class="en">Priority</span></span>`);
    if (item.appointment) out.push(html`<span class="${"mark mark-appointment" + cls}" data-mark="appointment">预约 <span class="en">Appt.</span></span>`);
    return html`${out}`;
  }

  global.QCall = {
    esc: esc, html: html, raw: raw, setHtml: setHtml,
    i18n: i18n, t: t, t2: t2, name: name, lang: currentLang, setLang: setLang,
    toggleLang: toggleLang, resetLang: resetLang, defaultLang: defaultLang, onLang: onLang, translatePage: translatePage,
    takeToken: takeToken, setToken: setToken, getToken: getToken,
    storageGet: storageGet, storageSet: storageSet,
    api: api, ApiError: ApiError, errorText: errorText, hubWords: hubWords,
    connect: connect, applyDelta: applyDelta, deltaFits: deltaFits,
    formatTime: formatTime, formatDate: formatDate, formatDay: formatDay, setTimeZone: setTimeZone, timeZone: timeZone, minutesSince: minutesSince, everySecond: everySecond,
    staffLogin: staffLogin,
    urlCounter: urlCounter, findCounter: findCounter, screenCounter: screenCounter, counterName: counterName, showSetup: showSetup,
    marks: marks,
    debounce: debounce, secondTap: secondTap, noticeReader: noticeReader, each: each, $: $, show: show, banner: banner, messageBanner: messageBanner, connLamp: connLamp
  };
})(window);
