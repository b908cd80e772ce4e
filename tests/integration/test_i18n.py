#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Under LANG=fr_FR.UTF-8 the programs speak French: claude-failoverctl's
help, a usage error and `status` against the real daemon; the daemon's
Telegram and e-mail notifications of a failed task (to loopback fake
servers, as test_notify.py); and the built polkit policy and .desktop file
carry the French messages merged from po/fr.po; the desktop notifier's
notifications of a switch are French too. The same commands under
C.UTF-8 stay English, so the French comes from the catalogue and the locale.

The uninstalled binaries find the build tree's catalogue
(<build>/po/fr/LC_MESSAGES/claude-failover.mo) through CF_LOCALEDIR, which
cf_i18n_init() uses instead of the configured LOCALEDIR when it is set."""

import json
import os
import subprocess
import sys
import time
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Sandbox, build_dir, require, require_programs, has_failed  # noqa: E402
from test_notify import FakeApi  # noqa: E402

BUILD = build_dir()
NBSP = "\u00a0"  # fr.po puts a no-break space before ':', ';', '?', '!' and inside « »
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def french_locale_installed():
    r = subprocess.run(["locale", "-a"], capture_output=True, text=True)
    return any(name.lower().replace("-", "") == "fr_fr.utf8" for name in r.stdout.split())


def setUpModule():
    require_programs("dbus-daemon", "tmux", "busctl", "locale")
    require(french_locale_installed(),
            "the fr_FR.UTF-8 locale is not generated (scripts/setup generates it)")
    mo = os.path.join(BUILD, "po", "fr", "LC_MESSAGES", "claude-failover.mo")
    if not os.path.isfile(mo):
        raise AssertionError(f"{mo} was not built")


def lang_env(sb, lang, **extra):
    return sb.env(LANG=lang, LC_ALL=lang, LANGUAGE=None,
                  CF_LOCALEDIR=os.path.join(BUILD, "po"), **extra)


class FrenchTest(unittest.TestCase):
    def setUp(self):
        self.sb = Sandbox(self.id().rsplit(".", 1)[-1])
        self.addCleanup(self._close)
        self.fakes = []

    def _close(self):
        if has_failed(self):
            self.sb.dump_logs(60)
        self.sb.close()
        for fake in self.fakes:
            fake.close()

    def fr(self, **extra):
        return lang_env(self.sb, "fr_FR.UTF-8", **extra)

    def c(self, **extra):
        return lang_env(self.sb, "C.UTF-8", **extra)

    def test_ctl_help_and_usage_error(self):
        sb = self.sb
        r = sb.ctl("--help", env=self.fr())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"Utilisation{NBSP}: claude-failoverctl [--json] COMMANDE", r.stdout)
        self.assertIn(f"Consultation{NBSP}:", r.stdout)
        self.assertIn("Liste les sessions", r.stdout)
        self.assertNotIn("Usage:", r.stdout)
        self.assertNotIn("List the sessions", r.stdout)

        r = sb.ctl("frobnicate", env=self.fr())
        self.assertEqual(r.returncode, 2)
        self.assertIn(f"commande «{NBSP}frobnicate{NBSP}» inconnue", r.stderr)
        self.assertNotIn("unknown command", r.stderr)

        # Option help lines up in columns, also after a non-ASCII argument name.
        r = sb.ctl("submit", "--help", env=self.fr())
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        title = next(line for line in lines if line.startswith("  --title TITRE"))
        priority = next(line for line in lines if line.startswith("  --priority PRIORITÉ"))
        self.assertEqual(title.index("le titre"), priority.index("critical"), r.stdout)

        r = sb.ctl("submit", "proj", env=self.fr())
        self.assertEqual(r.returncode, 2)
        self.assertIn("--title manquant", r.stderr)

        # The control: the same binary and catalogue in the C locale.
        r = sb.ctl("frobnicate", env=self.c())
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown command 'frobnicate'", r.stderr)
        r = sb.ctl("--help", env=self.c())
        self.assertIn("Usage: claude-failoverctl [--json] COMMAND", r.stdout)

    def test_status_and_notifications_in_french(self):
        sb = self.sb
        sb.start_bus()
        sb.start_tmux()
        telegram, resend = FakeApi(), FakeApi()
        self.fakes += [telegram, resend]
        sb.write_config({
            "pool": {"autonomous": {"min": 1, "max": 1}},
            "dispatcher": {"max_dispatch_per_task": 1, "cooldown_schedule": [0]},
            "notifications": {"telegram_url": telegram.url, "resend_url": resend.url,
                              "email_from": "claude-failover <cf@example.org>"},
        })
        sb.start_daemon(env=self.fr(TELEGRAM_BOT_TOKEN="1:tok", TELEGRAM_CHAT_ID="42",
                                    RESEND_API_KEY="re_key",
                                    BETAWATCH_NOTIFY_EMAIL="op@example.org"))
        sb.wait_for(lambda: any(s[2] == "idle" for s in sb.get_property("Sessions")),
                    timeout=20, what="an idle pool session")

        r = sb.ctl("status", env=self.fr())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"Compte actif{NBSP}:", r.stdout)
        self.assertIn(f"Répartition{NBSP}:", r.stdout)
        self.assertIn("en cours", r.stdout)
        self.assertNotIn("Active account:", r.stdout)
        r = sb.ctl("status", env=self.c())
        self.assertIn("Active account:", r.stdout)

        sb.add_task("doomed", "FAKE:crash")
        sb.wait_for(lambda: telegram.recorded() and resend.recorded(), timeout=60,
                    what="both notifications")
        time.sleep(0.3)
        text = json.loads(telegram.recorded()[0]["body"])["text"]
        self.assertTrue(text.startswith(
            f"<b>La tâche doomed a échoué</b>\nProjet{NBSP}: {sb.project_dir}\n"
            f"Dernière session{NBSP}: ccl-auto-0\n"), text)
        self.assertIn("claude-failover sur ", text)
        self.assertNotIn("failed", text.replace("/failed/", "/"))
        self.assertNotIn("Project:", text)

        mail = json.loads(resend.recorded()[0]["body"])
        self.assertEqual(mail["subject"], "[claude-failover] La tâche doomed a échoué")
        self.assertIn(f"Projet{NBSP}: ", mail["html"])
        self.assertNotIn("Last session", mail["html"])

    def test_desktop_notifier_in_french(self):
        """The notifier's GNotification, through dbusmock's notification_daemon
        (as test_notifier.py), after a switch requested on the bus."""
        import test_notifier as tn  # exits 77 (skip) without python3-dbusmock
        sb = self.sb
        sb.start_bus()
        sb.start_tmux()
        desktop = tn.SessionDesktop(sb)
        self.addCleanup(desktop.close)
        # A switch with idle sessions is quick: let the server answer slowly
        # so that both notifications are recorded in order.
        desktop.slow_down(0.5)
        sb.write_config({"pool": {"autonomous": {"min": 1, "max": 1}}})
        sb.start_daemon(env=self.fr())
        sb.wait_for(lambda: any(s[2] == "idle" for s in sb.get_property("Sessions")),
                    timeout=30, what="an idle pool session")
        log = os.path.join(sb.root, "notifier.log")
        sb.spawn([tn.NOTIFIER_PATH], log_path=log,
                 env=self.fr(DBUS_SESSION_BUS_ADDRESS=desktop.address,
                             G_MESSAGES_DEBUG="claude-failover-notifier"))

        def notifier_log():
            with open(log, encoding="utf-8", errors="replace") as f:
                return f.read()
        sb.wait_for(lambda: tn.NOTIFIER_READY in notifier_log(),
                    timeout=30, what="the notifier following the daemon")

        r = sb.gdbus("call", "--dest", tn.BUS_NAME, "--object-path", tn.OBJECT_PATH, "--method",
                     "org.claudefailover.Manager.SwitchAccount", "backup", check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        started = desktop.wait("Changement de compte Claude de main vers backup")
        self.assertIn("Un opérateur a demandé ce changement.", started.body)
        finished = desktop.wait("Compte Claude backup désormais utilisé", after=started)
        self.assertIn("Passé de main à backup.", finished.body)
        self.assertIn("changement de main vers backup", finished.body)  # the daemon's text
        self.assertIsNotNone(finished.action_key("Revenir maintenant"), finished)
        for n in desktop.notifications():
            for english in ("Switching", "Now using", "Switch back now", "An operator"):
                self.assertNotIn(english, n.summary + n.body + " ".join(n.actions))

    def test_policy_and_desktop_file_are_translated(self):
        policy = ET.parse(os.path.join(BUILD, "data", "org.claudefailover.policy"))
        actions = policy.getroot().findall("action")
        self.assertGreaterEqual(len(actions), 3)
        for action in actions:
            for tag in ("description", "message"):
                langs = {e.get(XML_LANG): e.text for e in action.findall(tag)}
                self.assertIn("fr", langs, f"{action.get('id')} has no French {tag}")
                self.assertNotEqual(langs["fr"], langs[None])
        switch = policy.getroot().find("action[@id='org.claudefailover.switch-account']")
        self.assertEqual(
            [e.text for e in switch.findall("message") if e.get(XML_LANG) == "fr"],
            ["Une authentification est nécessaire pour changer le compte Claude utilisé "
             "par le groupe de sessions"])

        with open(os.path.join(BUILD, "data", "claude-failover-notifier.desktop"),
                  encoding="utf-8") as f:
            desktop = f.read().splitlines()
        self.assertIn("Name[fr]=Notifications de Claude Failover", desktop)
        self.assertTrue(any(line.startswith("Comment[fr]=Notifications de bureau")
                            for line in desktop), desktop)


if __name__ == "__main__":
    unittest.main(verbosity=2)
