"""The kubernetes target: every object it renders validates against Kubernetes' own schemas
(`kubernetes-validate --strict`, 1.27 and 1.37) and the rules the API server checks beyond them;
secrets stay out of ConfigMaps and CronJobs; a pod's run, simulated here with the rendered
command, environment and mounted files, runs the script with its parameters and says the run on
stdout; `install --backend kubernetes` drives kubectl (a stand-in on PATH at that one seam) with
exact command lines, prunes by label, and refuses without kubectl or a context."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from click.testing import CliRunner

from conftest import Project
from orchestration.api import render
from orchestration.cli import main
from orchestration.compile.environment import Environment
from orchestration.compile.manifest import Manifest
from orchestration.errors import ManifestError
from orchestration.runtime.exec import job_scheduled_time
from orchestration.targets import kubernetes
from test_kubernetes_schedules import CORPUS

VALIDATE = str(Path(sys.executable).with_name("kubernetes-validate"))
VERSIONS = ("1.27.0", "1.37.0")  # timeZone is GA from 1.27; 1.37 is the newest schema shipped
IMAGE = "registry.example/jobs:1.0"
ENVIRONMENT = Environment(
    exec_program="/opt/orchestration/bin/orchestration-exec",
    cli_program="/opt/orchestration/bin/orchestration",
    python="/opt/orchestration/bin/python",
    path="/usr/bin:/bin",
    home="/home/someone",
    state_dir=Path("/var/lib/orchestration"),
    zone="Europe/Berlin",
    image=IMAGE,
)
CASES = Path(__file__).parent / "golden" / "cases"

TASKS = """
from orchestration import secret, template
o = Orchestrator(name='Jobs_Of_Team-A', keep_runs=7)
o.add_task('0 3 * * *', 'bash', name='backup', timeout=60, retries=1,
           env={'LANG': 'C.UTF-8', 'DB_PASSWORD': secret('env-secret')}).add_script(
    'record.sh', {'target': '/srv', 'token': secret('hunter2-secret')})
o.add_task('*/5 * * * *', 'python', name='poll', overlap='allow').add_script(
    'record.py', {'header': secret(template('Bearer {{ task }}'), argument=False)})
o.add_task('0 0 */2 * 1', 'bash', name='Odd_Mondays_' + 'x' * 52, catch_up=True).add_script('record.sh')
"""


def documents(files: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Each rendered file's object."""
    return {name: yaml.safe_load(text) for name, text in files.items()}


def corpus_files(project: Project) -> dict[str, str]:
    """The objects of a tasks file with a task per expression of the schedule corpus, in zones."""
    zones = ["UTC", "Europe/Berlin", "America/New_York", None]
    body = "o = Orchestrator(name='corpus')\n" + "".join(
        f"o.add_task({text!r}, 'bash', name='t{index}', timezone={zones[index % 4]!r}).add_script('record.sh')\n"
        for index, text in enumerate(CORPUS)
    )
    return render(project.write(body, "corpus.py"), "kubernetes", environment=ENVIRONMENT)


@pytest.fixture
def rendered(project: Project) -> dict[str, str]:
    files = render(project.write(TASKS), "kubernetes", environment=ENVIRONMENT)
    for case in sorted(CASES.glob("*.tasks.py")):
        if not case.with_name(case.name.replace(".tasks.py", ".kubernetes")).read_text().startswith("Error:"):
            files.update(render(case, "kubernetes", environment=ENVIRONMENT))
    files.update(
        render(Path(__file__).parents[1] / "scripts" / "example" / "tasks.py", "kubernetes", environment=ENVIRONMENT)
    )
    return files


