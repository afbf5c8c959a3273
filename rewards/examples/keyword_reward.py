#!/usr/bin/env python3
"""Example exec reward plugin: 1.0 if the completion mentions every keyword of the task's
metadata (or of KEYWORDS below when the task has none), else the share found.

r1 starts this program once and keeps it running; each line on stdin is one request
{"task": {...}, "completion": {"text": ..., "tokens": ..., "finish_reason": ...}},
and each reply is one line {"reward": x, "info": {...}} on stdout (flush after each line).
"""
import json
import sys

KEYWORDS = ["therefore"]

for line in sys.stdin:
    request = json.loads(line)
    text = request["completion"]["text"].lower()
    keywords = request["task"].get("metadata", {}).get("keywords", KEYWORDS)
    found = [k for k in keywords if k.lower() in text]
    reward = len(found) / len(keywords) if keywords else 0.0
    print(json.dumps({"reward": reward, "info": {"found": found}}), flush=True)
