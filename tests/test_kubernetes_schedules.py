"""The schedules we write for Kubernetes, read by the real robfig/cron v3.0.1: the code the
CronJob controller reads `spec.schedule` and `spec.timeZone` with (`cron.ParseStandard("TZ=" +
timeZone + " " + schedule)`, then `Next` from one firing to the next). Debian's
golang-github-robfig-cron-dev holds its source; Debian's golang-go builds a small program
against it here, offline. Over more than 500 generated expressions, in UTC and in
Europe/Berlin, from the start of 2026 and around the clock changes of 2026 and 2027, the
firings robfig gives, filtered by the shim's gate where the CronJob calls it, are exactly the
instants of our rule (`orchestration next`)."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import skip_or_fail
from orchestration.compile.manifest import Timing
from orchestration.define.schedule import parse_schedule
from orchestration.errors import ScheduleError
from orchestration.rules.instants import instants, next_instants, zone_of
from orchestration.runtime.gate import admits
from orchestration.targets.kubernetes import CLUSTER_ZONE, schedule_for
from test_clock_rule import clock_changes
from test_expression_corpus import expression

ROBFIG = Path("/usr/share/gocode/src/github.com/robfig/cron")  # Debian: golang-github-robfig-cron-dev
ZONES = ["UTC", "Europe/Berlin"]
START = datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp()
NEXT_COUNT = 30

HARNESS = """package main

// Reads lines "ZONE<TAB>SCHEDULE<TAB>AFTER<TAB>END" and prints, per line, the firings robfig/cron
// gives after AFTER and before END (seconds since 1970), as the CronJob controller computes them.
import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		parts := strings.Split(in.Text(), "\\t")
		after, _ := strconv.ParseInt(parts[2], 10, 64)
		end, _ := strconv.ParseInt(parts[3], 10, 64)
		schedule, err := cron.ParseStandard("TZ=" + parts[0] + " " + parts[1])
		if err != nil {
			fmt.Fprintf(out, "error: %v\\n", err)
			continue
		}
		found := []string{}
		for t := schedule.Next(time.Unix(after, 0)); !t.IsZero() && t.Unix() < end; t = schedule.Next(t) {
			found = append(found, strconv.FormatInt(t.Unix(), 10))
		}
		fmt.Fprintln(out, strings.Join(found, " "))
	}
}
"""

GO_MOD = f"""module robfigcheck

go 1.19

require github.com/robfig/cron/v3 v3.0.1

replace github.com/robfig/cron/v3 => {ROBFIG}
"""


@pytest.fixture(scope="module")
def robfig(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The harness built with Debian's Go against Debian's robfig/cron, without a network."""
    go = shutil.which("go") or ("/usr/lib/go/bin/go" if os.path.exists("/usr/lib/go/bin/go") else None)
    if go is None or not (ROBFIG / "spec.go").exists():
        skip_or_fail(
            "robfig/cron and Go are not installed (Debian: apt-get install golang-go golang-github-robfig-cron-dev)"
        )
    assert go is not None
    folder = tmp_path_factory.mktemp("robfig")
    (folder / "go.mod").write_text(GO_MOD)
    (folder / "main.go").write_text(HARNESS)
    environment = {
        **os.environ,
        "GOPROXY": "off",
        "GOFLAGS": "-mod=mod",
        "GOPATH": str(folder / "gopath"),
        "GOCACHE": str(folder / "cache"),
        "CGO_ENABLED": "0",
    }
    subprocess.run([go, "build", "-o", "robfig", "."], cwd=folder, env=environment, check=True)
    return folder / "robfig"


def robfig_firings(harness: Path, queries: list[tuple[str, str, float, float]]) -> list[list[float]]:
    """robfig's firings for each (zone, schedule, after, end), in one run of the harness."""
    text = "".join(f"{zone}\t{schedule}\t{int(after)}\t{int(end)}\n" for zone, schedule, after, end in queries)
    result = subprocess.run([str(harness)], input=text, capture_output=True, text=True, check=True)
    lines = result.stdout.split("\n")[: len(queries)]
    for line, query in zip(lines, queries):
        assert not line.startswith("error"), (query, line)
    return [[float(word) for word in line.split()] for line in lines]


def _accepted(text: str) -> bool:
    try:
        return not parse_schedule(text).reboot
    except ScheduleError:
        return False


def corpus(size: int = 520) -> list[str]:
    """Accepted expressions (no @reboot, which Kubernetes refuses) from the expression generator
    of test_expression_corpus, plus the forms this target treats apart."""
    found = {
        "0 0 */2 * 1",
        "30 2 * * *",
        "0,30 2 * * *",
        "0 2-3 * * *",
        "*/15 2 * * *",
        "0 * * * *",
        "0 0 L * *",
        "0 9 * * mon#1",
        "0 12 15W * *",
        "0 0 1,15 * fri",
        "0 0 * * fri-mon",
        "5/15 22-2 * * *",
        "0 0 1,* * 1",
        "0 0 */3 * */2",
    }
    seed = 0
    while len(found) < size:
        text = expression(random.Random(seed))
        seed += 1
        if _accepted(text):
            found.add(text)
    return sorted(found)


CORPUS = corpus()


def test_the_corpus_holds_at_least_500_expressions() -> None:
    assert len(CORPUS) >= 500


WINDOWS = [
    ((change - timedelta(hours=4)).timestamp(), (change + timedelta(hours=4)).timestamp())
    for change in clock_changes("Europe/Berlin")
]  # eight hours around each clock change of Berlin in 2026 and 2027


def _gated(timing: Timing, firings: list[float], zone: str) -> list[float]:
    """The firings the shim's gate lets run (the machine zone is the cluster's: UTC)."""
    return [moment for moment in firings if admits(timing, moment, zone)]


@pytest.mark.parametrize("zone", ZONES)
def test_robfig_with_the_gate_fires_exactly_our_instants(robfig: Path, zone: str) -> None:
    cases = []
    queries: list[tuple[str, str, float, float]] = []
    for text in CORPUS:
        fields = parse_schedule(text).fields
        schedule, gated = schedule_for(fields, zone)
        timing = Timing(expression=text, cron=text, description="", fields=fields, zone=zone)
        ours_next = next_instants(fields, zone_of(zone), START, NEXT_COUNT)
        cases.append((text, schedule, gated, timing, ours_next, None))
        queries.append((zone, schedule, START, ours_next[-1] + 1))
        for low, high in WINDOWS if zone != "UTC" else []:  # UTC has no clock change to look at
            ours = instants(fields, zone_of(zone), low, high)
            cases.append((text, schedule, gated, timing, ours, (low, high)))
            queries.append((zone, schedule, low - 1, high))
    answers = robfig_firings(robfig, queries)
    gated_count = 0
    for (text, schedule, gated, timing, ours, window), firings in zip(cases, answers):
        if window is not None:
            firings = [moment for moment in firings if window[0] <= moment < window[1]]
        if gated:
            gated_count += 1
            firings = _gated(timing, firings, CLUSTER_ZONE)
        assert firings == ours, (text, zone, schedule, gated, window)
    assert gated_count > 0


def test_schedules_without_a_gate_are_robfigs_own_reading(robfig: Path) -> None:
    """Where the CronJob does not call the gate, robfig alone must give our instants (the test
    above holds it so); here the share of such schedules: most expressions need no gate."""
    plain = [text for text in CORPUS if not schedule_for(parse_schedule(text).fields, "UTC")[1]]
    assert len(plain) > len(CORPUS) // 2
