from orchestration import Orchestrator

# Time limits: the manager ends a firing that outlives every attempt of it (systemd).
orchestrator = Orchestrator(name="limits")
orchestrator.add_task("0 * * * *", "bash", name="bounded", timeout=30).add_script("scripts/backup.sh")
orchestrator.add_task("5 * * * *", "bash", name="retried", timeout=10, retries=2, retry_delay=15).add_script(
    "scripts/backup.sh"
)
orchestrator.add_task("10 * * * *", "bash", name="parallel", timeout=20, overlap="allow").add_script(
    "scripts/backup.sh"
)
orchestrator.add_task("15 * * * *", "bash", name="queued", timeout=20, overlap="queue").add_script("scripts/backup.sh")
