#!/usr/bin/env python3
"""Writes N generated Backstage entities (a third APIs with small OpenAPI
definitions, the rest components providing them) into DIR as 100 files."""
import os
import sys

count, out = int(sys.argv[1]), sys.argv[2]
words = ["billing", "payments", "orders", "search", "inventory", "shipping", "users", "pets"]
files = 100
os.makedirs(out, exist_ok=True)
per_file = count // files
for f in range(files):
    docs = []
    for i in range(per_file):
        n = f * per_file + i
        word = words[n % len(words)]
        team = f"team-{n % 97}"
        if n % 3 == 0:
            docs.append(f"""apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: {word}-api-{n}
  description: The {word} API number {n}
  tags: [{word}, rest]
spec:
  type: openapi
  lifecycle: production
  owner: {team}
  system: {word}
  definition: "openapi: 3.0.0\\ninfo: {{title: {word} {n}, version: '1'}}\\npaths: {{/{word}/{n}: {{get: {{operationId: get{word}{n}}}}}}}"
""")
        else:
            docs.append(f"""apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: {word}-service-{n}
  description: Serves {word} for shard {n}
  tags: [{word}]
spec:
  type: service
  lifecycle: experimental
  owner: {team}
  providesApis: [{word}-api-{n - n % 3}]
""")
    with open(os.path.join(out, f"part-{f:03}.yaml"), "w") as fh:
        fh.write("---\n" + "---\n".join(docs))
