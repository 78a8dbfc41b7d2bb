package dev.schloss.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.SaslConfigs;
import org.apache.kafka.common.config.SslConfigs;
import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.apache.kafka.common.errors.SslAuthenticationException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.extension.TestWatcher;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The Java kafka-clients 4.x against schloss with authentication: PLAIN, SCRAM-SHA-256 and
 * SCRAM-SHA-512 over SASL_SSL and SASL_PLAINTEXT (truststore as PEM); a wrong password and an
 * unknown user fail fast with {@link SaslAuthenticationException}; mutual TLS with a PEM
 * keystore maps the dev client certificate to its tenant; no certificate is refused.
 */
class AuthSaslTest {
    static final String ALICE = "default/alice";
    static final String ALICE_PASSWORD = "alice-java-s3cret";
    static final List<String> MECHANISMS = List.of("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512");
    static final Duration TIMEOUT = Duration.ofSeconds(30);

    private static AuthBroker broker;

    @RegisterExtension
    static final TestWatcher BROKER_LOG_ON_FAILURE = new TestWatcher() {
        @Override
        public void testFailed(ExtensionContext context, Throwable cause) {
            if (broker != null) {
                System.err.println("---- schloss broker log (tail) for " + context.getDisplayName()
                        + " ----\n" + broker.logTail(60) + "\n---- end of broker log ----");
            }
        }
    };

    @BeforeAll
    static void startBroker() throws Exception {
        broker = AuthBroker.start(0);
    }

    @AfterAll
    static void stopBroker() throws Exception {
        if (broker != null) {
            broker.close();
        }
    }

    static Stream<Arguments> listenersAndMechanisms() {
        return Stream.of("SASL_SSL", "SASL_PLAINTEXT")
                .flatMap(l -> MECHANISMS.stream().map(m -> Arguments.of(l, m)));
    }

    @ParameterizedTest
    @MethodSource("listenersAndMechanisms")
    void saslRoundTrip(String listener, String mechanism) throws Exception {
        String topic = ("java-" + listener + "-" + mechanism + "-" + UUID.randomUUID().toString().substring(0, 8))
                .toLowerCase();
        roundTrip(broker.sasl(listener, mechanism, ALICE, ALICE_PASSWORD), topic, 10);
        assertTrue(broker.partitionDirs().contains("default." + topic + "-0"), broker.partitionDirs().toString());
    }

    static Stream<Arguments> badCredentials() {
        return MECHANISMS.stream().flatMap(m -> Stream.of(
                Arguments.of("SASL_SSL", m, ALICE, "not-the-password"),
                Arguments.of("SASL_PLAINTEXT", m, "default/nobody", ALICE_PASSWORD)));
    }

