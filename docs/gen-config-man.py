#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Writes claude-failover.yaml(5) from data/config.example.yaml, the one
documented source of every configuration key: each key's comment block
becomes its description and its value in the example its default.

    docs/gen-config-man.py data/config.example.yaml docs/claude-failover.yaml.5.in OUT
"""

import re
import sys


def roff(text):
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return re.sub(r"^([.'])", r"\\&\1", text, flags=re.M)


def parse(path):
    """[(dotted key, default text, comment)] in file order; list items of
    accounts/dedicated are skipped (they are examples, not defaults)."""
    keys = []
    stack = []                       # (indent, key)
    comment = []
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    in_header = True
    for line in lines:
        stripped = line.strip()
        if in_header:
            if stripped.startswith("#") or not stripped:
                continue
            in_header = False
        if not stripped:
            comment = []
            continue
        if stripped.startswith("#"):
            comment.append(stripped.lstrip("#").strip())
            continue
        if stripped.startswith("- "):
            comment = []
            continue
        m = re.match(r"^( *)([A-Za-z_]+):\s*(.*)$", line)
        if not m:
            continue
        indent, key, value = len(m.group(1)), m.group(2), m.group(3)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if any(k in ("accounts", "dedicated") for _, k in stack):
            comment = []
            continue
        dotted = ".".join([k for _, k in stack] + [key])
        value = re.sub(r"\s+#.*$", "", value) if not value.startswith('"') else value
        keys.append((dotted, value, " ".join(comment)))
        stack.append((indent, key))
        comment = []
    return keys


def main():
    example, template, out = sys.argv[1:4]
    entries = []
    for dotted, value, text in parse(example):
        entries.append(".TP\n.B %s" % roff(dotted))
        body = []
        if value:
            body.append("Default: \\fB%s\\fR." % roff(value))
        if text:
            body.append(roff(text))
        if not value and not text:
            body.append("A section.")
        entries.append("\n".join(body))
    with open(template, encoding="utf-8") as f:
        page = f.read()
    with open(out, "w", encoding="utf-8") as f:
        f.write(page.replace("@KEYS@", "\n".join(entries)))


if __name__ == "__main__":
    main()
