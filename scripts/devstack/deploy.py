"""Deploy infra/template.yaml into LocalStack's CloudFormation and write .local/stack.env.

Runs in a python with boto3 + PyYAML (LocalStack's venv; DEPLOY_PYTHON) as
`python -m devstack.deploy --endpoint URL --template T --work DIR --stack-env FILE`, started by
devstack.localstack.deploy after it checked LocalStack's health. One process with boto3
instead of one AWS CLI start per call (1-3.5 s each on a 2-core machine); CreateStack and
UpdateStack are polled every 0.3 s (`aws cloudformation deploy` first sleeps 30 s).

LocalStack cannot build the Rust functions, but CloudFormation needs code for every
AWS::Serverless::Function: the stack is deployed from a copy of the template whose only change
is each function's CodeUri, a zip in LocalStack's S3. For `make dev` that is a placeholder
(the functions run under cargo lambda watch); with `--code-dir` (`make deploy-local`) each
function gets a zip of its own host-built release binary as `bootstrap`, which LocalStack's
"host" runtime executor (localstack/host-lambda-executor) runs behind its API Gateway. The copy also gets one
more output, LocalTemplateHash (a hash of the copy and the parameters), so a deploy that would
change nothing is skipped. A change is first tried in place (UpdateStack keeps the data);
LocalStack 4.9.2 fails many updates (no update handler for AWS::ApiGateway::RestApi, "Stage
already exists", then 501), and then the stack is recreated with an empty table.

Settings (environment): STACK_NAME (event-ingest-local), EVENT_SHARDS / AGGREGATE_SHARDS (4),
PARAMETER_OVERRIDES ("Key=Value ..."), DEPLOY_TIMEOUT (180 s), RESET=1 (delete stack and table
first), ARTIFACT_BUCKET (event-ingest-local-artifacts).
"""

import argparse
import hashlib
import io
import json
import os
import sys
import time
import zipfile

REGION = "us-east-1"
HASH_OUTPUT = "LocalTemplateHash"
DONE = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE")
BROKEN = ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED", "DELETE_FAILED", "UPDATE_ROLLBACK_FAILED")
PLACEHOLDER = b"""#!/bin/sh
# Placeholder deployed by scripts/devstack/deploy.py: LocalStack (host mode, no Docker) creates
# the functions but cannot run them. Locally the real functions run under `cargo lambda watch`.
echo "placeholder bootstrap: build and deploy with sam for real code" >&2
exit 1
"""


class DeployError(Exception):
    pass


def log(message):
    print("[deploy] " + message, file=sys.stderr, flush=True)


# every setting read here: devstack.localstack.deploy_if_changed deploys again when one changes
SETTINGS = ("STACK_NAME", "ARTIFACT_BUCKET", "EVENT_SHARDS", "AGGREGATE_SHARDS", "PARAMETER_OVERRIDES",
            "AUTH_CACHE_SECONDS", "DEPLOY_TIMEOUT", "RESET", "ALLOWED_ORIGINS")


def env(name, default=None):
    assert name in SETTINGS, f"{name}: list it in SETTINGS"
    value = os.environ.get(name, "")
    return value if value != "" else default


