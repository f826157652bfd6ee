"""The seed's workflow as a smoke test of a deployed platform, through the `wsk` CLI.

    smoke.py [--wskprops PATH] [--keep]

With the guest's `.wskprops` (default: `$WSK_CONFIG_FILE`, else `.wskprops` in the repository
root) it runs, with names made fresh for this run (`helloAction-<suffix>`, ...):

    wsk -i action create helloAction hello.js      ok: created action helloAction
    wsk -i trigger create helloTrigger             ok: created trigger helloTrigger
    wsk -i rule create helloRule helloTrigger helloAction
    wsk -i trigger fire helloTrigger               ok: triggered /guest/helloTrigger with id ...
    wsk -i action invoke helloAction               ok: invoked /guest/helloAction with id ...
    wsk -i activation get --summary <id>           activation result for /guest/helloAction ...

checks each line, waits for the records (the rule's activation and the invoke's), prints
what it ran, and deletes what it made (unless `--keep`). It exits 0 when every step passed,
1 with the failing step's command and output otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HELLO_JS = """function main() {
    console.log('Hello World');
    return { msg: 'Hello World' };
}
"""
RECORD_WAIT_S = 60.0
ACTIVATION_ID = re.compile(r"with id ([0-9a-f]{32})$")


class SmokeError(Exception):
    """A step of the workflow did not answer as the seed shows."""


def wsk_command() -> list[str]:
    """The project's `wsk` beside this interpreter (the virtualenv), else the module."""
    script = Path(sys.executable).with_name("wsk")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "whisk_services.cli.wsk.main"]


class Workflow:
    """Runs `wsk -i` with one properties file and remembers what to delete."""

    def __init__(self, wskprops: Path, workdir: Path) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("WSK_")}
        self.env["WSK_CONFIG_FILE"] = str(wskprops)
        self.workdir = workdir
        self.made: list[tuple[str, str]] = []

    def wsk(self, *args: str) -> str:
        command = [*wsk_command(), "-i", *args]
        done = subprocess.run(
            command,
            env=self.env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        shown = " ".join(["wsk", "-i", *args])
        if done.returncode != 0:
            raise SmokeError(f"`{shown}` exited {done.returncode}: {done.stderr.strip()}")
        print(f"$ {shown}\n{done.stdout.rstrip()}")
        return done.stdout

    def expect(self, args: Sequence[str], line: str) -> str:
        out = self.wsk(*args)
        if not out.startswith(line):
            raise SmokeError(f"`wsk -i {' '.join(args)}` printed {out!r}, not {line!r}...")
        return out

    def record(self, activation_id: str) -> Any:
        """The activation's record, polled until it is stored."""
        deadline = time.monotonic() + RECORD_WAIT_S
        command = [*wsk_command(), "-i", "activation", "get", activation_id]
        while True:
            done = subprocess.run(
                command, env=self.env, capture_output=True, text=True, timeout=60, check=False
            )
            if done.returncode == 0:
                text = done.stdout
                return json.loads(text[text.index("{") :])
            if time.monotonic() > deadline:
                raise SmokeError(f"no record of activation {activation_id} after 60 s")
            time.sleep(0.5)

    def cleanup(self) -> None:
        for kind, name in reversed(self.made):
            subprocess.run(
                [*wsk_command(), "-i", kind, "delete", name],
                env=self.env,
                capture_output=True,
                timeout=60,
                check=False,
            )


def run(flow: Workflow, suffix: str) -> None:
    action, trigger, rule = (f"hello{kind}-{suffix}" for kind in ("Action", "Trigger", "Rule"))
    (flow.workdir / "hello.js").write_text(HELLO_JS)
    flow.made.append(("action", action))
    flow.expect(["action", "create", action, "hello.js"], f"ok: created action {action}\n")
    flow.made.append(("trigger", trigger))
    flow.expect(["trigger", "create", trigger], f"ok: created trigger {trigger}\n")
    flow.made.append(("rule", rule))
    flow.expect(["rule", "create", rule, trigger, action], f"ok: created rule {rule}\n")
    fired = flow.expect(["trigger", "fire", trigger], f"ok: triggered /guest/{trigger} with id ")
    invoked = flow.expect(["action", "invoke", action], f"ok: invoked /guest/{action} with id ")
    invoke_id = ACTIVATION_ID.search(invoked.strip())
    trigger_id = ACTIVATION_ID.search(fired.strip())
    if invoke_id is None or trigger_id is None:
        raise SmokeError("an activation id is not 32 lowercase hex digits")
    ran = flow.record(invoke_id.group(1))
    if ran.get("response", {}).get("result") != {"msg": "Hello World"}:
        raise SmokeError(f"the invoke's record holds {ran.get('response')}")
    summary = flow.expect(
        ["activation", "get", "--summary", invoke_id.group(1)],
        f"activation result for /guest/{action} (success at ",
    )
    if json.loads(summary[summary.index("{") :]) != {"msg": "Hello World"}:
        raise SmokeError(f"the summary shows {summary!r}")
    # The rule ran the action too: the trigger's record names its activation.
    fired_record = flow.record(trigger_id.group(1))
    logs = [json.loads(line) for line in fired_record.get("logs", [])]
    rule_ids = [entry.get("activationId") for entry in logs if entry.get("success")]
    if len(rule_ids) != 1:
        raise SmokeError(f"the trigger's record lists {logs}, not one activated rule")
    by_rule = flow.record(str(rule_ids[0]))
    if by_rule.get("response", {}).get("result") != {"msg": "Hello World"}:
        raise SmokeError(f"the rule's activation holds {by_rule.get('response')}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wskprops", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="leave what the workflow made")
    options = parser.parse_args(argv)
    wskprops = options.wskprops or Path(os.environ.get("WSK_CONFIG_FILE", ROOT / ".wskprops"))
    if not wskprops.is_file():
        print(f"smoke: no {wskprops}: bring the platform up first", file=sys.stderr)
        return 1
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="whisk-smoke-") as workdir:
        flow = Workflow(wskprops.resolve(), Path(workdir))
        try:
            run(flow, secrets.token_hex(4))
        except (SmokeError, subprocess.TimeoutExpired) as failure:
            print(f"smoke: FAILED: {failure}", file=sys.stderr)
            return 1
        finally:
            if not options.keep:
                flow.cleanup()
    print(f"smoke: the seed's workflow passed in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
