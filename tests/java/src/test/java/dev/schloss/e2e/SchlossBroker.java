package dev.schloss.e2e;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A schloss broker running as a real process with its own temporary directory and config. This
 * is the only code in the Java suites that starts the broker: {@link #start(Map)} for the plain
 * single-listener broker, {@link #start(Path, String, List, String)} for any other config
 * (used by {@code GroupsTest} and {@code AuthSaslTest.AuthBroker}).
 *
 * <p>The binary is {@code $SCHLOSS_BIN} if set, else {@code <repo>/target/debug/schloss} (the
 * repo root comes from the {@code schloss.repo} system property that the pom sets). The broker
 * binds 127.0.0.1:0 and prints {@code schloss: listener NAME on 127.0.0.1:PORT} on stdout for
 * each listener when ready; its log (stderr) goes to {@code <tmp>/broker.log}.
 */
final class SchlossBroker implements AutoCloseable {
    private static final Pattern READY =
            Pattern.compile("^schloss: listener (\\S+) on (\\S+):(\\d+)\\s*$");
    private static final long START_TIMEOUT_S = 60;

    private final Process process;
    private final Path workDir;
    private final Path logFile;
    /** Announced listeners in announcement order: name -> "host:port". */
    private final Map<String, String> listeners;
    private final String host;
    private final int port;

    private SchlossBroker(Process process, Path workDir, Path logFile, Map<String, String> listeners,
            String mainListener) {
        this.process = process;
        this.workDir = workDir;
        this.logFile = logFile;
        this.listeners = listeners;
        String hp = listeners.get(mainListener);
        int colon = hp.lastIndexOf(':');
        this.host = hp.substring(0, colon);
        this.port = Integer.parseInt(hp.substring(colon + 1));
    }

    static Path binary() {
        String env = System.getenv("SCHLOSS_BIN");
        Path bin;
        if (env != null && !env.isEmpty()) {
            bin = Paths.get(env);
        } else {
            String repo = System.getProperty("schloss.repo", "../..");
            bin = Paths.get(repo, "target", "debug", "schloss");
        }
        bin = bin.toAbsolutePath().normalize();
        if (!Files.isRegularFile(bin)) {
            throw new IllegalStateException("schloss binary not found at " + bin
                    + ": build it with `cargo build --bin schloss` or set SCHLOSS_BIN");
        }
        return bin;
    }

    /** A broker with one PLAINTEXT listener and the given {@code [topic_defaults]}. */
    static SchlossBroker start(Map<String, String> topicDefaults) throws Exception {
        Path dir = Files.createTempDirectory("schloss-java-e2e-");
        StringBuilder defaults = new StringBuilder();
        for (Map.Entry<String, String> e : topicDefaults.entrySet()) {
            defaults.append(toml(e.getKey())).append(" = ").append(toml(e.getValue())).append('\n');
        }
        String config = "[broker]\n"
                + "node_id = 1\n"
                + "data_dir = " + toml(dir.resolve("data").toString()) + "\n"
                + "num_partitions = 1\n"
                + "auto_create_topics = true\n"
                + "retention_check_interval_ms = 300000\n"
                + "\n[topic_defaults]\n" + defaults
                + "\n[[listeners]]\n"
                + "name = \"PLAINTEXT\"\n"
                + "address = \"127.0.0.1:0\"\n"
                + "advertised = \"127.0.0.1:0\"\n"
                + "security_protocol = \"PLAINTEXT\"\n"
                + "tenant = \"default\"\n";
        return start(dir, config, List.of("PLAINTEXT"), null);
    }

    /**
     * The one place that starts a broker process: writes {@code configToml} to
     * {@code workDir/schloss.toml}, runs {@code schloss serve --config} in {@code workDir}
     * (stderr to {@code workDir/broker.log}) and waits until every listener in
     * {@code expectedListeners} has printed its ready line. The first of them is the one
     * {@link #bootstrap()} returns; {@link #bootstrapOf(String)} gives any announced one.
     *
     * @param rustLog {@code RUST_LOG} for the broker, or {@code null} to keep the caller's
     *     (default {@code info})
     */
    static SchlossBroker start(Path workDir, String configToml, List<String> expectedListeners, String rustLog)
            throws Exception {
        Path cfg = workDir.resolve("schloss.toml");
        Files.writeString(cfg, configToml);
        Path log = workDir.resolve("broker.log");

        ProcessBuilder pb = new ProcessBuilder(binary().toString(), "serve", "--config", cfg.toString())
                .directory(workDir.toFile())
                .redirectError(log.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        if (rustLog == null) {
            pb.environment().putIfAbsent("RUST_LOG", "info");
        } else {
            pb.environment().put("RUST_LOG", rustLog);
        }
        pb.environment().put("NO_COLOR", "1");
        Process p = pb.start();

        Map<String, String> listeners = new ConcurrentHashMap<>();
        Set<String> waiting = ConcurrentHashMap.newKeySet();
        waiting.addAll(expectedListeners);
        CompletableFuture<Void> ready = new CompletableFuture<>();
        Thread pump = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(
                    new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    Matcher m = READY.matcher(line);
                    if (m.matches()) {
                        listeners.put(m.group(1), m.group(2) + ":" + m.group(3));
                        waiting.remove(m.group(1));
                        if (waiting.isEmpty()) {
                            ready.complete(null);
                        }
                    }
                }
            } catch (IOException ignored) {
                // process gone
            }
            ready.completeExceptionally(new IllegalStateException("schloss stdout closed before ready"));
        }, "schloss-stdout");
        pump.setDaemon(true);
        pump.start();

        try {
            ready.get(START_TIMEOUT_S, TimeUnit.SECONDS);
        } catch (Exception e) {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
            throw new IllegalStateException("schloss did not become ready (exit "
                    + (p.isAlive() ? "-" : String.valueOf(p.exitValue())) + "); log:\n" + tail(log, 60), e);
        }
        return new SchlossBroker(p, workDir, log, listeners, expectedListeners.get(0));
    }

    /** A TOML basic string. */
    static String toml(String s) {
        return '"' + s.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
    }

    String bootstrap() {
        return host + ":" + port;
    }

    /** "host:port" of an announced listener, or {@code null}. */
    String bootstrapOf(String listenerName) {
        return listeners.get(listenerName);
    }

    Path dir() {
        return workDir;
    }

    /** The whole broker log (stderr). */
    String log() throws IOException {
        return Files.readString(logFile);
    }

    String host() {
        return host;
    }

    int port() {
        return port;
    }

    boolean alive() {
        return process.isAlive();
    }

    String logTail(int lines) {
        return tail(logFile, lines);
    }

    private static String tail(Path file, int lines) {
        try {
            List<String> all = Files.readAllLines(file, StandardCharsets.UTF_8);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "<no broker log: " + e + ">";
        }
    }

    /** Stops the process (SIGTERM, then SIGKILL after 10 s) and keeps the work directory, so
     * that a test can start the broker again on the same data. */
    void stop() throws InterruptedException {
        if (process.isAlive()) {
            process.destroy(); // SIGTERM: graceful shutdown
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    @Override
    public void close() throws Exception {
        stop();
        if (System.getenv("SCHLOSS_KEEP_TMP") == null && Files.exists(workDir)) {
            try (Stream<Path> walk = Files.walk(workDir)) {
                walk.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }
}
