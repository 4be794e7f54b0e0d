"""A stand-in ``nvidia-smi`` for tests on machines without a GPU: MIG state in a JSON file, the output
formats of :mod:`suanli.drivers.devices.mig` (NVIDIA MIG User Guide). It is **not** a GPU: it proves what
suanli runs and what a job receives, not that a MIG instance holds a process to its memory
(``scripts/gpu-slice-check`` does that on a real GPU).

:func:`install` writes an executable ``nvidia-smi`` into a directory (a shell wrapper running this module
with its state file). The state: ``{"gpus": [{"index", "name", "mig"}], "gis": [...], "cis": [...],
"fail": {"cgi": "<message>"}}``; ``fail`` makes that sub-command exit 1 printing the message.
"""

from __future__ import annotations

import contextlib
import io
import json
import shlex
import sys
import uuid
from pathlib import Path
from typing import Any

from suanli.domain.slicing import MIG_PROFILES

PROFILE_IDS = {"1g": {1: 19, 2: 15}, "2g": {2: 14}, "3g": {4: 9}, "4g": {4: 5}, "7g": {8: 0}}
"""NVIDIA's profile IDs on 80 GB parts (``nvidia-smi mig -lgip`` of an A100-SXM4-80GB): 1g.10gb 19, 1g.20gb 15,
2g.20gb 14, 3g.40gb 9, 4g.40gb 5, 7g.80gb 0."""


