package dev.schloss.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * KIP-368 with the Java client: the broker announces a 3 s session lifetime
 * ({@code connections_max_reauth_ms}); a producer and a consumer keep working for several
 * lifetimes because the client re-authenticates on its own, and the broker never has to close
 * a connection for an expired session.
 */
class AuthReauthTest {
    private static final long LIFETIME_MS = 3000;
    private static AuthSaslTest.AuthBroker broker;

    @BeforeAll
    static void startBroker() throws Exception {
        broker = AuthSaslTest.AuthBroker.start(LIFETIME_MS);
    }

    @AfterAll
    static void stopBroker() throws Exception {
        if (broker != null) {
            broker.close();
        }
    }

    @Test
    void javaClientsReauthenticateAcrossSessionLifetimes() throws Exception {
        Properties base = broker.sasl("SASL_SSL", "SCRAM-SHA-512", AuthSaslTest.ALICE, AuthSaslTest.ALICE_PASSWORD);
        String topic = "java-reauth-" + UUID.randomUUID().toString().substring(0, 8);
        Properties pp = new Properties();
        pp.putAll(base);
        pp.put(ProducerConfig.ACKS_CONFIG, "all");
        pp.put(ProducerConfig.LINGER_MS_CONFIG, "0");
        Properties cp = new Properties();
        cp.putAll(base);
        cp.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "500");
        int sent = 0;
        int read = 0;
        try (KafkaProducer<String, String> producer =
                        new KafkaProducer<>(pp, new StringSerializer(), new StringSerializer());
                KafkaConsumer<String, String> consumer =
                        new KafkaConsumer<>(cp, new StringDeserializer(), new StringDeserializer())) {
            TopicPartition tp = new TopicPartition(topic, 0);
            long started = System.nanoTime();
            while (System.nanoTime() - started < TimeUnit.MILLISECONDS.toNanos(LIFETIME_MS * 3 + 1500)) {
                producer.send(new ProducerRecord<>(topic, 0, null, "v" + sent)).get(20, TimeUnit.SECONDS);
                sent++;
                if (sent == 1) {
                    consumer.assign(List.of(tp));
                    consumer.seekToBeginning(List.of(tp));
                }
                read += consumer.poll(Duration.ofMillis(200)).count();
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (read < sent && System.nanoTime() < deadline) {
                read += consumer.poll(Duration.ofMillis(200)).count();
            }
        }
        assertTrue(sent > 10, "records sent: " + sent);
        assertEquals(sent, read, "every record read back across re-authentications");
        assertFalse(broker.log().contains("session expired"),
                "the broker closed a Java client's connection for not re-authenticating");
    }
}