# ------------------------------------------------------------------ the template copy
def cfn_loader():
    """A YAML loader for CloudFormation's short forms: !Ref x -> {"Ref": x}, !Sub s -> {"Fn::Sub": s}..."""
    import yaml

    class Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        pass

    def tag(loader, suffix, node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        if suffix in ("Ref", "Condition"):
            return {suffix: value}
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        return {"Fn::" + suffix: value}

    Loader.add_multi_constructor("!", tag)
    return Loader


def load_template(path):
    import yaml

    with open(path) as f:
        template = yaml.load(f, Loader=cfn_loader())
    if not isinstance(template, dict) or "Resources" not in template:
        raise DeployError(f"{path} is not a CloudFormation template")
    return template


def point_functions_at(template, code):
    """Every function's code at `code` ({Bucket, Key}, or a function of the function's binary
    name giving one); returns the function ids."""
    functions = [n for n, r in template["Resources"].items() if r.get("Type") == "AWS::Serverless::Function"]
    glob = template.get("Globals", {}).get("Function", {})
    if "CodeUri" in glob and not callable(code):
        glob["CodeUri"] = code
    for name in functions:
        resource = template["Resources"][name]
        props = resource.setdefault("Properties", {})
        if props.get("PackageType") == "Image":
            raise DeployError(f"{name}: image functions cannot be deployed locally")
        if callable(code):
            props["CodeUri"] = code(binary_of(name, resource))
        elif "CodeUri" in props or "CodeUri" not in glob:
            props["CodeUri"] = code
    return functions


def binary_of(name, resource):
    """The Cargo binary of a function: its BuildProperties.Binary (what `sam build` builds)."""
    binary = resource.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
    if not binary:
        raise DeployError(f"{name}: no Metadata.BuildProperties.Binary, so no binary to deploy")
    return binary


def add_hash_output(template, params):
    """The hash covers the resulting template and the parameters (editing a comment in
    template.yaml changes nothing)."""
    canonical = json.dumps([template, params], sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:32]
    template.setdefault("Outputs", {})[HASH_OUTPUT] = {"Description": "hash of what was deployed", "Value": digest}
    return digest


def render(template):
    """JSON within CloudFormation's 51,200-byte TemplateBody limit (readable when it fits)."""
    body = json.dumps(template, indent=1, sort_keys=True, default=str)
    if len(body.encode()) > 51200:
        body = json.dumps(template, separators=(",", ":"), sort_keys=True, default=str)
    if len(body.encode()) > 51200:
        raise DeployError(f"local template is {len(body)} bytes, above the 51200-byte TemplateBody limit")
    return body


def placeholder_zip():
    """A zip with an executable `bootstrap`, byte for byte the same on every run."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("bootstrap", date_time=(2020, 1, 1, 0, 0, 0))
        info.create_system = 3  # unix, so the mode bits count
        info.external_attr = 0o100755 << 16
        z.writestr(info, PLACEHOLDER)
    return buf.getvalue()


def function_zip(binary_path):
    """A zip with `binary_path` as an executable `bootstrap` (what `sam build` packages), byte
    for byte the same for the same binary."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        info = zipfile.ZipInfo("bootstrap", date_time=(2020, 1, 1, 0, 0, 0))
        info.create_system = 3
        info.external_attr = 0o100755 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        with open(binary_path, "rb") as f:
            z.writestr(info, f.read())
    return buf.getvalue()


def real_code(code_dir, bucket):
    """For each binary name, its code in LocalStack's S3 ({Bucket, Key}); the zips to upload
    are collected in the returned dict (key -> bytes), built only for binaries not yet there."""
    uploads = {}

    def code(binary):
        path = os.path.join(code_dir, binary)
        if not os.path.isfile(path):
            raise DeployError(f"{path} not found: build the functions first (cargo build --release)")
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:16]
        key = f"functions/{binary}/bootstrap-{digest}.zip"
        uploads[key] = path
        return {"Bucket": bucket, "Key": key}

    return code, uploads


LOCAL_ORIGINS = "http://localhost:3000,http://localhost:5173"


def parameters(local_values=True):
    params = {
        "EventShards": env("EVENT_SHARDS", "4"),
        "AggregateShards": env("AGGREGATE_SHARDS", "4"),
        # the table may be deleted
        "DeletionProtection": "false",
        # browser origins that may POST /events: web apps' usual local dev servers (the
        # browser test's page poses as http://localhost:5173); ALLOWED_ORIGINS replaces them
        "AllowedOrigins": env("ALLOWED_ORIGINS", LOCAL_ORIGINS),
    }
    if local_values:  # make dev: simulated failures are allowed (deploy-local: the template's default)
        params["AllowSimulatedFailure"] = "true"
    for item in env("PARAMETER_OVERRIDES", "").split():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise DeployError(f"bad PARAMETER_OVERRIDES item {item!r} (want Key=Value)")
        params[key] = value
    return params


