"""The node agent's loop: join once, heartbeat, fetch and apply work, report, fence.

One :meth:`Agent.step` is one beat (the loop runs one every ``heartbeat_s`` the server states):

1. Not joined yet: ``POST /v1/agents/join`` with the join token; the node credential is saved in the
   state directory (0600) and used from then on (a restarted agent does not join again).
2. ``POST /heartbeat`` with this start's ``boot_id``, the median of the last 5 measured round trips
   and the devices' telemetry. The answer's ``work`` generation, when it differs from the last one
   applied (or every 10 beats, or after fencing), makes the agent ``GET /work`` and apply it to its
   embedded :class:`~suanli.drivers.local.LocalDriver` (the Trust-I sandbox): leases provisioned or
   released, new jobs started under the server's job id, ``cancel`` honoured.
3. ``POST /reports``: every job state, usage record and log tail the server has not acknowledged
   (see :mod:`suanli.agent.state`); acknowledged ones are marked in the state directory.

Every call is retried with :func:`suanli.drivers.retry.call_with_retry` (exponential back-off with
jitter) when it got no answer or a 5xx; a 4xx refusal is logged and not retried.

Fencing: :meth:`Agent.check_fence` (a watchdog thread runs it ten times per ``fence_s``) stops every
running job (SIGTERM, SIGKILL after the kill grace) as ``failed`` with "fenced: cut off from the
server for N s" and releases every lease locally once the last successful call is older than
``fence_s``; it keeps doing so until a call succeeds, then the agent fetches its work again.
"""

from __future__ import annotations

import logging
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from suanli.agent.clock import ServerClock
from suanli.agent.keeper import write_fence
from suanli.agent.state import AgentState, StateDir
from suanli.client.agent_link import AgentLink, is_retryable
from suanli.client.errors import ApiError, ClientError
from suanli.domain.clock import Clock, SystemClock, utc
from suanli.drivers.base import JobSpec, JobState, JobStatus, LeaseGrant, same_grant
from suanli.drivers.devices import DeviceBackend, select
from suanli.drivers.local import LocalDriver
from suanli.drivers.retry import RetryPolicy, call_with_retry
from suanli.drivers.sandbox import Sandbox
from suanli.drivers.telemetry import DeviceSample
from suanli.errors import SuanliError

log = logging.getLogger("suanli.agent")
T = TypeVar("T")

LOG_TAIL = 64 * 1024
"""Each log tail sent in a report is at most 64 KiB."""
FULL_FETCH_EVERY = 10
"""The agent fetches its work list every this many beats even when the generation did not change."""
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class AgentError(SuanliError):
    """The agent cannot go on (e.g. its join was refused): the message says what to do."""


@dataclass(frozen=True)
class AgentConfig:
    server: str
    node: str
    state_dir: Path
    join_token: str | None = None
    backend: str = "auto"
    devices: int | None = None
    sandbox: str = "on"
    sandbox_network: str = "none"
    sandbox_ro_paths: tuple[Path, ...] = ()
    kill_grace_s: float = 5.0
    version: str = "0"
    slice_mechanisms: str = "auto"
    """``auto``: probe this node (docs/slices.md); a comma list: the operator's declaration for it."""
    nvidia_smi: str | None = None
    npu_smi: str | None = None


def _iso(t: datetime | None) -> str | None:
    return None if t is None else utc(t).isoformat()


def _dec(v: object) -> str | None:
    return None if v is None else str(v)


def telemetry_wire(s: DeviceSample) -> dict[str, Any]:
    """One device's sample on the wire: decimals as strings, temperature in whole degrees."""
    return {"index": s.index, "name": s.name or "", "uuid": s.uuid or "", "utilisation_pct": s.utilisation_pct,
            "memory_used_mib": s.memory_used_mib, "memory_total_mib": s.memory_total_mib,
            "power_w": _dec(s.power_w),
            "temperature_c": None if s.temperature_c is None else int(s.temperature_c.to_integral_value()),
            "errors": s.errors, "energy_kwh": _dec(s.energy_kwh), "at": _iso(s.at)}


def job_wire(st: JobStatus) -> dict[str, Any]:
    return {"job_id": st.job_id, "state": st.state.value, "start": _iso(st.start), "end": _iso(st.end),
            "exit_code": st.exit_code, "reason": st.reason or "", "device_indices": list(st.device_indices)}


def fit(text: str, limit: int = LOG_TAIL) -> str:
    """The end of ``text`` that fits in ``limit`` bytes of UTF-8."""
    data = text.encode("utf-8")
    return text if len(data) <= limit else data[-limit:].decode("utf-8", errors="ignore")


