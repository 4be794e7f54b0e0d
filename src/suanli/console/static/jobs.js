// Jobs: work run on a lease's devices (the engine pins each job to them). Submit one from the
// lease's page, follow its state and logs on its own page, cancel it there.
import { all, get, post } from "./api.js";
import { register, t } from "./i18n.js";
import { badge, confirmRow, errorBox, field, h, holdsNow, kv, listView, num, optionsOf, stateLabel, table, text, when } from "./ui.js";

register({
  en: {
    "jobs.title": "Jobs", "jobs.noteTenant": "Your jobs on every lease. Run a new one from an active lease's page.",
    "jobs.noteOperator": "Every tenant's jobs.", "jobs.empty": "No jobs yet.",
    "jobs.emptyList": "No jobs yet: open an active lease and run one there.", "jobs.emptyLease": "No jobs on this lease yet.",
    "jobs.col.job": "Job", "jobs.col.lease": "Lease", "jobs.col.tenant": "Tenant", "jobs.col.name": "Name",
    "jobs.col.command": "Command", "jobs.col.state": "State", "jobs.col.node": "Node", "jobs.col.devices": "Devices",
    "jobs.col.submitted": "Submitted", "jobs.col.finished": "Finished", "jobs.col.exit": "Exit",
    "jobs.unclosed": "the command has an unclosed {q} quote",
    "jobs.commandPh": "e.g. python train.py --epochs 3", "jobs.optional": "optional", "jobs.limitPh": "optional, e.g. 3600",
    "jobs.run": "Run job", "jobs.submitted": "Job {id} submitted: {command}.", "jobs.runHead": "Run a job on this lease",
    "jobs.command": "Command", "jobs.commandHelp": "split into arguments like a shell does for words and quotes, but run "
      + "without a shell (use sh -c '…' for pipes or variables); it sees only this lease's devices",
    "jobs.name": "Name", "jobs.limit": "Time limit (s)", "jobs.node": "Node",
    "jobs.cancelNow": "Cancel it now", "jobs.cancelled": "Job {id} is {state}.",
    "jobs.cancelQ": "Cancel job {id} ({command})? Its processes are stopped; the lease keeps running and billing.",
    "jobs.cancel": "Cancel job", "jobs.jobTitle": "Job {id}",
    "jobs.f.state": "State", "jobs.f.command": "Command", "jobs.f.name": "Name", "jobs.f.lease": "Lease", "jobs.f.node": "Node",
    "jobs.f.devices": "Devices", "jobs.f.submitted": "Submitted", "jobs.f.started": "Started", "jobs.f.finished": "Finished",
    "jobs.f.exit": "Exit code", "jobs.f.reason": "Reason", "jobs.f.used": "Device-hours used", "jobs.f.engine": "Engine",
    "jobs.logsSoFar": "Logs (so far)", "jobs.logs": "Logs", "jobs.noOutputYet": "No output yet.",
    "jobs.noOutput": "The job wrote no output.",
  },
  "zh-CN": {
    "jobs.title": "作业", "jobs.noteTenant": "您在各租约上的作业。可在运行中租约的页面上提交新作业。",
    "jobs.noteOperator": "所有租户的作业。", "jobs.empty": "暂无作业。",
    "jobs.emptyList": "暂无作业：打开一个运行中的租约，在其页面上运行作业。", "jobs.emptyLease": "此租约上暂无作业。",
    "jobs.col.job": "作业", "jobs.col.lease": "租约", "jobs.col.tenant": "租户", "jobs.col.name": "名称",
    "jobs.col.command": "命令", "jobs.col.state": "状态", "jobs.col.node": "节点", "jobs.col.devices": "设备",
    "jobs.col.submitted": "提交时间", "jobs.col.finished": "结束时间", "jobs.col.exit": "退出码",
    "jobs.unclosed": "命令中有未闭合的 {q} 引号",
    "jobs.commandPh": "例如 python train.py --epochs 3", "jobs.optional": "可选", "jobs.limitPh": "可选，例如 3600",
    "jobs.run": "运行作业", "jobs.submitted": "已提交作业 {id}：{command}。", "jobs.runHead": "在此租约上运行作业",
    "jobs.command": "命令", "jobs.commandHelp": "按 shell 的规则拆分单词和引号，但不经过 shell 执行（管道或变量请用 sh -c '…'）；作业只能看到此租约的设备",
    "jobs.name": "名称", "jobs.limit": "时间上限（秒）", "jobs.node": "节点",
    "jobs.cancelNow": "立即取消", "jobs.cancelled": "作业 {id} 状态：{state}。",
    "jobs.cancelQ": "取消作业 {id}（{command}）？其进程将被停止；租约继续运行并计费。",
    "jobs.cancel": "取消作业", "jobs.jobTitle": "作业 {id}",
    "jobs.f.state": "状态", "jobs.f.command": "命令", "jobs.f.name": "名称", "jobs.f.lease": "租约", "jobs.f.node": "节点",
    "jobs.f.devices": "设备", "jobs.f.submitted": "提交时间", "jobs.f.started": "开始时间", "jobs.f.finished": "结束时间",
    "jobs.f.exit": "退出码", "jobs.f.reason": "原因", "jobs.f.used": "已用设备·小时", "jobs.f.engine": "执行引擎",
    "jobs.logsSoFar": "日志（截至目前）", "jobs.logs": "日志", "jobs.noOutputYet": "尚无输出。",
    "jobs.noOutput": "作业没有输出。",
  },
});

