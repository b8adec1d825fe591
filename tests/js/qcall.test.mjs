// Unit tests for server/static/qcall.js, run with `node --test tests/js/` (no npm packages).
//
// qcall.js is a browser script that puts `QCall` on `window`; it runs here in a
// node:vm context with a tiny fake window, document, storage and Socket.IO
// client: only what the tested functions touch.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import vm from "node:vm";

const SOURCE = readFileSync(new URL("../../server/static/qcall.js", import.meta.url), "utf8");

/** A fake element: attributes, textContent, innerHTML, hidden. */
function element() {
  const attrs = {};
  return {
    attrs,
    innerHTML: "",
    textContent: "",
    hidden: false,
    setAttribute(k, v) { attrs[k] = String(v); },
    getAttribute(k) { return k in attrs ? attrs[k] : null; },
  };
}

/** A fake Socket.IO client socket: handlers by event, fire() delivers one as the hub would. */
function fakeSocket() {
  const handlers = {};
  return {
    connected: false,
    connects: 0,
    on(name, fn) { (handlers[name] = handlers[name] || []).push(fn); },
    fire(name, ...args) {
      if (name === "connect") this.connected = true;
      if (name === "disconnect") this.connected = false;
      for (const fn of handlers[name] || []) fn(...args);
    },
    connect() { this.connects += 1; },
    emitted: [],
    emit(name, ...args) { this.emitted.push([name, ...args]); },
  };
}

/** A fresh page: qcall.js loaded into its own context. Returns {QCall, win, sockets, timers}. */
function load({ language = "zh-CN", stored = {}, elements = {} } = {}) {
  const storage = { ...stored };
  const sockets = [];
  const timers = [];
  const errors = [];
  const body = element();
  const win = {
    document: {
      documentElement: { lang: "" },
      body,
      querySelector: (selector) => elements[selector] || null,
      querySelectorAll: () => [],
    },
    navigator: { language },
    localStorage: {
      getItem: (k) => (k in storage ? storage[k] : null),
      setItem: (k, v) => { storage[k] = String(v); },
      removeItem: (k) => { delete storage[k]; },
    },
    console: { error: (...args) => errors.push(args.join(" ")), log() {} },
    setTimeout: (fn, ms) => { timers.push({ fn, ms }); return timers.length; },
    clearTimeout() {},
    io: (opts) => {
      const socket = fakeSocket();
      socket.opts = opts;
      sockets.push(socket);
      return socket;
    },
  };
  win.window = win;
  vm.createContext(win);
  vm.runInContext(SOURCE, win, { filename: "qcall.js" });
  assert.ok(win.QCall, "qcall.js defines window.QCall");
  return { QCall: win.QCall, win, body, sockets, timers, errors, storage };
}

// -- escaping ------------------------------------------------------------------------------

test("esc escapes the five HTML specials, and nothing else", () => {
  const { QCall } = load();
  assert.equal(QCall.esc(`<img src=x onerror="alert('1')">&amp;`),
    "&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;amp;");
  assert.equal(QCall.esc("营业厅 A012"), "营业厅 A012");
  assert.equal(QCall.esc(null), "");
  assert.equal(QCall.esc(undefined), "");
  assert.equal(QCall.esc(0), "0");
  assert.equal(QCall.esc(false), "false");
});

test("html`` escapes every value, in text and in quoted attributes", () => {
  const { QCall } = load();
  const name = `"><script>alert(1)</script>`;
  const out = QCall.html`<li title="${name}">${name}</li>`;
  assert.equal(String(out),
    '<li title="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;">&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;</li>');
});

test("html`` nests without escaping twice, joins arrays and keeps raw() as is", () => {
  const { QCall } = load();
  const items = ["<a>", "b&c"].map((x) => QCall.html`<i>${x}</i>`);
  assert.equal(String(QCall.html`<ul>${items}</ul>`), "<ul><i>&lt;a&gt;</i><i>b&amp;c</i></ul>");
  assert.equal(String(QCall.html`${["<", [">", null]]}`), "&lt;&gt;");
  assert.equal(String(QCall.html`${QCall.raw("<br>")}${"<br>"}`), "<br>&lt;br&gt;");
});

