// 质量监测: the yearly report's figures (GET /api/quality, the same dict as `hotline report
// quality`), the internal checks of the scope, and the form that enters one evaluation (POST
// /api/quality/evaluations).
import { ApiError, get, post } from "./api.js";
import { chinaTime, el, emptyNote } from "./render.js";

// rounded figures (one decimal, half up, done by the server) shown as the report shows them
const num = (v) => (v === null || v === undefined ? "—" : Number(v).toFixed(1));
const pct = (v) => (v === null || v === undefined ? "—" : `${Number(v).toFixed(1)}%`);
const signed = (v, unit = "") => {
  if (v === null || v === undefined) return "—";
  const text = unit ? Number(v).toFixed(1) : String(v);
  return `${v > 0 ? "+" : ""}${text}${unit}`;
};

function simple(testid, headers, rows) {
  return el("table", { "data-testid": testid },
    el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", {}, h)))),
    el("tbody", {}, ...rows.map((cells) => el("tr", {}, ...cells.map((c) => el("td", { class: typeof c === "number" ? "" : "text" }, c))))));
}

let options = null;
async function loadOptions() {
  if (!options) options = await get("/api/quality/options");
  return options;
}

function coverage(f) {
  const c = f.coverage, p = c.previous, g = c.growth;
  const label = { dialled: "拨测中心数", opened: "已开通12333", human_service: "提供人工服务", reached: "接通人工" };
  const rows = Object.entries(label).map(([k, name]) => [
    name, c.current[k], k === "dialled" ? "—" : pct(c.current[`${k}_pct`]),
    p ? p[k] : "—", p && k !== "dialled" ? pct(p[`${k}_pct`]) : "—",
    g ? signed(g[k]) : "—", g && k !== "dialled" ? signed(g[`${k}_pct`], "个百分点") : "—",
  ]);
  return simple("q-coverage", ["", `${f.year}年`, "占拨测", `${f.previous_year}年`, "占拨测", "增长", "比率增长"], rows);
}

function report(f) {
  const unit = f.scope.unit_label;
  const score = (r) => [r.name, r.centers, num(r.etiquette), num(r.communication), num(r.problem_solving), num(r.total), r.band ?? "—"];
  const cov = (r) => [r.name, r.cities, r.opened, pct(r.opening_rate), r.human_service, r.reached, r.notes.join("；")];
  return [
    el("p", { class: "note" }, f.rounding),
    el("h3", {}, "一、监测覆盖情况"), coverage(f),
    el("h3", {}, "二、接通结果"),
    simple("q-outcomes", ["代码", "结果", "中心数", "占比"], f.outcomes.map((o) => [o.code, o.label, o.centers, pct(o.pct)])),
    el("h3", {}, "三、得分分布"),
    simple("q-bands", ["分数段", "中心数", "中心占比", `${unit}数`, `${unit}占比`],
      f.bands.centers.map((b, i) => [b.band, b.count, pct(b.pct), f.bands.units[i].count, pct(f.bands.units[i].pct)])),
    el("h3", {}, "四、各评分项得分率"),
    simple("q-items", ["类别", "评分项", "满分", "平均得分", "得分率"],
      [...f.items.map((i) => [i.group_chinese, i.chinese, i.maximum, num(i.average), pct(i.pct)]),
        ...f.groups.map((g) => [g.chinese, "小计", g.maximum, num(g.average), pct(g.pct)])]),
    el("h3", {}, `五、各${unit}得分`),
    simple("q-scores", [unit, "中心数", "接听礼仪(25)", "沟通技巧(40)", "问题解答(35)", "总分", "分数段"],
      [...f.score_table.map(score), score(f.score_average)]),
    el("h3", {}, `六、各${unit}开通情况`),
    simple("q-opening", [unit, "拨测数", "开通", "开通率", "人工服务", "接通人工", "说明"],
      [...f.coverage_table.map(cov), cov(f.coverage_total)]),
    el("h3", {}, "七、日常话务中的无人接听"),
    f.live_unreachable.length
      ? simple("q-live", ["中心", "天数", "最早", "最近"], f.live_unreachable.map((x) => [x.name, x.days, x.first, x.last]))
      : el("p", {}, "无"),
    el("h3", {}, "八、发现的问题"),
    f.problems.length ? el("ol", { "data-testid": "q-problems" }, ...f.problems.map((p) => el("li", {}, p))) : el("p", {}, "无"),
    el("h3", {}, "九、数据核查"),
    f.checks.length
      ? simple("q-checks", ["核查项", "对象", "名称", "说明"], f.checks.map((c) => [c.label, c.subject, c.name, c.message]))
      : el("p", { "data-testid": "q-checks" }, "未发现不一致"),
    el("h3", {}, "说明"),
    el("ul", { "data-testid": "q-definitions" }, ...f.definitions.map((d) => el("li", {}, d))),
  ];
}

