"""Deploy infra/template.yaml into LocalStack's CloudFormation and write .local/stack.env.

Run by deploy.sh with LocalStack's venv python (boto3/botocore there are the ones the venv's
AWS CLI v1 uses; one process instead of one CLI start-up per call, which costs 1 s on an idle
2-core machine and 3-4 s on a busy one). Settings come from the environment, see deploy.sh.

LocalStack cannot build or run the Rust functions (no Docker), but CloudFormation still needs
code for every AWS::Serverless::Function. The stack is deployed from a copy of the template in
which each function's CodeUri (and Globals.Function.CodeUri) points at a placeholder zip in
LocalStack's S3; everything else - the table, the API, the roles - is infra/template.yaml
unchanged. The copy also gets one extra output, LocalTemplateHash: a hash of that copy and the
parameters, so a deploy that would change nothing is skipped (LocalStack does not update stack
tags on update-stack, outputs it does).

A change is first tried in place (UpdateStack, keeps the data); LocalStack 4.9.2 fails many
updates (no update handler for AWS::ApiGateway::RestApi, a changed stage fails "Stage already
exists", after which UpdateStack answers 501), and then the stack is recreated: the local table
starts empty. Local state is in memory anyway.
"""

import hashlib
import io
import json
import os
import sys
import time
import urllib.request
import zipfile

import yaml

T0 = time.time()
REGION = "us-east-1"
HASH_OUTPUT = "LocalTemplateHash"
PLACEHOLDER = b"""#!/bin/sh
# Placeholder deployed by localstack/deploy.sh: LocalStack (host mode, no Docker) creates the
# functions but cannot run them. Locally the real functions run under `cargo lambda watch`.
echo "placeholder bootstrap: build and deploy with sam for real code" >&2
exit 1
"""


def log(msg):
    print("[deploy] " + msg, file=sys.stderr, flush=True)