test("setHtml escapes a plain string and takes html`` as it is", () => {
  const { QCall } = load();
  const el = element();
  QCall.setHtml(el, "<b>A012</b>");
  assert.equal(el.innerHTML, "&lt;b&gt;A012&lt;/b&gt;");
  QCall.setHtml(el, QCall.html`<b>${"A<012"}</b>`);
  assert.equal(el.innerHTML, "<b>A&lt;012</b>");
});

// -- i18n ------------------------------------------------------------------------------------

test("a key missing in English falls back to Chinese, a key missing in both is shown as itself", () => {
  const { QCall } = load({ language: "en-GB" });
  QCall.i18n({ zh: { "page.only_zh": "只有中文", "page.both": "两种" }, en: { "page.both": "Both" } });
  assert.equal(QCall.lang(), "en");
  assert.equal(QCall.t("page.both"), "Both");
  assert.equal(QCall.t("page.only_zh"), "只有中文");
  assert.equal(QCall.t("page.nowhere"), "page.nowhere");
  assert.equal(QCall.t("page.both", null, "zh"), "两种");
  assert.equal(QCall.t2("page.both"), "两种 / Both");
});

test("a key missing in Chinese is shown as itself, not in English", () => {
  const { QCall } = load({ language: "zh-CN" });
  QCall.i18n({ zh: {}, en: { "page.only_en": "English only" } });
  assert.equal(QCall.lang(), "zh");
  assert.equal(QCall.t("page.only_en"), "page.only_en");
});

test("the page's words win over the common ones; {vars} are filled, unknown ones kept", () => {
  const { QCall } = load();
  QCall.i18n({ zh: { "counter.open": "正在服务" }, en: {} });
  assert.equal(QCall.t("counter.open"), "正在服务");
  assert.equal(QCall.t("counter.default_name", { n: 3 }), "3号窗口");
  assert.equal(QCall.t("counter.default_name", { n: 3 }, "en"), "Counter 3");
  assert.equal(QCall.t("counter.default_name", {}), "{n}号窗口");
});

test("a language chosen and stored wins over the browser's and the site's", () => {
  const { QCall, win } = load({ language: "zh-CN", stored: { "page.lang": "en" } });
  QCall.i18n({ zh: {}, en: {} }, "page.lang");
  assert.equal(QCall.lang(), "en");
  QCall.defaultLang(["zh", "en"]);
  assert.equal(QCall.lang(), "en");
  assert.equal(win.document.documentElement.lang, "en");
});

test("an error translates by its code, else shows the hub's sentence, else a generic line", () => {
  const { QCall } = load({ language: "en-US" });
  QCall.i18n({ zh: {}, en: {} });
  const known = QCall.ApiError("nobody_waiting", "The hub's own words", 409);
  assert.equal(QCall.errorText(known), "Nobody is waiting.");
  const unknown = QCall.ApiError("brand_new_code", "The hub says so.", 409);
  assert.equal(QCall.errorText(unknown), "The hub says so.");
  const bare = QCall.ApiError("brand_new_code", "", 409);
  assert.equal(QCall.errorText(bare), "Something went wrong on our side. Please try again in a moment.");
  assert.equal(QCall.errorText(new Error("TypeError: x is undefined")),
    "Something went wrong on our side. Please try again in a moment.", "never a raw exception");
  assert.equal(QCall.errorText(null), "Something went wrong on our side. Please try again in a moment.");
  QCall.setLang("zh");
  assert.equal(QCall.errorText(known), "目前无人等候。");
  assert.equal(QCall.errorText(QCall.ApiError("network", "", 0)), "网络连接中断，请稍后再试。");
});

