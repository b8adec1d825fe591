/*
 * The priority categories section of the admin page (优先类别, 绿色通道): each
 * category's code, names, weight (higher is called first; normal tickets are 0)
 * and who may grant it (a kiosk button, staff only, or asked at the kiosk and
 * confirmed by staff). Admins add, edit and remove; supervisors read.
 *
 * Saved as the whole `priority` section; a category's code is kept on the
 * tickets and the priority ledger, so it is fixed once made.
 */
(function (global) {
  "use strict";
  var Q = global.QCall, S = global.QCallSettings, $ = Q.$;

  var WORDS = {
    zh: {
      "cat.title": "优先类别",
      "cat.help": "优先类别的代码、名称、权重（越高越先叫；普通号为 0）和给予方式。代码保存后不能更改。",
      "cat.code": "代码",
      "cat.name": "名称",
      "cat.name_zh": "中文名称",
      "cat.name_en": "英文名称",
      "cat.weight": "权重（1–1000）",
      "cat.grant": "给予方式",
      "cat.grant.kiosk": "取号机上直接选择",
      "cat.grant.staff": "仅工作人员给予",
      "cat.grant.confirm": "取号机申请，工作人员确认",
      "cat.action": "操作",
      "cat.new": "添加优先类别",
      "cat.empty": "没有优先类别。",
      "cat.bad_code": "只能用字母、数字、- 和 _，最多 32 个"
    },
    en: {
      "cat.title": "Priority categories",
      "cat.help": "Each priority category's code, names, weight (higher is called first; normal tickets are 0) and who grants it. A code cannot change once saved.",
      "cat.code": "Code",
      "cat.name": "Name",
      "cat.name_zh": "Name (Chinese)",
      "cat.name_en": "Name (English)",
      "cat.weight": "Weight (1–1000)",
      "cat.grant": "Granted by",
      "cat.grant.kiosk": "chosen at the kiosk",
      "cat.grant.staff": "staff only",
      "cat.grant.confirm": "asked at the kiosk, confirmed by staff",
      "cat.action": "Action",
      "cat.new": "Add a priority category",
      "cat.empty": "No priority categories.",
      "cat.bad_code": "letters, digits, - and _ only, at most 32"
    }
  };

  var LABELS = { code: "cat.code", name_zh: "cat.name_zh", name_en: "cat.name_en", weight: "cat.weight", grant: "cat.grant" };

  function label(key, l) { return LABELS[key] ? Q.t(LABELS[key], null, l) : key; }
  function input(key) { return $('#cat-form [data-key="' + key + '"]'); }

  function fill(form, item) {
    item = item || {};
    input("code").value = item.code || "";
    input("code").readOnly = !!item.code;
    input("name_zh").value = item.name_zh || "";
    input("name_en").value = item.name_en || "";
    input("weight").value = item.weight || "";
    input("grant").value = item.grant || "staff";
  }

  function read(form, original) {
    var item = original || {};
    var weight = S.whole(input("weight").value);
    if (weight === null || isNaN(weight)) {
      return { marks: { weight: S.localMark(label, "weight", "settings.whole", { min: 1, max: 1000 }) } };
    }
    item.code = input("code").value.trim();
    item.name_zh = input("name_zh").value.trim();
    item.name_en = input("name_en").value.trim();
    item.weight = weight;
    item.grant = input("grant").value;
    return item;
  }

  function check(item, others) {
    var marks = {};
    function mark(key, word, vars) { if (!marks[key]) marks[key] = S.localMark(label, key, word, vars); }
    if (!item.code) mark("code", "settings.required");
    else if (!/^[A-Za-z0-9_-]{1,32}$/.test(item.code)) mark("code", "cat.bad_code");
    if (!item.name_zh) mark("name_zh", "settings.required");
    if (!item.name_en) mark("name_en", "settings.required");
    if (item.weight < 1 || item.weight > 1000) mark("weight", "settings.whole", { min: 1, max: 1000 });
    others.forEach(function (o) { if (o.code === item.code) mark("code", "settings.duplicate"); });
    return marks;
  }

  function cells(p) {
    return Q.html`<td class="code">${p.code}</td>
      <td>${p.name_zh}<br><span class="other-lang">${p.name_en}</span></td>
      <td class="num">${p.weight}</td>
      <td>${Q.t("cat.grant." + (p.grant || "staff"))}</td>`;
  }

  var editor = S.listEditor({
    id: "cat",
    name: "priority",
    keyOf: function (p) { return p.code; },
    cells: cells,
    fill: fill,
    read: read,
    check: check,
    label: label,
    what: function (p) { return (p.code || "") + " " + Q.name(p); },
    drawn: function () {
      Q.show("#cat-empty", !!S.get("priority") && editor && editor.list().length === 0);
    }
  });

  global.QCallAdminSections = (global.QCallAdminSections || []).concat([{ words: WORDS }]);
})(window);