# --- Kubernetes' schemas and rules ------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_every_object_validates_strictly(
    rendered: dict[str, str], project: Project, tmp_path: Path, version: str
) -> None:
    files = {**rendered, **corpus_files(project)}
    folder = tmp_path / "objects"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    result = subprocess.run(
        [VALIDATE, "--strict", "--quiet", "-k", version, *sorted(str(path) for path in folder.iterdir())],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    kinds = {document["kind"] for document in documents(files).values()}
    assert kinds == {"CronJob", "ConfigMap", "Secret"}


def test_strict_validation_catches_a_misspelt_field(rendered: dict[str, str], tmp_path: Path) -> None:
    text = next(text for name, text in rendered.items() if name.startswith("cronjob-"))
    (tmp_path / "typo.yaml").write_text(text.replace("concurrencyPolicy:", "concurencyPolicy:"))
    result = subprocess.run(
        [VALIDATE, "--strict", "-k", "1.37.0", str(tmp_path / "typo.yaml")], capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "concurencyPolicy" in result.stdout + result.stderr


DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
ZONE_PART = re.compile(r"[A-Za-z\.\-_0-9+]{1,14}")  # batch validation's validTimeZoneCharacters
ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")


def test_the_rules_the_schema_does_not_carry(rendered: dict[str, str], project: Project) -> None:
    """What the API server's validation checks beyond the schema (pkg/apis/batch/validation):
    a CronJob's name within 52 characters, so that its Jobs' names (NAME-MINUTES) stay labels;
    names DNS-1123; no TZ in `schedule` (refused since 1.29); `timeZone` an explicit IANA zone of
    the allowed characters; label values and keys; environment variable names."""
    files = {**rendered, **corpus_files(project)}
    for name, document in documents(files).items():
        metadata = document["metadata"]
        assert DNS_LABEL.fullmatch(metadata["name"]) and len(metadata["name"]) <= 63, name
        assert name == f"{document['kind'].lower()}-{metadata['name']}.yaml"
        for key, value in metadata["labels"].items():
            assert len(value) <= 63 and LABEL_VALUE.fullmatch(value), (name, key, value)
        if document["kind"] != "CronJob":
            continue
        spec = document["spec"]
        assert len(metadata["name"]) <= kubernetes.CRONJOB_NAME_LIMIT, name
        assert len(f"{metadata['name']}-{int(time.time() // 60)}") <= 63
        assert "TZ" not in spec["schedule"], name
        zone = spec["timeZone"]
        assert zone != "Local" and all(
            ZONE_PART.fullmatch(part) and part not in (".", "..") for part in zone.split("/")
        )
        ZoneInfo(zone)
        assert len(spec["schedule"].split()) == 5
        pod = spec["jobTemplate"]["spec"]["template"]["spec"]
        assert pod["restartPolicy"] == "Never" and spec["jobTemplate"]["spec"]["backoffLimit"] == 0
        for variable in pod["containers"][0]["env"]:
            assert ENV_NAME.fullmatch(variable["name"])
        assert (
            spec["jobTemplate"]["metadata"]["labels"]
            == metadata["labels"]
            == document["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
        )


def test_long_and_unusual_names_become_stable_dns_names(rendered: dict[str, str]) -> None:
    names = sorted(name for name in rendered if name.startswith(("cronjob-jobs", "configmap-jobs", "secret-jobs")))
    assert names == [
        "configmap-jobs-of-team-a-manifest-b19568da.yaml",
        "cronjob-jobs-of-team-a-backup-b890fece.yaml",
        "cronjob-jobs-of-team-a-odd-mondays-xxxxxxxxxxxxxxxx-8ed4b52c.yaml",
        "cronjob-jobs-of-team-a-poll-2616c70b.yaml",
        "secret-jobs-of-team-a-secrets-b5ace9a6.yaml",
    ]
    labels = documents(rendered)["cronjob-jobs-of-team-a-backup-b890fece.yaml"]["metadata"]["labels"]
    assert labels == {
        "app.kubernetes.io/managed-by": "orchestration",
        "orchestration/namespace": "Jobs_Of_Team-A",
        "orchestration/task": "backup",
    }


def test_secrets_stay_out_of_config_maps_and_cron_jobs(rendered: dict[str, str]) -> None:
    for name, text in rendered.items():
        if not name.startswith("secret-"):
            assert "hunter2-secret" not in text and "Bearer {{ task }}" not in text, name
            assert "env-secret" not in text, name
    [secret] = [document for name, document in documents(rendered).items() if name.startswith("secret-jobs")]
    import base64

    values = json.loads(base64.b64decode(secret["data"]["secrets.json"]))
    assert values == {
        "backup/0/0/token": "hunter2-secret",
        "backup/env/DB_PASSWORD": "env-secret",
        "poll/0/0/header": "Bearer {{ task }}",
    }


def test_policies_become_the_cron_job_fields(rendered: dict[str, str]) -> None:
    objects = documents(rendered)
    backup = objects["cronjob-jobs-of-team-a-backup-b890fece.yaml"]["spec"]
    poll = objects["cronjob-jobs-of-team-a-poll-2616c70b.yaml"]["spec"]
    odd = objects["cronjob-jobs-of-team-a-odd-mondays-xxxxxxxxxxxxxxxx-8ed4b52c.yaml"]["spec"]
    assert (backup["concurrencyPolicy"], poll["concurrencyPolicy"]) == ("Forbid", "Allow")
    assert backup["startingDeadlineSeconds"] == 60 and "startingDeadlineSeconds" not in odd  # catch_up
    assert backup["successfulJobsHistoryLimit"] == backup["failedJobsHistoryLimit"] == 7
    # two attempts of 60 s, the grace to stop each, and two minutes to start: the backstop
    assert backup["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 2 * (60 + 5) + 120
    assert "activeDeadlineSeconds" not in poll["jobTemplate"]["spec"]
    assert (backup["schedule"], backup["timeZone"]) == ("0 3 * * *", "Etc/UTC")  # not the compiling machine's Berlin
    assert (
        odd["schedule"] == "0 0 * * 1"
        and "--gate" in odd["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"]
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("o.add_task('@reboot', 'bash', name='boot').add_script('record.sh')", "@reboot has no meaning on Kubernetes"),
        (
            "o.add_task('* * * * *', 'bash', name='q', overlap='queue').add_script('record.sh')",
            "overlap='queue' has no exact form on Kubernetes",
        ),
    ],
)
def test_what_cannot_be_exact_is_refused(project: Project, body: str, message: str) -> None:
    tasks = project.write(f"o = Orchestrator(name='r')\n{body}\n")
    result = CliRunner().invoke(main, ["compile", str(tasks), "--target", "kubernetes", "--image", IMAGE])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: task '") and message in result.output


def test_the_image_is_required(project: Project) -> None:
    tasks = project.write("o = Orchestrator(name='r')\no.add_task('0 * * * *', 'bash').add_script('record.sh')\n")
    result = CliRunner().invoke(main, ["compile", str(tasks), "--target", "kubernetes"])
    assert result.exit_code == 2
    assert "the kubernetes target needs the container image its pods run; give it with --image IMAGE" in result.output


def test_a_task_without_a_zone_reads_utc_on_the_cluster(project: Project) -> None:
    tasks = project.write(
        "o = Orchestrator(name='z')\no.add_task('0 9 * * *', 'bash', name='t').add_script('record.sh')\n"
    )
    [document] = [
        d for n, d in documents(render(tasks, "kubernetes", environment=ENVIRONMENT)).items() if n.startswith("cronjob")
    ]
    assert document["spec"]["timeZone"] == "Etc/UTC"


# --- the shim in a pod ------------------------------------------------------------------------------


def test_the_job_name_gives_the_scheduled_time() -> None:
    assert job_scheduled_time("jobs-backup-29612345", "jobs-backup") == 29612345 * 60
    assert job_scheduled_time("jobs-backup-manual", "jobs-backup") is None
    assert job_scheduled_time("other-29612345", "jobs-backup") is None
    assert job_scheduled_time("", "") is None


def test_secrets_round_trip_through_the_masked_manifest(project: Project) -> None:
    [manifest_text] = [
        d["data"]["manifest.json"]
        for n, d in documents(render(project.write(TASKS), "kubernetes", environment=ENVIRONMENT)).items()
        if n.startswith("configmap")
    ]
    masked = Manifest.from_json(manifest_text)
    assert masked.task("backup").steps[0].runs[0]["token"].text == "***"
    assert masked.task("backup").environment["DB_PASSWORD"].text == "***"
    secrets = {
        "backup/0/0/token": "hunter2-secret",
        "backup/env/DB_PASSWORD": "env-secret",
        "poll/0/0/header": "Bearer {{ task }}",
    }
    full = masked.unmasked(secrets)
    assert full.task("backup").steps[0].runs[0]["token"].text == "hunter2-secret"
    assert full.task("backup").environment["DB_PASSWORD"].text == "env-secret"
    assert full.task("backup").environment["LANG"].text == "C.UTF-8"
    assert full.task("poll").steps[0].runs[0]["header"].template == "Bearer {{ task }}"
    assert full.secrets() == secrets
    with pytest.raises(ManifestError, match="has no value for backup/env/DB_PASSWORD"):
        masked.unmasked({key: value for key, value in secrets.items() if "/env/" not in key})


def simulate_pod(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, task: str, minutes: int
) -> subprocess.CompletedProcess[str]:
    """Run a task as its pod would: the rendered container command and environment (the
    job-name label supplied as the downward API would), the ConfigMap's and the Secret's files
    at their mount paths. The image's folders are this machine's: the project folder stands for
    /app, a temporary folder for the pod's state volume, this interpreter for the image's."""
    state = tmp_path / "pod-state"
    monkeypatch.setattr(kubernetes, "PROJECT_DIR", str(project.root))
    monkeypatch.setattr(kubernetes, "STATE_DIR", str(state))
    monkeypatch.setattr(kubernetes, "PYTHON", sys.executable)
    monkeypatch.setattr(kubernetes, "PATH", os.environ["PATH"])
    objects = documents(render(project.write(TASKS), "kubernetes", environment=ENVIRONMENT))
    pods = {
        d["metadata"]["name"]: d["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        for d in objects.values()
        if d["kind"] == "CronJob"
    }
    [(name, pod)] = [(name, pod) for name, pod in pods.items() if pod["containers"][0]["command"][2] == task]
    [container] = pod["containers"]
    sources = {volume["name"]: volume for volume in pod["volumes"]}
    by_name = {(d["kind"], d["metadata"]["name"]): d for d in objects.values()}
    import base64

    for mount in container["volumeMounts"]:
        source = sources[mount["name"]]
        path = Path(mount["mountPath"])
        if "emptyDir" in source:
            path.mkdir(parents=True, exist_ok=True)
        elif "configMap" in source:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(by_name[("ConfigMap", source["configMap"]["name"])]["data"][mount["subPath"]])
            path.chmod(source["configMap"]["defaultMode"])
        else:
            data = by_name[("Secret", source["secret"]["secretName"])]["data"][mount["subPath"]]
            path.write_bytes(base64.b64decode(data))
            path.chmod(source["secret"]["defaultMode"])
    job = f"{name}-{minutes}"
    environment = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "RECORD_DIR": str(project.root)}
    for variable in container["env"]:
        if "value" in variable:
            environment[variable["name"]] = variable["value"]
        else:
            assert variable["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.labels['batch.kubernetes.io/job-name']"
            environment[variable["name"]] = job
    argv = [str(Path(sys.executable).with_name(container["command"][0])), *container["command"][1:]]
    return subprocess.run(argv, env=environment, capture_output=True, text=True, timeout=60)


def test_a_pod_runs_the_script_and_says_the_run_on_stdout(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    minutes = int(time.time() // 86400) * 1440 + 3 * 60  # today 03:00 UTC: the task's instant on the cluster
    result = simulate_pod(project, tmp_path, monkeypatch, "backup", minutes)
    assert result.returncode == 0, result.stdout + result.stderr
    [record] = project.records()
    assert record["argv"] == ["/srv", "hunter2-secret"]
    assert record["env"]["ORCHESTRATION_PARAM_TOKEN"] == "hunter2-secret"
    assert record["env"]["DB_PASSWORD"] == "env-secret" and record["env"]["LANG"] == "C.UTF-8"
    line = result.stdout.strip().splitlines()[-1]
    run = json.loads(line)
    assert run["status"] == "ok" and run["trigger"] == "kubernetes" and run["task"] == "backup"
    assert run["namespace"] == "Jobs_Of_Team-A"
    assert run["scheduled_time"].startswith(time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(minutes * 60)))
    assert set(run) >= {"run_id", "started_at", "finished_at", "exit_code", "parameters", "steps", "duration"}
    assert "hunter2-secret" not in line and "env-secret" not in line


def test_a_gated_pod_outside_the_rule_exits_at_once(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 'Odd_Mondays...' fires every Monday on the cluster; a Monday that is an even day is gated away.
    from datetime import date, datetime, timezone

    day = next(date(2026, 6, d) for d in range(1, 31) if date(2026, 6, d).weekday() == 0 and d % 2 == 0)
    moment = datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()
    result = simulate_pod(project, tmp_path, monkeypatch, "Odd_Mondays_" + "x" * 52, int(moment // 60))
    assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr
    assert project.records() == []


# --- installing with kubectl ------------------------------------------------------------------------

FAKE_KUBECTL = r'''#!PYTHON
"""A stand-in for kubectl at the installer's one seam: it logs every call and keeps the
objects applied in a JSON file, as a cluster would keep them."""
import json, os, sys, yaml
folder = os.environ["FAKE_KUBE"]
store = os.path.join(folder, "objects.json")
args = sys.argv[1:]
stdin = sys.stdin.read() if "-f" in args else None
with open(os.path.join(folder, "calls.jsonl"), "a") as log:
    log.write(json.dumps({"argv": args, "stdin": stdin}) + "\n")
if os.path.exists(os.path.join(folder, "no-context")) and args[:2] == ["config", "current-context"]:
    sys.exit("error: current-context is not set")
objects = json.load(open(store)) if os.path.exists(store) else {}
KINDS = {"configmap": "ConfigMap", "secret": "Secret", "cronjob.batch": "CronJob"}
def selected(selector):
    wanted = dict(part.split("=", 1) for part in selector.split(","))
    return [key for key, o in objects.items() if all(o["metadata"].get("labels", {}).get(k) == v for k, v in wanted.items())]
def named(refs):
    keys = []
    for ref in refs:
        kind, name = ref.split("/", 1)
        keys.append(f"{KINDS[kind]}/{name}")
    return keys
if args[:2] == ["config", "current-context"]:
    print("test-context")
elif args[0] == "get":
    keys = selected(args[args.index("-l") + 1]) if "-l" in args else named([a for a in args[1:] if "/" in a])
    print(json.dumps({"kind": "List", "items": [objects[k] for k in keys if k in objects]}))
elif args[0] == "apply":
    for document in yaml.safe_load_all(stdin):
        objects[f"{document['kind']}/{document['metadata']['name']}"] = document
elif args[0] == "delete":
    keys = selected(args[args.index("-l") + 1]) if "-l" in args else named([a for a in args[1:] if "/" in a])
    for key in keys:
        objects.pop(key, None)
json.dump(objects, open(store, "w"))
'''


@pytest.fixture
def kubectl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "fake-kube"
    folder.mkdir()
    program = folder / "bin" / "kubectl"
    program.parent.mkdir()
    program.write_text(FAKE_KUBECTL.replace("PYTHON", sys.executable))
    program.chmod(0o755)
    monkeypatch.setenv("PATH", f"{program.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_KUBE", str(folder))
    return folder


def calls(folder: Path) -> list[dict[str, Any]]:
    path = folder / "calls.jsonl"
    found = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    path.unlink(missing_ok=True)
    return found


def stored(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "objects.json").read_text())


SELECTOR = "app.kubernetes.io/managed-by=orchestration,orchestration/namespace=team"


def test_install_applies_server_side_and_prunes_by_label(project: Project, kubectl: Path) -> None:
    tasks = project.write(
        "o = Orchestrator(name='team')\n"
        "o.add_task('0 3 * * *', 'bash', name='backup').add_script('record.sh')\n"
        "o.add_task('0 4 * * *', 'bash', name='report').add_script('record.sh')\n"
    )
    result = CliRunner().invoke(main, ["install", str(tasks), "--backend", "kubernetes", "--image", IMAGE])
    assert result.exit_code == 0, result.output
    assert "Installed namespace 'team' (kubernetes)" in result.output
    made = calls(kubectl)
    assert [call["argv"] for call in made] == [
        ["config", "current-context"],
        ["get", "configmaps,secrets,cronjobs.batch", "-l", SELECTOR, "-o", "json"],
        ["get", "configmaps,secrets,cronjobs.batch", "-l", SELECTOR, "-o", "json"],
        [
            "get",
            "configmap/team-manifest",
            "cronjob.batch/team-backup",
            "cronjob.batch/team-report",
            "--ignore-not-found",
            "-o",
            "json",
        ],
        ["apply", "--server-side", "--field-manager=orchestration", "--force-conflicts", "-f", "-"],
    ]
    applied = list(yaml.safe_load_all(made[-1]["stdin"]))
    assert [(d["kind"], d["metadata"]["name"]) for d in applied] == [
        ("ConfigMap", "team-manifest"),
        ("CronJob", "team-backup"),
        ("CronJob", "team-report"),
    ]
    assert sorted(stored(kubectl)) == ["ConfigMap/team-manifest", "CronJob/team-backup", "CronJob/team-report"]

    again = CliRunner().invoke(main, ["install", str(tasks), "--backend", "kubernetes"])  # the image is kept
    assert again.exit_code == 0, again.output
    assert "Namespace 'team' (kubernetes) is up to date" in again.output

    project.write(
        "o = Orchestrator(name='team')\no.add_task('0 3 * * *', 'bash', name='backup').add_script('record.sh')\n"
    )
    calls(kubectl)
    pruned = CliRunner().invoke(main, ["install", str(tasks)])  # auto: stays on kubernetes
    assert pruned.exit_code == 0, pruned.output
    assert "- report" in pruned.output
    assert [call["argv"] for call in calls(kubectl)][-1] == [
        "delete",
        "cronjob.batch/team-report",
        "--ignore-not-found",
    ]
    assert sorted(stored(kubectl)) == ["ConfigMap/team-manifest", "CronJob/team-backup"]

    shown = CliRunner().invoke(main, ["next", "team/backup", "-n", "1", "--from", "2026-07-01T12:00+00:00", "--json"])
    assert json.loads(shown.output) == {"team/backup": ["2026-07-02T03:00:00+00:00"]}  # the cluster's UTC
    listed = CliRunner().invoke(main, ["list"])
    assert "team/backup" in listed.output and "kubernetes" in listed.output
    removed = CliRunner().invoke(main, ["uninstall", "--name", "team"])
    assert removed.exit_code == 0, removed.output
    assert [call["argv"] for call in calls(kubectl)][-1] == [
        "delete",
        "configmaps,secrets,cronjobs.batch",
        "-l",
        SELECTOR,
        "--ignore-not-found",
    ]
    assert stored(kubectl) == {}


def test_a_pause_is_refused_for_a_namespace_on_the_cluster(project: Project, kubectl: Path) -> None:
    tasks = project.write(
        "o = Orchestrator(name='team')\no.add_task('0 3 * * *', 'bash', name='backup').add_script('record.sh')\n"
    )
    assert CliRunner().invoke(main, ["install", str(tasks), "--backend", "kubernetes", "--image", IMAGE]).exit_code == 0
    for command in (["pause", "team"], ["pause", "team/backup", "--until", "1h"], ["resume", "team"]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 2, result.output
        assert result.output.startswith(
            f"Error: {command[1]} runs on Kubernetes, whose pods do not see the pauses of this machine;"
            " nothing was changed\nSuspend (or resume) its CronJobs on the cluster instead: `kubectl patch"
        )
    assert not (project.root.parent / "state" / "paused").exists()


def test_install_refuses_an_object_it_does_not_own(project: Project, kubectl: Path) -> None:
    (kubectl / "objects.json").write_text(
        json.dumps(
            {
                "CronJob/team-backup": {
                    "kind": "CronJob",
                    "metadata": {"name": "team-backup", "labels": {"app": "theirs"}},
                }
            }
        )
    )
    tasks = project.write(
        "o = Orchestrator(name='team')\no.add_task('0 3 * * *', 'bash', name='backup').add_script('record.sh')\n"
    )
    result = CliRunner().invoke(main, ["install", str(tasks), "--backend", "kubernetes", "--image", IMAGE])
    assert result.exit_code == 2
    assert (
        "the CronJob team-backup on the cluster belongs to someone else (it has no orchestration labels)"
        in result.output
    )
    assert not any(call["argv"][0] == "apply" for call in calls(kubectl))


def test_install_refuses_without_kubectl(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    tasks = project.write("o = Orchestrator(name='team')\no.add_task('0 3 * * *', 'bash').add_script('record.sh')\n")
    result = CliRunner().invoke(main, ["install", str(tasks), "--backend", "kubernetes", "--image", IMAGE])
    assert result.exit_code == 2
    assert result.output.startswith(
        "Error: there is no kubectl command on this machine, so nothing can be put on a cluster"
    )


def test_install_refuses_without_a_context(project: Project, kubectl: Path) -> None:
    (kubectl / "no-context").touch()
    tasks = project.write("o = Orchestrator(name='team')\no.add_task('0 3 * * *', 'bash').add_script('record.sh')\n")
    result = CliRunner().invoke(main, ["install", str(tasks), "--backend", "kubernetes", "--image", IMAGE])
    assert result.exit_code == 2
    assert "kubectl has no current context, so it knows no cluster to install into" in result.output
    assert "kubectl config use-context NAME" in result.output
    assert [call["argv"] for call in calls(kubectl)] == [["config", "current-context"]]