// the internal checks of province and city users (GET /api/quality/internal, scope-filtered)
async function internalChecks(year, province) {
  const { evaluations } = await get("/api/quality/internal", { year, province });
  const row = (e) => [e.name, e.dialled_at.join("；"), `${e.outcome} ${e.outcome_label}`, e.total ?? "—", e.evaluator, e.note, e.entered_at];
  return [
    el("h3", {}, `${year}年内部质检（省、地市录入，不计入全国监测报告）`),
    evaluations.length
      ? simple("q-internal", ["中心", "拨打时间", "接通结果", "总分", "评价人", "备注", "录入时间"], evaluations.map(row))
      : el("p", { "data-testid": "q-internal" }, "无"),
  ];
}

export async function qualityPage(year, province) {
  const o = await loadOptions();
  const links = el("p", {}, el("a", { href: "#/quality/entry", "data-testid": "to-entry" }, "录入评价"));
  if (!o.report) {
    return [el("h2", {}, "质量监测"), emptyNote("质量监测报告按全国或省出具，地市用户只能录入本市中心的内部质检评价。"), links,
      ...await internalChecks(o.year)];
  }
  year = Number(year) || o.year;
  if (!o.national) province = o.provinces[0].code;
  const years = el("select", { id: "q-year" }, ...o.years.map((y) => el("option", { value: y, ...(y === year ? { selected: "" } : {}) }, `${y}年`)));
  const places = el("select", { id: "q-province", ...(o.national ? {} : { disabled: "" }) },
    ...(o.national ? [el("option", { value: "" }, "全国")] : []),
    ...o.provinces.map((p) => el("option", { value: p.code, ...(p.code === province ? { selected: "" } : {}) }, p.name)));
  const go = () => window.location.assign(`#/quality/${years.value}${places.value ? "/" + places.value : ""}`);
  years.addEventListener("change", go);
  places.addEventListener("change", go);
  const f = await get("/api/quality", { year, province });
  return [
    el("h2", {}, `${f.scope.name}12333服务质量监测 `, el("small", {}, `${f.year}年`)),
    el("p", {}, el("label", { for: "q-year" }, "年度"), " ", years, "　", el("label", { for: "q-province" }, "范围"), " ", places, "　", links),
    ...report(f),
    ...await internalChecks(year, province),
  ];
}

// -- the evaluation form ----------------------------------------------------------------------

