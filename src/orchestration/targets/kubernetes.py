"""The kubernetes target: a CronJob per task, a ConfigMap per namespace holding the manifest, and
a Secret holding the values of its secret parameters, as YAML for `kubectl apply`.

`render(manifest, path)` is pure and returns file name -> text; putting the objects on a cluster
is the installer's (`installer.kubernetes`). Every pod runs the image's `orchestration-exec` on
the manifest as the pod sees it (`in_pod`): the tasks file's folder at /app, the state folder on
the pod's own volume, the ConfigMap's manifest mounted into it. The manifest in the ConfigMap is
masked; the shim puts the Secret's values back at start (`ORCHESTRATION_SECRETS`).

Schedules mean what they mean on a host. Kubernetes reads `spec.schedule` with robfig/cron
(v3, `ParseStandard`) in `spec.timeZone`; `schedule_for` writes fields it reads exactly as our
rule does, and where it cannot (both day fields restricted with the AND of a `*/n` day field,
L, W or #, a fixed time in a clock change) a superset, with the shim's gate (`--gate`) running
only the rule's instants. A cluster has no machine zone: a task without a zone of its own reads
its schedule in UTC.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shlex
from typing import Any

from ..compile.manifest import Manifest, Step, TaskManifest
from ..errors import DefinitionError, UsageError
from ..rules.firing import Fields
from .clock import EVERY_DAY, EVERY_WEEKDAY, local_changes, skipped_time_ends

NAME = "kubernetes"
CLUSTER_ZONE = "Etc/UTC"  # the zone of a task without one: a cluster has no machine zone
STATE_DIR = "/var/lib/orchestration"  # the pod's state folder: its journal and logs
PROJECT_DIR = "/app"  # where the image holds the tasks file's folder
PYTHON = "/usr/local/bin/python3"  # the image's interpreter for python scripts
EXEC = "orchestration-exec"  # found on the image's PATH
CLI = "orchestration"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HOME = "/home/orchestration"
USER_ID = 10001  # the user pods run as (the example Dockerfile makes it)
MANAGED_BY = "app.kubernetes.io/managed-by"
NAMESPACE_LABEL = "orchestration/namespace"
TASK_LABEL = "orchestration/task"
DIGEST = "orchestration/rendered-sha256"  # what we applied, to tell it again (installer)
CRONJOB_NAME_LIMIT = 52  # Kubernetes: a Job's name is the CronJob's plus 11 characters
NAME_LIMIT = 63
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
# A firing Kubernetes could not start within this many seconds of its time is dropped, as cron
# drops a minute it did not see; with catch_up=True the newest missed firing starts when it can.
STARTING_DEADLINE_SECONDS = 60
# A run's own time limits are the shim's; the pod's deadline is only their backstop.
BACKSTOP_SECONDS = 120
KILL_GRACE_SECONDS = 5


def render(manifest: Manifest, manifest_path: str) -> dict[str, str]:
    """The namespace's objects, by file name: its ConfigMap, its Secret (when it has secret
    values) and a CronJob per task. `manifest_path` is the manifest on the installing machine;
    pods read theirs at `pod_manifest_path`."""
    if not manifest.image:
        raise UsageError(
            "the kubernetes target needs the container image its pods run;"
            " give it with --image IMAGE (see examples/kubernetes/Dockerfile)"
        )
    for task_id, task in manifest.tasks.items():
        refuse_inexact(task, task_id)
    pod = in_pod(manifest)
    secrets = pod.secrets()
    config_map = _config_map(pod)
    files = {_file_name(config_map): _document(manifest, config_map)}
    if secrets:
        secret = _secret(pod, secrets)
        files[_file_name(secret)] = _document(manifest, secret)
    for task_id in manifest.tasks:
        cron_job = _cron_job(pod, task_id, bool(secrets))
        files[_file_name(cron_job)] = _document(manifest, cron_job)
    return files


def placed(manifest: Manifest) -> Manifest:
    """The manifest as a cluster runs it: a cluster has no machine zone, so schedules without a
    zone of their own read UTC, written into them (previews, the gate and the pods agree)."""
    tasks = {
        task_id: task if task.zone else task.replace(timings=tuple(t.replace(zone=CLUSTER_ZONE) for t in task.timings))
        for task_id, task in manifest.tasks.items()
    }
    return manifest.replace(machine_zone=CLUSTER_ZONE, tasks=tasks)


def refuse_inexact(task: TaskManifest, task_id: str) -> None:
    """What a CronJob cannot do with our meaning: a DefinitionError saying why, and the fix."""
    label = f"task '{task_id}'"
    if len(task.timings) > 1:
        raise DefinitionError(
            f"a CronJob has one schedule, and this task has {len(task.timings)} ({task.expression});"
            " on Kubernetes define a task per schedule",
            task=label,
            field="cron_expression",
        )
    if task.reboot:
        raise DefinitionError(
            "@reboot has no meaning on Kubernetes: a cluster does not boot, and a CronJob fires"
            " only on a calendar; give it a calendar schedule, or keep it on a host's crontab",
            task=label,
            field="cron_expression",
        )
    if task.policy.overlap == "queue":
        raise DefinitionError(
            "overlap='queue' has no exact form on Kubernetes: with concurrencyPolicy Forbid a"
            " CronJob starts only the newest of the firings that came while a run was going, and"
            " Replace stops the running one; use overlap='skip' (Forbid) or overlap='allow' (Allow)",
            task=label,
            field="overlap",
        )


# --- the schedule --------------------------------------------------------------------------------


def schedule_for(fields: Fields, zone: str) -> tuple[str, bool]:
    """The `spec.schedule` robfig/cron reads in `zone`, and whether the shim's gate must pick
    the rule's instants from its firings (it fires at a superset)."""
    minutes, hours, gated = set(fields.minutes), set(fields.hours), False
    changes = local_changes(zone)
    if changes and not fields.wildcard:
        # robfig skips a time the clock skips and runs a repeated time twice; the rule runs a
        # fixed time right after the jump, and once.
        times = {hour * 60 + minute for hour in hours for minute in minutes}
        if any((time - start) % 1440 < abs(moved) for time in times for start, moved in changes):
            gated = True
            for end in skipped_time_ends(zone, times):
                minutes.add(end % 60)
                hours.add(end // 60)
    days, weekdays = fields.days, fields.weekdays
    full_days, full_weekdays = days == EVERY_DAY, weekdays == EVERY_WEEKDAY
    if fields.extended:
        # robfig reads no L, W or #: every day of the months, and the gate picks the days.
        day_text, weekday_text, gated = "*", "*", True
    elif fields.days_or:
        # Both restricted, either matches: robfig's OR, when neither field holds a star.
        day_text, weekday_text = _list(days), _list(weekdays)
    elif full_days or full_weekdays:
        # AND with a full field is the other field alone: a star keeps robfig on AND.
        day_text = "*" if full_days else _list(days)
        weekday_text = "*" if full_weekdays else _list(weekdays)
    else:
        # AND of two restricted fields (`*/2` and `1`): robfig would OR them. Fire on the field
        # that matches fewer days, every day of the other, and gate.
        gated = True
        if len(days) * 7 <= len(weekdays) * 31:
            day_text, weekday_text = _list(days), "*"
        else:
            day_text, weekday_text = "*", _list(weekdays)
    text = " ".join(
        [
            _field(minutes, range(60)),
            _field(hours, range(24)),
            day_text,
            _field(fields.months, range(1, 13)),
            weekday_text,
        ]
    )
    return text, gated


def _field(values: set[int] | frozenset[int], every: range) -> str:
    return "*" if set(values) == set(every) else _list(values)


def _list(values: set[int] | frozenset[int]) -> str:
    """Ascending numbers, runs of three or more as `a-b` (robfig reads no names we would need)."""
    ordered, parts, start = sorted(values), [], 0
    for end in range(len(ordered)):
        if end + 1 < len(ordered) and ordered[end + 1] == ordered[end] + 1:
            continue
        run = ordered[start : end + 1]
        parts += [f"{run[0]}-{run[-1]}"] if len(run) >= 3 else [str(value) for value in run]
        start = end + 1
    return ",".join(parts)


# --- the manifest in the pod -------------------------------------------------------------------


def in_pod(manifest: Manifest) -> Manifest:
    """The manifest as the pod reads it: the tasks file's folder at /app, the image's programs,
    interpreter and PATH, and UTC for schedules without a zone. A script outside the tasks
    file's folder keeps its path: the image must hold it there."""
    base = manifest.working_directory.rstrip("/")

    def moved(path: str) -> str:
        if path == base:
            return PROJECT_DIR
        return PROJECT_DIR + path[len(base) :] if path.startswith(base + "/") else path

    def step(step: Step) -> Step:
        command = tuple(PYTHON if part == manifest.python else moved(part) for part in step.command)
        return step.replace(script=moved(step.script), command=command)

    tasks = {
        task_id: task.replace(steps=tuple(step(each) for each in task.steps))
        for task_id, task in manifest.tasks.items()
    }
    return placed(manifest).replace(
        tasks_file=moved(manifest.tasks_file),
        tasks_file_stat=(0, 0),  # the image's copy has a time of its own: the shim compares content
        working_directory=PROJECT_DIR,
        exec_program=EXEC,
        cli_program=CLI,
        python=PYTHON,
        path=PATH,
        home=HOME,
        tasks=tasks,
    )


def pod_manifest_path(namespace: str) -> str:
    """Where a pod's shim reads the manifest: in the state folder, as on a host."""
    return f"{STATE_DIR}/manifests/{namespace}.json"


def pod_secrets_path(namespace: str) -> str:
    return f"{STATE_DIR}/manifests/{namespace}.secrets.json"


# --- names ---------------------------------------------------------------------------------------


def object_name(*parts: str, limit: int = NAME_LIMIT) -> str:
    """A DNS-1123 name (lower-case letters, digits, '-') for `parts` joined by '-': as they are
    when they already make one within `limit`, else cleaned and cut, with a short hash of the
    original so that distinct names stay distinct."""
    text = "-".join(parts)
    clean = re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", text.lower())).strip("-")
    if clean == text and len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{clean[: limit - 9].rstrip('-')}-{digest}".lstrip("-")


def label_value(text: str) -> str:
    """`text` as a label value (at most 63 characters, starting and ending with a letter or
    digit), hashed the same way when it is not one."""
    if len(text) <= NAME_LIMIT and re.fullmatch(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?", text):
        return text
    return object_name(text)


def selector(namespace: str) -> str:
    """The label selector of every object of a namespace."""
    return f"{MANAGED_BY}=orchestration,{NAMESPACE_LABEL}={label_value(namespace)}"


def cron_job_name(namespace: str, task_id: str) -> str:
    return object_name(namespace, task_id, limit=CRONJOB_NAME_LIMIT)


def config_map_name(namespace: str) -> str:
    return object_name(namespace, "manifest")


def secret_name(namespace: str) -> str:
    return object_name(namespace, "secrets")


def _labels(namespace: str, task_id: str | None = None) -> dict[str, str]:
    labels = {MANAGED_BY: "orchestration", NAMESPACE_LABEL: label_value(namespace)}
    if task_id is not None:
        labels[TASK_LABEL] = label_value(task_id)
    return labels


def _file_name(document: dict[str, Any]) -> str:
    return f"{document['kind'].lower()}-{document['metadata']['name']}.yaml"


# --- the objects -----------------------------------------------------------------------------


def _config_map(pod: Manifest) -> dict[str, Any]:
    data = json.loads(pod.to_json(masked=True))
    del data["index"]  # where each task lies in the manifest file's own layout, not in this one
    text = readable_json(data) + "\n"
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": config_map_name(pod.namespace), "labels": _labels(pod.namespace)},
        "data": {"manifest.json": text},
    }


def readable_json(value: Any, indent: str = "") -> str:
    """JSON for people: an object's members on lines of their own, a list of plain values on one."""
    inner = indent + "  "
    if isinstance(value, dict) and value:
        members = [f"{inner}{json.dumps(key)}: {readable_json(item, inner)}" for key, item in value.items()]
        return "{\n" + ",\n".join(members) + "\n" + indent + "}"
    if isinstance(value, list) and any(isinstance(item, (dict, list)) for item in value):
        return "[\n" + ",\n".join(inner + readable_json(item, inner) for item in value) + "\n" + indent + "]"
    return json.dumps(value, ensure_ascii=False)


def _secret(pod: Manifest, secrets: dict[str, str]) -> dict[str, Any]:
    text = json.dumps(secrets, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": secret_name(pod.namespace), "labels": _labels(pod.namespace)},
        "type": "Opaque",
        "data": {"secrets.json": base64.b64encode(text.encode()).decode()},
    }


def _cron_job(pod: Manifest, task_id: str, with_secrets: bool) -> dict[str, Any]:
    task = pod.task(task_id)
    [timing], policy, retention = task.timings, task.policy, task.retention  # refuse_inexact: one
    assert timing.fields is not None  # refuse_inexact refused @reboot
    zone = timing.zone or CLUSTER_ZONE
    schedule, gated = schedule_for(timing.fields, zone)
    name = cron_job_name(pod.namespace, task_id)
    labels = _labels(pod.namespace, task_id)
    command = [EXEC, pod_manifest_path(pod.namespace), task_id, "--trigger", "kubernetes"]
    command += ["--gate"] if gated else []
    environment: list[dict[str, Any]] = [
        {"name": "ORCHESTRATION_CRONJOB", "value": name},
        {"name": "ORCHESTRATION_JOB", "valueFrom": {"fieldRef": {"fieldPath": f"metadata.labels['{JOB_NAME_LABEL}']"}}},
        {"name": "ORCHESTRATION_RUN_JSON", "value": "stdout"},
    ]
    mounts: list[dict[str, Any]] = [
        {"name": "state", "mountPath": STATE_DIR},
        {
            "name": "manifest",
            "mountPath": pod_manifest_path(pod.namespace),
            "subPath": "manifest.json",
            "readOnly": True,
        },
    ]
    volumes: list[dict[str, Any]] = [
        {"name": "state", "emptyDir": {}},
        {"name": "manifest", "configMap": {"name": config_map_name(pod.namespace), "defaultMode": 0o444}},
    ]
    if with_secrets:
        environment.append({"name": "ORCHESTRATION_SECRETS", "value": pod_secrets_path(pod.namespace)})
        mounts.append(
            {
                "name": "secrets",
                "mountPath": pod_secrets_path(pod.namespace),
                "subPath": "secrets.json",
                "readOnly": True,
            }
        )
        volumes.append({"name": "secrets", "secret": {"secretName": secret_name(pod.namespace), "defaultMode": 0o440}})
    job_spec: dict[str, Any] = {"backoffLimit": 0}
    deadline = backstop_seconds(task)
    if deadline is not None:
        job_spec["activeDeadlineSeconds"] = deadline
    job_spec["ttlSecondsAfterFinished"] = max(1, round(retention.keep_days * 86400))
    job_spec["template"] = {
        "metadata": {"labels": labels},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": USER_ID,
                "runAsGroup": USER_ID,
                "fsGroup": USER_ID,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "task",
                    "image": pod.image,
                    "command": command,
                    "env": environment,
                    "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                    "volumeMounts": mounts,
                }
            ],
            "volumes": volumes,
        },
    }
    spec: dict[str, Any] = {"schedule": schedule, "timeZone": zone}
    spec["concurrencyPolicy"] = "Allow" if policy.overlap == "allow" else "Forbid"
    if not policy.catch_up:
        spec["startingDeadlineSeconds"] = STARTING_DEADLINE_SECONDS
    spec["successfulJobsHistoryLimit"] = retention.keep_runs
    spec["failedJobsHistoryLimit"] = retention.keep_runs
    spec["jobTemplate"] = {"metadata": {"labels": labels}, "spec": job_spec}
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {"orchestration/schedule": f"{timing.expression.strip()} ({timing.description})"},
        },
        "spec": spec,
    }


