#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The French translation stays complete: the template is regenerated from the
sources with the build's own pot target (xgettext over po/POTFILES.in),
po/fr.po merged with it has no untranslated and no fuzzy message, and msgfmt
--check accepts it (every format string matches its msgid's). POTFILES.in
lists every source file with translatable strings, and no msgid is cut short
by a macro pasted after a string literal inside _() (xgettext stops there)."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import build_dir, require_programs, source_dir  # noqa: E402

SRC = source_dir()
BUILD = build_dir()
PO_DIR = os.path.join(SRC, "po")

# A call of a gettext marker, and C comments (which may mention N_() in prose).
MARKER = re.compile(r"(?<![A-Za-z0-9_])(?:_|N_|C_|NC_|g_dngettext|ngettext|g_dpgettext2)\s*\(")
COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
STRING = r'"(?:[^"\\\n]|\\.)*"'
# _("text" MACRO …: the string literal is followed by an identifier, not by
# another literal, ',' or ')'.
PASTED = re.compile(r"(?<![A-Za-z0-9_])(?:_|N_)\s*\(\s*(?:" + STRING + r"\s*)+([A-Za-z_][A-Za-z0-9_]*)")


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, **kw)


def msgids(po_path, *msgattrib_args):
    r = run(["msgattrib", "--no-wrap", *msgattrib_args, po_path])
    if r.returncode != 0:
        raise AssertionError(f"msgattrib {' '.join(msgattrib_args)} failed: {r.stderr}")
    return [m for m in re.findall(r'^msgid "(.*)"$', r.stdout, re.M) if m]


class PoTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_programs("ninja", "xgettext", "msgmerge", "msgattrib", "msgfmt")
        cls.tmp = tempfile.mkdtemp(prefix="cf-i18n-po-")
        # The build's pot target, exactly as maintainers run it; it writes the
        # (gitignored) po/claude-failover.pot, copied at once.
        r = run(["ninja", "-C", BUILD, "claude-failover-pot"])
        if r.returncode != 0:
            raise AssertionError(f"ninja claude-failover-pot failed:\n{r.stdout}\n{r.stderr}")
        cls.pot = os.path.join(cls.tmp, "claude-failover.pot")
        shutil.copy(os.path.join(PO_DIR, "claude-failover.pot"), cls.pot)
        # fr.po as msgmerge would update it: new msgids untranslated,
        # changed ones fuzzy. The source tree's fr.po is not touched.
        cls.merged = os.path.join(cls.tmp, "fr.po")
        r = run(["msgmerge", "--quiet", "-o", cls.merged, os.path.join(PO_DIR, "fr.po"), cls.pot])
        if r.returncode != 0:
            raise AssertionError(f"msgmerge failed: {r.stderr}")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_template_has_the_known_messages(self):
        with open(self.pot, encoding="utf-8") as f:
            pot = f.read()
        # One msgid from each kind of source: CLI, daemon notification,
        # notifier, polkit policy, .desktop file.
        for msgid in ("missing COMMAND", "Task %s failed", "Switch back now",
                      "Control the Claude session pool", "Claude Failover Notifications"):
            self.assertIn(f'msgid "{msgid}"', pot)
        self.assertGreater(len(msgids(self.pot)), 400)

    def test_french_is_complete(self):
        untranslated = msgids(self.merged, "--untranslated", "--no-obsolete")
        fuzzy = msgids(self.merged, "--only-fuzzy", "--no-obsolete")
        self.assertEqual(untranslated, [], "untranslated in po/fr.po (msgmerge, then translate):\n  "
                         + "\n  ".join(untranslated))
        self.assertEqual(fuzzy, [], "fuzzy in po/fr.po once merged with the sources:\n  "
                         + "\n  ".join(fuzzy))

    def test_msgfmt_check(self):
        for path in (os.path.join(PO_DIR, "fr.po"), self.merged):
            r = run(["msgfmt", "--check", "--statistics", "-o", "/dev/null", path])
            self.assertEqual(r.returncode, 0, f"msgfmt --check {path}:\n{r.stderr}")
            self.assertRegex(r.stderr, r"^\d+ translated messages\.\n?$", r.stderr)

    def test_potfiles_lists_every_translatable_source(self):
        with open(os.path.join(PO_DIR, "POTFILES.in"), encoding="utf-8") as f:
            listed = {line.strip() for line in f
                      if line.strip() and not line.lstrip().startswith("#")}
        for path in sorted(listed):
            self.assertTrue(os.path.isfile(os.path.join(SRC, path)),
                            f"POTFILES.in lists {path}, which does not exist")
        wanted = set()
        for top in ("src", "data"):
            for dirpath, _, files in os.walk(os.path.join(SRC, top)):
                for name in files:
                    rel = os.path.relpath(os.path.join(dirpath, name), SRC)
                    if name.endswith((".desktop.in", ".policy.in")):
                        wanted.add(rel)
                    elif name.endswith((".c", ".h")):
                        with open(os.path.join(SRC, rel), encoding="utf-8") as f:
                            if MARKER.search(COMMENT.sub("", f.read())):
                                wanted.add(rel)
        self.assertEqual(sorted(wanted - listed), [],
                         "files with translatable strings missing from po/POTFILES.in")

    def test_no_macro_pasted_into_a_msgid(self):
        bad = []
        for dirpath, _, files in os.walk(os.path.join(SRC, "src")):
            for name in files:
                if not name.endswith((".c", ".h")):
                    continue
                path = os.path.join(dirpath, name)
                with open(path, encoding="utf-8") as f:
                    text = COMMENT.sub("", f.read())
                for m in PASTED.finditer(text):
                    line = text.count("\n", 0, m.start()) + 1
                    bad.append(f"{os.path.relpath(path, SRC)}:{line}: {m.group(1)}")
        self.assertEqual(bad, [], "a macro after a string literal inside _()/N_() cuts the "
                         "msgid short (use %s, or a plain printf format such as %lu)")


if __name__ == "__main__":
    unittest.main(verbosity=2)
