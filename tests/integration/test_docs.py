#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The docs describe the code that exists (issue 7).

Conventions this test parses (keep them when editing the docs):

docs/dbus-api.md
  - properties: rows of the table under "## Properties":
        | `Name` | `type` | read | yes/no (const) | meaning |
  - methods: a heading "### Method: Name" followed by the lines
        - In: `t name`, `t name` | none
        - Out: `t name` | none
        - polkit: `action.id` | none ...
  - signals: a heading "### Signal: Name" followed by "- Args: `t name`, ..."
  - errors: every backticked org.claudefailover.Error.* name on the page
  - polkit actions: a heading "### Action: id" followed by
        - Defaults: any `X`, inactive `Y`, active `Z`
        - Methods: `Name`, `Name`
docs/configuration.md
  - every row of a table under "## Keys" or "## Legacy keys":
        | `dotted.key` | type | `default` or (required) | live/restart | meaning |
    list items are written `accounts[].name`.
docs/operations.md
  - journal fields: rows "| `CF_FIELD` | ..." under "## Read the journal".

Checked against: data/dbus/org.claudefailover.Manager.xml (names, argument
types and names, property types, access and change emission), the handlers
of src/daemon/control/cf-bus.c (which polkit action each method asks for),
src/lib/cf-names.h (error names, action ids), the polkit policy (actions,
defaults), the field tables of src/lib/cf-config-schema.c (every key, its type),
the real `claude-failoverd --check-config` (a file made of every documented
key with its documented default must be valid; a misspelt key must not),
data/config.example.yaml (same keys, same defaults; it is asserted to load
to the loader's defaults by tests/unit/test-config.c), the generated
claude-failover.yaml(5), and the g_log_structured calls of the daemon and
the notifier (journal fields). Every comparison goes both ways: a
documented name that does not exist fails, and so does an undocumented one.
"""

import importlib.util
import os
import re
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

SOURCE_DIR = os.environ.get("CF_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD_DIR = os.environ.get("CF_BUILD_DIR", os.path.join(SOURCE_DIR, "build"))
DAEMON = os.path.join(BUILD_DIR, "src", "daemon", "claude-failoverd")

DOCS = os.path.join(SOURCE_DIR, "docs")
XML = os.path.join(SOURCE_DIR, "data", "dbus", "org.claudefailover.Manager.xml")
POLICY = os.path.join(SOURCE_DIR, "data", "polkit", "org.claudefailover.policy.in")
NAMES_H = os.path.join(SOURCE_DIR, "src", "lib", "cf-names.h")
BUS_C = os.path.join(SOURCE_DIR, "src", "daemon", "control", "cf-bus.c")
CONFIG_C = os.path.join(SOURCE_DIR, "src", "lib", "cf-config-schema.c")
EXAMPLE = os.path.join(SOURCE_DIR, "data", "config.example.yaml")
GEN_MAN = os.path.join(DOCS, "gen-config-man.py")
MAN_TEMPLATE = os.path.join(DOCS, "claude-failover.yaml.5.in")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def section(text, heading):
    """The text under a '## heading' (or '## N. heading') line, up to the
    next '## ' heading."""
    m = re.search(r"^## (?:\d+\. )?%s[ \t]*\n(.*?)(?=^## |\Z)" % re.escape(heading), text,
                  re.M | re.S)
    if m is None:
        raise AssertionError("no '## %s' section" % heading)
    return m.group(1)


def subsections(text, kind):
    """{name: body} for every '### kind: name' heading."""
    out = {}
    for m in re.finditer(r"^### %s: (\S+)[ \t]*\n(.*?)(?=^##|\Z)" % kind, text, re.M | re.S):
        if m.group(1) in out:
            raise AssertionError("%s %s documented twice" % (kind, m.group(1)))
        out[m.group(1)] = m.group(2)
    return out


def field_line(body, label, where):
    m = re.search(r"^- %s: (.*)$" % re.escape(label), body, re.M)
    if m is None:
        raise AssertionError("%s: no '- %s:' line" % (where, label))
    return m.group(1).strip()


def doc_args(text, where):
    """'`s a`, `as b`' -> [('s', 'a'), ('as', 'b')]; 'none' -> []."""
    if text == "none":
        return []
    spans = re.findall(r"`([^`]*)`", text)
    if not spans or re.sub(r"`[^`]*`|[,\s]", "", text):
        raise AssertionError("%s: cannot read the arguments %r" % (where, text))
    args = []
    for span in spans:
        parts = span.split()
        if len(parts) != 2:
            raise AssertionError("%s: argument %r is not 'TYPE NAME'" % (where, span))
        args.append((parts[0], parts[1]))
    return args


# --- D-Bus --------------------------------------------------------------------

def xml_interface():
    root = ET.parse(XML).getroot()
    iface = root.find("interface[@name='org.claudefailover.Manager']")
    methods, properties, signals = {}, {}, {}
    for m in iface.findall("method"):
        args = m.findall("arg")
        methods[m.get("name")] = (
            [(a.get("type"), a.get("name")) for a in args if a.get("direction", "in") == "in"],
            [(a.get("type"), a.get("name")) for a in args if a.get("direction") == "out"])
    for p in iface.findall("property"):
        emits = "true"
        for a in p.findall("annotation"):
            if a.get("name") == "org.freedesktop.DBus.Property.EmitsChangedSignal":
                emits = a.get("value")
        properties[p.get("name")] = (p.get("type"), p.get("access"), emits)
    for s in iface.findall("signal"):
        signals[s.get("name")] = [(a.get("type"), a.get("name")) for a in s.findall("arg")]
    return methods, properties, signals


def names_h():
    text = read(NAMES_H)
    prefix = re.search(r'#define CF_ERROR_PREFIX "([^"]+)"', text).group(1)
    errors = {prefix + m for m in re.findall(r'#define CF_ERROR_\w+ CF_ERROR_PREFIX "(\w+)"', text)}
    actions = dict(re.findall(r'#define (CF_POLKIT_\w+) "([^"]+)"', text))
    return errors, actions


def c_function_body(text, name):
    m = re.search(r"^%s \(.*?\n\{\n(.*?)^\}" % re.escape(name), text, re.M | re.S)
    if m is None:
        raise AssertionError("cf-bus.c: no function %s" % name)
    return m.group(1)


def bus_polkit_actions():
    """{method: action id, or None for root/own-uid only, or '' for open}
    from the vtable and the handlers of cf-bus.c."""
    text = read(BUS_C)
    _, action_ids = names_h()
    vtable = re.search(r"manager_vtable\[\] = \{(.*?)\n\};", text, re.S).group(1)
    result = {}
    for m in re.finditer(r'SD_BUS_METHOD(?:_WITH_ARGS)?\s*\(\s*"(\w+)"(.*?)\b(method_\w+)', vtable, re.S):
        body = c_function_body(text, m.group(3))
        calls = re.findall(r"authorize_then\s*\((.*?)\);", body, re.S)
        # A handler may authorise through a helper of cf-bus.c that it
        # calls (account_method does for EnableAccount and SwitchAccount).
        for helper in set(re.findall(r"\b(\w+) \(", body)) - {"authorize_then"}:
            if re.search(r"^%s \(" % re.escape(helper), text, re.M):
                calls += re.findall(r"authorize_then\s*\((.*?)\);",
                                    c_function_body(text, helper), re.S)
        if not calls:
            result[m.group(1)] = ""
            continue
        found = set()
        for call in calls:
            args = [a.strip() for a in call.split(",")]
            found.add(args[-2])
        if len(found) != 1:
            raise AssertionError("%s asks for several actions: %s" % (m.group(1), found))
        macro = found.pop()
        result[m.group(1)] = None if macro == "NULL" else action_ids[macro]
    return result


def policy_actions():
    root = ET.parse(POLICY).getroot()
    out = {}
    for action in root.findall("action"):
        d = action.find("defaults")
        out[action.get("id")] = (d.findtext("allow_any"), d.findtext("allow_inactive"),
                                 d.findtext("allow_active"))
    return out


class DBusDocTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.text = read(os.path.join(DOCS, "dbus-api.md"))
        cls.methods, cls.properties, cls.signals = xml_interface()

    def test_properties(self):
        rows = {}
        for m in re.finditer(r"^\| `(\w+)` \| `([^`]+)` \| (\w+) \| ([^|]+?) \|",
                             section(self.text, "Properties"), re.M):
            self.assertNotIn(m.group(1), rows, "property documented twice")
            rows[m.group(1)] = (m.group(2), m.group(3), m.group(4))
        self.assertEqual(set(rows), set(self.properties),
                         "documented properties differ from the introspection XML")
        for name, (type_, access, emits) in rows.items():
            x_type, x_access, x_emits = self.properties[name]
            self.assertEqual(type_, x_type, name)
            self.assertEqual(access, x_access, name)
            expected = "yes" if x_emits == "true" else "no (%s)" % x_emits
            self.assertEqual(emits, expected, name)

    def test_methods(self):
        documented = subsections(section(self.text, "Methods"), "Method")
        self.assertEqual(set(documented), set(self.methods),
                         "documented methods differ from the introspection XML")
        for name, body in documented.items():
            where = "Method %s" % name
            self.assertEqual(doc_args(field_line(body, "In", where), where),
                             self.methods[name][0], where + " in-arguments")
            self.assertEqual(doc_args(field_line(body, "Out", where), where),
                             self.methods[name][1], where + " out-arguments")

    def test_signals(self):
        documented = subsections(section(self.text, "Signals"), "Signal")
        self.assertEqual(set(documented), set(self.signals),
                         "documented signals differ from the introspection XML")
        for name, body in documented.items():
            where = "Signal %s" % name
            self.assertEqual(doc_args(field_line(body, "Args", where), where),
                             self.signals[name], where)

    def test_errors(self):
        errors, _ = names_h()
        documented = set(re.findall(r"`(org\.claudefailover\.Error\.\w+)`", self.text))
        self.assertEqual(documented, errors, "documented error names differ from cf-names.h")
        # Each one is returned somewhere in the daemon.
        code = read(BUS_C)
        for name in errors:
            macro = re.search(r"#define (CF_ERROR_\w+) CF_ERROR_PREFIX \"%s\"" % name.rsplit(".", 1)[1],
                              read(NAMES_H)).group(1)
            self.assertIn(macro, code, "%s is never returned by cf-bus.c" % name)

    def test_polkit(self):
        policy = policy_actions()
        _, action_ids = names_h()
        self.assertEqual(set(action_ids.values()), set(policy), "cf-names.h vs the policy")
        documented = subsections(section(self.text, "Authorization"), "Action")
        self.assertEqual(set(documented), set(policy),
                         "documented polkit actions differ from the policy")
        doc_method_action = {}
        for action, body in documented.items():
            where = "Action %s" % action
            defaults = re.fullmatch(r"any `(\w+)`, inactive `(\w+)`, active `(\w+)`",
                                    field_line(body, "Defaults", where))
            self.assertIsNotNone(defaults, where + ": unreadable Defaults line")
            self.assertEqual(defaults.groups(), policy[action], where + " defaults")
            for method in re.findall(r"`(\w+)`", field_line(body, "Methods", where)):
                doc_method_action[method] = action

        code = bus_polkit_actions()
        self.assertEqual(set(code), set(self.methods), "cf-bus.c vtable vs the XML")
        guarded = {m: a for m, a in code.items() if a}
        self.assertEqual(doc_method_action, guarded,
                         "methods listed under each action differ from cf-bus.c")
        methods = subsections(section(self.text, "Methods"), "Method")
        for name, body in methods.items():
            line = field_line(body, "polkit", "Method %s" % name)
            if code[name]:
                self.assertEqual(line, "`%s`" % code[name], name)
            elif code[name] is None:
                self.assertTrue(line.startswith("none (only root and the daemon's own user"),
                                "%s: polkit line %r" % (name, line))
            else:
                self.assertEqual(line, "none (anyone)", name)


# --- configuration ------------------------------------------------------------

def split_top(text):
    """Splits on commas outside parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur.strip())
    return parts


