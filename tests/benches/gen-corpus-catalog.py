#!/usr/bin/env python3
"""Copies every OpenAPI document of the corpus (CORPUS and CORPUS/directory)
into DIR/specs and writes one API entity per document into DIR/corpus.yaml,
each pointing at its spec with $text, so the import parses them all."""
import os
import re
import shutil
import sys

corpus, out = sys.argv[1], sys.argv[2]
specs = os.path.join(out, "specs")
os.makedirs(specs, exist_ok=True)
docs = []
for folder in (corpus, os.path.join(corpus, "directory")):
    for name in sorted(os.listdir(folder)):
        source = os.path.join(folder, name)
        if os.path.isdir(source) or name == "directory-manifest.json":
            continue
        if not name.endswith((".json", ".yaml", ".yml")):
            continue
        shutil.copy(source, os.path.join(specs, name))
        entity = re.sub(r"[^a-zA-Z0-9]+", "-", os.path.splitext(name)[0]).strip("-")[:63].strip("-")
        docs.append(f"""apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: {entity}
spec:
  type: openapi
  lifecycle: production
  owner: corpus
  definition:
    $text: ./specs/{name}
""")
with open(os.path.join(out, "corpus.yaml"), "w") as fh:
    fh.write("---\n" + "---\n".join(docs))
print(len(docs))
