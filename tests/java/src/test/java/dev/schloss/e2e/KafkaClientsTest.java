package dev.schloss.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.DeletedRecords;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.InvalidPartitionsException;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.extension.TestWatcher;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The Java kafka-clients 4.x against one schloss process. Consumers use assign/seek without a
 * group.id (schloss has no consumer groups yet). Tests use distinct topic names.
 */
class KafkaClientsTest {
    /** Explicit CreateTime timestamps, an hour old: well inside the default retention.ms. */
    private static final long BASE_TS = (System.currentTimeMillis() / 1000 - 3600) * 1000;
    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    private static SchlossBroker broker;
    private static Admin admin;

    @RegisterExtension
    static final TestWatcher BROKER_LOG_ON_FAILURE = new TestWatcher() {
        @Override
        public void testFailed(ExtensionContext context, Throwable cause) {
            if (broker != null) {
                System.err.println("---- schloss broker log (tail) for " + context.getDisplayName()
                        + (broker.alive() ? "" : " [broker process has exited]") + " ----\n"
                        + broker.logTail(60) + "\n---- end of broker log ----");
            }
        }
    };

    @BeforeAll
    static void startBroker() throws Exception {
        broker = SchlossBroker.start(Map.of());
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrap());
        p.put(AdminClientConfig.CLIENT_ID_CONFIG, "e2e-java-admin");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
        admin = Admin.create(p);
    }

    @AfterAll
    static void stopBroker() throws Exception {
        if (admin != null) {
            admin.close(Duration.ofSeconds(5));
        }
        if (broker != null) {
            broker.close();
        }
    }

    // ------------------------------------------------------------------ helpers

    private static String topicName(TestInfo info) {
        String m = info.getTestMethod().map(x -> x.getName()).orElse("t");
        return m + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    private static KafkaProducer<byte[], byte[]> producer(Map<String, Object> extra) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrap());
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "e2e-java-producer");
        p.putAll(extra);
        return new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
    }

    private static KafkaConsumer<byte[], byte[]> consumer() {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrap());
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "e2e-java-consumer");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        // No group.id: manual assignment, no commits.
        return new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    private static void createTopic(String name, int partitions, Map<String, String> configs) throws Exception {
        admin.createTopics(List.of(new NewTopic(name, partitions, (short) 1).configs(configs)))
                .all().get(30, TimeUnit.SECONDS);
    }

    private static List<ConsumerRecord<byte[], byte[]>> consumeExactly(
            KafkaConsumer<byte[], byte[]> c, int n) {
        List<ConsumerRecord<byte[], byte[]>> got = new ArrayList<>();
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (got.size() < n) {
            if (System.nanoTime() > deadline) {
                fail("timed out waiting for " + n + " records, have " + got.size());
            }
            c.poll(Duration.ofMillis(500)).forEach(got::add);
        }
        c.poll(Duration.ofMillis(300)).forEach(got::add);
        assertEquals(n, got.size(), "number of records consumed");
        return got;
    }

    private static void waitUntil(String what, BooleanSupplier cond) throws InterruptedException {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("timed out waiting for " + what);
            }
            Thread.sleep(100);
        }
    }

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Records with edge cases: null key, empty value, null value, repeated header keys. */
    private static List<ProducerRecord<byte[], byte[]>> makeRecords(String topic, int partition, int n) {
        List<ProducerRecord<byte[], byte[]>> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            byte[] key = i % 7 == 3 ? null : (i % 17 == 8 ? new byte[0] : b("key-" + i));
            byte[] value;
            if (i % 11 == 5) {
                value = new byte[0];
            } else if (i % 13 == 6 && key != null) {
                value = null;
            } else {
                value = new byte[(i % 5) * 300 + 8];
                for (int j = 0; j < value.length; j++) {
                    value[j] = (byte) (i * 31 + j);
                }
            }
            List<Header> headers = new ArrayList<>();
            headers.add(new RecordHeader("h-index", b(Integer.toString(i))));
            headers.add(new RecordHeader("h-bin", new byte[] {(byte) i, 0, (byte) 255}));
            if (i % 5 == 0) {
                headers.add(new RecordHeader("h-index", b("dup")));
                headers.add(new RecordHeader("h-empty", new byte[0]));
                headers.add(new RecordHeader("h-null", null));
            }
            out.add(new ProducerRecord<>(topic, partition, BASE_TS + i * 10L, key, value, headers));
        }
        return out;
    }

    private static List<RecordMetadata> sendAll(KafkaProducer<byte[], byte[]> p,
                                                List<ProducerRecord<byte[], byte[]>> records) throws Exception {
        List<Future<RecordMetadata>> futs = new ArrayList<>();
        for (ProducerRecord<byte[], byte[]> r : records) {
            futs.add(p.send(r));
        }
        p.flush();
        List<RecordMetadata> out = new ArrayList<>();
        for (Future<RecordMetadata> f : futs) {
            out.add(f.get(30, TimeUnit.SECONDS));
        }
        return out;
    }

    private static void assertSameRecords(List<ProducerRecord<byte[], byte[]>> sent,
                                          List<ConsumerRecord<byte[], byte[]>> got, long firstOffset) {
        assertEquals(sent.size(), got.size());
        for (int i = 0; i < sent.size(); i++) {
            ProducerRecord<byte[], byte[]> s = sent.get(i);
            ConsumerRecord<byte[], byte[]> g = got.get(i);
            String where = "record " + i + " (offset " + g.offset() + ")";
            assertEquals(firstOffset + i, g.offset(), where);
            assertArrayEquals(s.key(), g.key(), where + " key");
            assertArrayEquals(s.value(), g.value(), where + " value");
            assertEquals(s.timestamp().longValue(), g.timestamp(), where + " timestamp");
            assertEquals(TimestampType.CREATE_TIME, g.timestampType(), where);
            Header[] sh = s.headers().toArray();
            Header[] gh = g.headers().toArray();
            assertEquals(sh.length, gh.length, where + " header count");
            for (int h = 0; h < sh.length; h++) {
                assertEquals(sh[h].key(), gh[h].key(), where + " header key " + h);
                assertArrayEquals(sh[h].value(), gh[h].value(), where + " header value " + h);
            }
        }
    }

    private static Config describeTopicConfig(String topic) throws Exception {
        ConfigResource r = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        return admin.describeConfigs(List.of(r)).all().get(30, TimeUnit.SECONDS).get(r);
    }

    private static Throwable cause(ExecutionException e) {
        return e.getCause();
    }

    // ------------------------------------------------------------------ produce / consume

    @Test
    void defaultProducerAndAssignedConsumerRoundTrip(TestInfo info) throws Exception {
        String topic = topicName(info);
        createTopic(topic, 1, Map.of());
        List<ProducerRecord<byte[], byte[]>> records = makeRecords(topic, 0, 200);
        List<RecordMetadata> metas;
        // DEFAULT settings: in 4.x that means enable.idempotence=true, acks=all.
        try (KafkaProducer<byte[], byte[]> p = producer(Map.of())) {
            metas = sendAll(p, records);
        }
        for (int i = 0; i < metas.size(); i++) {
            assertEquals(i, metas.get(i).offset());
            assertEquals(0, metas.get(i).partition());
            assertEquals(BASE_TS + i * 10L, metas.get(i).timestamp());
        }
        TopicPartition tp = new TopicPartition(topic, 0);
        try (KafkaConsumer<byte[], byte[]> c = consumer()) {
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            assertSameRecords(records, consumeExactly(c, records.size()), 0);
            assertEquals(200L, c.position(tp));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"none", "gzip", "snappy", "lz4", "zstd"})
    void eachCompressionCodec(String codec, TestInfo info) throws Exception {
        String topic = topicName(info) + "-" + codec;
        createTopic(topic, 2, Map.of());
        List<ProducerRecord<byte[], byte[]>> records = makeRecords(topic, 1, 150);
        try (KafkaProducer<byte[], byte[]> p = producer(Map.of(
                ProducerConfig.COMPRESSION_TYPE_CONFIG, codec,
                ProducerConfig.LINGER_MS_CONFIG, 20,
                ProducerConfig.BATCH_SIZE_CONFIG, 8192))) {
            List<RecordMetadata> metas = sendAll(p, records);
            for (int i = 0; i < metas.size(); i++) {
                assertEquals(i, metas.get(i).offset());
            }
        }
        TopicPartition tp = new TopicPartition(topic, 1);
        try (KafkaConsumer<byte[], byte[]> c = consumer()) {
            c.assign(List.of(tp));
            // Seek into the middle: the consumer must start exactly there.
            c.seek(tp, 37);
            assertSameRecords(records.subList(37, records.size()), consumeExactly(c, records.size() - 37), 37);
        }
    }

    @Test
    void keyedRecordsOverManyPartitions(TestInfo info) throws Exception {
        // Default partitioner (murmur2 of the key) over 8 partitions; one consumer assigned to
        // all of them reads everything back once, in per-partition order.
        String topic = topicName(info);
        createTopic(topic, 8, Map.of());
        List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
        for (int i = 0; i < 800; i++) {
            records.add(new ProducerRecord<>(topic, b("key-" + (i % 37)), b("v" + i)));
        }
        List<RecordMetadata> metas;
        try (KafkaProducer<byte[], byte[]> p = producer(Map.of(ProducerConfig.COMPRESSION_TYPE_CONFIG, "zstd",
                ProducerConfig.LINGER_MS_CONFIG, 5))) {
            metas = sendAll(p, records);
        }
        Map<String, Integer> keyPartition = new java.util.HashMap<>();
        Map<TopicPartition, List<String>> expected = new java.util.HashMap<>();
        for (int i = 0; i < records.size(); i++) {
            String key = new String(records.get(i).key(), StandardCharsets.UTF_8);
            Integer prev = keyPartition.put(key, metas.get(i).partition());
            assertTrue(prev == null || prev == metas.get(i).partition(), "key " + key + " in one partition");
            expected.computeIfAbsent(new TopicPartition(topic, metas.get(i).partition()), k -> new ArrayList<>())
                    .add(metas.get(i).offset() + "=" + new String(records.get(i).value(), StandardCharsets.UTF_8));
        }
        assertTrue(expected.size() > 1, "records spread over partitions");
        List<TopicPartition> all = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            all.add(new TopicPartition(topic, i));
        }
        try (KafkaConsumer<byte[], byte[]> c = consumer()) {
            c.assign(all);
            c.seekToBeginning(all);
            Map<TopicPartition, List<String>> got = new java.util.HashMap<>();
            for (ConsumerRecord<byte[], byte[]> r : consumeExactly(c, 800)) {
                got.computeIfAbsent(new TopicPartition(r.topic(), r.partition()), k -> new ArrayList<>())
                        .add(r.offset() + "=" + new String(r.value(), StandardCharsets.UTF_8));
            }
            for (Map.Entry<TopicPartition, List<String>> e : expected.entrySet()) {
                List<String> want = new ArrayList<>(e.getValue());
                want.sort(java.util.Comparator.comparingLong(x -> Long.parseLong(x.substring(0, x.indexOf('=')))));
                assertEquals(want, got.get(e.getKey()), e.getKey().toString());
            }
            assertEquals(expected.keySet(), got.keySet());
        }
    }

    @Test
    void recordTooLargeForTopic(TestInfo info) throws Exception {
        String topic = topicName(info);
        createTopic(topic, 1, Map.of("max.message.bytes", "10000"));
        try (KafkaProducer<byte[], byte[]> p = producer(Map.of(ProducerConfig.COMPRESSION_TYPE_CONFIG, "none"))) {
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> p.send(new ProducerRecord<>(topic, 0, null, new byte[50_000])).get(30, TimeUnit.SECONDS));
            assertInstanceOf(RecordTooLargeException.class, cause(e));
            RecordMetadata md = p.send(new ProducerRecord<>(topic, 0, null, b("small"))).get(30, TimeUnit.SECONDS);
            assertEquals(0, md.offset());
        }
    }

    @Test
    void autoCreatedTopicOnProduce(TestInfo info) throws Exception {
        String topic = topicName(info);
        try (KafkaProducer<byte[], byte[]> p = producer(Map.of())) {
            RecordMetadata md = p.send(new ProducerRecord<>(topic, b("k"), b("v"))).get(30, TimeUnit.SECONDS);
            assertEquals(0, md.offset());
        }
        assertTrue(admin.listTopics().names().get(30, TimeUnit.SECONDS).contains(topic));
    }

    // ------------------------------------------------------------------ offsets

    @Test
    void offsetsForTimesAndEndOffsets(TestInfo info) throws Exception {
        String topic = topicName(info);
        createTopic(topic, 1, Map.of());
        TopicPartition tp = new TopicPartition(topic, 0);
        try (KafkaProducer<byte[], byte[]> p = producer(Map.of())) {
            for (int i = 0; i < 10; i++) {
                p.send(new ProducerRecord<>(topic, 0, BASE_TS + i * 1000L, null, b("v" + i))).get(30, TimeUnit.SECONDS);
            }
        }
        try (KafkaConsumer<byte[], byte[]> c = consumer()) {
            assertEquals(Map.of(tp, 0L), c.beginningOffsets(List.of(tp)));
            assertEquals(Map.of(tp, 10L), c.endOffsets(List.of(tp)));
            Map<TopicPartition, OffsetAndTimestamp> r = c.offsetsForTimes(Map.of(tp, BASE_TS + 4500));
            assertEquals(5L, r.get(tp).offset());
            assertEquals(BASE_TS + 5000, r.get(tp).timestamp());
            r = c.offsetsForTimes(Map.of(tp, BASE_TS + 60_000));
            assertNull(r.get(tp));
        }
        Map<TopicPartition, OffsetSpec> specs = Map.of(tp, OffsetSpec.earliest());
        assertEquals(0L, admin.listOffsets(specs).partitionResult(tp).get().offset());
        assertEquals(10L, admin.listOffsets(Map.of(tp, OffsetSpec.latest())).partitionResult(tp).get().offset());
        ListOffsetsResult.ListOffsetsResultInfo ts =
                admin.listOffsets(Map.of(tp, OffsetSpec.forTimestamp(BASE_TS + 3000))).partitionResult(tp).get();
        assertEquals(3L, ts.offset());
        assertEquals(BASE_TS + 3000, ts.timestamp());
        ListOffsetsResult.ListOffsetsResultInfo max =
                admin.listOffsets(Map.of(tp, OffsetSpec.maxTimestamp())).partitionResult(tp).get();
        assertEquals(9L, max.offset());
        assertEquals(BASE_TS + 9000, max.timestamp());
    }

    @Test
    void deleteRecordsMovesBeginningOffset(TestInfo info) throws Exception {
        String topic = topicName(info);
        createTopic(topic, 1, Map.of());
        TopicPartition tp = new TopicPartition(topic, 0);
        try (KafkaProducer<byte[], byte[]> p = producer(Map.of())) {
            sendAll(p, makeRecords(topic, 0, 20));
        }
        DeletedRecords dr = admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(12)))
                .lowWatermarks().get(tp).get(30, TimeUnit.SECONDS);
        assertEquals(12L, dr.lowWatermark());
        try (KafkaConsumer<byte[], byte[]> c = consumer()) {
            assertEquals(Map.of(tp, 12L), c.beginningOffsets(List.of(tp)));
            assertEquals(Map.of(tp, 20L), c.endOffsets(List.of(tp)));
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            List<ConsumerRecord<byte[], byte[]>> got = consumeExactly(c, 8);
            assertEquals(12L, got.get(0).offset());
            assertEquals(19L, got.get(7).offset());
        }
        assertEquals(12L, admin.listOffsets(Map.of(tp, OffsetSpec.earliest())).partitionResult(tp).get().offset());
    }

    @Test
    void listOffsetsLocalAndTieredSpecs(TestInfo info) throws Exception {
        // ListOffsets v8+ (earliest-local, -4) and v9+ (latest-tiered, -5). Without tiered
        // storage Kafka answers earliest-local with the log start offset and latest-tiered
        // with offset -1.
        String topic = topicName(info);
        createTopic(topic, 1, Map.of());
        TopicPartition tp = new TopicPartition(topic, 0);
        try (KafkaProducer<byte[], byte[]> p = producer(Map.of())) {
            sendAll(p, makeRecords(topic, 0, 10));
        }
        admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(3))).all().get(30, TimeUnit.SECONDS);
        assertEquals(3L, admin.listOffsets(Map.of(tp, OffsetSpec.earliestLocal()))
                .partitionResult(tp).get(30, TimeUnit.SECONDS).offset());
        assertEquals(-1L, admin.listOffsets(Map.of(tp, OffsetSpec.latestTiered()))
                .partitionResult(tp).get(30, TimeUnit.SECONDS).offset());
    }

    @Test
    void seekWithLeaderEpochValidatesPosition(TestInfo info) throws Exception {
        // seek(tp, OffsetAndMetadata with a leader epoch) makes the consumer validate its
        // position with OffsetsForLeaderEpoch before fetching (KIP-320).
        String topic = topicName(info);
        createTopic(topic, 1, Map.of());
        TopicPartition tp = new TopicPartition(topic, 0);
        List<ProducerRecord<byte[], byte[]>> records = makeRecords(topic, 0, 30);
        try (KafkaProducer<byte[], byte[]> p = producer(Map.of())) {
            sendAll(p, records);
        }
        try (KafkaConsumer<byte[], byte[]> c = consumer()) {
            c.assign(List.of(tp));
            List<ConsumerRecord<byte[], byte[]>> first = consumeExactly(c, 30);
            int epoch = first.get(0).leaderEpoch().orElseThrow();
            c.seek(tp, new org.apache.kafka.clients.consumer.OffsetAndMetadata(10, java.util.Optional.of(epoch), ""));
            assertSameRecords(records.subList(10, 30), consumeExactly(c, 20), 10);
        }
    }

    @Test
    void readCommittedConsumer(TestInfo info) throws Exception {
        String topic = topicName(info);
        createTopic(topic, 1, Map.of());
        List<ProducerRecord<byte[], byte[]>> records = makeRecords(topic, 0, 25);
        try (KafkaProducer<byte[], byte[]> p = producer(Map.of())) {
            sendAll(p, records);
        }
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrap());
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        TopicPartition tp = new TopicPartition(topic, 0);
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            assertSameRecords(records, consumeExactly(c, 25), 0);
            assertEquals(Map.of(tp, 25L), c.endOffsets(List.of(tp)));
        }
    }

    @Test
    void createTopicWithBrokerDefaultsAndValidateOnly(TestInfo info) throws Exception {
        String topic = topicName(info);
        // validateOnly: nothing is created.
        admin.createTopics(List.of(new NewTopic(topic, 4, (short) 1)),
                new org.apache.kafka.clients.admin.CreateTopicsOptions().validateOnly(true)).all().get(30, TimeUnit.SECONDS);
        assertFalse(admin.listTopics().names().get(30, TimeUnit.SECONDS).contains(topic));
        // No partition count / replication factor: the broker's defaults (num_partitions = 1).
        org.apache.kafka.clients.admin.CreateTopicsResult r = admin.createTopics(List.of(
                new NewTopic(topic, java.util.Optional.empty(), java.util.Optional.empty())));
        r.all().get(30, TimeUnit.SECONDS);
        assertEquals(1, r.numPartitions(topic).get());
        assertEquals(1, r.replicationFactor(topic).get());
        assertEquals("604800000", r.config(topic).get().get("retention.ms").value());
        // Replication factor 3 on a single node is INVALID_REPLICATION_FACTOR.
        ExecutionException e = assertThrows(ExecutionException.class, () -> admin.createTopics(
                List.of(new NewTopic(topic + "-rf3", 1, (short) 3))).all().get(30, TimeUnit.SECONDS));
        assertInstanceOf(org.apache.kafka.common.errors.InvalidReplicationFactorException.class, cause(e));
    }

    @Test
    void deleteTopicsByTopicId(TestInfo info) throws Exception {
        // DeleteTopics v6 with topic ids (and null names).
        String topic = topicName(info);
        Uuid id = admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1)))
                .topicId(topic).get(30, TimeUnit.SECONDS);
        admin.deleteTopics(org.apache.kafka.common.TopicCollection.ofTopicIds(List.of(id)))
                .all().get(30, TimeUnit.SECONDS);
        waitUntil("topic deleted", () -> {
            try {
                return !admin.listTopics().names().get(30, TimeUnit.SECONDS).contains(topic);
            } catch (Exception ex) {
                return false;
            }
        });
        ExecutionException e = assertThrows(ExecutionException.class, () -> admin.deleteTopics(
                org.apache.kafka.common.TopicCollection.ofTopicIds(List.of(id))).all().get(30, TimeUnit.SECONDS));
        assertInstanceOf(org.apache.kafka.common.errors.UnknownTopicIdException.class, cause(e));
    }

    // ------------------------------------------------------------------ admin

    @Test
    void createDescribeListDeleteTopics(TestInfo info) throws Exception {
        String topic = topicName(info);
        createTopic(topic, 3, Map.of("retention.ms", "3600000"));

        ExecutionException dup = assertThrows(ExecutionException.class,
                () -> createTopic(topic, 3, Map.of()));
        assertInstanceOf(TopicExistsException.class, cause(dup));

        assertTrue(admin.listTopics().names().get(30, TimeUnit.SECONDS).contains(topic));

        // 4.x describes topics with DescribeTopicPartitions.
        TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames()
                .get(30, TimeUnit.SECONDS).get(topic);
        assertEquals(topic, d.name());
        assertFalse(d.isInternal());
        assertNotNull(d.topicId());
        assertFalse(Uuid.ZERO_UUID.equals(d.topicId()));
        assertEquals(3, d.partitions().size());
        for (int i = 0; i < 3; i++) {
            TopicPartitionInfo pi = d.partitions().get(i);
            assertEquals(i, pi.partition());
            assertNotNull(pi.leader());
            assertEquals(1, pi.leader().id());
            assertEquals(List.of(1), pi.replicas().stream().map(Node::id).toList());
            assertEquals(List.of(1), pi.isr().stream().map(Node::id).toList());
        }
        ExecutionException unknown = assertThrows(ExecutionException.class,
                () -> admin.describeTopics(List.of(topic + "-missing")).allTopicNames().get(30, TimeUnit.SECONDS));
        assertInstanceOf(UnknownTopicOrPartitionException.class, cause(unknown));

        admin.deleteTopics(List.of(topic)).all().get(30, TimeUnit.SECONDS);
        waitUntil("topic deleted", () -> {
            try {
                return !admin.listTopics().names().get(30, TimeUnit.SECONDS).contains(topic);
            } catch (Exception e) {
                return false;
            }
        });
        ExecutionException gone = assertThrows(ExecutionException.class,
                () -> admin.deleteTopics(List.of(topic)).all().get(30, TimeUnit.SECONDS));
        assertInstanceOf(UnknownTopicOrPartitionException.class, cause(gone));
    }

    @Test
    void describeTopicsPagesThroughPartitions(TestInfo info) throws Exception {
        // DescribeTopicPartitions with a small response partition limit: the client follows
        // next_cursor until every partition of every topic has been described.
        String a = topicName(info) + "-a";
        String b = topicName(info) + "-b";
        admin.createTopics(List.of(new NewTopic(a, 8, (short) 1), new NewTopic(b, 5, (short) 1)))
                .all().get(30, TimeUnit.SECONDS);
        Map<String, TopicDescription> d = admin.describeTopics(List.of(a, b),
                        new org.apache.kafka.clients.admin.DescribeTopicsOptions().partitionSizeLimitPerResponse(3))
                .allTopicNames().get(30, TimeUnit.SECONDS);
        assertEquals(List.of(0, 1, 2, 3, 4, 5, 6, 7),
                d.get(a).partitions().stream().map(TopicPartitionInfo::partition).toList());
        assertEquals(List.of(0, 1, 2, 3, 4),
                d.get(b).partitions().stream().map(TopicPartitionInfo::partition).toList());
    }

    @Test
    void describeTopicsByTopicId(TestInfo info) throws Exception {
        // Admin sends Metadata v13 with topic ids (and the name field as ""), not
        // DescribeTopicPartitions, for a TopicIdCollection.
        String topic = topicName(info);
        Uuid id = admin.createTopics(List.of(new NewTopic(topic, 2, (short) 1)))
                .topicId(topic).get(30, TimeUnit.SECONDS);
        assertFalse(Uuid.ZERO_UUID.equals(id));
        TopicDescription byId = admin.describeTopics(
                        org.apache.kafka.common.TopicCollection.ofTopicIds(List.of(id)))
                .allTopicIds().get(30, TimeUnit.SECONDS).get(id);
        assertEquals(topic, byId.name());
        assertEquals(id, byId.topicId());
        assertEquals(2, byId.partitions().size());

        Uuid unknown = Uuid.randomUuid();
        ExecutionException e = assertThrows(ExecutionException.class, () -> admin.describeTopics(
                        org.apache.kafka.common.TopicCollection.ofTopicIds(List.of(unknown)))
                .allTopicIds().get(30, TimeUnit.SECONDS));
        assertInstanceOf(org.apache.kafka.common.errors.UnknownTopicIdException.class, cause(e));
    }

    @Test
    void describeAndAlterConfigs(TestInfo info) throws Exception {
        String topic = topicName(info);
        createTopic(topic, 1, Map.of("retention.ms", "3600000", "max.message.bytes", "2000000"));

        Config cfg = describeTopicConfig(topic);
        ConfigEntry retention = cfg.get("retention.ms");
        assertEquals("3600000", retention.value());
        assertEquals(ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG, retention.source());
        assertFalse(retention.isDefault());
        assertEquals("2000000", cfg.get("max.message.bytes").value());
        ConfigEntry segBytes = cfg.get("segment.bytes");
        assertEquals("1073741824", segBytes.value());
        assertEquals(ConfigEntry.ConfigSource.DEFAULT_CONFIG, segBytes.source());
        assertTrue(segBytes.isDefault());
        assertEquals("delete", cfg.get("cleanup.policy").value());
        assertEquals(ConfigEntry.ConfigType.LIST, cfg.get("cleanup.policy").type());
        assertEquals(ConfigEntry.ConfigType.LONG, retention.type());

        ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        admin.incrementalAlterConfigs(Map.of(res, List.of(
                new AlterConfigOp(new ConfigEntry("retention.ms", null), AlterConfigOp.OpType.DELETE),
                new AlterConfigOp(new ConfigEntry("segment.ms", "7200000"), AlterConfigOp.OpType.SET))))
                .all().get(30, TimeUnit.SECONDS);
        cfg = describeTopicConfig(topic);
        assertEquals("604800000", cfg.get("retention.ms").value());
        assertEquals(ConfigEntry.ConfigSource.DEFAULT_CONFIG, cfg.get("retention.ms").source());
        assertEquals("7200000", cfg.get("segment.ms").value());
        assertEquals(ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG, cfg.get("segment.ms").source());
        assertEquals("2000000", cfg.get("max.message.bytes").value());

        // validateOnly changes nothing (a valid value: at least the broker's min_segment_ms).
        admin.incrementalAlterConfigs(Map.of(res, List.of(
                        new AlterConfigOp(new ConfigEntry("segment.ms", "3600000"), AlterConfigOp.OpType.SET))),
                new org.apache.kafka.clients.admin.AlterConfigsOptions().validateOnly(true))
                .all().get(30, TimeUnit.SECONDS);
        assertEquals("7200000", describeTopicConfig(topic).get("segment.ms").value());

        // Invalid value.
        ExecutionException bad = assertThrows(ExecutionException.class, () -> admin.incrementalAlterConfigs(
                Map.of(res, List.of(new AlterConfigOp(new ConfigEntry("retention.ms", "abc"), AlterConfigOp.OpType.SET))))
                .all().get(30, TimeUnit.SECONDS));
        assertInstanceOf(org.apache.kafka.common.errors.InvalidConfigurationException.class, cause(bad));

        // Synonyms: with includeSynonyms the default shows up as a DEFAULT_CONFIG synonym.
        Config withSyn = admin.describeConfigs(List.of(res),
                        new org.apache.kafka.clients.admin.DescribeConfigsOptions().includeSynonyms(true).includeDocumentation(true))
                .all().get(30, TimeUnit.SECONDS).get(res);
        ConfigEntry seg = withSyn.get("segment.ms");
        assertFalse(seg.synonyms().isEmpty(), "segment.ms synonyms");
        assertEquals(ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG, seg.synonyms().get(0).source());
        assertEquals("7200000", seg.synonyms().get(0).value());
    }

    @Test
    void describeConfigsUnknownTopic(TestInfo info) {
        ConfigResource r = new ConfigResource(ConfigResource.Type.TOPIC, topicName(info));
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> admin.describeConfigs(List.of(r)).all().get(30, TimeUnit.SECONDS));
        assertInstanceOf(UnknownTopicOrPartitionException.class, cause(e));
    }

    @Test
    void createPartitions(TestInfo info) throws Exception {
        String topic = topicName(info);
        createTopic(topic, 1, Map.of());
        admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(3))).all().get(30, TimeUnit.SECONDS);
        TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames().get(30, TimeUnit.SECONDS).get(topic);
        assertEquals(3, d.partitions().size());
        ExecutionException e = assertThrows(ExecutionException.class, () ->
                admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(2))).all().get(30, TimeUnit.SECONDS));
        assertInstanceOf(InvalidPartitionsException.class, cause(e));
        try (KafkaProducer<byte[], byte[]> p = producer(Map.of())) {
            RecordMetadata md = p.send(new ProducerRecord<>(topic, 2, null, b("p2"))).get(30, TimeUnit.SECONDS);
            assertEquals(2, md.partition());
            assertEquals(0, md.offset());
        }
    }

    @Test
    void describeCluster() throws Exception {
        DescribeClusterResult r = admin.describeCluster();
        String clusterId = r.clusterId().get(30, TimeUnit.SECONDS);
        assertNotNull(clusterId);
        assertFalse(clusterId.isEmpty());
        Collection<Node> nodes = r.nodes().get(30, TimeUnit.SECONDS);
        assertEquals(1, nodes.size());
        Node n = nodes.iterator().next();
        assertEquals(1, n.id());
        assertEquals(broker.host(), n.host());
        assertEquals(broker.port(), n.port());
        Node controller = r.controller().get(30, TimeUnit.SECONDS);
        assertNotNull(controller);
        assertEquals(1, controller.id());
        assertEquals(Set.of(1), Set.copyOf(Arrays.asList(nodes.stream().map(Node::id).toArray(Integer[]::new))));
    }
}
