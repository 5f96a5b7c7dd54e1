# Forms the daemon and croniter read differently are rewritten to forms both read alike.
from orchestration import Orchestrator

orchestrator = Orchestrator(name="rewrites")
orchestrator.add_task("0 22 * * fri-mon", "bash", name="weekend-nights").add_script("scripts/backup.sh")
orchestrator.add_task("5/15 22-2 * * *", "bash", name="night-shift").add_script("scripts/backup.sh")
orchestrator.add_task("0 0 1-31 * 1-5", "bash", name="every-day").add_script("scripts/backup.sh")
orchestrator.add_task("0 0 */2 * 1", "bash", name="and-rule").add_script("scripts/backup.sh")