def config_tables():
    text = read(CONFIG_C)
    tables = {}
    for m in re.finditer(r"^(?:static )?const Field (\w+)\[\] = \{(.*?)\n\};", text, re.S | re.M):
        rows = []
        for entry in re.findall(r"\{([^{}]*)\}", m.group(2)):
            parts = split_top(entry)
            if parts[0] == "NULL":
                continue
            key = parts[0].strip('"')
            flags = set(re.findall(r"FIELD_\w+", parts[3]))
            rows.append({"key": key, "parse": parts[1], "flags": flags,
                         "min": int(parts[4]), "children": parts[5]})
        tables[m.group(1)] = rows
    return tables


# List parsers whose items are walked with another table (inside the parser).
LIST_ITEM_TABLES = {"parse_accounts": "account_fields", "parse_dedicated": "dedicated_fields"}


def expected_type(row):
    parse, flags = row["parse"], row["flags"]
    if parse == "parse_string":
        base = ("variable name" if "FIELD_ENV_NAME" in flags else "URL" if "FIELD_URL" in flags
                else "address" if "FIELD_LISTEN" in flags
                else "name" if "FIELD_SESSION_NAME" in flags else "string")
    elif parse in ("parse_path", "parse_legacy_projects_dir"):
        base = "path"
    elif parse == "parse_uint":
        base = "integer" + (" ≥ %d" % row["min"] if row["min"] else "")
    elif parse == "parse_percent":
        base = "percentage 0–100"
    elif parse == "parse_nice":
        base = "integer 0–19"
    elif parse == "parse_duration":
        base = "duration" + (" (0 allowed)" if "FIELD_ALLOW_ZERO" in flags else "")
    elif parse == "parse_path_list":
        base = "list of paths"
    elif parse == "parse_entries":
        base = "list of names"
    elif parse == "parse_cooldown_schedule":
        base = "list of seconds"
    elif parse in LIST_ITEM_TABLES or parse == "parse_webhooks":
        base = "list"
    elif parse == "parse_bool":
        base = "boolean"
    elif parse == "parse_isolation":
        base = "`shared` or `worktree`"
    elif parse == "parse_keep_worktrees":
        base = "`always`, `on-failure` or `never`"
    else:
        raise AssertionError("cf-config-schema.c has a new parser %s: teach test_docs.py its type" % parse)
    if flags & {"FIELD_ALLOW_EMPTY", "FIELD_EMPTY_IS_NULL"}:
        base += ' (`""` allowed)'
    return base


