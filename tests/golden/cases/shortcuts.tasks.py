# @hourly and the like are written as five fields; @reboot stays as it is.
from orchestration import Orchestrator

orchestrator = Orchestrator(name="shortcuts")
for name, expression in [("hourly", "@hourly"), ("weekly", "@weekly"), ("boot", "@reboot")]:
    orchestrator.add_task(expression, "bash", name=name).add_script("scripts/backup.sh")
