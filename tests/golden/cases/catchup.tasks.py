from orchestration import Orchestrator

orchestrator = Orchestrator(name="catchup")
orchestrator.add_task("0 9 * * *", "bash", name="daily", catch_up=True).add_script("scripts/backup.sh")
orchestrator.add_task("*/15 * * * *", "bash", name="often").add_script("scripts/backup.sh")