def install(directory: Path, *, gpus: int = 8, mig: bool = True, model: str = "A100-80GB",
            fail: dict[str, str] | None = None, gis: list[dict[str, int | str]] | None = None) -> Path:
    """An executable ``<directory>/nvidia-smi`` over a fresh state file; returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    state = directory / "nvidia-smi-state.json"
    state.write_text(json.dumps({"model": model, "gpus": [{"index": i, "name": f"NVIDIA {model}", "mig": mig}
                                                          for i in range(gpus)],
                                 "gis": [], "cis": [], "fail": fail or {}, "next": 1, "calls": []}))
    for g in gis or ():
        with contextlib.redirect_stdout(io.StringIO()):
            main(["mig", "-i", str(g["gpu"]), "-cgi", f"{g['profile']}:{g['start']}", "-C"], state)
    exe = directory / "nvidia-smi"
    exe.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -m suanli.testing.fake_nvidia_smi "
                   f"--state {shlex.quote(str(state))} \"$@\"\n")
    exe.chmod(0o755)
    return exe


def state_of(exe: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((exe.parent / "nvidia-smi-state.json").read_text())
    return data


def _profiles(model: str) -> dict[str, tuple[int, int, tuple[int, ...]]]:
    """name -> (profile id, span, starts)."""
    return {p.name: (PROFILE_IDS[p.name.split(".")[0]][p.span], p.span, p.starts) for p in MIG_PROFILES[model]}


def _uuid(gpu: int, gi: int, ci: int) -> str:
    return f"MIG-{uuid.uuid5(uuid.NAMESPACE_OID, f'fake/{gpu}/{gi}/{ci}')}"


def _arg(args: list[str], flag: str) -> str | None:
    return args[args.index(flag) + 1] if flag in args and args.index(flag) + 1 < len(args) else None


def main(argv: list[str], state_path: Path) -> int:
    st: dict[str, Any] = json.loads(state_path.read_text())
    st["calls"].append(argv)
    profiles = _profiles(st["model"])
    out: list[str] = []
    rc = 0

    def sub(name: str) -> bool:
        return f"-{name}" in argv

    failing = next((k for k in st["fail"] if sub(k) or (k == "query" and any(a.startswith("--query") for a in argv))), None)
    if failing is not None:
        print(st["fail"][failing])
        rc = 1
    elif argv and argv[0].startswith("--query-gpu="):
        for g in st["gpus"]:
            out.append(f"{g['index']}, {'Enabled' if g['mig'] else 'Disabled'}")
    elif argv == ["-L"]:
        for g in st["gpus"]:
            out.append(f"GPU {g['index']}: {g['name']} (UUID: GPU-{uuid.uuid5(uuid.NAMESPACE_OID, str(g['index']))})")
            for dev, ci in enumerate(c for c in sorted(st["cis"], key=lambda c: (c["gi"], c["ci"])) if c["gpu"] == g["index"]):
                name = next(x["profile"] for x in st["gis"] if x["gpu"] == ci["gpu"] and x["gi"] == ci["gi"])
                out.append(f"  MIG {name:<12} Device {dev:>2}: (UUID: {_uuid(ci['gpu'], ci['gi'], ci['ci'])})")
    elif not argv:
        out += ["+-----------------------------------------------------------------------------+",
                "| MIG devices:                                                                |",
                "+------------------+----------------------+-----------+-----------------------+",
                "| GPU  GI  CI  MIG |         Memory-Usage |        Vol|         Shared        |",
                "|      ID  ID  Dev |           BAR1-Usage | SM     Unc| CE  ENC  DEC  OFA  JPG|",
                "|==================+======================+===========+=======================|"]
        for g in st["gpus"]:
            for dev, ci in enumerate(c for c in sorted(st["cis"], key=lambda c: (c["gi"], c["ci"])) if c["gpu"] == g["index"]):
                out.append(f"|  {ci['gpu']:<3}{ci['gi']:>3}{ci['ci']:>4}{dev:>4}  |    13MiB /  9728MiB  | 14      0 "
                           "|  1   0    0    0    0 |")
        out += ["+-----------------------------------------------------------------------------+",
                "| Processes:                                                                  |"]
    elif argv[:1] == ["mig"]:
        gpu = int(_arg(argv, "-i") or 0)
        gpu_row = next((g for g in st["gpus"] if g["index"] == gpu), None)
        if gpu_row is None or not gpu_row["mig"]:
            print(f"Unable to run: GPU {gpu} is not in MIG mode (or does not exist)")
            rc = 6
        elif sub("lgip"):
            out.append("| GPU instance profiles:                                                      |")
            out.append("|=============================================================================|")
            for name, (pid, span, starts) in profiles.items():
                free = len(starts)
                out.append(f"|   {gpu}  MIG {name:<13} {pid:>3}     {free}/{free}        {span * 10}.00       No     14     0     0   |")
        elif sub("lgi"):
            rows = [x for x in st["gis"] if x["gpu"] == gpu]
            if not rows:
                print("No GPU instances found: Not Found")
                rc = 6
            out.append("| GPU   Name             Profile  Instance   Placement  |")
            out.append("|=======================================================|")
            for x in rows:
                out.append(f"|   {gpu}  MIG {x['profile']:<13} {x['profile_id']:>4}  {x['gi']:>8}  {x['start']:>8}:{x['size']}    |")
        elif sub("lci"):
            rows = [c for c in st["cis"] if c["gpu"] == gpu]
            if not rows:
                print("No compute instances found: Not Found")
                rc = 6
            out.append("|====================================================================|")
            for c in rows:
                name = next(x["profile"] for x in st["gis"] if x["gpu"] == gpu and x["gi"] == c["gi"])
                out.append(f"|   {gpu}  {c['gi']:>6}       MIG {name:<12} {0:>5}  {c['ci']:>8}  {0:>8}:{1}     |")
        elif sub("cgi"):
            spec = _arg(argv, "-cgi") or ""
            prof, _, start_s = spec.partition(":")
            byid = {str(v[0]): k for k, v in profiles.items()}
            name = byid.get(prof, prof)
            if name in profiles and not start_s:  # no placement given: the first free one, as nvidia-smi does
                used = {i for x in st["gis"] if x["gpu"] == gpu for i in range(x["start"], x["start"] + x["size"])}
                span_ = profiles[name][1]
                start_s = next((str(s0) for s0 in profiles[name][2] if not used & set(range(s0, s0 + span_))), "")
            if name not in profiles or not start_s.isdigit() or int(start_s) not in profiles[name][2]:
                print(f"Unable to create a GPU instance on GPU {gpu} using profile {prof}: Invalid Argument")
                rc = 2
            else:
                pid, span, _starts = profiles[name]
                start = int(start_s)
                taken = {s for x in st["gis"] if x["gpu"] == gpu for s in range(x["start"], x["start"] + x["size"])}
                if taken & set(range(start, start + span)):
                    print(f"Unable to create a GPU instance on GPU {gpu} using profile {pid}: Insufficient Resources")
                    rc = 2
                else:
                    gi = st["next"]
                    st["next"] += 1
                    st["gis"].append({"gpu": gpu, "gi": gi, "profile": name, "profile_id": pid, "start": start, "size": span})
                    out.append(f"Successfully created GPU instance ID {gi:>2} on GPU {gpu:>2} using profile MIG {name} (ID {pid:>2})")
                    if "-C" in argv:
                        st["cis"].append({"gpu": gpu, "gi": gi, "ci": 0})
                        out.append(f"Successfully created compute instance ID  0 on GPU {gpu:>2} GPU instance ID {gi:>2} "
                                   f"using profile MIG {name} (ID  0)")
        elif sub("dci"):
            gi, ci = int(_arg(argv, "-gi") or -1), int(_arg(argv, "-ci") or -1)
            before = len(st["cis"])
            st["cis"] = [c for c in st["cis"] if (c["gpu"], c["gi"], c["ci"]) != (gpu, gi, ci)]
            if len(st["cis"]) == before:
                print(f"Unable to destroy compute instance ID {ci} from GPU {gpu} GPU instance ID {gi}: Not Found")
                rc = 6
            else:
                out.append(f"Successfully destroyed compute instance ID {ci:>2} from GPU {gpu:>2} GPU instance ID {gi:>2}")
        elif sub("dgi"):
            gi = int(_arg(argv, "-gi") or -1)
            if any(c["gpu"] == gpu and c["gi"] == gi for c in st["cis"]):
                print(f"Unable to destroy GPU instance ID {gi} from GPU {gpu}: In use by another client")
                rc = 19
            elif not any(x["gpu"] == gpu and x["gi"] == gi for x in st["gis"]):
                print(f"Unable to destroy GPU instance ID {gi} from GPU {gpu}: Not Found")
                rc = 6
            else:
                st["gis"] = [x for x in st["gis"] if (x["gpu"], x["gi"]) != (gpu, gi)]
                out.append(f"Successfully destroyed GPU instance ID {gi:>2} from GPU {gpu:>2}")
        else:
            print(f"fake nvidia-smi: mig {argv[1:]} not supported")
            rc = 2
    else:
        print(f"fake nvidia-smi: {argv} not supported")
        rc = 2
    state_path.write_text(json.dumps(st))
    if out:
        print("\n".join(out))
    return rc


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] != ["--state"] or len(args) < 2:
        print("usage: fake_nvidia_smi --state FILE [nvidia-smi args]", file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(main(args[2:], Path(args[1])))


def declared_tools(directory: Path) -> dict[str, str]:
    """``Settings`` fields of a test platform whose operator declares ``mig,mps,vnpu`` with the stand-in tools
    installed in ``directory`` (not GPUs): MIG instances and vNPUs are made by them."""
    return {"slice_mechanisms": "mig,mps,vnpu", "nvidia_smi": str(install(directory)),
            "npu_smi": str(install_npu_smi(directory))}


def install_npu_smi(directory: Path) -> Path:
    """An executable ``<directory>/npu-smi`` answering the vNPU commands of :mod:`suanli.drivers.devices.vnpu`
    (``Status : OK``), logging each call to ``npu-smi-calls.txt``. Not an NPU."""
    directory.mkdir(parents=True, exist_ok=True)
    exe = directory / "npu-smi"
    calls = shlex.quote(str(directory / "npu-smi-calls.txt"))
    exe.write_text("#!/bin/sh\n"
                   f"echo \"$*\" >> {calls}\n"
                   "case \"$*\" in\n"
                   "  'set -t create-vnpu'*) echo '       Status                         : OK'; "
                   "echo '       Message                        : Create vnpu success' ;;\n"
                   "  'set -t destroy-vnpu'*) echo '       Status                         : OK'; "
                   "echo '       Message                        : Destroy vnpu success' ;;\n"
                   "  'info -t info-vnpu'*) echo '+-----------------------+'; echo '| NPU resource static info as follow: |' ;;\n"
                   "  *) echo \"fake npu-smi: $* not supported\"; exit 2 ;;\n"
                   "esac\n")
    exe.chmod(0o755)
    return exe