def die(msg):
    print("[deploy] ERROR: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


# ------------------------------------------------------------------ template copy
class CfnLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """YAML with CloudFormation's short-form tags: !Ref x -> {"Ref": x}, !Sub s -> {"Fn::Sub": s}, ..."""


def _cfn_tag(loader, tag_suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {"Fn::" + tag_suffix: value}


CfnLoader.add_multi_constructor("!", _cfn_tag)


def placeholder_zip():
    """A zip with an executable `bootstrap`, byte-for-byte the same on every run."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("bootstrap", date_time=(2020, 1, 1, 0, 0, 0))
        info.create_system = 3  # unix, so the mode bits count
        info.external_attr = 0o100755 << 16
        z.writestr(info, PLACEHOLDER)
    return buf.getvalue()


def local_template(path, code, params):
    """(JSON text, function ids, hash): infra/template.yaml with every function's code at `code`
    ({Bucket, Key}) plus a LocalTemplateHash output. The hash covers the resulting template and
    the parameters, so editing a comment in template.yaml redeploys nothing."""
    with open(path) as f:
        template = yaml.load(f, Loader=CfnLoader)
    if not isinstance(template, dict) or "Resources" not in template:
        die("%s is not a CloudFormation template" % path)
    functions = [n for n, r in template["Resources"].items() if r.get("Type") == "AWS::Serverless::Function"]
    glob = template.get("Globals", {}).get("Function", {})
    if "CodeUri" in glob:
        glob["CodeUri"] = code
    for name in functions:
        props = template["Resources"][name].setdefault("Properties", {})
        if props.get("PackageType") == "Image":
            die("%s: image functions cannot be deployed locally" % name)
        if "CodeUri" in props or "CodeUri" not in glob:
            props["CodeUri"] = code
    canonical = json.dumps([template, params], sort_keys=True, separators=(",", ":"), default=str)
    template_hash = hashlib.sha256(canonical.encode()).hexdigest()[:32]
    template.setdefault("Outputs", {})[HASH_OUTPUT] = {
        "Description": "localstack/deploy.py: hash of what was deployed",
        "Value": template_hash,
    }
    body = json.dumps(template, indent=1, sort_keys=True, default=str)
    if len(body.encode()) > 51200:
        body = json.dumps(template, separators=(",", ":"), sort_keys=True, default=str)
    if len(body.encode()) > 51200:
        die("local template is %d bytes, above CloudFormation's 51200-byte TemplateBody limit" % len(body))
    return body, functions, template_hash


# ------------------------------------------------------------------ helpers
def env(name, default=None):
    value = os.environ.get(name, "")
    return value if value != "" else default


def parameters():
    params = {
        "EventShards": env("EVENT_SHARDS", "4"),
        "AggregateShards": env("AGGREGATE_SHARDS", "4"),
        # local values: simulated failures are allowed, the table may be deleted
        "AllowSimulatedFailure": "true",
        "DeletionProtection": "false",
    }
    for kv in env("PARAMETER_OVERRIDES", "").split():
        key, sep, value = kv.partition("=")
        if not sep or not key:
            die("bad PARAMETER_OVERRIDES item %r (want Key=Value)" % kv)
        params[key] = value
    return params


def check_health(endpoint):
    try:
        with urllib.request.urlopen(endpoint + "/_localstack/health", timeout=3) as r:
            services = json.load(r)["services"]
    except Exception:
        die("LocalStack is not running at %s: start it with localstack/start.sh (same LOCALSTACK_PORT)" % endpoint)
    bad = [s for s in ("cloudformation", "dynamodb", "s3", "lambda", "apigateway", "iam", "logs")
           if services.get(s) not in ("running", "available")]
    if bad:
        die("LocalStack at %s lacks services: %s (LOCALSTACK_SERVICES?)" % (endpoint, ", ".join(bad)))


def main():
    endpoint = os.environ["ENDPOINT"]
    template_path = os.environ["TEMPLATE"]
    work = os.environ["WORK"]
    stack_env = os.environ["STACK_ENV"]
    stack = env("STACK_NAME", "event-ingest-local")
    bucket = env("ARTIFACT_BUCKET", "event-ingest-local-artifacts")
    timeout = float(env("DEPLOY_TIMEOUT", "180"))
    reset = env("RESET", "0") == "1"

    check_health(endpoint)
    import boto3  # after the health check: a clear message beats a connection traceback
    from botocore.config import Config
    from botocore.exceptions import ClientError

    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION)
    cfg = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=60)
    cfn = session.client("cloudformation", endpoint_url=endpoint, config=cfg)
    ddb = session.client("dynamodb", endpoint_url=endpoint, config=cfg)
    s3 = session.client("s3", endpoint_url=endpoint, config=cfg)

    params = parameters()
    zip_bytes = placeholder_zip()
    zip_key = "placeholder/bootstrap-%s.zip" % hashlib.sha256(zip_bytes).hexdigest()[:16]
    # the zip key is in the template, so the hash covers the placeholder code too
    body, functions, template_hash = local_template(template_path, {"Bucket": bucket, "Key": zip_key}, params)

    def describe():
        try:
            return cfn.describe_stacks(StackName=stack)["Stacks"][0]
        except ClientError as e:
            if "does not exist" in str(e):
                return None
            raise

    def outputs(s):
        return {o["OutputKey"]: o["OutputValue"] for o in (s or {}).get("Outputs", [])}

    def table_exists(name):
        try:
            ddb.describe_table(TableName=name)
            return True
        except ddb.exceptions.ResourceNotFoundException:
            return False

    def events_since(last_id):
        """Stack events newer than `last_id` (describe_stack_events lists newest first)."""
        try:
            events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
        except ClientError:
            return []
        fresh = []
        for e in events:
            if last_id and e["EventId"] == last_id:
                break
            fresh.append(e)
        return fresh

    def newest_event_id():
        events = events_since(None)
        return events[0]["EventId"] if events else None

    def failures(events):
        return ["%s %s: %s" % (e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason") or "")
                for e in reversed(events) if "FAILED" in e["ResourceStatus"]]

    def wait(want, since_id):
        """Poll every 0.5 s until the stack settles; (stack, failure lines). LocalStack can report
        UPDATE_COMPLETE after a failed update was rolled back, so the events decide too."""
        deadline = time.time() + timeout
        while True:
            s = describe()
            status = s["StackStatus"] if s else "DELETE_COMPLETE"
            if not status.endswith("_IN_PROGRESS"):
                events = events_since(since_id)
                failed = failures(events)
                if any("ROLLBACK" in e["ResourceStatus"] for e in events) and not failed:
                    failed = ["stack rolled back"]
                if status != want and not failed:
                    failed = ["stack ended %s, want %s" % (status, want)]
                return s, failed
            if time.time() > deadline:
                die("stack %s still %s after %.0fs (DEPLOY_TIMEOUT)" % (stack, status, timeout))
            time.sleep(0.5)

    def delete_stack(why):
        log("deleting stack %s (%s)" % (stack, why))
        since = newest_event_id()
        cfn.delete_stack(StackName=stack)
        _, failed = wait("DELETE_COMPLETE", since)
        if failed:
            # seen after a failed in-place update: the Lambda permissions lost their ids. LocalStack
            # then treats the stack as gone (a new one with the same name can be created).
            log("LocalStack could not delete every resource of the old stack (ignored):\n    %s"
                % "\n    ".join(failed[:5]))
            if describe() is not None:
                die("stack %s still exists after delete-stack; stop and start LocalStack (state is in memory)" % stack)

    def delete_table(name, why):
        log("deleting table %s (%s)" % (name, why))
        try:
            ddb.update_table(TableName=name, DeletionProtectionEnabled=False)
        except ClientError:
            pass
        ddb.delete_table(TableName=name)
        ddb.get_waiter("table_not_exists").wait(TableName=name, WaiterConfig={"Delay": 1})

    current = describe()
    status = current["StackStatus"] if current else "NONE"
    table_guess = stack + "-events"

    if reset:
        if current:
            delete_stack("RESET=1")
        if table_exists(table_guess):  # DeletionPolicy Retain: on AWS a stack delete leaves the table
            delete_table(table_guess, "RESET=1")
        current, status = None, "NONE"

    action = None
    if status in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"):
        if outputs(current).get(HASH_OUTPUT) == template_hash and outputs(current).get("TableName"):
            log("stack %s is up to date (%s, template hash %s): nothing to deploy" % (stack, status, template_hash))
        else:
            action = "update"
    elif status in ("NONE", "DELETE_COMPLETE"):
        action = "create"
    elif status in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED", "DELETE_FAILED",
                    "UPDATE_ROLLBACK_FAILED"):
        delete_stack("it is %s and cannot be updated" % status)
        action = "create"
    elif status.endswith("_IN_PROGRESS"):
        die("stack %s is %s (another deploy running?); try again when it is done" % (stack, status))
    else:
        die("stack %s is %s; delete it or run with RESET=1" % (stack, status))

    if action:
        if action == "create" and table_exists(table_guess):
            die("table %s exists without its stack (left by a deleted stack: DeletionPolicy Retain).\n"
                "        Run with RESET=1 to delete it and start empty, or use another STACK_NAME." % table_guess)
        try:
            s3.head_bucket(Bucket=bucket)
        except ClientError:
            s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key=zip_key, Body=zip_bytes)
        os.makedirs(work, exist_ok=True)
        with open(os.path.join(work, "template.local.json"), "w") as f:
            f.write(body)  # for reading only: what was deployed
        args = dict(
            StackName=stack,
            TemplateBody=body,
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
            Tags=[{"Key": "project", "Value": "event-ingest"}],
        )

        def run(action):
            log("%s stack %s: %s; functions %s get placeholder code" % (
                action, stack, " ".join("%s=%s" % kv for kv in sorted(params.items())), ", ".join(functions)))
            since = newest_event_id()
            try:
                (cfn.create_stack if action == "create" else cfn.update_stack)(**args)
            except ClientError as e:
                message = e.response.get("Error", {}).get("Message", str(e))
                if "No updates are to be performed" in message:
                    log("no changes to apply")
                elif action == "update":
                    return None, ["UpdateStack refused: " + message]
                else:
                    die("create-stack refused: " + message)
            return wait("CREATE_COMPLETE" if action == "create" else "UPDATE_COMPLETE", since)

        current, failed = run(action)
        if failed and action == "update":
            # LocalStack 4.9.2 cannot update some resources in place (RestApi has no update
            # handler; a changed stage fails "CreateStage ... Stage already exists"; after such a
            # failure UpdateStack answers 501). Local state is disposable: recreate.
            log("LocalStack could not update the stack in place:\n    %s" % "\n    ".join(failed))
            log("recreating it instead (the local table starts empty)")
            delete_stack("recreate")
            if table_exists(table_guess):
                delete_table(table_guess, "recreate")
            current, failed = run("create")
        if failed:
            die("stack %s failed:\n    %s" % (stack, "\n    ".join(failed)))
        if outputs(current).get(HASH_OUTPUT) != template_hash:
            die("stack %s is %s but does not carry this template's outputs" % (stack, current["StackStatus"]))
        log("stack %s %s" % (stack, current["StackStatus"]))

    out = outputs(current)
    par = {p["ParameterKey"]: p["ParameterValue"] for p in current.get("Parameters", [])}
    table = out.get("TableName")
    if not table:
        die("stack %s has no TableName output" % stack)
    if action and not table_exists(table):
        die("stack output TableName=%s, but DynamoDB has no such table" % table)
    lines = [
        "AWS_ENDPOINT_URL=" + endpoint,
        "AWS_REGION=" + REGION,
        "AWS_ACCESS_KEY_ID=test",
        "AWS_SECRET_ACCESS_KEY=test",
        "TABLE_NAME=" + table,
        "EVENT_SHARDS=" + par.get("EventShards", params["EventShards"]),
        "AGGREGATE_SHARDS=" + par.get("AggregateShards", params["AggregateShards"]),
        "ALLOW_SIMULATED_FAILURE=" + par.get("AllowSimulatedFailure", "true"),
    ]
    os.makedirs(os.path.dirname(stack_env), exist_ok=True)
    with open(stack_env + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(stack_env + ".tmp", stack_env)
    log("wrote %s in %.1fs" % (stack_env, time.time() - T0))
    print("TABLE_NAME=" + table)


if __name__ == "__main__":
    main()
