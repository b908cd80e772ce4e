#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Project directory names holding control bytes (issue 18, break 6).

A name with C-u or C-c broke out of the quoted `cd` the daemon typed into
the pool session and ran the rest of the name as a shell command. Here one
project per control byte (0x01-0x1f and 0x7f) gets a name built to break out
the same way (the byte, then `cd; touch cf-broke-out-XX`), and a task.
Wanted for every byte:
- no shell command from a name ever runs (no cf-broke-out-* file anywhere);
- the task is done: such a name is legal, and refusing its tasks would let
  whoever names a project deny it service (a refusal is still reported);
- a Claude started for it starts in exactly that project directory, and the
  only prompt that reaches it is the task's own message.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SandboxTestCase, settled_task_places  # noqa: E402

CONTROL_BYTES = list(range(0x01, 0x20)) + [0x7f]
CANARY = "cf-broke-out-"


def project_name(byte):
    c = chr(byte)
    return f"ctl-{byte:02x}-{c}x; cd; touch {CANARY}{byte:02x}; {c}cd; touch {CANARY}{byte:02x}b #"


def task_id(byte):
    return f"ctl-task-{byte:02x}"


class ControlByteProjectsTest(SandboxTestCase):
    LOG_LINES = 80

    def canaries(self):
        found = []
        for top, _, files in os.walk(self.sb.root):
            found += [os.path.join(top, f) for f in files if f.startswith(CANARY)]
        return found

    def test_every_control_byte_in_a_project_name(self):
        sb = self.sb
        sb.write_config({"pool": {"autonomous": {"min": 2, "max": 4}},
                         "dispatcher": {"cooldown_schedule": [0, 1, 1],
                                        "prompt_timeout": "3s"}})
        projects = {}
        for byte in CONTROL_BYTES:
            path = os.path.join(sb.projects_dir, project_name(byte))
            for sub in ("inbox", "active", "done", "failed"):
                os.makedirs(os.path.join(path, ".agent-queue", sub), exist_ok=True)
            projects[byte] = path
        sb.start_daemon()
        for byte, path in projects.items():
            sb.add_task(task_id(byte), f"FAKE:work=50 the task of project {byte:02x}",
                        project=path)

        def settled():
            for byte, path in projects.items():
                places = settled_task_places(path, [task_id(byte)])[task_id(byte)]
                if places not in (["done"], ["failed"]):
                    return False
            return True
        try:
            sb.wait_for(settled, timeout=240, interval=1, what="every task done or failed")
        finally:
            self.assertEqual(self.canaries(), [], "a shell command from a project name ran")

        by_cwd = {}
        for event in sb.fake_log():
            if event["event"] == "start":
                by_cwd.setdefault(event["cwd"], []).append(event)
        known = set(projects.values())
        strays = [cwd for cwd in by_cwd if cwd not in known]
        self.assertEqual(strays, [], "Claude started outside the task's project")

        prompts = [e for e in sb.fake_log() if e["event"] in ("prompt", "queued")]
        for byte, path in projects.items():
            places = settled_task_places(path, [task_id(byte)])[task_id(byte)]
            mine = [e for e in prompts if f"[{task_id(byte)}]" in e["text"]]
            if places == ["done"]:
                self.assertIn(path, by_cwd, f"byte {byte:02x}: done without a Claude in it")
                self.assertTrue(mine, f"byte {byte:02x}: done without its prompt")
            else:
                self.assertIn(task_id(byte), sb.daemon_log(),
                              f"byte {byte:02x}: failed without a reason in the log")
            for event in mine:
                self.assertIn(f"the task of project {byte:02x}", event["text"])
                self.assertNotIn(CANARY, event["text"])
        not_done = [f"{byte:02x}" for byte, path in projects.items()
                    if settled_task_places(path, [task_id(byte)])[task_id(byte)] != ["done"]]
        self.assertEqual(not_done, [], "tasks not done in projects named with these bytes")
        # Nothing but task messages was ever submitted as a prompt.
        for event in prompts:
            self.assertRegex(event["text"], r"^\[ctl-task-[0-9a-f]{2}\] FAKE:work=50 the task",
                             "a prompt that is not a task's message reached a session")
        self.assertIsNone(sb.daemon.poll())


if __name__ == "__main__":
    unittest.main(verbosity=2)
