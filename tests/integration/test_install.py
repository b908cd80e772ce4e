#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""`meson install --destdir` of the build under test: exactly the files of
tests/fixtures/install-files.txt, and each installed file accepted by the
program that reads it — man renders every page without a warning, systemd
verifies the units as installed (their ExecStart= and Documentation= pages
resolved in the DESTDIR), the desktop files, polkit policy and D-Bus files
validate, the catalogue is French, the sysusers.d/tmpfiles.d lines create
the service user and its home (and leave existing ones alone)."""

import gettext
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

BUILD = harness.build_dir()
SOURCE = harness.source_dir()
EXPECTED = os.path.join(SOURCE, "tests", "fixtures", "install-files.txt")
POLKIT_DTD = "/usr/share/polkit-1/policyconfig-1.dtd"
# The fixture describes these directory options at their defaults.
DEFAULT_DIRS = {"bindir": "bin", "sbindir": "sbin", "datadir": "share",
                "mandir": "share/man", "localedir": "share/locale"}
REFERENCE_UNIT_DIR = "/lib/systemd/system"

harness.require(os.path.isfile(os.path.join(BUILD, "meson-info", "intro-buildoptions.json")),
                f"{BUILD} is not a configured meson build directory")
harness.require(shutil.which("meson") is not None, "meson not installed")


def _meson_info(name):
    with open(os.path.join(BUILD, "meson-info", name)) as f:
        return json.load(f)


OPTIONS = {o["name"]: o["value"] for o in _meson_info("intro-buildoptions.json")}
VERSION = _meson_info("intro-projectinfo.json")["version"]
PREFIX = OPTIONS["prefix"]
SERVICE_USER = OPTIONS.get("service_user", "claude")

nondefault = {k: OPTIONS.get(k) for k, v in DEFAULT_DIRS.items() if OPTIONS.get(k) != v}
harness.require(not nondefault,
                f"the expected file list is for the default directory options, not {nondefault}")


def unit_dir():
    """The systemd unit directory meson.build asked pkg-config for."""
    try:
        r = subprocess.run(["pkg-config", f"--define-variable=prefix={PREFIX}",
                            "--variable=systemdsystemunitdir", "systemd"],
                           capture_output=True, text=True, timeout=30)
    except OSError:
        return REFERENCE_UNIT_DIR
    return r.stdout.strip() or REFERENCE_UNIT_DIR


def canonical(path):
    """An installed path (relative to DESTDIR, leading /) as it would be with
    --prefix=/usr and systemd.pc's unit directory on Debian 12."""
    sysconf = OPTIONS["sysconfdir"]
    if not os.path.isabs(sysconf):
        sysconf = os.path.join(PREFIX, sysconf)
    units = unit_dir()
    for actual, reference in ((units, REFERENCE_UNIT_DIR), (sysconf, "/etc"), (PREFIX, "/usr")):
        if path.startswith(actual.rstrip("/") + "/"):
            return reference + path[len(actual.rstrip("/")):]
    return path


def expected_files():
    with open(EXPECTED, encoding="utf-8") as f:
        return [line.strip() for line in f
                if line.strip() and not line.lstrip().startswith("#")]


