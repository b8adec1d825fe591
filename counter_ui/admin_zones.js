/*
 * The voice zones section of the admin page (语音分区): each zone's code, names
 * and the counters whose calls it hears (a counter may be in several zones: a
 * pharmacy heard in the main hall and in its own corridor). Admins add, edit
 * and remove zones, supervisors read.
 *
 * Why here: a hall that opens a second floor, or moves a clinic to another
 * wing, must not wait for an installer. A save applies at the next call, and
 * lobby screens already connected move to their new zone at once. Removing a
 * zone a screen or speaker still names is refused by the hub's config check;
 * its words (which device names it) are shown in the section.
 */
(function (global) {
  "use strict";
  var Q = global.QCall, S = global.QCallSettings, $ = Q.$;

  var WORDS = {
    zh: {
      "zon.title": "语音分区",
      "zon.help": "每个分区（楼层、院区、诊区）只播报其窗口的叫号；分区内的大厅屏和音箱只听本区。保存后下一次叫号即生效。",
      "zon.code": "代码",
      "zon.name": "名称",
      "zon.name_zh": "中文名称",
      "zon.name_en": "英文名称",
      "zon.counters": "窗口",
      "zon.counters_hint": "勾选在此分区播报叫号的窗口（一个窗口可属于多个分区）。",
      "zon.action": "操作",
      "zon.new": "添加分区",
      "zon.empty": "没有语音分区：全厅播报所有叫号。",
      "zon.no_counter": "至少选择一个窗口",
      "zon.bad_code": "1–32 个字母、数字、_ 或 -"
    },
    en: {
      "zon.title": "Voice zones",
      "zon.help": "Each zone (a floor, a wing, a clinic area) hears only its counters' calls; the lobby screens and speakers in it hear only that zone. Applies from the next call.",
      "zon.code": "Code",
      "zon.name": "Name",
      "zon.name_zh": "Name (Chinese)",
      "zon.name_en": "Name (English)",
      "zon.counters": "Counters",
      "zon.counters_hint": "Tick the counters whose calls are said in this zone (a counter may be in several zones).",
      "zon.action": "Action",
      "zon.new": "Add a zone",
      "zon.empty": "No voice zones: the whole hall hears every call.",
      "zon.no_counter": "choose at least one counter",
      "zon.bad_code": "1 to 32 letters, digits, _ or -"
    }
  };

  var LABELS = { code: "zon.code", name_zh: "zon.name_zh", name_en: "zon.name_en", counters: "zon.counters" };

  function label(key, l) { return LABELS[key] ? Q.t(LABELS[key], null, l) : key; }
  function input(key) { return $('#zon-form [data-key="' + key + '"]'); }

  function counters() { var held = S.get("counters"); return (held && held.value) || []; }
  function counterName(number) {
    var found = null;
    counters().forEach(function (c) { if (c.number === number) found = c; });
    return found ? Q.name(found) : String(number);
  }

  function drawChoices(chosen) {
    Q.setHtml($("#zon-counters"), Q.html`${counters().map(function (c) {
      return Q.html`<li data-number="${c.number}">
        <label class="check"><input type="checkbox" value="${c.number}"${chosen.indexOf(c.number) >= 0 ? Q.raw(" checked") : ""}>
          <span class="code">${c.number}</span> ${Q.name(c)}</label>
      </li>`;
    })}`);
  }

  function fill(form, item) {
    item = item || {};
    input("code").value = item.code || "";
    input("name_zh").value = item.name_zh || "";
    input("name_en").value = item.name_en || "";
    drawChoices(item.counters || []);
  }

  function read(form, original) {
    var item = original || {};
    item.code = input("code").value.trim();
    item.name_zh = input("name_zh").value.trim();
    item.name_en = input("name_en").value.trim();
    item.counters = [];
    Q.each($("#zon-counters").querySelectorAll("input[type=checkbox]"), function (box) {
      if (box.checked) item.counters.push(parseInt(box.value, 10));
    });
    return item;
  }

  function check(item, others) {
    var marks = {};
    function mark(key, word) { if (!marks[key]) marks[key] = S.localMark(label, key, word); }
    if (!item.code) mark("code", "settings.required");
    else if (!/^[A-Za-z0-9_-]{1,32}$/.test(item.code)) mark("code", "zon.bad_code");
    if (!item.name_zh) mark("name_zh", "settings.required");
    if (!item.name_en) mark("name_en", "settings.required");
    if (!item.counters.length) mark("counters", "zon.no_counter");
    others.forEach(function (o) { if (o.code === item.code) mark("code", "settings.duplicate"); });
    return marks;
  }

  function cells(z) {
    return Q.html`<td><span class="code">${z.code}</span></td>
      <td>${z.name_zh}<br><span class="other-lang">${z.name_en}</span></td>
      <td><ul class="served">${(z.counters || []).map(function (n) {
        return Q.html`<li><span class="code">${n}</span> ${counterName(n)}</li>`;
      })}</ul></td>`;
  }

  var editor = S.listEditor({
    id: "zon",
    name: "zones",
    keyOf: function (z) { return z.code; },
    cells: cells,
    fill: fill,
    read: read,
    check: check,
    label: label,
    what: function (z) { return (z.code || "") + " " + (Q.name(z) || ""); },
    drawn: function () { Q.show("#zon-empty", !!S.get("zones") && editor && editor.list().length === 0); }
  });

  global.QCallAdminSections = (global.QCallAdminSections || []).concat([{ words: WORDS }]);
})(window);