# ------------------------------------------------------------------ the stack in LocalStack
class Stack:
    """One CloudFormation stack and the table it makes, through boto3."""

    def __init__(self, endpoint, name, timeout):
        import boto3
        from botocore.config import Config
        from botocore.exceptions import ClientError

        self.ClientError = ClientError
        session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION)
        cfg = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=60)
        self.cfn = session.client("cloudformation", endpoint_url=endpoint, config=cfg)
        self.ddb = session.client("dynamodb", endpoint_url=endpoint, config=cfg)
        self.s3 = session.client("s3", endpoint_url=endpoint, config=cfg)
        self.name, self.timeout = name, timeout

    def describe(self):
        try:
            return self.cfn.describe_stacks(StackName=self.name)["Stacks"][0]
        except self.ClientError as e:
            if "does not exist" in str(e):
                return None
            raise

    def events_since(self, last_id):
        """Stack events newer than `last_id`, newest first."""
        try:
            events = self.cfn.describe_stack_events(StackName=self.name)["StackEvents"]
        except self.ClientError:
            return []
        fresh = []
        for e in events:
            if last_id and e["EventId"] == last_id:
                break
            fresh.append(e)
        return fresh

    def newest_event_id(self):
        events = self.events_since(None)
        return events[0]["EventId"] if events else None

    def wait(self, want, since_id):
        """Poll until the stack settles; (stack, failure lines). LocalStack can report
        UPDATE_COMPLETE after a failed update was rolled back, so the events decide too."""
        deadline = time.monotonic() + self.timeout
        while True:
            stack = self.describe()
            status = stack["StackStatus"] if stack else "DELETE_COMPLETE"
            if not status.endswith("_IN_PROGRESS"):
                return stack, failures(self.events_since(since_id), status, want)
            if time.monotonic() > deadline:
                raise DeployError(f"stack {self.name} still {status} after {self.timeout:.0f}s (DEPLOY_TIMEOUT)")
            time.sleep(0.3)

    def submit(self, action, args):
        """CreateStack or UpdateStack, then wait: (stack, failure lines)."""
        since = self.newest_event_id()
        call = self.cfn.create_stack if action == "create" else self.cfn.update_stack
        try:
            call(StackName=self.name, **args)
        except self.ClientError as e:
            message = e.response.get("Error", {}).get("Message", str(e))
            if "No updates are to be performed" in message:
                return self.describe(), []
            if action == "update":
                return None, ["UpdateStack refused: " + message]
            raise DeployError("CreateStack refused: " + message)
        return self.wait("CREATE_COMPLETE" if action == "create" else "UPDATE_COMPLETE", since)

    def delete(self, why):
        log(f"deleting stack {self.name} ({why})")
        since = self.newest_event_id()
        self.cfn.delete_stack(StackName=self.name)
        _, failed = self.wait("DELETE_COMPLETE", since)
        if failed:
            # seen after a failed in-place update; LocalStack then treats the stack as gone
            log("LocalStack could not delete every resource of the old stack (ignored):\n    "
                + "\n    ".join(failed[:5]))
            if self.describe() is not None:
                raise DeployError(f"stack {self.name} still exists after DeleteStack; `make down && make up`")

    def table_exists(self, table):
        try:
            self.ddb.describe_table(TableName=table)
            return True
        except self.ddb.exceptions.ResourceNotFoundException:
            return False

    def delete_table(self, table, why):
        log(f"deleting table {table} ({why})")
        try:
            self.ddb.update_table(TableName=table, DeletionProtectionEnabled=False)
        except self.ClientError:
            pass
        self.ddb.delete_table(TableName=table)
        self.ddb.get_waiter("table_not_exists").wait(TableName=table, WaiterConfig={"Delay": 1})

    def upload(self, bucket, key, body):
        """Put `body` (bytes, or a callable making them) at `key`, unless it is there already
        (keys carry a digest of their content)."""
        try:
            self.s3.head_bucket(Bucket=bucket)
        except self.ClientError:
            self.s3.create_bucket(Bucket=bucket)
        if callable(body):
            try:
                self.s3.head_object(Bucket=bucket, Key=key)
                return
            except self.ClientError:
                body = body()
        self.s3.put_object(Bucket=bucket, Key=key, Body=body)

    def api_id(self):
        """The physical id of the REST API (the template's `Api`), or None."""
        try:
            found = self.cfn.describe_stack_resource(StackName=self.name, LogicalResourceId="Api")
        except self.ClientError:
            return None
        return found["StackResourceDetail"].get("PhysicalResourceId")


