// Probe runs the Java MultiLangDaemon's own configuration code on properties
// files, without starting a worker, and prints what it made of the
// credential settings. The daemonconf tests run it with the daemon's jars:
//
//   java -cp 'jars/lib/*' Probe.java FILE...
//
// For each FILE it prints one line, fields separated by tabs:
//
//   PROBE <file> kinesis=<provider> dynamodb=<provider> cloudwatch=<provider> start=ok|<error> [resolve=<outcome>]
//
// <provider> is the provider (chain) the daemon builds for that client, or
// the error building it; start is the outcome of the code the daemon runs
// before its first AWS call (MultiLangDaemonConfiguration.resolvedConfiguration,
// which builds the three clients with their providers). With
// "probe.resolve = true" in FILE the Kinesis provider is also asked for
// credentials (that may go to the network, so only where a test wants it).
import java.io.FileInputStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.Properties;

import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.kinesis.multilang.config.BuilderDynaBean;
import software.amazon.kinesis.multilang.config.KinesisClientLibConfigurator;
import software.amazon.kinesis.multilang.config.MultiLangDaemonConfiguration;
import software.amazon.kinesis.processor.ShardRecordProcessorFactory;

public class Probe {
    public static void main(String[] args) throws Exception {
        Method resolveCredentials = MultiLangDaemonConfiguration.class.getDeclaredMethod("resolveCredentials", BuilderDynaBean.class);
        resolveCredentials.setAccessible(true);
        Method resolvedConfiguration = MultiLangDaemonConfiguration.class.getDeclaredMethod("resolvedConfiguration", ShardRecordProcessorFactory.class);
        resolvedConfiguration.setAccessible(true);
        for (String file : args) {
            StringBuilder out = new StringBuilder("PROBE\t").append(file);
            Properties props = new Properties();
            try (FileInputStream in = new FileInputStream(file)) {
                props.load(in); // ISO-8859-1, as the daemon reads it
            }
            MultiLangDaemonConfiguration config;
            try {
                config = new KinesisClientLibConfigurator().getConfiguration(props);
            } catch (RuntimeException e) {
                System.out.println(out.append("\tconfig=").append(describe(e)));
                continue;
            }
            AwsCredentialsProvider kinesis = null;
            String[] names = {"kinesis", "dynamodb", "cloudwatch"};
            BuilderDynaBean[] beans = {config.getKinesisCredentialsProvider(), config.getDynamoDBCredentialsProvider(), config.getCloudWatchCredentialsProvider()};
            for (int i = 0; i < names.length; i++) {
                out.append('\t').append(names[i]).append('=');
                try {
                    Object p = resolveCredentials.invoke(config, beans[i]);
                    out.append(p == null ? "unset" : clean(p.toString()));
                    if (i == 0) kinesis = (AwsCredentialsProvider) p;
                } catch (InvocationTargetException e) {
                    out.append(describe(e.getCause()));
                }
            }
            out.append("\tstart=");
            try {
                ShardRecordProcessorFactory factory = () -> null;
                resolvedConfiguration.invoke(config, factory);
                out.append("ok");
            } catch (InvocationTargetException e) {
                out.append(describe(e.getCause()));
            }
            if ("true".equals(props.getProperty("probe.resolve")) && kinesis != null) {
                out.append("\tresolve=");
                try {
                    kinesis.resolveCredentials();
                    out.append("ok");
                } catch (RuntimeException e) {
                    out.append(describe(e));
                }
            }
            System.out.println(out);
        }
        System.exit(0); // clients the daemon built may hold non-daemon threads
    }

    // describe names an exception and its causes.
    static String describe(Throwable t) {
        StringBuilder sb = new StringBuilder("error ");
        for (; t != null; t = t.getCause()) {
            sb.append(t.getClass().getSimpleName()).append(": ").append(clean(String.valueOf(t.getMessage())));
            if (t.getCause() != null) sb.append(" <- ");
        }
        return sb.toString();
    }

    static String clean(String s) {
        return s.replace('\t', ' ').replace('\n', ' ').replace('\r', ' ');
    }
}
