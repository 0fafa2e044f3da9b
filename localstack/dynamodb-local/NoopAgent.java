import java.lang.instrument.Instrumentation;

/**
 * Stand-in for LocalStack's ddb-local-loader agent (a patch allowing more than 20 GSIs that
 * LocalStack downloads from elsewhere): LocalStack starts DynamoDB Local with
 * -javaagent:.../ddb-local-loader-0.1.jar, and with this agent under that name the JVM starts.
 * Built by scripts/devstack/install.py.
 */
public final class NoopAgent {
    public static void premain(String args, Instrumentation inst) {
    }
}