def failures(events, status, want):
    failed = [f"{e['LogicalResourceId']} {e['ResourceStatus']}: {e.get('ResourceStatusReason') or ''}"
              for e in reversed(events) if "FAILED" in e["ResourceStatus"]]
    if not failed and any("ROLLBACK" in e["ResourceStatus"] for e in events):
        failed = ["stack rolled back"]
    if not failed and status != want:
        failed = [f"stack ended {status}, want {want}"]
    return failed


def outputs(stack):
    return {o["OutputKey"]: o["OutputValue"] for o in (stack or {}).get("Outputs", [])}


def plan(stack, template_hash):
    """What to do with the stack as it is: None (up to date), "create", "update" or "recreate"."""
    status = stack["StackStatus"] if stack else "NONE"
    if status in DONE:
        same = outputs(stack).get(HASH_OUTPUT) == template_hash and outputs(stack).get("TableName")
        return None if same else "update"
    if status in ("NONE", "DELETE_COMPLETE"):
        return "create"
    if status in BROKEN:
        return "recreate"
    if status.endswith("_IN_PROGRESS"):
        raise DeployError(f"stack is {status} (another deploy running?); try again when it is done")
    raise DeployError(f"stack is {status}; delete it or deploy with RESET=1")


# ------------------------------------------------------------------ the deploy
def deploy(stack, body, template_hash, params, table_guess, code):
    """Bring `stack` to `body`, whose functions' code is `code` ([(bucket, key, zip bytes or a
    callable making them)]) in LocalStack's S3; returns the described stack."""
    current = stack.describe()
    if env("RESET") == "1":
        if current:
            stack.delete("RESET=1")
        if stack.table_exists(table_guess):  # DeletionPolicy Retain: a stack delete on AWS leaves it
            stack.delete_table(table_guess, "RESET=1")
        current = None
    action = plan(current, template_hash)
    if action is None:
        log(f"stack {stack.name} is up to date ({current['StackStatus']}): nothing to deploy")
        return current
    if action == "recreate":
        stack.delete(f"it is {current['StackStatus']} and cannot be updated")
        action = "create"
    if action == "create" and stack.table_exists(table_guess):
        raise DeployError(f"table {table_guess} exists without its stack (left by a deleted stack).\n"
                          "        Deploy with RESET=1 to delete it and start empty, or use another STACK_NAME.")
    args = dict(TemplateBody=body, Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
                Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
                Tags=[{"Key": "project", "Value": "event-ingest"}])
    log(f"{action} stack {stack.name}: " + " ".join(f"{k}={v}" for k, v in sorted(params.items())))
    for item in code:
        stack.upload(*item)
    current, failed = stack.submit(action, args)
    if failed and action == "update":
        log("LocalStack could not update the stack in place:\n    " + "\n    ".join(failed))
        log("recreating it instead (the local table starts empty)")
        stack.delete("recreate")
        if stack.table_exists(table_guess):
            stack.delete_table(table_guess, "recreate")
        current, failed = stack.submit("create", args)
    if failed:
        raise DeployError(f"stack {stack.name} failed:\n    " + "\n    ".join(failed))
    if outputs(current).get(HASH_OUTPUT) != template_hash:
        raise DeployError(f"stack {stack.name} is {current['StackStatus']} but lacks this template's outputs")
    log(f"stack {stack.name} {current['StackStatus']}")
    return current


def stack_env(endpoint, current, params):
    """The settings of .local/stack.env, from the stack's outputs and parameters."""
    table = outputs(current).get("TableName")
    if not table:
        raise DeployError("the stack has no TableName output")
    deployed = {p["ParameterKey"]: p["ParameterValue"] for p in current.get("Parameters", [])}
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "TABLE_NAME": table,
        "EVENT_SHARDS": deployed.get("EventShards", params["EventShards"]),
        "AGGREGATE_SHARDS": deployed.get("AggregateShards", params["AggregateShards"]),
        "ALLOW_SIMULATED_FAILURE": deployed.get("AllowSimulatedFailure", "true"),
        "ALLOWED_ORIGINS": deployed.get("AllowedOrigins", params["AllowedOrigins"]),
        # Locally a revoked key is refused within 5 s (deployed: the AuthCacheSeconds
        # parameter, 60 s by default), so the tests of revocation stay short.
        "AUTH_CACHE_SECONDS": env("AUTH_CACHE_SECONDS", "5"),
        # The template's default limits, as the deployed functions get them (the development
        # tenant sets its own: none).
        **{name: deployed.get(parameter, "0") for name, parameter in (
            ("DEFAULT_RATE_PER_SECOND", "DefaultRatePerSecond"),
            ("DEFAULT_BURST", "DefaultBurst"),
            ("DEFAULT_DAILY_QUOTA", "DefaultDailyQuota"),
            ("DEFAULT_READS_PER_SECOND", "DefaultReadsPerSecond"),
        )},
    }


