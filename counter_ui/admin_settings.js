/*
 * What the admin page's settings sections share (services, counters, hours,
 * priority categories): the hall's editable settings read once from
 * GET /admin/settings, saved section by section with PUT /admin/settings/{name}
 * {value, version}, and the refusals of a save shown on the form that made it.
 *
 * Why one place: every section saves the WHOLE section with the version it was
 * based on (a manager who saved in between makes the hub answer 409
 * stale_version instead of one manager silently overwriting the other), and
 * each refusal (422 invalid_settings with its field paths, 409 stale_version,
 * 409 in_use) must read the same on every form, in Chinese and English.
 * The sections re-read the settings when the hub says they changed
 * (`settings_changed`, handed on by admin.js), so a second admin's page follows.
 *
 * Exposes window.QCallSettings; registers itself in window.QCallAdminSections
 * (loaded after admin_priority.js and before the sections that use it).
 */
(function (global) {
  "use strict";
  var Q = global.QCall, $ = Q.$;

  var WORDS = {
    zh: {
      "settings.save": "保存",
      "settings.saving": "正在保存…",
      "settings.cancel": "取消",
      "settings.edit": "修改",
      "settings.remove": "删除",
      "settings.remove_confirm": "确认删除？",
      "settings.add": "添加",
      "settings.saved": "已保存（第 {version} 版）。已通知所有屏幕。",
      "settings.from_file": "来自配置文件，尚未在此修改。",
      "settings.changed": "第 {version} 版，{who} 于 {at} 修改。",
      "settings.read_only": "只有管理员可以修改。",
      "settings.problems": "没有保存：请修改标出的内容。",
      "settings.field_bad": "「{label}」有误",
      "settings.stale": "没有保存：在您修改期间，{who}已保存了新的设置。页面已显示最新内容，请重新修改。",
      "settings.someone": "另一位管理员",
      "settings.in_use": "没有保存：{what} 今天仍在使用中（有等候或在办的号票，或有人在岗），不能删除。业务可先“今天停止取号”，办完后再删除。",
      "settings.required": "必须填写",
      "settings.duplicate": "与另一项重复",
      "settings.whole": "应为整数 {min}–{max}",
      "settings.err.bad_request": "请求格式有误",
      "settings.err.forbidden": "此账号无权修改设置",
      "settings.err.not_found": "找不到此设置",
      "settings.err.network": "无法连接服务器，请稍后再试",
      "settings.err.store_unavailable": "服务器暂时无法保存，请稍后再试",
      "settings.err.other": "保存失败",
      "settings.load_failed": "无法读取设置"
    },
    en: {
      "settings.save": "Save",
      "settings.saving": "Saving…",
      "settings.cancel": "Cancel",
      "settings.edit": "Edit",
      "settings.remove": "Remove",
      "settings.remove_confirm": "Really remove?",
      "settings.add": "Add",
      "settings.saved": "Saved (version {version}). Every screen has been told.",
      "settings.from_file": "From the site file; not changed here yet.",
      "settings.changed": "Version {version}, changed by {who} at {at}.",
      "settings.read_only": "Only admins may change this.",
      "settings.problems": "Not saved: please correct what is marked.",
      "settings.field_bad": "{label}",
      "settings.stale": "Not saved: {who} saved new settings while you were editing. The page now shows them; please make your change again.",
      "settings.someone": "another admin",
      "settings.in_use": "Not saved: {what} is still in use today (tickets waiting or being served, or a clerk on post) and cannot be removed. A service can \"Stop tickets today\" first and be removed once they are done.",
      "settings.required": "required",
      "settings.duplicate": "the same as another entry",
      "settings.whole": "expected a whole number from {min} to {max}",
      "settings.err.bad_request": "The request was malformed",
      "settings.err.forbidden": "This account may not change the settings",
      "settings.err.not_found": "No such setting",
      "settings.err.network": "Cannot reach the hub; please try again shortly",
      "settings.err.store_unavailable": "The hub cannot save right now; please try again shortly",
      "settings.err.other": "Not saved",
      "settings.load_failed": "The settings cannot be read"
    }
  };

  var READERS = ["admin", "supervisor"];

  var session = null;
  var page = null;            // {expire}
  var generation = 0;
  var sections = null;        // {name: {value, version, stored, changed_at, changed_by}}
  var loadError = null;
  var listeners = [];         // fn(sections, loadError) after every read or save
  var businessDay = null;     // the hub's business day ("2026-12-01"), from the hall's snapshot

  /* -- reading and saving ------------------------------------------------ */

  function load() {
    if (!reader()) return Promise.resolve(null);
    var mine = generation;
    return Q.api("GET", "/admin/settings").then(function (res) {
      if (mine !== generation) return null;
      sections = (res && res.sections) || {};
      loadError = null;
      tell();
      return sections;
    }, function (err) {
      if (mine !== generation || expired(err)) return null;
      loadError = err;
      tell();
      return null;
    });
  }

  var loadSoon = Q.debounce(function () { if (session) load(); }, 200);

  /**
   * PUT the whole new value of section `name`, based on `version`: the version the form showed when
   * it was opened (default: the one this page holds now). A form keeps the version it was opened
   * on, so another admin's save meanwhile (re-read here live) makes the hub refuse this one rather
   * than this form's values silently overwriting that change.
   */
  function save(name, value, version) {
    var held = sections && sections[name];
    var body = { value: value, version: typeof version === "number" ? version : held ? held.version : 0 };
    var mine = generation;
    return Q.api("PUT", "/admin/settings/" + encodeURIComponent(name), body).then(function (res) {
      if (mine === generation && sections && res) {
        sections[name] = {
          value: res.value, version: res.version, stored: res.stored,
          changed_at: res.changed_at, changed_by: res.changed_by
        };
        tell();
      }
      return res;
    }, function (err) {
      if (expired(err)) throw err;
      // Someone saved in between: show what is there now, the form says why.
      if (err && err.code === "stale_version") load();
      throw err;
    });
  }

  function tell() {
    listeners.forEach(function (fn) {
      try { fn(sections, loadError); } catch (e) { if (global.console) console.error("settings: listener failed", e); }
    });
  }

  function expired(err) {
    if (err && err.code === "unauthorized" && page && page.expire) { page.expire(); return true; }
    return false;
  }

  function reader() { return !!session && READERS.indexOf(session.role) >= 0; }
  function isAdmin() { return !!session && session.role === "admin"; }

  /* -- refusals ------------------------------------------------------------ */

  /** Both languages: our words for the code, and the hub's sentence when we have none. */
  function refusal(err, what) {
    var code = err && err.code;
    var data = (err && err.data) || {};
    if (code === "invalid_settings") return Q.t2("settings.problems");
    if (code === "stale_version") {
      var who = data.changed_by;
      return Q.t("settings.stale", { who: who || Q.t("settings.someone", null, "zh") }, "zh") + " / " +
        Q.t("settings.stale", { who: who || Q.t("settings.someone", null, "en") }, "en");
    }
    if (code === "in_use") {
      // The hub's words say what is in the way (tickets, a clerk, a prefix used today, appointments
      // booked ahead): shown alone when it has them in both languages; our general words otherwise.
      var thing = { what: what || data.field || "" };
      if (data.error_zh && data.error_en) {
        return "没有保存：" + data.error_zh + " / Not saved: " + data.error_en;
      }
      var hub = words(data, err.message && err.message !== code ? err.message : "");
      return Q.t("settings.in_use", thing, "zh") + (hub.zh ? "（" + hub.zh + "）" : "") + " / " +
        Q.t("settings.in_use", thing, "en") + (hub.en ? " (" + hub.en + ")" : "");
    }
    var key = "settings.err." + code;
    if (Q.t(key, null, "zh") === key) key = "settings.err.other";
    if (key === "settings.err.other" && data.error_zh && data.error_en) {
      return data.error_zh + " / " + data.error_en;  // the hub's words, each language whole
    }
    var detail = err && err.name === "ApiError" && err.message && err.message !== code ? err.message : "";
    return detail ? Q.t2(key) + ": " + detail : Q.t2(key);
  }

  /**
   * The hub's field problems: [{field: "services[2].code", message, error_zh, error_en}] (or the one of
   * in_use's `field`).
   */
  function problems(err) {
    var data = (err && err.data) || {};
    if (Array.isArray(data.problems) && data.problems.length) return data.problems;
    if (data.field) {
      return [{ field: data.field, message: err.message || "", error_zh: data.error_zh, error_en: data.error_en }];
    }
    return [];
  }

  /** The hub's words in each language ({zh, en}); its English in both when it sent no Chinese. */
  function words(p, english) {
    var en = String(p.error_en || p.message || english || "");
    return { zh: String(p.error_zh || en), en: en };
  }

  /** A problem that belongs to no input, with its path: "services[2].code：中文 / services[2].code: English". */
  function problemLine(p) {
    var field = String(p.field || ""), w = words(p);
    return (field ? field + "：" : "") + w.zh + " / " + (field ? field + ": " : "") + w.en;
  }

  /**
   * Split "counters[3].services[0]" under `prefix` "counters[3]" into its first key ("services");
   * "" when the problem is the item itself; null when it is not under the prefix.
   */
  function keyUnder(field, prefix) {
    if (field === prefix) return "";
    if (field.indexOf(prefix + ".") !== 0) return null;
    return field.slice(prefix.length + 1).split(/[.[]/)[0];
  }

  /* -- a form's own messages ---------------------------------------------- */

  /**
   * Marks on a form: `marks` is {key: text} (bilingual text, under the input whose data-key is key),
   * `rest` a list of texts that belong to no input (shown in the form's .form-problems list).
   */
  function markForm(form, marks, rest) {
    Q.each(form.querySelectorAll(".field-error"), function (el) { el.parentNode.removeChild(el); });
    Q.each(form.querySelectorAll("[data-key]"), function (input) {
      var text = marks[input.getAttribute("data-key")];
      input.classList.toggle("invalid", !!text);
      if (text) input.setAttribute("aria-invalid", "true"); else input.removeAttribute("aria-invalid");
      if (!text) return;
      var note = document.createElement("p");
      note.className = "field-error";
      note.setAttribute("data-error-for", input.getAttribute("data-key"));
      note.textContent = text;
      var holder = input.closest ? input.closest(".field") : null;
      (holder || input.parentNode).appendChild(note);
    });
    var list = form.querySelector(".form-problems");
    if (!list) return;
    list.hidden = !(rest && rest.length);
    Q.setHtml(list, Q.html`${(rest || []).map(function (text) { return Q.html`<li>${text}</li>`; })}`);
  }

  /**
   * The hub's problems on a form: those under `prefix` (e.g. "services[4]") beside their input, the
   * others listed with their path. `label(key, l)` names an input's field in language l.
   */
  function markProblems(form, err, prefix, label) {
    var marks = {}, rest = [];
    problems(err).forEach(function (p) {
      var field = String(p.field || "");
      var key = prefix === null ? null : keyUnder(field, prefix);
      if (key && form.querySelector('[data-key="' + key + '"]')) {
        marks[key] = (marks[key] ? marks[key] + " · " : "") + bilingualField(label, key, p);
      } else {
        rest.push(problemLine(p));
      }
    });
    markForm(form, marks, rest);
  }

  /** "「中文名称」有误：<the hub's Chinese> / Name (Chinese): <its English>": each language whole. */
  function bilingualField(label, key, p) {
    var w = words(p);
    return Q.t("settings.field_bad", { label: label(key, "zh") }, "zh") + "：" + w.zh + " / " +
      Q.t("settings.field_bad", { label: label(key, "en") }, "en") + ": " + w.en;
  }

  /** A bilingual "label: what is wrong" for a check made here before sending. */
  function localMark(label, key, wordKey, vars) {
    return label(key, "zh") + "：" + Q.t(wordKey, vars, "zh") + " / " + label(key, "en") + ": " + Q.t(wordKey, vars, "en");
  }

  /** "版本 3，admin 于 10:05 修改" or "from the site file", both languages. */
  function provenance(held) {
    if (!held) return "";
    if (!held.stored) return Q.t("settings.from_file");
    return Q.t("settings.changed", {
      version: held.version, who: held.changed_by || "?",
      at: held.changed_at ? Q.formatDate(held.changed_at) + " " + Q.formatTime(held.changed_at) : "?"
    });
  }

  /** A message {kind, text, lines?} in a banner (lines: the hub's problems, one a line). */
  function say(el, msg) {
    if (!el) return;
    el.hidden = !msg;
    if (!msg) return;
    el.className = "banner " + msg.kind;
    if (!msg.lines || !msg.lines.length) { el.textContent = msg.text; return; }
    Q.setHtml(el, Q.html`${msg.text}<ul class="banner-lines">${msg.lines.map(function (line) {
      return Q.html`<li>${line}</li>`;
    })}</ul>`);
  }

  /** A deep copy of a section's JSON value (the forms change copies, never what was read). */
  function copy(value) { return value === undefined ? undefined : JSON.parse(JSON.stringify(value)); }

  /** An integer field: "" → null; else the number, or NaN when it is not a whole number. */
  function whole(text) {
    text = String(text || "").trim();
    if (!text) return null;
    return /^-?\d+$/.test(text) ? parseInt(text, 10) : NaN;
  }

  /* -- a list section (services, counters, priority categories) ----------- */

  var CONFIRM_MS = 5000;      // a remove button waits this long for its second tap

  /**
   * The table and the add/edit form of a section that is a list of objects. Ids follow `opts.id`
   * ("svc" → #svc-panel, #svc-list, #svc-new, #svc-form, #svc-form-title, #svc-cancel, #svc-message,
   * #svc-provenance). opts:
   *   name         the section's name ("services")
   *   keyOf(item)  what tells the items apart ("PAY", 3): the row's data-key
   *   cells(item)  the row's cells (html``), before the buttons
   *   fill(form, item)      put item (null: a new one) into the form's inputs
   *   read(form, original)  the edited item: a copy of original (keys the form does not show kept)
   *                         with the form's values; {marks: {key: text}} when a value cannot be read
   *   check(item, others)   {key: text} of what is wrong with item among the others (before sending)
   *   label(key, l)         an input's name in language l
   *   what(item)            the item in a sentence ("PAY 电费缴纳")
   *   drawn()               optional: after each drawing (other forms that show this list)
   *   more(item, index)     optional: more buttons of a row (html``, each with data-act and data-index)
   *   act(name, index)      optional: a tap on one of those
   *   listOf(value), withList(value, list), path   optional: the list is a part of the section's value
   *                         (hours' exceptions: value.exceptions, whose problems are "hours.exceptions[n]")
   * Returns {draw, list, say(msg), busyWhile(fn)}.
   */
  function listEditor(opts) {
    var id = opts.id;
    var editing = null;       // null: form closed; -1: a new item; n: the item at n
    var basedOn = 0;          // the section's version when the form was opened
    var message = null;       // {kind, text} above the table
    var removing = Q.secondTap(function () { draw(); }, CONFIRM_MS);  // a remove button's second tap
    var busy = false;
    var bound = false;

    function el(suffix) { return $("#" + id + "-" + suffix); }
    function list() {
      var held = sections && sections[opts.name];
      var value = held ? held.value : null;
      return (value && (opts.listOf ? opts.listOf(value) : value)) || [];
    }
    function form() { return el("form"); }

    function bind() {
      if (bound || !el("panel")) return;
      bound = true;
      el("new").addEventListener("click", function () { open(-1); });
      el("cancel").addEventListener("click", function () { editing = null; draw(); });
      form().addEventListener("submit", function (e) { e.preventDefault(); submit(); });
      el("list").addEventListener("click", function (e) {
        var button = e.target.closest ? e.target.closest("button[data-act]") : null;
        if (!button || busy) return;
        var index = parseInt(button.getAttribute("data-index"), 10);
        var act = button.getAttribute("data-act");
        if (act === "edit") open(index);
        else if (act === "remove") remove(index);
        else if (opts.act && isAdmin()) opts.act(act, index);
      });
    }

    function open(index) {
      editing = index;
      var held = sections && sections[opts.name];
      basedOn = held ? held.version : 0;
      message = null;
      opts.fill(form(), index >= 0 ? list()[index] : null);
      markForm(form(), {}, []);
      draw();
      var first = form().querySelector("input:not([readonly]), select");
      if (first) first.focus();
    }

    function submit() {
      if (busy || editing === null || !isAdmin()) return;
      var items = list();
      var original = editing >= 0 ? items[editing] : null;
      var item = opts.read(form(), copy(original));
      if (item && item.marks) { markForm(form(), item.marks, []); return; }
      var others = items.filter(function (x, i) { return i !== editing; });
      var marks = opts.check(item, others);
      if (Object.keys(marks).length) { markForm(form(), marks, []); return; }
      var next = items.slice();
      var index = editing >= 0 ? editing : next.length;
      next[index] = item;
      send(next, index, item, basedOn);
    }

    function remove(index) {
      var item = list()[index];
      if (!item || !isAdmin()) return;
      var key = String(opts.keyOf(item));
      if (!removing.tap(key)) return;
      var next = list().filter(function (x, i) { return i !== index; });
      send(next, null, item);
    }

    /**
     * Save the whole new list; `index`: the edited item's place (null: a removal of `item`, of the list
     * as shown now); `version`: what the form was opened on.
     */
    function send(next, index, item, version) {
      busy = true;
      drawBusy();
      var held = sections && sections[opts.name];
      var value = opts.withList ? opts.withList(copy(held ? held.value : {}), next) : next;
      save(opts.name, value, version).then(function (res) {
        editing = null;
        message = { kind: "ok", text: Q.t2("settings.saved", { version: res.version }) };
        if (index !== null) markForm(form(), {}, []);
      }, function (err) {
        if (err && err.code === "unauthorized") return;
        if (index !== null && err && err.code === "invalid_settings") {
          markProblems(form(), err, (opts.path || opts.name) + "[" + index + "]", opts.label);
          message = { kind: "error", text: refusal(err) };
        } else {
          if (index !== null) markForm(form(), {}, []);
          // A removal the site's rules refuse (a counter still serves the service): no form to mark.
          var lines = err && err.code === "invalid_settings" ? problems(err) : [];
          message = {
            kind: "error", text: refusal(err, opts.what(item)),
            lines: lines.map(problemLine)
          };
          if (err && err.code === "stale_version") editing = null;
        }
      }).then(function () { busy = false; draw(); });
    }

    function draw() {
      if (!el("panel")) return;
      bind();
      var admin = isAdmin();
      var items = list();
      var held = sections && sections[opts.name];
      el("provenance").textContent = held ? provenance(held) + (admin ? "" : " " + Q.t("settings.read_only")) : "";
      say(el("message"), message);
      Q.setHtml(el("list"), Q.html`${items.map(function (item, index) {
        var key = String(opts.keyOf(item));
        var armed = removing.armed(key);
        return Q.html`<tr data-key="${key}"${editing === index ? Q.raw(' class="editing"') : ""}>${opts.cells(item)}
          ${admin ? Q.html`<td class="settings-actions">
            <button type="button" class="settings-button" data-act="edit" data-index="${index}">${Q.t("settings.edit")}</button>
            <button type="button" class="settings-button danger${armed ? " confirming" : ""}" data-act="remove"
              data-index="${index}">${Q.t(armed ? "settings.remove_confirm" : "settings.remove")}</button>
            ${opts.more ? opts.more(item, index) : ""}
          </td>` : ""}</tr>`;
      })}`);
      Q.show(el("action-col"), admin);
      Q.show(el("new"), admin && editing === null);
      Q.show(form(), admin && editing !== null);
      if (editing !== null) {
        el("form-title").textContent = editing >= 0
          ? Q.t("settings.edit") + " · " + opts.what(items[editing] || {})
          : Q.t(id + ".new");
      }
      drawBusy();
      if (opts.drawn) opts.drawn();
    }

    function drawBusy() {
      Q.each(el("panel").querySelectorAll("button"), function (b) { b.disabled = busy; });
      var saveButton = form().querySelector("button[type=submit]");
      if (saveButton) saveButton.textContent = Q.t(busy ? "settings.saving" : "settings.save");
    }

    listeners.push(function () {
      if (!sections) { editing = null; message = null; }
      draw();
    });
    /** Say `msg` ({kind, text}) above the list, e.g. after a row's own action. */
    function tellUser(msg) { message = msg; draw(); }
    /** Run `promise`-making `fn` with the buttons off while it runs. */
    function busyWhile(fn) {
      if (busy) return;
      busy = true;
      drawBusy();
      fn().then(null, function () { /* the caller said it */ }).then(function () { busy = false; draw(); });
    }
    return { draw: draw, list: list, say: tellUser, busyWhile: busyWhile };
  }

  /** The settings block shows for those who may read it, once read (or with why it cannot be). */
  listeners.push(function () {
    if (!$("#settings-layout")) return;
    Q.show("#settings-layout", reader() && !!(sections || loadError));
    var out = $("#settings-error");
    out.hidden = !loadError;
    out.textContent = loadError ? Q.t2("settings.load_failed") + " — " + refusal(loadError) : "";
  });

  var section = {
    words: WORDS,
    enter: function (s, pageApi) {
      session = s;
      page = pageApi || {};
      generation += 1;
      sections = null;
      loadError = null;
      tell();
      load();
    },
    leave: function () {
      session = null;
      generation += 1;
      sections = null;
      tell();
    },
    // admin.js hands on the hub's settings_changed (another admin, the CLI's import).
    settings: function () { loadSoon(); },
    draw: function () { tell(); },
    snapshot: function (snap) {
      if (snap && snap.business_day) businessDay = snap.business_day;
      if (session && loadError) loadSoon();
    },
    queue: function (snap) { if (snap && snap.business_day) businessDay = snap.business_day; }
  };

  global.QCallSettings = {
    load: load,
    save: save,
    on: function (fn) { listeners.push(fn); },
    get: function (name) { return sections ? sections[name] || null : null; },
    error: function () { return loadError; },
    isAdmin: isAdmin,
    reader: reader,
    refusal: refusal,
    problems: problems,
    problemLine: problemLine,
    markForm: markForm,
    markProblems: markProblems,
    localMark: localMark,
    provenance: provenance,
    say: say,
    copy: copy,
    whole: whole,
    listEditor: listEditor,
    businessDay: function () { return businessDay; }
  };
  global.QCallAdminSections = (global.QCallAdminSections || []).concat([section]);
})(window);