    @ParameterizedTest
    @MethodSource("badCredentials")
    void badCredentialsFailWithSaslAuthenticationException(String listener, String mechanism, String user,
            String password) throws Exception {
        broker.resetBrake();
        Properties p = broker.sasl(listener, mechanism, user, password);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "20000");
        long started = System.nanoTime();
        try (Admin admin = Admin.create(p)) {
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> admin.describeCluster().clusterId().get(25, TimeUnit.SECONDS));
            assertInstanceOf(SaslAuthenticationException.class, e.getCause(), e.toString());
            String message = e.getCause().getMessage();
            if (mechanism.startsWith("SCRAM")) {
                assertEquals("Authentication failed during authentication due to invalid credentials with SASL "
                        + "mechanism " + mechanism, message);
            } else {
                assertTrue(message.contains("Authentication failed"), message);
            }
        }
        assertTrue(System.nanoTime() - started < TIMEOUT.toNanos(), "the client hung");
    }

    @Test
    void tenantsSeeOnlyTheirOwnTopics() throws Exception {
        String bobs = "java-bob-" + UUID.randomUUID().toString().substring(0, 8);
        String alices = "java-alice-" + UUID.randomUUID().toString().substring(0, 8);
        Properties bob = broker.sasl("SASL_SSL", "SCRAM-SHA-512", "acme/bob", "bob-java-s3cret");
        Properties alice = broker.sasl("SASL_SSL", "SCRAM-SHA-256", ALICE, ALICE_PASSWORD);
        roundTrip(bob, bobs, 3);
        roundTrip(alice, alices, 3);
        List<String> dirs = broker.partitionDirs();
        assertTrue(dirs.contains("acme." + bobs + "-0") && dirs.contains("default." + alices + "-0"), dirs.toString());
        try (Admin a = Admin.create(alice); Admin b = Admin.create(bob)) {
            Set<String> seenByAlice = a.listTopics().names().get(30, TimeUnit.SECONDS);
            Set<String> seenByBob = b.listTopics().names().get(30, TimeUnit.SECONDS);
            assertTrue(seenByAlice.contains(alices) && seenByBob.contains(bobs), seenByAlice + " " + seenByBob);
            assertFalse(seenByAlice.stream().anyMatch(t -> t.contains(bobs)), seenByAlice.toString());
            assertFalse(seenByBob.stream().anyMatch(t -> t.contains(alices)), seenByBob.toString());
        }
    }

    @Test
    void mutualTlsWithAPemKeystore() throws Exception {
        Path keystore = broker.dir().resolve("client-keystore.pem");
        Files.writeString(keystore, Files.readString(broker.dir().resolve("certs/client.key"))
                + Files.readString(broker.dir().resolve("certs/client.pem")));
        Properties p = broker.tls();
        p.put(SslConfigs.SSL_KEYSTORE_TYPE_CONFIG, "PEM");
        p.put(SslConfigs.SSL_KEYSTORE_LOCATION_CONFIG, keystore.toString());
        String topic = "java-mtls-" + UUID.randomUUID().toString().substring(0, 8);
        roundTrip(p, topic, 5);
        assertTrue(broker.partitionDirs().contains("default." + topic + "-0"), broker.partitionDirs().toString());
        assertTrue(broker.log().contains("principal=dev-client tenant=default"));
    }

    @Test
    void mutualTlsWithoutACertificateIsRefused() throws Exception {
        Properties p = broker.tls();
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "5000");
        try (Admin admin = Admin.create(p)) {
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> admin.describeCluster().clusterId().get(25, TimeUnit.SECONDS));
            assertFalse(e.getCause() instanceof SaslAuthenticationException);
            // With TLS 1.3 the client learns of the refusal only when reading, as an SSL
            // handshake failure or a disconnect; either way nothing is served.
            assertTrue(e.getCause() instanceof SslAuthenticationException
                    || e.getCause() instanceof org.apache.kafka.common.errors.TimeoutException, e.toString());
        }
    }

    // ------------------------------------------------------------------ helpers

    static void roundTrip(Properties base, String topic, int n) throws Exception {
        Properties pp = new Properties();
        pp.putAll(base);
        pp.put(ProducerConfig.ACKS_CONFIG, "all");
        pp.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "30000");
        try (KafkaProducer<String, String> producer =
                new KafkaProducer<>(pp, new StringSerializer(), new StringSerializer())) {
            for (int i = 0; i < n; i++) {
                producer.send(new ProducerRecord<>(topic, 0, "k" + i, topic + "-" + i)).get(30, TimeUnit.SECONDS);
            }
        }
        Properties cp = new Properties();
        cp.putAll(base);
        cp.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        try (KafkaConsumer<String, String> consumer =
                new KafkaConsumer<>(cp, new StringDeserializer(), new StringDeserializer())) {
            TopicPartition tp = new TopicPartition(topic, 0);
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            List<String> got = new ArrayList<>();
            long deadline = System.nanoTime() + TIMEOUT.toNanos();
            while (got.size() < n) {
                if (System.nanoTime() > deadline) {
                    fail("read " + got.size() + " of " + n + " records from " + topic);
                }
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
                    got.add(r.value());
                }
            }
            List<String> want = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                want.add(topic + "-" + i);
            }
            assertEquals(want, got);
        }
    }

    /**
     * A schloss process with SASL_SSL, SASL_PLAINTEXT and SSL (mTLS) listeners, dev
     * certificates from {@code schloss certs dev} and users {@code default/alice} and
     * {@code acme/bob}.
     */
    static final class AuthBroker implements AutoCloseable {
        private static final String RULES = "SAN:URI:^spiffe:\\/\\/([a-z0-9-]+)\\/ns\\/[^\\/]+\\/sa\\/(.+)$/$2/$1/,"
                + "RULE:^CN=([^,]+),.*$/$1/,DEFAULT";

        private final SchlossBroker broker;
        private final Path dir;

        private AuthBroker(SchlossBroker broker) {
            this.broker = broker;
            this.dir = broker.dir();
        }

        static AuthBroker start(long reauthMs) throws Exception {
            Path dir = Files.createTempDirectory("schloss-java-auth-");
            cli(dir, "certs", "dev", "--dir", "certs");
            cli(dir, "users", "add", ALICE, "--password", ALICE_PASSWORD);
            cli(dir, "users", "add", "acme/bob", "--password", "bob-java-s3cret");
            String mechanisms = "sasl_mechanisms = [\"SCRAM-SHA-512\", \"SCRAM-SHA-256\", \"PLAIN\"]\n";
            String tls = "[listeners.tls]\ncert = \"certs/server.pem\"\nkey = \"certs/server.key\"\n";
            String config = "[broker]\nnode_id = 1\ndata_dir = \"" + dir.resolve("data") + "\"\n"
                    + "num_partitions = 1\nauto_create_topics = true\n\n"
                    + "[auth]\ncredentials_file = \"users.toml\"\nauthentication_timeout_ms = 10000\n"
                    + "connections_max_reauth_ms = " + reauthMs + "\n"
                    + listener("SASL_SSL") + mechanisms + tls
                    + listener("SASL_PLAINTEXT") + mechanisms
                    + listener("SSL") + tls + "client_auth = \"required\"\nca = \"certs/ca.pem\"\n"
                    + "principal_mapping_rules = '" + RULES + "'\n";
            return new AuthBroker(SchlossBroker.start(dir, config,
                    List.of("SASL_SSL", "SASL_PLAINTEXT", "SSL"), "info,schloss=debug"));
        }

        private static String listener(String name) {
            return "\n[[listeners]]\nname = \"" + name + "\"\naddress = \"127.0.0.1:0\"\n"
                    + "advertised = \"127.0.0.1:0\"\nsecurity_protocol = \"" + name + "\"\ntenant = \"default\"\n";
        }

        static String cli(Path dir, String... args) throws Exception {
            List<String> cmd = new ArrayList<>();
            cmd.add(SchlossBroker.binary().toString());
            cmd.addAll(List.of(args));
            Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IllegalStateException("schloss " + String.join(" ", args) + " failed: " + out);
            }
            return out;
        }

        Path dir() {
            return dir;
        }

        String bootstrap(String listener) {
            return broker.bootstrapOf(listener);
        }

        /** Client settings for a SASL listener (the truststore is the dev CA, as PEM). */
        Properties sasl(String listener, String mechanism, String user, String password) {
            Properties p = new Properties();
            p.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, bootstrap(listener));
            p.put(CommonClientConfigs.SECURITY_PROTOCOL_CONFIG, listener);
            p.put(CommonClientConfigs.CLIENT_ID_CONFIG, "auth-e2e-java");
            p.put(SaslConfigs.SASL_MECHANISM, mechanism);
            String module = mechanism.equals("PLAIN")
                    ? "org.apache.kafka.common.security.plain.PlainLoginModule"
                    : "org.apache.kafka.common.security.scram.ScramLoginModule";
            p.put(SaslConfigs.SASL_JAAS_CONFIG, module + " required username=\"" + user + "\" password=\""
                    + password + "\";");
            if (listener.equals("SASL_SSL")) {
                trust(p);
            }
            return p;
        }

        /** Client settings for the mTLS listener, without a keystore. */
        Properties tls() {
            Properties p = new Properties();
            p.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, bootstrap("SSL"));
            p.put(CommonClientConfigs.SECURITY_PROTOCOL_CONFIG, "SSL");
            p.put(CommonClientConfigs.CLIENT_ID_CONFIG, "auth-e2e-java-tls");
            trust(p);
            return p;
        }

        private void trust(Properties p) {
            p.put(SslConfigs.SSL_TRUSTSTORE_TYPE_CONFIG, "PEM");
            p.put(SslConfigs.SSL_TRUSTSTORE_LOCATION_CONFIG, dir.resolve("certs/ca.pem").toString());
        }

        /** A successful login resets the broker's delay after failed logins from 127.0.0.1. */
        void resetBrake() throws Exception {
            try (Admin a = Admin.create(sasl("SASL_PLAINTEXT", "SCRAM-SHA-256", ALICE, ALICE_PASSWORD))) {
                a.describeCluster().clusterId().get(30, TimeUnit.SECONDS);
            }
        }

        List<String> partitionDirs() throws IOException {
            try (Stream<Path> s = Files.list(dir.resolve("data"))) {
                return s.filter(Files::isDirectory).map(x -> x.getFileName().toString())
                        .filter(n -> !n.startsWith("__")).sorted().collect(Collectors.toList());
            }
        }

        String log() throws IOException {
            return broker.log();
        }

        String logTail(int lines) {
            return broker.logTail(lines);
        }

        @Override
        public void close() throws Exception {
            broker.close();
        }
    }
}
