#!/usr/bin/env python3
"""Checks that infra/template.yaml says what the rest of the repo says.

Run with the tools venv (it has cfn-lint, whose decoder reads the CloudFormation YAML tags):
    .local/tools/bin/python infra/test_routes.py
Python stdlib and PyYAML otherwise (infra/routes.py). Prints "N passed, M failed"; exits 1 on any failure.

* Routes: api/openapi.yaml is the one route table. Its (METHOD, path) pairs are exactly the
  route constants of the functions (`Route::new(Method::X, "/path", ...)` in functions/*/src,
  the code's dispatch), and the routes infra/routes.py generates from the two (the DefinitionBody
  `paths:` of the REST `Api` and of the `HttpApi`, and the `cargo lambda watch` router in
  ../Cargo.toml) are up to date (`infra/routes.py --check`).
* Every function is built from a bin of that name in the Cargo workspace.
* Parameters reject bad values. LocalStack 4.9.2 does not enforce parameter constraints (it
  created stacks with StageName "bad stage!" and EventShards 0), and cfn-lint cannot see values,
  so the constraints are evaluated here the way CloudFormation does.
* The table is docs/data-model.md's; IAM is least privilege; the timeouts fit API Gateway.
"""

import os
import re
import sys
import tomllib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import routes  # noqa: E402  (infra/routes.py: the route table's sources and the generated copies)
from routes import CARGO_TOML, ROOT, TEMPLATE, function_routes, openapi_routes  # noqa: E402

try:
    from cfnlint.decode import decode
except ImportError:
    sys.exit("cfnlint not importable: run with .local/tools/bin/python (scripts/stack.py tools)")


def plain(node):
    if isinstance(node, dict):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    return node


def load_template():
    decoded, matches = decode(TEMPLATE)
    if matches:
        raise AssertionError("template does not parse: %s" % matches)
    return plain(decoded)