test("a refusal without words of the page's own shows the hub's, in the page's language", () => {
  const { QCall } = load({ language: "zh-CN" });
  QCall.i18n({ zh: {}, en: {} });
  const refusal = QCall.ApiError("brand_new_code", "'service' is required", 400);
  refusal.data = { error: "'service' is required", code: "brand_new_code", error_zh: "缺少必填项 service",
    error_en: "'service' is required" };
  QCall.setLang("zh");
  assert.equal(QCall.errorText(refusal), "缺少必填项 service");
  QCall.setLang("en");
  assert.equal(QCall.errorText(refusal), "'service' is required");
  assert.equal(QCall.errorText(refusal, "zh"), "缺少必填项 service", "one language asked for: that one");
  assert.equal(QCall.errorText(refusal, "en"), "'service' is required");
  assert.equal(QCall.hubWords(refusal), null, "worded in English where it was made: the page's words first");
  const visitor = QCall.ApiError("too_early", "还未到签到时间 / too early", 409);
  visitor.data = { error: "还未到签到时间 / too early", code: "too_early", error_zh: "还未到签到时间",
    error_en: "too early" };
  const said = QCall.hubWords(visitor);  // an object of the page's realm: compared field by field
  assert.equal(said.zh, "还未到签到时间");
  assert.equal(said.en, "too early");
  const known = QCall.ApiError("nobody_waiting", "nobody is waiting", 404);
  known.data = { error_zh: "当前没有人在等候", error_en: "nobody is waiting" };
  assert.equal(QCall.errorText(known), "Nobody is waiting.", "the page's own words for a code it knows");
});

// -- the live link: a reconnect draws from the snapshot again -------------------------------

function snapshot(number) {
  return { site: { name_zh: "测试营业厅" }, counters: [], recent_calls: [{ number }] };
}

test("every (re)connect draws the page from the new snapshot, not from what was on screen", () => {
  const { QCall, body, sockets } = load();
  const screen = element();
  const drawn = [];
  const online = [];
  QCall.connect({ token: "qd_display_x" }, {
    snapshot(snap) {
      drawn.push(snap);
      QCall.setHtml(screen, QCall.html`<b>${snap.recent_calls[0].number}</b>`);
    },
    online(up) { online.push(up); },
  });
  assert.equal(sockets.length, 1);
  const socket = sockets[0];
  assert.equal(JSON.stringify(socket.opts), JSON.stringify({ auth: { token: "qd_display_x" } }));
  assert.equal(body.getAttribute("data-live"), "connecting");

  socket.fire("connect");
  assert.equal(body.getAttribute("data-live"), "connecting", "a screen is connected once it has drawn");
  socket.fire("snapshot", snapshot("A001"));
  assert.equal(body.getAttribute("data-live"), "connected");
  assert.equal(screen.innerHTML, "<b>A001</b>");

  socket.fire("disconnect", "transport close");
  assert.equal(body.getAttribute("data-live"), "offline");
  socket.fire("connect");
  socket.fire("snapshot", snapshot("<A002>"));
  assert.equal(screen.innerHTML, "<b>&lt;A002&gt;</b>");
  assert.equal(drawn.length, 2);
  assert.deepEqual(online, [true, false, true]);
  assert.equal(body.getAttribute("data-live"), "connected");
});

