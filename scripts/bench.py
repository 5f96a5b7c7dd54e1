#!/usr/bin/env python3
"""Measure what orchestration costs, against baselines measured in the same run.

    .venv/bin/python scripts/bench.py                # the full table (about three minutes)
    .venv/bin/python scripts/bench.py --json out.json
    .venv/bin/python scripts/bench.py --quick        # fewer runs and sizes, 10 s idle: a smoke test

1. Shim overhead: orchestration-exec running a no-op script, against the script run directly and
   `python -c pass` on the same interpreter; median and spread; peak memory of the shim.
2. What the shim imports for a task with static parameters and built-in conditions.
3. Compile and install time for growing numbers of tasks, crontab and systemd (the systemd figure
   without daemon-reload, which belongs to systemd).
4. Idle cost between firings: ours (no process at all) against a resident loop scheduler doing
   the same job (the original package's design: a Python loop checking croniter every second).
5. A burst of runs started at the same moment: total time, overhead p50/p95, records written.
6. Every command with 1,000 installed tasks and 50 recorded runs each (median wall time).
7. A reinstall with nothing changed against a fresh install.
8. A run in a namespace of 1 task against one of 1,000 tasks.
9. Tasks with a template or a function of the tasks file.
10. Retention: a run's closing transaction with 100, 1,000 or 10,000 runs kept.
11. Logs on disk: many small runs, bytes of log text against bytes taken on disk.
12. Notifications: the same no-op task with a webhook to a receiver on loopback (sent on every
    run), and with a healthchecks.io ping as well, against the plain run.

Figures, not pass/fail: the budgets are printed next to them. Run it in the test sandbox, which
gives it a crontab spool of its own (`scripts/sandbox.sh .venv/bin/python scripts/bench.py`, as
root); elsewhere it installs into your crontab, saved first and put back. Its state directory is
temporary.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HEAVY = ("click", "jinja2", "croniter", "crontab", "cron_descriptor", "dateutil")
BIN = Path(sys.executable).parent
EXEC = str(BIN / "orchestration-exec")


def main() -> None:
    options = _options()
    root = Path(tempfile.mkdtemp(prefix="orchestration-bench-"))
    os.environ["ORCHESTRATION_HOME"] = str(root / "state")
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # let the shim's bytecode be cached, as in use
    saved_crontab = _read_crontab()
    only = set(options.only.split(",")) if options.only else None
    try:
        results: dict = {"machine": _machine()}
        manifest = _static_task(root)
        results["shim"] = shim_overhead(manifest, root, options.runs)
        if not only or "imports" in only:
            results["imports"] = shim_imports(manifest)
        if not only or "install" in only:
            results["install"] = install_costs(root, options.sizes)
        if not only or "idle" in only:
            results["idle"] = idle_cost(options.idle)
        if not only or "burst" in only:
            results["burst"] = burst(root, options.burst, results["shim"])
        if not only or "commands" in only:
            results["commands"] = commands_at_scale(root, options.runs, options.scale, options.history)
        if not only or "namespace" in only:
            results["namespace"] = run_cost_by_namespace_size(root, options.runs, options.scale)
        if not only or "dynamic" in only:
            results["dynamic"] = dynamic_tasks(root, options.runs)
        if not only or "retention" in only:
            results["retention"] = retention_cost(root)
        if not only or "logs" in only:
            results["logs"] = log_storage(root, options.log_runs)
        if not only or "notify" in only:
            results["notify"] = notification_cost(root, options.runs)
    finally:
        _write_crontab(saved_crontab)
        shutil.rmtree(root, ignore_errors=True)
    _print(results)
    if options.json:
        Path(options.json).write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nwrote {options.json}")


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=40, help="runs per measurement (at least 30)")
    parser.add_argument("--sizes", default="10,100,1000,10000", help="task counts to install")
    parser.add_argument("--idle", type=float, default=60, help="seconds of idle measurement")
    parser.add_argument("--burst", type=int, default=200, help="runs started at the same moment")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--scale", type=int, default=1000, help="installed tasks for the commands' figures")
    parser.add_argument("--history", type=int, default=50, help="recorded runs per task for the commands")
    parser.add_argument("--log-runs", type=int, default=2000, help="runs for the logs-on-disk figure")
    parser.add_argument(
        "--only",
        metavar="SECTIONS",
        help="only these (the shim's is always measured): imports, install,"
        " idle, burst, commands, namespace, dynamic, retention, logs, notify; comma-separated",
    )
    parser.add_argument("--quick", action="store_true", help="a fast smoke run with smaller figures")
    options = parser.parse_args()
    options.sizes = [int(size) for size in options.sizes.split(",")]
    if options.quick:
        options.runs, options.sizes, options.idle, options.burst = 10, [10, 100], 10, 20
        options.scale, options.history, options.log_runs = 100, 10, 200
    return options


# --- 1. shim overhead ---------------------------------------------------------------------------


def _static_task(root: Path) -> Path:
    """A manifest with one task: a no-op bash script, static parameters, a built-in condition."""
    from orchestration.compile.environment import capture_environment
    from orchestration.installer.apply import compile_file
    from orchestration.installer.manifests import versioned_path, write

    project = root / "project"
    project.mkdir()
    (project / "noop.sh").write_text("#!/bin/bash\nexit 0\n")
    (project / "tasks.py").write_text(
        textwrap.dedent("""\
        from orchestration import Orchestrator, skips
        o = Orchestrator(name="bench", keep_runs=100000)
        task = o.add_task("0 1 * * *", "bash", name="noop", overlap="allow")
        task.add_script("noop.sh", {"mode": "fast", "count": 3})
        task.add_skip(skips.file_exists("/nonexistent/stop-file"))
        # In a zone of its own: on a crontab it wakes at a superset, and the gate sends it away.
        o.add_task("0 3 29 2 *", "bash", name="gated", timezone="America/New_York").add_script("noop.sh")
    """)
    )
    environment = capture_environment(root / "state")
    manifest = compile_file(project / "tasks.py", environment)[0].placed("crontab", "user")
    path = versioned_path(environment.state_dir, manifest)
    write(path, manifest)
    return path


def _timed(argv: list[str], runs: int) -> list[float]:
    """Wall seconds of each of `runs` runs (after two warm-ups)."""
    return _interleaved({"only": argv}, runs)["only"]


def _interleaved(
    commands: dict[str, list[str]], runs: int, codes: tuple[int, ...] = (0,), env: dict | None = None
) -> dict[str, list[float]]:
    """Wall seconds of each of `runs` rounds in which every command runs once, in turn (after two
    warm-up rounds): a shared machine's speed drifts, and taking the commands in turn keeps
    their ratios from following the drift."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for index in range(runs + 2):
        for name, argv in commands.items():
            began = time.perf_counter()
            code = subprocess.call(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
            elapsed = time.perf_counter() - began
            if code not in codes:
                raise SystemExit(f"{argv} exited {code}")
            if index >= 2:
                times[name].append(elapsed)
    return times


def _cpu_ms(argv: list[str], runs: int) -> float:
    """Median CPU time (user + system, with children) of `argv`."""
    used = []
    for _ in range(runs):
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, _, usage = os.wait4(process.pid, 0)
        used.append((usage.ru_utime + usage.ru_stime) * 1000)
    return statistics.median(used)


def _peak_rss_mib(argv: list[str]) -> float | None:
    """Peak resident memory of `argv`, measured by GNU time. (A process forked from this big
    one and then exec'd would report this one's size: Linux carries the high-water mark over.)"""
    if not os.path.exists("/usr/bin/time"):
        return None
    with tempfile.NamedTemporaryFile("r") as out:
        subprocess.call(
            ["/usr/bin/time", "-f", "%M", "-o", out.name, *argv], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        return int(out.read().split()[-1]) / 1024


def _summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "median_ms": statistics.median(ordered) * 1000,
        "p10_ms": ordered[len(ordered) // 10] * 1000,
        "p90_ms": ordered[len(ordered) * 9 // 10] * 1000,
    }


def _noop_script(root: Path) -> list[str]:
    """The no-op script run directly, with the parameters the shim passes it."""
    return ["/bin/bash", str(root / "project" / "noop.sh"), "fast", "3"]


def shim_overhead(manifest: Path, root: Path, runs: int) -> dict:
    noop = _noop_script(root)
    # What a gated wake-up cannot do without: the `re` that every console script's wrapper
    # imports, and the JSON of the manifest and the time zone its instants are read in.
    floors = ("import re", "import json, zoneinfo")
    times = _interleaved(
        {
            "python": [sys.executable, "-c", "pass"],
            "direct": noop,
            "shim": [EXEC, str(manifest), "noop"],
            "gated": [EXEC, str(manifest), "gated", "--gate"],
            **{code: [sys.executable, "-c", code] for code in floors},
        },
        runs,
    )
    python, direct, shim, gated = times["python"], times["direct"], times["shim"], times["gated"]
    direct_cpu = _cpu_ms(noop, runs)
    shim_cpu = _cpu_ms([EXEC, str(manifest), "noop"], runs)
    floor_ms = {code: (statistics.median(times[code]) - statistics.median(python)) * 1000 for code in floors}
    python_ms = statistics.median(python) * 1000
    direct_ms = statistics.median(direct) * 1000
    shim_stats = _summary(shim)
    gated_overhead = statistics.median(gated) * 1000 - python_ms
    overhead = shim_stats["median_ms"] - direct_ms
    return {
        "runs": runs,
        "python_c_pass": _summary(python),
        "script_direct": _summary(direct),
        "shim": shim_stats,
        "direct_median_ms": direct_ms,
        "direct_cpu_ms": direct_cpu,
        "shim_cpu_ms": shim_cpu,
        "cpu_overhead_ms": shim_cpu - direct_cpu,
        "overhead_ms": overhead,
        "overhead_vs_python_c_pass": overhead / python_ms,
        "gated_wakeup": _summary(gated),
        "gated_overhead_ms": gated_overhead,
        "gated_overhead_vs_python_c_pass": gated_overhead / python_ms,
        "gated_floor_ms": floor_ms,
        "shim_peak_rss_mib": max(_peak_rss_mib([EXEC, str(manifest), "noop"]) or 0 for _ in range(5)),
        "python_c_pass_peak_rss_mib": _peak_rss_mib([sys.executable, "-c", "pass"]),
    }


# --- 2. imports ----------------------------------------------------------------------------------


def shim_imports(manifest: Path) -> dict:
    # The console script itself, as cron runs it: its wrapper's imports count too.
    result = subprocess.run(
        [sys.executable, "-X", "importtime", EXEC, str(manifest), "noop"], capture_output=True, text=True
    )
    modules = [line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")]
    modules = [name for name in modules if name and name != "package"]
    ours = [name for name in modules if name.startswith("orchestration")]
    heavy = sorted({name.split(".")[0] for name in modules} & set(HEAVY))
    return {"modules": len(modules), "orchestration_modules": ours, "heavy_modules": heavy}


# --- 3. compile and install ---------------------------------------------------------------------------


def install_costs(root: Path, sizes: list[int]) -> list[dict]:
    from orchestration.compile.environment import Environment, capture_environment
    from orchestration.compile.plan import compile_loaded
    from orchestration.define.loader import load_tasks_file
    from orchestration.errors import ApplyError, SchedulerFullError
    from orchestration.installer import systemd
    from orchestration.installer.apply import install_manifests
    from orchestration.installer.systemctl import Systemctl

    class NoReload(Systemctl):
        """systemctl that does nothing: the figure is ours, without systemd's reload."""

        def run(self, *arguments: str) -> str:
            return ""

    rows = []
    for size in sizes:
        refused = None
        tasks = _many_tasks(root, size)
        os.environ["XDG_CONFIG_HOME"] = str(root / f"config-{size}")
        environment = capture_environment(root / "state")

        def compile_and_install(backend: str, tasks: Path = tasks, environment: Environment = environment) -> float:
            """A whole install as `orchestration install` does it: load, compile, install."""
            began = time.perf_counter()
            plans = compile_loaded(load_tasks_file(tasks), environment)
            install_manifests(plans, environment.state_dir, backend=backend)
            return time.perf_counter() - began

        began = time.perf_counter()
        plans = compile_loaded(load_tasks_file(tasks), environment)
        compiled = time.perf_counter() - began
        began = time.perf_counter()
        load_tasks_file(tasks)  # what every install does first, changed or not
        loaded = time.perf_counter() - began
        crontab_reinstall = None
        try:
            crontab_fresh = compile_and_install("crontab")
            crontab_reinstall = compile_and_install("crontab")
            crontab_seconds = crontab_fresh - compiled
        except (SchedulerFullError, ApplyError) as error:  # Debian's crontab takes at most 10,000 lines
            crontab_seconds, crontab_fresh, refused = None, None, str(error)
        subprocess.run([str(BIN / "orchestration"), "uninstall", "--name", f"many{size}"], capture_output=True)
        original = systemd.Systemctl
        systemd.Systemctl = NoReload
        try:
            systemd_fresh = compile_and_install("systemd")
            systemd_reinstall = compile_and_install("systemd")
        finally:
            systemd.Systemctl = original
        rows.append(
            {
                "tasks": size,
                "compile_s": compiled,
                "load_s": loaded,
                "crontab_install_s": crontab_seconds,
                "systemd_install_s": systemd_fresh - compiled,
                "crontab_refused": refused,
                "crontab_fresh_s": crontab_fresh,
                "crontab_reinstall_s": crontab_reinstall,
                "systemd_fresh_s": systemd_fresh,
                "systemd_reinstall_s": systemd_reinstall,
            }
        )
        del plans
    return rows


def _many_tasks(root: Path, size: int) -> Path:
    path = root / "project" / f"many{size}.py"
    path.write_text(
        textwrap.dedent(f"""\
        from orchestration import Orchestrator
        o = Orchestrator(name="many{size}")
        for n in range({size}):
            o.add_task(f"{{n % 60}} {{n // 60 % 24}} * * *", "bash", name=f"t{{n}}").add_script("noop.sh", {{"n": n}})
    """)
    )
    return path


# --- 4. idle --------------------------------------------------------------------------------------------

LOOP_SCHEDULER = """
import subprocess, time
from datetime import datetime
from croniter import croniter
tasks = [croniter(f"{n % 60} {n // 60 % 24} * * *", datetime.now()) for n in range(10)]
due = [t.get_next(datetime) for t in tasks]
while True:  # the original package's design: check every schedule, sleep `interval` (1 s)
    now = datetime.now()
    for index, when in enumerate(due):
        if when <= now:
            subprocess.run(["/bin/true"])
            due[index] = tasks[index].get_next(datetime)
    time.sleep(1)
"""


def idle_cost(seconds: float) -> dict:
    loop = subprocess.Popen([sys.executable, "-c", LOOP_SCHEDULER])
    ours_seen = 0
    deadline = time.monotonic() + seconds
    peak_kib = 0
    while time.monotonic() < deadline:
        ours_seen += len(_our_processes())
        peak_kib = max(peak_kib, _rss_kib(loop.pid))
        time.sleep(1)
    cpu = _cpu_seconds(loop.pid)
    loop.terminate()
    loop.wait()
    return {
        "seconds": seconds,
        "ours_processes_seen": ours_seen,
        "ours_cpu_s": 0.0,
        "ours_rss_mib": 0.0,
        "loop_cpu_s": cpu,
        "loop_rss_mib": peak_kib / 1024,
    }


def _our_processes() -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                command = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if b"orchestration-exec" in command:
                found.append(int(entry))
    return found


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- 5. burst -------------------------------------------------------------------------------------------


def burst(root: Path, count: int, single: dict) -> dict:
    """`count` shims started at once, against `count` bare interpreters started at once (on a
    machine with few cores both queue for the CPU; the difference is ours)."""
    from orchestration.runtime.journal import Journal

    manifest = next((root / "state" / "manifests").glob("bench.*.json"))
    before = {run.run_id for run in Journal(root / "state" / "journal.sqlite3").runs(namespace="bench")}
    baseline = _all_at_once([sys.executable, "-c", "pass"], count)
    shims = _all_at_once([EXEC, str(manifest), "noop"], count)
    runs = [
        run for run in Journal(root / "state" / "journal.sqlite3").runs(namespace="bench") if run.run_id not in before
    ]
    inside = sorted((run.finished_at - run.started_at) * 1000 for run in runs)
    return {
        "runs": count,
        "records_written": len(runs),
        "python_c_pass_total_s": baseline["total_s"],
        "total_s": shims["total_s"],
        "latency_p50_ms": shims["p50_ms"],
        "latency_p95_ms": shims["p95_ms"],
        "python_c_pass_latency_p95_ms": baseline["p95_ms"],
        "cpu_overhead_p50_ms": shims["cpu_p50_ms"] - single["direct_cpu_ms"],
        "cpu_overhead_p95_ms": shims["cpu_p95_ms"] - single["direct_cpu_ms"],
        "in_shim_p50_ms": _percentile(inside, 50),
        "in_shim_p95_ms": _percentile(inside, 95),
    }


def _all_at_once(argv: list[str], count: int) -> dict:
    """Start `count` processes as fast as possible; wall latency and CPU time of each."""
    started, latencies, cpu = {}, [], []
    began = time.perf_counter()
    for _ in range(count):
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started[process.pid] = (time.perf_counter(), process)  # kept, so subprocess does not reap it
    while started:
        pid, status, usage = os.wait4(-1, 0)
        if pid in started:
            at, process = started.pop(pid)
            process.returncode = os.waitstatus_to_exitcode(status)
            latencies.append((time.perf_counter() - at) * 1000)
            cpu.append((usage.ru_utime + usage.ru_stime) * 1000)
    latencies.sort()
    cpu.sort()
    return {
        "total_s": time.perf_counter() - began,
        "p50_ms": _percentile(latencies, 50),
        "p95_ms": _percentile(latencies, 95),
        "cpu_p50_ms": _percentile(cpu, 50),
        "cpu_p95_ms": _percentile(cpu, 95),
    }


def _percentile(ordered: list[float], percent: int) -> float:
    return ordered[min(len(ordered) - 1, max(0, round(len(ordered) * percent / 100) - 1))] if ordered else 0.0


# --- 6. commands at scale -------------------------------------------------------------------------------


def _scale_tasks(root: Path, name: str, size: int, keep_runs: int = 100) -> Path:
    path = root / "project" / f"{name}.py"
    path.write_text(
        textwrap.dedent(f"""\
        from orchestration import Orchestrator
        o = Orchestrator(name="{name}", keep_runs={keep_runs})
        for n in range({size}):
            o.add_task(f"{{n % 60}} {{n // 60 % 24}} * * *", "bash", name=f"t{{n}}", overlap="allow").add_script(
                "noop.sh", {{"n": n}}
            )
    """)
    )
    return path


def commands_at_scale(root: Path, runs: int, size: int, history: int) -> dict:
    """Each command, `size` installed tasks with `history` recorded runs each."""
    from orchestration.runtime.journal import Journal
    from orchestration.runtime.records import new_record

    program = str(BIN / "orchestration")
    state = root / "scale-state"  # this namespace alone
    env = {**os.environ, "ORCHESTRATION_HOME": str(state)}
    tasks = _scale_tasks(root, "scale", size)
    subprocess.run([program, "install", str(tasks), "--backend", "crontab"], check=True, capture_output=True, env=env)
    journal = Journal(state / "journal.sqlite3")
    now = time.time()
    records = []
    for n in range(size):
        for k in range(history):
            started = now - (history - k) * 3600
            record = new_record("scale", f"t{n}", "cron", started, started - started % 60)
            record.finished_at, record.status = started + 0.01, "failed" if k % 7 == 0 else "ok"
            record.exit_code = 1 if record.status == "failed" else 0
            records.append(record)
    journal.fold(records)
    journal.close()
    task = "scale/t5"
    commands = [
        ["--help"],
        ["list"],
        ["status"],
        ["status", "--check"],
        ["next", task],
        ["why", task],
        ["run", task],
        ["history"],
        ["history", task],
        ["logs", task],
        ["pause", task],
        ["resume", task],
        ["pause", "scale"],
        ["resume", "scale"],
        ["completion", "bash"],
    ]
    times = _interleaved(
        {"": [sys.executable, "-c", "pass"], **{" ".join(argv): [program, *argv] for argv in commands}},
        runs,
        codes=(0, 1),
        env=env,
    )
    medians = {name: statistics.median(taken) * 1000 for name, taken in times.items()}
    figures = {"python_c_pass_ms": medians.pop(""), "tasks": size, "runs": history, "commands": medians}
    subprocess.run([program, "uninstall", "--name", "scale"], capture_output=True, env=env)
    return figures


# --- 8. a run's cost by the size of its namespace ---------------------------------------------------------


def _installed_manifest(root: Path, tasks: Path) -> Path:
    from orchestration.compile.environment import capture_environment
    from orchestration.installer.apply import compile_file
    from orchestration.installer.manifests import versioned_path, write

    environment = capture_environment(root / "state")
    manifest = compile_file(tasks, environment)[0].placed("crontab", "user")
    path = versioned_path(environment.state_dir, manifest)
    write(path, manifest)
    return path


def run_cost_by_namespace_size(root: Path, runs: int, size: int) -> dict:
    small = _installed_manifest(root, _scale_tasks(root, "alone", 1, keep_runs=100000))
    large = _installed_manifest(root, _scale_tasks(root, "crowd", size, keep_runs=100000))
    times = _interleaved({"one": [EXEC, str(small), "t0"], "many": [EXEC, str(large), "t0"]}, runs)
    return {
        "tasks": size,
        "one_task_ms": statistics.median(times["one"]) * 1000,
        "many_tasks_ms": statistics.median(times["many"]) * 1000,
        "manifest_bytes": {"one_task": small.stat().st_size, "many_tasks": large.stat().st_size},
    }


# --- 9. templates and functions ----------------------------------------------------------------------------


def dynamic_tasks(root: Path, runs: int) -> dict:
    tasks = root / "project" / "dynamic.py"
    tasks.write_text(
        textwrap.dedent("""\
        from orchestration import Orchestrator, template
        o = Orchestrator(name="dynamic", keep_runs=100000)
        o.add_task("0 1 * * *", "bash", name="templated", overlap="allow").add_script(
            "noop.sh", {"day": template("{{ yesterday }}")}
        )
        o.add_task("0 1 * * *", "bash", name="function", overlap="allow").add_script("noop.sh", {"n": lambda: 1})
    """)
    )
    manifest = _installed_manifest(root, tasks)
    tasks_run = ("templated", "function")
    # What a run that calls a function of the tasks file cannot avoid: importing that file, whose
    # first line imports the definitions API.
    floor = "from orchestration import Orchestrator"
    times = _interleaved(
        {
            "python": [sys.executable, "-c", "pass"],
            "direct": _noop_script(root),
            floor: [sys.executable, "-c", floor],
            **{task: [EXEC, str(manifest), task] for task in tasks_run},
        },
        runs,
    )
    python_ms, direct_ms = statistics.median(times["python"]) * 1000, statistics.median(times["direct"]) * 1000
    figures = {}
    for task in tasks_run:
        median = statistics.median(times[task]) * 1000
        overhead = median - direct_ms
        figures[task] = {
            "median_ms": median,
            "overhead_ms": overhead,
            "overhead_vs_python_c_pass": overhead / python_ms,
        }
    figures["floor"] = {"code": floor, "beyond_python_ms": statistics.median(times[floor]) * 1000 - python_ms}
    figures["floor"]["vs_python_c_pass"] = figures["floor"]["beyond_python_ms"] / python_ms
    return figures


# --- 10. retention -----------------------------------------------------------------------------------------------


def retention_cost(root: Path) -> dict:
    """A run's closing transaction (its record and the pruning) with this many runs kept."""
    from orchestration.runtime.journal import Journal
    from orchestration.runtime.records import new_record

    figures = {}
    for kept in (100, 1000, 10000):
        journal = Journal(root / f"retention-{kept}.sqlite3")
        now = time.time()
        old = []
        for k in range(kept):
            record = new_record("keep", "t", "cron", now - (kept - k), now - (kept - k))
            record.finished_at, record.status = record.started_at + 0.01, "ok"
            old.append(record)
        journal.fold(old)
        times = []
        for _ in range(50):
            record = new_record("keep", "t", "cron", time.time(), time.time())
            journal.record_start(record)
            record.finished_at, record.status = time.time(), "ok"
            began = time.perf_counter()
            journal.record_finish(record, keep_runs=kept, keep_days=365)
            times.append(time.perf_counter() - began)
        journal.close()
        figures[str(kept)] = statistics.median(times) * 1000
    return figures


# --- 11. logs on disk -------------------------------------------------------------------------------------------


def log_storage(root: Path, count: int) -> dict:
    """`count` runs of a task that prints one short line: what its logs take on disk."""
    import signal as _signal

    from orchestration.runtime.run import Run
    from orchestration.runtime.supervise import Guard

    (root / "project" / "line.sh").write_text("#!/bin/bash\necho done\n")
    tasks = root / "project" / "logged.py"
    tasks.write_text(
        textwrap.dedent(f"""\
        from orchestration import Orchestrator
        o = Orchestrator(name="logged", keep_runs={count})
        o.add_task("0 1 * * *", "bash", name="line", overlap="allow").add_script("line.sh")
    """)
    )
    manifest = str(_installed_manifest(root, tasks))
    guard = Guard()
    guard.install()
    devnull = os.open(os.devnull, os.O_WRONLY)
    saved = os.dup(1)
    os.dup2(devnull, 1)
    try:
        for _ in range(count):
            Run(manifest, "line", "cron", guard).run()
    finally:
        os.dup2(saved, 1)
        os.close(devnull)
        for signum in (_signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP):
            _signal.signal(signum, _signal.SIG_DFL)
    folder = root / "state" / "logs" / "logged"
    files = [path for path in folder.rglob("*") if path.is_file()]
    text = sum(path.stat().st_size for path in files)
    disk = sum(path.stat().st_blocks * 512 for path in files)
    block = os.statvfs(folder).f_bsize
    return {
        "runs": count,
        "files": len(files),
        "text_bytes": text,
        "disk_bytes": disk,
        "one_file_per_run_bytes": count * block,
    }


# --- 12. notifications -----------------------------------------------------------------------------------


def notification_cost(root: Path, runs: int) -> dict:
    """The no-op task plain, with a webhook sent on every run, and with a ping too; the receiver
    is an HTTP server on 127.0.0.1 in this process."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from orchestration.compile.environment import capture_environment
    from orchestration.installer.apply import compile_file
    from orchestration.installer.manifests import versioned_path, write

    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST  # noqa: N815

        def log_message(self, *arguments: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    project = root / "project"
    (project / "notified.py").write_text(
        textwrap.dedent(f"""\
        from orchestration import Orchestrator, notify
        o = Orchestrator(name="benchnotify", keep_runs=100000)
        o.add_task("0 1 * * *", "bash", name="plain", overlap="allow").add_script("noop.sh")
        o.add_task("0 1 * * *", "bash", name="webhook", overlap="allow",
                   notify=notify.always(notify.webhook("{url}/hook"))).add_script("noop.sh")
        o.add_task("0 1 * * *", "bash", name="both", overlap="allow", ping="{url}/ping",
                   notify=notify.always(notify.webhook("{url}/hook"))).add_script("noop.sh")
    """)
    )
    environment = capture_environment(root / "state")
    manifest = compile_file(project / "notified.py", environment)[0].placed("crontab", "user")
    path = versioned_path(environment.state_dir, manifest)
    write(path, manifest)
    try:
        rounds = _interleaved({task: [EXEC, str(path), task] for task in ("plain", "webhook", "both")}, runs)
        times = {task: _summary(taken) for task, taken in rounds.items()}
    finally:
        server.shutdown()
    plain = times["plain"]["median_ms"]
    return {
        "runs": runs,
        **times,
        "webhook_added_ms": times["webhook"]["median_ms"] - plain,
        "webhook_and_ping_added_ms": times["both"]["median_ms"] - plain,
        "requests_received": len(received),
    }


# --- output ---------------------------------------------------------------------------------------------


def _machine() -> dict:
    return {
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "cpus": os.cpu_count(),
        "processor": platform.machine(),
    }


def _print(results: dict) -> None:
    _print_base(results)
    _print_scale(results)
    if "notify" in results:
        _print_notify(results["notify"])


def _print_scale(results: dict) -> None:
    if "commands" in results:
        row = results["commands"]
        print(
            f"\n6. Commands with {row['tasks']:,} installed tasks, {row['runs']} runs each (median ms;"
            f" python -c pass: {row['python_c_pass_ms']:.1f})   budget: < 100 ms each"
        )
        for command, median in row["commands"].items():
            print(f"   orchestration {command:30} {median:7.1f} ms")
        print("   (--help is what every command pays before its own work: the interpreter, click, the command group)")
    if "namespace" in results:
        row = results["namespace"]
        print(
            f"\n8. A run in a namespace of 1 task: {row['one_task_ms']:.1f} ms; of {row['tasks']:,} tasks:"
            f" {row['many_tasks_ms']:.1f} ms (manifests of {row['manifest_bytes']['one_task']:,} and"
            f" {row['manifest_bytes']['many_tasks']:,} bytes)"
        )
    if "dynamic" in results:
        print("\n9. Tasks with a template or a function (median; overhead = shim - script alone)")
        floor = results["dynamic"].get("floor")
        for task, row in results["dynamic"].items():
            if task == "floor":
                continue
            print(
                f"   {task:10} {row['median_ms']:6.1f} ms, overhead {row['overhead_ms']:.1f} ms ="
                f" {row['overhead_vs_python_c_pass']:.2f} x python -c pass   (budget: <= 3)"
            )
        if floor:
            print(
                f"   of which python -c '{floor['code']}' alone: {floor['beyond_python_ms']:.1f} ms ="
                f" {floor['vs_python_c_pass']:.2f} x (a function's run imports its tasks file, which starts so)"
            )
    if "retention" in results:
        shown = ", ".join(f"{int(kept):,} kept: {ms:.2f} ms" for kept, ms in results["retention"].items())
        print(f"\n10. A run's closing transaction (record + retention), median: {shown}")
    if "logs" in results:
        row = results["logs"]
        print(
            f"\n11. Logs of {row['runs']:,} one-line runs: {row['text_bytes']:,} bytes of text in"
            f" {row['files']} file(s), {row['disk_bytes']:,} bytes on disk (a file per run would take"
            f" {row['one_file_per_run_bytes']:,})"
        )


def _print_base(results: dict) -> None:
    machine, shim = results["machine"], results["shim"]
    print(
        f"Machine: Python {machine['python']}, {machine['system']}, {machine['cpus']} CPUs ({machine['processor']})\n"
    )
    print(f"1. Shim overhead ({shim['runs']} runs each; median [p10-p90])")
    for label, key in (
        ("python -c pass", "python_c_pass"),
        ("no-op script, direct", "script_direct"),
        ("orchestration-exec + script", "shim"),
    ):
        row = shim[key]
        print(f"   {label:30} {row['median_ms']:7.1f} ms  [{row['p10_ms']:.1f}-{row['p90_ms']:.1f}]")
    print(f"   CPU time: shim + script {shim['shim_cpu_ms']:.1f} ms, script alone {shim['direct_cpu_ms']:.1f} ms")
    row = shim["gated_wakeup"]
    print(f"   {'gated wake-up, no run':30} {row['median_ms']:7.1f} ms  [{row['p10_ms']:.1f}-{row['p90_ms']:.1f}]")
    print(
        f"   gated wake-up beyond python -c pass {shim['gated_overhead_ms']:.1f} ms"
        f" = {shim['gated_overhead_vs_python_c_pass']:.2f} x python -c pass   (budget: < 1)"
    )
    python_ms = shim["python_c_pass"]["median_ms"]
    for code, beyond in shim.get("gated_floor_ms", {}).items():
        print(f"     of which python -c '{code}' alone: {beyond:.1f} ms = {beyond / python_ms:.2f} x")
    print(
        f"   overhead (shim - direct)        {shim['overhead_ms']:7.1f} ms"
        f" = {shim['overhead_vs_python_c_pass']:.2f} x python -c pass   (budget: <= 3, aim 2)"
    )
    print(
        f"   shim peak memory               {shim['shim_peak_rss_mib']:7.1f} MiB"
        f" (python -c pass: {shim['python_c_pass_peak_rss_mib']:.1f})   (budget: <= 25)"
    )
    if "imports" in results:
        imports = results["imports"]
        print(f"\n2. Shim imports: {imports['modules']} modules; ours: {', '.join(imports['orchestration_modules'])}")
        print(
            f"   heavy modules imported: {', '.join(imports['heavy_modules']) or 'none'}   (none of {', '.join(HEAVY)})"
        )
    if "install" in results:
        print("\n3. Compile and install (seconds)")
        print(f"   {'tasks':>7} {'compile':>9} {'crontab':>9} {'systemd*':>9}   per task (crontab)")
        for row in results["install"]:
            crontab = row["crontab_install_s"]
            per_task = f"{crontab / row['tasks'] * 1000:.2f} ms" if crontab else "crontab refused: too many lines"
            print(
                f"   {row['tasks']:>7} {row['compile_s']:9.3f} {crontab if crontab else float('nan'):9.3f}"
                f" {row['systemd_install_s']:9.3f}   {per_task}"
            )
        print("   * without daemon-reload.   budget: 1,000 tasks into a crontab (compile + install) < 2 s")
        print(
            f"   {'tasks':>7} {'crontab: fresh':>15} {'reinstall':>10} {'ratio':>6}   {'systemd*: fresh':>16} {'reinstall':>10} {'ratio':>6}"
        )
        for row in results["install"]:
            fresh, again = row.get("crontab_fresh_s"), row.get("crontab_reinstall_s")
            crontab = (
                f"{fresh:15.3f} {again:10.3f} {again / fresh:6.2f}"
                if fresh and again
                else f"{'refused':>15} {'':>10} {'':>6}"
            )
            print(
                f"   {row['tasks']:>7} {crontab}   {row['systemd_fresh_s']:16.3f} {row['systemd_reinstall_s']:10.3f}"
                f" {row['systemd_reinstall_s'] / row['systemd_fresh_s']:6.2f}"
            )
        print("   (whole installs: load, compile, install; a reinstall with nothing changed.   budget: ratio < 0.2)")
        for row in results["install"]:
            if row.get("crontab_fresh_s") and "load_s" in row:
                print(
                    f"   {row['tasks']:>7} tasks: loading the tasks file alone {row['load_s']:.3f} s ="
                    f" {row['load_s'] / row['crontab_fresh_s']:.2f} of a fresh crontab install"
                )
    if "idle" in results:
        idle = results["idle"]
        print(f"\n4. Idle for {idle['seconds']:.0f} s between firings")
        print(
            f"   orchestration: {idle['ours_processes_seen']} processes seen, {idle['ours_cpu_s']:.2f} CPU s,"
            f" {idle['ours_rss_mib']:.1f} MiB"
        )
        print(f"   resident loop scheduler: {idle['loop_cpu_s']:.2f} CPU s, {idle['loop_rss_mib']:.1f} MiB")
    if "burst" in results:
        row = results["burst"]
        print(f"\n5. Burst: {row['runs']} runs started at the same moment; {row['records_written']} records written")
        print(
            f"   all done in {row['total_s']:.2f} s ({row['runs']} x python -c pass at once: {row['python_c_pass_total_s']:.2f} s)"
        )
        print(
            f"   CPU overhead per run: p50 {row['cpu_overhead_p50_ms']:.0f} ms, p95 {row['cpu_overhead_p95_ms']:.0f} ms"
            f" = {row['cpu_overhead_p95_ms'] / shim['cpu_overhead_ms']:.1f} x the single run's {shim['cpu_overhead_ms']:.0f} ms"
            "   (budget: p95 < 10 x)"
        )
        print(
            f"   time inside the shim (journal included): p50 {row['in_shim_p50_ms']:.0f} ms, p95 {row['in_shim_p95_ms']:.0f} ms"
        )
        print(
            f"   wall latency from start to exit: p50 {row['latency_p50_ms']:.0f} ms, p95 {row['latency_p95_ms']:.0f} ms"
            f" ({row['runs']} x python -c pass: p95 {row['python_c_pass_latency_p95_ms']:.0f} ms; with"
            f" {results['machine']['cpus']} CPUs every process queues)"
        )


def _print_notify(row: dict) -> None:
    print(f"\n12. Notifications ({row['runs']} runs each; median [p10-p90]; receiver on 127.0.0.1)")
    for label, key in (("plain run", "plain"), ("with a webhook", "webhook"), ("with a webhook and a ping", "both")):
        figures = row[key]
        print(f"   {label:30} {figures['median_ms']:7.1f} ms  [{figures['p10_ms']:.1f}-{figures['p90_ms']:.1f}]")
    print(
        f"   added per run: webhook {row['webhook_added_ms']:.1f} ms, webhook and ping"
        f" {row['webhook_and_ping_added_ms']:.1f} ms ({row['requests_received']} requests received)"
    )


def _read_crontab() -> str | None:
    result = subprocess.run(["crontab", "-l"], capture_output=True, text=True)
    return result.stdout if result.returncode == 0 else None


def _write_crontab(text: str | None) -> None:
    if text is None:
        subprocess.run(["crontab", "-r"], capture_output=True)
    else:
        subprocess.run(["crontab", "-"], input=text, text=True, check=True)


if __name__ == "__main__":
    main()
