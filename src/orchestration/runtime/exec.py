"""`orchestration-exec MANIFEST TASK`: the program cron and systemd call for every firing.

It runs the task once (`runtime.run`), then, on systemd with `overlap='queue'`, the firings
systemd dropped while it ran, and exits with the first failing run's code, so cron's mail and
systemd's failed state still work.

Start-up cost is paid on every firing, so this imports only the standard library and the
runtime's own modules; jinja2 is loaded only for template parameters, and the tasks file (and
what it imports) only for a task's functions.
"""

from __future__ import annotations

import os
import sys

from .gate import GATED_TRIGGERS, wakes_for_nothing

USAGE = (
    "usage: orchestration-exec MANIFEST TASK [--trigger cron|systemd|kubernetes|manual] [--catch-up] [--gate]"
    " [--ignore-skips]"
)
TRIGGERS = ("cron", "systemd", "kubernetes", "manual", "catch-up")
EXIT_USAGE = 2


def main(argv: list[str] | None = None) -> int:
    """Entry point of orchestration-exec."""
    if argv is None:
        standard_descriptors()
    code = run_firing(sys.argv[1:] if argv is None else argv)
    if argv is None and "orchestration.runtime.usercode" not in sys.modules:
        # The program itself, and no code of the tasks file (whose atexit hooks must run):
        # everything is written and closed, so the interpreter's teardown is skipped; it costs
        # about a tenth of a firing.
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError, AttributeError):
                pass
        os._exit(code)
    return code


def standard_descriptors() -> None:
    """Descriptors 0, 1 and 2 open, on /dev/null where they were closed (`orchestration-exec M T
    >&-`): else the first file the run opens (its log, the journal) would take the number, and
    what is meant for stdout, or a script's output, would be written into it."""
    for descriptor in (0, 1, 2):
        try:
            os.fstat(descriptor)
        except OSError:
            opened = os.open(os.devnull, os.O_RDWR)
            if opened != descriptor:
                os.dup2(opened, descriptor)
                os.close(opened)


def run_firing(argv: list[str]) -> int:
    """One firing: the task's run, then any firing systemd queued while it ran; the exit code."""
    try:
        manifest_path, task_id, trigger, gated = arguments(argv)
        ignore_skips = "--ignore-skips" in argv
    except ValueError as error:
        print(f"orchestration-exec: {error}\n{USAGE}", file=sys.stderr)
        return EXIT_USAGE
    scheduled = None
    if trigger == "kubernetes":
        scheduled = job_scheduled_time(
            os.environ.get("ORCHESTRATION_JOB", ""), os.environ.get("ORCHESTRATION_CRONJOB", "")
        )
        trigger = "kubernetes" if scheduled is not None else "manual"  # a Job made by hand from the CronJob
    if gated and trigger in GATED_TRIGGERS and wakes_for_nothing(manifest_path, task_id, scheduled, trigger):
        return 0  # between the schedule's instants: no run, nothing recorded, nothing more loaded
    from .run import Run  # the run itself: the journal, the supervision of scripts
    from .supervise import Guard

    guard = Guard()
    guard.install()
    run = Run(
        os.path.abspath(manifest_path), task_id, trigger, guard, scheduled, gated=gated, ignore_skips=ignore_skips
    )
    code = run.run()
    queued = list(run.queued)
    while queued and guard.received is None:  # systemd dropped these firings while we ran
        run = Run(
            run.manifest_path, task_id, trigger, guard, scheduled=queued.pop(0), covered=queued[-1] if queued else None
        )
        later = run.run()
        code = code or later  # the first failure is the one systemd shows
        queued += run.queued
    return code


def job_scheduled_time(job: str, cron_job: str) -> float | None:
    """The time a Kubernetes CronJob scheduled its Job for: the controller names the Job after
    the CronJob and that time in minutes since 1970 (`NAME-29612345`). The pod reads the name
    from its `batch.kubernetes.io/job-name` label; the Job's scheduled-timestamp annotation does
    not reach the pod. None for a Job made otherwise (`kubectl create job --from=cronjob/...`)."""
    prefix = cron_job + "-"
    minutes = job[len(prefix) :] if cron_job and job.startswith(prefix) else ""
    return int(minutes) * 60.0 if minutes.isdigit() and len(minutes) <= 10 else None


def arguments(argv: list[str]) -> tuple[str, str, str, bool]:
    """MANIFEST, TASK, the trigger and whether the entry fires at a superset of the schedule's
    instants (`--gate`); ValueError saying what is wrong."""
    trigger = "systemd" if os.environ.get("INVOCATION_ID") else "cron"
    gated = False
    positional = []
    words = iter(argv)
    for word in words:
        if word == "--trigger":
            trigger = next(words, "")
            if trigger not in TRIGGERS:
                raise ValueError(f"--trigger must be one of {', '.join(TRIGGERS)}")
        elif word == "--catch-up":  # the @reboot entry of a task with catch_up=True
            trigger = "catch-up"
        elif word == "--gate":
            gated = True
        elif word == "--ignore-skips":  # `orchestration run --ignore-skips`
            continue
        else:
            positional.append(word)
    if len(positional) != 2:
        raise ValueError(f"expected MANIFEST and TASK, got {len(positional)} arguments")
    return positional[0], positional[1], trigger, gated


if __name__ == "__main__":
    sys.exit(main())