/** States after which a job never changes again. */
export const FINAL = ["completed", "failed", "cancelled", "timeout", "node_fail", "lost"];
/** A job's page reloads this often while the job may still change. */
const RUNNING_REFRESH_MS = 2_000;

/**
 * Split a command line into argv the way a shell would for plain words and quotes, without a
 * shell: 'python train.py --lr "1e-4"' -> ["python", "train.py", "--lr", "1e-4"]. Pipes, globs and
 * variables are not expanded (run `sh -c '...'` for those). Throws on an unclosed quote.
 */
export function splitArgs(line) {
  const args = [];
  let cur = "";
  let inWord = false;
  let quote = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = null;
      else if (c === "\\" && quote === '"' && i + 1 < line.length && '"\\'.includes(line[i + 1])) cur += line[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === "\\" && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) args.push(cur);
      cur = "";
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) throw new Error(t("jobs.unclosed", { q: quote }));
  if (inWord) args.push(cur);
  return args;
}

export function showCommand(argv) {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`)).join(" ");
}

function jobColumns(withLease, withTenant = false) {
  return [
    { key: "id", label: t("jobs.col.job"), value: (j) => h("a", { href: `#/jobs/${encodeURIComponent(j.id)}`, class: "mono" }, j.id) },
    ...(withLease ? [{ key: "lease_id", label: t("jobs.col.lease"),
      value: (j) => h("a", { href: `#/leases/${encodeURIComponent(j.lease_id)}`, class: "mono" }, j.lease_id) }] : []),
    ...(withTenant ? [{ key: "tenant", label: t("jobs.col.tenant"), value: (j) => j.tenant || "—" }] : []),
    { key: "name", label: t("jobs.col.name"), value: (j) => j.name || "—" },
    { label: t("jobs.col.command"), value: (j) => h("code", { class: "cmd" }, showCommand(j.command)) },
    { key: "state", label: t("jobs.col.state"), value: (j) => badge(j.state) },
    { key: "node", label: t("jobs.col.node"), value: (j) => j.node || "—" },
    { key: "devices", label: t("jobs.col.devices"), value: (j) => j.devices, class: "num" },
    { key: "submitted_at", label: t("jobs.col.submitted"), value: (j) => when(j.submitted_at) },
    { key: "finished_at", label: t("jobs.col.finished"), value: (j) => when(j.finished_at) },
    { key: "exit_code", label: t("jobs.col.exit"), value: (j) => (j.exit_code === null ? "—" : String(j.exit_code)), class: "num" },
  ];
}

