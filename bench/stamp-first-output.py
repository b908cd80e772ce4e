#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Used by bench-dispatch.py through `tmux pipe-pane -O`: writes the time of
the first output byte of a pane (the echo of the first keystroke) to ARGV[1],
then drains the pane's output until tmux closes the pipe."""
import os
import sys
import time

first = True
while True:
    data = os.read(0, 65536)
    if not data:
        break
    if first:
        now = time.time()
        tmp = sys.argv[1] + ".tmp"
        with open(tmp, "w") as f:
            f.write(repr(now))
        os.rename(tmp, sys.argv[1])
        first = False
