#!/usr/bin/env python3
"""Checks that every relative link of the generated docs of one crate leads to a page
that was built: `check-doc-links.py target/doc oomol_cloud_task [SKIP ...]`.

rustdoc checks intra-doc links, but not hand-written paths such as `blocking/index.html`,
which point nowhere when the feature that builds the page is off.

Each SKIP is a folder of the crate's docs left unchecked: a re-exported foreign crate that
rustdoc inlines under `--no-deps` (the `http` crate), whose own docs' relative links are
written for its own tree, not ours.
"""
import os
import re
import sys
from urllib.parse import unquote, urlsplit

doc_root, crate = sys.argv[1], sys.argv[2]
crate_dir = os.path.join(doc_root, crate)
skipped = [os.path.join(crate_dir, folder) + os.sep for folder in sys.argv[3:]]
href = re.compile(r'''(?:href|src)="([^"]+)"''')
dead = []
pages = 0
for folder, _, files in os.walk(crate_dir):
    if any((folder + os.sep).startswith(skip) for skip in skipped):
        continue
    for name in files:
        if not name.endswith(".html"):
            continue
        page = os.path.join(folder, name)
        pages += 1
        with open(page, encoding="utf-8") as f:
            text = f.read()
        for link in href.findall(text):
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or not parts.path.endswith(".html"):
                # Another site, a fragment of this page, or not a page: rustdoc's
                # scripts and assets, or a dependency's own doc text on a blanket impl.
                continue
            target = os.path.normpath(os.path.join(folder, unquote(parts.path)))
            if not os.path.exists(target):
                dead.append(f"{os.path.relpath(page, doc_root)} -> {link}")
if pages == 0:
    sys.exit(f"no pages under {crate_dir}: were the docs built?")
for line in sorted(set(dead)):
    print(f"dead link: {line}")
if dead:
    sys.exit(f"{len(set(dead))} dead links in the docs of {crate}")
print(f"{pages} pages of {crate}: no dead link")