export function jobTable(items, { withLease = false, empty } = {}) {
  return table(jobColumns(withLease), items, { testid: "jobs", rowTestid: (j) => `job-${j.id}`, empty: empty ?? t("jobs.empty") });
}

/** The jobs part of a lease's page: its jobs, and a form to submit one while the lease is active. */
export async function leaseJobs(ctx, lease) {
  const items = await all("/v1/jobs", { lease_id: lease.id }, 500);
  if (items.some((j) => !FINAL.includes(j.state))) ctx.refreshMs = RUNNING_REFRESH_MS * 2;
  const parts = [h("h2", {}, t("jobs.title")), jobTable(items, { empty: t("jobs.emptyLease") })];
  if (lease.state === "active" && ctx.me.role !== "supplier") parts.push(submitForm(ctx, lease));
  return parts;
}

function submitForm(ctx, lease) {
  const nodes = [...new Set(lease.allocations.filter(holdsNow).map((a) => a.node))];
  const command = text("command", t("jobs.commandPh"), "", "job");
  const name = text("name", t("jobs.optional"), "", "job");
  const limit = text("time_limit_s", t("jobs.limitPh"), "", "job");
  const nodeSel = h("select", { id: "job-node", name: "node" }, nodes.map((n) => h("option", { value: n }, n)));
  const status = h("div", { testid: "job-status" });
  const submit = h("button", { type: "submit", class: "primary" }, t("jobs.run"));
  return h("form", { class: "panel", testid: "job-form", novalidate: true, onsubmit: async (ev) => {
    ev.preventDefault();
    let argv;
    try {
      argv = splitArgs(command.value.trim());
    } catch (e) {
      status.replaceChildren(errorBox(e, "job-error"));
      return;
    }
    const body = { command: argv };
    if (name.value.trim()) body.name = name.value.trim();
    if (limit.value.trim()) body.time_limit_s = /^\d+$/.test(limit.value.trim()) ? Number(limit.value.trim()) : limit.value.trim();
    if (nodes.length > 1) body.node = nodeSel.value;
    submit.disabled = true;
    try {
      const job = await post(`/v1/leases/${encodeURIComponent(lease.id)}/jobs`, body);
      ctx.flash(t("jobs.submitted", { id: job.id, command: showCommand(job.command) }), "ok", { next: true });
      ctx.go(`/jobs/${encodeURIComponent(job.id)}`);
    } catch (e) {
      status.replaceChildren(errorBox(e, "job-error"));
    } finally {
      submit.disabled = false;
    }
  } },
  h("h3", {}, t("jobs.runHead")),
  field(t("jobs.command"), command, t("jobs.commandHelp")),
  h("div", { class: "grid3" }, field(t("jobs.name"), name), field(t("jobs.limit"), limit),
    nodes.length > 1 ? field(t("jobs.node"), nodeSel) : null),
  h("div", { class: "actions" }, submit), status);
}

