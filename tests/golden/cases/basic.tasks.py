from orchestration import Orchestrator

orchestrator = Orchestrator(name="golden")
orchestrator.add_task("0 * * * *", "bash").add_script("scripts/backup.sh", {"target": "/srv"})
orchestrator.add_task("30 2 * * mon-fri", "python", name="report").add_script("scripts/report.py")
