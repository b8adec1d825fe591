// The central service's page: every hall live, the reports across halls, the templates.
// Every text is written with textContent (nothing a hall sent becomes markup); strings in both languages.
"use strict";

const LINK = { up: "连通 / Up", down: "中断 / Down", never: "从未连接 / Never" };
const STATE = { applied: "已应用 / Applied", refused: "已拒绝 / Refused" };
// A hall that has not shipped its complaints or cases yet (not upgraded): its figures are null, not 0.
const NOT_SHIPPED = "未上报 / Not shipped";
let token = sessionStorage.getItem("qcall.central.token") || "";
let hallNames = {};
let timer = null;

function $(id) { return document.getElementById(id); }

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

async function api(path) {
  const answer = await fetch(path, { headers: { Authorization: "Bearer " + token } });
  const body = await answer.json().catch(() => ({}));
  if (!answer.ok) {
    const words = answer.status === 401 ? "令牌无效 / The token is not valid" : "请求被拒绝 / Refused";
    const why = body.error_zh ? `${body.error_zh} / ${body.error_en}` : body.error;
    throw new Error(words + (why ? ": " + why : ""));
  }
  return body;
}

function row(cells, className) {
  const tr = document.createElement("tr");
  cells.forEach((value, i) => {
    const td = document.createElement("td");
    td.textContent = value === null || value === undefined ? "—" : String(value);
    if (i === 2 && className) td.className = className;
    tr.appendChild(td);
  });
  return tr;
}

// A hall's figures of a stream it has not shipped (null) as "not shipped"; the rest as they are.
function shippedOr(shipped, values) { return shipped ? values : values.map(() => NOT_SHIPPED); }

function when(iso) { return iso ? new Date(iso).toLocaleString() : null; }

async function refreshHalls() {
  const { halls } = await api("/api/v1/central/halls");
  const body = $("halls").querySelector("tbody");
  body.replaceChildren(...halls.map((h) => row([
    `${h.name_zh || h.hall} / ${h.name_en || h.hall}`, h.region, LINK[h.link] || h.link,
    h.waiting, h.serving, h.open_counters, h.pending_events, when(h.last_event_at), when(h.last_seen_at),
    ...shippedOr(h.complaints_open !== null, [h.complaints_open, h.complaints_overdue]),
    ...shippedOr(h.cases_open !== null, [h.cases_open, h.case_steps_overdue]),
  ], "link-" + h.link)));
  hallNames = Object.fromEntries(halls.map((h) => [h.hall, `${h.name_zh || h.hall} / ${h.name_en || h.hall}`]));
  const scope = $("scope");
  if (scope.options.length === 0) {
    const options = [["company", "全公司 / Company"]];
    [...new Set(halls.map((h) => h.region))].forEach((r) => options.push(["region:" + r, `区域 / Region ${r}`]));
    halls.forEach((h) => options.push(["hall:" + h.hall, `${h.name_zh || h.hall} / ${h.name_en || h.hall}`]));
    options.forEach(([value, label]) => scope.add(new Option(label, value)));
  }
}

async function refreshTemplates() {
  const { templates } = await api("/api/v1/central/templates");
  const body = $("templates").querySelector("tbody");
  body.replaceChildren(...templates.map((t) => row([
    t.name, t.section, t.version,
    t.halls ? t.halls.join(", ") : t.region ? `区域 / Region ${t.region}` : "全公司 / Company",
    t.results.map((r) => `${r.hall}: ${STATE[r.state] || r.state} v${r.version}${r.message ? " — " + r.message : ""}`)
      .join("; ") || "尚无 / None yet",
  ])));
}

async function showReport(event) {
  event.preventDefault();
  const kind = $("kind").value;
  const key = kind === "daily" ? "day" : "month";
  const params = new URLSearchParams({ [key]: $("when").value, scope: $("scope").value });
  try {
    const report = await api(`/api/v1/central/reports/${kind}?${params}`);
    const t = report.total;
    $("total").querySelector("tbody").replaceChildren(
      row(["取号 / Issued", t.tickets.issued]),
      row(["已办 / Served", t.tickets.served]),
      row(["过号 / No-show", t.tickets.no_show]),
      row(["等候中位数 / Wait p50 (s)", t.waiting.p50]),
      row(["办理平均 / Service mean (s)", t.service_time.mean]),
      row(["满意率 / Share satisfied", t.satisfaction.share]),
      row(["营业厅 / Halls", report.scope.halls.join(", ")]),
    );
    $("by-service").querySelector("tbody").replaceChildren(...report.sections.service.map((g) => row([
      `${g.name_zh || g.key} / ${g.name_en || g.key}`, g.tickets.issued, g.tickets.served, g.tickets.no_show,
      g.waiting.p50, g.waiting.p90, g.satisfaction.share,
    ])));
    const cases = Object.fromEntries(report.cases.halls.map((c) => [c.hall, c]));
    const deadlineRow = (name, k, c) => row([
      name,
      ...shippedOr(k.received !== null, [
        k.received, k.answered, k.answered_in_time,
        k.answered_in_time_share === null ? null : k.answered_in_time_share + " %",
        k.open, k.overdue,
      ]),
      ...shippedOr(c.opened !== null, [c.opened, c.open, c.steps_overdue]),
    ]);
    $("deadlines").querySelector("tbody").replaceChildren(
      ...report.complaints.halls.map((k) => deadlineRow(hallNames[k.hall] || k.hall, k, cases[k.hall])),
      deadlineRow("合计 / Total", report.complaints.total, report.cases.total),
    );
    const missing = [...new Set([...report.complaints.halls_missing, ...report.cases.halls_missing])];
    $("deadlines-missing").textContent = missing.length
      ? `合计不含未上报的营业厅 / The total leaves out the halls not shipped: ${missing.map((h) => hallNames[h] || h).join(", ")}`
      : "";
    $("deadlines-missing").hidden = !missing.length;
    showError("");
  } catch (error) {
    showError(error.message);
  }
}

async function refresh() {
  try {
    await refreshHalls();
    await refreshTemplates();
    showError("");
    $("view").hidden = false;
  } catch (error) {
    showError(error.message);
  }
}

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  token = $("token").value.trim();
  sessionStorage.setItem("qcall.central.token", token);
  refresh();
  clearInterval(timer);
  timer = setInterval(refresh, 5000);
});
$("report-form").addEventListener("submit", showReport);
if (token) {
  refresh();
  timer = setInterval(refresh, 5000);
}
