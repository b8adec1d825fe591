/*
 * The lobby screens section of the admin page (屏幕): one row per lobby screen
 * with its name, whether its page is connected (the device board), its layout,
 * how many calls it shows and its voice zone. Admins change, add and remove
 * screens, supervisors read.
 *
 * Why only lobby screens: a screen is a browser page that reads its layout
 * (GET /screen) when the hub says the settings changed, so a save redraws it
 * within a second; printers, kiosks, displays and speakers hold ports the hub
 * opens at start, so they stay in the site file (the hub refuses anything
 * else with 422 invalid_settings, and says so here).
 *
 * The devices section holds every device: this form edits the lobby screens
 * and saves them first, followed by the other devices exactly as read, so a
 * problem's path ("devices[2].settings.zone") points at the form's row.
 */
(function (global) {
  "use strict";
  var Q = global.QCall, S = global.QCallSettings, $ = Q.$;

  var KIND = "lobby_screen";
  /** The named layouts (display/lobby.css): their names in both languages, always shown together. */
  var LAYOUTS = [
    ["landscape", "横屏 Landscape"],
    ["portrait", "竖屏 Portrait"],
    ["counter_list", "窗口列表 Counter list"],
    ["clinic_rooms", "诊室 Clinic rooms"]
  ];
  var WHOLE_HALL = "全厅 Whole hall";
  var RECENT_DEFAULT = 6;

  var WORDS = {
    zh: {
      "scr.title": "屏幕",
      "scr.help": "每块大厅屏的布局、显示的叫号条数（含当前叫号）和语音分区。保存后屏幕在一秒内按新布局重画；分区的变化立即生效。打印机、取号机、窗口屏等设备请在配置文件中修改并重启。",
      "scr.name": "名称",
      "scr.name_hint": "与屏幕设备令牌的名称相同",
      "scr.state": "状态",
      "scr.layout": "布局",
      "scr.recent": "叫号条数",
      "scr.zone": "语音分区",
      "scr.action": "操作",
      "scr.new": "添加屏幕",
      "scr.empty": "没有大厅屏。",
      "scr.online": "在线",
      "scr.offline": "未连接",
      "scr.unknown": "未知",
      "scr.bad_name": "1–64 个字母、数字、. _ 或 -",
      "scr.bad_recent": "1–10 的整数"
    },
    en: {
      "scr.title": "Screens",
      "scr.help": "Each lobby screen's layout, how many calls it shows (the current one included) and its voice zone. A saved screen redraws in its new layout within a second; a zone change applies at once. Printers, kiosks, counter screens and the like are changed in the site file, with a restart.",
      "scr.name": "Name",
      "scr.name_hint": "the same as its display token's name",
      "scr.state": "State",
      "scr.layout": "Layout",
      "scr.recent": "Calls shown",
      "scr.zone": "Voice zone",
      "scr.action": "Action",
      "scr.new": "Add a screen",
      "scr.empty": "No lobby screens.",
      "scr.online": "online",
      "scr.offline": "not connected",
      "scr.unknown": "unknown",
      "scr.bad_name": "1 to 64 letters, digits, . _ or -",
      "scr.bad_recent": "a whole number from 1 to 10"
    }
  };

  var LABELS = { name: "scr.name", layout: "scr.layout", recent: "scr.recent", zone: "scr.zone" };

  var session = null;
  var states = {};            // device name → board state ("online", "disconnected", …)

  function label(key, l) { return LABELS[key] ? Q.t(LABELS[key], null, l) : key; }
  function input(key) { return $('#scr-form [data-key="' + key + '"]'); }
  function zones() { var held = S.get("zones"); return (held && held.value) || []; }

  function layoutName(code) {
    var found = LAYOUTS.filter(function (l) { return l[0] === code; })[0];
    return found ? found[1] : code;
  }
  function zoneName(code) {
    if (!code) return WHOLE_HALL;
    var found = zones().filter(function (z) { return z.code === code; })[0];
    return found ? found.code + " " + found.name_zh + " " + found.name_en : code;
  }

  function stateWord(name) {
    var state = states[name];
    if (state === "online") return Q.t("scr.online");
    if (!state || state === "unknown") return Q.t("scr.unknown");
    return Q.t("scr.offline");
  }

  function fill(form, item) {
    item = item || {};
    var settings = item.settings || {};
    var name = input("name");
    name.value = item.name || "";
    name.readOnly = !!item.name;   // a screen's name is its token's: a new name is a new screen
    Q.setHtml(input("layout"), Q.html`${LAYOUTS.map(function (l) {
      return Q.html`<option value="${l[0]}">${l[1]}</option>`;
    })}`);
    input("layout").value = settings.layout || "landscape";
    input("recent").value = settings.recent || RECENT_DEFAULT;
    Q.setHtml(input("zone"), Q.html`<option value="">${WHOLE_HALL}</option>${zones().map(function (z) {
      return Q.html`<option value="${z.code}">${zoneName(z.code)}</option>`;
    })}`);
    input("zone").value = settings.zone || "";
  }

  function read(form, original) {
    var item = original || { kind: KIND };
    item.name = input("name").value.trim();
    item.kind = KIND;
    var recent = S.whole(input("recent").value);
    if (recent === null || isNaN(recent)) return { marks: { recent: S.localMark(label, "recent", "scr.bad_recent") } };
    var settings = item.settings || {};
    settings.layout = input("layout").value;
    settings.recent = recent;
    var zone = input("zone").value;
    if (zone) settings.zone = zone; else delete settings.zone;
    item.settings = settings;
    return item;
  }

  function check(item, others) {
    var marks = {};
    function mark(key, word) { if (!marks[key]) marks[key] = S.localMark(label, key, word); }
    if (!item.name) mark("name", "settings.required");
    else if (!/^[A-Za-z0-9_.-]{1,64}$/.test(item.name)) mark("name", "scr.bad_name");
    if (item.settings.recent < 1 || item.settings.recent > 10) mark("recent", "scr.bad_recent");
    others.forEach(function (o) { if (o.name === item.name) mark("name", "settings.duplicate"); });
    // Another device of the site (a kiosk, a printer) may have that name too.
    everyDevice().forEach(function (d) { if (d.kind !== KIND && d.name === item.name) mark("name", "settings.duplicate"); });
    return marks;
  }

  function everyDevice() { var held = S.get("devices"); return (held && held.value) || []; }

  function cells(d) {
    var settings = d.settings || {};
    var state = states[d.name] || "unknown";
    return Q.html`<td class="dev-name">${d.name}</td>
      <td><span class="state ${state === "online" ? "st-ok" : state === "unknown" ? "st-unknown" : "st-bad"}" data-state="${state}">${stateWord(d.name)}</span></td>
      <td data-layout="${settings.layout || "landscape"}">${layoutName(settings.layout || "landscape")}</td>
      <td class="num">${settings.recent || RECENT_DEFAULT}</td>
      <td data-zone="${settings.zone || ""}">${zoneName(settings.zone)}</td>`;
  }

  var editor = S.listEditor({
    id: "scr",
    name: "devices",
    keyOf: function (d) { return d.name; },
    cells: cells,
    fill: fill,
    read: read,
    check: check,
    label: label,
    what: function (d) { return d.name || ""; },
    // The section holds every device; this form shows the lobby screens, saved first (see above).
    listOf: function (value) { return value.filter(function (d) { return d.kind === KIND; }); },
    withList: function (value, list) {
      return list.concat((value || []).filter(function (d) { return d.kind !== KIND; }));
    },
    drawn: function () { Q.show("#scr-empty", !!S.get("devices") && editor && editor.list().length === 0); }
  });

  /** Whether each screen's page is connected: the device board (GET /devices), read now and then. */
  function loadStates() {
    if (!session) return;
    var mine = session;
    Q.api("GET", "/devices").then(function (res) {
      if (session !== mine) return;
      states = {};
      ((res && res.devices) || []).forEach(function (d) { states[d.name] = d.state; });
      editor.draw();
    }, function () { /* the devices panel says why */ });
  }
  var loadSoon = Q.debounce(loadStates, 500);
  var POLL_MS = 15000;        // a page connecting or going away: seen within this long
  var poller = null;

  global.QCallAdminSections = (global.QCallAdminSections || []).concat([{
    words: WORDS,
    enter: function (s) {
      session = s;
      states = {};
      loadStates();
      clearInterval(poller);
      poller = setInterval(loadStates, POLL_MS);
    },
    leave: function () { session = null; states = {}; clearInterval(poller); },
    snapshot: function () { loadSoon(); },
    settings: function () { loadSoon(); }
  }]);
})(window);
