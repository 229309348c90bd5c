/*
 * DynamoDB Local bound to 127.0.0.1. Its own main (ServerRunner) has no bind-address option and listens
 * on every interface; this builds the same server from the same command-line options, points its one
 * Jetty connector at loopback (and, with -Ddsr.anyPort=true, at a port the kernel picks), and starts it. Telemetry is never set up (as with -disableTelemetry).
 * local/stores.ts compiles it once with javac and runs it with DynamoDBLocal.jar on the class path.
 */
import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

public final class LoopbackDynamoDbLocal {
  private LoopbackDynamoDbLocal() {}

  public static void main(String[] args) throws Exception {
    DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
    Field jettyField = DynamoDBProxyServer.class.getDeclaredField("server");
    jettyField.setAccessible(true);
    Server jetty = (Server) jettyField.get(proxy);
    Connector[] connectors = jetty.getConnectors();
    if (connectors.length == 0) throw new IllegalStateException("DynamoDB Local has no connector to bind");
    // -Ddsr.anyPort=true: bind a port the kernel picks (no probe-then-bind race) and print it.
    boolean anyPort = Boolean.getBoolean("dsr.anyPort");
    for (Connector connector : connectors) {
      ServerConnector server = (ServerConnector) connector;
      server.setHost("127.0.0.1");
      if (anyPort) server.setPort(0);
    }
    proxy.start();
    int port = ((ServerConnector) connectors[0]).getLocalPort();
    System.out.println("DynamoDB Local listening on 127.0.0.1:" + port);
  }
}