def loader_keys():
    """{dotted key: row}, list items as 'list[].key'; sections included
    with parse 'parse_section'."""
    tables = config_tables()
    keys = {}

    def walk(table, prefix):
        for row in tables[table]:
            path = prefix + row["key"]
            keys[path] = row
            if row["parse"] == "parse_section":
                walk(row["children"], path + ".")
            elif row["parse"] in LIST_ITEM_TABLES:
                walk(LIST_ITEM_TABLES[row["parse"]], path + "[].")

    walk("root_fields", "")
    return keys


def doc_config_rows(text, heading):
    rows = {}
    for m in re.finditer(r"^\| `([^`]+)` \| ([^|]+?) \| (.+?) \| (live|restart) \| ",
                         section(text, heading), re.M):
        if m.group(1) in rows:
            raise AssertionError("config key %s documented twice" % m.group(1))
        rows[m.group(1)] = {"type": m.group(2), "default": m.group(3), "reload": m.group(4)}
    return rows


def load_gen_man():
    spec = importlib.util.spec_from_file_location("gen_config_man", GEN_MAN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def unquote(value):
    value = value.strip()
    if value.startswith("`") and value.endswith("`"):
        value = value[1:-1]
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value


SAMPLES = {"string": "sample-{i}", "name": "ccl-dedicated-{i}", "path": "~/sample-{i}",
           "percentage 0–100": "9{i}"}


class ConfigDocTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.text = read(os.path.join(DOCS, "configuration.md"))
        cls.rows = doc_config_rows(cls.text, "Keys")
        cls.legacy = doc_config_rows(cls.text, "Legacy keys")
        cls.loader = loader_keys()
        cls.home = tempfile.TemporaryDirectory(prefix="cf-docs-")
        cls.env = dict(os.environ, HOME=cls.home.name, LC_ALL="C.UTF-8")
        cls.env.pop("LANGUAGE", None)

    @classmethod
    def tearDownClass(cls):
        cls.home.cleanup()

    def test_every_key_documented_and_real(self):
        current = {k for k, r in self.loader.items()
                   if r["parse"] != "parse_section" and "FIELD_DEPRECATED" not in r["flags"]}
        deprecated = {k for k, r in self.loader.items() if "FIELD_DEPRECATED" in r["flags"]}
        self.assertTrue(current and deprecated, "cannot read cf-config-schema.c's field tables")
        self.assertEqual(set(self.rows) - current, set(), "documented keys the loader does not know")
        self.assertEqual(current - set(self.rows), set(), "keys the loader knows, undocumented")
        self.assertEqual(set(self.legacy), deprecated, "legacy keys")

    def test_types(self):
        for key, row in list(self.rows.items()) + list(self.legacy.items()):
            if key in self.loader:      # unknown keys: test_every_key_documented_and_real
                self.assertEqual(row["type"], expected_type(self.loader[key]), key)

    def test_restart_keys(self):
        # What the daemon itself says needs a restart is documented so.
        code = "".join(read(os.path.join(SOURCE_DIR, "src", "daemon", f))
                       for f in ("core/cf-daemon.c", "control/cf-http.c"))
        warned = set(re.findall(r'"([\w.]+) changed[^"]*takes effect at the next restart', code))
        self.assertTrue(warned)
        for key in warned:
            self.assertEqual(self.rows[key]["reload"], "restart", key)

    def make_config(self, rows):
        """YAML text setting every documented key of ROWS to its documented
        default (written as YAML in the table), and two items in each list
        with every documented item key."""
        tree = {}

        def node_for(parts):
            node = tree
            for p in parts:
                node = node.setdefault(p, {})
            return node

        for key, row in rows.items():
            if "[]" in key:
                lst, sub = key.split("[].")
                parts = lst.split(".")
                items = node_for(parts[:-1]).setdefault(parts[-1], [{}, {}])
                type_ = row["type"].split(" (")[0]
                for i, item in enumerate(items):
                    item[sub] = SAMPLES.get(type_, "x{i}").format(i=i)
                continue
            if row["default"] == "(required)" or (
                    row["type"] == "list" and any(k.startswith(key + "[].") for k in rows)):
                continue
            parts = key.split(".")
            node_for(parts[:-1])[parts[-1]] = row["default"].strip("`")

        lines = []

        def emit(node, indent):
            for k, v in node.items():
                if isinstance(v, dict):
                    lines.append(" " * indent + k + ":")
                    emit(v, indent + 2)
                elif isinstance(v, list):
                    lines.append(" " * indent + k + ":")
                    for item in v:
                        for j, (sub, value) in enumerate(item.items()):
                            lines.append(" " * (indent + 2) + ("- " if j == 0 else "  ")
                                         + "%s: %s" % (sub, value))
                else:
                    lines.append(" " * indent + "%s: %s" % (k, v))

        emit(tree, 0)
        return "\n".join(lines) + "\n"

    def check_config(self, text):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", dir=self.home.name,
                                         delete=False, encoding="utf-8") as f:
            f.write(text)
        return subprocess.run([DAEMON, "--config", f.name, "--check-config"], env=self.env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)

    def test_documented_defaults_are_accepted(self):
        text = self.make_config(self.rows)
        for key in self.rows:
            leaf = key.rsplit(".", 1)[-1].replace("[]", "")
            self.assertIn(leaf + ":", text, "%s missing from the generated file" % key)
        result = self.check_config(text)
        self.assertEqual(result.returncode, 0, "%s\n--- generated from docs/configuration.md:\n%s"
                         % (result.stderr, text))
        self.assertEqual(result.stderr, "", "warnings for current keys")
        # The same check refuses a key that does not exist, so it proves something.
        result = self.check_config(text.replace("  pool_threshold:", "  pool_threshhold:"))
        self.assertEqual(result.returncode, 1)
        self.assertIn("quota.pool_threshhold: unknown key", result.stderr)

    def test_legacy_keys_are_accepted_with_a_warning(self):
        accounts = "accounts:\n  - {name: a, home: ~/a}\n"
        for key, row in self.legacy.items():
            section_name, leaf = key.split(".")
            result = self.check_config(accounts + "%s:\n  %s: %s\n" % (section_name, leaf,
                                                                        row["default"].strip("`")))
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertIn("%s is deprecated" % key, result.stderr)

    def test_defaults_match_the_example(self):
        gen = load_gen_man()
        example = {k: v for k, v, _ in gen.parse(EXAMPLE)}
        for key, row in self.rows.items():
            if key not in example or row["default"] == "(required)" or not example[key]:
                continue
            if key == "pool.dedicated":
                continue            # the example lists an example session, not the default
            self.assertEqual(unquote(row["default"]), unquote(example[key]),
                             "%s: docs/configuration.md and config.example.yaml disagree" % key)

    def test_example_and_man_page_keys(self):
        gen = load_gen_man()
        example = {k for k, _, _ in gen.parse(EXAMPLE)}
        loader = {k for k, r in self.loader.items()
                  if "[]" not in k and "FIELD_DEPRECATED" not in r["flags"]}
        self.assertEqual(example, loader, "config.example.yaml keys vs the loader")
        text = read(EXAMPLE)
        for key in self.loader:
            if "[]" in key:
                lst, sub = key.split("[].")
                after = text[text.index(lst.rsplit(".", 1)[-1] + ":"):]
                self.assertRegex(after, r"\n\s+-? ?%s:" % sub, "example lacks " + key)

        with tempfile.TemporaryDirectory(prefix="cf-docs-man-") as tmp:
            out = os.path.join(tmp, "claude-failover.yaml.5")
            subprocess.run([sys.executable, GEN_MAN, EXAMPLE, MAN_TEMPLATE, out], check=True)
            page = read(out)
        man_keys = {k.replace("\\-", "-") for k in re.findall(r"^\.TP\n\.B (\S+)$", page, re.M)}
        self.assertEqual(man_keys, example, "claude-failover.yaml(5) keys vs the example")
        built = os.path.join(BUILD_DIR, "docs", "claude-failover.yaml.5")
        if os.path.exists(built):
            self.assertEqual(read(built), page, "the built man page is stale")