test("live events apply their deltas and hand queue() the whole hall; a failing handler keeps the link up", () => {
  const { QCall, body, sockets, errors } = load();
  const seen = [];
  QCall.connect({ token: "t" }, {
    queue(q, name, delta) { seen.push(["queue", name, q.recent_calls[0].number, q.v, delta.v]); },
    ticket_called(p) { seen.push(["called", p.ticket.number]); throw new Error("bad render"); },
    print_status(p) { seen.push(["print_status", p.state]); },
  });
  const socket = sockets[0];
  socket.fire("connect");
  socket.fire("snapshot", hallAt(0));
  socket.fire("ticket_called", delta(1));
  socket.fire("ticket_called", { ticket: { number: "A009" } });   // not a hall delta (no version)
  socket.fire("print_status", null);
  socket.fire("print_status", { state: "printed" });
  assert.deepEqual(seen, [
    ["queue", "ticket_called", "A001", 1, 1],
    ["called", "A001"],
    ["called", "A009"],
    ["print_status", undefined],
    ["print_status", "printed"],
  ]);
  assert.equal(body.getAttribute("data-hall-version"), "1");
  assert.equal(errors.length, 2);
  assert.match(errors[0], /handler ticket_called failed/);
});

// -- deltas: a small hall whose true state at every version the tests know ----------------

const SERVICES = [
  { code: "PAY", name_zh: "缴费", name_en: "Pay", prefix: "A" },
  { code: "ASK", name_zh: "咨询", name_en: "Ask", prefix: "B" },
];

/** The hub's snapshot after version n: a call to counter 1 or 2 at each version, four waiting less each time. */
function hallAt(n, day = "2026-11-30") {
  const calls = [];
  for (let k = n; k >= 1 && calls.length < 10; k--) calls.push(callOf(k));
  return {
    v: n,
    site: { name_zh: "测试营业厅", name_en: "Test Hall" },
    business_day: day,
    services: SERVICES.map((s) => ({ ...s, ...queueOf(s.code, n) })),
    counters: [1, 2].map((c) => counterOf(c, n)),
    recent_calls: calls,
  };
}
function number(k) { return "A" + String(k).padStart(3, "0"); }
function callOf(k) {
  return { ticket_id: "t" + k, number: number(k), service: "PAY", counter: 1 + (k % 2), at: "2026-11-30T01:00:" + String(k).padStart(2, "0") + "+00:00", recall: false };
}
function queueOf(code, n) {
  if (code !== "PAY") return { waiting: 3, next_numbers: ["B0001", "B0002", "B0003"] };
  return { waiting: 40 - n, next_numbers: [n + 1, n + 2, n + 3].map(number) };
}
function counterOf(c, n) {
  let current = null;
  for (let k = n; k >= 1; k--) if (1 + (k % 2) === c) { current = { id: "t" + k, number: number(k), status: "called" }; break; }
  return { number: c, name_zh: c + "号窗口", name_en: "Counter " + c, services: ["PAY"], status: "open", current };
}
/** What the hub sends for version k: the call, the counter's new view, PAY's queue. */
function delta(k, day = "2026-11-30") {
  const call = callOf(k);
  return {
    v: k, day,
    ticket: { id: call.ticket_id, number: call.number, service: "PAY", status: "called" },
    counter: { number: call.counter, name_zh: call.counter + "号窗口", name_en: "Counter " + call.counter },
    recall: false,
    counters: [counterOf(call.counter, k)],
    call,
    services: [{ code: "PAY", ...queueOf("PAY", k) }],
  };
}

test("applying the deltas one by one gives the hub's own snapshot, and a delta applied twice changes nothing", () => {
  const { QCall } = load();
  const page = hallAt(0);
  for (let k = 1; k <= 14; k++) {
    assert.equal(QCall.deltaFits(page, delta(k)), "apply");
    QCall.applyDelta(page, delta(k));
    assert.deepEqual(page, hallAt(k), `after version ${k}`);
  }
  assert.equal(QCall.deltaFits(page, delta(14)), "old");
  QCall.applyDelta(page, delta(14));
  assert.deepEqual(page, hallAt(14));
  assert.equal(QCall.deltaFits(page, delta(16)), "gap");
  assert.equal(QCall.deltaFits(page, { ...delta(16), from: 15 }), "apply", "a run of tickets from..v that follows");
  assert.equal(QCall.deltaFits(page, delta(15, "2026-12-01")), "gap", "a new business day needs the snapshot");
});