T = load_template()
RESOURCES = T["Resources"]
GLOBAL_FN = T.get("Globals", {}).get("Function", {})
FUNCTIONS = {n: r for n, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function"}


def binary_of(logical_id):
    return FUNCTIONS[logical_id].get("Metadata", {}).get("BuildProperties", {}).get("Binary")


def fn_prop(logical_id, key):
    return FUNCTIONS[logical_id].get("Properties", {}).get(key, GLOBAL_FN.get(key))


# ------------------------------------------------------------------ routes
API_KINDS = {"REST": "Api", "HTTP": "HttpApi"}


def test_openapi_equals_the_functions_route_constants():
    o = openapi_routes()
    f = {(m, p) for m, p, _ in function_routes()}
    assert len(o) >= 7, "api/openapi.yaml lists %d operations" % len(o)
    missing = sorted(o - f)
    extra = sorted(f - o)
    assert not missing and not extra, "openapi vs functions/*/src: only in the document %s; only in the code %s" % (missing, extra)


def test_every_keyed_operation_names_the_scope_its_route_constant_checks():
    # api/openapi.yaml's x-required-scope is what the code enforces (the scope beside each
    # Route constant, handed to App::authorize); an operation without a key has neither
    import yaml
    with open(routes.OPENAPI) as f:
        doc = yaml.safe_load(f)
    code = routes.function_route_scopes()
    keyed_by_default = bool(doc.get("security"))
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in routes.HTTP_METHODS:
                continue
            keyed = bool(op["security"]) if "security" in op else keyed_by_default
            documented = op.get("x-required-scope")
            where = "%s %s" % (method.upper(), path)
            assert code.get((method.upper(), path)) == documented, \
                "%s: x-required-scope %r, the Route constant checks %r" % (where, documented, code.get((method.upper(), path)))
            assert keyed == (documented is not None), "%s: a keyed operation needs x-required-scope, an open one none" % where
            if documented:
                assert documented in ("ingest", "read", "replay"), "%s: unknown scope %r" % (where, documented)
                assert "`%s` key scope" % documented in op["summary"], "%s: say the scope in the summary" % where


def test_generated_routes_are_up_to_date():
    # the template's two DefinitionBody `paths:` and Cargo.toml's watch router
    stale = routes.stale()
    assert not stale, "%s differ from what infra/routes.py generates: run infra/routes.py\n%s" % (
        ", ".join(rel for rel, _ in stale), "".join(d for _, d in stale))


def test_no_route_twice():
    seen = {}
    for method, path, fn in sorted(function_routes()):
        assert (method, path) not in seen, "%s %s goes to %s and %s" % (method, path, seen[(method, path)], fn)
        seen[(method, path)] = fn


def test_exactly_one_api_kind_is_created():
    assert T["Parameters"]["ApiKind"]["AllowedValues"] == ["REST", "HTTP"]
    assert T["Parameters"]["ApiKind"]["Default"] == "REST", "REST stays the default (LocalStack community)"
    assert T["Conditions"]["IsRestApi"] == {"Fn::Equals": [{"Ref": "ApiKind"}, "REST"]}
    assert T["Conditions"]["IsHttpApi"] == {"Fn::Equals": [{"Ref": "ApiKind"}, "HTTP"]}
    assert RESOURCES["Api"]["Type"] == "AWS::Serverless::Api" and RESOURCES["Api"]["Condition"] == "IsRestApi"
    assert RESOURCES["HttpApi"]["Type"] == "AWS::Serverless::HttpApi" and RESOURCES["HttpApi"]["Condition"] == "IsHttpApi"
    apis = [n for n, r in RESOURCES.items() if r["Type"] in ("AWS::Serverless::Api", "AWS::Serverless::HttpApi")]
    assert sorted(apis) == ["Api", "HttpApi"], apis
    # the account-wide logging role is REST's alone
    assert {"Condition": "IsRestApi"} in T["Conditions"]["CreateApiGatewayAccount"]["Fn::And"]


def test_no_function_has_events():
    # SAM makes an event's Lambda permission without the API's condition: an event on the API
    # that is not created would break the deploy; and an event without an API id would make
    # SAM create a third, implicit API.
    for name in FUNCTIONS:
        assert not fn_prop(name, "Events"), "%s: routes belong in the APIs' DefinitionBody" % name


def test_each_api_kind_throttles_and_logs():
    rest = RESOURCES["Api"]["Properties"]
    setting = rest["MethodSettings"][0]
    assert setting["ThrottlingRateLimit"] == {"Ref": "ThrottlingRateLimit"}
    assert setting["ThrottlingBurstLimit"] == {"Ref": "ThrottlingBurstLimit"}
    assert rest["AccessLogSetting"]["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    http = RESOURCES["HttpApi"]["Properties"]
    assert http["DefaultRouteSettings"]["ThrottlingRateLimit"] == {"Ref": "ThrottlingRateLimit"}
    assert http["DefaultRouteSettings"]["ThrottlingBurstLimit"] == {"Ref": "ThrottlingBurstLimit"}
    assert http["AccessLogSettings"]["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    for logical_id in API_KINDS.values():
        assert RESOURCES[logical_id]["Properties"]["StageName"] == {"Ref": "StageName"}, logical_id


def test_every_function_may_be_invoked_by_the_chosen_api_only():
    permissions = {r["Properties"]["FunctionName"]["Ref"]: r for r in RESOURCES.values()
                   if r["Type"] == "AWS::Lambda::Permission"}
    assert sorted(permissions) == sorted(FUNCTIONS), sorted(permissions)
    for name, permission in permissions.items():
        p = permission["Properties"]
        assert p["Principal"] == "apigateway.amazonaws.com" and p["Action"] == "lambda:InvokeFunction", name
        condition, rest, http = p["SourceArn"]["Fn::If"]
        assert condition == "IsRestApi", name
        assert rest["Fn::Sub"].endswith(":${Api}/*") and http["Fn::Sub"].endswith(":${HttpApi}/*"), name
    for output in ("ApiUrl", "DashboardUrl"):
        assert T["Outputs"][output]["Value"]["Fn::If"][0] == "IsRestApi", output


# ------------------------------------------------------------------ functions vs the workspace
def workspace_bins():
    with open(CARGO_TOML, "rb") as f:
        members = tomllib.load(f)["workspace"]["members"]
    bins = {}
    for member in members:
        path = os.path.join(ROOT, member, "Cargo.toml")
        if not os.path.exists(path):
            continue
        with open(path, "rb") as f:
            manifest = tomllib.load(f)
        names = [b["name"] for b in manifest.get("bin", [])]
        if not names and os.path.exists(os.path.join(ROOT, member, "src", "main.rs")):
            names = [manifest["package"]["name"]]
        for name in names:
            bins[name] = member
    return bins


def test_every_function_builds_a_workspace_bin():
    bins = workspace_bins()
    for name, res in FUNCTIONS.items():
        meta = res.get("Metadata", {})
        assert meta.get("BuildMethod") == "rust-cargolambda", "%s: BuildMethod must be rust-cargolambda" % name
        b = binary_of(name)
        assert b in bins, "%s: Binary %r is not a bin of the workspace (%s)" % (name, b, sorted(bins))
        assert fn_prop(name, "CodeUri") == "..", "%s: CodeUri must be the workspace root '..'" % name
        assert fn_prop(name, "Runtime") == "provided.al2023" and fn_prop(name, "Handler") == "bootstrap", name
        assert fn_prop(name, "Architectures") == ["arm64"], name
    assert sorted(binary_of(n) for n in FUNCTIONS) == ["aggregates", "dashboard", "ingest", "listing"]


def test_function_settings():
    env = GLOBAL_FN["Environment"]["Variables"]
    assert env["TABLE_NAME"] == {"Ref": "EventsTable"}
    assert env["EVENT_SHARDS"] == {"Ref": "EventShards"}
    assert env["AGGREGATE_SHARDS"] == {"Ref": "AggregateShards"}
    assert env["ALLOW_SIMULATED_FAILURE"] == {"Ref": "AllowSimulatedFailure"}
    # a deployment that takes the defaults refuses simulateFailure (the code's default too)
    assert T["Parameters"]["AllowSimulatedFailure"]["Default"] == "false", \
        "AllowSimulatedFailure must default to false"
    assert env["RUST_LOG"] == {"Ref": "LogLevel"}
    # API keys are on in every deployment; only a local experiment may turn them off
    assert env["AUTH"] == "on", "AUTH must be on in the template"
    assert env["AUTH_CACHE_SECONDS"] == {"Ref": "AuthCacheSeconds"}
    # CORS: only the ingest function (POST /events, OPTIONS /events) answers browsers, from
    # AllowedOrigins, which allows none unless set
    for name in FUNCTIONS:
        own = ((FUNCTIONS[name].get("Properties", {}).get("Environment") or {}).get("Variables") or {})
        if binary_of(name) == "ingest":
            assert own.get("ALLOWED_ORIGINS") == {"Ref": "AllowedOrigins"}, "ingest must get ALLOWED_ORIGINS"
        else:
            assert "ALLOWED_ORIGINS" not in own, "%s: only ingest answers browsers" % name
    assert "ALLOWED_ORIGINS" not in env, "ALLOWED_ORIGINS belongs to the ingest function only"
    assert T["Parameters"]["AllowedOrigins"]["Default"] == "", "AllowedOrigins must default to none"
    for kind in ("Api", "HttpApi"):
        props = RESOURCES[kind]["Properties"]
        assert "Cors" not in props and "CorsConfiguration" not in props, \
            "%s: no gateway CORS (REST would answer only preflights, HTTP every route); ingest answers it" % kind
    for name in FUNCTIONS:
        timeout = fn_prop(name, "Timeout")
        assert timeout < 29, "%s: Timeout %s must stay below API Gateway's 29 s" % (name, timeout)
    ingest = [n for n in FUNCTIONS if binary_of(n) == "ingest"][0]
    assert fn_prop(ingest, "Timeout") > 20, "ingest Timeout must exceed the 20 s batch deadline"


# ------------------------------------------------------------------ parameters
def cfn_param_errors(name, value):
    """What CloudFormation would say about `value` for parameter `name` (empty: accepted)."""
    p = T["Parameters"][name]
    errors = []
    if "AllowedValues" in p and value not in [str(v) for v in p["AllowedValues"]]:
        errors.append("not in AllowedValues")
    if p["Type"] == "Number":
        try:
            number = float(value)
        except ValueError:
            return errors + ["not a number"]
        if "MinValue" in p and number < float(p["MinValue"]):
            errors.append("below MinValue")
        if "MaxValue" in p and number > float(p["MaxValue"]):
            errors.append("above MaxValue")
    else:
        if "AllowedPattern" in p and not re.fullmatch(p["AllowedPattern"], value):
            errors.append("does not match AllowedPattern")
        if "MinLength" in p and len(value) < int(p["MinLength"]):
            errors.append("shorter than MinLength")
        if "MaxLength" in p and len(value) > int(p["MaxLength"]):
            errors.append("longer than MaxLength")
    if errors and not p.get("ConstraintDescription") and "AllowedValues" not in p:
        errors.append("(and no ConstraintDescription to explain it)")
    return errors


def test_every_parameter_default_is_valid_and_explained():
    for name, p in T["Parameters"].items():
        assert not cfn_param_errors(name, str(p["Default"])), "%s default %r rejected" % (name, p["Default"])
        assert p.get("ConstraintDescription"), "%s: add a ConstraintDescription (the message users see)" % name


def test_bad_parameters_are_rejected():
    bad = [
        ("StageName", "bad stage!"), ("StageName", ""), ("StageName", "v1/x"),
        ("EventShards", "0"), ("EventShards", "65"), ("EventShards", "four"),
        ("AggregateShards", "0"), ("AggregateShards", "-1"),
        ("AllowSimulatedFailure", "yes"), ("DeletionProtection", "maybe"),
        ("LogLevel", "verbose"), ("LogRetentionDays", "2"),
        ("ThrottlingRateLimit", "0"), ("ThrottlingBurstLimit", "0"),
        ("ApiKind", "rest"), ("ApiKind", "WEBSOCKET"),
        ("AllowedOrigins", "app.example.com"), ("AllowedOrigins", "https://a.example/"),
        ("AllowedOrigins", "https://a.example, https://b.example"), ("AllowedOrigins", "*,https://a.example"),
    ]
    for name, value in bad:
        assert cfn_param_errors(name, value), "%s=%r would be accepted" % (name, value)
    good = [("StageName", "prod"), ("StageName", "v2_beta"), ("EventShards", "1"), ("EventShards", "64"),
            ("AggregateShards", "16"), ("AllowSimulatedFailure", "true"), ("DeletionProtection", "false"),
            ("ApiKind", "REST"), ("ApiKind", "HTTP"),
            ("AllowedOrigins", ""), ("AllowedOrigins", "*"), ("AllowedOrigins", "https://app.example.com"),
            ("AllowedOrigins", "http://localhost:3000,http://localhost:5173")]
    for name, value in good:
        assert not cfn_param_errors(name, value), "%s=%r rejected: %s" % (name, value, cfn_param_errors(name, value))


# ------------------------------------------------------------------ table (docs/data-model.md)
def test_table_matches_the_data_model():
    t = RESOURCES["EventsTable"]
    assert t["Type"] == "AWS::DynamoDB::Table"
    p = t["Properties"]
    attrs = {a["AttributeName"]: a["AttributeType"] for a in p["AttributeDefinitions"]}
    assert attrs == {k: "S" for k in ("pk", "sk", "feed_pk", "feed_sk", "fc_pk", "fc_sk")}, attrs
    assert [(k["AttributeName"], k["KeyType"]) for k in p["KeySchema"]] == [("pk", "HASH"), ("sk", "RANGE")]
    gsis = {g["IndexName"]: ([(k["AttributeName"], k["KeyType"]) for k in g["KeySchema"]], g["Projection"])
            for g in p["GlobalSecondaryIndexes"]}
    assert gsis == {
        "feed": ([("feed_pk", "HASH"), ("feed_sk", "RANGE")], {"ProjectionType": "ALL"}),
        "failed_by_client": ([("fc_pk", "HASH"), ("fc_sk", "RANGE")], {"ProjectionType": "ALL"}),
    }, gsis
    assert p["BillingMode"] == "PAY_PER_REQUEST"
    assert p["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert p["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert p["DeletionProtectionEnabled"] == {"Fn::If": ["ProtectTable", True, False]}
    assert "TableName" in {o for o in T["Outputs"]}


# ------------------------------------------------------------------ least privilege
EXPECTED_DYNAMODB = {
    # BatchGetItem: a batch's keys-only read before its writes (duplicates cost no write)
    "ingest": {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem", "dynamodb:GetItem",
               "dynamodb:BatchGetItem"},
    "listing": {"dynamodb:Query", "dynamodb:GetItem"},
    "aggregates": {"dynamodb:Query", "dynamodb:GetItem"},  # GetItem: the cold-start warm-up read
    "dashboard": set(),  # serves embedded files; the page calls the API with the visitor's key
}


def test_least_privilege():
    for name in FUNCTIONS:
        assert "Policies" not in FUNCTIONS[name]["Properties"], "%s: use its explicit Role, not SAM Policies" % name
        role_ref = fn_prop(name, "Role")
        role_id = role_ref["Fn::GetAtt"][0]
        role = RESOURCES[role_id]["Properties"]
        assert "ManagedPolicyArns" not in role, "%s: no managed policies (they grant Resource *)" % role_id
        actions = set()
        for pol in role["Policies"]:
            for st in pol["PolicyDocument"]["Statement"]:
                assert st["Effect"] == "Allow"
                acts = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
                res = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
                for a in acts:
                    assert "*" not in a, "%s: wildcard action %s" % (role_id, a)
                for r in res:
                    assert r != "*", "%s: Resource *" % role_id
                    if any(a.startswith("dynamodb:") for a in acts):
                        assert r in ({"Fn::GetAtt": ["EventsTable", "Arn"]}, {"Fn::Sub": "${EventsTable.Arn}/index/*"}), \
                            "%s: DynamoDB on something else than the table: %s" % (role_id, r)
                actions |= {a for a in acts if a.startswith("dynamodb:")}
        assert actions == EXPECTED_DYNAMODB[binary_of(name)], "%s: %s" % (name, sorted(actions))


# ------------------------------------------------------------------ runner
def main():
    tests = [(n, f) for n, f in sorted(globals().items()) if n.startswith("test_") and callable(f)]
    passed = failed = 0
    for name, fn in tests:
        try:
            fn()
        except AssertionError as e:
            failed += 1
            print("FAIL %s\n  %s" % (name, str(e).replace("\n", "\n  ")))
        except Exception as e:  # a broken file is a failure too, with its cause
            failed += 1
            print("FAIL %s\n  %s: %s" % (name, type(e).__name__, e))
        else:
            passed += 1
            print("ok   %s" % name)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