def backstop_seconds(task: TaskManifest) -> int | None:
    """The pod's deadline: every attempt's time limit, the grace to stop its scripts, the waits
    between attempts, and a margin for starting; None when runs have no time limit."""
    policy = task.policy
    if policy.timeout is None:
        return None
    attempts = policy.retries + 1
    total = attempts * (policy.timeout + KILL_GRACE_SECONDS) + policy.retries * policy.retry_delay
    return int(total + BACKSTOP_SECONDS + 0.999)


# --- YAML ----------------------------------------------------------------------------------------


def _document(manifest: Manifest, document: dict[str, Any]) -> str:
    """One object as a YAML document: a header, then the object with its digest."""
    digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:16]
    document["metadata"].setdefault("annotations", {})[DIGEST] = digest
    cli = shlex.quote(manifest.cli_program)
    header = [
        f"# Generated by orchestration from {manifest.tasks_file}; edit that file, not this one.",
        f"# Update: {cli} install {shlex.quote(manifest.tasks_file)} --backend kubernetes"
        f" --image {shlex.quote(manifest.image)}",
        f"# Or: {cli} compile {shlex.quote(manifest.tasks_file)} --target kubernetes"
        f" --image {shlex.quote(manifest.image)} --output DIR",
        f"# Remove: {cli} uninstall --name {manifest.namespace}",
    ]
    return "\n".join(header) + "\n---\n" + dump(document)


def dump(document: dict[str, Any]) -> str:
    """YAML in the key order given, texts of several lines as literal blocks."""
    import yaml  # PyYAML: only the kubernetes target needs it

    class Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True  # the same labels written out wherever they go, no anchors

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    return yaml.dump(document, Dumper=Dumper, sort_keys=False, default_flow_style=False, width=1000)


def digest_of(text: str) -> str | None:
    """The digest a rendered document carries (what the installer compares)."""
    match = re.search(rf"^\s+{re.escape(DIGEST)}: '?([0-9a-f]+)'?$", text, re.MULTILINE)
    return match.group(1) if match else None
