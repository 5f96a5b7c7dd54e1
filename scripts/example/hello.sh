#!/bin/bash
# Parameters arrive as positional arguments in the order they were given, and as variables.
echo "$2, $1! (task $ORCHESTRATION_TASK, scheduled $ORCHESTRATION_SCHEDULED_TIME)"
