/*
 * The kiosk's opening hours: whether each service issues tickets now, and
 * when it opens next, from GET /api/v1/hours (the hub's clock decides, not
 * this browser's).
 *
 * Asked again when the hub says something changes (next_change_in: an
 * opening, a last ticket, a closing), every minute while anything is shut
 * (so "tomorrow" becomes "today" after midnight), on a socket reconnect and
 * after a refusal: the kiosk opens by itself when the time comes, no reload.
 *
 * window.QCallHours = {watch(onChange), refresh(), issuing(code), allShut(),
 * service(code), hall()}. onChange() is called after every answer.
 */
(function (global) {
  "use strict";
  var Q = global.QCall;

  var SHUT_POLL_MS = 60000;   // while anything is shut: words like "tomorrow" age
  var OPEN_POLL_MS = 300000;  // otherwise now and then (the site file may have changed)
  var RETRY_MS = 15000;       // the hub did not answer
  var LATE_MS = 1000;         // ask a moment after the change, never a moment before

  var answer = null;          // the last GET /hours, or null before the first
  var byCode = {};
  var timer = null;
  var listener = function () {};
  var asking = false;

  function watch(onChange) {
    listener = onChange || listener;
    refresh();
  }

  function refresh() {
    if (asking) return;
    asking = true;
    clearTimeout(timer);
    Q.api("GET", "/hours").then(function (body) {
      asking = false;
      take(body);
    }, function () {
      asking = false;
      timer = setTimeout(refresh, RETRY_MS);   // keep the last answer: better than guessing
    });
  }

  function take(body) {
    answer = body || null;
    byCode = {};
    ((answer && answer.services) || []).forEach(function (s) { byCode[s.code] = s; });
    var wait = anyShut() ? SHUT_POLL_MS : OPEN_POLL_MS;
    if (answer && typeof answer.next_change_in === "number") {
      wait = Math.min(wait, answer.next_change_in * 1000 + LATE_MS);
    }
    clearTimeout(timer);
    timer = setTimeout(refresh, wait);
    listener();
  }

  /** The state of service `code` (the hall's when the hub did not list it); null before an answer. */
  function service(code) {
    if (!answer) return null;
    return byCode[code] || answer.hall;
  }

  function hall() { return answer ? answer.hall : null; }

  /** Whether `code` issues tickets now; true until the hub has said otherwise. */
  function issuing(code) {
    var state = service(code);
    return !state || !answer.enforced || !!state.issuing;
  }

  function anyShut() {
    if (!answer || !answer.enforced) return false;
    return !answer.hall.issuing || answer.services.some(function (s) { return !s.issuing; });
  }

  /** Nothing issues tickets and nothing is open (a booked visitor could not check in either). */
  function allShut() {
    if (!answer || !answer.enforced) return false;
    var states = answer.services.length ? answer.services : [answer.hall];
    return states.every(function (s) { return !s.issuing && !s.open; });
  }

  global.QCallHours = {
    watch: watch, refresh: refresh, service: service, hall: hall, issuing: issuing, allShut: allShut
  };
})(window);