test("a skipped version: the page asks for the snapshot, holds what follows, and ends as a fresh page", () => {
  const { QCall, body, sockets } = load();
  const drawn = [];
  const queued = [];
  let pageHall = null;   // the page's hall: the object its handlers were last given
  QCall.connect({ token: "qd_display_x" }, {
    snapshot(snap) { drawn.push(snap.v); pageHall = snap; },
    queue(q) { queued.push(q.v); pageHall = q; },
  });
  const socket = sockets[0];
  socket.fire("connect");
  socket.fire("ticket_called", delta(3));           // before the first snapshot: held
  socket.fire("snapshot", hallAt(2));
  assert.deepEqual(drawn, [3], "the held delta is applied before the page draws");
  socket.fire("ticket_called", delta(4));
  assert.deepEqual(socket.emitted, [], "no gap yet: nothing asked");
  socket.fire("ticket_called", delta(6));           // version 5 never came
  assert.deepEqual(socket.emitted, [["snapshot"]], "the page asks for the snapshot once");
  socket.fire("ticket_called", delta(7));           // held until the snapshot comes
  socket.fire("ticket_called", delta(8));
  assert.deepEqual(socket.emitted, [["snapshot"]], "and not again while it waits");
  assert.deepEqual(queued, [4], "nothing drawn from deltas that cannot be placed yet");
  socket.fire("snapshot", hallAt(6));               // the hub's answer, made after version 6
  assert.deepEqual(drawn, [3, 8], "the snapshot, then the held 7 and 8 (6 it has already)");
  socket.fire("ticket_called", delta(9));
  socket.fire("ticket_called", delta(9));           // twice: the second is old and changes nothing
  assert.deepEqual(queued, [4, 9]);

  // The same hall as a page that has just opened at version 9.
  const fresh = load();
  let freshHall = null;
  fresh.QCall.connect({ token: "qd_display_x" }, { snapshot(snap) { freshHall = snap; } });
  fresh.sockets[0].fire("connect");
  fresh.sockets[0].fire("snapshot", hallAt(9));
  assert.deepEqual(pageHall, freshHall);
  assert.equal(body.getAttribute("data-hall-version"), "9");
});

test("offline, a gap asks nothing (the reconnect brings a snapshot); a snapshot that never comes is asked again", () => {
  const { QCall, sockets, win } = load();
  let now = 1000;
  win.Date = class extends Date { static now() { return now; } };
  QCall.connect({ token: "t" }, {});
  const socket = sockets[0];
  socket.fire("connect");
  socket.fire("snapshot", hallAt(1));
  socket.fire("disconnect", "transport close");
  socket.fire("ticket_called", delta(3));
  assert.deepEqual(socket.emitted, []);
  socket.fire("connect");
  socket.fire("snapshot", hallAt(3));
  socket.fire("ticket_called", delta(5));
  assert.deepEqual(socket.emitted, [["snapshot"]]);
  socket.fire("ticket_called", delta(6));
  assert.equal(socket.emitted.length, 1);
  now += 11000;
  socket.fire("ticket_called", delta(7));
  assert.deepEqual(socket.emitted, [["snapshot"], ["snapshot"]], "asked again after 10 s without an answer");
});

test("dropped by the hub, the page asks again after a pause; a refusal is not retried", () => {
  const { QCall, body, sockets, timers } = load();
  let refused = 0;
  QCall.connect({ token: "t" }, { unauthorized() { refused += 1; } });
  const socket = sockets[0];
  socket.fire("connect");
  socket.fire("disconnect", "io server disconnect");
  assert.equal(timers.length, 1);
  assert.equal(timers[0].ms, 2000);
  timers[0].fn();
  assert.equal(socket.connects, 1);

  socket.fire("connect_error", { message: "unauthorized" });
  assert.equal(refused, 1);
  assert.equal(body.getAttribute("data-live"), "refused");
  socket.fire("connect_error", { message: "xhr poll error" });
  assert.equal(refused, 1);
  assert.equal(body.getAttribute("data-live"), "offline");
});

