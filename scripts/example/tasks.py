"""An example tasks file: `orchestration install scripts/example/tasks.py`."""

from orchestration import Orchestrator

orchestrator = Orchestrator(name="example")

# Every minute: greet twice (a repeat), then write a report with a Python script.
task = orchestrator.add_task("* * * * *", "bash", name="greet")
task.add_repeat("hello.sh", [{"who": "world", "greeting": "Hello"}, {"who": "cron", "greeting": "Hi"}])

report = orchestrator.add_task("*/5 * * * *", "python", name="report")
report.add_script("report.py", {"title": "Disk usage", "path": "/"})

if __name__ == "__main__":
    orchestrator.execute_tasks()