def ignored_output(output, *names):
    """Lines of a tool's output that are about one of NAMES (paths, units)."""
    return [line for line in output.splitlines() if any(n in line for n in names)]


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="cf-install-")
        cls.dest = os.path.join(cls.tmp.name, "dest")
        # --no-rebuild: meson test has built everything; a missing output is
        # a missing file in the list, not something to build here.
        r = subprocess.run(["meson", "install", "-C", BUILD, "--no-rebuild", "--quiet",
                            "--destdir", cls.dest],
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            raise AssertionError(f"meson install failed:\n{r.stdout}\n{r.stderr}")
        cls.files = {}
        for root, dirs, names in os.walk(cls.dest):
            for name in names + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
                full = os.path.join(root, name)
                cls.files[canonical("/" + os.path.relpath(full, cls.dest))] = full

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def installed(self, path):
        """The DESTDIR copy of a file of the expected list."""
        self.assertIn(path, self.files, f"{path} not installed")
        return self.files[path]

    def under(self, directory):
        return sorted(p for p in self.files if p.startswith(directory + "/"))

    # --- the list -----------------------------------------------------------

    def test_file_list(self):
        expected = expected_files()
        self.assertEqual(expected, sorted(expected), f"{EXPECTED} is not sorted")
        missing = sorted(set(expected) - set(self.files))
        unexpected = sorted(set(self.files) - set(expected))
        self.assertEqual((missing, unexpected), ([], []),
                         f"missing from the install: {missing}\n"
                         f"installed but not in {EXPECTED}: {unexpected}")

    def test_programs_run_from_the_install(self):
        programs = self.under("/usr/bin") + self.under("/usr/sbin")
        self.assertEqual(len(programs), 4, programs)
        for path in programs:
            with self.subTest(program=path):
                full = self.files[path]
                self.assertTrue(os.access(full, os.X_OK), f"{path} is not executable")
                r = subprocess.run([full, "--version"], capture_output=True, text=True,
                                   timeout=30, stdin=subprocess.DEVNULL,
                                   env=dict(os.environ, LC_ALL="C"))
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stdout.strip(), f"{os.path.basename(path)} {VERSION}")

    # --- manual pages -------------------------------------------------------

    def render_warnings(self, page):
        """Warnings of man(1) at 80 columns and of groff with every warning on."""
        env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
        for name in ("MANPAGER", "PAGER", "MAN_KEEP_FORMATTING", "MANOPT"):
            env.pop(name, None)
        man = subprocess.run(["man", "-l", "--warnings", page], capture_output=True,
                             text=True, env=env, timeout=60, stdin=subprocess.DEVNULL)
        # Overstrike bold/underline, when man keeps it for a pipe.
        man.stdout = re.sub(r".\x08", "", man.stdout)
        groff = subprocess.run(["groff", "-man", "-ww", "-z", page], capture_output=True,
                               text=True, timeout=60)
        return man, (man.stderr + groff.stderr).strip()

    def test_man_pages_render_without_warnings(self):
        harness.require_programs("man", "groff")
        pages = [p for p in self.files if re.match(r"/usr/share/man/man\d/", p)]
        self.assertEqual(len(pages), 5, pages)
        for path in sorted(pages):
            with self.subTest(page=path):
                man, warnings = self.render_warnings(self.files[path])
                self.assertEqual(man.returncode, 0, man.stderr)
                self.assertEqual(warnings, "", f"{path}:\n{warnings}")
                # The page names itself (NAME section) and has a synopsis or
                # description to read.
                name = os.path.basename(path).rsplit(".", 1)[0]
                self.assertRegex(man.stdout, r"(?m)^NAME\s*$")
                self.assertIn(name, man.stdout)
                self.assertRegex(man.stdout, r"(?m)^(SYNOPSIS|DESCRIPTION)\s*$")

    def test_render_check_sees_warnings(self):
        """The check above can fail: a page with an unknown macro warns."""
        harness.require_programs("man", "groff")
        bad = os.path.join(self.tmp.name, "bad.1")
        with open(bad, "w") as f:
            f.write(".TH BAD 1\n.SH NAME\nbad \\- broken page\n.NOSUCHMACRO x\n")
        _, warnings = self.render_warnings(bad)
        self.assertIn("NOSUCHMACRO", warnings)

    # --- systemd, D-Bus, polkit, desktop files -------------------------------

    def test_units_verify_as_installed(self):
        harness.require_programs("systemd-analyze", "man")
        service = self.installed(REFERENCE_UNIT_DIR + "/claude-failover.service")
        socket = self.installed(REFERENCE_UNIT_DIR + "/claude-failover.socket")
        daemon = self.installed("/usr/sbin/claude-failoverd")
        sbin_daemon = os.path.join(PREFIX, "sbin", "claude-failoverd")
        units = os.path.join(self.tmp.name, "units")
        os.makedirs(units, exist_ok=True)
        # verify checks that ExecStart= exists: the one rewrite is the daemon's
        # path, to its DESTDIR copy. Documentation=man:… is resolved through
        # MANPATH in the DESTDIR, so the installed page must be there.
        with open(service, encoding="utf-8") as f:
            text = f.read()
        self.assertIn(f"ExecStart={sbin_daemon}\n", text)
        with open(os.path.join(units, "claude-failover.service"), "w") as f:
            f.write(text.replace(f"ExecStart={sbin_daemon}\n", f"ExecStart={daemon}\n"))
        shutil.copy(socket, units)
        env = dict(os.environ, SYSTEMD_UNIT_PATH=units + ":", SYSTEMD_LOG_LEVEL="notice",
                   MANPATH=os.path.join(self.dest, PREFIX.lstrip("/"), "share", "man"))
        r = subprocess.run(["systemd-analyze", "verify",
                            os.path.join(units, "claude-failover.service"),
                            os.path.join(units, "claude-failover.socket")],
                           capture_output=True, text=True, env=env, cwd=units, timeout=120)
        output = r.stdout + r.stderr
        self.assertEqual(r.returncode, 0, output)
        self.assertEqual(ignored_output(output, "claude-failover", units), [], output)

    def test_verify_sees_a_missing_manual(self):
        """The Documentation= check is real: without the pages it fails."""
        harness.require_programs("systemd-analyze", "man")
        units = os.path.join(self.tmp.name, "units-noman")
        os.makedirs(units, exist_ok=True)
        shutil.copy(self.installed(REFERENCE_UNIT_DIR + "/claude-failover.socket"), units)
        empty = os.path.join(self.tmp.name, "no-man")
        os.makedirs(empty, exist_ok=True)
        env = dict(os.environ, SYSTEMD_UNIT_PATH=units + ":", MANPATH=empty)
        r = subprocess.run(["systemd-analyze", "verify",
                            os.path.join(units, "claude-failover.socket")],
                           capture_output=True, text=True, env=env, cwd=units, timeout=120)
        self.assertIn("claude-failoverd(8)", r.stdout + r.stderr)

    def test_dbus_activation_matches_the_install(self):
        path = self.installed("/usr/share/dbus-1/system-services/org.claudefailover.service")
        with open(path, encoding="utf-8") as f:
            keys = dict(line.strip().split("=", 1) for line in f
                        if "=" in line and not line.startswith("#"))
        self.assertEqual(keys["Name"], "org.claudefailover")
        self.assertEqual(keys["User"], SERVICE_USER)
        self.assertIn(REFERENCE_UNIT_DIR + "/" + keys["SystemdService"], self.files)
        self.assertEqual(canonical(keys["Exec"]), "/usr/sbin/claude-failoverd")

    def test_xml_files(self):
        harness.require_programs("xmllint")
        if not os.path.exists(POLKIT_DTD):
            self.skipTest(f"{POLKIT_DTD} missing (polkitd not installed)")
        # The policy names polkit's DTD by URL: a catalogue points xmllint at
        # the local copy, so --valid checks it against its own DOCTYPE offline.
        catalog = os.path.join(self.tmp.name, "catalog.xml")
        with open(catalog, "w") as f:
            f.write('<?xml version="1.0"?>\n'
                    '<catalog xmlns="urn:oasis:names:tc:entity:xmlns:xml:catalog">\n'
                    '  <system systemId="http://www.freedesktop.org/software/polkit/'
                    f'policyconfig-1.dtd" uri="file://{POLKIT_DTD}"/>\n</catalog>\n')
        checks = [
            # Well-formed: the public busconfig DTD predates send_destination
            # (dbus-daemon loading it is in test_data_files.py).
            ("/usr/share/dbus-1/system.d/org.claudefailover.conf", []),
            ("/usr/share/dbus-1/interfaces/org.claudefailover.Manager.xml", []),
            ("/usr/share/polkit-1/actions/org.claudefailover.policy", ["--valid"]),
        ]
        for path, extra in checks:
            with self.subTest(file=path):
                r = subprocess.run(["xmllint", "--noout", "--nonet", *extra, self.installed(path)],
                                   capture_output=True, text=True, timeout=60,
                                   env=dict(os.environ, XML_CATALOG_FILES=catalog))
                self.assertEqual((r.returncode, r.stderr), (0, ""), path)

    def test_desktop_files(self):
        harness.require_programs("desktop-file-validate")
        desktops = [p for p in self.files if p.endswith(".desktop")]
        self.assertEqual(len(desktops), 2, desktops)
        for path in desktops:
            with self.subTest(file=path):
                r = subprocess.run(["desktop-file-validate", self.files[path]],
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual((r.returncode, (r.stdout + r.stderr).strip()), (0, ""), path)
                with open(self.files[path], encoding="utf-8") as f:
                    execs = re.findall(r"(?m)^Exec=(\S+)", f.read())
                self.assertEqual([canonical(e) for e in execs], ["/usr/bin/claude-failover-notifier"])

    # --- translations -------------------------------------------------------

    def test_catalogue_is_french(self):
        localedir = os.path.dirname(os.path.dirname(os.path.dirname(
            self.installed("/usr/share/locale/fr/LC_MESSAGES/claude-failover.mo"))))
        # Where the programs look (LOCALEDIR) under the DESTDIR.
        t = gettext.translation("claude-failover", localedir=localedir, languages=["fr"])
        self.assertEqual(t.info().get("language"), "fr")
        translated = harness.po_translations(os.path.join(SOURCE, "po", "fr.po"))
        if not translated:
            self.skipTest("po/fr.po has no translated entries yet")
        for msgid, msgstr in translated.items():
            self.assertEqual(t.gettext(msgid), msgstr, msgid)
        # French, not a copy of the English.
        self.assertTrue(any(s != i for i, s in translated.items()))

    # --- sysusers.d / tmpfiles.d ----------------------------------------------

    def test_sysusers_and_tmpfiles(self):
        harness.require_programs("systemd-sysusers", "systemd-tmpfiles")
        if os.geteuid() != 0:
            self.skipTest("systemd-tmpfiles --root needs root to chown the home")
        sysusers = self.installed("/usr/lib/sysusers.d/claude-failover.conf")
        tmpfiles = self.installed("/usr/lib/tmpfiles.d/claude-failover.conf")
        home = f"/home/{SERVICE_USER}"

        def run(root, *argv):
            r = subprocess.run([argv[0], f"--root={root}", *argv[1:]],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            return r

        def passwd(root):
            with open(os.path.join(root, "etc", "passwd")) as f:
                return {line.split(":")[0]: line.strip().split(":") for line in f}

        # A fresh machine: the user is created with a login shell (tmux runs
        # the sessions in it), then its home, private to it.
        fresh = os.path.join(self.tmp.name, "fresh")
        os.makedirs(os.path.join(fresh, "etc"))
        run(fresh, "systemd-sysusers", sysusers)
        entry = passwd(fresh)[SERVICE_USER]
        self.assertEqual(entry[5:7], [home, "/bin/bash"])
        run(fresh, "systemd-tmpfiles", "--create", tmpfiles)
        st = os.stat(os.path.join(fresh, home.lstrip("/")))
        self.assertTrue(stat.S_ISDIR(st.st_mode))
        self.assertEqual((stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid),
                         (0o700, int(entry[2]), int(entry[3])))

        # An operator's existing user and home: both left exactly as they are.
        existing = os.path.join(self.tmp.name, "existing")
        os.makedirs(os.path.join(existing, "etc"))
        os.makedirs(os.path.join(existing, home.lstrip("/")), mode=0o755)
        os.chmod(os.path.join(existing, home.lstrip("/")), 0o755)
        line = f"{SERVICE_USER}:x:1000:1000:Operator:{home}:/bin/zsh\n"
        with open(os.path.join(existing, "etc", "passwd"), "w") as f:
            f.write("root:x:0:0:root:/root:/bin/bash\n" + line)
        with open(os.path.join(existing, "etc", "group"), "w") as f:
            f.write(f"root:x:0:\n{SERVICE_USER}:x:1000:\n")
        run(existing, "systemd-sysusers", sysusers)
        self.assertEqual(passwd(existing)[SERVICE_USER], line.strip().split(":"))
        run(existing, "systemd-tmpfiles", "--create", tmpfiles)
        st = os.stat(os.path.join(existing, home.lstrip("/")))
        self.assertEqual((stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid), (0o755, 0, 0))


if __name__ == "__main__":
    unittest.main(verbosity=2)
