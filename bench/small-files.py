#!/usr/bin/env python3
"""Issue 5's data set (a): COUNT files of 16 KiB of random bytes, 100 to a directory.

  small-files.py DIR COUNT
"""
import os
import sys

root, count = sys.argv[1], int(sys.argv[2])
for i in range(count):
    d = os.path.join(root, "d%03d" % (i // 100))
    if i % 100 == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d.bin" % i), "wb") as f:
        f.write(os.urandom(16384))
