# Time zones and clock changes: on a UTC machine a task in a zone of its own fires at a superset
# of crontab times and the shim's gate picks its instants; systemd reads the zone itself and
# gets the runs a clock change would make it skip or merge as dated lines. Days read with L, W
# or # are gated on both targets.
from orchestration import Orchestrator

orchestrator = Orchestrator(name="zones")
orchestrator.add_task("30 2 * * *", "bash", name="nightly", timezone="Europe/Berlin").add_script("scripts/backup.sh")
orchestrator.add_task("0 * * * *", "bash", name="hourly", timezone="Europe/Berlin").add_script("scripts/backup.sh")
orchestrator.add_task("0 9 * * 1-5", "bash", name="opening", timezone="America/New_York").add_script(
    "scripts/backup.sh"
)
orchestrator.add_task("0 18 L * *", "bash", name="month-end").add_script("scripts/backup.sh")
orchestrator.add_task("0 9 * * mon#1", "bash", name="first-monday").add_script("scripts/backup.sh")
