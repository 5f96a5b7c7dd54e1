# A tasks file for a cluster: zones, secrets and run policies as CronJobs. A fixed time in Berlin
# that a clock change skips or repeats is gated; so is the AND of `*/2` and a weekday, which
# robfig/cron reads as OR. Secret values go into the Secret, the ConfigMap holds them masked.
from orchestration import Orchestrator, secret, template

orchestrator = Orchestrator(name="cluster", keep_runs=5, keep_days=7, timezone="Europe/Berlin")
orchestrator.add_task("30 2 * * *", "bash", name="nightly", timeout=600, retries=2, retry_delay=30).add_script(
    "scripts/backup.sh", {"target": "/srv", "token": secret("s3cr3t-value")}
)
orchestrator.add_task("*/20 8-18 * * mon-fri", "python", name="poll", overlap="allow").add_script(
    "scripts/report.py", {"header": secret(template("Bearer {{ run_id }}"), argument=False)}
)
orchestrator.add_task("0 9 * * *", "bash", name="morning", catch_up=True, timezone="America/New_York").add_script(
    "scripts/backup.sh"
)
orchestrator.add_task("0 0 */2 * 1", "bash", name="odd-mondays", timezone="UTC").add_script("scripts/backup.sh")
orchestrator.add_task("0 18 L * *", "bash", name="month-end").add_script("scripts/backup.sh")