export async function evaluationPage() {
  const o = await loadOptions();
  if (!o.writable) return [el("h2", {}, "录入评价"), emptyNote("评价录入未启用（服务端没有配置写入连接）")];
  const field = (name, label, input) => el("label", { class: "field", "data-field": name }, el("span", {}, label), input, el("em", { class: "reason" }));
  const now = chinaTime().slice(0, 16); // the server reads dialled_at as China time
  const groups = {};
  for (const item of o.rubric) (groups[item.group] ||= []).push(item);
  const GROUP = { etiquette: "接听礼仪（25分）", communication: "沟通技巧（40分）", problem_solving: "问题解答（35分）" };
  const items = Object.entries(groups).map(([g, list]) => el("fieldset", { class: "items" }, el("legend", {}, GROUP[g] || g),
    ...list.map((i) => field(i.field, `${i.chinese}（0–${i.maximum}）`, el("input", { name: i.field, type: "number", min: 0, max: i.maximum, step: 1 })))));
  const total = el("strong", { "data-testid": "form-total" }, "0");
  const form = el("form", { id: "evaluation-form", novalidate: "" },
    field("year", "年度", el("input", { name: "year", type: "number", value: o.year, min: 2000, max: 2100, required: "" })),
    field("center_id", "中心", el("select", { name: "center_id", required: "" }, ...o.centers.map((c) => el("option", { value: c.center_id }, `${c.name}（${c.center_id}）`)))),
    field("outcome", "接通结果", el("select", { name: "outcome" }, ...o.outcomes.map((x) => el("option", { value: x.code }, `${x.code} ${x.label}`)))),
    field("human_service", "提供人工服务", el("select", { name: "human_service" }, el("option", { value: "" }, "按结果（1–3是，4否）"), el("option", { value: "1" }, "是"), el("option", { value: "0" }, "否"))),
    field("dialled_at", "拨打时间（北京时间，多次用;分隔）", el("input", { name: "dialled_at", value: now, size: 40, required: "" })),
    ...items,
    el("p", {}, "各项合计 ", total, " 分（总分由各项相加，不单独录入）"),
    field("evaluator", "评价人", el("input", { name: "evaluator", value: o.user })),
    field("note", "备注", el("input", { name: "note", size: 40 })),
    el("button", { type: "submit" }, "保存"));
  const out = el("div", { id: "form-result", "data-testid": "form-result" });
  const inputs = () => o.rubric.map((i) => form.elements[i.field]);
  const sync = () => {
    const unreached = ["3", "4"].includes(form.elements.outcome.value);
    for (const input of inputs()) input.disabled = unreached;
    total.textContent = String(inputs().reduce((s, i) => s + (i.disabled ? 0 : Number(i.value) || 0), 0));
  };
  form.addEventListener("input", sync);
  form.addEventListener("change", sync);
  // A center and year with an evaluation already (409) is stored only once the user confirms.
  const save = async (replace) => {
    for (const r of form.querySelectorAll(".reason")) r.textContent = "";
    for (const f of form.querySelectorAll(".field")) f.classList.remove("invalid");
    const data = Object.fromEntries(new FormData(form));
    const body = { ...data, items: {}, ...(replace ? { replace: true } : {}) };
    for (const i of o.rubric) { body.items[i.field] = data[i.field] ?? ""; delete body[i.field]; }
    try {
      const saved = await post("/api/quality/evaluations", body);
      const own = saved.counted ? "" : "（内部质检，不计入全国神秘顾客监测报告）";
      out.replaceChildren(el("p", { class: "ok" }, `已保存：${saved.evaluation.evaluation_id}，总分 ${saved.total}${own}`));
    } catch (err) {
      const general = [];
      for (const e of (err instanceof ApiError && err.errors) || []) {
        const box = e.field && form.querySelector(`[data-field="${e.field}"]`);
        if (box) { box.classList.add("invalid"); box.querySelector(".reason").textContent = e.message; }
        else general.push(e.message);
      }
      // several stored ones cannot be replaced by one entry (the message says how to correct them)
      const confirm = err instanceof ApiError && err.status === 409 && err.body?.replaceable !== false
        ? [el("button", { type: "button", "data-testid": "form-replace", onclick: () => save(true) }, "确认替换已有评价")]
        : [];
      out.replaceChildren(el("p", { class: "error" }, err.message), ...general.map((m) => el("p", { class: "error" }, m)), ...confirm);
    }
  };
  form.addEventListener("submit", (event) => { event.preventDefault(); save(false); });
  sync();
  // Only a national user enters the national mystery shopper's evaluation; a province's or
  // city's is stored as its own internal check (never replacing the national one, not counted).
  const kind = o.national ? "神秘顾客" : "内部质检";
  const scope = o.national ? [] : [el("p", { "data-testid": "form-kind" },
    "本级录入的评价作为内部质检保存：不替换全国中心的神秘顾客评价，也不计入全国监测报告。")];
  return [el("h2", {}, `录入评价（${kind}）`), el("p", {}, el("a", { href: "#/quality" }, "‹ 质量监测报告"),
    "　校验规则与CSV导入相同（hotline quality import）。"), ...scope, form, out];
}
