/*
 * Targets on the staff pages (issue 12): a ticket about to breach its waiting-
 * time or service-time target is marked "快超时 Nearly due" from the lead time
 * before its due time, and "已超时 Overdue" after it, in both languages at
 * once (a colleague may read along), high contrast.
 *
 * The hub says when each target is breached (GET /counters/{n}/next:
 * wait_due_at per ticket, current.service_due_at, warn_before_seconds) and
 * what its clock says (`now`). A ticket nears its breach with no event
 * happening, so the marks are re-evaluated here every second against the
 * hub's clock (this PC's clock plus the difference seen at the last answer:
 * a desk PC set a few minutes wrong still marks at the right moment).
 *
 * A mark is an element carrying data-due-at and data-lead; paint() sets its
 * data-target ("near", "overdue" or "") and words, and the same data-target on
 * the nearest element marked data-target-row (a waiting row), for styling.
 * Loaded after qcall.js; adds QCall.targets.
 */
(function (global) {
  "use strict";
  var Q = global.QCall;

  var TICK_MS = 1000;
  var WORDS = {
    near: { zh: "快超时", en: "Nearly due" },
    overdue: { zh: "已超时", en: "Overdue" },
    wait: { zh: "等候时限", en: "Wait target" },
    service: { zh: "办理时限", en: "Service target" }
  };

  var offset = 0;          // hub clock − this PC's clock, in ms, from the last answer's `now`
  var watching = false;

  /** Milliseconds of an ISO time from the hub (microseconds cut to milliseconds for older parsers). */
  function parse(iso) {
    if (!iso) return NaN;
    return Date.parse(String(iso).replace(/(\.\d{3})\d+/, "$1"));
  }

  /** Take the hub's clock from an answer that carries `now` (the next-up list). */
  function take(answer) {
    var hub = parse(answer && answer.now);
    if (!isNaN(hub)) offset = hub - Date.now();
  }

  function now() { return Date.now() + offset; }

  /** "near", "overdue" or null: where `at` (default: the hub's now) stands to a due time. */
  function state(dueIso, leadSeconds, at) {
    var due = parse(dueIso);
    if (isNaN(due)) return null;
    var t = at === undefined ? now() : at;
    if (t >= due) return "overdue";
    if (t >= due - Math.max(0, leadSeconds || 0) * 1000) return "near";
    return null;
  }

  /**
   * The mark's element for a due time (nothing without one): `what` is "wait" or
   * "service" (its title says which target, and when it falls due).
   */
  function mark(dueIso, leadSeconds, what) {
    if (!dueIso) return Q.html``;
    return Q.html`<span class="due-mark" data-due-at="${dueIso}" data-lead="${leadSeconds || 0}"
        data-what="${what}" data-target="" hidden></span>`;
  }

  /** Re-evaluate every mark under `root` (default: the page) against the hub's clock now. */
  function paint(root) {
    var at = now();
    Q.each((root || document).querySelectorAll("[data-due-at]"), function (el) {
      var st = state(el.getAttribute("data-due-at"), +el.getAttribute("data-lead"), at);
      var key = st || "";
      var row = el.closest ? el.closest("[data-target-row]") : null;
      if (row && row.getAttribute("data-target") !== key) row.setAttribute("data-target", key);
      if (el.getAttribute("data-target") === key && el.hidden === !st) return;
      el.setAttribute("data-target", key);
      el.hidden = !st;
      if (!st) { el.textContent = ""; return; }
      var what = WORDS[el.getAttribute("data-what")] || WORDS.wait;
      var due = Q.formatTime(new Date(parse(el.getAttribute("data-due-at"))));
      el.title = what.zh + " " + due + " / " + what.en + " " + due;
      Q.setHtml(el, Q.html`${WORDS[st].zh} <span class="en">${WORDS[st].en}</span>`);
    });
  }

  /** Start the page's timer once: the marks move on by themselves as time passes. */
  function watch() {
    if (watching) return;
    watching = true;
    setInterval(function () { paint(document); }, TICK_MS);
  }

  Q.targets = { take: take, now: now, state: state, mark: mark, paint: paint, watch: watch };
})(window);
