"""A LocalStack Lambda runtime executor that runs provided-runtime functions as host processes.

LocalStack's community executor ("docker") runs every execution environment as a container
whose "init" binary implements the Lambda Runtime API. Without Docker, this executor does the
same job on the host: an environment is the function's `bootstrap` (from its unzipped code, a
binary built for this machine) started as a child process of LocalStack with the environment
LocalStack computed for it (the template's variables, role credentials, AWS_ENDPOINT_URL), and
a Runtime API server of its own (runtime_api.py) that hands it invocations and takes back its
responses and errors. Selected with LAMBDA_RUNTIME_EXECUTOR=host.

    runtime_api  the Lambda Runtime API for one process (standard library only)
    executor     the RuntimeExecutor: start, invoke, stop, crash -> error + fresh environment
"""

from plux import Plugin


class HostRuntimeExecutorPlugin(Plugin):
    namespace = "localstack.lambda.runtime_executor"
    name = "host"

    def load(self, *args, **kwargs):
        from localstack_host_lambda_executor.executor import HostRuntimeExecutor

        return HostRuntimeExecutor