test("a visitor's phone gets no snapshot: it is connected on connect", () => {
  const { QCall, body, sockets } = load();
  QCall.connect({ ticket: "abc" }, {});
  sockets[0].fire("connect");
  assert.equal(body.getAttribute("data-live"), "connected");
});

// -- shared page pieces ------------------------------------------------------------------------

test("a message banner shows, re-words on draw(), reports its code and hides on set(null)", () => {
  const el = element();
  const { QCall } = load({ elements: { "#banner": el } });
  let words = "网络中断";
  const banner = QCall.messageBanner("#banner");
  assert.equal(banner.code(), null);
  banner.set("warn", () => words, "network");
  assert.equal(el.hidden, false);
  assert.equal(el.className, "banner warn");
  assert.equal(el.textContent, "网络中断");
  assert.equal(banner.code(), "network");
  words = "Network down";
  banner.draw();
  assert.equal(el.textContent, "Network down");
  banner.set(null);
  assert.equal(el.hidden, true);
  assert.equal(banner.code(), null);
});

test("a device screen's counter: found hides the setup notice, missing shows it in both languages", () => {
  const setup = element();
  const title = element();
  const { QCall } = load({ elements: { "#setup": setup, "#setup-title": title } });
  const snap = { counters: [{ number: 3, name_zh: "3号窗口", name_en: "Counter 3" }] };
  assert.equal(QCall.screenCounter(snap, 7), null);
  assert.equal(setup.hidden, false);
  assert.match(title.innerHTML, /^setup.unknown_counter <span/);  // the page supplies the words
  assert.match(title.innerHTML, /class="en"/);
  assert.equal(QCall.screenCounter(snap, 3).number, 3);
  assert.equal(setup.hidden, true);
});

test("marks beside a number: 优先 Priority and 预约 Appt. from the public flags, nothing else", () => {
  const { QCall } = load();
  assert.equal(String(QCall.marks(null)), "");
  assert.equal(String(QCall.marks({ number: "A001", priority: false, appointment: false })), "");
  const both = String(QCall.marks({ priority: true, appointment: true, category: "elderly", name: "张*明" }, "small"));
  assert.match(both, /data-mark="priority">优先 <span class="en">Priority<\/span>/);
  assert.match(both, /data-mark="appointment">预约 <span class="en">Appt\.<\/span>/);
  assert.ok(both.indexOf("priority") < both.indexOf("appointment"), "priority first");
  assert.match(both, /class="mark mark-priority small"/);
  // Whatever else the item carries stays off the mark.
  assert.ok(!both.includes("elderly") && !both.includes("张"), both);
});

test("a delta's next tickets replace the snapshot's, and a delta without them leaves none stale", () => {
  const { QCall } = load();
  const snap = { v: 1, business_day: "2026-11-30", services: [
    { code: "PAY", waiting: 1, next_numbers: ["A001"], next_tickets: [{ number: "A001", priority: true, appointment: false }] },
  ] };
  QCall.applyDelta(snap, { v: 2, day: "2026-11-30", services: [
    { code: "PAY", waiting: 2, next_numbers: ["A001", "A002"],
      next_tickets: [{ number: "A001", priority: true, appointment: false }, { number: "A002", priority: false, appointment: true }] },
  ] });
  assert.deepEqual(snap.services[0].next_tickets.map((t) => t.number), ["A001", "A002"]);
  QCall.applyDelta(snap, { v: 3, day: "2026-11-30", services: [{ code: "PAY", waiting: 0, next_numbers: [] }] });
  assert.equal(snap.services[0].next_tickets, undefined);
});