def deployed_api(endpoint, stack, current, params):
    """BASE_URL of the deployed REST API's stage, in LocalStack's path form of execute-api
    (<id>.execute-api.localhost.localstack.cloud needs a DNS that resolves that name), and
    the functions' settings as the template gave them."""
    api_id = stack.api_id()
    if not api_id:
        raise DeployError(f"stack {stack.name} has no REST API (ApiKind=HTTP is not served by LocalStack community)")
    deployed = {p["ParameterKey"]: p["ParameterValue"] for p in current.get("Parameters", [])}
    stage = deployed.get("StageName") or params.get("StageName") or "v1"
    return {
        "BASE_URL": f"{endpoint}/_aws/execute-api/{api_id}/{stage}",
        "API_URL_AWS_FORM": outputs(current).get("ApiUrl", ""),
        "ALLOW_SIMULATED_FAILURE": deployed.get("AllowSimulatedFailure", "false"),
        "AUTH_CACHE_SECONDS": deployed.get("AuthCacheSeconds", "60"),
    }


def write_env(path, values):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        f.write("".join(f"{k}={v}\n" for k, v in values.items()))
    os.replace(path + ".tmp", path)


def main():
    t0 = time.monotonic()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for name in ("--endpoint", "--template", "--work", "--stack-env"):
        parser.add_argument(name, required=True)
    parser.add_argument("--code-dir", help="deploy the binaries of this folder (each function's "
                        "BuildProperties.Binary) instead of placeholders")
    parser.add_argument("--stack-name", help="instead of STACK_NAME")
    args = parser.parse_args()
    name = args.stack_name or env("STACK_NAME", "event-ingest-local")
    bucket = env("ARTIFACT_BUCKET", "event-ingest-local-artifacts")
    try:
        params = parameters(local_values=not args.code_dir)
        template = load_template(args.template)
        if args.code_dir:
            code_of, paths = real_code(args.code_dir, bucket)
            point_functions_at(template, code_of)  # the keys carry the binaries' digests
            code = [(bucket, key, lambda p=path: function_zip(p)) for key, path in sorted(paths.items())]
        else:
            zip_bytes = placeholder_zip()
            zip_key = "placeholder/bootstrap-%s.zip" % hashlib.sha256(zip_bytes).hexdigest()[:16]
            point_functions_at(template, {"Bucket": bucket, "Key": zip_key})  # so the hash covers the zip too
            code = [(bucket, zip_key, zip_bytes)]
        template_hash = add_hash_output(template, params)
        body = render(template)
        os.makedirs(args.work, exist_ok=True)
        with open(os.path.join(args.work, "template.local.json"), "w") as f:
            f.write(body)  # for reading only: what is deployed
        stack = Stack(args.endpoint, name, float(env("DEPLOY_TIMEOUT", "180")))
        current = deploy(stack, body, template_hash, params, name + "-events", code)
        values = stack_env(args.endpoint, current, params)
        if args.code_dir:
            values.update(deployed_api(args.endpoint, stack, current, params))
        if not stack.table_exists(values["TABLE_NAME"]):
            raise DeployError(f"stack output TableName={values['TABLE_NAME']}, but DynamoDB has no such table")
    except ImportError as e:
        sys.exit(f"[deploy] ERROR: {sys.executable} lacks {e.name}: set DEPLOY_PYTHON to a python with "
                 "boto3 and PyYAML (pip install boto3 pyyaml)")
    except DeployError as e:
        sys.exit(f"[deploy] ERROR: {e}")
    write_env(args.stack_env, values)
    log(f"wrote {args.stack_env} in {time.monotonic() - t0:.1f}s")
    print("TABLE_NAME=" + values["TABLE_NAME"])


if __name__ == "__main__":
    main()
