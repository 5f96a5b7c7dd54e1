from orchestration import Orchestrator, secret

orchestrator = Orchestrator(name="options")
orchestrator.add_task("*/10 * * * *", "bash", name="spread", jitter=300).add_script("scripts/backup.sh")
orchestrator.add_task(
    "30 4 * * *", "bash", name="with-env", env={"LANG": "C.UTF-8", "API_TOKEN": secret("s3cr3t%$")}
).add_script("scripts/backup.sh")
orchestrator.add_task("@reboot", "bash", name="boot-jitter", jitter=60).add_script("scripts/backup.sh")