def spec_of(raw: dict[str, Any], node: str) -> JobSpec:
    limit = raw.get("time_limit_s")
    return JobSpec(command=tuple(raw["command"]), env=dict(raw.get("env") or {}), devices=raw.get("devices"),
                   node=node, cpus=int(raw.get("cpus") or 1), memory_mib=raw.get("memory_mib"),
                   time_limit=None if limit is None else timedelta(seconds=float(limit)), name=raw.get("name"))


class Agent:
    """One node's agent. Build it with :meth:`from_config`; drive it with :meth:`run` or :meth:`step`."""

    def __init__(self, *, node: str, state_dir: StateDir, state: AgentState, link: AgentLink,
                 backend: DeviceBackend, driver: LocalDriver, join_token: str | None = None,
                 version: str = "0", clock: Clock | None = None,
                 monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] | None = None) -> None:
        self.node = node
        self.dir = state_dir
        self.state = state
        self.link = link
        self.link.credential = state.credential
        self.link.pace(state.heartbeat_s)
        self.backend = backend
        self.driver = driver
        self.join_token = join_token
        self.version = version
        self.boot_id = str(uuid.uuid4())
        self.clock: Clock = clock or SystemClock()
        self._monotonic = monotonic
        self._stop = threading.Event()
        self._sleep = sleep or self._pause
        self._lock = threading.RLock()
        self.rtts: deque[float] = deque(maxlen=5)
        self.last_ok = monotonic()
        """Monotonic time of the last call the server answered (start: the agent's own start)."""
        self.fenced = False
        self.generation: int | None = None
        self.beats = 0
        self.server_state: str | None = None
        self.deferred = False
        """A job of the work list waits for its lease's start on this clock: fetch again next beat."""

    @classmethod
    def from_config(cls, cfg: AgentConfig, *, http: Any = None, clock: Clock | None = None,
                    monotonic: Callable[[], float] = time.monotonic,
                    sleep: Callable[[float], None] | None = None) -> Agent:
        sd = StateDir(cfg.state_dir)
        state = sd.load(node=cfg.node, server=cfg.server)
        if state.credential is None and not cfg.join_token:
            raise AgentError(f"node {cfg.node} has not joined yet and no join token was given; ask the operator "
                             f"for one (suanli agent token create {cfg.node}) and pass --join-token")
        backend = select(cfg.backend, node=cfg.node, devices=cfg.devices)
        count = len(backend.devices())
        sandbox = Sandbox(cfg.sandbox, network=cfg.sandbox_network, ro_paths=cfg.sandbox_ro_paths)
        clock = clock or ServerClock()
        driver = LocalDriver(sd.engine_dir, nodes={cfg.node: count}, clock=clock, sandbox=sandbox,
                             grace=timedelta(seconds=cfg.kill_grace_s), slice_mechanisms=cfg.slice_mechanisms,
                             nvidia_smi=cfg.nvidia_smi, npu_smi=cfg.npu_smi)
        link = AgentLink(cfg.server, http=http, monotonic=monotonic)
        return cls(node=cfg.node, state_dir=sd, state=state, link=link, backend=backend, driver=driver,
                   join_token=cfg.join_token, version=cfg.version, clock=clock, monotonic=monotonic, sleep=sleep)

    # ------------------------------------------------------------------ calls

    def _pause(self, seconds: float) -> None:
        self._stop.wait(seconds)  # a stop ends the back-off at once

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        hb = max(self.state.heartbeat_s, 0.05)
        policy = RetryPolicy(base=timedelta(seconds=hb / 4), cap=timedelta(seconds=hb), max_attempts=3)
        result = call_with_retry(fn, policy=policy, sleep=self._sleep, key=f"{self.node}:{what}",
                                 retry_if=is_retryable)
        with self._lock:
            self.last_ok = self._monotonic()
        self.beacon()
        if self.link.last_rtt_ms is not None:
            self.rtts.append(self.link.last_rtt_ms)
        return result

    def beacon(self) -> None:
        """Tell the fence keeper (:mod:`suanli.agent.keeper`) this agent's pid and last successful call."""
        try:
            write_fence(self.dir.root, pid=os.getpid(), last_ok=self.last_ok, fence_s=self.state.fence_s,
                        kill_grace_s=self.driver.grace.total_seconds())
        except OSError as exc:
            log.warning("cannot write the fence keeper's file: %s", exc)

    def rtt_ms(self) -> str | None:
        """Median of the last 5 measured round trips, in ms (one decimal), or ``None`` before any."""
        return None if not self.rtts else f"{statistics.median(self.rtts):.1f}"

    # ------------------------------------------------------------------ the beat

    def join(self) -> None:
        if self.state.credential is not None:
            return
        body = {"token": self.join_token, "node": self.node, "agent_id": self.state.agent_id,
                "boot_id": self.boot_id, "version": self.version, "backend": self.backend.name,
                "slice_mechanisms": self.slice_mechanisms(),
                "devices": [d.to_dict() for d in self.backend.devices()]}
        try:
            reply = self._call("join", lambda: self.link.join(body))
        except ApiError as exc:
            if is_retryable(exc):
                raise
            raise AgentError(f"the server refused node {self.node}'s join: {exc.message}") from exc
        self.state.credential = reply["credential"]
        self._timings(reply)
        self.server_state = reply.get("state")
        self.dir.save(self.state)
        self.link.credential = self.state.credential
        log.info("node %s joined %s (state %s)", self.node, self.link.server, self.server_state)

    def _timings(self, reply: dict[str, Any]) -> None:
        if isinstance(self.clock, ServerClock) and isinstance(reply.get("server_time"), str):
            try:
                self.clock.observe(datetime.fromisoformat(reply["server_time"]), self.link.last_rtt_ms)
            except ValueError:
                log.warning("server_time %r is not an instant", reply["server_time"])
        for key in ("heartbeat_s", "fence_s"):
            if reply.get(key) is not None:
                setattr(self.state, key, float(reply[key]))
        self.link.pace(self.state.heartbeat_s)

    def telemetry(self) -> list[dict[str, Any]]:
        try:
            return [telemetry_wire(s) for s in self.backend.read()]
        except Exception as exc:  # a vendor tool that failed this time: no figures, never made-up ones
            log.warning("device backend %s: %s", self.backend.name, exc)
            return []

    def slice_mechanisms(self) -> list[str]:
        """What this node's engine holds slices with (probed at start, or the operator's declaration)."""
        return sorted(m.value for m in self.driver.capabilities().slice_mechanisms)

    def step(self) -> None:
        """One beat. Errors of the server or the network are logged and left to the next beat."""
        try:
            self.join()
            body = {"boot_id": self.boot_id, "sent_at": _iso(self.clock.now()), "rtt_ms": self.rtt_ms(),
                    "devices": self.telemetry(), "slice_mechanisms": self.slice_mechanisms()}
            reply = self._call("heartbeat", lambda: self.link.heartbeat(self.node, body))
            self.beats += 1
            self._timings(reply)
            self.server_state = reply.get("state")
            refetch = self.fenced
            with self._lock:
                self.fenced = False
            if (refetch or self.deferred or reply.get("work") != self.generation
                    or self.beats % FULL_FETCH_EVERY == 0):
                work = self._call("work", lambda: self.link.work(self.node))
                self.apply(work)
                self.generation = work.get("generation")
            self.report()
        except AgentError:
            raise
        except ClientError as exc:
            log.warning("node %s: %s", self.node, exc)
        finally:
            self.dir.save(self.state)

    # ------------------------------------------------------------------ work

    def apply(self, work: dict[str, Any]) -> None:
        with self._lock:
            if self.fenced:
                return
            want = {w["lease_id"]: LeaseGrant.from_dict(w["grant"]) for w in work.get("leases", [])}
            have = {g.lease_id: g for g in self.driver.leases()}
            for lease_id in sorted(set(have) - set(want)):
                self.driver.release(lease_id)
            for lease_id, grant in sorted(want.items()):
                old = have.get(lease_id)
                if old is not None and not same_grant(old, grant):
                    if any(not j.state.terminal for j in self.driver.jobs(lease_id)):
                        log.warning("lease %s changed while jobs run on it; the running jobs keep the old grant",
                                    lease_id)
                        continue
                    self.driver.release(lease_id)
                try:
                    self.driver.provision(grant)
                except SuanliError as exc:
                    log.warning("lease %s: %s", lease_id, exc)
            known = {j.job_id: j for j in self.driver.jobs()}
            self.deferred = False
            now = self.clock.now()
            for job in work.get("jobs", []):
                job_id = job["job_id"]
                if job.get("cancel"):
                    if job_id in known:
                        self.driver.cancel(job_id)
                    elif job_id not in self.state.extra:
                        self._made_up(job_id, JobState.CANCELLED, "cancelled before it started")
                    continue
                if job_id in known or job_id in self.state.extra:
                    continue
                lease = want.get(job.get("lease_id", ""))
                if lease is not None and lease.start > now:
                    # the server let it start, so its lease has begun there: this clock is still behind
                    # (by what the offset could not measure): start it on a later beat, do not fail it
                    self.deferred = True
                    continue
                try:
                    self.driver.submit(job["lease_id"], spec_of(job["spec"], self.node), job_id=job_id)
                except (SuanliError, KeyError, TypeError, ValueError) as exc:
                    self._made_up(job_id, JobState.FAILED, f"the agent could not start it: {exc}")

    def _made_up(self, job_id: str, state: JobState, reason: str) -> None:
        now = _iso(self.clock.now())
        self.state.extra[job_id] = {"job_id": job_id, "state": state.value, "start": None, "end": now,
                                    "exit_code": None, "reason": reason, "device_indices": []}
        self.dir.save(self.state)

    # ------------------------------------------------------------------ reports

    def pending_report(self, *, with_running_logs: bool = False) -> dict[str, Any]:
        """What the server has not acknowledged yet (empty lists: nothing)."""
        st = self.state
        jobs, logs = [], []
        for status in self.driver.jobs():
            if status.job_id in st.refused:
                continue
            changed = st.acked.get(status.job_id) != status.state.value
            if changed:
                jobs.append(job_wire(status))
            if changed or (with_running_logs and not status.state.terminal):
                out, err = self.driver.log_tails(status.job_id, LOG_TAIL)
                logs.append({"job_id": status.job_id, "stdout": fit(out), "stderr": fit(err)})
        for job_id, rep in sorted(st.extra.items()):
            if job_id not in st.refused and st.acked.get(job_id) != rep["state"]:
                jobs.append(rep)
        usage = [{"job_id": u.job_id, "lease_id": u.lease_id, "device_indices": list(u.device_indices),
                  "devices": u.devices, "start": _iso(u.start), "end": _iso(u.end), "state": u.state.value,
                  "exit_code": u.exit_code, "device_seconds": str(u.device_seconds)}
                 for u in self.driver.usage(EPOCH) if u.job_id not in st.usage_acked and u.job_id not in st.refused]
        return {"jobs": jobs, "usage": usage, "logs": logs}

    def report(self) -> None:
        body = self.pending_report(with_running_logs=self.beats % FULL_FETCH_EVERY == 0)
        if not (body["jobs"] or body["usage"] or body["logs"]):
            return
        try:
            self._call("report", lambda: self.link.report(self.node, body))
        except ApiError as exc:
            # a refusal naming one job (not held by this node: 404; a record that cannot be true: 422)
            # would refuse every later report too: that job is set aside (logged) and the rest go next beat
            job_id = exc.details.get("job", exc.details.get("job_id"))
            if exc.status in (404, 422) and isinstance(job_id, str):
                log.warning("the server refused the report of job %s of node %s: not reported again (%s)",
                            job_id, self.node, exc.message)
                self.state.refused[job_id] = exc.message
            raise
        for j in body["jobs"]:
            self.state.acked[j["job_id"]] = j["state"]
        self.state.usage_acked |= {u["job_id"] for u in body["usage"]}

    # ------------------------------------------------------------------ fencing

    def check_fence(self) -> bool:
        """Fence when the last successful call is older than ``fence_s``; ``True`` when fenced now."""
        with self._lock:
            age = self._monotonic() - self.last_ok
            if age <= self.state.fence_s:
                return False
            reason = f"fenced: cut off from the server for {int(age)} s"
            running = [j.job_id for j in self.driver.jobs() if not j.state.terminal]
            if running or not self.fenced:
                log.warning("node %s: %s; stopping %d job(s) and releasing its leases", self.node, reason,
                            len(running))
            self.driver.stop(running, JobState.FAILED, reason)
            for g in self.driver.leases():
                self.driver.release(g.lease_id)
            self.fenced = True
            return True

    # ------------------------------------------------------------------ running

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        """Beat until :meth:`stop`; a watchdog thread fences when the server is out of reach."""
        def watchdog() -> None:
            while not self._stop.wait(max(self.state.fence_s / 10, 0.02)):
                try:
                    self.check_fence()
                except Exception:  # keep watching whatever happens
                    log.exception("fencing check failed")

        threading.Thread(target=watchdog, name="suanli-agent-fence", daemon=True).start()
        while not self._stop.is_set():
            started = self._monotonic()
            try:
                self.step()
            except AgentError:
                self._stop.set()
                raise
            except (SuanliError, OSError) as exc:
                log.warning("node %s: %s", self.node, exc)
            except Exception:  # e.g. an answer of an unexpected shape: this beat is lost, the agent is not
                log.exception("node %s: beat failed", self.node)
            self._stop.wait(max(self.state.heartbeat_s - (self._monotonic() - started), 0.0))


def start_keeper(cfg: AgentConfig) -> subprocess.Popen[bytes]:
    """The fence keeper of this agent, in its own session: it outlives a killed agent (see its module)."""
    return subprocess.Popen(
        [sys.executable, "-m", "suanli.agent.keeper", str(cfg.state_dir), str(os.getpid()), cfg.sandbox,
         cfg.sandbox_network], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True)


def run(cfg: AgentConfig) -> None:
    """Run the agent of ``cfg`` until interrupted (``suanli agent run``), with its fence keeper."""
    agent = Agent.from_config(cfg)
    agent.beacon()
    start_keeper(cfg)
    try:
        agent.run()
    except KeyboardInterrupt:
        agent.stop()
    finally:
        agent.link.close()


__all__ = ["Agent", "AgentConfig", "AgentError", "run"]
