// Jobs: work run on a lease's devices (the engine pins each job to them). Submit one from the
// lease's page, follow its state and logs on its own page, cancel it there.
import { all, get, post } from "./api.js";
import { badge, confirmRow, errorBox, field, h, holdsNow, kv, num, table, text, when } from "./ui.js";

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
  if (quote) throw new Error(`the command has an unclosed ${quote} quote`);
  if (inWord) args.push(cur);
  return args;
}

export function showCommand(argv) {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`)).join(" ");
}

function jobColumns(withLease) {
  return [
    { label: "Job", value: (j) => h("a", { href: `#/jobs/${encodeURIComponent(j.id)}`, class: "mono" }, j.id) },
    ...(withLease ? [{ label: "Lease", value: (j) => h("a", { href: `#/leases/${encodeURIComponent(j.lease_id)}`, class: "mono" }, j.lease_id) }] : []),
    { label: "Name", value: (j) => j.name || "—" },
    { label: "Command", value: (j) => h("code", { class: "cmd" }, showCommand(j.command)) },
    { label: "State", value: (j) => badge(j.state) },
    { label: "Node", value: (j) => j.node || "—" },
    { label: "Devices", value: (j) => j.devices, class: "num" },
    { label: "Submitted", value: (j) => when(j.submitted_at) },
    { label: "Finished", value: (j) => when(j.finished_at) },
    { label: "Exit", value: (j) => (j.exit_code === null ? "—" : String(j.exit_code)), class: "num" },
  ];
}

export function jobTable(items, { withLease = false, empty = "No jobs yet." } = {}) {
  return table(jobColumns(withLease), items, { testid: "jobs", rowTestid: (j) => `job-${j.id}`, empty });
}

/** The jobs part of a lease's page: its jobs, and a form to submit one while the lease is active. */
export async function leaseJobs(ctx, lease) {
  const items = await all("/v1/jobs", { lease_id: lease.id }, 500);
  if (items.some((j) => !FINAL.includes(j.state))) ctx.refreshMs = RUNNING_REFRESH_MS * 2;
  const parts = [h("h2", {}, "Jobs"), jobTable(items, { empty: "No jobs on this lease yet." })];
  if (lease.state === "active" && ctx.me.role !== "supplier") parts.push(submitForm(ctx, lease));
  return parts;
}

function submitForm(ctx, lease) {
  const nodes = [...new Set(lease.allocations.filter(holdsNow).map((a) => a.node))];
  const command = text("command", "e.g. python train.py --epochs 3", "", "job");
  const name = text("name", "optional", "", "job");
  const limit = text("time_limit_s", "optional, e.g. 3600", "", "job");
  const nodeSel = h("select", { id: "job-node", name: "node" }, nodes.map((n) => h("option", { value: n }, n)));
  const status = h("div", { testid: "job-status" });
  const submit = h("button", { type: "submit", class: "primary" }, "Run job");
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
      ctx.flash(`Job ${job.id} submitted: ${showCommand(job.command)}.`, "ok", { next: true });
      ctx.go(`/jobs/${encodeURIComponent(job.id)}`);
    } catch (e) {
      status.replaceChildren(errorBox(e, "job-error"));
    } finally {
      submit.disabled = false;
    }
  } },
  h("h3", {}, "Run a job on this lease"),
  field("Command", command, "split into arguments like a shell does for words and quotes, but run without a shell "
    + "(use sh -c '…' for pipes or variables); it sees only this lease's devices"),
  h("div", { class: "grid3" }, field("Name", name), field("Time limit (s)", limit),
    nodes.length > 1 ? field("Node", nodeSel) : null),
  h("div", { class: "actions" }, submit), status);
}

export async function list(ctx) {
  const items = await all("/v1/jobs", {}, 1000);
  if (items.some((j) => !FINAL.includes(j.state))) ctx.refreshMs = RUNNING_REFRESH_MS * 2;
  return h("section", {},
    h("div", { class: "page-head" }, h("h1", {}, "Jobs"),
      h("p", { class: "muted" }, ctx.me.role === "tenant"
        ? "Your jobs on every lease. Run a new one from an active lease's page."
        : "Every tenant's jobs.")),
    jobTable(items, { withLease: true, empty: "No jobs yet: open an active lease and run one there." }));
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
    const confirm = confirmRow({ testid: "cancel-confirm", status, errorTestid: "cancel-error", confirmLabel: "Cancel it now",
      run: async () => {
        const after = await post(`/v1/jobs/${encodeURIComponent(j.id)}/cancel`);
        ctx.flash(`Job ${j.id} is ${after.state}.`);
        ctx.go(`/jobs/${encodeURIComponent(j.id)}`);
      } });
    actions.append(h("button", { type: "button", class: "danger", onclick: () => confirm.open(
      `Cancel job ${j.id} (${showCommand(j.command)})? Its processes are stopped; the lease keeps running and billing.`) },
    "Cancel job"), confirm.row);
  }
  return h("section", {},
    h("div", { class: "page-head" }, h("h1", {}, `Job ${j.id}`), badge(j.state)),
    kv([
      ["State", badge(j.state)], ["Command", h("code", { class: "cmd" }, showCommand(j.command))],
      ["Name", j.name || "—"],
      ["Lease", h("a", { href: `#/leases/${encodeURIComponent(j.lease_id)}`, class: "mono" }, j.lease_id)],
      ["Node", j.node || "—"], ["Devices", `${j.devices}${j.device_indices ? ` (#${j.device_indices.join(", #")})` : ""}`],
      ["Submitted", when(j.submitted_at)], ["Started", when(j.started_at)], ["Finished", when(j.finished_at)],
      ["Exit code", j.exit_code === null ? "—" : String(j.exit_code)], ["Reason", j.reason || "—"],
      ["Device-hours used", j.device_seconds === null ? "—" : num(String(Number(j.device_seconds) / 3600), 4)],
      ["Engine", `${j.driver} · ${j.driver_job_id}`],
    ], "job-facts"),
    actions, status,
    h("h2", {}, running ? "Logs (so far)" : "Logs"),
    logs.logs ? h("pre", { class: "logs", testid: "job-logs" }, logs.logs)
      : h("p", { class: "muted empty", testid: "job-logs" }, running ? "No output yet." : "The job wrote no output."));
}
