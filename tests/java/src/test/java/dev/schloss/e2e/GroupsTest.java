package dev.schloss.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.ConsumerGroupListing;
import org.apache.kafka.clients.admin.GroupListing;
import org.apache.kafka.clients.admin.ListConsumerGroupsOptions;
import org.apache.kafka.clients.admin.ListGroupsOptions;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.GroupType;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.GroupIdNotFoundException;
import org.apache.kafka.common.errors.GroupNotEmptyException;
import org.apache.kafka.common.errors.GroupSubscribedToTopicException;
import org.apache.kafka.common.errors.UnknownMemberIdException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.extension.TestWatcher;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Consumer groups with the Java kafka-clients 4.x: the classic protocol
 * ({@code group.protocol=classic}, client-side range assignor) and KIP-848
 * ({@code group.protocol=consumer}, server-side assignor), plus the Admin group APIs.
 *
 * <p>The broker starts with a {@code [groups]} table (short initial rebalance delay, small
 * minimum session timeout, fast KIP-848 heartbeats) so rebalances are quick. Every wait is a
 * bounded loop; no test asserts a wall-clock time. Tests use distinct topic and group names.
 */
class GroupsTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    private static final String GROUPS_TOML = "initial_rebalance_delay_ms = 100\n"
            + "min_session_timeout_ms = 1000\n"
            + "consumer_session_timeout_ms = 10000\n"
            + "consumer_heartbeat_interval_ms = 500\n";

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
        broker = startGroupBroker(GROUPS_TOML);
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrap());
        p.put(AdminClientConfig.CLIENT_ID_CONFIG, "e2e-java-groups-admin");
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

    private static String name(TestInfo info, String kind) {
        String m = info.getTestMethod().map(x -> x.getName()).orElse("t");
        String d = info.getDisplayName().replaceAll("[^A-Za-z0-9]", "");
        return m + "-" + d + "-" + kind + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    private static void createTopic(String topic, int partitions) throws Exception {
        admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get(30, TimeUnit.SECONDS);
    }

    /** {@code counts[p]} records into partition p, values "p-i". */
    private static void produce(String topic, int... counts) throws Exception {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrap());
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "e2e-java-groups-producer");
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        try (KafkaProducer<byte[], byte[]> prod = new KafkaProducer<>(p, new ByteArraySerializer(),
                new ByteArraySerializer())) {
            List<Future<RecordMetadata>> futs = new ArrayList<>();
            for (int part = 0; part < counts.length; part++) {
                for (int i = 0; i < counts[part]; i++) {
                    futs.add(prod.send(new ProducerRecord<>(topic, part, null,
                            (part + "-" + i).getBytes(StandardCharsets.UTF_8))));
                }
            }
            prod.flush();
            for (Future<RecordMetadata> f : futs) {
                f.get(30, TimeUnit.SECONDS);
            }
        }
    }

    private static KafkaConsumer<byte[], byte[]> consumer(String group, String protocol, String clientId) {
        return consumer(group, protocol, clientId, Map.of());
    }

    /**
     * A group consumer. {@code variant} is "classic" or "consumer" (group.protocol), optionally
     * with a suffix: "classic-cooperative" (CooperativeStickyAssignor), "consumer-range"
     * (group.remote.assignor=range).
     */
    private static KafkaConsumer<byte[], byte[]> consumer(String group, String variant, String clientId,
                                                          Map<String, String> extra) {
        String protocol = protocolOf(variant);
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrap());
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, protocol);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "100");
        if (protocol.equals("classic")) {
            // The consumer protocol takes both from the broker (KIP-848) and refuses them here.
            p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "6000");
            p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "300");
        }
        if (variant.equals("classic-cooperative")) {
            p.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG,
                    "org.apache.kafka.clients.consumer.CooperativeStickyAssignor");
        }
        if (variant.equals("consumer-range")) {
            p.put(ConsumerConfig.GROUP_REMOTE_ASSIGNOR_CONFIG, "range");
        }
        p.putAll(extra);
        return new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    /** Polls until exactly {@code n} records arrived and nothing more follows. */
    private static List<ConsumerRecord<byte[], byte[]>> take(KafkaConsumer<byte[], byte[]> c, int n) {
        List<ConsumerRecord<byte[], byte[]>> got = new ArrayList<>();
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (got.size() < n) {
            if (System.nanoTime() > deadline) {
                fail("timed out waiting for " + n + " records, have " + got.size() + ": " + keys(got));
            }
            c.poll(Duration.ofMillis(200)).forEach(got::add);
        }
        c.poll(Duration.ofMillis(500)).forEach(got::add);
        assertEquals(n, got.size(), "records consumed: " + keys(got));
        return got;
    }

    /** "partition:offset" of each record, sorted. */
    private static List<String> keys(List<ConsumerRecord<byte[], byte[]>> recs) {
        return recs.stream().map(r -> r.partition() + ":" + r.offset()).sorted().collect(Collectors.toList());
    }

    private static List<String> range(int partition, int from, int to) {
        List<String> out = new ArrayList<>();
        for (int o = from; o < to; o++) {
            out.add(partition + ":" + o);
        }
        return out;
    }

    private static List<String> sorted(List<String> a) {
        List<String> out = new ArrayList<>(a);
        out.sort(Comparator.naturalOrder());
        return out;
    }

    private static Set<Integer> partitions(KafkaConsumer<byte[], byte[]> c) {
        return c.assignment().stream().map(TopicPartition::partition).collect(Collectors.toCollection(TreeSet::new));
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

    private static ConsumerGroupDescription describe(String group) throws Exception {
        return admin.describeConsumerGroups(List.of(group)).describedGroups().get(group).get(30, TimeUnit.SECONDS);
    }

    private static Map<TopicPartition, OffsetAndMetadata> committedOffsets(String group) throws Exception {
        return admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
    }

    private static Map<Integer, Long> offsetsByPartition(Map<TopicPartition, OffsetAndMetadata> m) {
        Map<Integer, Long> out = new TreeMap<>();
        m.forEach((tp, o) -> out.put(tp.partition(), o.offset()));
        return out;
    }

    private static GroupState state(String group) {
        try {
            return describe(group).groupState();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private static Throwable cause(ExecutionException e) {
        return e.getCause();
    }

    private static String protocolOf(String variant) {
        return variant.startsWith("classic") ? "classic" : "consumer";
    }

    private static GroupType type(String variant) {
        return protocolOf(variant).equals("classic") ? GroupType.CLASSIC : GroupType.CONSUMER;
    }

    /** The assignor a describe shows: the client's chosen one (classic) or the server's. */
    private static String assignorOf(String variant) {
        switch (variant) {
            case "classic": return "range"; // first of the 4.x default [range, cooperative-sticky]
            case "classic-cooperative": return "cooperative-sticky";
            case "consumer": return "uniform"; // the broker's default
            case "consumer-range": return "range";
            default: throw new IllegalArgumentException(variant);
        }
    }

    // ------------------------------------------------------------------ consumers

    @ParameterizedTest(name = "group.protocol={0}")
    @ValueSource(strings = {"classic", "consumer"})
    void commitSyncCloseAndResumeExactlyAfterCommit(String protocol, TestInfo info) throws Exception {
        String topic = name(info, "t");
        String group = name(info, "g");
        createTopic(topic, 3);
        produce(topic, 10, 10, 10);
        TopicPartition p0 = new TopicPartition(topic, 0);
        TopicPartition p1 = new TopicPartition(topic, 1);
        TopicPartition p2 = new TopicPartition(topic, 2);

        try (KafkaConsumer<byte[], byte[]> c = consumer(group, protocol, "e2e-java-resume")) {
            c.subscribe(List.of(topic));
            List<String> all = new ArrayList<>();
            for (int p = 0; p < 3; p++) {
                all.addAll(range(p, 0, 10));
            }
            assertEquals(sorted(all), keys(take(c, 30)));
            assertEquals(Set.of(0, 1, 2), partitions(c));
            // commitSync() commits the consumed positions...
            c.commitSync();
            Map<TopicPartition, OffsetAndMetadata> committed = c.committed(Set.of(p0, p1, p2));
            assertEquals(10L, committed.get(p0).offset());
            assertEquals(10L, committed.get(p1).offset());
            assertEquals(10L, committed.get(p2).offset());
            // ...and commitSync(offsets) commits what it is given: partition 1 back to 4, with metadata.
            c.commitSync(Map.of(p1, new OffsetAndMetadata(4, "rewind-p1")));
            OffsetAndMetadata om = c.committed(Set.of(p1)).get(p1);
            assertEquals(4L, om.offset());
            assertEquals("rewind-p1", om.metadata());
        }

        Map<TopicPartition, OffsetAndMetadata> stored = committedOffsets(group);
        assertEquals(Map.of(0, 10L, 1, 4L, 2, 10L), offsetsByPartition(stored));
        assertEquals("rewind-p1", stored.get(p1).metadata());

        produce(topic, 2);
        try (KafkaConsumer<byte[], byte[]> c = consumer(group, protocol, "e2e-java-resume-2")) {
            c.subscribe(List.of(topic));
            List<String> expect = new ArrayList<>(range(0, 10, 12));
            expect.addAll(range(1, 4, 10));
            assertEquals(sorted(expect), keys(take(c, 8)));
            c.commitSync();
            assertEquals(12L, c.committed(Set.of(p0)).get(p0).offset());
        }
        assertEquals(Map.of(0, 12L, 1, 10L, 2, 10L), offsetsByPartition(committedOffsets(group)));
    }

    @ParameterizedTest(name = "variant={0}")
    @ValueSource(strings = {"classic", "classic-cooperative", "consumer", "consumer-range"})
    void twoConsumersSharePartitionsWithoutOverlap(String variant, TestInfo info) throws Exception {
        String topic = name(info, "t");
        String group = name(info, "g");
        createTopic(topic, 4);
        try (KafkaConsumer<byte[], byte[]> a = consumer(group, variant, "e2e-java-member-a");
             KafkaConsumer<byte[], byte[]> b = consumer(group, variant, "e2e-java-member-b")) {
            List<ConsumerRecord<byte[], byte[]>> gotA = new ArrayList<>();
            List<ConsumerRecord<byte[], byte[]>> gotB = new ArrayList<>();
            a.subscribe(List.of(topic));
            waitUntil("a owns all 4 partitions", () -> {
                a.poll(Duration.ofMillis(100)).forEach(gotA::add);
                return partitions(a).size() == 4;
            });
            b.subscribe(List.of(topic));
            waitUntil("a 2/2 split", () -> {
                a.poll(Duration.ofMillis(100)).forEach(gotA::add);
                b.poll(Duration.ofMillis(100)).forEach(gotB::add);
                Set<Integer> sa = partitions(a);
                Set<Integer> sb = partitions(b);
                return sa.size() == 2 && sb.size() == 2 && sa.stream().noneMatch(sb::contains);
            });
            Set<Integer> union = new TreeSet<>(partitions(a));
            union.addAll(partitions(b));
            assertEquals(Set.of(0, 1, 2, 3), union);

            produce(topic, 10, 10, 10, 10);
            waitUntil("40 records between both members", () -> {
                a.poll(Duration.ofMillis(100)).forEach(gotA::add);
                b.poll(Duration.ofMillis(100)).forEach(gotB::add);
                return gotA.size() + gotB.size() >= 40;
            });
            a.poll(Duration.ofMillis(300)).forEach(gotA::add);
            b.poll(Duration.ofMillis(300)).forEach(gotB::add);
            Set<String> ka = new HashSet<>(keys(gotA));
            Set<String> kb = new HashSet<>(keys(gotB));
            assertEquals(gotA.size(), ka.size(), "no record twice in member a");
            assertEquals(gotB.size(), kb.size(), "no record twice in member b");
            assertTrue(ka.stream().noneMatch(kb::contains), "no record in both members");
            assertEquals(40, ka.size() + kb.size());
            for (ConsumerRecord<byte[], byte[]> r : gotA) {
                assertTrue(partitions(a).contains(r.partition()), "a only reads its partitions");
            }
            for (ConsumerRecord<byte[], byte[]> r : gotB) {
                assertTrue(partitions(b).contains(r.partition()), "b only reads its partitions");
            }
            a.commitSync();
            b.commitSync();
            assertEquals(Map.of(0, 10L, 1, 10L, 2, 10L, 3, 10L), offsetsByPartition(committedOffsets(group)));

            // The Admin view of the same group.
            ConsumerGroupDescription d = describe(group);
            assertEquals(type(variant), d.type());
            assertEquals(GroupState.STABLE, d.groupState());
            assertFalse(d.isSimpleConsumerGroup());
            assertEquals(2, d.members().size());
            Set<Set<Integer>> described = new HashSet<>();
            for (MemberDescription m : d.members()) {
                described.add(m.assignment().topicPartitions().stream().map(TopicPartition::partition)
                        .collect(Collectors.toCollection(TreeSet::new)));
            }
            assertEquals(Set.of(partitions(a), partitions(b)), described);
            assertEquals(assignorOf(variant), d.partitionAssignor());
            if (protocolOf(variant).equals("consumer")) {
                assertTrue(d.groupEpoch().isPresent() && d.groupEpoch().get() >= 2, d.toString());
                assertEquals(d.groupEpoch(), d.targetAssignmentEpoch(), d.toString());
                for (MemberDescription m : d.members()) {
                    assertEquals(Optional.of(m.assignment().topicPartitions()),
                            m.targetAssignment().map(t -> t.topicPartitions()), m.toString());
                    assertTrue(m.memberEpoch().isPresent() && m.memberEpoch().get() > 0, m.toString());
                }
            }
            if (assignorOf(variant).equals("range")) {
                // Range hands out contiguous partition ranges.
                assertEquals(Set.of(Set.of(0, 1), Set.of(2, 3)), Set.of(partitions(a), partitions(b)));
            }

            // b leaves: a takes over every partition.
            b.close();
            waitUntil("a owns all 4 again", () -> {
                a.poll(Duration.ofMillis(100)).forEach(gotA::add);
                return partitions(a).size() == 4;
            });
        }
    }

    @ParameterizedTest(name = "group.protocol={0}")
    @ValueSource(strings = {"classic", "consumer"})
    void autoCommitCommitsOnClose(String protocol, TestInfo info) throws Exception {
        String topic = name(info, "t");
        String group = name(info, "g");
        createTopic(topic, 1);
        produce(topic, 7);
        // A long interval: only close() commits.
        try (KafkaConsumer<byte[], byte[]> c = consumer(group, protocol, "e2e-java-autocommit", Map.of(
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "true",
                ConsumerConfig.AUTO_COMMIT_INTERVAL_MS_CONFIG, "600000"))) {
            c.subscribe(List.of(topic));
            assertEquals(range(0, 0, 7), keys(take(c, 7)));
        }
        assertEquals(Map.of(0, 7L), offsetsByPartition(committedOffsets(group)));
    }

    @ParameterizedTest(name = "group.protocol={0}")
    @ValueSource(strings = {"classic", "consumer"})
    void staticMemberRestartKeepsItsPlace(String protocol, TestInfo info) throws Exception {
        // KIP-345 (classic) and KIP-848 static membership: a member with group.instance.id
        // does not leave the group on close; when it comes back under the same instance id
        // before its session times out, it takes its own place without a rebalance.
        String topic = name(info, "t");
        String group = name(info, "g");
        createTopic(topic, 2);
        produce(topic, 3, 3);
        Map<String, String> stat = Map.of(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, "static-a");
        String firstMemberId;
        Optional<Integer> epochBefore;
        try (KafkaConsumer<byte[], byte[]> c = consumer(group, protocol, "e2e-java-static", stat)) {
            c.subscribe(List.of(topic));
            take(c, 6);
            c.commitSync();
            ConsumerGroupDescription d = describe(group);
            MemberDescription m = d.members().iterator().next();
            assertEquals(Optional.of("static-a"), m.groupInstanceId());
            firstMemberId = m.consumerId();
            epochBefore = d.groupEpoch();
        }
        // Still a member (its session has not expired): the group did not become Empty.
        ConsumerGroupDescription after = describe(group);
        assertEquals(1, after.members().size(), after.toString());
        assertEquals(Optional.of("static-a"), after.members().iterator().next().groupInstanceId());

        produce(topic, 1, 1);
        try (KafkaConsumer<byte[], byte[]> c = consumer(group, protocol, "e2e-java-static", stat)) {
            c.subscribe(List.of(topic));
            assertEquals(List.of("0:3", "1:3"), keys(take(c, 2)));
            assertEquals(Set.of(0, 1), partitions(c));
            ConsumerGroupDescription d = describe(group);
            assertEquals(GroupState.STABLE, d.groupState());
            assertEquals(1, d.members().size(), d.toString());
            MemberDescription m = d.members().iterator().next();
            assertEquals(Optional.of("static-a"), m.groupInstanceId());
            if (protocol.equals("classic")) {
                // The coordinator gives the returning static member a fresh member id.
                assertFalse(m.consumerId().equals(firstMemberId), m.toString());
            } else {
                // No new target assignment was computed: the group epoch did not move.
                assertEquals(epochBefore, d.groupEpoch(), d.toString());
            }
        }
    }

    // ------------------------------------------------------------------ admin

    @SuppressWarnings("deprecation")
    @ParameterizedTest(name = "group.protocol={0}")
    @ValueSource(strings = {"classic", "consumer"})
    void adminListDescribeOffsetsAlterDelete(String protocol, TestInfo info) throws Exception {
        String topic = name(info, "t");
        String group = name(info, "g");
        String never = name(info, "never");
        createTopic(topic, 2);
        produce(topic, 5, 7);
        TopicPartition p0 = new TopicPartition(topic, 0);
        TopicPartition p1 = new TopicPartition(topic, 1);

        try (KafkaConsumer<byte[], byte[]> c = consumer(group, protocol, "e2e-java-admin-target")) {
            c.subscribe(List.of(topic));
            take(c, 12);
            c.commitSync();

            // listGroups (4.x) and the older listConsumerGroups, with state and type filters.
            Map<String, GroupListing> all = admin.listGroups(ListGroupsOptions.forConsumerGroups()).all()
                    .get(30, TimeUnit.SECONDS).stream()
                    .collect(Collectors.toMap(GroupListing::groupId, g -> g));
            GroupListing listing = all.get(group);
            assertTrue(listing != null, "group listed: " + all.keySet());
            assertEquals(Optional.of(type(protocol)), listing.type());
            assertEquals(Optional.of(GroupState.STABLE), listing.groupState());
            assertEquals("consumer", listing.protocol());
            assertFalse(listing.isSimpleConsumerGroup());
            Set<String> stable = admin.listGroups(ListGroupsOptions.forConsumerGroups()
                    .inGroupStates(Set.of(GroupState.STABLE))).all().get(30, TimeUnit.SECONDS)
                    .stream().map(GroupListing::groupId).collect(Collectors.toSet());
            assertTrue(stable.contains(group));
            Set<String> empty = admin.listGroups(ListGroupsOptions.forConsumerGroups()
                    .inGroupStates(Set.of(GroupState.EMPTY))).all().get(30, TimeUnit.SECONDS)
                    .stream().map(GroupListing::groupId).collect(Collectors.toSet());
            assertFalse(empty.contains(group));
            GroupType otherType = protocol.equals("classic") ? GroupType.CONSUMER : GroupType.CLASSIC;
            Set<String> ofOtherType = admin.listGroups(new ListGroupsOptions().withTypes(Set.of(otherType)))
                    .all().get(30, TimeUnit.SECONDS)
                    .stream().map(GroupListing::groupId).collect(Collectors.toSet());
            assertFalse(ofOtherType.contains(group));
            Map<String, ConsumerGroupListing> old = admin.listConsumerGroups(new ListConsumerGroupsOptions())
                    .all().get(30, TimeUnit.SECONDS).stream()
                    .collect(Collectors.toMap(ConsumerGroupListing::groupId, g -> g));
            assertTrue(old.containsKey(group), "listConsumerGroups: " + old.keySet());

            // describeConsumerGroups.
            ConsumerGroupDescription d = describe(group);
            assertEquals(type(protocol), d.type());
            assertEquals(GroupState.STABLE, d.groupState());
            assertEquals(1, d.coordinator().id());
            MemberDescription m = d.members().iterator().next();
            assertEquals(Set.of(p0, p1), m.assignment().topicPartitions());

            // listConsumerGroupOffsets: all, and a group that never existed (no offsets, no error).
            assertEquals(Map.of(0, 5L, 1, 7L), offsetsByPartition(committedOffsets(group)));
            assertEquals(Map.of(), committedOffsets(never));

            // The group has a live member: no delete, no admin offset changes.
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> admin.deleteConsumerGroups(List.of(group)).all().get(30, TimeUnit.SECONDS));
            assertInstanceOf(GroupNotEmptyException.class, cause(e));
            e = assertThrows(ExecutionException.class,
                    () -> admin.alterConsumerGroupOffsets(group, Map.of(p0, new OffsetAndMetadata(1)))
                            .all().get(30, TimeUnit.SECONDS));
            assertInstanceOf(UnknownMemberIdException.class, cause(e));
            e = assertThrows(ExecutionException.class,
                    () -> admin.deleteConsumerGroupOffsets(group, Set.of(p0)).all().get(30, TimeUnit.SECONDS));
            assertInstanceOf(GroupSubscribedToTopicException.class, cause(e));
            assertEquals(Map.of(0, 5L, 1, 7L), offsetsByPartition(committedOffsets(group)));
        }

        // Its only member left: Empty, offsets kept.
        waitUntil("group Empty", () -> state(group) == GroupState.EMPTY);
        assertTrue(describe(group).members().isEmpty());
        admin.alterConsumerGroupOffsets(group, Map.of(
                p0, new OffsetAndMetadata(2, "rewound"),
                p1, new OffsetAndMetadata(6))).all().get(30, TimeUnit.SECONDS);
        Map<TopicPartition, OffsetAndMetadata> altered = committedOffsets(group);
        assertEquals(Map.of(0, 2L, 1, 6L), offsetsByPartition(altered));
        assertEquals("rewound", altered.get(p0).metadata());

        // A new member resumes from the altered offsets.
        try (KafkaConsumer<byte[], byte[]> c = consumer(group, protocol, "e2e-java-admin-target-2")) {
            c.subscribe(List.of(topic));
            assertEquals(List.of("0:2", "0:3", "0:4", "1:6"), keys(take(c, 4)));
        }
        waitUntil("group Empty again", () -> state(group) == GroupState.EMPTY);

        // deleteConsumerGroupOffsets on an empty group removes just that partition.
        admin.deleteConsumerGroupOffsets(group, Set.of(p1)).all().get(30, TimeUnit.SECONDS);
        assertEquals(Map.of(0, 2L), offsetsByPartition(committedOffsets(group)));

        // deleteConsumerGroups: the empty group goes, with its offsets; then it is unknown.
        admin.deleteConsumerGroups(List.of(group)).all().get(30, TimeUnit.SECONDS);
        Set<String> listed = admin.listGroups(ListGroupsOptions.forConsumerGroups()).all()
                .get(30, TimeUnit.SECONDS).stream().map(GroupListing::groupId).collect(Collectors.toSet());
        assertFalse(listed.contains(group));
        assertEquals(Map.of(), committedOffsets(group));
        // Kafka 4.x answers DescribeGroups v6 / ConsumerGroupDescribe for an unknown group with
        // GROUP_ID_NOT_FOUND, which the 4.x Admin raises.
        ExecutionException e = assertThrows(ExecutionException.class, () -> describe(group));
        assertInstanceOf(GroupIdNotFoundException.class, cause(e));
        e = assertThrows(ExecutionException.class,
                () -> admin.deleteConsumerGroups(List.of(group)).all().get(30, TimeUnit.SECONDS));
        assertInstanceOf(GroupIdNotFoundException.class, cause(e));
    }

    @ParameterizedTest(name = "group.protocol={0}")
    @ValueSource(strings = {"classic", "consumer"})
    void describeReportsMemberClientIdAndHost(String protocol, TestInfo info) throws Exception {
        // Kafka records the client.id of each member's requests and its address ("/127.0.0.1");
        // describeConsumerGroups (and kafka-consumer-groups.sh --members) show them.
        String topic = name(info, "t");
        String group = name(info, "g");
        createTopic(topic, 1);
        try (KafkaConsumer<byte[], byte[]> c = consumer(group, protocol, "who-am-i")) {
            c.subscribe(List.of(topic));
            waitUntil("assignment", () -> {
                c.poll(Duration.ofMillis(100));
                return partitions(c).size() == 1;
            });
            MemberDescription m = describe(group).members().iterator().next();
            assertEquals("who-am-i", m.clientId(), m.toString());
            assertEquals("/127.0.0.1", m.host(), m.toString());
            if (protocol.equals("classic")) {
                assertTrue(m.consumerId().startsWith("who-am-i-"), m.toString());
            }
        }
    }

    // ------------------------------------------------------------------ broker process

    /** A {@link SchlossBroker} with a {@code [groups]} table in the config. */
    static SchlossBroker startGroupBroker(String groupsToml) throws Exception {
        Path dir = Files.createTempDirectory("schloss-java-groups-");
        String config = "[broker]\n"
                + "node_id = 1\n"
                + "data_dir = " + SchlossBroker.toml(dir.resolve("data").toString()) + "\n"
                + "num_partitions = 1\n"
                + "auto_create_topics = true\n"
                + "retention_check_interval_ms = 300000\n"
                + "\n[groups]\n" + groupsToml
                + "\n[[listeners]]\n"
                + "name = \"PLAINTEXT\"\n"
                + "address = \"127.0.0.1:0\"\n"
                + "advertised = \"127.0.0.1:0\"\n"
                + "security_protocol = \"PLAINTEXT\"\n"
                + "tenant = \"default\"\n";
        return SchlossBroker.start(dir, config, List.of("PLAINTEXT"), null);
    }
}
