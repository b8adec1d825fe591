/*
 * The services section of the admin page (业务): the hall's services with their
 * code, names, ticket prefix and width, daily limit and waiting / service
 * targets; admins add, edit and remove them, supervisors read.
 *
 * Saved as the whole `services` section (QCallSettings: PUT with the version it
 * was based on); keys this form does not show (hours, appointments, call
 * phrasing of a service) are kept as they were. A service's code names its
 * tickets, statistics and counters' queues, so it is fixed once made: a new
 * code is a new service. Removing a service with tickets waiting or at a
 * counter today is refused by the hub (409 in_use) and said on the page.
 *
 * To take a service away while its queue drains, "Stop tickets today" closes it
 * for the hub's business day (an `hours` special date with no hours, for that
 * service only): no new tickets, the waiting ones are still called; remove the
 * service once they are done, or remove the date to take tickets again.
 */
(function (global) {
  "use strict";
  var Q = global.QCall, S = global.QCallSettings, $ = Q.$;

  var WORDS = {
    zh: {
      "svc.title": "业务",
      "svc.help": "每项业务的代码、名称、号码前缀和位数、每日限额和时限。保存后取号机和大厅屏立即更新。业务代码保存后不能更改。",
      "svc.code": "代码",
      "svc.name": "名称",
      "svc.name_zh": "中文名称",
      "svc.name_en": "英文名称",
      "svc.prefix": "前缀",
      "svc.width": "号码位数",
      "svc.daily_limit": "每日限额",
      "svc.daily_limit_hint": "不填：不限",
      "svc.wait_target": "等候时限（分钟）",
      "svc.service_target": "办理时限（分钟）",
      "svc.targets": "时限（等候 / 办理）",
      "svc.action": "操作",
      "svc.new": "添加业务",
      "svc.none": "—",
      "svc.site_target": "（全站）",
      "svc.site_target_help": "本业务未设时限，按全站 [targets] 的时限",
      "svc.no_limit": "不限",
      "svc.bad_code": "只能用字母、数字、- 和 _，最多 32 个",
      "svc.bad_prefix": "一到两个大写字母，例如 A",
      "svc.too_many": "{n} 超过 {width} 位数；请调高号码位数",
      "svc.bad_minutes": "1–1440 分钟，或不填",
      "svc.stop": "今天停止取号",
      "svc.stopped": "{what} 今天（{day}）不再取号；已在等候的号票照常叫号。恢复取号：在“特殊日期”中删除这一天。",
      "svc.already_stopped": "{what} 今天（{day}）已停止取号。",
      "svc.stop_name": "停止取号",
      "svc.no_day": "尚未收到营业日，请稍候再试。",
      "svc.not_enforced": "本营业厅未按营业时间控制取号，停止某项业务的取号不会生效。请先在“营业时间与节假日”中勾选“按营业时间控制取号”并填写每天的营业时段。"
    },
    en: {
      "svc.title": "Services",
      "svc.help": "Each service's code, names, ticket prefix and width, daily limit and targets. Kiosks and lobby screens follow as soon as it is saved. A service's code cannot change once saved.",
      "svc.code": "Code",
      "svc.name": "Name",
      "svc.name_zh": "Name (Chinese)",
      "svc.name_en": "Name (English)",
      "svc.prefix": "Prefix",
      "svc.width": "Digits",
      "svc.daily_limit": "Daily limit",
      "svc.daily_limit_hint": "empty: no limit",
      "svc.wait_target": "Waiting target (minutes)",
      "svc.service_target": "Service target (minutes)",
      "svc.targets": "Targets (wait / service)",
      "svc.action": "Action",
      "svc.new": "Add a service",
      "svc.none": "—",
      "svc.site_target": "(site)",
      "svc.site_target_help": "This service has no target of its own: the site-wide [targets] apply",
      "svc.no_limit": "none",
      "svc.bad_code": "letters, digits, - and _ only, at most 32",
      "svc.bad_prefix": "one or two capital letters, e.g. A",
      "svc.too_many": "{n} needs more than {width} digits; raise the digits",
      "svc.bad_minutes": "1 to 1440 minutes, or empty",
      "svc.stop": "Stop tickets today",
      "svc.stopped": "{what} takes no new tickets today ({day}); those waiting are still called. To take tickets again, remove that day under Special dates.",
      "svc.already_stopped": "{what} already takes no new tickets today ({day}).",
      "svc.stop_name": "No new tickets",
      "svc.no_day": "The hub's business day is not known yet; please try again in a moment.",
      "svc.not_enforced": "This hall does not limit tickets by its opening hours, so stopping one service's tickets would have no effect. Under Hours and holidays, tick \"Tickets only within opening hours\" and give each day's hours first."
    }
  };

  var LABELS = {
    code: "svc.code", name_zh: "svc.name_zh", name_en: "svc.name_en", prefix: "svc.prefix", width: "svc.width",
    daily_limit: "svc.daily_limit", wait_target_minutes: "svc.wait_target",
    service_target_minutes: "svc.service_target"
  };

  function label(key, l) { return LABELS[key] ? Q.t(LABELS[key], null, l) : key; }

  function input(key) { return $('#svc-form [data-key="' + key + '"]'); }

  function fill(form, item) {
    item = item || {};
    input("code").value = item.code || "";
    input("code").readOnly = !!item.code;
    input("name_zh").value = item.name_zh || "";
    input("name_en").value = item.name_en || "";
    input("prefix").value = item.prefix || "";
    input("width").value = String(item.width || 3);
    input("daily_limit").value = item.daily_limit === null || item.daily_limit === undefined ? "" : item.daily_limit;
    input("wait_target_minutes").value = item.wait_target_minutes || "";
    input("service_target_minutes").value = item.service_target_minutes || "";
  }

  /** The form's values over a copy of the service (keys the form does not show stay). */
  function read(form, original) {
    var item = original || {};
    var marks = {};
    item.code = input("code").value.trim();
    item.name_zh = input("name_zh").value.trim();
    item.name_en = input("name_en").value.trim();
    item.prefix = input("prefix").value.trim().toUpperCase();
    item.width = parseInt(input("width").value, 10) || 3;
    ["daily_limit", "wait_target_minutes", "service_target_minutes"].forEach(function (key) {
      var n = S.whole(input(key).value);
      if (n === null) { delete item[key]; return; }
      if (isNaN(n)) { marks[key] = S.localMark(label, key, "settings.whole", { min: 1, max: key === "daily_limit" ? 9999 : 1440 }); return; }
      item[key] = n;
    });
    return Object.keys(marks).length ? { marks: marks } : item;
  }

  function check(item, others) {
    var marks = {};
    function mark(key, word, vars) { if (!marks[key]) marks[key] = S.localMark(label, key, word, vars); }
    if (!item.code) mark("code", "settings.required");
    else if (!/^[A-Za-z0-9_-]{1,32}$/.test(item.code)) mark("code", "svc.bad_code");
    if (!item.name_zh) mark("name_zh", "settings.required");
    if (!item.name_en) mark("name_en", "settings.required");
    if (!item.prefix) mark("prefix", "settings.required");
    else if (!/^[A-Z]{1,2}$/.test(item.prefix)) mark("prefix", "svc.bad_prefix");
    others.forEach(function (o) {
      if (o.code === item.code) mark("code", "settings.duplicate");
      if (o.prefix === item.prefix) mark("prefix", "settings.duplicate");
    });
    if (item.daily_limit !== undefined) {
      if (item.daily_limit < 1) mark("daily_limit", "settings.whole", { min: 1, max: Math.pow(10, item.width) - 1 });
      else if (item.daily_limit >= Math.pow(10, item.width)) mark("daily_limit", "svc.too_many", { n: item.daily_limit, width: item.width });
    }
    ["wait_target_minutes", "service_target_minutes"].forEach(function (key) {
      if (item[key] !== undefined && (item[key] < 1 || item[key] > 1440)) mark(key, "svc.bad_minutes");
    });
    return marks;
  }

  var site = null;   // the site-wide [targets] (GET /targets): {wait_minutes, service_minutes}

  /** The target in force: the service's own, else the site's (marked so), else "—". */
  function target(own, siteKey) {
    if (own) return Q.html`${own}`;
    var fallback = site && site[siteKey];
    return fallback ? Q.html`<span class="site-target" title="${Q.t("svc.site_target_help")}">${fallback} ${Q.t("svc.site_target")}</span>` : Q.t("svc.none");
  }

  function cells(s) {
    return Q.html`<td class="code">${s.code}</td>
      <td>${s.name_zh}<br><span class="other-lang">${s.name_en}</span></td>
      <td>${s.prefix}</td>
      <td class="num">${s.width || 3}</td>
      <td class="num">${s.daily_limit ? s.daily_limit : Q.t("svc.no_limit")}</td>
      <td class="num">${target(s.wait_target_minutes, "wait_minutes")} / ${target(s.service_target_minutes, "service_minutes")}</td>`;
  }

  /** Close service `index` for today: a special date of the hours section, that service only. */
  function stopToday(index) {
    var service = editor.list()[index];
    var held = S.get("hours");
    var day = S.businessDay();
    if (!service || !held) return;
    var what = (service.code || "") + " " + Q.name(service);
    if (!day) return editor.say({ kind: "error", text: Q.t2("svc.no_day") });
    var hours = S.copy(held.value || {});
    if (hours.enforce === false) return editor.say({ kind: "error", text: Q.t2("svc.not_enforced") });
    var dates = hours.exceptions || [];
    var stopped = dates.some(function (x) {
      return x.date === day && (x.services || []).indexOf(service.code) >= 0;
    });
    if (stopped) return editor.say({ kind: "ok", text: Q.t2("svc.already_stopped", { what: what, day: day }) });
    hours.exceptions = dates.concat([{
      date: day, hours: [], services: [service.code],
      name_zh: Q.t("svc.stop_name", null, "zh"), name_en: Q.t("svc.stop_name", null, "en")
    }]);
    editor.busyWhile(function () {
      return S.save("hours", hours).then(function () {
        editor.say({ kind: "ok", text: Q.t2("svc.stopped", { what: what, day: day }) });
      }, function (err) {
        var lines = err && err.code === "invalid_settings"
          ? S.problems(err).map(S.problemLine) : [];
        editor.say({ kind: "error", text: S.refusal(err, what), lines: lines });
        throw err;
      });
    });
  }

  var editor = S.listEditor({
    id: "svc",
    name: "services",
    keyOf: function (s) { return s.code; },
    cells: cells,
    fill: fill,
    read: read,
    check: check,
    label: label,
    what: function (s) { return (s.code || "") + " " + Q.name(s); },
    more: function (s, index) {
      return Q.html`<button type="button" class="settings-button" data-act="stop" data-index="${index}">${Q.t("svc.stop")}</button>`;
    },
    act: function (name, index) { if (name === "stop") stopToday(index); }
  });

  global.QCallAdminSections = (global.QCallAdminSections || []).concat([{
    words: WORDS,
    enter: function () {
      Q.api("GET", "/targets").then(function (res) {
        site = (res && res.targets && res.targets.site) || null;
        editor.draw();
      }, function () { site = null; });
    }
  }]);
})(window);
