"""Audits IAM policy documents with parliament (https://github.com/duo-labs/parliament).

Called by validation/iam-policies.ts, which collects the policies of a CloudFormation template and
resolves every intrinsic to a concrete ARN first (parliament only understands literal policies).

stdin:  {"policies": [{"id": "...", "document": {...}}]}
stdout: {"version": "...", "statements": N, "pairs": N, "findings": [
           {"policy", "statement" (index or null), "issue", "severity", "title", "detail", "action"?, "resource"?}]}

Two passes per policy:
1. The whole document through parliament's analyze_policy_string: malformed documents, unknown actions and
   prefixes, invalid ARNs and principals, condition operators and keys, duplicate Sids, bucket-policy privilege
   escalation, Resource "*" where the actions support resource-level permissions, ... Its RESOURCE_MISMATCH
   (every action expanded from a wildcard must match some resource of its statement) is replaced by pass 2.
2. Every action x resource pair of every statement, each as its own one-action one-resource statement:
   RESOURCE_MISMATCH when NOT ONE action the (possibly wildcard) action pattern expands to can apply to that
   resource according to AWS's action -> resource-type table that parliament ships. So `s3:GetObject*` on a
   bucket ARN is reported (no GetObject* action applies to a bucket), `s3:List*` on a bucket is not
   (s3:ListBucket does), and `codestar-connections:UseConnection` on an `arn:aws:codeconnections:...` ARN is
   (the action's service prefix must be the ARN's).
"""
import json
import sys
import warnings

# setuptools 80 warns on `import pkg_resources`, which parliament does at import time.
warnings.filterwarnings("ignore", category=UserWarning, message=".*pkg_resources.*")

import parliament  # noqa: E402
from parliament import analyze_policy_string, enhance_finding, expand_action  # noqa: E402
from parliament.finding import Finding  # noqa: E402


def as_list(value):
    return value if isinstance(value, list) else [value]


def serialize(document):
    """The document as JSON with exactly one statement per line, so a finding's line number names its
    statement. Returns (text, line number of the first statement)."""
    if not isinstance(document, dict) or not isinstance(document.get("Statement"), (list, dict)):
        return json.dumps(document), None
    head = [f"{json.dumps(k)}: {json.dumps(v)}," for k, v in document.items() if k != "Statement"]
    statements = as_list(document["Statement"])
    body = [json.dumps(s) + ("," if i < len(statements) - 1 else "") for i, s in enumerate(statements)]
    lines = ["{", *head, '"Statement": [', *body, "]}"]
    return "\n".join(lines), len(head) + 3  # jsoncfg lines are 1-based


def finding_dict(policy_id, statement, finding, **extra):
    finding = enhance_finding(finding)
    return {
        "policy": policy_id,
        "statement": statement,
        "issue": finding.issue,
        "severity": finding.severity,
        "title": finding.title,
        "detail": finding.detail,
        **extra,
    }


pair_cache = {}


def pair_mismatch(action, resource):
    """None when some action the pattern expands to applies to the resource, else the resource formats the
    pattern's actions require (parliament's RESOURCE_MISMATCH detail, deduplicated)."""
    key = (action, resource)
    if key not in pair_cache:
        expanded = {f"{a['service']}:{a['action']}".lower() for a in expand_action(action, raise_exceptions=False)}
        result = None
        if expanded:  # an unknown action is pass 1's UNKNOWN_ACTION / UNKNOWN_PREFIX
            single = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]}
            policy = analyze_policy_string(json.dumps(single), ignore_private_auditors=True)
            for finding in policy.findings:
                if finding.issue != "RESOURCE_MISMATCH":
                    continue
                mismatched = {d["action"].lower() for d in finding.detail}
                if expanded <= mismatched:
                    result = sorted({d["required_format"] for d in finding.detail})
        pair_cache[key] = result
    return pair_cache[key]


def audit(policy_id, document):
    findings = []
    text, first_line = serialize(document)
    policy = analyze_policy_string(text, filepath=policy_id, ignore_private_auditors=True)
    for finding in policy.findings:
        if finding.issue == "RESOURCE_MISMATCH":
            continue  # replaced by the pair pass below
        line = finding.location.get("line", finding.location.get("lineno")) if isinstance(finding.location, dict) else None
        statement = line - first_line if first_line is not None and isinstance(line, int) and line >= first_line else None
        findings.append(finding_dict(policy_id, statement, finding))

    statements = as_list(document.get("Statement", [])) if isinstance(document, dict) else []
    pairs = 0
    for index, stmt in enumerate(statements):
        if not isinstance(stmt, dict) or "Action" not in stmt or "Resource" not in stmt:
            continue  # NotAction / NotResource / malformed: pass 1 reports what it can
        for action in as_list(stmt["Action"]):
            for resource in as_list(stmt["Resource"]):
                if not isinstance(action, str) or not isinstance(resource, str) or action in ("*", "*:*") or resource == "*":
                    continue
                pairs += 1
                required = pair_mismatch(action, resource)
                if required is not None:
                    mismatch = Finding(
                        "RESOURCE_MISMATCH",
                        f"{action} cannot apply to {resource}; its actions need {' or '.join(required)}",
                        {},
                    )
                    findings.append(finding_dict(policy_id, index, mismatch, action=action, resource=resource))
    return findings, len(statements), pairs


def main():
    request = json.load(sys.stdin)
    findings = []
    statement_count = 0
    pair_count = 0
    for policy in request["policies"]:
        policy_findings, statements, pairs = audit(policy["id"], policy["document"])
        findings.extend(policy_findings)
        statement_count += statements
        pair_count += pairs
    json.dump(
        {"version": parliament.__version__, "statements": statement_count, "pairs": pair_count, "findings": findings},
        sys.stdout,
        default=str,
    )


if __name__ == "__main__":
    main()
