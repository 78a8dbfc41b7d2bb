package dev.schloss.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.config.SaslConfigs;
import org.apache.kafka.common.errors.ClusterAuthorizationException;
import org.apache.kafka.common.errors.TopicAuthorizationException;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Apache Kafka's {@code kafka-acls} ({@code org.apache.kafka.tools.AclCommand} from the
 * kafka-tools jar, run in its own JVM as operators run it) against schloss in mode cedar:
 * {@code --add}, {@code --list} and {@code --remove} with PREFIXED and DENY round-trip, the
 * created ACLs decide the Java producer's requests, they survive a restart, and a principal
 * without Alter on its tenant is refused.
 */
class AclCommandTest {
    static final String ADMIN = "acme/admin";
    static final String ADMIN_PASSWORD = "admin-java-s3cret";
    static final String ALICE = "acme/alice";
    static final String ALICE_PASSWORD = "alice-java-s3cret";

    private static Path dir;
    private static String config;
    private static SchlossBroker broker;

    @BeforeAll
    static void startBroker() throws Exception {
        dir = Files.createTempDirectory("schloss-java-acls-");
        Path policies = Files.createDirectories(dir.resolve("policies"));
        Path repo = Path.of(System.getProperty("user.dir")).toAbsolutePath().getParent().getParent();
        Files.copy(repo.resolve("policies/base.cedar"), policies.resolve("base.cedar"));
        Files.writeString(policies.resolve("admin.cedar"),
                "@id(\"acme-admin\")\npermit (principal == Kafka::User::\"acme/admin\", action, "
                        + "resource in Kafka::Tenant::\"acme\");\n");
        AuthSaslTest.AuthBroker.cli(dir, "users", "add", ADMIN, "--password", ADMIN_PASSWORD);
        AuthSaslTest.AuthBroker.cli(dir, "users", "add", ALICE, "--password", ALICE_PASSWORD);
        config = "[broker]\nnode_id = 1\ndata_dir = \"" + dir.resolve("data") + "\"\n"
                + "num_partitions = 1\nauto_create_topics = false\n\n"
                + "[authorization]\nmode = \"cedar\"\npolicy_dir = \"policies\"\n\n"
                + "[auth]\ncredentials_file = \"users.toml\"\n\n"
                + "[[listeners]]\nname = \"SASL_PLAINTEXT\"\naddress = \"127.0.0.1:0\"\n"
                + "advertised = \"127.0.0.1:0\"\nsecurity_protocol = \"SASL_PLAINTEXT\"\n"
                + "tenant = \"acme\"\nsasl_mechanisms = [\"SCRAM-SHA-256\"]\n";
        broker = SchlossBroker.start(dir, config, List.of("SASL_PLAINTEXT"), "info,schloss=debug");
        try (Admin admin = Admin.create(client(ADMIN, ADMIN_PASSWORD))) {
            admin.createTopics(List.of(new NewTopic("sales-eu", 1, (short) 1),
                    new NewTopic("sales-us", 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
        }
    }

    @AfterAll
    static void stopBroker() throws Exception {
        if (broker != null) {
            broker.close();
        }
    }

    static Properties client(String user, String password) {
        Properties p = new Properties();
        p.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrap());
        p.put(CommonClientConfigs.SECURITY_PROTOCOL_CONFIG, "SASL_PLAINTEXT");
        p.put(SaslConfigs.SASL_MECHANISM, "SCRAM-SHA-256");
        p.put(SaslConfigs.SASL_JAAS_CONFIG, "org.apache.kafka.common.security.scram.ScramLoginModule required "
                + "username=\"" + user + "\" password=\"" + password + "\";");
        return p;
    }

    /** Runs kafka-acls as `user`; returns exit code and output. */
    static Result kafkaAcls(String user, String password, String... args) throws Exception {
        Path commandConfig = dir.resolve(user.replace('/', '-') + ".properties");
        try (var out = Files.newBufferedWriter(commandConfig)) {
            client(user, password).store(out, null);
        }
        List<String> cmd = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"),
                "org.apache.kafka.tools.AclCommand",
                "--bootstrap-server", broker.bootstrap(),
                "--command-config", commandConfig.toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "kafka-acls did not finish");
        return new Result(p.exitValue(), output);
    }

    record Result(int exit, String output) {}

    static void produceAsAlice(String topic) throws Exception {
        Properties p = client(ALICE, ALICE_PASSWORD);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "15000");
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "15000");
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            producer.send(new ProducerRecord<>(topic, "k", "v")).get(30, TimeUnit.SECONDS);
        }
    }

    static Throwable produceFailure(String topic) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> produceAsAlice(topic));
        return e.getCause();
    }

    @Test
    void kafkaAclsAddListRemoveDecideAndSurviveRestart() throws Exception {
        // Nothing granted yet: alice may not write.
        assertInstanceOf(TopicAuthorizationException.class, produceFailure("sales-eu"));

        Result add = kafkaAcls(ADMIN, ADMIN_PASSWORD, "--add", "--allow-principal", "User:alice",
                "--operation", "Write", "--operation", "Describe", "--topic", "sales-",
                "--resource-pattern-type", "prefixed");
        assertEquals(0, add.exit(), add.output());
        Result deny = kafkaAcls(ADMIN, ADMIN_PASSWORD, "--add", "--deny-principal", "User:alice",
                "--operation", "Write", "--topic", "sales-us");
        assertEquals(0, deny.exit(), deny.output());

        Result list = kafkaAcls(ADMIN, ADMIN_PASSWORD, "--list");
        assertEquals(0, list.exit(), list.output());
        assertTrue(list.output().contains("name=sales-, patternType=PREFIXED"), list.output());
        assertTrue(list.output().contains("principal=User:alice, host=*, operation=WRITE, permissionType=ALLOW"),
                list.output());
        assertTrue(list.output().contains("principal=User:alice, host=*, operation=WRITE, permissionType=DENY"),
                list.output());

        // The ACLs decide: PREFIXED allows (the idempotent producer included, by KIP-679),
        // the DENY wins.
        produceAsAlice("sales-eu");
        assertInstanceOf(TopicAuthorizationException.class, produceFailure("sales-us"));

        // A principal without Alter on its tenant manages no ACLs.
        Result refused = kafkaAcls(ALICE, ALICE_PASSWORD, "--add", "--allow-principal", "User:alice",
                "--operation", "All", "--topic", "*");
        assertNotEquals(0, refused.exit(), refused.output());
        assertTrue(refused.output().contains("ClusterAuthorizationException")
                || refused.output().contains("Cluster authorization failed"), refused.output());
        try (Admin admin = Admin.create(client(ALICE, ALICE_PASSWORD))) {
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> admin.describeAcls(AclBindingFilter.ANY).values().get(30, TimeUnit.SECONDS));
            assertInstanceOf(ClusterAuthorizationException.class, e.getCause());
        }

        // They survive a restart.
        broker.stop();
        broker = SchlossBroker.start(dir, config, List.of("SASL_PLAINTEXT"), "info,schloss=debug");
        Result after = kafkaAcls(ADMIN, ADMIN_PASSWORD, "--list", "--topic", "sales-",
                "--resource-pattern-type", "prefixed");
        assertEquals(0, after.exit(), after.output());
        assertTrue(after.output().contains("operation=WRITE, permissionType=ALLOW"), after.output());
        produceAsAlice("sales-eu");
        assertInstanceOf(TopicAuthorizationException.class, produceFailure("sales-us"));

        // --remove (with --force, as scripts run it) deletes the DENY; the write goes through.
        Result remove = kafkaAcls(ADMIN, ADMIN_PASSWORD, "--remove", "--force", "--deny-principal",
                "User:alice", "--operation", "Write", "--topic", "sales-us");
        assertEquals(0, remove.exit(), remove.output());
        Result listed = kafkaAcls(ADMIN, ADMIN_PASSWORD, "--list", "--topic", "sales-us");
        assertFalse(listed.output().contains("permissionType=DENY"), listed.output());
        produceAsAlice("sales-us");
    }
}
