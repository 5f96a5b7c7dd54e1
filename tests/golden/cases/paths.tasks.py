# Unnamed tasks take their first script's name, made unique; '%' in paths is escaped for cron.
from orchestration import Orchestrator

orchestrator = Orchestrator(name="paths")
orchestrator.add_task("*/10 * * * *", "bash").add_script("scripts/backup.sh")
orchestrator.add_task("0 12 * * *", "bash").add_script("scripts/backup.sh", {"when": "noon"})
