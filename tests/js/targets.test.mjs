// Unit tests for counter_ui/targets.js (the "快超时 Nearly due" / "已超时 Overdue" marks), run with
// `node --test tests/js/` (no npm packages).
//
// qcall.js and targets.js run in a node:vm context whose Date.now() the test sets, so the
// marks are checked at chosen moments: before the lead, inside it, at and after the due time,
// and against the hub's clock when this PC's clock is off.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import vm from "node:vm";

const QCALL = readFileSync(new URL("../../server/static/qcall.js", import.meta.url), "utf8");
const TARGETS = readFileSync(new URL("../../counter_ui/targets.js", import.meta.url), "utf8");

const DUE = "2026-03-10T01:15:00.123456+00:00";     // as the hub writes it: microseconds, an offset
const DUE_MS = Date.UTC(2026, 2, 10, 1, 15, 0, 123);
const MINUTE = 60000;

/** A fake element: attributes, hidden, innerHTML, and the row it sits in (closest). */
function element(attrs = {}, row = null) {
  return {
    attrs: { ...attrs },
    hidden: true,
    innerHTML: "",
    textContent: "",
    title: "",
    setAttribute(k, v) { this.attrs[k] = String(v); },
    getAttribute(k) { return k in this.attrs ? this.attrs[k] : null; },
    closest(selector) { return selector === "[data-target-row]" ? row : null; },
  };
}

/** A page with qcall.js and targets.js loaded; `clock.now` is what Date.now() answers. */
function load(marks = []) {
  const clock = { now: DUE_MS - 10 * MINUTE };
  const RealDate = Date;
  class FakeDate extends RealDate {
    constructor(...args) { super(...(args.length ? args : [clock.now])); }
    static now() { return clock.now; }
  }
  const intervals = [];
  const win = {
    Date: FakeDate,
    document: {
      documentElement: { lang: "" },
      body: element(),
      querySelector: () => null,
      querySelectorAll: () => marks,
    },
    navigator: { language: "zh-CN" },
    localStorage: { getItem: () => null, setItem() {}, removeItem() {} },
    console: { error() {}, log() {} },
    setTimeout: () => 0,
    clearTimeout() {},
    setInterval: (fn, ms) => { intervals.push({ fn, ms }); return intervals.length; },
  };
  win.window = win;
  vm.createContext(win);
  vm.runInContext(QCALL, win, { filename: "qcall.js" });
  vm.runInContext(TARGETS, win, { filename: "targets.js" });
  assert.ok(win.QCall.targets, "targets.js adds QCall.targets");
  return { T: win.QCall.targets, clock, intervals };
}

test("a due time is nothing before its lead, nearly due within it, overdue from the moment itself", () => {
  const { T } = load();
  const lead = 180;
  assert.equal(T.state(DUE, lead, DUE_MS - 3 * MINUTE - 1), null);
  assert.equal(T.state(DUE, lead, DUE_MS - 3 * MINUTE), "near");
  assert.equal(T.state(DUE, lead, DUE_MS - 1), "near");
  assert.equal(T.state(DUE, lead, DUE_MS), "overdue");
  assert.equal(T.state(DUE, lead, DUE_MS + 60 * MINUTE), "overdue");
  assert.equal(T.state(DUE, 0, DUE_MS - 1), null, "no lead: only overdue");
  assert.equal(T.state(null, lead, DUE_MS), null, "no target: never marked");
  assert.equal(T.state("not a time", lead, DUE_MS), null);
});

test("the marks follow the hub's clock, not a desk PC's clock that is five minutes slow", () => {
  const { T, clock } = load();
  clock.now = DUE_MS - 10 * MINUTE;                       // the PC thinks it is 10 minutes before
  T.take({ now: new Date(DUE_MS - 5 * MINUTE).toISOString() });   // the hub: 5 minutes before
  assert.equal(T.state(DUE, 180), null);
  clock.now += 2 * MINUTE;                                 // two minutes later on both clocks
  assert.equal(T.state(DUE, 180), "near");
  clock.now += 3 * MINUTE;
  assert.equal(T.state(DUE, 180), "overdue", "the hub's due time has come, though the PC reads 5 min before");
  T.take({});                                              // an answer without `now` keeps the last
  assert.equal(T.state(DUE, 180), "overdue");
});

test("paint() turns a mark and its row, in both languages, and the page's timer keeps painting", () => {
  const row = element({ "data-target-row": "" });
  const mark = element({ "data-due-at": DUE, "data-lead": "180", "data-what": "wait", "data-target": "" }, row);
  const { T, clock, intervals } = load([mark]);
  T.paint();
  assert.equal(mark.hidden, true);
  assert.equal(row.getAttribute("data-target"), "");

  clock.now = DUE_MS - MINUTE;
  T.paint();
  assert.equal(mark.getAttribute("data-target"), "near");
  assert.equal(mark.hidden, false);
  assert.equal(mark.innerHTML, '快超时 <span class="en">Nearly due</span>');
  assert.equal(row.getAttribute("data-target"), "near");
  assert.match(mark.title, /^等候时限 \d\d:\d\d \/ Wait target \d\d:\d\d$/);

  T.watch();
  T.watch();
  assert.equal(intervals.length, 1, "one timer per page");
  assert.ok(intervals[0].ms <= 5000, "re-evaluated every few seconds at most");
  clock.now = DUE_MS;
  intervals[0].fn();                                       // the timer fires: no event needed
  assert.equal(mark.getAttribute("data-target"), "overdue");
  assert.equal(mark.innerHTML, '已超时 <span class="en">Overdue</span>');
  assert.equal(row.getAttribute("data-target"), "overdue");
});

test("mark() makes nothing without a due time, and a hidden mark to paint with one", () => {
  const { T } = load();
  assert.equal(String(T.mark(null, 180, "wait")), "");
  const html = String(T.mark(DUE, 180, "service"));
  assert.match(html, /class="due-mark"/);
  assert.match(html, new RegExp(`data-due-at="${DUE.replace(/[.+]/g, "\\$&")}"`));
  assert.match(html, /data-lead="180"/);
  assert.match(html, /data-what="service"/);
  assert.match(html, /hidden/);
});
