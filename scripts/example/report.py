"""Print the disk usage of a path: report.py TITLE PATH."""

import shutil
import sys

title, path = sys.argv[1], sys.argv[2]
usage = shutil.disk_usage(path)
print(f"{title} of {path}: {usage.used / usage.total:.0%} used")