# --- journal ------------------------------------------------------------------

def structured_fields(directory):
    """The CF_* fields of every g_log_structured () call in DIRECTORY's .c
    files, its subfolders included."""
    fields = set()
    for root, _, names in os.walk(directory):
        for name in (n for n in names if n.endswith(".c")):
            text = read(os.path.join(root, name))
            for m in re.finditer(r"g_log_structured\s*\((.*?)\);", text, re.S):
                fields.update(re.findall(r'"(CF_[A-Z_]+)"\s*,', m.group(1)))
    return fields


class JournalDocTest(unittest.TestCase):
    def test_fields(self):
        text = read(os.path.join(DOCS, "operations.md"))
        documented = set(re.findall(r"^\| `(CF_[A-Z_]+)` \|", section(text, "Read the journal"), re.M))
        code = set()
        for d in ("daemon", "notifier"):
            code |= structured_fields(os.path.join(SOURCE_DIR, "src", d))
        self.assertTrue(code)
        self.assertEqual(documented, code, "journal fields in docs/operations.md vs g_log_structured")


class LinksTest(unittest.TestCase):
    def test_readme_links_the_docs(self):
        readme = read(os.path.join(SOURCE_DIR, "README.md"))
        for name in ("dbus-api.md", "configuration.md", "operations.md", "migration-from-go.md"):
            self.assertTrue(os.path.exists(os.path.join(DOCS, name)), name)
            self.assertIn("docs/" + name, readme)


if __name__ == "__main__":
    if not os.access(DAEMON, os.X_OK):
        print("skip: %s is not built" % DAEMON)
        sys.exit(77)
    unittest.main(verbosity=2)
