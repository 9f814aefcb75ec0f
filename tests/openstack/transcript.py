"""A run of snapshot -> plan -> execute against the fake cloud, with one injected failure, timed.

Serves the example fake cloud on 127.0.0.1, then runs the real command line
against it, exactly as an operator would (only the target is set by this
script instead of an editor), and makes one live migration fail during the
execution so that it re-plans. Writes the transcript and the files of the run
to OUT_DIR and prints the transcript.

    python tests/openstack/transcript.py [--out OUT_DIR] [--planner auto] [--migration-seconds 0.5]
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fake_cloud import EXAMPLE_TARGET, FakeCloud, clouds_yaml, serve


def _run(command: list[str], cwd: Path, env: dict, lines: list[str]) -> float:
    """Run one command, add it and its output to the transcript; its wall time in seconds."""
    lines.append(f"$ {shlex.join(command)}")
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", *command], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)
    seconds = time.perf_counter() - started
    lines += [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    lines.append(f"[exit {done.returncode}, {seconds:.2f} s]")
    lines.append("")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="directory for the transcript and files (default: temp)")
    parser.add_argument("--planner", default="auto", help="planner for cpplan plan and the re-plan")
    parser.add_argument("--migration-seconds", type=float, default=0.5, help="duration of a fake migration")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="cpplan-openstack-"))
    out.mkdir(parents=True, exist_ok=True)

    cloud = FakeCloud.example(migration_seconds=args.migration_seconds)
    lines: list[str] = []
    with serve(cloud) as base:
        (out / "clouds.yaml").write_text(clouds_yaml(base))
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env.update(OS_CLIENT_CONFIG_FILE=str(out / "clouds.yaml"), PYTHONWARNINGS="ignore")
        lines += [f"# fake cloud on {base}: 5 compute hosts (c4 disabled, c5 down), 10 servers; "
                  f"a live migration takes {args.migration_seconds:g} s", ""]
        snapshot = ["cpplan", "openstack", "snapshot", "--os-cloud", "fake", "-o", "cloud.yaml"]
        timings = {"snapshot": _run(snapshot, out, env, lines)}

        target = "target: {" + ", ".join(f"{vm}: {host}" for vm, host in EXAMPLE_TARGET.items()) + "}"
        text = (out / "cloud.yaml").read_text()
        (out / "cloud.yaml").write_text(text.replace("target: {}", target))
        lines += ["# the operator sets the target in cloud.yaml (drain c4, swap db1 with app1+app2):",
                  f"#   {target}", ""]

        timings["plan"] = _run(["cpplan", "plan", "cloud.yaml", "--planner", args.planner, "--time-limit",
                                "30", "-o", "plan.json"], out, env, lines)
        timings["dry run"] = _run(["cpplan", "openstack", "execute", "cloud.yaml", "plan.json", "--os-cloud",
                                   "fake"], out, env, lines)
        cloud.fail_next = {"app1"}
        lines += ["# injected: the next live migration of app1 fails (the server stays on its source)", ""]
        poll = f"{max(0.05, args.migration_seconds / 5):g}"
        timings["execute"] = _run(["cpplan", "openstack", "execute", "cloud.yaml", "plan.json", "--os-cloud",
                                   "fake", "--yes", "--poll", poll, "--planner", args.planner, "-q"],
                                  out, env, lines)

        where = cloud.placement()
        reached = all(where[vm] == host for vm, host in EXAMPLE_TARGET.items())
        lines.append(f"# fake cloud: target reached: {reached}; migrations {len(cloud.migrations)} "
                     f"({sum(m.status == 'error' for m in cloud.migrations)} failed); arrivals refused for "
                     f"capacity: {len(cloud.overloads)}; hosts over capacity at any time: "
                     f"{cloud.over_capacity() or 'none'}")
        for name, host in cloud.hosts.items():
            cap = host.capacity()
            lines.append(f"#   {name} peak ram {cloud.peak[name]['MEMORY_MB']} / {cap['MEMORY_MB']:g} MiB")
        lines.append("# wall time: " + ", ".join(f"{k} {v:.2f} s" for k, v in timings.items()))

    transcript = "\n".join(lines) + "\n"
    (out / "transcript.txt").write_text(transcript)
    print(transcript, end="")
    print(f"(files in {out})", file=sys.stderr)
    return 0 if reached and not cloud.overloads else 1


if __name__ == "__main__":
    sys.exit(main())