test("a delta's estimated wait replaces the snapshot's, null included", () => {
  const { QCall } = load();
  const snap = { v: 1, business_day: "2026-11-30", services: [
    { code: "PAY", waiting: 1, next_numbers: ["A001"], estimate_minutes: null },
    { code: "ASK", waiting: 0, next_numbers: [], estimate_minutes: 4 },
  ] };
  QCall.applyDelta(snap, { v: 2, day: "2026-11-30", services: [
    { code: "PAY", waiting: 2, next_numbers: ["A001", "A002"], estimate_minutes: 7 },
  ] });
  assert.equal(snap.services[0].estimate_minutes, 7);
  assert.equal(snap.services[1].estimate_minutes, 4, "an untouched service keeps its own");
  QCall.applyDelta(snap, { v: 3, day: "2026-11-30", services: [
    { code: "PAY", waiting: 2, next_numbers: ["A001", "A002"], estimate_minutes: null },
  ] });
  assert.equal(snap.services[0].estimate_minutes, null);
});

// -- the second tap to confirm -----------------------------------------------------------------

test("secondTap: the first tap arms and redraws, the second on the same key acts, the time disarms", () => {
  const { QCall, timers } = load();
  let drawn = 0;
  const tap = QCall.secondTap(() => { drawn += 1; }, 5000);
  assert.equal(tap.armed("post:2"), false);
  assert.equal(tap.tap("post:2"), false, "a first tap only arms");
  assert.equal(drawn, 1);
  assert.equal(tap.armed("post:2"), true);
  assert.equal(tap.armed("post:3"), false);
  assert.equal(tap.tap("post:3"), false, "a tap on another key arms that one instead");
  assert.equal(tap.armed("post:2"), false);
  assert.equal(tap.tap("post:3"), true, "the second tap on the armed key acts");
  assert.equal(tap.armed("post:3"), false, "and disarms it");
  assert.equal(tap.tap(17), false);
  assert.equal(timers.at(-1).ms, 5000);
  timers.at(-1).fn();
  assert.equal(tap.armed(17), false, "the wait ran out: the button falls back");
  assert.equal(drawn, 4, "redrawn on each arming and when the wait ran out");
  assert.equal(tap.tap(17), false, "after the fall back a tap arms again");
  tap.reset();
  assert.equal(tap.armed(17), false);
});

// -- times in the hall's zone ----------------------------------------------------------------

test("formatTime and formatDate show the hall's zone, taken from the snapshot, not the browser's", () => {
  const { QCall, sockets } = load();
  QCall.connect({ token: "t" }, { snapshot() {} });
  sockets[0].fire("connect");
  sockets[0].fire("snapshot", { v: 1, site: { timezone: "Asia/Shanghai" }, services: [], counters: [] });
  assert.equal(QCall.timeZone(), "Asia/Shanghai");
  // 05:04 UTC on 1 Dec 2026 (a Tuesday) is 13:04 in Shanghai; 20:30 UTC is the next day there.
  assert.equal(QCall.formatTime("2026-12-01T05:04:09Z"), "13:04");
  assert.equal(QCall.formatTime("2026-12-01T05:04:09Z", true), "13:04:09");
  assert.equal(QCall.formatDate("2026-12-01T20:30:00Z", "zh"), "2026年12月2日 星期三");
  assert.equal(QCall.formatDate("2026-12-01T20:30:00Z", "en"), "Wednesday 2 Dec 2026");
  assert.equal(QCall.formatTime("2026-12-01T16:00:00Z"), "00:00");
  assert.equal(QCall.formatDay("2026-12-01T16:00:00Z"), "2026-12-02");
  // An unknown zone is ignored: the last good one stands.
  QCall.setTimeZone("Not/AZone");
  assert.equal(QCall.formatTime("2026-12-01T05:04:09Z"), "13:04");
  QCall.setTimeZone("UTC");
  assert.equal(QCall.formatTime("2026-12-01T05:04:09Z"), "05:04");
});
