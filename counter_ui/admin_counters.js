/*
 * The counters section of the admin page (窗口): each counter's number, names,
 * kind and the services it serves in its order of preference (the calling
 * policy takes the first service's queue first among equals); admins add, edit
 * and remove counters, supervisors read.
 *
 * A counter serving no service could never call anyone: refused here before
 * sending and by the hub's config validation. Keys this form does not show are
 * kept. Removing a counter with a ticket at it today is refused by the hub
 * (409 in_use) and said on the page. Lobby screens show a new counter as soon
 * as it is saved.
 */
(function (global) {
  "use strict";
  var Q = global.QCall, S = global.QCallSettings, $ = Q.$;

  var WORDS = {
    zh: {
      "ctr.title": "窗口",
      "ctr.help": "每个窗口的编号、名称、类型和所办业务（按优先顺序，至少一项）。保存后大厅屏和窗口控制台立即更新。",
      "ctr.number": "编号",
      "ctr.name": "名称",
      "ctr.name_zh": "中文名称",
      "ctr.name_en": "英文名称",
      "ctr.kind": "类型",
      "ctr.kind_hint": "window（窗口）；诊室等需在配置文件中有叫号用语",
      "ctr.services": "所办业务（按优先顺序）",
      "ctr.services_hint": "勾选本窗口办理的业务，用 ↑ ↓ 调整顺序。",
      "ctr.up": "上移",
      "ctr.down": "下移",
      "ctr.action": "操作",
      "ctr.new": "添加窗口",
      "ctr.no_service": "至少选择一项业务，否则此窗口无法叫号",
      "ctr.bad_number": "1–999 的整数",
      "ctr.bad_kind": "小写字母开头，只含小写字母、数字和 _"
    },
    en: {
      "ctr.title": "Counters",
      "ctr.help": "Each counter's number, names, kind and the services it serves (in order of preference, at least one). Lobby screens and counter consoles follow as soon as it is saved.",
      "ctr.number": "Number",
      "ctr.name": "Name",
      "ctr.name_zh": "Name (Chinese)",
      "ctr.name_en": "Name (English)",
      "ctr.kind": "Kind",
      "ctr.kind_hint": "window; rooms and such need their call phrasing in the site file",
      "ctr.services": "Services served (in order of preference)",
      "ctr.services_hint": "Tick the services this counter serves; ↑ ↓ change their order.",
      "ctr.up": "Up",
      "ctr.down": "Down",
      "ctr.action": "Action",
      "ctr.new": "Add a counter",
      "ctr.no_service": "choose at least one service, or this counter can never call anyone",
      "ctr.bad_number": "a whole number from 1 to 999",
      "ctr.bad_kind": "a small letter first, then small letters, digits and _"
    }
  };

  var LABELS = { number: "ctr.number", name_zh: "ctr.name_zh", name_en: "ctr.name_en", kind: "ctr.kind", services: "ctr.services" };

  function label(key, l) { return LABELS[key] ? Q.t(LABELS[key], null, l) : key; }
  function input(key) { return $('#ctr-form [data-key="' + key + '"]'); }

  function services() { var held = S.get("services"); return (held && held.value) || []; }
  function serviceName(code) {
    var found = null;
    services().forEach(function (s) { if (s.code === code) found = s; });
    return found ? Q.name(found) : code;
  }

  /** The service choices: the counter's own in its order first, then the others. */
  function drawChoices(chosen) {
    var codes = chosen.slice();
    services().forEach(function (s) { if (codes.indexOf(s.code) < 0) codes.push(s.code); });
    Q.setHtml($("#ctr-services"), Q.html`${codes.map(function (code) {
      return Q.html`<li data-code="${code}">
        <label class="check"><input type="checkbox" value="${code}"${chosen.indexOf(code) >= 0 ? Q.raw(" checked") : ""}>
          <span class="code">${code}</span> ${serviceName(code)}</label>
        <button type="button" class="settings-button small" data-move="up" aria-label="${Q.t("ctr.up")}">↑</button>
        <button type="button" class="settings-button small" data-move="down" aria-label="${Q.t("ctr.down")}">↓</button>
      </li>`;
    })}`);
  }

  function chosenCodes() {
    var out = [];
    Q.each($("#ctr-services").querySelectorAll("input[type=checkbox]"), function (box) { if (box.checked) out.push(box.value); });
    return out;
  }

  function fill(form, item) {
    item = item || {};
    var numbers = list().map(function (c) { return c.number; });
    input("number").value = item.number || (numbers.length ? Math.max.apply(null, numbers) + 1 : 1);
    input("name_zh").value = item.name_zh || "";
    input("name_en").value = item.name_en || "";
    input("kind").value = item.kind || "window";
    drawChoices(item.services || []);
  }

  function read(form, original) {
    var item = original || {};
    var number = S.whole(input("number").value);
    if (number === null || isNaN(number)) return { marks: { number: S.localMark(label, "number", "ctr.bad_number") } };
    item.number = number;
    item.name_zh = input("name_zh").value.trim();
    item.name_en = input("name_en").value.trim();
    item.kind = input("kind").value.trim() || "window";
    item.services = chosenCodes();
    return item;
  }

  function check(item, others) {
    var marks = {};
    function mark(key, word) { if (!marks[key]) marks[key] = S.localMark(label, key, word); }
    if (item.number < 1 || item.number > 999) mark("number", "ctr.bad_number");
    if (!item.name_zh) mark("name_zh", "settings.required");
    if (!item.name_en) mark("name_en", "settings.required");
    if (!/^[a-z][a-z0-9_]{0,31}$/.test(item.kind)) mark("kind", "ctr.bad_kind");
    if (!item.services.length) mark("services", "ctr.no_service");
    others.forEach(function (o) { if (o.number === item.number) mark("number", "settings.duplicate"); });
    return marks;
  }

  function cells(c) {
    return Q.html`<td class="num">${c.number}</td>
      <td>${c.name_zh}<br><span class="other-lang">${c.name_en}</span></td>
      <td>${c.kind || "window"}</td>
      <td><ol class="served">${(c.services || []).map(function (code) {
        return Q.html`<li><span class="code">${code}</span> ${serviceName(code)}</li>`;
      })}</ol></td>`;
  }

  var editor = S.listEditor({
    id: "ctr",
    name: "counters",
    keyOf: function (c) { return c.number; },
    cells: cells,
    fill: fill,
    read: read,
    check: check,
    label: label,
    what: function (c) { return Q.name(c) || String(c.number || ""); }
  });
  function list() { return editor.list(); }

  var bound = false;
  function bind() {
    if (bound || !$("#ctr-services")) return;
    bound = true;
    $("#ctr-services").addEventListener("click", function (e) {
      var button = e.target.closest ? e.target.closest("button[data-move]") : null;
      if (!button) return;
      var row = button.parentNode;
      if (button.getAttribute("data-move") === "up" && row.previousElementSibling) {
        row.parentNode.insertBefore(row, row.previousElementSibling);
      } else if (button.getAttribute("data-move") === "down" && row.nextElementSibling) {
        row.parentNode.insertBefore(row.nextElementSibling, row);
      }
    });
  }

  global.QCallAdminSections = (global.QCallAdminSections || []).concat([{
    words: WORDS,
    enter: bind
  }]);
})(window);
