"""The local stack: LocalStack (DynamoDB, the table deployed from infra/template.yaml) and
`cargo lambda watch` serving the functions on the API paths. Standard library only, except
`deploy`, which runs in LocalStack's venv (boto3, PyYAML).

    common      paths under .local/, settings from the environment, log lines, errors
    ports       is a port free (one test: can we bind it), pick a port
    procs       processes: identity (pid + start time), their family, stopping them
    daemon      one background process of ours: its record file and its state
                (stopped / starting / running / stopping)
    install     the tools venv, and LocalStack + DynamoDB Local in host mode
    localstack  LocalStack: health, start, stop, deploy
    deploy      infra/template.yaml into LocalStack's CloudFormation -> .local/stack.env
    deployed    make deploy-local: the template with the real functions (host release build),
                served by LocalStack's API Gateway -> .local/deployed.env
    watcher     cargo lambda watch: start, stop, wait for the functions
    stack       both together: up, down, status, run (make dev), with (scripts/stack.py with)
    cli         the command line (scripts/stack.py)

and two scripts the watcher runs: front.py on the API port (at most WATCH_MAX_IN_FLIGHT
requests reach the watcher at once: past 100 waiting for one function it would hang) and
respawn.py around each function process (replaces one that dies; hands each answer over on a
connection of its own).
"""