export async function list(ctx) {
  const operator = ctx.me.role === "operator";
  const [items, leases, accounts] = await Promise.all([all("/v1/jobs", {}, 5000),
    operator ? all("/v1/leases", {}, 5000) : [], operator ? get("/v1/accounts") : []]);
  if (items.some((j) => !FINAL.includes(j.state))) ctx.refreshMs = RUNNING_REFRESH_MS * 2;
  // the operator sees whose job it is: lease -> tenant id -> name (two list calls, no call per row)
  const names = new Map(accounts.map((a) => [a.id, a.name]));
  const tenantOf = new Map(leases.map((l) => [l.id, names.get(l.tenant_id) || l.tenant_id]));
  const rows = items.map((j) => ({ ...j, tenant: tenantOf.get(j.lease_id) }));
  return h("section", {},
    h("div", { class: "page-head" }, h("h1", {}, t("jobs.title")),
      h("p", { class: "muted" }, operator ? t("jobs.noteOperator") : t("jobs.noteTenant"))),
    listView({
      columns: jobColumns(true, operator), rows, query: ctx.query, testid: "jobs", rowTestid: (j) => `job-${j.id}`,
      empty: t("jobs.emptyList"), sort: "-submitted_at",
      search: (j) => [j.id, j.lease_id, j.tenant, j.name, showCommand(j.command), j.node, j.state].join(" "),
      filters: [
        { key: "state", label: t("jobs.col.state"), options: optionsOf(rows, "state", stateLabel) },
        ...(operator ? [{ key: "tenant", label: t("jobs.col.tenant"), options: optionsOf(rows, "tenant") }] : []),
        { key: "node", label: t("jobs.col.node"), options: optionsOf(rows, "node") },
      ],
    }));
}

export async function job(ctx) {
  const [id] = ctx.params;
  const [j, logs] = await Promise.all([get(`/v1/jobs/${encodeURIComponent(id)}`),
    get(`/v1/jobs/${encodeURIComponent(id)}/logs`)]);
  const running = !FINAL.includes(j.state);
  if (running) ctx.refreshMs = RUNNING_REFRESH_MS;
  const status = h("div", {});
  const actions = h("div", { class: "actions" });
  if (running) {
    const confirm = confirmRow({ testid: "cancel-confirm", status, errorTestid: "cancel-error", confirmLabel: t("jobs.cancelNow"),
      run: async () => {
        const after = await post(`/v1/jobs/${encodeURIComponent(j.id)}/cancel`);
        ctx.flash(t("jobs.cancelled", { id: j.id, state: stateLabel(after.state) }));
        ctx.go(`/jobs/${encodeURIComponent(j.id)}`);
      } });
    actions.append(h("button", { type: "button", class: "danger", onclick: () => confirm.open(
      t("jobs.cancelQ", { id: j.id, command: showCommand(j.command) })) }, t("jobs.cancel")), confirm.row);
  }
  return h("section", {},
    h("div", { class: "page-head" }, h("h1", {}, t("jobs.jobTitle", { id: j.id })), badge(j.state)),
    kv([
      [t("jobs.f.state"), badge(j.state)], [t("jobs.f.command"), h("code", { class: "cmd" }, showCommand(j.command))],
      [t("jobs.f.name"), j.name || "—"],
      [t("jobs.f.lease"), h("a", { href: `#/leases/${encodeURIComponent(j.lease_id)}`, class: "mono" }, j.lease_id)],
      [t("jobs.f.node"), j.node || "—"],
      [t("jobs.f.devices"), `${j.devices}${j.device_indices ? ` (#${j.device_indices.join(", #")})` : ""}`],
      [t("jobs.f.submitted"), when(j.submitted_at)], [t("jobs.f.started"), when(j.started_at)],
      [t("jobs.f.finished"), when(j.finished_at)],
      [t("jobs.f.exit"), j.exit_code === null ? "—" : String(j.exit_code)], [t("jobs.f.reason"), j.reason || "—"],
      [t("jobs.f.used"), j.device_seconds === null ? "—" : num(String(Number(j.device_seconds) / 3600), 4)],
      [t("jobs.f.engine"), `${j.driver} · ${j.driver_job_id}`],
    ], "job-facts"),
    actions, status,
    h("h2", {}, running ? t("jobs.logsSoFar") : t("jobs.logs")),
    logs.logs ? h("pre", { class: "logs", testid: "job-logs" }, logs.logs)
      : h("p", { class: "muted empty", testid: "job-logs" }, running ? t("jobs.noOutputYet") : t("jobs.noOutput")));
}
